"""0–100 scores by stated formulas, weighted overall scores and the sensitivity search.

Every mapping here has its formula written out in the locale catalogue under
``value.formula.<dimension>``, which the page shows next to the number; every number in a
formula is an assumption (``Assumptions``) with unit and source. A dimension that was not
measured scores ``None`` and is left out of the weighted mean, never filled with a guess.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from slm_core.value.assumptions import Assumptions

# What a figure is (the kinds every figure carries, on screen and in the JSON).
KINDS = ("measured", "modelled", "assumed", "not_measured")


@dataclass(frozen=True)
class Note:
    """A message for the user, as a locale key and its values (translated by the UI or CLI)."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "params": dict(self.params)}


@dataclass(frozen=True)
class Dimension:
    """One scored dimension of one option: the headline figure, its score and how it was got.

    ``kind`` is 'measured' (observed here), 'modelled' (a formula over measured inputs and
    assumptions), 'assumed' (rests on an assumption nobody measured) or 'not_measured' (then
    ``score`` is None).
    """

    key: str
    score: float | None
    value: float | None
    unit: str
    kind: str
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


def score_payback(months: float | None, horizon: float) -> float:
    """100 × (1 − months ÷ horizon); never paying back scores 0."""
    if months is None or horizon <= 0:
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


def score_energy(wh: float | None, reference_wh: float, decades: float) -> float | None:
    """50 + 50 × log10(reference ÷ energy) ÷ decades, 0–100: the hosted LLM's energy per text
    scores 50, ``decades`` powers of ten less scores 100, as many more scores 0."""
    if wh is None:
        return None
    if wh <= 0:
        return 100.0
    if reference_wh <= 0:
        return 0.0
    return 100.0 * _clip01(0.5 + 0.5 * math.log10(reference_wh / wh) / decades)


def score_gap(gap: float | None, zero_at: float) -> float | None:
    """100 × (1 − gap ÷ zero_at): no gap → 100, a gap of ``zero_at`` or more → 0."""
    if gap is None:
        return None
    return 100.0 * _clip01(1.0 - gap / zero_at)


def score_above_chance(kept: float | None, above_chance: float | None) -> float | None:
    """100 × what is kept above chance ÷ what the model achieves above chance, 0–100.

    Robustness: (noisy accuracy − chance) ÷ (clean accuracy − chance). Explainability: the
    ERASER comprehensiveness gain over random tokens (AOPC, on the predicted class's
    probability) ÷ (confidence − chance confidence); the caller scores 0 instead when the
    gain's interval reaches 0. A model at chance scores 0.
    """
    if kept is None or above_chance is None:
        return None
    if above_chance <= 1e-9:
        return 0.0
    return 100.0 * _clip01(kept / above_chance)


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


# -------------------------------------------------------------- sensitivity

# Numeric assumptions searched for a change of the decision.
SENSITIVITY_FIELDS: tuple[str, ...] = (
    "annual_volume",
    "minutes_per_item",
    "hourly_labour_cost",
    "human_accuracy",
    "value_per_correct",
    "cost_false_positive",
    "cost_false_negative",
    "cost_other_error",
    "setup_cost",
    "yearly_maintenance",
    "price_per_vcpu_hour",
    "llm_accuracy",
    "llm_input_price_per_m",
    "llm_output_price_per_m",
    "llm_setup_cost",
    "grid_gco2_per_kwh",
    "device_disk_budget_mb",
    "device_memory_budget_mb",
    "latency_budget_ms",
    "business_share",
)

Winner = Callable[[Assumptions], str | None]


@dataclass(frozen=True)
class Sensitivity:
    """The single assumption whose smallest change (as a ratio) changes the decision."""

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


def bounds(name: str) -> tuple[float, float]:
    """The range an assumption may take (``Assumptions`` validates the same one)."""
    from slm_core.value.assumptions import RANGES

    return RANGES.get(name, (0.0, math.inf))


# A switching point is told to a stakeholder to three or four figures: a millionth is ample,
# and each halving of the tolerance costs one more rebuild of every option.
BISECT_RELATIVE = 1e-6


