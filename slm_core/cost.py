"""Money and energy of serving each model, read from the value core; CodeCarbon's power model.

Two parts:

- **What the Cost page states** (:func:`mode_costs`, :func:`compare_money`, :func:`money_text`,
  :func:`running_energy`, :func:`training_energy`, :func:`measured_llm_cost`): every small
  model's yearly cost and cost per 1M predictions in every serving mode at the scenario's
  volume, against the hosted API (measured on the user's texts once the LLM has been measured),
  and the yearly energy and CO2e of the options as the decision serves them. Nothing is
  re-derived here: money and energy come from :mod:`slm_core.value.serving` (the same figures
  the decision uses), CO2e is kWh × the scenario's grid intensity (the one table,
  ``GRID_INTENSITY``).
- **CodeCarbon's power model** (:func:`cpu_watts_per_thread`, :func:`ram_watts`,
  :func:`inference_kwh_per_million`, :func:`training_kwh_estimate`), which the benchmark
  (:mod:`slm_core.runtime.bench`) stores with its measurements: CPU power = TDP from its table,
  or 4 W per thread when the CPU is not in it, scaled by the process's CPU load (W per thread ×
  CPU-seconds); RAM power from its DIMM model (5 W per x86 DIMM, at least two DIMMs). Without
  RAPL power counters every CPU figure is modelled, not metered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slm_core.value.option import Option
    from slm_core.value.scorecard import ValueReport
    from slm_core.value.serving import ServingCost

JOULES_PER_KWH = 3.6e6
PER_MILLION = 1_000_000
# CodeCarbon 3.3.2 codecarbon/core/cpu.py DEFAULT_POWER_PER_CORE (CPU not in its TDP table).
CODECARBON_WATTS_PER_THREAD = 4.0
# CodeCarbon 3.3.2 codecarbon/external/ram.py RAM_SLOT_POWER_X86 and its ARM figure.
RAM_WATTS_PER_DIMM_X86 = 5.0
RAM_WATTS_PER_DIMM_ARM = 1.5


# ------------------------------------------------------- money, as the model is served


@dataclass(frozen=True)
class ModeCost:
    """One small model served one way at the scenario's volume.

    ``use`` says how the decision relates to this mode: 'scenario' (the scenario's mode, used
    for this model), 'override' (chosen for this model on the Value page instead of the
    scenario's), 'scenario_unused' (the scenario's mode, replaced for this model) or ''.
    ``source`` is where the serving figures come from: 'bench' or 'fallback' (batch CPU time
    measured while checking robustness; optimistic for single texts).
    """

    run_id: int
    label: str
    mode: str
    cost: ServingCost
    use: str
    source: str | None

    @property
    def used(self) -> bool:
        """True for the mode the decision serves this model in."""
        return self.use in ("scenario", "override")


def _runs(report: ValueReport) -> dict[int, Any]:
    return {r.run_id: r for r in report.inputs.runs}


def mode_costs(report: ValueReport) -> list[ModeCost]:
    """Every measured model in every serving mode (``SERVING_MODES`` order), at the scenario's
    volume; models whose serving was never measured are left out."""
    from slm_core.value.serving import serving_modes

    a = report.assumptions
    runs = _runs(report)
    out: list[ModeCost] = []
    for option in report.models:
        run = runs.get(option.run_id)
        if run is None or not run.serving.measured:
            continue
        for mode, figure in serving_modes(run.serving, a).items():
            used, scenario = mode == option.serving_mode, mode == a.serving_mode
            use = (
                ("scenario" if scenario else "override")
                if used
                else ("scenario_unused" if scenario else "")
            )
            out.append(ModeCost(option.run_id, option.label, mode, figure, use, run.serving.source))
    return out


def api_option(report: ValueReport) -> Option | None:
    """The value report's hosted-API option (None in a report without one)."""
    return next((o for o in report.options if o.kind == "api"), None)


