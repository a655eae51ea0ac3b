"""Present: the decision for a projector — the paragraph, large headline figures, every option's
scores and what each option costs as the volume grows.

No widgets but a language switch: the sidebar and toolbar are hidden by this page's own CSS.
The value report is the one the Value page shows (``ui.decision.value_report``), so both state
the same decision.
"""

from __future__ import annotations

import streamlit as st

from slm_core.escape import md_text
from slm_core.i18n import LANGUAGES
from slm_core.report.kpis import kpi_tiles
from slm_core.report.value_charts import cost_volume_figure
from slm_core.report.value_tables import scores_table
from slm_core.value.assumptions import scenario_name
from ui.access import guard_page
from ui.decision import decision_box
from ui.navigation import page_link
from ui.report_widgets import PRESENT_CSS, report_data, styled_scores
from ui.state import dataset_name, lang, require_dataset, require_runs, switch_language, t
from ui.value_checks import checks_box
from ui.widgets import table_height

guard_page()  # a page Streamlit runs without app.py is gated too

st.html(PRESENT_CSS)


def leave() -> None:
    """The only way out when the sidebar is hidden, and the only language switch."""
    page_link("report", label=t("present.exit"), icon=":material/close_fullscreen:")
    for code, name in LANGUAGES.items():
        if code != lang():
            st.button(name, on_click=switch_language, args=(code,), icon=":material/translate:")


dataset = require_dataset(t("present.no_dataset"), before_stop=leave)
require_runs(dataset, t("present.no_runs"), before_stop=leave)

with st.spinner(t("report_page.building")):
    data, _ = report_data()
if not data.runs or data.value is None:
    st.info(t("present.no_runs"))
    leave()
    st.stop()
v = data.value

st.title(t("present.title", dataset=md_text(dataset_name(dataset))), anchor=False)
decision_box(v)
checks_box(v.inputs)  # figures still measured in the background

tiles = kpi_tiles(data, lang())
for column, tile in zip(st.columns(len(tiles)), tiles, strict=True):
    with column.container(border=True, height="stretch"):
        # A tile may name an option, and so quote an LLM's model name: inert Markdown.
        st.metric(md_text(tile.label, exact=False), md_text(tile.value, exact=False))
        st.caption(md_text(tile.note, exact=False))

left, right = st.columns([5, 4])
with left:
    st.subheader(t("present.scores_title"), anchor=False)
    table = scores_table(data, lang())
    in_scores = table.columns.index(next(c for c in table.columns if c.key == "in_overall"))
    scores = styled_scores(table, rows=[r for r in table.rows if r[in_scores]])
    st.dataframe(scores, width="stretch", height=table_height(scores.data), key="present.scores")
    if v.left_out:
        dims = t("model_card.list_sep").join(t(f"value.dim.{d}") for d in v.left_out)
        st.caption(t("present.left_out", dims=dims))
with right:
    st.subheader(t("present.cost_title"), anchor=False)
    figure = cost_volume_figure(v, lang())
    if figure is not None:
        st.plotly_chart(
            figure, key="present.cost_volume", config={"displayModeBar": False}, theme=None
        )
    st.caption(t("present.cost_caption"))

best = data.best
st.caption(
    t(
        "present.footnote",
        scenario=md_text(scenario_name(v.assumptions.name, lang())),
        n=best.evaluation.n if best else 0,
        date=data.generated_at.strftime("%Y-%m-%d %H:%M UTC"),
    )
)
leave()
