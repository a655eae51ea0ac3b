"""Yearly business figures of every option, chosen on validation and reported on test.

Each option is a set of per-text components (see :mod:`slm_core.value.payoff`): answered
without a person, right answers among them, their error cost, the people's error cost they
avoid, and any API price. From their means over the test texts, scaled to the yearly volume V:

- net value per year   N = V × mean(L·answered + vpc·right − error + people error − price)
                           − serving − maintenance          (keeping it manual: N = 0)
- ROI, first year      (N − set-up) ÷ (set-up + error cost + serving + API + maintenance)
- payback months       12 × set-up ÷ N (never when N ≤ 0)
- yearly cost          cost of doing it all by hand − N (what the option costs to run)

A small model's confidence threshold is the one with the highest net value on the
**validation** split (or the user's); every figure is then measured on the **test** split at
that threshold, with a bootstrap interval over test texts (the same resampling as accuracy) and
the share of resamples in which N > 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from slm_core.resample import bootstrap_means, percentile_interval
from slm_core.value.assumptions import Assumptions
from slm_core.value.payoff import Answers, Payoff, SplitScores, ThresholdTable

COMPONENTS = ("answered", "right", "error_cost", "people_error", "price")
N_BOOT = 1000
BOOT_SEED = 0


def roi(net_value: float, setup: float, running_cost: float) -> float | None:
    """First-year return on investment: (net value − set-up) ÷ (set-up + running cost)."""
    spent = setup + running_cost
    if spent <= 0:
        return None
    return (net_value - setup) / spent


def payback_months(setup: float, net_value: float) -> float | None:
    """Months until the yearly net value repays the set-up cost; None if it never does."""
    if net_value <= 0:
        return None
    return 12.0 * setup / net_value


def per_text_value(c: dict[str, np.ndarray], p: Payoff) -> np.ndarray:
    """L·answered + vpc·right − error cost + people's error avoided − price (per text or sum)."""
    return (
        p.labour * c["answered"]
        + p.extra_right * c["right"]
        - c["error_cost"]
        + c["people_error"]
        - c["price"]
    )


# ------------------------------------------------------------------ components


def model_components(answers: Answers, p: Payoff) -> dict[str, np.ndarray]:
    """Per test text (row of ``answers``): the small model answers it alone or a person does."""
    answered = answers.answered.astype(float)
    err = p.costs[answers.true_idx, answers.pred_idx]
    return {
        "answered": answered,
        "right": answered * answers.correct,
        "error_cost": answered * err,
        "people_error": answered * p.people_error[answers.true_idx],
        "price": np.zeros(len(answered)),
    }


def api_components(
    true_idx: np.ndarray, p: Payoff, a: Assumptions, price: float, q: float | None = None
) -> dict[str, np.ndarray]:
    """Per text sent to the API: expected share answered, right, error cost; its price.

    ``q`` is the API's accuracy: measured (see :mod:`slm_core.value.hosted`) or, when None, the
    scenario's assumed ``llm_accuracy``.
    """
    s = a.llm_answer_share
    q = a.llm_accuracy if q is None else q
    return {
        "answered": np.full(len(true_idx), s),
        "right": np.full(len(true_idx), s * q),
        "error_cost": s * (1.0 - q) * p.mean_error[true_idx],
        "people_error": s * p.people_error[true_idx],
        "price": np.full(len(true_idx), price),
    }


def cascade_components(
    answers: Answers,
    p: Payoff,
    a: Assumptions,
    price: float,
    q: float | None = None,
) -> dict[str, np.ndarray]:
    """The small model answers what it answers alone in ``answers``; the API gets the rest
    (accuracy ``q`` on them: the LLM's measured accuracy on such texts, or the assumed one)."""
    own = model_components(answers, p)
    api = api_components(answers.true_idx, p, a, price, q)
    rest = 1.0 - own["answered"]
    return {k: own[k] + rest * api[k] for k in COMPONENTS}


def model_curve(table: ThresholdTable, p: Payoff) -> np.ndarray:
    """Mean per-text value at every threshold of ``table`` (its split's texts)."""
    c = table.confusion_float
    sums = {
        "answered": table.answered,
        "right": table.right,
        "error_cost": np.tensordot(c, p.costs, axes=2),
        "people_error": table.answered_by_true @ p.people_error,
        "price": np.zeros(len(table.thresholds)),
    }
    return per_text_value(sums, p) / max(table.n, 1)


def cascade_curve(
    table: ThresholdTable, p: Payoff, a: Assumptions, price: float, q: float | None = None
) -> np.ndarray:
    """Mean per-text value of the cascade at every threshold of ``table`` (API accuracy ``q``,
    the assumed ``llm_accuracy`` when None)."""
    deferred = table.deferred_by_true  # (T, k)
    s = a.llm_answer_share
    q = a.llm_accuracy if q is None else q
    sent = deferred.sum(axis=1).astype(float)
    api = {
        "answered": s * sent,
        "right": s * q * sent,
        "error_cost": s * (1.0 - q) * (deferred @ p.mean_error),
        "people_error": s * (deferred @ p.people_error),
        "price": price * sent,
    }
    return model_curve(table, p) + per_text_value(api, p) / max(table.n, 1)


def best_index(curve: np.ndarray) -> int:
    """The threshold with the highest value (the lowest such threshold on ties)."""
    return int(np.argmax(curve))


# ---------------------------------------------------------------------- results


