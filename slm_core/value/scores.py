"""0–100 scores by stated formulas, weighted overall scores, the recommendation and sensitivity.

Every mapping here has its formula written out in the locale catalogue under
``value.formula.<dimension>``, which the page shows next to the number. A dimension that was not
measured scores ``None`` and is left out of the weighted mean (its weight is reported as
missing), never filled with a guess.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from slm_core.value.assumptions import Assumptions

# Payback beyond this many months scores 0.
PAYBACK_HORIZON_MONTHS = 24.0
# CO2e per year that still scores 100; every 10× more costs 20 points.
CO2_FULL_SCORE_KG = 0.1
# A gap (worst vs best group or class) of this size or more scores 0.
GAP_ZERO_SCORE = 0.5
# An accuracy drop under noise of this size or more scores 0.
DROP_ZERO_SCORE = 0.2
# Access: a model that does not suit the dataset's script keeps this share of its score.
LANGUAGE_PENALTY = 0.5


@dataclass(frozen=True)
class Note:
    """A message for the user, as a locale key and its values (translated by the UI or CLI)."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "params": dict(self.params)}


@dataclass(frozen=True)
class Dimension:
    """One scored dimension of one model: the headline figure, its score and how it was got.

    ``status`` is 'measured', 'estimate' (a labelled fallback), 'assumed' (from an assumption,
    never measured) or 'not_measured' (then ``score`` is None).
    """

    key: str
    score: float | None
    value: float | None
    unit: str
    status: str
    details: dict[str, Any] = field(default_factory=dict)
    notes: tuple[Note, ...] = ()

    @property
    def formula_key(self) -> str:
        return f"value.formula.{self.key}"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["notes"] = [n.to_dict() for n in self.notes]
        out["formula_key"] = self.formula_key
        return out


def _clip01(x: float) -> float:
    return min(1.0, max(0.0, x))


# ---------------------------------------------------------------- business


def score_net_value(net_value: float, manual_cost: float) -> float:
    """100 × net value ÷ yearly cost of doing every item by hand, clipped to 0–100."""
    if manual_cost <= 0:
        return 100.0 if net_value > 0 else 0.0
    return 100.0 * _clip01(net_value / manual_cost)


def score_roi(roi: float | None) -> float:
    """100 × ROI ÷ (1 + ROI) for a positive first-year ROI (100% → 50), else 0."""
    if roi is None:
        return 0.0
    return 100.0 * roi / (1.0 + roi) if roi > 0 else 0.0


def score_payback(months: float | None, horizon: float = PAYBACK_HORIZON_MONTHS) -> float:
    """100 × (1 − months ÷ 24); never paying back scores 0."""
    if months is None:
        return 0.0
    return 100.0 * _clip01(1.0 - months / horizon)


def score_share(share: float | None) -> float | None:
    """100 × a share (coverage, accuracy, checklist completeness)."""
    return None if share is None else 100.0 * _clip01(share)


# ------------------------------------------------------------------ social


def score_budget(actual: float | None, budget: float) -> float | None:
    """100 within the budget, else 100 × budget ÷ actual."""
    if actual is None:
        return None
    if actual <= budget:
        return 100.0
    return 100.0 * budget / actual if budget > 0 else 0.0


def score_privacy(
    size_mb: float | None, memory_mb: float | None, disk_budget: float, memory_budget: float
) -> float | None:
    """Mean of the disk and serving-memory budget scores that were measured."""
    parts = [
        s
        for s in (score_budget(size_mb, disk_budget), score_budget(memory_mb, memory_budget))
        if s is not None
    ]
    return sum(parts) / len(parts) if parts else None


def score_access(p50_ms: float | None, budget_ms: float, language_ok: bool) -> float | None:
    """Latency budget score × (1 if the tokenisation suits the script, else 0.5)."""
    latency = score_budget(p50_ms, budget_ms)
    if latency is None:
        return None
    return latency * (1.0 if language_ok else LANGUAGE_PENALTY)


