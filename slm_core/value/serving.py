"""What it costs, in money and energy, to serve a small model — as it would really be served.

Marginal CPU time alone is not a price anyone can pay: the serving mode decides the bill.

- **device** — the model runs on the user's phone or PC: no server bill; it must be measured to
  fit the device budgets (size on disk; serving memory above a bare Python + NumPy process).
  Energy = texts × CPU-seconds × W per thread (no data-centre PUE).
- **always_on** — instances = max(minimum, ceil(peak rate ÷ (1-thread throughput × vCPUs per
  instance × target utilisation))), billed 8,760 h a year; peak rate = volume ÷ (business
  days × hours × 3,600 s) × peak factor. Energy = instances × 8,760 h × (vCPUs × W per thread ×
  idle share + RAM W) + texts × CPU-seconds × W per thread × (1 − idle share), × PUE.
- **serverless** — per request: the request fee + memory (GB, peak RSS rounded up to 64 MB, at
  least the minimum) × billed seconds (latency rounded up to 1 ms, plus the cold-start share ×
  (load + first call)). Energy = texts × billed seconds × W per thread, × PUE.
- **batch** — one job per run: billed = runs × vCPUs × max(minimum, texts per run ×
  batch seconds per text ÷ vCPUs + load time). Energy = texts × batch CPU-seconds × W, × PUE.

The hosted LLM's price per text is measured (the tokens its API reported on the user's texts ×
the stated prices) when a measurement exists, else estimated from the dataset's own text
lengths and the API's token prices; its energy is the sourced per-query figure (which already
includes data-centre overhead).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from slm_core.numbers import finite_or_none
from slm_core.runtime.record import BenchReport, SettingMeasure
from slm_core.text import CJK_CLASS
from slm_core.value.assumptions import SERVING_MODES, Assumptions

if TYPE_CHECKING:
    from slm_core.value.hosted import LLMBasis

HOURS_PER_YEAR = 8760.0
SECONDS_PER_HOUR = 3600.0
JOULES_PER_WH = 3600.0
# Serverless memory is configured in steps of this many MB (AWS Lambda: 1 MB steps from 128 MB;
# 64 MB keeps the figure readable and never under the measured need).
MEMORY_STEP_MB = 64.0


# ------------------------------------------------------------- measured inputs


@dataclass(frozen=True)
class ServingMeasure:
    """What the Cost page's benchmark measured about serving one run (None = not measured).

    ``source`` is 'bench' (the benchmark), 'fallback' (batch CPU time measured while checking
    robustness: optimistic for single texts) or None.
    """

    cpu_seconds: float | None = None  # CPU time per single-text prediction, 1 thread
    wall_seconds: float | None = None  # mean single-text latency, 1 thread
    batch_seconds: float | None = None  # wall seconds per text at batch 256, 1 thread
    batch_cpu_seconds: float | None = None  # CPU seconds per text at batch 256
    load_seconds: float | None = None
    first_call_seconds: float | None = None
    p50_ms: float | None = None
    artifact_mb: float | None = None
    peak_rss_mb: float | None = None  # the whole serving process (Python included)
    model_memory_mb: float | None = None  # peak above a bare Python + NumPy process
    source: str | None = None

    @property
    def measured(self) -> bool:
        return self.source is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_bench(cls, bench: BenchReport | Mapping[str, Any] | None) -> ServingMeasure:
        """What a stored 'bench' result measured (read as a
        :class:`~slm_core.runtime.record.BenchReport`): single-text figures at one thread,
        batch figures at 256 texts per call."""
        report = BenchReport.read(bench)
        if report is None:
            return cls()
        single, primary = report.single or SettingMeasure(), report.primary
        mean_ms = finite_or_none(single.latency_ms("mean")) or finite_or_none(
            single.latency_ms("p50")
        )
        rate = finite_or_none(primary.texts_per_second(256))
        cpu = finite_or_none(primary.cpu_seconds_per_prediction)
        peak = finite_or_none(single.peak_rss_bytes)
        start = finite_or_none(single.rss_start_bytes)
        return cls(
            cpu_seconds=cpu,
            wall_seconds=None if mean_ms is None else mean_ms / 1000.0,
            batch_seconds=None if not rate else 1.0 / rate,
            batch_cpu_seconds=finite_or_none(primary.cpu_seconds_per_text(256)),
            load_seconds=_ms(primary.load_ms),
            first_call_seconds=_ms(primary.first_call_ms),
            p50_ms=finite_or_none(single.latency_ms("p50")),
            artifact_mb=_mb(report.artifact_bytes),
            peak_rss_mb=_mb(report.peak_rss_bytes),
            model_memory_mb=None if peak is None or start is None else max(peak - start, 0) / 1e6,
            source="bench" if cpu is not None or mean_ms is not None else None,
        )

    def with_fallback(self, cpu_seconds: float | None, size_bytes: float | None) -> ServingMeasure:
        """Fill what the benchmark did not measure from batch CPU time and the training size."""
        if self.measured or cpu_seconds is None:
            return self
        return ServingMeasure(
            cpu_seconds=cpu_seconds,
            wall_seconds=cpu_seconds,
            batch_seconds=cpu_seconds,
            batch_cpu_seconds=cpu_seconds,
            artifact_mb=self.artifact_mb or _mb(size_bytes),
            source="fallback",
        )


def _ms(value: Any) -> float | None:
    number = finite_or_none(value)
    return None if number is None else number / 1000.0


def _mb(value: Any) -> float | None:
    number = finite_or_none(value)
    return None if not number else number / 1e6


# ---------------------------------------------------------------- the figures


@dataclass(frozen=True)
class ServingCost:
    """One model served one way at one yearly volume: money, energy and whether it can work.

    ``kind`` is 'modelled' (a formula over measured figures and assumptions) or 'not_measured'.
    ``note`` is a locale key explaining why the mode cannot serve (``feasible`` False).
    """

    mode: str
    volume: float
    yearly_cost: float | None
    yearly_kwh: float | None  # including PUE where a data centre is involved
    instances: int | None = None
    peak_rate_per_s: float | None = None
    capacity_per_instance: float | None = None
    feasible: bool = True
    note: str | None = None
    kind: str = "modelled"
    energy_kind: str = "modelled"
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def per_million(self) -> float | None:
        """Money per 1M predictions at this volume (yearly cost ÷ volume × 1M)."""
        if self.yearly_cost is None or self.volume <= 0:
            return None
        return self.yearly_cost / self.volume * 1e6

    @property
    def wh_per_text(self) -> float | None:
        if self.yearly_kwh is None or self.volume <= 0:
            return None
        return self.yearly_kwh * 1000.0 / self.volume

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["per_million"] = self.per_million
        out["wh_per_text"] = self.wh_per_text
        return out


def peak_rate(a: Assumptions, volume: float) -> float:
    """Texts per second in the busiest hour: volume ÷ (days × hours × 3600) × peak factor."""
    seconds = a.business_days_per_year * a.business_hours_per_day * SECONDS_PER_HOUR
    return volume / seconds * a.peak_factor


def serving_cost(
    m: ServingMeasure, a: Assumptions, mode: str | None = None, volume: float | None = None
) -> ServingCost:
    """Yearly cost and energy of serving ``volume`` texts (default: the scenario's) in ``mode``."""
    mode = mode or a.serving_mode
    volume = a.annual_volume if volume is None else float(volume)
    if mode not in SERVING_MODES:
        raise ValueError(f"unknown serving mode {mode!r}")
    if mode == "device":
        return _device(m, a, volume)
    if not m.measured:
        return ServingCost(
            mode,
            volume,
            None,
            None,
            kind="not_measured",
            energy_kind="not_measured",
            note="value.note.serving_missing",
        )
    cost = {"always_on": _always_on, "serverless": _serverless, "batch": _batch}[mode](m, a, volume)
    if m.source == "fallback":  # single texts were not timed: batch CPU time is optimistic
        return replace(cost, note="value.note.serving_fallback")
    return cost


def _device(m: ServingMeasure, a: Assumptions, volume: float) -> ServingCost:
    """On the user's device: no server bill, but only a model measured to fit the budgets.

    Memory is the serving peak above a bare Python + NumPy process: on a phone the app's own
    runtime takes the place of the Python interpreter, which the budget should not pay for.
    """
    fits_disk = None if m.artifact_mb is None else m.artifact_mb <= a.device_disk_budget_mb
    memory = m.model_memory_mb
    fits_memory = None if memory is None else memory <= a.device_memory_budget_mb
    if m.source != "bench" or fits_disk is None or fits_memory is None:
        feasible, note = False, "value.note.device_unmeasured"
    else:
        feasible = fits_disk and fits_memory
        note = None if feasible else "value.note.device_too_big"
    kwh = (
        None
        if m.cpu_seconds is None
        else volume * m.cpu_seconds * a.cpu_watts_per_thread / JOULES_PER_WH / 1000.0
    )
    return ServingCost(
        "device",
        volume,
        0.0,
        kwh,
        feasible=feasible,
        note=note,
        kind="modelled" if kwh is not None else "not_measured",
        energy_kind="modelled" if kwh is not None else "not_measured",
        details={
            "artifact_mb": m.artifact_mb,
            "model_memory_mb": memory,
            "disk_budget_mb": a.device_disk_budget_mb,
            "memory_budget_mb": a.device_memory_budget_mb,
            "fits_disk": fits_disk,
            "fits_memory": fits_memory,
        },
    )


def _always_on(m: ServingMeasure, a: Assumptions, volume: float) -> ServingCost:
    per_text = m.wall_seconds or m.cpu_seconds or 0.0
    rate = peak_rate(a, volume)
    capacity = math.inf if per_text <= 0 else a.instance_vcpus * a.target_utilisation / per_text
    needed = 0 if rate <= 0 else math.ceil(rate / capacity - 1e-12)
    instances = max(int(math.ceil(a.min_instances)), needed, 1 if volume > 0 else 0)
    cost = instances * a.instance_price_per_hour * HOURS_PER_YEAR
    idle_w = a.instance_vcpus * a.cpu_watts_per_thread * a.idle_power_share
    idle_kwh = instances * HOURS_PER_YEAR * (idle_w + a.ram_watts_per_instance) / 1000.0
    busy_kwh = (
        volume
        * (m.cpu_seconds or per_text)
        * a.cpu_watts_per_thread
        * (1.0 - a.idle_power_share)
        / JOULES_PER_WH
        / 1000.0
    )
    return ServingCost(
        "always_on",
        volume,
        cost,
        (idle_kwh + busy_kwh) * a.pue,
        instances=instances,
        peak_rate_per_s=rate,
        capacity_per_instance=capacity,
        details={
            "seconds_per_text": per_text,
            "instance_price_per_hour": a.instance_price_per_hour,
            "hours": HOURS_PER_YEAR,
            "idle_kwh": idle_kwh,
            "busy_kwh": busy_kwh,
        },
    )


def _serverless(m: ServingMeasure, a: Assumptions, volume: float) -> ServingCost:
    per_text = m.wall_seconds or m.cpu_seconds or 0.0
    cold = (m.load_seconds or 0.0) + (m.first_call_seconds or 0.0)
    billed_s = math.ceil(per_text * 1000.0 - 1e-9) / 1000.0 + a.serverless_cold_start_share * cold
    memory_mb = max(
        a.serverless_min_memory_mb,
        MEMORY_STEP_MB * math.ceil((m.peak_rss_mb or 0.0) / MEMORY_STEP_MB),
    )
    per_request = a.usd(
        a.serverless_price_per_m_requests / 1e6
        + memory_mb / 1024.0 * billed_s * a.serverless_price_per_gb_s
    )
    kwh = volume * billed_s * a.cpu_watts_per_thread / JOULES_PER_WH / 1000.0 * a.pue
    return ServingCost(
        "serverless",
        volume,
        volume * per_request,
        kwh,
        details={
            "billed_seconds_per_text": billed_s,
            "cold_start_seconds": cold,
            "memory_mb": memory_mb,
            "cost_per_request": per_request,
        },
    )


def _batch(m: ServingMeasure, a: Assumptions, volume: float) -> ServingCost:
    per_text = m.batch_seconds or m.cpu_seconds or 0.0
    runs = max(1.0, round(a.batch_runs_per_year))
    work = volume / runs * per_text / a.instance_vcpus + (m.load_seconds or 0.0)
    billed = max(a.batch_min_billed_seconds, work) if volume > 0 else 0.0
    cost = runs * billed / SECONDS_PER_HOUR * a.instance_price_per_hour
    cpu = m.batch_cpu_seconds or per_text
    kwh = volume * cpu * a.cpu_watts_per_thread / JOULES_PER_WH / 1000.0 * a.pue
    return ServingCost(
        "batch",
        volume,
        cost,
        kwh,
        details={"runs": runs, "billed_seconds_per_run": billed, "seconds_per_text": per_text},
    )


# ------------------------------------------------------------------ the hosted LLM


@dataclass(frozen=True)
class TextLengths:
    """Mean characters per text in the dataset, split into CJK and other (spaces included)."""

    mean_cjk_chars: float
    mean_other_chars: float
    n_texts: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def text_lengths(texts: Sequence[str] | Any) -> TextLengths:
    """Measure the dataset's real text lengths, for API token estimates.

    ``texts``: strings, a pandas Series of them or an Arrow array. Counted by Arrow's compute
    kernels (RE2 for the CJK class): a million texts take ~0.3 s instead of ~3 s in a Python
    loop over ``CJK_RE``, which a first visit to Value or Cost on a large dataset waited for.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    column = texts if isinstance(texts, pa.Array | pa.ChunkedArray) else pa.array(texts)
    column = column.cast(pa.string())
    n = len(column)
    if not n:
        return TextLengths(0.0, 0.0, 0)
    total = pc.sum(pc.utf8_length(column)).as_py() or 0
    cjk = pc.sum(pc.count_substring_regex(column, f"[{CJK_CLASS}]")).as_py() or 0
    return TextLengths(cjk / n, (total - cjk) / n, n)


def api_input_tokens(lengths: TextLengths, a: Assumptions) -> float:
    """Estimated API input tokens per text: prompt + CJK chars × rate + other chars × rate."""
    return (
        a.llm_prompt_tokens
        + lengths.mean_cjk_chars * a.tokens_per_char_cjk
        + lengths.mean_other_chars * a.tokens_per_char_latin
    )


def api_price_per_text(lengths: TextLengths, a: Assumptions) -> float:
    """API price of one answer in the scenario's currency (token prices are in USD)."""
    return a.usd(
        (
            api_input_tokens(lengths, a) * a.llm_input_price_per_m
            + a.llm_output_tokens * a.llm_output_price_per_m
        )
        / 1e6
    )


def api_cost(
    lengths: TextLengths,
    a: Assumptions,
    volume: float | None = None,
    basis: LLMBasis | None = None,
) -> ServingCost:
    """Yearly API bill and energy for ``volume`` texts sent (default: the scenario's).

    With a measured ``basis`` (:func:`slm_core.value.hosted.llm_basis`) the price per text is
    the measured tokens × the endpoint's stated prices; otherwise it is estimated from the
    dataset's text lengths and the scenario's token prices.
    """
    volume = a.annual_volume if volume is None else float(volume)
    measured = basis is not None and basis.measured
    if measured:
        per_text = basis.price_per_text
        tokens_in, tokens_out = basis.input_tokens_per_text, basis.output_tokens_per_text
    else:
        per_text = api_price_per_text(lengths, a)
        tokens_in, tokens_out = api_input_tokens(lengths, a), a.llm_output_tokens
    details: dict[str, Any] = {
        "input_tokens_per_text": tokens_in,
        "output_tokens_per_text": tokens_out,
        "price_per_text": per_text,
        "price_kind": basis.price_kind if measured else "modelled",
        "text_lengths": lengths.to_dict(),
    }
    if measured:
        details.update(
            measurement_run_id=basis.run_id,
            price_method="measured tokens × stated prices (tokens from the API's usage field)",
            usage_reported=basis.usage_reported,
        )
    return ServingCost(
        "api",
        volume,
        volume * per_text,
        volume * a.llm_wh_per_query / 1000.0,
        # Measured: the price per text (and per 1M) is measured tokens × stated prices.
        kind=basis.price_kind if measured else "modelled",
        energy_kind="assumed",
        details=details,
    )


def serving_modes(m: ServingMeasure, a: Assumptions, volume: float | None = None):
    """Every serving mode's cost at ``volume`` (default: the scenario's), in mode order."""
    return {mode: serving_cost(m, a, mode, volume) for mode in SERVING_MODES}


def money_summary(bench: Mapping[str, Any] | None, a: Assumptions) -> dict[str, Any]:
    """The money block of ``bench --json``: each serving mode's yearly cost and cost per 1M
    predictions at the scenario's volume, the chosen mode, and the method behind them."""
    m = ServingMeasure.from_bench(bench)
    modes = serving_modes(m, a)
    return {
        "scenario": a.name,
        "currency": a.currency,
        "annual_volume": a.annual_volume,
        "serving_mode": a.serving_mode,
        "chosen": modes[a.serving_mode].to_dict(),
        "modes": {k: v.to_dict() for k, v in modes.items()},
        "kind": "modelled",
        "method": "yearly cost of serving the scenario's volume in each mode "
        "(slm_core.value.serving); per 1M = yearly cost ÷ volume × 1M",
        "measured": m.to_dict(),
    }
