"""Sections of the Cost page: the scenario, the measuring panel, speed and size, money, the
hosted LLM as measured, energy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import streamlit as st

from slm_core import cost
from slm_core.errors import SlmError
from slm_core.escape import md_text
from slm_core.i18n import format_money, format_number
from slm_core.report.value_charts import cost_volume_figure
from slm_core.runtime import BenchReport, SettingMeasure, background_job, start_background
from slm_core.value.assumptions import Assumptions
from slm_core.value.inputs import run_label
from ui.cost_charts import latency_figure
from ui.cost_widgets import (
    SCENARIO_FIELDS,
    api_rule,
    energy_frame,
    energy_rule,
    forms_frame,
    kind_text,
    latency_frame,
    llm_cost_frame,
    money_frame,
    money_notes,
    number_columns,
    progress_of,
    scenario_frame,
    scenario_line,
    section_head,
    serving_frame,
    status_line,
    stored_benches,
    training_frame,
)
from ui.navigation import page_link
from ui.state import error_text, lang, t
from ui.widgets import table_height

JOB_FLAG = "_cost_job_alive"


def show_table(
    frame: pd.DataFrame,
    formats: Mapping[str, str],
    key: str,
    *,
    full_height: bool = True,
    widths: Mapping[str, int] | None = None,
) -> None:
    """A full-width table of ``frame`` with printf formats for its numeric columns and, for
    text columns that must not be cut, a width in pixels."""
    config = number_columns(frame, formats)
    for column, width in (widths or {}).items():
        config[column] = st.column_config.TextColumn(width=width)
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        **({"height": table_height(frame)} if full_height else {}),
        column_config=config,
        key=key,
    )


def _start(store, run_ids: list[int]) -> None:
    try:
        start_background(store, run_ids)
    except SlmError as exc:
        st.warning(error_text(exc), icon=":material/hourglass:")
        return
    st.session_state[JOB_FLAG] = True
    st.toast(t("cost.measure.started", runs=", ".join(f"#{i}" for i in run_ids)))


@st.fragment(run_every="2s")
def measure_panel(store, runs: Sequence) -> None:
    """Per run: whether it is measured, live progress, and buttons to measure (again)."""
    job = background_job(store)
    alive = job is not None
    if st.session_state.get(JOB_FLAG) and not alive:
        st.session_state[JOB_FLAG] = False
        st.rerun()  # a measurement ended: refresh every table once
    st.session_state[JOB_FLAG] = alive
    current = stored_benches(store, runs)
    st.subheader(t("cost.measure.title"))
    st.caption(t("cost.measure.caption"))
    if alive:
        st.info(t("cost.measure.busy"), icon=":material/hourglass:")
    if store.list_runs(statuses=("running",)):
        st.warning(t("cost.measure.training_active"), icon=":material/model_training:")
    for run in runs:
        progress = progress_of(store, run.id)
        label, state, action = st.columns([2, 5, 1.4])
        label.markdown(f"**{run_label(run.id, run.model_id)}**")
        line = status_line(current.get(run.id), progress, alive)
        if alive and progress.get("status") == "running":
            state.progress(min(max(float(progress.get("fraction") or 0), 0.0), 1.0), text=line)
        else:
            state.markdown(line)
        again = current.get(run.id) is not None
        if action.button(
            t("cost.measure.again" if again else "cost.measure.button"),
            key=f"cost.measure.{run.id}",
            disabled=alive,
            icon=":material/speed:",
        ):
            _start(store, [run.id])
            st.rerun()
    missing = [run.id for run in runs if current.get(run.id) is None]
    left, right = st.columns(2)
    if left.button(t("cost.measure.all"), key="cost.measure_all", disabled=alive or not missing):
        _start(store, missing)
        st.rerun()
    if right.button(t("cost.measure.all_again"), key="cost.measure_all_again", disabled=alive):
        _start(store, [run.id for run in runs])
        st.rerun()


def speed_tables(
    runs: Sequence, benches: Mapping[int, BenchReport | None], measured: Sequence
) -> None:
    """Latency and serving tables, the latency chart and each Keras run's exported forms."""
    section_head(t("cost.speed.latency_table"), ("latency", "load"))
    latency = latency_frame(runs, benches)
    show_table(
        latency,
        {c: "%.3f" for c in latency.columns}
        | {
            t("cost.col.calls"): "%d",
            t("cost.col.load_ms"): "%.1f",
            t("cost.col.served_accuracy"): "%.2f",
        },
        "cost_latency",
    )
    singles = {run.id: benches[run.id].single or SettingMeasure() for run in measured}
    rows = {
        run_label(run.id, run.model_id): {p: singles[run.id].latency_ms(p) for p in ("p50", "p99")}
        for run in measured
    }
    st.plotly_chart(
        latency_figure(rows, title=t("cost.speed.chart"), x_title=t("cost.speed.chart_x")),
        key="cost_latency_chart",
    )
    section_head(t("cost.speed.serving_table"), ("throughput", "size", "parity"))
    serving = serving_frame(runs, benches)
    show_table(
        serving,
        {
            t("cost.col.tp32"): "%.0f",
            t("cost.col.tp256"): "%.0f",
            t("cost.col.vec_share"): "%.1f",
            t("cost.col.artifact_mb"): "%.2f",
            t("cost.col.params"): "%d",
            t("cost.col.rss_mb"): "%.0f",
        },
        "cost_serving",
    )
    for run in measured:
        bench = benches[run.id]
        if bench.forms:
            with st.expander(t("cost.speed.forms", model=run_label(run.id, run.model_id))):
                st.caption(t("cost.speed.forms_caption"))
                show_table(
                    forms_frame(bench),
                    {
                        t("cost.col.size_mb"): "%.2f",
                        t("cost.col.convert_s"): "%.1f",
                        t("cost.col.agreement"): "%.2f",
                        t("cost.col.delta"): "%+.2f",
                    },
                    f"cost_forms_{run.id}",
                    full_height=False,
                )
                for note in bench.notes:
                    st.caption(error_text(note))


