"""Tables and small widgets of the Cost page.

The frame builders are plain functions of stored benchmarks (what was measured, read as
:class:`~slm_core.runtime.record.BenchReport`) or of the value report (money and energy, from
:mod:`slm_core.cost` and the value core); numbers stay numbers and formatting is the page's
column config, so tests can check the data behind every table. No figure is computed here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from slm_core import cost
from slm_core.errors import error_text as error_sentence
from slm_core.escape import md_text
from slm_core.i18n import format_money, format_number
from slm_core.numbers import finite_or_none
from slm_core.runtime import BENCH_KIND, PROGRESS_KIND, BenchReport, SettingMeasure
from slm_core.runtime.parity import stored_parity_passes
from slm_core.value.assumptions import (
    GRID_INTENSITY,
    Assumptions,
    localized_source,
    scenario_name,
    source_kind,
)
from slm_core.value.inputs import run_label
from slm_core.value.sources import FIELD_GROUPS
from slm_core.value.text import option_label
from ui.state import lang, t

INSTANCE_PRICE = "@instance_price"  # a derived row of the scenario table


Benches = Mapping[int, BenchReport | None]


def stored_benches(store, runs: Sequence) -> dict[int, BenchReport | None]:
    """Each run's stored benchmark (None = not measured yet)."""
    return {run.id: BenchReport.read(store.get_result(run.id, BENCH_KIND)) for run in runs}


def _measured(runs: Sequence, benches: Benches):
    """(run, bench) for each run in order that has a stored benchmark."""
    for run in runs:
        bench = benches.get(run.id)
        if bench is not None:
            yield run, bench


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


def parity_text(bench: BenchReport) -> str:
    """'99.9% agree, +0.00 pt ✓' (judged by today's rule), or why there is nothing to compare."""
    if bench.form == "sklearn":
        return t("cost.parity.reference")
    if bench.form == "keras":
        return t("cost.parity.keras_fallback")
    parity = bench.parity or {}
    if not parity.get("n"):
        return t("cost.na")
    delta = parity.get("accuracy_delta")
    values = {
        "agree": f"{parity.get('agreement', 0):.1%}",
        "delta": "—" if delta is None else f"{delta * 100:+.2f}",
    }
    key = "cost.parity.passed" if stored_parity_passes(parity) else "cost.parity.failed"
    return t(key, **values)


def served_accuracy(bench: BenchReport) -> float | None:
    """The served form's own test accuracy in %, as its parity check measured it (None for a
    benchmark stored before the check recorded it)."""
    accuracy = (bench.parity or {}).get("accuracy")
    return None if accuracy is None else finite_or_none(accuracy * 100)


def _ms(setting: SettingMeasure, name: str) -> float | None:
    return finite_or_none(setting.latency_ms(name))


def latency_frame(runs: Sequence, benches: Benches) -> pd.DataFrame:
    """Per run: the served form's own test accuracy (%), then load, first call and
    p50/p90/p95/p99 at 1 thread and all threads, in ms."""
    rows = []
    for run, bench in _measured(runs, benches):
        one = bench.single or SettingMeasure()
        every = bench.all_threads or SettingMeasure()
        row = {
            t("cost.col.model"): run_label(run.id, run.model_id),
            t("cost.col.served_accuracy"): served_accuracy(bench),
            t("cost.col.load_ms"): finite_or_none(one.load_ms),
            t("cost.col.first_ms"): finite_or_none(one.first_call_ms),
        }
        for p in ("p50", "p90", "p95", "p99"):
            row[t(f"cost.col.{p}_1")] = _ms(one, p)
        for p in ("p50", "p90", "p95", "p99"):
            row[t(f"cost.col.{p}_all")] = _ms(every, p)
        row[t("cost.col.calls")] = one.latency_ms("n_calls")
        rows.append(row)
    return pd.DataFrame(rows)