@dataclass(frozen=True)
class BusinessResult:
    """One option's yearly business figures (scenario currency), measured on the test split.

    ``kinds`` says of each figure whether it is measured, modelled or assumed. Intervals are
    (low, high) at ``interval_level``; ``p_positive`` is the bootstrap share with N > 0.
    """

    key: str
    threshold: float | None
    threshold_source: str  # "validation", "override", "no_validation" or "none"
    chosen_on: str | None  # the split that chose the threshold (never the test split)
    scored_on: str | None  # the split every figure below is measured on
    coverage: float
    automated_accuracy: float | None
    automated_per_year: float
    labour_saved: float
    correct_value: float
    error_cost: float
    people_error_avoided: float
    serving_cost: float | None
    api_cost: float
    maintenance: float
    setup_cost: float
    net_value: float
    roi: float | None
    payback_months: float | None
    manual_cost: float
    net_value_ci: tuple[float, float] | None = None
    roi_ci: tuple[float, float] | None = None
    coverage_ci: tuple[float, float] | None = None
    p_positive: float | None = None
    interval_level: float | None = None
    n_test: int = 0
    kinds: dict[str, str] = field(default_factory=dict)
    automated_confusion: list[list[int]] = field(default_factory=list)
    classes: tuple[str, ...] = ()
    curve: dict[str, list[float | None]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def running_cost(self) -> float:
        return self.error_cost + (self.serving_cost or 0.0) + self.api_cost + self.maintenance

    @property
    def yearly_cost(self) -> float:
        """What the option costs a year to handle the volume: manual cost − net value."""
        return self.manual_cost - self.net_value

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["running_cost"] = self.running_cost
        out["yearly_cost"] = self.yearly_cost
        return out


def manual_result(a: Assumptions, manual_per_text: float) -> BusinessResult:
    """Keep it manual: the baseline, net value 0 by definition."""
    manual = a.annual_volume * manual_per_text
    return BusinessResult(
        key="manual",
        threshold=None,
        threshold_source="none",
        chosen_on=None,
        scored_on=None,
        coverage=0.0,
        automated_accuracy=None,
        automated_per_year=0.0,
        labour_saved=0.0,
        correct_value=0.0,
        error_cost=0.0,
        people_error_avoided=0.0,
        serving_cost=0.0,
        api_cost=0.0,
        maintenance=0.0,
        setup_cost=0.0,
        net_value=0.0,
        roi=None,
        payback_months=None,
        manual_cost=manual,
        kinds={"net_value": "modelled", "manual_cost": "modelled", "yearly_cost": "modelled"},
        classes=tuple(str(c) for c in range(0)),
    )


def summarise(
    key: str,
    components: dict[str, np.ndarray],
    p: Payoff,
    a: Assumptions,
    *,
    serving: float | None,
    setup: float,
    manual_per_text: float,
    intervals: bool = True,
    weight: np.ndarray | None = None,
) -> dict[str, Any]:
    """Yearly figures from per-test-text components, with bootstrap intervals; ``weight``:
    how many texts each row of ``components`` stands for (None: one each)."""
    v = a.annual_volume
    rows = len(components["answered"])
    n = int(weight.sum()) if weight is not None else rows
    mean = {
        k: float(np.average(components[k], weights=weight)) if rows else 0.0 for k in COMPONENTS
    }
    fixed = (serving or 0.0) + a.yearly_maintenance
    net = v * float(per_text_value(mean, p)) - fixed
    running = v * (mean["error_cost"] + mean["price"]) + fixed
    out: dict[str, Any] = {
        "key": key,
        "coverage": mean["answered"],
        "automated_per_year": v * mean["answered"],
        "labour_saved": v * mean["answered"] * p.labour,
        "correct_value": v * mean["right"] * p.extra_right,
        "error_cost": v * mean["error_cost"],
        "people_error_avoided": v * mean["people_error"],
        "serving_cost": serving,
        "api_cost": v * mean["price"],
        "maintenance": a.yearly_maintenance,
        "setup_cost": setup,
        "net_value": net,
        "roi": roi(net, setup, running),
        "payback_months": payback_months(setup, net),
        "manual_cost": v * manual_per_text,
        "n_test": n,
        "interval_level": a.interval_level,
    }
    if intervals and n:
        per_text = np.vstack(
            [
                per_text_value(components, p),
                components["error_cost"] + components["price"],
                components["answered"],
            ]
        )
        boot = bootstrap_means(per_text, N_BOOT, BOOT_SEED, weight)
        nets = v * boot[:, 0] - fixed
        spent = setup + v * boot[:, 1] + fixed
        rois = np.where(spent > 0, (nets - setup) / np.where(spent > 0, spent, 1.0), np.nan)
        out.update(
            net_value_ci=percentile_interval(nets, a.interval_level),
            roi_ci=percentile_interval(rois, a.interval_level) if spent.max() > 0 else None,
            coverage_ci=percentile_interval(boot[:, 2], a.interval_level),
            p_positive=float(np.mean(nets > 0)),
        )
    return out


def choose_threshold(
    val: SplitScores | None, p: Payoff, override: float | None, *, with_curve: bool = True
) -> tuple[float, str, dict[str, list[float | None]]]:
    """(threshold, how it was chosen, the validation curve) for a small model."""
    if val is None or val.n == 0:
        source = "override" if override is not None else "no_validation"
        return (0.0 if override is None else float(override)), source, {}
    table = val.table
    curve = model_curve(table, p)
    if override is not None:
        chosen, source = float(override), "override"
    else:
        chosen, source = float(table.thresholds[best_index(curve)]), "validation"
    if not with_curve:
        return chosen, source, {}
    return (
        chosen,
        source,
        {
            "threshold": table.thresholds.tolist(),
            "coverage": table.coverage.tolist(),
            "accuracy": [None if np.isnan(x) else x for x in table.accuracy.tolist()],
            "value_per_text": curve.tolist(),
        },
    )
