"""Present: the answer for a projector — large headline figures, the scorecard, the recommendation.

No widgets: the sidebar and toolbar are hidden by this page's own CSS, and every figure comes from
the same data as the HTML report, under the scenario set on the Value page.
"""

from __future__ import annotations

import streamlit as st

from slm_core.report.charts import radar_figure
from slm_core.report.kpis import kpi_tiles
from slm_core.report.value_tables import scores_table
from slm_core.value.assumptions import scenario_name
from slm_core.value.text import recommendation_text, sensitivity_text
from ui.report_widgets import PRESENT_CSS, report_data, styled_scores
from ui.state import active_dataset, dataset_name, get_store, lang, t

st.html(PRESENT_CSS)


def leave() -> None:
    """The only way out when the sidebar is hidden."""
    st.page_link("pages/report.py", label=t("present.exit"), icon=":material/close_fullscreen:")


dataset = active_dataset()
if dataset is None:
    st.info(t("present.no_dataset"))
    st.page_link("pages/data.py", label=t("home.step_data"), icon=":material/table:")
    leave()
    st.stop()
if not get_store().list_runs(dataset_id=dataset.id, statuses=("succeeded",)):
    st.info(t("present.no_runs"))
    st.page_link("pages/train.py", label=t("home.step_train"), icon=":material/model_training:")
    leave()
    st.stop()

with st.spinner(t("report_page.building")):
    data, _ = report_data()
if not data.runs or data.value is None:
    st.info(t("present.no_runs"))
    leave()
    st.stop()
v = data.value

st.title(t("present.title", dataset=dataset_name(dataset)), anchor=False)

tiles = kpi_tiles(data, lang())
for column, tile in zip(st.columns(len(tiles)), tiles, strict=True):
    with column.container(border=True, height="stretch"):
        st.metric(tile.label, tile.value)
        st.caption(tile.note)

st.subheader(t("present.recommendation"), anchor=False)
st.success(recommendation_text(v, lang()), icon=":material/recommend:")
st.info(sensitivity_text(v, lang()), icon=":material/tune:")

st.subheader(t("present.scores_title"), anchor=False)
left, right = st.columns([3, 2])
with left:
    table = scores_table(data, lang())
    st.dataframe(
        styled_scores(table),
        width="stretch",
        height=38 + 35 * len(table.rows),
        key="present.scores",
    )
with right:
    st.plotly_chart(
        radar_figure(data, lang()), key="present.radar", config={"displayModeBar": False}
    )

best = data.best
st.caption(
    t(
        "present.footnote",
        scenario=scenario_name(v.assumptions.name, lang()),
        n=best.evaluation.n if best else 0,
        date=data.generated_at.strftime("%Y-%m-%d %H:%M UTC"),
    )
)
leave()
