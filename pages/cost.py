"""Cost: measured speed, size and memory; money and energy as each model would be served, at the
scenario's volume, against the hosted API — under the same decision as the Value page."""

from __future__ import annotations

import streamlit as st

from slm_core.runtime import BENCH_KIND
from ui.cost_sections import (
    energy_section,
    measure_panel,
    money_section,
    scenario_summary,
    speed_tables,
)
from ui.decision import decision_box, value_report
from ui.state import active_dataset, get_store, t

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

# ---------------------------------------------------- the decision and its scenario
report = value_report(dataset.id)
st.subheader(t("value.decision.title"))
decision_box(report)
scenario_summary(report.assumptions)

# ------------------------------------------------------------ measuring, speed, size
benches = {run.id: store.get_result(run.id, BENCH_KIND) for run in runs}
measure_panel(store, runs)
measured = [run for run in runs if benches.get(run.id)]
st.subheader(t("cost.speed.title"))
st.caption(t("cost.speed.caption"))
if not measured:
    st.info(t("cost.speed.none"), icon=":material/speed:")
else:
    speed_tables(runs, benches, measured)

# ------------------------------------------------------------------- money, energy
money_section(report)
energy_section(report)