def serving_frame(runs: Sequence, benches: Benches) -> pd.DataFrame:
    """Runtime, parity, throughput, vectorisation share, size, parameters and memory per run."""
    rows = []
    for run, bench in _measured(runs, benches):
        one = bench.single or SettingMeasure()
        share = finite_or_none(one.vectorize_share)
        rows.append(
            {
                t("cost.col.model"): run_label(run.id, run.model_id),
                t("cost.col.runtime"): t(f"cost.form.{bench.form or 'sklearn'}"),
                t("cost.col.parity"): parity_text(bench),
                t("cost.col.tp32"): finite_or_none(one.texts_per_second(32)),
                t("cost.col.tp256"): finite_or_none(one.texts_per_second(256)),
                t("cost.col.vec_share"): None if share is None else share * 100,
                t("cost.col.artifact_mb"): _mb(bench.artifact_bytes),
                t("cost.col.params"): bench.n_params,
                t("cost.col.rss_mb"): _mb(bench.peak_rss_bytes),
            }
        )
    return pd.DataFrame(rows)


def forms_frame(bench: BenchReport) -> pd.DataFrame:
    """Every exported form of a Keras run: size, conversion time, speed, parity, error."""
    rows = []
    for name, form in bench.forms.items():
        delta = None if form.parity is None else form.parity.accuracy_delta
        agreement = None if form.parity is None else form.parity.agreement
        rows.append(
            {
                t("cost.col.form"): t(f"cost.form.{name}"),
                t("cost.col.size_mb"): _mb(form.bytes),
                t("cost.col.convert_s"): finite_or_none(form.seconds),
                t("cost.col.p50_quick"): finite_or_none(form.p50_ms),
                t("cost.col.agreement"): None if agreement is None else agreement * 100,
                t("cost.col.delta"): None if delta is None else delta * 100,
                t("cost.col.passed"): form.passed,
                t("cost.col.error"): error_sentence(form.error or "", lang()),  # a table: plain
            }
        )
    return pd.DataFrame(rows)


def _mb(value: Any) -> float | None:
    number = finite_or_none(value)
    return None if not number else number / 1e6


# ------------------------------------------------------------------- the scenario

# The scenario's assumptions the Cost page's figures rest on, by editor tab (read-only here).
# The serving fields the money rests on: the editor's serving tab without the owner's one-off
# and yearly costs (they do not change what serving costs), plus the derived instance price.
_SERVING = tuple(
    f for f in FIELD_GROUPS["serving"] if f not in ("setup_cost", "yearly_maintenance")
)
SCENARIO_FIELDS: dict[str, tuple[str, ...]] = {
    "serving": (
        "annual_volume",
        "currency",
        "fx_rate",
        INSTANCE_PRICE,
        *_SERVING,
        "device_disk_budget_mb",
        "device_memory_budget_mb",
    ),
    "llm": tuple(
        f
        for f in FIELD_GROUPS["llm"]
        if f not in ("llm_accuracy", "llm_answer_share", "llm_setup_cost", "llm_latency_ms")
    ),
    "energy": tuple(f for f in FIELD_GROUPS["energy"] if not f.startswith(("device_", "latency_"))),
}


def kind_text(kind: str | None) -> str:
    """'measured', 'modelled', 'assumed' or 'not measured', in the interface language."""
    return t(f"value.figure_kind.{kind or 'not_measured'}")


def _scenario_value(a: Assumptions, field: str) -> str:
    if field == INSTANCE_PRICE:
        return f"{a.instance_price_per_hour:,.4g}"
    value = getattr(a, field)
    if field == "serving_mode":
        return t(f"value.mode_short.{value}")
    if field == "grid_region":
        return t(f"cost.scenario.region.{value}") if value in GRID_INTENSITY else str(value)
    if isinstance(value, str):
        return value
    return f"{value:,.6g}"


def _source_text(src, shown) -> str:
    """Publisher and date; for a made-up or unsourced default, its note says more."""
    if source_kind(src) in ("illustrative", "assumption", "default", "derived") and shown.note:
        return shown.note
    return _publisher(shown)


