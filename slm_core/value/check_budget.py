"""How many texts the value checks of an expensive model are measured on.

Robustness predicts two copies of up to 1,000 test texts; faithfulness predicts about
``62 + tokens read`` variants of each of 100 texts. For word statistics and the small Keras
models that is seconds; a pretrained encoder reads each variant with 22 million weights, so
the same checks would take many minutes. For such models (:data:`BUDGETED_FAMILIES`) the
sample follows the model's cost: its time per text is measured on a few test texts, and each
check gets as many texts as fit in half the run's training time (the two checks together take
about as long as training did, at least :data:`MIN_SECONDS`), never fewer than a floor that
keeps the figure meaningful. Intervals stay honest because they are computed on the texts
actually used (faithfulness: bootstrap over its texts; robustness: a paired bootstrap of the
accuracy lost), and the result says how many texts and why (``budget`` in its details, a note
on the page).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# Families whose checks are sized by cost; the others keep the fixed samples.
BUDGETED_FAMILIES: tuple[str, ...] = ("pretrained",)
# The two checks together may take at least this long, whatever training took (a model
# trained from cached sentence vectors trains in seconds).
MIN_SECONDS = 60.0
# Texts timed to measure the cost of one text (after one untimed call that builds the graph).
PROBE_TEXTS = 16
# Fewest texts a check is measured on, whatever the cost: below these the figures say little.
MIN_ROBUSTNESS_TEXTS = 100
MIN_FAITHFULNESS_TEXTS = 10


@dataclass(frozen=True)
class CheckBudget:
    """The time each check may take and the measured time one text costs the model."""

    seconds: float  # per check
    seconds_per_text: float  # measured: wall time of predict_proba on the probe, per text
    probe_texts: int
    train_seconds: float | None

    def sample_size(self, wanted: int, calls_per_text: float, floor: int) -> int:
        """Texts a check can afford when each costs ``calls_per_text`` model calls: at most
        ``wanted``, at least ``floor`` (or ``wanted`` when smaller)."""
        per_text = max(self.seconds_per_text * max(calls_per_text, 1.0), 1e-12)
        affordable = int(self.seconds / per_text + 1e-9)  # 10 s at 25 ms is 400, not 399
        return int(min(wanted, max(floor, affordable)))

    def details(self, n: int, wanted: int, calls_per_text: float) -> dict[str, Any]:
        """What a result stores about its sample (``budget`` in its details)."""
        return {
            **asdict(self),
            "n": int(n),
            "wanted": int(wanted),
            "calls_per_text": round(float(calls_per_text), 1),
            "estimated_seconds": round(n * calls_per_text * self.seconds_per_text, 1),
            "kind": "measured",
        }


def is_budgeted(family: str | None) -> bool:
    """Whether the checks of a model of ``family`` are sized by its measured cost."""
    return family in BUDGETED_FAMILIES


def measure_budget(
    model: Any,
    texts: Sequence[str],
    train_seconds: float | None,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> CheckBudget:
    """Time ``model.predict_proba`` on up to :data:`PROBE_TEXTS` of ``texts`` (spread over
    them, after one untimed warm-up call) and give each check half the training time."""
    texts = [str(t) for t in texts if str(t).strip()]
    step = max(len(texts) // PROBE_TEXTS, 1)
    probe = texts[::step][:PROBE_TEXTS]
    if probe:
        model.predict_proba(probe[:1])  # builds the graph, loads weights: not the per-text cost
    started = clock()
    if probe:
        model.predict_proba(probe)
    per_text = (clock() - started) / max(len(probe), 1)
    total = max(float(train_seconds or 0.0), MIN_SECONDS)
    return CheckBudget(total / 2, float(per_text), len(probe), train_seconds)


def faithfulness_calls_per_text(
    model: Any, texts: Sequence[str], token_unit: str, bins: Sequence[float]
) -> float:
    """Model calls the faithfulness check makes per text, on average over ``texts``: the
    full text and one occlusion per token read, then the full text and, per bin, the
    rationale removed and kept and as many random draws of each."""
    from slm_core.explain import MAX_OCCLUDED_TOKENS, RANDOM_DRAWS, token_spans

    cap = MAX_OCCLUDED_TOKENS
    max_len = int(getattr(model, "max_len_", 0) or 0)
    if max_len > 0:
        cap = min(cap, max_len)
    tokens = [min(len(token_spans(str(t), token_unit)), cap) for t in texts] or [0]
    return 2.0 + float(np.mean(tokens)) + len(bins) * (2 + 2 * RANDOM_DRAWS)


# Robustness predicts each sampled text twice (clean and noisy).
ROBUSTNESS_CALLS_PER_TEXT = 2.0