def api_serving(report: ValueReport) -> ServingCost:
    """The hosted API's yearly bill and energy at the scenario's volume, as the decision takes
    it: the value report's API option (measured tokens × stated prices once the LLM has been
    measured on this dataset, else estimated from the dataset's text lengths)."""
    option = api_option(report)
    if option is not None and option.serving is not None:
        return option.serving
    return modelled_api_serving(report)


def modelled_api_serving(report: ValueReport) -> ServingCost:
    """The scenario's estimate of the API's bill from the dataset's text lengths and its token
    prices, whether or not the LLM was measured (what the measurement is compared with)."""
    from slm_core.value.serving import api_cost

    return api_cost(report.inputs.lengths, report.assumptions)


def api_measured(report: ValueReport) -> bool:
    """Whether the API's bill in the value report rests on a measurement of the LLM."""
    return api_serving(report).details.get("measurement_run_id") is not None


@dataclass(frozen=True)
class MoneyComparison:
    """The cheapest small model as the decision serves it, against the API, per 1M predictions.

    ``cheaper`` is 'model', 'api', 'equal' or None (nothing to compare: no model measured, no
    feasible serving, or no volume). ``factor`` = dearer per 1M ÷ cheaper per 1M (None when
    the cheaper one costs nothing).
    """

    volume: float
    currency: str
    api_name: str
    model: Option | None
    model_cost: ServingCost | None
    api: ServingCost
    cheaper: str | None
    factor: float | None
    estimated: bool = False  # the model's serving figures are the fallback, not the benchmark
    unservable: tuple[str, ...] = field(default_factory=tuple)  # measured, but not servable so


def compare_money(report: ValueReport) -> MoneyComparison:
    """Cheapest feasible model (per 1M, in the mode the decision serves it) vs the API."""
    a = report.assumptions
    api = api_serving(report)
    runs = _runs(report)
    priced: list[Option] = []
    unservable: list[str] = []
    for o in report.models:
        run = runs.get(o.run_id)
        if o.serving is None or o.serving.yearly_cost is None or run is None:
            continue
        if not run.serving.measured:
            continue
        if o.serving.feasible:
            priced.append(o)
        else:
            unservable.append(o.label)
    option = api_option(report)
    api_name = option.label if option is not None and api_measured(report) else a.llm_name
    empty = MoneyComparison(
        a.annual_volume,
        a.currency,
        api_name,
        None,
        None,
        api,
        None,
        None,
        unservable=tuple(unservable),
    )
    if not priced or api.per_million is None:
        return empty
    best = min(priced, key=lambda o: (o.serving.per_million, o.run_id))
    model, other = best.serving.per_million, api.per_million
    if model is None:
        return empty
    if math.isclose(model, other, rel_tol=1e-9, abs_tol=1e-12):
        cheaper, factor = "equal", 1.0
    else:
        cheaper = "model" if model < other else "api"
        low, high = sorted((model, other))
        factor = high / low if low > 0 else None
    return MoneyComparison(
        a.annual_volume,
        a.currency,
        api_name,
        best,
        best.serving,
        api,
        cheaper,
        factor,
        estimated=runs[best.run_id].serving.source != "bench",
        unservable=tuple(unservable),
    )


def _money(value: float | None, currency: str, lang: str) -> str:
    from slm_core.i18n import format_money, t

    if value is None or not math.isfinite(value):
        return t("value.not_measured", lang)
    return format_money(value, currency, lang, 2 if abs(value) < 100 else 0)


