"""McNemar's test between two models' predictions on the same test items, in plain language."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# Below this many discordant pairs the chi-square approximation is poor; use the exact test.
MCNEMAR_EXACT_BELOW = 25


@dataclass(frozen=True)
class McNemarResult:
    """Paired comparison of two models on the same test items.

    ``only_a`` counts items A got right and B wrong; ``only_b`` the reverse. Only these
    discordant items carry information about which model is better.
    """

    n: int
    accuracy_a: float
    accuracy_b: float
    only_a: int
    only_b: int
    statistic: float
    p_value: float
    method: str  # "exact" (binomial) or "chi2" (with continuity correction)

    def better(self, alpha: float = 0.05) -> str | None:
        """'a' or 'b' when the difference is significant at ``alpha``, else None."""
        if self.p_value >= alpha or self.only_a == self.only_b:
            return None
        return "a" if self.only_a > self.only_b else "b"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mcnemar(y_true: Sequence[str], pred_a: Sequence[str], pred_b: Sequence[str]) -> McNemarResult:
    """McNemar's test: exact binomial below 25 discordant items, else chi-square (corrected)."""
    y = np.asarray([str(v) for v in y_true])
    a = np.asarray([str(v) for v in pred_a]) == y
    b = np.asarray([str(v) for v in pred_b]) == y
    if not (len(y) == len(a) == len(b)):
        raise ValueError("y_true, pred_a and pred_b must have the same length")
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    discordant = only_a + only_b
    if discordant == 0:
        statistic, p_value, method = 0.0, 1.0, "exact"
    elif discordant < MCNEMAR_EXACT_BELOW:
        statistic = float(min(only_a, only_b))
        p_value = min(1.0, 2 * _binom_half_cdf(min(only_a, only_b), discordant))
        method = "exact"
    else:
        statistic = float((abs(only_a - only_b) - 1) ** 2 / discordant)
        p_value = _chi2_1_sf(statistic)
        method = "chi2"
    n = len(y)
    return McNemarResult(
        n=n,
        accuracy_a=float(a.mean()) if n else math.nan,
        accuracy_b=float(b.mean()) if n else math.nan,
        only_a=only_a,
        only_b=only_b,
        statistic=statistic,
        p_value=p_value,
        method=method,
    )


# Both tails in closed form rather than scipy.stats, whose import (~1 s) the Results page
# would otherwise wait for on its first visit.
def _binom_half_cdf(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2), exactly (integer sums, one division)."""
    return sum(math.comb(n, i) for i in range(k + 1)) / 2**n


def _chi2_1_sf(x: float) -> float:
    """P(X > x) for X ~ chi-square with one degree of freedom: erfc(sqrt(x / 2))."""
    return math.erfc(math.sqrt(x / 2)) if x > 0 else 1.0


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def mcnemar_verdict(
    result: McNemarResult, name_a: str, name_b: str, lang: str = "en", alpha: float = 0.05
) -> str:
    """Plain-language answer to "is A better than B?" in ``lang`` ('en' or 'zh').

    A model is named better only when the test supports it (p < ``alpha``); otherwise the
    sentence says there is no reliable difference, whichever accuracy happens to be higher.
    """
    from slm_core.i18n import t

    p = _p_text(result.p_value)
    winner = result.better(alpha)
    if winner is None:
        return t(
            "results.verdict_tie",
            lang,
            a=name_a,
            b=name_b,
            p=p,
            only_a=result.only_a,
            only_b=result.only_b,
            n=result.n,
        )
    a_wins = winner == "a"
    return t(
        "results.verdict_better",
        lang,
        winner=name_a if a_wins else name_b,
        loser=name_b if a_wins else name_a,
        p=p,
        only_winner=result.only_a if a_wins else result.only_b,
        only_loser=result.only_b if a_wins else result.only_a,
    )


def match_rows(texts_a, truth_a, texts_b, truth_b) -> list[int]:
    """For each item of A, the row of B with the same text and truth (-1 if none).

    A text that occurs several times is matched once per occurrence, in order, so pairing A with
    B and B with A finds the same pairs.
    """
    free: dict[tuple[str, str], list[int]] = {}
    for j, key in enumerate(zip(texts_b, truth_b, strict=True)):
        free.setdefault((str(key[0]), str(key[1])), []).append(j)
    out = []
    for key in zip(texts_a, truth_a, strict=True):
        rows = free.get((str(key[0]), str(key[1])))
        out.append(rows.pop(0) if rows else -1)
    return out


def paired_predictions(a, b) -> tuple[list[str], list[str], list[str]]:
    """Truth and both predictions on the test texts two runs share (each with ``texts``,
    ``y_true`` and ``y_pred``: ``TestPredictions`` or an LLM measurement).

    Runs with the same split have identical test sets; otherwise texts are matched by content
    (:func:`match_rows`).
    """
    if list(a.texts) == list(b.texts) and list(a.y_true) == list(b.y_true):
        return list(a.y_true), list(a.y_pred), list(b.y_pred)
    y, pa, pb = [], [], []
    for i, j in enumerate(match_rows(a.texts, a.y_true, b.texts, b.y_true)):
        if j >= 0:
            y.append(a.y_true[i])
            pa.append(a.y_pred[i])
            pb.append(b.y_pred[j])
    return y, pa, pb


def compare_runs(store, run_a: int, run_b: int) -> McNemarResult:
    """McNemar's test between two finished runs on the test texts they share."""
    y, pa, pb = paired_predictions(_answers(store, run_a), _answers(store, run_b))
    return mcnemar(y, pa, pb)


def _answers(store, run_id: int):
    """A run's test answers: a small model's stored predictions, or an LLM measurement's
    sample (texts, truth and labels given; an unparseable answer is a label that is wrong)."""
    from slm_core.llm import is_llm_run

    if is_llm_run(store.get_run(run_id)):
        from slm_core.llm.measurement import load_measurement

        return load_measurement(store, run_id)
    from slm_core.train import load_test_predictions

    return load_test_predictions(store, run_id)
