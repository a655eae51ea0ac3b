"""Value: business and social scorecards of every trained model, side by side, all traceable."""

from __future__ import annotations

import hashlib
import json

import streamlit as st

from slm_core.i18n import CURRENCY_SYMBOLS
from slm_core.value.assumptions import (
    BUSINESS_DIMENSIONS,
    SOCIAL_DIMENSIONS,
    Assumptions,
    scenario_name,
)
from slm_core.value.inputs import collect_inputs
from slm_core.value.scorecard import evaluate_value
from slm_core.value.text import note_text, recommendation_text, sensitivity_text
from ui.state import get_store, lang, require_dataset, t
from ui.value_charts import profit_figure, radar_figure
from ui.value_editor import assumptions_editor, threshold_inputs
from ui.value_frames import (
    business_frame,
    checklist_frame,
    compare_frame,
    dimension_frame,
    figures_frame,
    score_frame,
    sources_frame,
    styled_scores,
    table_height,
)
from ui.value_scenario import base_assumptions, scenario_bar, scenario_choices


def fingerprint(store, dataset_id: str) -> str:
    """Changes whenever a run finishes or gets a new benchmark, evaluation, card or feedback."""
    runs = store.list_runs(dataset_id=dataset_id, statuses=("succeeded",))
    parts = [
        (
            r.id,
            str(r.finished_at),
            store.get_result(r.id, "bench"),
            store.get_result(r.id, "evaluation") is not None,
            (store.get_result(r.id, "model_card") or {}).get("intended_use"),
        )
        for r in runs
    ]
    raw = json.dumps([parts, store.feedback_summary(dataset_id)], default=str, sort_keys=True)
    return hashlib.sha1(raw.encode()).hexdigest()


@st.cache_data(show_spinner=False, max_entries=8)
def cached_inputs(_store, dataset_id: str, key: str):
    return collect_inputs(_store, dataset_id, measure=True)


@st.cache_data(show_spinner=False, max_entries=32)
def cached_report(
    _inputs, key: str, assumptions_json: str, thresholds: tuple, with_sensitivity: bool = True
):
    return evaluate_value(
        _inputs,
        Assumptions.from_json(assumptions_json),
        dict(thresholds),
        with_sensitivity=with_sensitivity,
    )


st.title(t("value.title"))
st.caption(t("value.intro"))
dataset = require_dataset()
store = get_store()
key = fingerprint(store, dataset.id)
with st.spinner(t("value.measuring", model=dataset.name)):
    inputs = cached_inputs(store, dataset.id, key)

base = base_assumptions()
with st.expander(t("value.assumptions"), expanded=not inputs.runs, icon=":material/tune:"):
    scenario_bar(store, dataset.id, base)
    assumptions = assumptions_editor(base, list(inputs.classes))

if not inputs.runs:
    st.info(t("value.no_runs"))
    st.page_link("pages/train.py", label=t("home.step_train"), icon=":material/model_training:")
    st.stop()

overrides = st.session_state.get("value.thresholds", {})
report = cached_report(inputs, key, assumptions.to_json(), tuple(sorted(overrides.items())))
a = report.assumptions

# ---------------------------------------------------------------- warnings
if a.currency != "USD":
    st.warning(t("value.currency_warning"), icon=":material/currency_exchange:")
if a.is_user_value("llm_accuracy"):
    st.caption(t("value.llm_caption", acc=f"{a.llm_accuracy:.0%}"))
else:
    st.warning(t("value.llm_warning", acc=f"{a.llm_accuracy:.0%}"), icon=":material/help:")
unmeasured = [c for c in report.scorecards if c.business.inference_source == "not_measured"]
fallback = [c for c in report.scorecards if c.business.inference_source == "fallback"]
if unmeasured or fallback:
    missing = unmeasured + fallback
    st.info(
        t("value.bench_warning", runs=", ".join(c.label for c in missing), run=missing[0].run_id),
        icon=":material/speed:",
    )
if fallback:
    st.caption(t("value.cpu_fallback_warning", runs=", ".join(c.label for c in fallback)))

# ---------------------------------------------------------- recommendation
st.subheader(t("value.recommendation"))
st.success(recommendation_text(report, lang()), icon=":material/recommend:")
st.info(sensitivity_text(report, lang()), icon=":material/tune:")

