"""Sections of the Cost page: the measuring panel, speed and size, the API and money summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import streamlit as st

from slm_core import cost
from slm_core.errors import SlmError
from slm_core.i18n import format_money, format_number
from slm_core.runtime import BENCH_KIND, background_job, start_background
from ui.cost_charts import latency_figure, money_figure
from ui.cost_widgets import (
    LlmInputs,
    forms_frame,
    latency_frame,
    number_columns,
    progress_of,
    run_label,
    section_head,
    serving_frame,
    status_line,
    table_height,
)
from ui.state import error_text, lang, t

JOB_FLAG = "_cost_job_alive"


def show_table(
    frame: pd.DataFrame, formats: Mapping[str, str], key: str, *, full_height: bool = True
) -> None:
    """A full-width table of ``frame`` with printf formats for its numeric columns."""
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        **({"height": table_height(frame)} if full_height else {}),
        column_config=number_columns(frame, formats),
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
    current = {run.id: store.get_result(run.id, BENCH_KIND) for run in runs}
    st.subheader(t("cost.measure.title"))
    st.caption(t("cost.measure.caption"))
    if alive:
        st.info(t("cost.measure.busy"), icon=":material/hourglass:")
    if store.list_runs(statuses=("running",)):
        st.warning(t("cost.measure.training_active"), icon=":material/model_training:")
    for run in runs:
        progress = progress_of(store, run.id)
        label, state, action = st.columns([2, 5, 1.4])
        label.markdown(f"**{run_label(run)}**")
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


def speed_tables(runs: Sequence, benches: Mapping[int, Mapping | None], measured: Sequence) -> None:
    """Latency and serving tables, the latency chart and each Keras run's exported forms."""
    section_head(t("cost.speed.latency_table"), ("latency", "load"))
    latency = latency_frame(runs, benches)
    show_table(
        latency,
        {c: "%.3f" for c in latency.columns}
        | {t("cost.col.calls"): "%d", t("cost.col.load_ms"): "%.1f"},
        "cost_latency",
    )
    rows = {
        run_label(run): {
            p: ((benches[run.id].get("latency_ms") or {}).get("single_thread") or {}).get(p)
            for p in ("p50", "p99")
        }
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
        if bench.get("forms"):
            with st.expander(t("cost.speed.forms", model=run_label(run))):
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
                for note in bench.get("notes") or []:
                    st.caption(error_text(note))


def llm_rule(lengths, llm: LlmInputs, tokens: cost.Figure, llm_cost: cost.Figure, currency: str):
    """The dataset's text lengths and the API's tokens-and-price sum, written out."""
    st.caption(
        t(
            "cost.llm.lengths",
            n=format_number(lengths.n_texts, lang()),
            cjk=f"{lengths.mean_cjk_chars:.1f}",
            other=f"{lengths.mean_other_chars:.1f}",
        )
    )
    st.markdown(
        t(
            "cost.llm.tokens_rule",
            prompt=f"{llm.prompt_tokens:g}",
            cjk=f"{lengths.mean_cjk_chars:.1f}",
            rate_cjk=f"{llm.per_char_cjk:g}",
            other=f"{lengths.mean_other_chars:.1f}",
            rate_other=f"{llm.per_char_latin:g}",
            tokens=f"{tokens.value:,.1f}",
            in_price=f"{llm.input_price:g}",
            out=f"{llm.output_tokens:g}",
            out_price=f"{llm.output_price:g}",
            cost=format_money(llm_cost.value, currency, lang(), 2),
        )
    )


def money_summary(money: pd.DataFrame, llm_cost: cost.Figure, llm_name: str, currency: str):
    """The cheapest measured model against the API, in a sentence and a chart."""
    per_run = dict(
        zip(money[t("cost.col.model")], money[t("cost.col.per_million", cur=currency)], strict=True)
    )
    priced = {k: float(v) for k, v in per_run.items() if v is not None and v == v}  # not NaN
    if not priced:
        st.info(t("cost.money.no_cpu"), icon=":material/speed:")
        return
    cheapest = min(priced, key=priced.get)
    factor = cost.cheaper_factor(cost.Figure(priced[cheapest], "", ""), llm_cost)
    values = {
        "model": cheapest,
        "model_cost": format_money(priced[cheapest], currency, lang(), 4),
        "llm_cost": format_money(llm_cost.value, currency, lang(), 2),
    }
    if factor.value is not None and factor.value >= 1:
        st.success(
            t("cost.money.cheaper_line", factor=format_number(factor.value, lang()), **values),
            icon=":material/savings:",
        )
    elif factor.value is not None:
        st.warning(t("cost.money.dearer_line", **values), icon=":material/savings:")
    st.plotly_chart(
        money_figure(
            priced,
            llm_name,
            llm_cost.value,
            title=t("cost.money.chart"),
            x_title=t("cost.money.chart_x", cur=currency),
        ),
        key="cost_money_chart",
    )
