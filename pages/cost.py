"""Cost: measured speed, size and memory; money and energy as each model would be served, at the
scenario's volume, against the hosted API (as measured on this dataset, once it is) — under the
same decision as the Value page."""

from __future__ import annotations

import streamlit as st

from ui.access import guard_page
from ui.cost_sections import (
    energy_section,
    llm_section,
    measure_panel,
    money_section,
    scenario_summary,
    speed_tables,
)
from ui.cost_widgets import latest_llm_cost, stored_benches
from ui.decision import decision_box, value_report
from ui.state import get_store, require_dataset, require_runs, t
from ui.value_checks import checks_box

guard_page()  # a page Streamlit runs without app.py is gated too

st.title(t("cost.title"))
st.caption(t("cost.intro"))
dataset = require_dataset()
store = get_store()
runs = sorted(require_runs(dataset, t("cost.no_runs")), key=lambda r: r.id)

# ---------------------------------------------------- the decision and its scenario
report = value_report(dataset.id, with_sensitivity=False)  # the Cost page does not show it
st.subheader(t("value.decision.title"))
decision_box(report)
checks_box(report.inputs)  # figures still being measured in the background, if any
scenario_summary(report.assumptions)

# ------------------------------------------------------------ measuring, speed, size
benches = stored_benches(store, runs)
measure_panel(store, runs)
measured = [run for run in runs if benches.get(run.id) is not None]
st.subheader(t("cost.speed.title"))
st.caption(t("cost.speed.caption"))
if not measured:
    st.info(t("cost.speed.none"), icon=":material/speed:")
else:
    speed_tables(runs, benches, measured)

# ------------------------------------------------------- money, the LLM, energy
llm = latest_llm_cost(store, dataset.id, report.assumptions)
money_section(report, llm)
llm_section(report, llm)
energy_section(report)
