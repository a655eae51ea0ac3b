"""Money and energy per prediction: pure arithmetic on measured figures and editable assumptions.

Every function returns a :class:`Figure`: the value, its unit, how it was computed, and every
assumption it used, so the Cost page, the CLI and a report can show the working. Nothing here
measures or imports a model; the measured inputs come from the benchmark
(:mod:`slm_core.runtime.bench`).

Energy follows CodeCarbon's method (version 3): CPU power = TDP from its table, or 4 W per
thread when the CPU is not in it, scaled by the process's CPU load (process tracking mode: power
= TDP × CPU-seconds per second / logical CPUs, i.e. W per thread × CPU-seconds); RAM power from
its DIMM model (5 W per x86 DIMM, at least two DIMMs); data-centre overhead as PUE; CO2e =
energy × grid intensity. Without RAPL power counters every CPU figure is an estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

SECONDS_PER_HOUR = 3600.0
JOULES_PER_KWH = 3.6e6
PER_MILLION = 1_000_000
# CodeCarbon 3.3.2 codecarbon/core/cpu.py DEFAULT_POWER_PER_CORE (CPU not in its TDP table).
CODECARBON_WATTS_PER_THREAD = 4.0
# CodeCarbon 3.3.2 codecarbon/external/ram.py RAM_SLOT_POWER_X86 and its ARM figure.
RAM_WATTS_PER_DIMM_X86 = 5.0
RAM_WATTS_PER_DIMM_ARM = 1.5
CO2E_SOURCE = "Ember / Our World in Data (world 2024) or CodeCarbon's per-country energy mix"


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


# ------------------------------------------------------------------------- money


def price_per_million(
    cpu_seconds_per_prediction: float | None,
    price_per_vcpu_hour: float,
    currency: str = "USD",
) -> Figure:
    """Money per 1M predictions = CPU-seconds per prediction × 1M / 3600 × price per vCPU-hour."""
    _check("cpu_seconds_per_prediction", cpu_seconds_per_prediction, allow_none=True)
    _check("price_per_vcpu_hour", price_per_vcpu_hour)
    value = (
        None
        if cpu_seconds_per_prediction is None
        else cpu_seconds_per_prediction * PER_MILLION / SECONDS_PER_HOUR * price_per_vcpu_hour
    )
    return Figure(
        value,
        f"{currency} per 1M predictions",
        "measured CPU-seconds per prediction × 1,000,000 ÷ 3,600 × price per vCPU-hour",
        {
            "cpu_seconds_per_prediction": cpu_seconds_per_prediction,
            "price_per_vcpu_hour": price_per_vcpu_hour,
            "currency": currency,
        },
    )


def llm_input_tokens(
    mean_cjk_chars: float,
    mean_other_chars: float,
    tokens_per_char_cjk: float,
    tokens_per_char_latin: float,
    prompt_tokens: float,
) -> Figure:
    """Estimated API input tokens per text from the dataset's real mean text length."""
    for name, value in (
        ("mean_cjk_chars", mean_cjk_chars),
        ("mean_other_chars", mean_other_chars),
        ("tokens_per_char_cjk", tokens_per_char_cjk),
        ("tokens_per_char_latin", tokens_per_char_latin),
        ("prompt_tokens", prompt_tokens),
    ):
        _check(name, value)
    value = (
        prompt_tokens
        + mean_cjk_chars * tokens_per_char_cjk
        + mean_other_chars * tokens_per_char_latin
    )
    return Figure(
        value,
        "tokens per text",
        "prompt tokens + mean CJK characters × tokens per CJK character + mean other characters "
        "× tokens per other character",
        {
            "mean_cjk_chars": mean_cjk_chars,
            "mean_other_chars": mean_other_chars,
            "tokens_per_char_cjk": tokens_per_char_cjk,
            "tokens_per_char_latin": tokens_per_char_latin,
            "prompt_tokens": prompt_tokens,
        },
    )


def llm_price_per_million(
    input_tokens: float,
    output_tokens: float,
    input_price_per_m: float,
    output_price_per_m: float,
    currency: str = "USD",
) -> Figure:
    """Money per 1M API answers = input tokens × input price + output tokens × output price.

    Prices are per 1M tokens, so for 1M answers the token counts per answer multiply them
    directly.
    """
    for name, value in (
        ("input_tokens", input_tokens),
        ("output_tokens", output_tokens),
        ("input_price_per_m", input_price_per_m),
        ("output_price_per_m", output_price_per_m),
    ):
        _check(name, value)
    return Figure(
        input_tokens * input_price_per_m + output_tokens * output_price_per_m,
        f"{currency} per 1M predictions",
        "input tokens per text × price per 1M input tokens + output tokens per answer × price "
        "per 1M output tokens",
        {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "input_price_per_m": input_price_per_m,
            "output_price_per_m": output_price_per_m,
            "currency": currency,
        },
    )


def cheaper_factor(model_cost: Figure, llm_cost: Figure) -> Figure:
    """How many times the API costs the small model's price (None when either is unknown)."""
    ok = model_cost.value is not None and llm_cost.value is not None and model_cost.value > 0
    return Figure(
        llm_cost.value / model_cost.value if ok else None,
        "×",
        "API money per 1M predictions ÷ small model's money per 1M predictions",
        {"model_per_million": model_cost.value, "llm_per_million": llm_cost.value},
    )


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


def facility_kwh(it_kwh: float | None, pue: float) -> Figure:
    """Energy drawn by the data centre: IT energy × PUE."""
    _check("it_kwh", it_kwh, allow_none=True)
    if not math.isfinite(pue) or pue < 1:
        raise ValueError("'pue' (power usage effectiveness) is 1.0 or more.")
    return Figure(
        None if it_kwh is None else it_kwh * pue,
        "kWh",
        "IT energy × PUE",
        {"it_kwh": it_kwh, "pue": pue},
    )


def co2e_grams(it_kwh: float | None, pue: float, grid_g_per_kwh: float) -> Figure:
    """Emissions: IT energy × PUE × grid carbon intensity (gCO2e per kWh)."""
    _check("grid_g_per_kwh", grid_g_per_kwh)
    energy = facility_kwh(it_kwh, pue)
    return Figure(
        None if energy.value is None else energy.value * grid_g_per_kwh,
        "gCO2e",
        "IT energy × PUE × grid carbon intensity",
        {"it_kwh": it_kwh, "pue": pue, "grid_g_per_kwh": grid_g_per_kwh},
    )
