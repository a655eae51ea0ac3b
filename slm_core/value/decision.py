"""The decision, stated once: the best option, the runner-up, and what would flip it.

Options that may be recommended (see :func:`slm_core.value.eligibility.eligibility`) are ranked by
their overall score under the user's weights; when none may be, the answer is to keep it
manual. Break-evens are found by bisection on the same decision: the LLM API accuracy at which
the answer changes (when the LLM was measured, every measured accuracy moved by the same amount
from the measured one), the yearly volume below which keeping it manual wins, and — when manual
wins — the volume, wage or error cost that would change that. The cost chart is each option's
yearly cost against yearly volume (log–log), with the volumes where two lines cross.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from slm_core.value.assumptions import Assumptions
from slm_core.value.option import API, CASCADE, MANUAL, Option
from slm_core.value.scores import bounds, search_change
from slm_core.value.serving import ServingMeasure, serving_cost

# The cost chart's volumes: 100 to 1 billion texts a year, 8 points per decade.
CURVE_VOLUMES = tuple(float(v) for v in np.logspace(2, 9, 57))
ERROR_COST_FIELDS = ("cost_false_positive", "cost_false_negative", "cost_other_error")

Rebuild = Callable[[Assumptions], list[Option]]


@dataclass(frozen=True)
class MeasuredLLM:
    """A measured LLM for the break-even: its measured accuracy, and the options rebuilt with
    that accuracy at another value (the scenario's ``llm_accuracy`` is then not used)."""

    accuracy: float
    rebuild: Callable[[float], list[Option]]


@dataclass(frozen=True)
class BreakEven:
    """Where one assumption flips the decision: its value there and the new best option.

    ``scores`` holds the overall scores of the old and the new best option at ``value`` (a tie
    when the flip is a crossing of scores, not a change of what may be recommended).
    """

    field: str
    current: float
    value: float
    old: str
    new: str
    scores: dict[str, float | None] = field(default_factory=dict)
    measured: bool = False  # ``current`` is a measured figure, not an assumption

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Crossover:
    """A yearly volume at which two options cost the same."""

    a: str
    b: str
    volume: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    """The answer and its evidence; option keys refer to ``ValueReport.options``."""

    best: str
    runner_up: str | None
    ranked: tuple[str, ...]
    llm_break_even: BreakEven | None = None
    manual_below: BreakEven | None = None
    manual_flips: tuple[BreakEven, ...] = ()
    crossovers: tuple[Crossover, ...] = ()
    curves: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "runner_up": self.runner_up,
            "ranked": list(self.ranked),
            "llm_break_even": self.llm_break_even.to_dict() if self.llm_break_even else None,
            "manual_below": self.manual_below.to_dict() if self.manual_below else None,
            "manual_flips": [b.to_dict() for b in self.manual_flips],
            "crossovers": [c.to_dict() for c in self.crossovers],
            "curves": self.curves,
        }


def rank(options: Sequence[Option]) -> list[str]:
    """Keys of the options that may be recommended, best overall score first (ties: order)."""
    ok = [o for o in options if o.eligible and o.kind != "manual" and o.overall is not None]
    order = {o.key: i for i, o in enumerate(options)}
    return [o.key for o in sorted(ok, key=lambda o: (-o.overall, order[o.key]))]


def best_of(options: Sequence[Option]) -> tuple[str, str | None]:
    """(best, runner-up): the top option, or keeping it manual when none may be recommended."""
    ranked = rank(options)
    if not ranked:
        return MANUAL, None
    return ranked[0], ranked[1] if len(ranked) > 1 else MANUAL


# ---------------------------------------------------------------- break-evens


def _flip(
    options_at: Callable[[float], list[Option]],
    name: str,
    current: float,
    limit: float,
    best: str,
    changed: Callable[[float], bool],
    measured: bool = False,
) -> BreakEven | None:
    """Where moving ``name`` from ``current`` towards ``limit`` first makes ``changed`` true,
    with the options rebuilt there (``options_at``) naming the new best."""
    value = search_change(lambda v: v, current, limit, changed)
    if value is None:
        return None
    options = options_at(value)
    new, _ = best_of(options)
    scores = {o.key: o.overall for o in options if o.key in (best, new)}
    return BreakEven(name, current, value, best, new, scores, measured=measured)


def _break_even(rebuild: Rebuild, a: Assumptions, name: str, limit: float, best: str, pred):
    def make(value: float) -> Assumptions:
        return replace(a, **{name: value})

    current = float(getattr(a, name))
    return _flip(lambda v: rebuild(make(v)), name, current, limit, best, lambda v: pred(make(v)))


def llm_break_even(
    rebuild: Rebuild, a: Assumptions, best: str, measured: MeasuredLLM | None = None
) -> BreakEven | None:
    """The API accuracy at which the decision changes (up when the API does not win, else
    down): from the assumed ``llm_accuracy``, or from the measured accuracy when given."""
    uses_api = best in (API, CASCADE)
    low, high = bounds("llm_accuracy")
    if measured is not None:
        return _flip(
            measured.rebuild,
            "llm_accuracy",
            float(measured.accuracy),
            low if uses_api else high,
            best,
            lambda v: best_of(measured.rebuild(v))[0] != best,
            measured=True,
        )
    return _break_even(
        rebuild,
        a,
        "llm_accuracy",
        low if uses_api else high,
        best,
        lambda x: best_of(rebuild(x))[0] != best,
    )


