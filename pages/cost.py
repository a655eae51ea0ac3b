"""Cost: measured speed, size and memory, money and energy per million predictions, vs an API."""

from __future__ import annotations

import streamlit as st

from slm_core import cost
from slm_core.errors import SlmError
from slm_core.i18n import format_money, format_number
from slm_core.runtime import BENCH_KIND, background_job, start_background
from slm_core.value.business import text_lengths
from ui.cost_charts import latency_figure, money_figure
from ui.cost_widgets import (
    energy_frame,
    energy_inputs,
    forms_frame,
    latency_frame,
    llm_figures,
    llm_inputs,
    money_frame,
    money_inputs,
    number_columns,
    progress_of,
    run_label,
    section_head,
    serving_frame,
    status_line,
    table_height,
)
from ui.state import active_dataset, error_text, get_store, lang, t

CURRENCY = "USD"
JOB_FLAG = "_cost_job_alive"


@st.cache_data(show_spinner=False, max_entries=8)
def cached_lengths(_store, dataset_id: str):
    frame = _store.load_frame(dataset_id)
    return text_lengths(frame["text"].astype(str).tolist())


st.title(t("cost.title"))
st.caption(t("cost.intro"))
dataset = active_dataset()
if dataset is None:
    st.info(t("home.no_dataset"))
    st.page_link("pages/data.py", label=t("home.step_data"), icon=":material/table:")
    st.stop()
store = get_store()
runs = sorted(store.list_runs(dataset_id=dataset.id, statuses=("succeeded",)), key=lambda r: r.id)
if not runs:
    st.info(t("cost.no_runs"))
    st.page_link("pages/train.py", label=t("home.step_train"), icon=":material/model_training:")
    st.stop()
benches = {run.id: store.get_result(run.id, BENCH_KIND) for run in runs}


# ------------------------------------------------------------------ measuring


def _start(run_ids: list[int]) -> None:
    try:
        start_background(store, run_ids)
    except SlmError as exc:
        st.warning(error_text(exc), icon=":material/hourglass:")
        return
    st.session_state[JOB_FLAG] = True
    st.toast(t("cost.measure.started", runs=", ".join(f"#{i}" for i in run_ids)))


@st.fragment(run_every="2s")
def measure_panel() -> None:
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
            _start([run.id])
            st.rerun()
    missing = [run.id for run in runs if current.get(run.id) is None]
    left, right = st.columns(2)
    if left.button(t("cost.measure.all"), key="cost.measure_all", disabled=alive or not missing):
        _start(missing)
        st.rerun()
    if right.button(t("cost.measure.all_again"), key="cost.measure_all_again", disabled=alive):
        _start([run.id for run in runs])
        st.rerun()


measure_panel()
measured = [run for run in runs if benches.get(run.id)]

# ------------------------------------------------------------- speed and size
st.subheader(t("cost.speed.title"))
st.caption(t("cost.speed.caption"))
if not measured:
    st.info(t("cost.money.no_cpu"), icon=":material/speed:")
else:
    section_head(t("cost.speed.latency_table"), ("latency", "load"))
    latency = latency_frame(runs, benches)
    st.dataframe(
        latency,
        hide_index=True,
        width="stretch",
        height=table_height(latency),
        column_config=number_columns(
            latency,
            {c: "%.3f" for c in latency.columns}
            | {t("cost.col.calls"): "%d", t("cost.col.load_ms"): "%.1f"},
        ),
        key="cost_latency",
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
    st.dataframe(
        serving,
        hide_index=True,
        width="stretch",
        height=table_height(serving),
        column_config=number_columns(
            serving,
            {
                t("cost.col.tp32"): "%.0f",
                t("cost.col.tp256"): "%.0f",
                t("cost.col.vec_share"): "%.1f",
                t("cost.col.artifact_mb"): "%.2f",
                t("cost.col.params"): "%d",
                t("cost.col.rss_mb"): "%.0f",
            },
        ),
        key="cost_serving",
    )
    for run in measured:
        bench = benches[run.id]
        if bench.get("forms"):
            with st.expander(t("cost.speed.forms", model=run_label(run))):
                st.caption(t("cost.speed.forms_caption"))
                forms = forms_frame(bench)
                st.dataframe(
                    forms,
                    hide_index=True,
                    width="stretch",
                    column_config=number_columns(
                        forms,
                        {
                            t("cost.col.size_mb"): "%.2f",
                            t("cost.col.convert_s"): "%.1f",
                            t("cost.col.agreement"): "%.2f",
                            t("cost.col.delta"): "%+.2f",
                        },
                    ),
                    key=f"cost_forms_{run.id}",
                )
                for note in bench.get("notes") or []:
                    st.caption(error_text(note))

# ---------------------------------------------------------------------- money
st.subheader(t("cost.money.title"))
section_head(None, ("money",), caption=t("cost.money.rule"))
price, basis = money_inputs(CURRENCY)
lengths = cached_lengths(store, dataset.id)
with st.container(border=True):
    section_head(t("cost.llm.title"), ("llm",))
    llm = llm_inputs(CURRENCY)
    tokens, llm_cost = llm_figures(lengths, llm, CURRENCY)
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
            cost=format_money(llm_cost.value, CURRENCY, lang(), 2),
        )
    )
money = money_frame(runs, benches, price, basis, llm_cost, llm.name, CURRENCY)
st.markdown(f"**{t('cost.money.table')}**")
st.dataframe(
    money,
    hide_index=True,
    width="stretch",
    height=table_height(money),
    column_config=number_columns(money, {t("cost.col.cheaper"): "%.0f"}),
    key="cost_money",
)
per_run = dict(
    zip(money[t("cost.col.model")], money[t("cost.col.per_million", cur=CURRENCY)], strict=True)
)
priced = {k: float(v) for k, v in per_run.items() if v is not None and v == v}  # not NaN
if priced:
    cheapest = min(priced, key=priced.get)
    factor = cost.cheaper_factor(cost.Figure(priced[cheapest], "", ""), llm_cost)
    values = {
        "model": cheapest,
        "model_cost": format_money(priced[cheapest], CURRENCY, lang(), 4),
        "llm_cost": format_money(llm_cost.value, CURRENCY, lang(), 2),
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
            llm.name,
            llm_cost.value,
            title=t("cost.money.chart"),
            x_title=t("cost.money.chart_x", cur=CURRENCY),
        ),
        key="cost_money_chart",
    )
else:
    st.info(t("cost.money.no_cpu"), icon=":material/speed:")

# --------------------------------------------------------------------- energy
st.subheader(t("cost.energy.title"))
section_head(None, ("energy",), caption=t("cost.energy.rule"))
inputs = energy_inputs(benches)
if measured:
    cpu_info = benches[measured[0].id].get("cpu") or {}
    if not cpu_info.get("rapl"):
        st.caption(t("cost.energy.estimate", watts=f"{inputs.watts_per_thread:g}"))
    energy = energy_frame(runs, benches, basis, inputs)
    st.dataframe(
        energy,
        hide_index=True,
        width="stretch",
        height=table_height(energy),
        column_config=number_columns(energy, {}),
        key="cost_energy",
    )
    st.caption(t("cost.energy.train_note"))
else:
    st.info(t("cost.money.no_cpu"), icon=":material/speed:")