def money_text(c: MoneyComparison, lang: str = "en") -> str:
    """The Cost page's money sentence: the cheapest model in the mode it is served in, against
    the API, per 1M predictions and per year, at the scenario's volume."""
    from slm_core.i18n import format_number, t
    from slm_core.value.text import option_label, serving_text

    volume = format_number(c.volume, lang)
    if c.model is None or c.model_cost is None or c.cheaper is None:
        if c.volume <= 0:
            return t("cost.money.no_volume", lang)
        if c.unservable:
            return t("cost.money.unservable", lang, models=", ".join(c.unservable))
        return t("cost.money.no_cpu", lang)
    values = {
        "volume": volume,
        "api_name": c.api_name,
        "model": option_label(c.model, lang),
        "mode": serving_text(c.model, lang),
        "model_m": _money(c.model_cost.per_million, c.currency, lang),
        "model_yr": _money(c.model_cost.yearly_cost, c.currency, lang),
        "api_m": _money(c.api.per_million, c.currency, lang),
        "api_yr": _money(c.api.yearly_cost, c.currency, lang),
    }
    if c.cheaper == "equal":
        text = t("cost.money.equal_line", lang, **values)
    elif c.factor is None:  # the cheaper side costs nothing
        text = t(f"cost.money.{c.cheaper}_free_line", lang, **values)
    else:
        factor = format_number(c.factor, lang, 1 if c.factor < 10 else 0)
        text = t(f"cost.money.{c.cheaper}_cheaper_line", lang, factor=factor, **values)
    if c.estimated:
        text += " " + t("cost.money.estimated", lang)
    return text


# ----------------------------------------------------------- the hosted LLM, measured


@dataclass(frozen=True)
class MeasuredLLMCost:
    """What the hosted LLM cost per text when it answered the user's own texts, scaled to 1M
    texts and to the scenario's yearly volume.

    Tokens are those the API reported (``kind`` 'measured'); a server that reports no usage
    leaves the client's estimate, and the figure is 'modelled'. Prices are the ones stated for
    the measurement (USD per 1M tokens); ``per_million`` and ``yearly_cost`` are in the
    scenario's currency (× its exchange rate).
    """

    run_id: int
    label: str  # "LLM · <model>"
    model: str
    n_texts: int
    input_tokens_per_text: float
    output_tokens_per_text: float
    input_price_per_m: float
    output_price_per_m: float
    price_source: str
    price_date: str
    usd_per_million: float
    per_million: float
    yearly_cost: float
    currency: str
    volume: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    kind: str
    method: str

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


LLM_COST_METHOD = (
    "tokens per text = the API's reported usage summed over the answered sample ÷ texts; "
    "USD per 1M texts = (input tokens per text × input price + output tokens per text × output "
    "price) at the stated USD per 1M tokens; × the scenario's exchange rate; yearly = per 1M × "
    "volume ÷ 1M; latency = wall time of each answering call (network included)"
)


UNSTATED_PRICE_SOURCE = (
    "the scenario's assumed LLM prices (the endpoint was measured with no price of its own)"
)


def measured_llm_cost(m, a) -> MeasuredLLMCost:
    """The money figures of an :class:`~slm_core.llm.measurement.LLMMeasurement` under the
    scenario ``a`` (its currency and yearly volume)."""
    from slm_core.value.hosted import measured_basis

    basis = measured_basis(m, a)
    per_million = float(basis.price_per_million)
    return MeasuredLLMCost(
        run_id=m.run_id,
        label=m.label,
        model=m.model,
        n_texts=m.n,
        input_tokens_per_text=m.input_tokens_per_text,
        output_tokens_per_text=m.output_tokens_per_text,
        # An endpoint measured with no price is priced at the scenario's (assumed) prices.
        input_price_per_m=float(
            m.endpoint.input_price_per_m if basis.prices_stated else a.llm_input_price_per_m
        ),
        output_price_per_m=float(
            m.endpoint.output_price_per_m if basis.prices_stated else a.llm_output_price_per_m
        ),
        price_source=(m.endpoint.price_source if basis.prices_stated else UNSTATED_PRICE_SOURCE),
        price_date=m.endpoint.price_date if basis.prices_stated else "",
        usd_per_million=float(basis.usd_per_million),
        per_million=per_million,
        yearly_cost=per_million * float(a.annual_volume) / PER_MILLION,
        currency=a.currency,
        volume=float(a.annual_volume),
        latency_p50_ms=m.latency_p50_ms,
        latency_p95_ms=m.latency_p95_ms,
        kind=basis.price_kind,
        method=LLM_COST_METHOD,
    )


# ------------------------------------------------------------------- energy and CO2e