def manual_below(rebuild: Rebuild, a: Assumptions, best: str) -> BreakEven | None:
    """The yearly volume below which keeping it manual is the answer."""
    if best == MANUAL or a.annual_volume <= 0:
        return None
    return _break_even(
        rebuild,
        a,
        "annual_volume",
        a.annual_volume / 1e4,
        best,
        lambda x: best_of(rebuild(x))[0] == MANUAL,
    )


def manual_flips(rebuild: Rebuild, a: Assumptions) -> tuple[BreakEven, ...]:
    """When keeping it manual wins: the volume, the wage or the error costs that would not."""

    def automate(x: Assumptions) -> bool:
        return best_of(rebuild(x))[0] != MANUAL

    out = []
    for name, factor in (("annual_volume", 1e4), ("hourly_labour_cost", 10.0)):
        found = _break_even(rebuild, a, name, float(getattr(a, name)) * factor, MANUAL, automate)
        if found is not None:
            out.append(found)

    def scaled(k: float) -> Assumptions:
        return replace(a, **{f: getattr(a, f) * k for f in ERROR_COST_FIELDS})

    k = search_change(scaled, 1.0, 0.01, automate)
    if k is not None:
        options = rebuild(scaled(k))
        new, _ = best_of(options)
        out.append(BreakEven("error_cost_scale", 1.0, k, MANUAL, new))
    return tuple(out)


# ------------------------------------------------------------- cost vs volume


def yearly_cost(o: Option, a: Assumptions, volume: float, measure: ServingMeasure | None) -> float:
    """What option ``o`` costs a year at ``volume``: people, errors, serving, API, upkeep."""
    manual_per_text = o.business.manual_cost / a.annual_volume if a.annual_volume else 0.0
    if o.kind == "manual":
        return volume * manual_per_text
    serving = 0.0
    if o.kind in ("model", "cascade") and measure is not None:
        serving = serving_cost(measure, a, o.serving_mode, volume).yearly_cost or 0.0
    return volume * (manual_per_text - o.value_per_text) + serving + a.yearly_maintenance


def cost_curves(
    options: Sequence[Option], a: Assumptions, measures: dict[int, ServingMeasure]
) -> tuple[dict[str, Any], tuple[Crossover, ...]]:
    """Yearly cost of every option on ``CURVE_VOLUMES``, and where the main lines cross."""
    if not a.annual_volume:
        return {}, ()

    def cost(o: Option, v: float) -> float:
        return yearly_cost(o, a, v, measures.get(o.run_id) if o.run_id else None)

    curves = {
        "volume": list(CURVE_VOLUMES),
        "cost": {o.key: [cost(o, v) for v in CURVE_VOLUMES] for o in options},
        "scenario_volume": a.annual_volume,
    }
    by_key = {o.key: o for o in options}
    models = [o for o in options if o.kind == "model" and o.eligible] or [
        o for o in options if o.kind == "model"
    ]
    main = [MANUAL, API, CASCADE]
    if models:
        main.append(max(models, key=lambda o: o.overall or -math.inf).key)
    main = [k for k in main if k in by_key]
    crossings = []
    for i, ka in enumerate(main):
        for kb in main[i + 1 :]:
            diff = np.array(curves["cost"][ka]) - np.array(curves["cost"][kb])
            for j in np.nonzero(np.sign(diff[:-1]) * np.sign(diff[1:]) < 0)[0]:
                lo, hi = math.log(CURVE_VOLUMES[j]), math.log(CURVE_VOLUMES[j + 1])
                d_lo = cost(by_key[ka], CURVE_VOLUMES[j]) - cost(by_key[kb], CURVE_VOLUMES[j])
                for _ in range(50):
                    mid = (lo + hi) / 2
                    d = cost(by_key[ka], math.exp(mid)) - cost(by_key[kb], math.exp(mid))
                    if (d > 0) == (d_lo > 0):
                        lo = mid
                    else:
                        hi = mid
                crossings.append(Crossover(ka, kb, math.exp(hi)))
    return curves, tuple(crossings)


def decide(
    options: Sequence[Option],
    a: Assumptions,
    rebuild: Rebuild,
    measures: dict[int, ServingMeasure],
    *,
    break_evens: bool = True,
    measured_llm: MeasuredLLM | None = None,
) -> Decision:
    """The decision over ``options``, with break-evens found through ``rebuild`` (and the
    LLM's through ``measured_llm`` when it was measured)."""
    best, runner_up = best_of(options)
    curves, crossings = cost_curves(options, a, measures)
    if not break_evens or len(options) < 2:
        return Decision(best, runner_up, tuple(rank(options)), curves=curves, crossovers=crossings)
    return Decision(
        best=best,
        runner_up=runner_up,
        ranked=tuple(rank(options)),
        llm_break_even=llm_break_even(rebuild, a, best, measured_llm),
        manual_below=manual_below(rebuild, a, best),
        manual_flips=manual_flips(rebuild, a) if best == MANUAL else (),
        crossovers=crossings,
        curves=curves,
    )