# ------------------------------------------------------------------- the scenario


def scenario_summary(a: Assumptions) -> None:
    """The scenario's serving assumptions, read-only, and where to edit them."""
    with st.container(border=True):
        st.markdown(scenario_line(a))
        with st.expander(t("cost.scenario.table"), icon=":material/tune:"):
            st.caption(t("cost.scenario.caption"))
            tabs = st.tabs([t(f"value.group.{g}") for g in SCENARIO_FIELDS])
            for tab, group in zip(tabs, SCENARIO_FIELDS, strict=True):
                with tab:
                    show_table(scenario_frame(a, group), {}, f"cost_scenario_{group}")
        page_link("value", label=t("cost.scenario.edit"), icon=":material/edit:")


# --------------------------------------------------------------------------- money


def money_section(report, llm: cost.MeasuredLLMCost | None = None) -> None:
    """Every measured model in every serving mode against the API (as measured on this
    dataset once ``llm`` is), the sentence, the chart."""
    a = report.assumptions
    st.subheader(t("cost.money.title"))
    section_head(
        None,
        ("money", "llm"),
        caption=t(
            "cost.money.caption",
            volume=format_number(a.annual_volume, lang()),
            mode=t(f"value.mode_short.{a.serving_mode}"),
        ),
    )
    comparison = cost.compare_money(report)
    text = md_text(cost.money_text(comparison, lang()), exact=False)  # it names the API
    if comparison.cheaper == "api":
        st.warning(text, icon=":material/savings:")
    elif comparison.cheaper in ("model", "equal"):
        st.success(text, icon=":material/savings:")
    else:
        st.info(text, icon=":material/speed:")
    money = money_frame(report)
    st.markdown(f"**{t('cost.money.table')}**")
    cur = a.currency
    show_table(
        money,
        {
            t("cost.col.yearly_cost", cur=cur): "accounting",
            t("cost.col.per_million", cur=cur): "accounting",
        },
        "cost_money",
        widths={t("cost.col.model"): 170, t("cost.col.use"): 135},
    )
    for note in money_notes(money):
        st.caption(note)
    st.caption(api_rule(report, llm))
    figure = cost_volume_figure(report, lang())
    if figure is not None:
        st.plotly_chart(figure, key="cost_volume_chart")
        st.caption(t("cost.money.chart_caption"))