@dataclass(frozen=True)
class EnergyRow:
    """Yearly running energy of one option as the decision serves it, and its CO2e.

    ``kind``: 'modelled' for a small model (measured CPU time × power assumptions), 'assumed'
    for the API (a published per-query figure), 'not_measured' when serving was not measured.
    """

    key: str
    option: Option
    mode: str | None
    yearly_kwh: float | None
    wh_per_text: float | None
    co2e_kg: float | None
    kind: str


def co2e_kg(kwh: float | None, grid_g_per_kwh: float) -> float | None:
    """kg CO2e of ``kwh`` at a grid intensity in gCO2e/kWh (PUE, where due, is in the kWh)."""
    return None if kwh is None else kwh * grid_g_per_kwh / 1000.0


def running_energy(report: ValueReport) -> list[EnergyRow]:
    """Each small model in the mode the decision serves it, then the API, at the scenario's
    volume and grid."""
    grid = report.assumptions.grid_gco2_per_kwh
    rows = []
    options = [*report.models]
    options += [o for o in report.options if o.kind == "api"]
    for o in options:
        s = o.serving
        if s is None:
            continue
        kind = "assumed" if o.kind == "api" else s.kind
        if s.yearly_kwh is None:
            kind = "not_measured"
        rows.append(
            EnergyRow(
                o.key,
                o,
                o.serving_mode,
                s.yearly_kwh,
                s.wh_per_text,
                co2e_kg(s.yearly_kwh, grid),
                kind,
            )
        )
    return rows


@dataclass(frozen=True)
class TrainingRow:
    """One-off training energy of a model (IT energy on this machine, no data-centre PUE)."""

    option: Option
    kwh: float | None
    co2e_g: float | None
    kind: str  # 'measured' (RAPL-metered), 'modelled' or 'not_measured'
    seconds: float | None


def training_energy(report: ValueReport) -> list[TrainingRow]:
    """Training energy of every small model and its CO2e at the scenario's grid."""
    grid = report.assumptions.grid_gco2_per_kwh
    runs = _runs(report)
    rows = []
    for o in report.models:
        kwh = o.train_kwh
        run = runs.get(o.run_id)
        rows.append(
            TrainingRow(
                o,
                kwh,
                None if kwh is None else kwh * grid,
                (o.train_kwh_kind or "modelled") if kwh is not None else "not_measured",
                None if run is None else run.train_seconds,
            )
        )
    return rows


# ------------------------------------------------------------- CodeCarbon's power model


@dataclass(frozen=True)
class Figure:
    """A computed figure with its unit, the formula used and the inputs it rests on."""

    value: float | None
    unit: str
    method: str
    assumptions: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "unit": self.unit,
            "method": self.method,
            "assumptions": dict(self.assumptions),
        }


