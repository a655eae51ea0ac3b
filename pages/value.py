"""Value: the decision, every option side by side, and every assumption behind it, editable."""

from __future__ import annotations

import json

import streamlit as st

from slm_core.escape import md_text
from slm_core.report.value_charts import cost_volume_figure, profit_figure, radar_figure
from slm_core.value.assumptions import BUSINESS_DIMENSIONS, SOCIAL_DIMENSIONS, scenario_name
from slm_core.value.text import llm_notes_text, option_label, sensitivity_text
from ui.access import guard_page
from ui.decision import (
    CONTROLS_OPEN_KEY,
    EDITOR_OPEN_KEY,
    VALUE_TABS_KEY,
    compare_key,
    decision_box,
    value_report,
)
from ui.state import get_store, lang, require_dataset, require_runs, t
from ui.value_checks import checks_box
from ui.value_editor import assumptions_editor, run_controls
from ui.value_frames import (
    business_frame,
    compare_frame,
    confusion_frame,
    dimension_frame,
    left_out_text,
    not_guessing_labels,
    options_frame,
    scenario_label,
    sources_columns,
    sources_frame,
    split_note,
    styled_options,
    training_energy_frame,
    transparency_frame,
    wide_columns,
)
from ui.value_llm import assumed_warning, llm_box, replaced_fields
from ui.value_scenario import (
    base_assumptions,
    edited_assumptions,
    keep_closed_editor,
    scenario_bar,
    scenario_choices,
)
from ui.widgets import keep_unseen_widget, table_height

guard_page()  # a page Streamlit runs without app.py is gated too

st.title(t("value.title"))
dataset = require_dataset()
store = get_store()
base = base_assumptions()
a = edited_assumptions(base)  # the editor's widgets, read before they are drawn below
if not st.session_state.get(EDITOR_OPEN_KEY):
    keep_closed_editor()  # closed, the editor is not drawn: its values must not be dropped
report = value_report(dataset.id)  # the same report (and decision) as Cost, Present and Report
decision_box(report)
checks_box(report.inputs)  # figures still being measured in the background, if any
if report.inputs.runs:
    st.caption(split_note(report))
st.caption(t("value.intro"))


def editor(expanded: bool) -> None:
    # Drawn only while open (some 70 inputs cost the browser a second a visit); closed, its
    # values live on in the scenario the page keeps (ui.value_scenario.ensure_state).
    box = st.expander(
        t("value.assumptions"),
        expanded=expanded,
        icon=":material/tune:",
        key=EDITOR_OPEN_KEY,
        on_change="rerun",
    )
    if box.open:
        with box:
            scenario_bar(store, dataset.id, a)
            assumptions_editor(
                a, report.inputs.classes, report.inputs.prior, replaced_fields(report)
            )


# Without runs the decision box above says so; the scenario can still be edited.
require_runs(dataset, None, runs=report.inputs.runs, before_stop=lambda: editor(expanded=True))

# ---------------------------------------------------------------- warnings
if a.currency != "USD":
    st.caption(t("value.fx_caption", fx=f"{a.fx_rate:g}", cur=a.currency))
assumed_warning(report)  # the LLM's figures are assumed until it is measured on this data
# Option names and the sentences that use them may quote an LLM's model name: inert Markdown.
guessing = [md_text(label, exact=False) for label in not_guessing_labels(report)]
if guessing:
    st.warning(t("value.guessing_warning", models=", ".join(guessing)), icon=":material/casino:")
st.info(md_text(sensitivity_text(report, lang()), exact=False), icon=":material/tune:")

# ------------------------------------------------------------- side by side
st.subheader(t("value.options_title"))
st.caption(t("value.options_caption"))
text, scores = options_frame(report)
st.dataframe(
    styled_options(text, scores),
    width="stretch",
    height=table_height(text),
    column_config=wide_columns(text, text.columns[0]),  # manual: sentences
    key="value_options",
)
llm_box(report)  # what the LLM column (and the cascade) rests on: measured or assumed

# ------------------------------------------------------------------ charts
volume_chart = cost_volume_figure(report, lang())
if volume_chart is not None:
    st.plotly_chart(volume_chart, key="value_cost_volume")
    st.caption(t("value.cost_volume_caption"))
left, right = st.columns(2)
with left:
    radar = radar_figure(report, lang())
    if radar is not None:
        st.plotly_chart(radar, key="value_radar")
        st.caption(t("value.radar_caption"))