# ------------------------------------------------------------- side by side
st.subheader(t("value.scores_title"))
st.caption(t("value.scores_caption"))
scores = score_frame(report)
st.dataframe(
    styled_scores(scores), width="stretch", height=table_height(scores), key="value_scores"
)
left, right = st.columns([3, 2])
with left:
    st.markdown(f"**{t('value.figures_title')}**")
    st.caption(t("value.figures_caption"))
    figures = figures_frame(report)
    st.dataframe(figures, width="stretch", height=table_height(figures), key="value_figures")
with right:
    dims = [*BUSINESS_DIMENSIONS, *SOCIAL_DIMENSIONS]
    radar = {
        c.label: [(c.business_dims.get(d) or c.social_dims.get(d)).score for d in dims]
        for c in report.scorecards
    }
    st.plotly_chart(
        radar_figure([t(f"value.dim.{d}") for d in dims], radar, title=t("value.radar_title")),
        key="value_radar",
    )
    st.caption(t("value.radar_unmeasured"))

# ------------------------------------------------------------------ details
tab_business, tab_social, tab_compare, tab_sources = st.tabs(
    [t("value.tab_business"), t("value.tab_social"), t("value.tab_compare"), t("value.tab_sources")]
)
with tab_business:
    st.markdown(f"**{t('value.business_title')}**")
    st.plotly_chart(
        profit_figure(
            report,
            title=t("value.profit_title"),
            x_title=t("value.profit_x"),
            y_title=t("value.profit_y"),
            llm_label=t("value.llm_column", name=a.llm_name),
            money_prefix=CURRENCY_SYMBOLS.get(a.currency, ""),
            hover={w: t(f"value.hover.{w}") for w in ("threshold", "net", "automated", "accuracy")},
        ),
        key="value_profit",
    )
    st.caption(t("value.profit_caption"))
    st.markdown(f"**{t('value.thresholds')}**")
    chosen = threshold_inputs([(c.run_id, c.label) for c in report.scorecards])
    if chosen != overrides:
        st.session_state["value.thresholds"] = chosen
        st.rerun()
    business = business_frame(report)
    st.dataframe(business, width="stretch", height=table_height(business), key="value_business")
    for dim in BUSINESS_DIMENSIONS:
        st.caption(f"**{t(f'value.dim.{dim}')}** — {t(f'value.formula.{dim}')}")
    notes = {
        note_text(n, lang()) for c in report.scorecards for n in c.business_dims["net_value"].notes
    }
    for note in sorted(notes):
        st.caption(note)
    for c in report.scorecards:
        with st.expander(f"{t('value.details')}: {c.label}"):
            st.caption(t("value.confusion_automated"))
            b = c.business
            st.dataframe(
                {cls: [row[j] for row in b.automated_confusion] for j, cls in enumerate(b.classes)},
                width="stretch",
            )
            st.json(b.details, expanded=False)

with tab_social:
    st.markdown(f"**{t('value.social_title')}**")
    for dim in SOCIAL_DIMENSIONS:
        st.markdown(f"##### {t(f'value.dim.{dim}')}")
        st.caption(f"{t('value.formula_label')}: {t(f'value.formula.{dim}')}")
        st.dataframe(
            dimension_frame(report, dim), width="stretch", hide_index=True, key=f"value_dim_{dim}"
        )
        if dim == "transparency":
            with st.expander(t("value.checklist")):
                st.dataframe(checklist_frame(report), width="stretch")

with tab_compare:
    st.caption(t("value.compare_help"))
    choices = scenario_choices(store, dataset.id)
    picked = st.multiselect(
        t("value.compare_pick"),
        list(choices),
        format_func=lambda o: choices[o][0],
        key=f"value.compare.{lang()}",  # chips keep the labels of the language they were picked in
    )
    named = [(f"{t('value.col_current')}: {scenario_name(a.name, lang())}", report)]
    for option in picked:
        other = choices[option][1]()
        other_json = other.to_json()
        named.append(
            (
                choices[option][0],
                cached_report(inputs, key, other_json, tuple(sorted(overrides.items())), False),
            )
        )
    st.dataframe(compare_frame(named), width="stretch", key="value_compare")

with tab_sources:
    st.markdown(f"**{t('value.sources_title')}**")
    st.dataframe(sources_frame(a), width="stretch", hide_index=True, key="value_sources")

st.download_button(
    t("value.download_report"),
    json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str),
    f"value_{dataset.id}.json",
    mime="application/json",
    icon=":material/download:",
)