def _publisher(shown) -> str:
    if shown.source and shown.date:
        return t("cost.scenario.source_date", source=shown.source, date=shown.date)
    return shown.source or shown.date


def scenario_frame(a: Assumptions, group: str) -> pd.DataFrame:
    """One tab of the scenario's serving assumptions: value, unit, kind of source, source."""
    rows = []
    for field in SCENARIO_FIELDS[group]:
        if field == INSTANCE_PRICE:
            name = t("cost.scenario.instance_price")
            unit = t("cost.scenario.per_hour", cur=a.currency)
            kind = t("value.kind.derived")
            source = t(
                "cost.scenario.instance_price_source",
                vcpus=f"{a.instance_vcpus:g}",
                price=f"{a.price_per_vcpu_hour:g}",
                fx=f"{a.fx_rate:g}",
            )
        else:
            src = a.source(field)
            shown = localized_source(src, lang())
            name = t(f"value.field.{field}")
            unit = a.unit(field, lang())
            kind = t(f"value.kind.{source_kind(src)}")
            source = _source_text(src, shown)
        rows.append(
            {
                t("cost.scenario.col_field"): name,
                t("cost.scenario.col_value"): _scenario_value(a, field),
                t("cost.scenario.col_unit"): unit,
                t("cost.scenario.col_kind"): kind,
                t("cost.scenario.col_source"): source,
            }
        )
    return pd.DataFrame(rows)


def scenario_line(a: Assumptions) -> str:
    """The figures the money rests on, in one line (the table holds the rest)."""
    return t(
        "cost.scenario.line",
        name=md_text(scenario_name(a.name, lang())),
        volume=format_number(a.annual_volume, lang()),
        mode=t(f"value.mode_short.{a.serving_mode}"),
        price=format_money(a.instance_price_per_hour, a.currency, lang(), 4),
        vcpus=f"{a.instance_vcpus:g}",
        vcpu_price=f"{a.price_per_vcpu_hour:g}",
        fx=f"{a.fx_rate:g}",
        cur=a.currency,
        llm=md_text(a.llm_name),
        grid=f"{a.grid_gco2_per_kwh:g}",
        region=md_text(_scenario_value(a, "grid_region")),
    )


# --------------------------------------------------------------------------- money


def money_columns(currency: str) -> list[str]:
    return [
        t("cost.col.model"),
        t("cost.col.mode"),
        t("cost.col.use"),
        t("cost.col.instances"),
        t("cost.col.feasible"),
        t("cost.col.yearly_cost", cur=currency),
        t("cost.col.per_million", cur=currency),
        t("cost.col.kind"),
        t("cost.col.note"),
    ]


def _model_note(row: cost.ModeCost) -> str:
    notes = []
    if row.cost.note:
        notes.append(t(row.cost.note))
    if row.source == "fallback":
        notes.append(t("cost.money.fallback_note"))
    return " ".join(notes)


def money_frame(report) -> pd.DataFrame:
    """Every measured model in every serving mode at the scenario's volume, then the API."""
    a = report.assumptions
    columns = money_columns(a.currency)
    rows = []
    for row in cost.mode_costs(report):
        c = row.cost
        rows.append(
            dict(
                zip(
                    columns,
                    (
                        row.label,
                        t(f"value.mode_short.{row.mode}"),
                        t(f"cost.money.use.{row.use}") if row.use else "",
                        t("cost.na") if c.instances is None else str(c.instances),
                        bool(c.feasible),
                        c.yearly_cost,
                        c.per_million,
                        kind_text(c.kind),
                        _model_note(row),
                    ),
                    strict=True,
                )
            )
        )
    api = cost.api_serving(report)
    details = api.details
    measured = cost.api_measured(report)
    option = cost.api_option(report)
    note = t(
        "cost.money.api_note_measured" if measured else "cost.money.api_note",
        tokens=f"{details['input_tokens_per_text']:,.0f}",
        out=f"{details['output_tokens_per_text']:.3g}",
    )
    rows.append(
        dict(
            zip(
                columns,
                (
                    option.label if measured else t("value.option.api", name=a.llm_name),
                    t("value.mode_short.api"),
                    t("cost.money.use.api"),
                    t("cost.na"),
                    True,
                    api.yearly_cost,
                    api.per_million,
                    kind_text(api.kind),
                    note,
                ),
                strict=True,
            )
        )
    )
    # Named columns even with no measured run: the page reads them before anything is measured.
    return pd.DataFrame(rows, columns=columns)


