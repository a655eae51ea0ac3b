"""Results: leaderboard with confidence intervals (the measured LLM on its sample beside the small
models), paired comparison, the LLM and the small models on the same texts, per-model details,
errors."""

from __future__ import annotations

import streamlit as st

from slm_core.errors import SlmError
from slm_core.escape import md_text
from slm_core.feedback import feedback_stats
from slm_core.i18n import format_number
from slm_core.llm import llm_runs, model_runs
from ui.access import guard_page
from ui.results_figures import learning_chart
from ui.results_sections import (
    DETAIL_TABS,
    DETAIL_TABS_KEY,
    calibration_tab,
    confusion_tab,
    curves_tab,
    error_filter_keys,
    llm_same_texts,
    show_comparison,
    threshold_slider_key,
    threshold_tab,
)
from ui.results_widgets import (
    cached_evaluation,
    cached_measurement,
    feedback_line,
    leaderboard_frame,
    per_class_frame,
    run_name,
    run_version,
    style_leaderboard,
)
from ui.state import (
    dataset_name,
    error_text,
    get_store,
    lang,
    require_dataset,
    require_runs,
    t,
)
from ui.url_state import keep_choice
from ui.widgets import keep_unseen_widget

guard_page()  # a page Streamlit runs without app.py is gated too

st.title(t("results.title"))
st.caption(t("results.intro"))
dataset = require_dataset()

store = get_store()
finished = store.list_runs(dataset_id=dataset.id, statuses=("succeeded",))
runs = model_runs(finished)
# The hosted LLM's measurements, newest first: on their own sample of the test split.
measured = {}
for run in llm_runs(finished):
    try:
        measured[run.id] = cached_measurement(run.id, run_version(run))
    except SlmError as exc:
        st.warning(t("results.failed", id=run.id, error=error_text(exc)), icon=":material/warning:")
evaluations = {}
for run in runs:
    try:
        evaluations[run.id] = cached_evaluation(run.id, run_version(run))
    except SlmError as exc:
        st.warning(t("results.failed", id=run.id, error=error_text(exc)), icon=":material/warning:")
runs = require_runs(dataset, t("results.no_runs"), runs=[r for r in runs if r.id in evaluations])

labels = {r.id: run_name(r) for r in runs} | {i: m.label for i, m in measured.items()}
by_id = {r.id: r for r in finished if r.id in evaluations or r.id in measured}
first = evaluations[runs[0].id]
st.markdown(
    t(
        "results.dataset",
        name=md_text(dataset_name(dataset)),
        runs=len(runs),
        n=format_number(first.n, lang()),
    )
)
stats = feedback_stats(store, dataset.id)

# ------------------------------------------------------------------------- leaderboard
st.subheader(t("results.leaderboard"), help=t("results.leaderboard_help"))
ranked = sorted(runs, key=lambda r: (-evaluations[r.id].accuracy, r.id))
board = leaderboard_frame(ranked, evaluations, stats, list(measured.values()))
st.dataframe(style_leaderboard(board), hide_index=True, key="results_leaderboard")
st.caption(t("results.majority_note", rate=f"{first.majority_rate:.1%}"))
for m in measured.values():  # the small models answered every test text, the LLM a sample
    st.caption(
        t(
            "results.llm_sample_note",
            llm=md_text(m.label),
            n=format_number(m.n, lang()),
            test=format_number(m.test_size, lang()),
            small=format_number(first.n, lang()),
        )
    )


# ------------------------------------------------------------------ paired comparison
if len(runs) + len(measured) > 1:
    st.subheader(t("results.compare"), help=t("results.compare_help"))
    # Best first: the default question is "best vs runner-up"; the LLM runs last.
    ids = [r.id for r in ranked] + list(measured)
    left, right = st.columns(2)
    a_id = left.selectbox(
        t("results.model_a"), ids, index=0, format_func=labels.get, key="results_model_a"
    )
    b_id = right.selectbox(
        t("results.model_b"), ids, index=1, format_func=labels.get, key="results_model_b"
    )
    if a_id == b_id:
        st.info(t("results.same_model"))
    else:
        show_comparison(a_id, b_id, by_id, labels)


# ------------------------------------------------------- the LLM on the same texts
if measured:
    llm_same_texts(measured, by_id, runs, labels)


# ------------------------------------------------------------------------ per model
st.subheader(t("results.details"))
# Small models only: an LLM answer has no probabilities, so no curves or calibration.
keep_choice("run", "results_run", [r.id for r in ranked])  # ?run=<id>: a reload keeps the model
run_id = st.selectbox(
    t("results.pick_run"), [r.id for r in ranked], format_func=labels.get, key="results_run"
)
run = by_id[run_id]
result = evaluations[run_id]
# Only the open tab is drawn: about seven charts and tables in hidden tabs cost the browser
# seconds a visit.
(
    tab_classes,
    tab_confusion,
    tab_curves,
    tab_calibration,
    tab_learning,
    tab_threshold,
    tab_feedback,
) = st.tabs([t(k) for k in DETAIL_TABS], key=DETAIL_TABS_KEY.format(lang=lang()), on_change="rerun")
# A closed tab's widgets keep their values for when the user comes back to it (only while
# closed: a drawn slider whose state a run also set makes Streamlit log a warning).
if not tab_confusion.open:
    for key in error_filter_keys(run_id):
        keep_unseen_widget(key)
if not tab_threshold.open:
    keep_unseen_widget(threshold_slider_key(run_id))

if tab_classes.open:
    with tab_classes:
        st.caption(t("results.per_class_help"))
        st.dataframe(
            per_class_frame(result),
            hide_index=True,
            key=f"per_class_{run_id}",
            column_config={
                t(f"results.{k}"): st.column_config.NumberColumn(format="%.3f")
                for k in ("precision", "recall", "f1")
            },
        )

if tab_confusion.open:
    with tab_confusion:
        confusion_tab(result, run)

if tab_curves.open:
    with tab_curves:
        curves_tab(result, run)

if tab_calibration.open:
    with tab_calibration:
        calibration_tab(result, run)

if tab_learning.open:
    with tab_learning:
        st.caption(t("results.learning_help"))
        curves = result.learning_curves or run.history or {}
        if len(curves.get("loss") or []) > 1:
            st.plotly_chart(
                learning_chart(run_id, run_version(run), lang(), curves), key=f"learning_{run_id}"
            )
        else:
            st.info(t("results.learning_linear"))

if tab_threshold.open:
    with tab_threshold:
        threshold_tab(result, run)

if tab_feedback.open:
    with tab_feedback:
        st.caption(t("results.feedback_help"))
        for r in runs:
            st.markdown("- " + feedback_line(md_text(labels[r.id], exact=False), stats.get(r.id)))