def score_co2(kg_per_year: float | None) -> float | None:
    """100 − 20 × log10(kg CO2e per year ÷ 0.1), clipped to 0–100 (0.1 kg → 100, 1 t → 20)."""
    if kg_per_year is None:
        return None
    if kg_per_year <= CO2_FULL_SCORE_KG:
        return 100.0
    return max(0.0, 100.0 - 20.0 * math.log10(kg_per_year / CO2_FULL_SCORE_KG))


def score_gap(gap: float | None) -> float | None:
    """100 × (1 − gap ÷ 0.5): no gap → 100, a 25-point gap → 50, 50 points or more → 0."""
    if gap is None:
        return None
    return 100.0 * _clip01(1.0 - gap / GAP_ZERO_SCORE)


def score_robustness(drop: float | None) -> float | None:
    """100 × (1 − accuracy drop ÷ 0.2): no drop → 100, a 10-point drop → 50."""
    if drop is None:
        return None
    return 100.0 * _clip01(1.0 - max(drop, 0.0) / DROP_ZERO_SCORE)


def score_faithfulness(top_k_drop: float | None, random_drop: float | None) -> float | None:
    """100 × (top-k drop − random drop) ÷ top-k drop: the share of the confidence lost by
    removing the top-k attributed tokens that removing k random tokens does not also lose."""
    if top_k_drop is None or random_drop is None:
        return None
    if top_k_drop <= 0:
        return 0.0
    return 100.0 * _clip01((top_k_drop - random_drop) / top_k_drop)


def wilson_lower(right: int, rated: int, z: float = 1.96) -> float | None:
    """Lower end of the 95% Wilson interval of a share (small samples score low, honestly)."""
    if rated <= 0:
        return None
    p = right / rated
    denom = 1 + z * z / rated
    centre = p + z * z / (2 * rated)
    margin = z * math.sqrt(p * (1 - p) / rated + z * z / (4 * rated * rated))
    return max(0.0, (centre - margin) / denom)


def score_feedback(right: int, rated: int) -> float | None:
    """100 × lower 95% Wilson bound of the share rated right; no ratings → None."""
    low = wilson_lower(right, rated)
    return None if low is None else 100.0 * low


# ---------------------------------------------------------------- weighting


@dataclass(frozen=True)
class Weighted:
    """A weighted mean of the scores that exist, and the share of weight they carry."""

    score: float | None
    weight_used: float  # 0–1: share of the total weight that had a score

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def weighted_score(scores: Mapping[str, float | None], weights: Mapping[str, float]) -> Weighted:
    """Σ weight × score ÷ Σ weight over dimensions with a score (weights need not sum to 1)."""
    total = sum(max(0.0, float(w)) for w in weights.values())
    used = 0.0
    acc = 0.0
    for key, weight in weights.items():
        score = scores.get(key)
        if score is None or weight <= 0:
            continue
        used += weight
        acc += weight * score
    if used <= 0:
        return Weighted(None, 0.0)
    return Weighted(acc / used, used / total if total else 0.0)


def overall_score(
    business: float | None, social: float | None, business_share: float
) -> float | None:
    """share × business + (1 − share) × social; only one of them if the other is missing."""
    if business is None and social is None:
        return None
    if business is None:
        return social
    if social is None:
        return business
    return business_share * business + (1.0 - business_share) * social


# ---------------------------------------------------------- recommendation


@dataclass(frozen=True)
class Recommendation:
    """The best balance under the user's weights, and the runner-up."""

    winner: str | None
    winner_score: float | None
    runner_up: str | None
    runner_up_score: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rank(overall: Mapping[str, float | None]) -> list[str]:
    """Candidates by overall score, best first (unscored last, ties in input order)."""
    order = list(overall)
    return sorted(order, key=lambda n: (overall[n] is None, -(overall[n] or 0.0), order.index(n)))