def bisect_change(
    make: Callable[[float], Assumptions],
    inside: float,
    outside: float,
    changed: Callable[[Assumptions], bool],
    steps: int = 40,
) -> float:
    """Where ``changed`` turns true between ``inside`` (false) and ``outside`` (true).

    Geometric midpoints between positive values, arithmetic otherwise; returns a value on the
    changed side, within ``BISECT_RELATIVE`` (or 1e-9 absolute) of the switch.
    """
    for _ in range(steps):
        positive = inside > 0 and outside > 0
        mid = math.sqrt(inside * outside) if positive else (inside + outside) / 2
        if changed(make(mid)):
            outside = mid
        else:
            inside = mid
        if abs(outside - inside) <= max(1e-9, BISECT_RELATIVE * abs(outside)):
            break
    return outside


def change_grid(current: float, limit: float, steps: int) -> list[float]:
    """``steps`` points from ``current`` (excluded) to ``limit``: log-spaced between positive
    values, evenly spaced otherwise."""
    if current <= 0 or limit <= 0:
        return [current + (limit - current) * i / steps for i in range(1, steps + 1)]
    return [current * (limit / current) ** (i / steps) for i in range(1, steps + 1)]


def search_change(
    make: Callable[[float], Assumptions],
    current: float,
    limit: float,
    changed: Callable[[Assumptions], bool],
    steps: int = 24,
) -> float | None:
    """The value nearest ``current`` on the way to ``limit`` where ``changed`` turns true:
    ``steps`` grid points (:func:`change_grid`), the first hit refined by
    :func:`bisect_change`. None when nothing up to ``limit`` changes it."""
    last = current
    for value in change_grid(current, limit, steps):
        if changed(make(value)):
            return bisect_change(make, last, value, changed)
        last = value
    return None


def _distance(value: float, current: float) -> float:
    """How far ``value`` is from ``current`` as a ratio (log scale; current > 0)."""
    return abs(math.log(value / current)) if value > 0 else math.inf


def sensitivity(
    winner_of: Winner,
    assumptions: Assumptions,
    fields: Sequence[str] = SENSITIVITY_FIELDS,
    factor: float = 10.0,
    steps: int = 12,
) -> Sensitivity:
    """The assumption needing the smallest relative change to change the decision.

    Each field is searched from current ÷ ``factor`` to current × ``factor`` (``steps`` log
    steps per side, nearest first; the first change is refined by bisection).

    Every direction of every field advances one grid point at a time, the nearest pending
    point first, and stops once its last point unchanged is already as far as the nearest
    change found: nothing beyond can win. The answer is the one an exhaustive walk of each
    grid gives (ties go to the earlier field, then to the upward direction), at a fraction of
    the rebuilds, since each rebuild scores every option.
    """
    winner = winner_of(assumptions)
    searched, skipped = [], []
    walks: list[tuple[int, str, float, list[float]]] = []  # (order, field, current, grid)
    for name in fields:
        current = float(getattr(assumptions, name))
        if current <= 0:
            skipped.append(name)
            continue
        searched.append(name)
        low, high = bounds(name)
        for limit in (min(current * factor, high), max(current / factor, low)):
            if limit != current:
                walks.append((len(walks), name, current, change_grid(current, limit, steps)))

    def make_for(name: str) -> Callable[[float], Assumptions]:
        return lambda value: replace(assumptions, **{name: value})

    def changed(x: Assumptions) -> bool:
        return winner_of(x) != winner

    # best: (distance, walk order, field, current, value)
    best: tuple[float, int, str, float, float] | None = None
    position = [0] * len(walks)  # next grid point of each walk
    while True:
        pending = [
            (_distance(grid[position[i]], current), i)
            for i, (_, _, current, grid) in enumerate(walks)
            if position[i] < len(grid)
            and (best is None or _distance(_last(grid, position[i], current), current) < best[0])
        ]
        if not pending:
            break
        _, i = min(pending)
        order, name, current, grid = walks[i]
        value = grid[position[i]]
        make = make_for(name)
        if changed(make(value)):
            switch = bisect_change(make, _last(grid, position[i], current), value, changed)
            position[i] = len(grid)  # this walk is done: its first change is found
            candidate = (_distance(switch, current), order, name, current, switch)
            if best is None or candidate[:2] < best[:2]:
                best = candidate
        else:
            position[i] += 1
    if best is None:
        return Sensitivity(winner, None, None, None, None, factor, tuple(searched), tuple(skipped))
    _, _, name, current, value = best
    new_winner = winner_of(make_for(name)(value))
    return Sensitivity(
        winner, name, current, value, new_winner, factor, tuple(searched), tuple(skipped)
    )


def _last(grid: list[float], position: int, current: float) -> float:
    """The grid point before ``position`` (``current`` before the first)."""
    return grid[position - 1] if position else current
