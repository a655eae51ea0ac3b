"""Tables, inputs and the background-measurement panel of the Cost page.

The frame builders are plain functions of stored 'bench' results and typed inputs (numbers
stay numbers; formatting is the page's column config), so tests can check the data behind
every table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from slm_core import cost
from slm_core.energy import country_intensities
from slm_core.value.assumptions import GRID_INTENSITY, Assumptions, localized_source
from ui.state import error_text, lang, t

WORLD = "World"
DEFAULTS = Assumptions()
BASIS_SINGLE, BASIS_BATCH = "single", "batch"


def run_label(run) -> str:
    return f"#{run.id} {run.model_id}"


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out else None  # NaN -> None


def _measured(runs: Sequence, benches: Mapping[int, Mapping | None]):
    """(run, bench) for each run in order that has a stored benchmark."""
    for run in runs:
        bench = benches.get(run.id)
        if bench:
            yield run, bench


def _setting(bench: Mapping[str, Any] | None, key: str) -> Mapping[str, Any]:
    return ((bench or {}).get("settings") or {}).get(key) or {}


def how(topic: str) -> None:
    """A 'How measured' popover explaining ``topic`` (a key of cost.how)."""
    with st.popover(t(f"cost.how.label_{topic}"), icon=":material/info:", type="tertiary"):
        st.markdown(t(f"cost.how.{topic}"))


def section_head(title: str | None, topics: Sequence[str], caption: str | None = None) -> None:
    """A bold title (or caption) followed by one 'how measured' popover per topic, in a row."""
    with st.container(horizontal=True, vertical_alignment="center", gap="medium"):
        if title:
            st.markdown(f"**{title}**", width="content")
        if caption:
            st.caption(caption, width="content")
        for topic in topics:
            how(topic)


# --------------------------------------------------------------------- speed tables


def parity_text(bench: Mapping[str, Any]) -> str:
    """'99.9% agree, +0.00 pt ✓', or why there is nothing to compare."""
    if bench.get("family") == "linear":
        return t("cost.parity.reference")
    if bench.get("form") == "keras":
        return t("cost.parity.keras_fallback")
    parity = bench.get("parity") or {}
    if not parity:
        return t("cost.na")
    delta = parity.get("accuracy_delta")
    values = {
        "agree": f"{parity.get('agreement', 0):.1%}",
        "delta": "—" if delta is None else f"{delta * 100:+.2f}",
    }
    key = "cost.parity.passed" if parity.get("passed") else "cost.parity.failed"
    return t(key, **values)


def latency_frame(runs: Sequence, benches: Mapping[int, Mapping | None]) -> pd.DataFrame:
    """Load, first call and p50/p90/p95/p99 at 1 thread and all threads, in ms, per run."""
    rows = []
    for run, bench in _measured(runs, benches):
        one, every = _setting(bench, "single_thread"), _setting(bench, "all_threads")
        row = {
            t("cost.col.model"): run_label(run),
            t("cost.col.load_ms"): _num(one.get("load_ms")),
            t("cost.col.first_ms"): _num(one.get("first_call_ms")),
        }
        for p in ("p50", "p90", "p95", "p99"):
            row[t(f"cost.col.{p}_1")] = _num((one.get("latency_ms") or {}).get(p))
        for p in ("p50", "p90", "p95", "p99"):
            row[t(f"cost.col.{p}_all")] = _num((every.get("latency_ms") or {}).get(p))
        row[t("cost.col.calls")] = (one.get("latency_ms") or {}).get("n_calls")
        rows.append(row)
    return pd.DataFrame(rows)


def serving_frame(runs: Sequence, benches: Mapping[int, Mapping | None]) -> pd.DataFrame:
    """Runtime, parity, throughput, vectorisation share, size, parameters and memory per run."""
    rows = []
    for run, bench in _measured(runs, benches):
        one = _setting(bench, "single_thread")
        tp = one.get("throughput") or {}
        share = _num(one.get("vectorize_share", bench.get("vectorize_share")))
        rows.append(
            {
                t("cost.col.model"): run_label(run),
                t("cost.col.runtime"): t(f"cost.form.{bench.get('form', 'sklearn')}"),
                t("cost.col.parity"): parity_text(bench),
                t("cost.col.tp32"): _num((tp.get("32") or {}).get("texts_per_second")),
                t("cost.col.tp256"): _num((tp.get("256") or {}).get("texts_per_second")),
                t("cost.col.vec_share"): None if share is None else share * 100,
                t("cost.col.artifact_mb"): _mb(bench.get("artifact_bytes")),
                t("cost.col.params"): bench.get("n_params"),
                t("cost.col.rss_mb"): _mb(bench.get("peak_rss_bytes")),
            }
        )
    return pd.DataFrame(rows)


def forms_frame(bench: Mapping[str, Any]) -> pd.DataFrame:
    """Every exported form of a Keras run: size, conversion time, speed, parity, error."""
    rows = []
    for name, form in (bench.get("forms") or {}).items():
        parity = form.get("parity") or {}
        delta = parity.get("accuracy_delta")
        agreement = parity.get("agreement")
        rows.append(
            {
                t("cost.col.form"): t(f"cost.form.{name}"),
                t("cost.col.size_mb"): _mb(form.get("bytes")),
                t("cost.col.convert_s"): _num(form.get("seconds")),
                t("cost.col.p50_quick"): _num(form.get("p50_ms")),
                t("cost.col.agreement"): None if agreement is None else agreement * 100,
                t("cost.col.delta"): None if delta is None else delta * 100,
                t("cost.col.passed"): bool(form.get("passed")),
                t("cost.col.error"): error_text(form.get("error") or ""),
            }
        )
    return pd.DataFrame(rows)


def _mb(value: Any) -> float | None:
    number = _num(value)
    return None if not number else number / 1e6


# --------------------------------------------------------------------------- money


@dataclass(frozen=True)
class LlmInputs:
    """The hosted-API alternative as edited on the page."""

    name: str
    input_price: float
    output_price: float
    output_tokens: float
    prompt_tokens: float
    per_char_latin: float
    per_char_cjk: float


def cpu_seconds(bench: Mapping[str, Any] | None, basis: str) -> float | None:
    """CPU-seconds per prediction: single-text calls, or per text at batch 256 (1 thread)."""
    if not bench:
        return None
    if basis == BASIS_BATCH:
        return _num(bench.get("cpu_seconds_per_prediction_batch"))
    return _num(bench.get("cpu_seconds_per_prediction"))


def wall_seconds(bench: Mapping[str, Any] | None, basis: str) -> float | None:
    """Wall seconds per prediction at 1 thread: mean single-text latency or 1 / texts/s @256."""
    one = _setting(bench, "single_thread")
    if basis == BASIS_BATCH:
        rate = _num(((one.get("throughput") or {}).get("256") or {}).get("texts_per_second"))
        return 1.0 / rate if rate else None
    mean = _num((one.get("latency_ms") or {}).get("mean"))
    return None if mean is None else mean / 1000.0


def llm_figures(lengths, llm: LlmInputs, currency: str = "USD") -> tuple[cost.Figure, cost.Figure]:
    """(input tokens per text, API money per 1M answers) from the dataset's text lengths."""
    tokens = cost.llm_input_tokens(
        lengths.mean_cjk_chars,
        lengths.mean_other_chars,
        llm.per_char_cjk,
        llm.per_char_latin,
        llm.prompt_tokens,
    )
    money = cost.llm_price_per_million(
        tokens.value, llm.output_tokens, llm.input_price, llm.output_price, currency
    )
    return tokens, money