def money_notes(money: pd.DataFrame) -> list[str]:
    """Each model row's note once, with the rows it applies to (the table cuts long notes)."""
    model, mode, note = t("cost.col.model"), t("cost.col.mode"), t("cost.col.note")
    rows: dict[str, list[str]] = {}
    for _, row in money.iloc[:-1].iterrows():  # the last row is the API's
        if row[note]:
            rows.setdefault(row[note], []).append(f"{row[model]} · {row[mode]}")
    sep = t("cost.list_sep")
    return [t("cost.money.note_line", rows=sep.join(r), note=n) for n, r in rows.items()]


def api_rule(report, llm: cost.MeasuredLLMCost | None = None) -> str:
    """How the API's price per text is formed: measured tokens × stated prices once the LLM is
    measured (``llm``), else written out from the dataset's own text lengths."""
    a = report.assumptions
    if llm is not None and cost.api_measured(report):
        return t(
            "cost.money.api_rule_measured",
            llm=md_text(llm.label),
            n=format_number(llm.n_texts, lang()),
            tokens=f"{llm.input_tokens_per_text:,.1f}",
            out=f"{llm.output_tokens_per_text:,.1f}",
            in_price=f"{llm.input_price_per_m:g}",
            out_price=f"{llm.output_price_per_m:g}",
            fx=f"{a.fx_rate:g}",
            cost=format_money(llm.per_million, a.currency, lang(), 2),
        )
    api = cost.modelled_api_serving(report)
    lengths = report.inputs.lengths
    return t(
        "cost.money.api_rule",
        n=format_number(lengths.n_texts, lang()),
        cjk=f"{lengths.mean_cjk_chars:.1f}",
        other=f"{lengths.mean_other_chars:.1f}",
        prompt=f"{a.llm_prompt_tokens:g}",
        rate_cjk=f"{a.tokens_per_char_cjk:g}",
        rate_other=f"{a.tokens_per_char_latin:g}",
        tokens=f"{api.details['input_tokens_per_text']:,.1f}",
        in_price=f"{a.llm_input_price_per_m:g}",
        out=f"{a.llm_output_tokens:g}",
        out_price=f"{a.llm_output_price_per_m:g}",
        fx=f"{a.fx_rate:g}",
        cost=format_money(api.per_million or 0.0, a.currency, lang(), 2),
    )


# ----------------------------------------------------------- the hosted LLM, measured


def latest_llm_cost(store, dataset_id: str, a: Assumptions) -> cost.MeasuredLLMCost | None:
    """The newest finished LLM measurement of the dataset priced under the scenario ``a``."""
    from slm_core.errors import SlmError
    from slm_core.llm import llm_runs
    from ui.results_widgets import cached_measurement, run_version

    for run in llm_runs(store.list_runs(dataset_id=dataset_id, statuses=("succeeded",))):
        try:  # newest first; a measurement whose files are gone is skipped
            return cost.measured_llm_cost(cached_measurement(run.id, run_version(run)), a)
        except SlmError:
            continue
    return None


