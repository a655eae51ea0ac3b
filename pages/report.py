"""Report: one-click downloads of the HTML report, the model cards and every figure as CSV/JSON.

The decision shown here and written into every download is the Value page's
(``ui.decision.value_report``).
"""

from __future__ import annotations

import io
import zipfile

import streamlit as st

from slm_core.escape import md_text
from slm_core.i18n import LANGUAGES
from slm_core.report import (
    CardText,
    build_tables,
    csv_zip,
    read_card_text,
    render_html,
    report_json_text,
    save_card_text,
    table_csv,
)
from slm_core.value.assumptions import scenario_name
from ui.access import guard_page
from ui.decision import decision_box
from ui.navigation import page_link
from ui.report_widgets import cached_cards, html_size_mb, report_data, table_frame
from ui.state import flash, get_store, lang, require_dataset, require_runs, show_flash, t
from ui.url_state import keep_choice
from ui.value_checks import checks_box

guard_page()  # a page Streamlit runs without app.py is gated too

st.title(t("report_page.title"))
st.caption(t("report_page.intro"))
dataset = require_dataset()
store = get_store()
require_runs(dataset, t("report_page.no_runs"))

with st.spinner(t("report_page.building")):
    data, key = report_data()
for run_id, error in data.skipped:
    error = md_text(error, exact=False)
    st.warning(t("report_html.skipped", run=run_id, error=error), icon=":material/warning:")
if not data.runs:  # every finished run lost its files: nothing can be evaluated
    st.info(t("report_page.no_runs"))
    st.stop()
a = data.value.assumptions
decision_box(data.value)
checks_box(data.value.inputs)  # figures still measured in the background
st.caption(t("report_page.scenario", name=md_text(scenario_name(a.name, lang()))))

languages = list(LANGUAGES)
# Keyed by the interface language so that switching it in the sidebar resets the choice.
report_lang_key = f"report.lang.{lang()}"
keep_choice("report_lang", report_lang_key, languages, default=lang())  # ?report_lang=zh
report_lang = (
    st.segmented_control(
        t("report_page.language"),
        languages,
        default=lang(),
        format_func=LANGUAGES.get,
        help=t("report_page.language_help"),
        key=report_lang_key,
    )
    or lang()
)
tables = build_tables(data, report_lang)
cards = cached_cards(data, key, report_lang)


# Every card: the small models', then the measured LLM's (its run has no ReportData.run).
labels = {r.run_id: r.label for r in data.runs}
if data.llm is not None:
    labels[data.llm.run_id] = data.llm.label


def card_name(run_id: int) -> str:
    model_id = data.run(run_id).run.model_id if run_id in {r.run_id for r in data.runs} else "llm"
    return f"model_card_run{run_id}_{model_id}_{report_lang}.md"


# ------------------------------------------------------------------ HTML report
with st.container(border=True):
    st.subheader(t("report_page.html_title"), anchor=False)
    st.caption(t("report_page.html_help"))
    st.download_button(
        t("report_page.download_html"),
        # Built on click (about 5 MB with plotly.js inside), not on every rerun.
        lambda: render_html(data, report_lang, tables=tables, cards=cards),
        file_name=f"report_{dataset.id}_{report_lang}.html",
        mime="text/html",
        icon=":material/download:",
        type="primary",
        key="report.dl_html",
        # No rerun on click: a rerun would replace the other buttons' deferred downloads.
        on_click="ignore",
    )
    st.caption(t("report_page.html_size", size=f"{html_size_mb():.0f}"))
    page_link("present", label=t("report_page.present_link"), icon=":material/slideshow:")

# ------------------------------------------------------------------ model cards
with st.container(border=True):
    st.subheader(t("report_page.cards_title"), anchor=False)
    st.caption(t("report_page.cards_help"))

    def cards_zip() -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for run_id in labels:
                zf.writestr(card_name(run_id), cards[run_id].encode("utf-8"))
        return buffer.getvalue()

    st.download_button(
        t("report_page.download_cards"),
        cards_zip,
        file_name=f"model_cards_{dataset.id}_{report_lang}.zip",
        mime="application/zip",
        icon=":material/download:",
        key="report.dl_cards",
        on_click="ignore",
    )
    run_id = st.selectbox(
        t("report_page.card_pick"), list(labels), format_func=labels.get, key="report.card_run"
    )
    stored = read_card_text(store, run_id)
    st.markdown(f"**{t('report_page.intended_title')}**", help=t("report_page.intended_help"))
    with st.form(f"report.card_form.{run_id}", border=False):
        values = {
            field: st.text_area(
                t(f"report_page.{field}"),
                value=getattr(stored, field),
                placeholder=t(f"report_page.{field}_placeholder")
                if field != "ethical_notes"
                else None,
                height=80,
                key=f"report.card.{run_id}.{field}",
            )
            for field in ("intended_use", "intended_users", "out_of_scope", "ethical_notes")
        }
        if st.form_submit_button(t("report_page.save_card"), icon=":material/save:"):
            save_card_text(store, run_id, CardText.from_dict(values))
            flash(t("report_page.card_saved"))
            st.rerun()
    show_flash()
    card = cards[run_id]
    st.download_button(
        t("report_page.download_card"),
        card,
        file_name=card_name(run_id),
        mime="text/markdown",
        icon=":material/description:",
        key="report.dl_card",
        on_click="ignore",
    )
    with st.expander(t("report_page.card_preview"), expanded=False):
        st.markdown(card)

# --------------------------------------------------------------------- data
with st.container(border=True):
    st.subheader(t("report_page.data_title"), anchor=False)
    st.caption(t("report_page.data_help"))
    c1, c2 = st.columns(2)
    c1.download_button(
        t("report_page.download_csv_zip"),
        lambda: csv_zip(tables),
        file_name=f"tables_{dataset.id}_{report_lang}.zip",
        mime="application/zip",
        icon=":material/table_view:",
        key="report.dl_csv",
        on_click="ignore",
    )
    c2.download_button(
        t("report_page.download_json"),
        lambda: report_json_text(data, report_lang, tables),
        file_name=f"report_{dataset.id}_{report_lang}.json",
        mime="application/json",
        icon=":material/data_object:",
        key="report.dl_json",
        on_click="ignore",
    )
    shown = {k: tb for k, tb in tables.items() if tb.rows}
    table_key = st.selectbox(
        t("report_page.table_pick"),
        list(shown),
        format_func=lambda k: shown[k].title,
        key="report.table",
    )
    table = shown[table_key]
    st.dataframe(table_frame(table, a.currency), hide_index=True, key="report.preview")
    if table.note:
        st.caption(md_text(table.note, exact=False))
    st.download_button(
        t("report_page.download_table"),
        table_csv(table).encode("utf-8"),
        file_name=f"{table_key}_{dataset.id}.csv",
        mime="text/csv",
        icon=":material/download:",
        key="report.dl_table",
        on_click="ignore",
    )