def money_frame(
    runs: Sequence,
    benches: Mapping[int, Mapping | None],
    price: float,
    basis: str,
    llm_cost: cost.Figure,
    llm_name: str,
    currency: str = "USD",
) -> pd.DataFrame:
    """CPU ms per prediction, money per 1M, the API's money per 1M and the ratio, per measured
    run."""
    columns = [
        t("cost.col.model"),
        t("cost.col.cpu_ms"),
        t("cost.col.per_million", cur=currency),
        t("cost.col.llm_per_million", name=llm_name, cur=currency),
        t("cost.col.cheaper"),
    ]
    rows = []
    for run, bench in _measured(runs, benches):
        cpu = cpu_seconds(bench, basis)
        money = cost.price_per_million(cpu, price, currency)
        factor = cost.cheaper_factor(money, llm_cost)
        rows.append(
            {
                columns[0]: run_label(run),
                columns[1]: None if cpu is None else cpu * 1000,
                columns[2]: money.value,
                columns[3]: llm_cost.value,
                columns[4]: factor.value,
            }
        )
    # Named columns even with no measured run: the page reads them before anything is measured.
    return pd.DataFrame(rows, columns=columns)


def money_inputs(currency: str = "USD") -> tuple[float, str]:
    """Price per vCPU-hour and the basis (single texts or batches) as edited."""
    source = localized_source(DEFAULTS.source("price_per_vcpu_hour"), lang())
    left, right = st.columns(2)
    price = left.number_input(
        t("cost.money.price", cur=currency),
        min_value=0.0,
        value=DEFAULTS.price_per_vcpu_hour,
        step=0.001,
        format="%.4f",
        key="cost.price",
        help=t("cost.money.price_help", source=source.source, date=source.date, note=source.note),
    )
    basis = right.radio(
        t("cost.money.basis"),
        (BASIS_SINGLE, BASIS_BATCH),
        format_func=lambda b: t(f"cost.money.basis_{b}"),
        horizontal=True,
        key="cost.basis",
        help=t("cost.money.basis_help"),
    )
    return float(price), str(basis)