def recommend(overall: Mapping[str, float | None]) -> Recommendation:
    ranked = [n for n in rank(overall) if overall[n] is not None]
    if not ranked:
        return Recommendation(None, None, None, None)
    second = ranked[1] if len(ranked) > 1 else None
    return Recommendation(
        ranked[0], overall[ranked[0]], second, overall[second] if second else None
    )


# -------------------------------------------------------------- sensitivity

# Numeric assumptions searched for a change of winner (the LLM's do not affect trained models).
SENSITIVITY_FIELDS: tuple[str, ...] = (
    "annual_volume",
    "minutes_per_item",
    "hourly_labour_cost",
    "value_per_correct",
    "cost_false_positive",
    "cost_false_negative",
    "cost_other_error",
    "setup_cost",
    "yearly_maintenance",
    "price_per_vcpu_hour",
    "grid_gco2_per_kwh",
    "pue",
    "device_disk_budget_mb",
    "device_memory_budget_mb",
    "latency_budget_ms",
    "business_share",
)
_UPPER = {"business_share": 1.0, "llm_accuracy": 1.0}
_LOWER = {"pue": 1.0}


@dataclass(frozen=True)
class Sensitivity:
    """The single assumption whose smallest change (as a ratio) changes the winner."""

    winner: str | None
    field: str | None  # None: no single assumption in the searched range changes it
    current: float | None
    value: float | None  # where the winner changes (found by bisection)
    new_winner: str | None
    factor: float  # searched from current ÷ factor to current × factor
    searched: tuple[str, ...] = ()
    skipped_zero: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _winner(evaluate: Callable[[Assumptions], Mapping[str, float | None]], a: Assumptions):
    return recommend(evaluate(a)).winner


def sensitivity(
    evaluate: Callable[[Assumptions], Mapping[str, float | None]],
    assumptions: Assumptions,
    fields: Sequence[str] = SENSITIVITY_FIELDS,
    factor: float = 10.0,
    steps: int = 12,
    bisections: int = 12,
) -> Sensitivity:
    """Search each assumption from current ÷ factor to × factor, nearest values first.

    ``evaluate`` maps assumptions to an overall score per candidate. For each field, the grid
    (``steps`` points per side, evenly spaced in log scale) is walked outward from the current
    value; the first grid point with another winner is refined by bisection between it and the
    last point that kept the winner. The field needing the smallest ratio change is reported.
    """
    winner = _winner(evaluate, assumptions)
    best: tuple[float, str, float, float, str] | None = None  # (distance, field, cur, val, new)
    searched, skipped = [], []
    for name in fields:
        current = float(getattr(assumptions, name))
        if current <= 0:
            skipped.append(name)
            continue
        searched.append(name)
        lo_bound, hi_bound = _LOWER.get(name, 0.0), _UPPER.get(name, math.inf)

        def at(value: float, name: str = name) -> str | None:
            return _winner(evaluate, replace(assumptions, **{name: value}))

        for direction in (1, -1):
            last = current
            for step in range(1, steps + 1):
                value = current * factor ** (direction * step / steps)
                value = min(max(value, lo_bound), hi_bound)
                if value == last:
                    break
                other = at(value)
                if other != winner:
                    inside, outside = last, value
                    for _ in range(bisections):
                        mid = math.sqrt(inside * outside) if inside > 0 else (inside + outside) / 2
                        if at(mid) == winner:
                            inside = mid
                        else:
                            outside = mid
                    new_winner = at(outside)
                    distance = abs(math.log(outside / current))
                    if best is None or distance < best[0]:
                        best = (distance, name, current, outside, new_winner)
                    break
                last = value
    if best is None:
        return Sensitivity(winner, None, None, None, None, factor, tuple(searched), tuple(skipped))
    _, name, current, value, new_winner = best
    return Sensitivity(
        winner, name, current, value, new_winner, factor, tuple(searched), tuple(skipped)
    )