def _check(name: str, value: float | None, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if value is None or isinstance(value, bool) or not math.isfinite(float(value)) or value < 0:
        raise ValueError(f"'{name}' must be a finite number of zero or more, not {value!r}.")


# ------------------------------------------------------------------------ energy


def cpu_watts_per_thread(tdp_watts: float | None, logical_cpus: int) -> Figure:
    """CodeCarbon's CPU power per busy thread: table TDP ÷ logical CPUs, else 4 W."""
    if logical_cpus < 1:
        raise ValueError("'logical_cpus' must be at least 1.")
    if tdp_watts:
        return Figure(
            tdp_watts / logical_cpus,
            "W per busy thread",
            "CodeCarbon TDP table: TDP ÷ logical CPUs (process load model)",
            {"tdp_watts": tdp_watts, "logical_cpus": logical_cpus},
        )
    return Figure(
        CODECARBON_WATTS_PER_THREAD,
        "W per busy thread",
        "CodeCarbon fallback for a CPU missing from its TDP table: 4 W per thread",
        {"tdp_watts": None, "logical_cpus": logical_cpus},
    )


def dimm_count(memory_gb: float) -> int:
    """CodeCarbon 3's guess of the number of memory modules behind ``memory_gb``."""
    _check("memory_gb", memory_gb)
    if memory_gb <= 2:
        return 1
    if memory_gb <= 16:
        return 2
    if memory_gb <= 32:
        return 4
    if memory_gb <= 64:
        return 4
    if memory_gb <= 128:
        return 8
    for size in (128, 64, 32, 16, 8, 4):
        if size <= memory_gb / 8:
            return min(math.ceil(memory_gb / size), 32)
    return 8


def ram_watts(memory_gb: float, arm: bool = False) -> Figure:
    """CodeCarbon 3's RAM power for ``memory_gb``: W per DIMM, less per DIMM in big servers."""
    dimms = dimm_count(memory_gb)
    per = RAM_WATTS_PER_DIMM_ARM if arm else RAM_WATTS_PER_DIMM_X86
    floor = 3.0 if arm else per * 2
    if dimms <= 4:
        watts = per * dimms
    elif dimms <= 8:
        watts = per * 4 + per * 0.9 * (dimms - 4)
    elif dimms <= 16:
        watts = per * 4 + per * 0.9 * 4 + per * 0.8 * (dimms - 8)
    else:
        watts = per * 4 + per * 0.9 * 4 + per * 0.8 * 8 + per * 0.7 * (dimms - 16)
    return Figure(
        max(floor, watts),
        "W",
        f"CodeCarbon 3 RAM model: {per:g} W per DIMM, at least {floor:g} W",
        {"memory_gb": memory_gb, "dimms": dimms, "arm": arm},
    )


def inference_kwh_per_million(
    cpu_seconds_per_prediction: float | None,
    wall_seconds_per_prediction: float | None,
    watts_per_thread: float,
    ram_power_watts: float,
) -> Figure:
    """IT energy (no PUE) of 1M predictions: CPU W × CPU-seconds + RAM W × wall seconds."""
    _check("cpu_seconds_per_prediction", cpu_seconds_per_prediction, allow_none=True)
    _check("wall_seconds_per_prediction", wall_seconds_per_prediction, allow_none=True)
    _check("watts_per_thread", watts_per_thread)
    _check("ram_power_watts", ram_power_watts)
    value = None
    if cpu_seconds_per_prediction is not None and wall_seconds_per_prediction is not None:
        joules = (
            watts_per_thread * cpu_seconds_per_prediction
            + ram_power_watts * wall_seconds_per_prediction
        )
        value = joules * PER_MILLION / JOULES_PER_KWH
    return Figure(
        value,
        "kWh per 1M predictions (IT, before PUE)",
        "(W per thread × CPU-seconds per prediction + RAM W × seconds per prediction) × 1M "
        "÷ 3.6M J/kWh (CodeCarbon process load model)",
        {
            "cpu_seconds_per_prediction": cpu_seconds_per_prediction,
            "wall_seconds_per_prediction": wall_seconds_per_prediction,
            "watts_per_thread": watts_per_thread,
            "ram_watts": ram_power_watts,
            "includes_pue": False,
        },
    )


def training_kwh_estimate(
    train_seconds: float | None,
    threads: int,
    watts_per_thread: float,
    ram_power_watts: float,
    cpu_load: float = 1.0,
) -> Figure:
    """IT energy (no PUE) of a training run not metered: threads busy at ``cpu_load``."""
    _check("train_seconds", train_seconds, allow_none=True)
    _check("watts_per_thread", watts_per_thread)
    _check("ram_power_watts", ram_power_watts)
    if not 0 <= cpu_load <= 1:
        raise ValueError("'cpu_load' is a share between 0 and 1.")
    value = None
    if train_seconds is not None:
        watts = threads * watts_per_thread * cpu_load + ram_power_watts
        value = watts * train_seconds / JOULES_PER_KWH
    return Figure(
        value,
        "kWh (IT, before PUE)",
        "(threads × W per thread × CPU load + RAM W) × training seconds ÷ 3.6M J/kWh "
        "(estimate: training was not metered)",
        {
            "train_seconds": train_seconds,
            "threads": threads,
            "watts_per_thread": watts_per_thread,
            "cpu_load": cpu_load,
            "ram_watts": ram_power_watts,
            "includes_pue": False,
        },
    )