def llm_inputs(currency: str = "USD") -> LlmInputs:
    """The API alternative's editable prices and token rules (defaults as on the Value page)."""
    d = DEFAULTS
    src_in, src_out = (
        localized_source(d.source(f), lang())
        for f in ("llm_input_price_per_m", "llm_output_price_per_m")
    )
    c1, c2, c3 = st.columns(3)
    name = c1.text_input(
        t("cost.llm.name"), value=d.llm_name, key="cost.llm_name", help=t("cost.llm.name_help")
    )
    input_price = c2.number_input(
        t("cost.llm.input_price", cur=currency),
        min_value=0.0,
        value=d.llm_input_price_per_m,
        step=0.01,
        key="cost.llm_in",
        help=t("cost.llm.price_help", source=src_in.source, date=src_in.date),
    )
    output_price = c3.number_input(
        t("cost.llm.output_price", cur=currency),
        min_value=0.0,
        value=d.llm_output_price_per_m,
        step=0.01,
        key="cost.llm_out",
        help=t("cost.llm.price_help", source=src_out.source, date=src_out.date),
    )
    c4, c5, c6, c7 = st.columns(4)
    output_tokens = c4.number_input(
        t("cost.llm.output_tokens"),
        min_value=0.0,
        value=d.llm_output_tokens,
        step=1.0,
        key="cost.llm_out_tokens",
        help=t("cost.llm.output_tokens_help"),
    )
    prompt_tokens = c5.number_input(
        t("cost.llm.prompt_tokens"),
        min_value=0.0,
        value=d.llm_prompt_tokens,
        step=10.0,
        key="cost.llm_prompt",
        help=t("cost.llm.prompt_tokens_help"),
    )
    src_latin, src_cjk = (
        localized_source(d.source(f), lang())
        for f in ("tokens_per_char_latin", "tokens_per_char_cjk")
    )
    per_latin = c6.number_input(
        t("cost.llm.per_char_latin"),
        min_value=0.0,
        value=d.tokens_per_char_latin,
        step=0.05,
        key="cost.llm_latin",
        help=t("cost.llm.price_help", source=src_latin.source, date=src_latin.date),
    )
    per_cjk = c7.number_input(
        t("cost.llm.per_char_cjk"),
        min_value=0.0,
        value=d.tokens_per_char_cjk,
        step=0.05,
        key="cost.llm_cjk",
        help=t("cost.llm.price_help", source=src_cjk.source, date=src_cjk.date),
    )
    return LlmInputs(
        name=name.strip() or d.llm_name,
        input_price=float(input_price),
        output_price=float(output_price),
        output_tokens=float(output_tokens),
        prompt_tokens=float(prompt_tokens),
        per_char_latin=float(per_latin),
        per_char_cjk=float(per_cjk),
    )


# -------------------------------------------------------------------------- energy


@dataclass(frozen=True)
class EnergyInputs:
    """Grid intensity, PUE and the CodeCarbon power figures as edited."""

    grid_g_per_kwh: float
    pue: float
    watts_per_thread: float
    ram_watts: float


def _grid_options() -> dict[str, tuple[str, float, Any]]:
    options = {WORLD: (t("cost.energy.world"), GRID_INTENSITY["World"], 2024)}
    options.update(country_intensities())
    return options


def _country_changed() -> None:
    code = st.session_state.get("cost.country", WORLD)
    _, value, _ = _grid_options().get(code, (None, GRID_INTENSITY["World"], None))
    st.session_state["cost.grid"] = float(value)