with right:
    profit = profit_figure(report, lang())
    if profit is not None:
        st.plotly_chart(profit, key="value_profit")
        st.caption(t("value.profit_caption"))

# ---------------------------------------------------------------- controls
controls = st.expander(
    t("value.run_controls"), icon=":material/tune:", key=CONTROLS_OPEN_KEY, on_change="rerun"
)
if controls.open:  # closed, the choices live on in THRESHOLDS_KEY and SERVING_KEY
    with controls:
        run_controls(report)
editor(expanded=False)

# ------------------------------------------------------------------ details
# Only the open tab is drawn: a dozen tables in hidden tabs cost the browser seconds a visit.
keep_unseen_widget(compare_key(lang()))  # the scenarios picked stay picked in other tabs
tab_business, tab_social, tab_items, tab_compare, tab_sources = st.tabs(
    [
        t("value.tab_business"),
        t("value.tab_social"),
        t("value.tab_transparency"),
        t("value.tab_compare"),
        t("value.tab_sources"),
    ],
    key=VALUE_TABS_KEY.format(lang=lang()),
    on_change="rerun",
)
if tab_business.open:
    with tab_business:
        st.markdown(f"**{t('value.business_title')}**")
        business = business_frame(report)
        st.dataframe(
            business,
            width="stretch",
            height=table_height(business),
            column_config=wide_columns(business),
            key="value_business",
        )
        for dim in BUSINESS_DIMENSIONS:
            st.caption(f"**{t(f'value.dim.{dim}')}** — {t(f'value.formula.{dim}')}")
        for o in report.models:
            with st.expander(f"{t('value.details')}: {md_text(o.label, exact=False)}"):
                st.caption(t("value.confusion_automated"))
                st.dataframe(confusion_frame(o), width="stretch")
                st.json(
                    {"business": o.business.details, "serving": o.serving.to_dict()}, expanded=False
                )
        for o in report.options:
            if o.kind in ("api", "cascade"):
                label = md_text(option_label(o, lang()), exact=False)
                with st.expander(f"{t('value.details')}: {label}"):
                    st.caption(md_text(llm_notes_text(o, lang()), exact=False))
                    st.json({"business": o.business.details}, expanded=False)

if tab_social.open:
    with tab_social:
        st.markdown(f"**{t('value.social_title')}**")
        if report.left_out:
            st.info(left_out_text(report), icon=":material/info:")
        for dim in SOCIAL_DIMENSIONS:
            left_out = f" · {t('value.left_out_tag')}" if dim in report.left_out else ""
            st.markdown(f"##### {t(f'value.dim.{dim}')}{left_out}")
            st.caption(f"{t('value.formula_label')}: {t(f'value.formula.{dim}')}")
            st.dataframe(
                dimension_frame(report, dim),
                width="stretch",
                hide_index=True,
                key=f"value_dim_{dim}",
            )
            if dim == "environment":
                st.markdown(f"**{t('value.train_energy_title')}**")
                st.caption(t("value.train_energy_caption"))
                st.dataframe(
                    training_energy_frame(report), hide_index=True, key="value_train_energy"
                )

if tab_items.open:
    with tab_items:
        st.caption(t("value.items_caption"))
        st.dataframe(transparency_frame(report), width="stretch", key="value_items")

if tab_compare.open:
    with tab_compare:
        st.caption(t("value.compare_help"))
        choices = scenario_choices(store, dataset.id)
        picked = st.multiselect(
            t("value.compare_pick"),
            list(choices),
            format_func=lambda o: choices[o][0],
            placeholder=t("value.compare_placeholder"),
            key=compare_key(lang()),
        )
        named = [(scenario_label(report), report)]
        named += [  # compared on their decisions and net values: no sensitivity search
            (choices[p][0], value_report(dataset.id, choices[p][1](), with_sensitivity=False))
            for p in picked
        ]
        st.dataframe(compare_frame(named), width="stretch", key="value_compare")

if tab_sources.open:
    with tab_sources:
        st.markdown(f"**{t('value.sources_title')}**")
        st.caption(t("value.sources_caption", name=md_text(scenario_name(a.name, lang()))))
        sources = sources_frame(a, replaced_fields(report))
        st.dataframe(
            sources,
            width="stretch",
            height=table_height(sources),
            hide_index=True,
            column_config=sources_columns(),
            key="value_sources",
        )

st.download_button(
    t("value.download_report"),
    json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str),
    f"value_{dataset.id}.json",
    mime="application/json",
    icon=":material/download:",
)