def llm_cost_frame(llm: cost.MeasuredLLMCost) -> pd.DataFrame:
    """Every figure of the measured LLM's cost and speed with its unit and kind."""
    kind = kind_text(llm.kind)
    measured, assumed = kind_text("measured"), kind_text("assumed")
    cur = llm.currency
    rows = [
        ("usd_per_million", llm.usd_per_million, "USD", kind),
        ("per_million", llm.per_million, cur, kind),
        ("yearly", llm.yearly_cost, t("cost.llm.unit_yearly", cur=cur), kind),
        ("tokens_in", llm.input_tokens_per_text, t("cost.llm.unit_tokens"), kind),
        ("tokens_out", llm.output_tokens_per_text, t("cost.llm.unit_tokens"), kind),
        ("price_in", llm.input_price_per_m, t("cost.llm.unit_price"), assumed),
        ("price_out", llm.output_price_per_m, t("cost.llm.unit_price"), assumed),
        ("latency_p50", llm.latency_p50_ms, "ms", measured),
        ("latency_p95", llm.latency_p95_ms, "ms", measured),
        ("texts", llm.n_texts, t("cost.llm.unit_texts"), measured),
    ]
    return pd.DataFrame(
        [
            {
                t("cost.llm.col_figure"): t(f"cost.llm.row.{key}"),
                t("cost.llm.col_value"): finite_or_none(value),
                t("cost.llm.col_unit"): unit,
                t("cost.col.kind"): kind_of,
            }
            for key, value, unit, kind_of in rows
        ]
    )


# -------------------------------------------------------------------------- energy


def energy_frame(report) -> pd.DataFrame:
    """Yearly running energy and CO2e of each option as the decision serves it."""
    rows = []
    for row in cost.running_energy(report):
        rows.append(
            {
                t("cost.col.option"): option_label(row.option, lang()),
                t("cost.col.mode"): t(f"value.mode_short.{row.mode or 'api'}"),
                t("cost.col.kwh_year"): row.yearly_kwh,
                t("cost.col.wh_text"): row.wh_per_text,
                t("cost.col.co2_year"): row.co2e_kg,
                t("cost.col.kind"): kind_text(row.kind),
            }
        )
    return pd.DataFrame(rows)


def training_frame(report) -> pd.DataFrame:
    """One-off training energy of each model and its CO2e at the scenario's grid."""
    rows = []
    for row in cost.training_energy(report):
        rows.append(
            {
                t("cost.col.model"): row.option.label,
                t("cost.col.train_s"): row.seconds,
                t("cost.col.train_kwh"): row.kwh,
                t("cost.col.train_co2"): row.co2e_g,
                t("cost.col.kind"): kind_text(row.kind),
            }
        )
    return pd.DataFrame(rows)


def energy_rule(a: Assumptions) -> str:
    """How the yearly energy and CO2e are formed, with the scenario's own figures."""
    grid = localized_source(a.source("grid_gco2_per_kwh"), lang())
    wh = localized_source(a.source("llm_wh_per_query"), lang())
    return t(
        "cost.energy.rule",
        grid=f"{a.grid_gco2_per_kwh:g}",
        region=_scenario_value(a, "grid_region"),
        grid_source=_publisher(grid),
        pue=f"{a.pue:g}",
        watts=f"{a.cpu_watts_per_thread:g}",
        wh=f"{a.llm_wh_per_query:g}",
        wh_source=_publisher(wh),
    )


def number_columns(frame: pd.DataFrame, formats: Mapping[str, str]) -> dict[str, Any]:
    """Column config giving each numeric column its printf format (default 3 significant)."""
    config = {}
    for column in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[column]) and frame[column].dtype != bool:
            config[column] = st.column_config.NumberColumn(format=formats.get(column, "%.3g"))
    return config


# ----------------------------------------------------------------- measuring panel


def progress_of(store, run_id: int) -> dict[str, Any]:
    return store.get_result(run_id, PROGRESS_KIND) or {}


def status_line(bench: BenchReport | None, progress: Mapping[str, Any], alive: bool) -> str:
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
    if bench is not None:
        when = bench.measured_at[:16].replace("T", " ")
        return t("cost.status.measured", when=when)
    return t("cost.status.not_measured")