def energy_inputs(benches: Mapping[int, Mapping | None]) -> EnergyInputs:
    """Country/grid, PUE, CPU W per thread and RAM W, defaulting to the benchmarks' values."""
    measured = [b for b in benches.values() if b]
    cpu = (measured[0].get("cpu") if measured else None) or {}
    watts = _num(cpu.get("watts_per_thread")) or cost.CODECARBON_WATTS_PER_THREAD
    ram = max(
        (_num(((b.get("energy") or {}).get("ram") or {}).get("value")) or 0.0 for b in measured),
        default=0.0,
    ) or float(cost.ram_watts(0.5).value)
    options = _grid_options()
    st.session_state.setdefault("cost.grid", float(GRID_INTENSITY["World"]))
    c1, c2, c3, c4, c5 = st.columns([2, 1, 1, 1, 1])
    c1.selectbox(
        t("cost.energy.country"),
        list(options),
        format_func=lambda c: (
            f"{options[c][0]} · {options[c][1]:.0f} g/kWh"
            + (f" ({options[c][2]})" if options[c][2] else "")
        ),
        key="cost.country",
        on_change=_country_changed,
        help=t("cost.energy.country_help"),
    )
    grid = c2.number_input(t("cost.energy.grid"), min_value=0.0, step=10.0, key="cost.grid")
    pue = c3.number_input(
        t("cost.energy.pue"),
        min_value=1.0,
        value=DEFAULTS.pue,
        step=0.01,
        key="cost.pue",
        help=t("cost.energy.pue_help"),
    )
    source = cpu.get("method") or cost.cpu_watts_per_thread(None, 1).method
    cpu_w = c4.number_input(
        t("cost.energy.cpu_w"),
        min_value=0.0,
        value=float(watts),
        step=0.5,
        key="cost.cpu_w",
        help=t("cost.energy.cpu_w_help", model=cpu.get("model", "?"), source=source),
    )
    ram_w = c5.number_input(
        t("cost.energy.ram_w"),
        min_value=0.0,
        value=float(ram),
        step=1.0,
        key="cost.ram_w",
        help=t("cost.energy.ram_w_help"),
    )
    return EnergyInputs(float(grid), float(pue), float(cpu_w), float(ram_w))


def train_kwh(run, bench: Mapping[str, Any], e: EnergyInputs) -> tuple[float | None, bool]:
    """Training IT kWh (before PUE): CodeCarbon's reading, or re-estimated with ``e``."""
    train = bench.get("train_energy") or {}
    if train.get("source") == "codecarbon":
        return _num(train.get("value")), True
    threads = int((train.get("assumptions") or {}).get("threads") or 1)
    figure = cost.training_kwh_estimate(run.train_seconds, threads, e.watts_per_thread, e.ram_watts)
    return figure.value, False


def energy_frame(
    runs: Sequence, benches: Mapping[int, Mapping | None], basis: str, e: EnergyInputs
) -> pd.DataFrame:
    """Energy and CO2e per 1M predictions and for training, per measured run."""
    rows = []
    for run, bench in _measured(runs, benches):
        it = cost.inference_kwh_per_million(
            cpu_seconds(bench, basis), wall_seconds(bench, basis), e.watts_per_thread, e.ram_watts
        )
        train, metered = train_kwh(run, bench, e)
        rows.append(
            {
                t("cost.col.model"): run_label(run),
                t("cost.col.kwh_m"): it.value,
                t("cost.col.kwh_m_pue"): cost.facility_kwh(it.value, e.pue).value,
                t("cost.col.co2_m"): cost.co2e_grams(it.value, e.pue, e.grid_g_per_kwh).value,
                t("cost.col.train_kwh"): cost.facility_kwh(train, e.pue).value,
                t("cost.col.train_co2"): cost.co2e_grams(train, e.pue, e.grid_g_per_kwh).value,
                t("cost.col.train_source"): t(
                    "cost.energy.train_measured" if metered else "cost.energy.train_estimate"
                ),
            }
        )
    return pd.DataFrame(rows)


def table_height(frame: pd.DataFrame) -> int:
    """Pixel height that shows every row without an inner scroll bar."""
    return 38 + 35 * max(len(frame), 1)


def number_columns(frame: pd.DataFrame, formats: Mapping[str, str]) -> dict[str, Any]:
    """Column config giving each numeric column its printf format (default 3 significant)."""
    config = {}
    for column in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[column]) and frame[column].dtype != bool:
            config[column] = st.column_config.NumberColumn(format=formats.get(column, "%.3g"))
    return config


# ----------------------------------------------------------------- measuring panel


def progress_of(store, run_id: int) -> dict[str, Any]:
    from slm_core.runtime import PROGRESS_KIND

    return store.get_result(run_id, PROGRESS_KIND) or {}


def status_line(bench: Mapping | None, progress: Mapping[str, Any], alive: bool) -> str:
    """What the measuring panel says about one run."""
    status = progress.get("status")
    if alive and status == "queued":
        return t("cost.measure.queued")
    if alive and status == "running":
        return t(
            "cost.measure.running",
            pct=f"{100 * float(progress.get('fraction') or 0):.0f}",
            message=progress.get("message", ""),
        )
    if status == "failed":
        return t("cost.measure.failed", error=progress.get("error", "?"))
    if bench:
        when = str(bench.get("measured_at", ""))[:16].replace("T", " ")
        return t("cost.status.measured", when=when)
    return t("cost.status.not_measured")
