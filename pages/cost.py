"""Cost: measured speed, size and memory, money and energy per million predictions, vs an API."""

from __future__ import annotations

import streamlit as st

from slm_core.runtime import BENCH_KIND
from slm_core.value.business import text_lengths
from ui.cost_sections import llm_rule, measure_panel, money_summary, show_table, speed_tables
from ui.cost_widgets import (
    energy_frame,
    energy_inputs,
    llm_figures,
    llm_inputs,
    money_frame,
    money_inputs,
    section_head,
)
from ui.state import active_dataset, get_store, t

CURRENCY = "USD"


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

measure_panel(store, runs)
measured = [run for run in runs if benches.get(run.id)]

# ------------------------------------------------------------- speed and size
st.subheader(t("cost.speed.title"))
st.caption(t("cost.speed.caption"))
if not measured:
    st.info(t("cost.money.no_cpu"), icon=":material/speed:")
else:
    speed_tables(runs, benches, measured)

# ---------------------------------------------------------------------- money
st.subheader(t("cost.money.title"))
section_head(None, ("money",), caption=t("cost.money.rule"))
price, basis = money_inputs(CURRENCY)
lengths = cached_lengths(store, dataset.id)
with st.container(border=True):
    section_head(t("cost.llm.title"), ("llm",))
    llm = llm_inputs(CURRENCY)
    tokens, llm_cost = llm_figures(lengths, llm, CURRENCY)
    llm_rule(lengths, llm, tokens, llm_cost, CURRENCY)
money = money_frame(runs, benches, price, basis, llm_cost, llm.name, CURRENCY)
st.markdown(f"**{t('cost.money.table')}**")
show_table(money, {t("cost.col.cheaper"): "%.0f"}, "cost_money")
money_summary(money, llm_cost, llm.name, CURRENCY)

# --------------------------------------------------------------------- energy
st.subheader(t("cost.energy.title"))
section_head(None, ("energy",), caption=t("cost.energy.rule"))
inputs = energy_inputs(benches)
if measured:
    cpu_info = benches[measured[0].id].get("cpu") or {}
    if not cpu_info.get("rapl"):
        st.caption(t("cost.energy.estimate", watts=f"{inputs.watts_per_thread:g}"))
    show_table(energy_frame(runs, benches, basis, inputs), {}, "cost_energy")
    st.caption(t("cost.energy.train_note"))
else:
    st.info(t("cost.money.no_cpu"), icon=":material/speed:")