# ------------------------------------------------------------ the hosted LLM, measured


def llm_section(report, llm: cost.MeasuredLLMCost | None) -> None:
    """What the hosted LLM cost per text when it answered this dataset's own texts: money per
    1M texts, tokens, the stated prices and latency, each with its kind; or where to measure."""
    st.subheader(t("cost.llm.title"))
    if llm is None:
        st.info(t("cost.llm.none"), icon=":material/smart_toy:")
        page_link("llm", label=t("cost.llm.open"))
        return
    a = report.assumptions
    section_head(
        None,
        ("llm_measured",),
        caption=t("cost.llm.caption", llm=md_text(llm.label), n=format_number(llm.n_texts, lang())),
    )
    cur = a.currency
    cols = st.columns(4)
    cols[0].metric(
        t("cost.llm.per_million"),
        format_money(llm.per_million, cur, lang(), 2),
        help=t("cost.llm.per_million_help", usd=f"{llm.usd_per_million:,.4g}"),
    )
    cols[1].metric(
        t("cost.llm.tokens"),
        f"{llm.input_tokens_per_text:,.0f} / {llm.output_tokens_per_text:,.1f}",
    )
    p50, p95 = llm.latency_p50_ms, llm.latency_p95_ms
    cols[2].metric(
        t("cost.llm.latency"),
        "–" if p50 is None else f"{p50:,.0f} / {p95:,.0f}",
    )
    cols[3].metric(t("cost.col.kind"), kind_text(llm.kind))
    frame = llm_cost_frame(llm)
    value = t("cost.llm.col_value")
    show_table(frame, {value: "%.4g"}, "cost_llm", widths={t("cost.llm.col_figure"): 220})
    st.caption(
        t(
            "cost.llm.prices",
            source=md_text(llm.price_source) or t("cost.llm.no_source"),
            date=md_text(llm.price_date) or "–",
        )
    )
    estimate = cost.modelled_api_serving(report)
    if estimate.per_million is not None:
        st.caption(
            t(
                "cost.llm.vs_estimate",
                estimate=format_money(estimate.per_million, cur, lang(), 2),
                name=md_text(a.llm_name),
                measured=format_money(llm.per_million, cur, lang(), 2),
            )
        )
    page_link("llm", label=t("cost.llm.again"), icon=":material/refresh:")


# -------------------------------------------------------------------------- energy


def energy_section(report) -> None:
    """Yearly running energy and CO2e as served, next to the API's; training energy apart."""
    a = report.assumptions
    st.subheader(t("cost.energy.title"))
    section_head(None, ("energy",), caption=energy_rule(a))
    st.markdown(f"**{t('cost.energy.table', volume=format_number(a.annual_volume, lang()))}**")
    show_table(
        energy_frame(report),
        {
            t("cost.col.kwh_year"): "%.4g",
            t("cost.col.wh_text"): "%.3g",
            t("cost.col.co2_year"): "%.4g",
        },
        "cost_energy",
    )
    st.markdown(f"**{t('cost.energy.train_title')}**")
    show_table(
        training_frame(report),
        {t("cost.col.train_s"): "%.1f", t("cost.col.train_co2"): "%.3g"},
        "cost_training",
    )
    st.caption(t("cost.energy.train_note", grid=f"{a.grid_gco2_per_kwh:g}"))
