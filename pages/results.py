"""Results: leaderboard with confidence intervals, paired comparison, per-model details, errors."""

from __future__ import annotations

import streamlit as st

from slm_core.errors import SlmError
from slm_core.feedback import feedback_stats
from slm_core.i18n import format_number
from slm_core.mcnemar import mcnemar, mcnemar_verdict, paired_predictions
from ui.charts import history_figure
from ui.results_charts import (
    confusion_figure,
    coverage_figure,
    pr_figure,
    reliability_figure,
    roc_figure,
)
from ui.results_widgets import (
    cached_evaluation,
    cached_test_predictions,
    errors_frame,
    feedback_line,
    leaderboard_frame,
    per_class_frame,
    run_label,
    run_version,
    style_leaderboard,
)
from ui.state import dataset_name, error_text, get_store, lang, require_dataset, t

st.title(t("results.title"))
st.caption(t("results.intro"))
dataset = require_dataset()

store = get_store()
runs = store.list_runs(dataset_id=dataset.id, statuses=("succeeded",))
evaluations = {}
for run in runs:
    try:
        evaluations[run.id] = cached_evaluation(run.id, run_version(run))
    except SlmError as exc:
        st.warning(t("results.failed", id=run.id, error=error_text(exc)), icon=":material/warning:")
runs = [r for r in runs if r.id in evaluations]
if not runs:
    st.info(t("results.no_runs"))
    st.page_link("pages/train.py", label=t("results.go_train"), icon=":material/model_training:")
    st.stop()

labels = {r.id: run_label(r) for r in runs}
by_id = {r.id: r for r in runs}
first = evaluations[runs[0].id]
st.markdown(
    t(
        "results.dataset",
        name=dataset_name(dataset),
        runs=len(runs),
        n=format_number(first.n, lang()),
    )
)
stats = feedback_stats(store, dataset.id)

# ------------------------------------------------------------------------- leaderboard
st.subheader(t("results.leaderboard"), help=t("results.leaderboard_help"))
ranked = sorted(runs, key=lambda r: (-evaluations[r.id].accuracy, r.id))
board = leaderboard_frame(ranked, evaluations, stats)
st.dataframe(style_leaderboard(board), hide_index=True, key="results_leaderboard")
st.caption(t("results.majority_note", rate=f"{first.majority_rate:.1%}"))


# ------------------------------------------------------------------ paired comparison
def show_comparison(a_id: int, b_id: int) -> None:
    """McNemar's test between two runs on their shared test texts, with a plain verdict."""
    try:
        preds_a = cached_test_predictions(a_id, run_version(by_id[a_id]))
        preds_b = cached_test_predictions(b_id, run_version(by_id[b_id]))
    except SlmError as exc:  # e.g. the run's files were deleted by hand
        st.warning(error_text(exc), icon=":material/warning:")
        return
    y, pa, pb = paired_predictions(preds_a, preds_b)
    if not y:
        st.warning(t("results.no_overlap"))
        return
    if len(y) < len(preds_a.texts):
        st.caption(t("results.different_tests", n=f"{len(y):,}"))
    test = mcnemar(y, pa, pb)
    verdict = mcnemar_verdict(test, labels[a_id], labels[b_id], lang())
    (st.success if test.better() else st.info)(verdict, icon=":material/balance:")
    cols = st.columns(4)
    cols[0].metric(labels[a_id], f"{test.accuracy_a:.1%}")
    cols[1].metric(labels[b_id], f"{test.accuracy_b:.1%}")
    cols[2].metric(t("results.only_a"), f"{test.only_a:,}")
    cols[3].metric(t("results.only_b"), f"{test.only_b:,}")


if len(runs) > 1:
    st.subheader(t("results.compare"), help=t("results.compare_help"))
    ids = [r.id for r in ranked]  # best first: the default question is "best vs runner-up"
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
        show_comparison(a_id, b_id)


def show_errors(preds, true_label: str, pred_label: str) -> None:
    """The misclassified test texts of one run, for one (true, predicted) pair or all."""
    errors, shown, total = errors_frame(preds, true_label, pred_label)
    st.caption(
        t("results.errors_count", n=f"{shown:,}", total=f"{total:,}", size=f"{len(preds.texts):,}")
    )
    if errors.empty:
        st.info(t("results.no_errors"))
        return
    # Test texts are user data: shown as plain table cells, never as HTML or Markdown.
    st.dataframe(
        errors,
        hide_index=True,
        column_config={
            t("results.confidence"): st.column_config.NumberColumn(format="%.3f"),
            t("results.text"): st.column_config.TextColumn(width="large"),
        },
    )


# ------------------------------------------------------------------------ per model
st.subheader(t("results.details"))
run_id = st.selectbox(
    t("results.pick_run"), [r.id for r in ranked], format_func=labels.get, key="results_run"
)
run = by_id[run_id]
result = evaluations[run_id]
tabs = st.tabs(
    [
        t("results.tab_classes"),
        t("results.tab_confusion"),
        t("results.tab_curves"),
        t("results.tab_calibration"),
        t("results.tab_learning"),
        t("results.tab_threshold"),
        t("results.tab_feedback"),
    ]
)

with tabs[0]:
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

with tabs[1]:
    st.caption(t("results.cm_help"))
    true_key, pred_key, seen_key = f"err_true_{run_id}", f"err_pred_{run_id}", f"cm_seen_{run_id}"
    left, right = st.columns(2)
    with left:
        event = st.plotly_chart(
            confusion_figure(
                result.confusion_matrix,
                result.classes,
                title=t("results.cm_counts"),
                x_title=t("results.cm_x"),
                y_title=t("results.cm_y"),
            ),
            key=f"cm_counts_{run_id}",
            on_select="rerun",
            selection_mode="points",
        )
    with right:
        st.plotly_chart(
            confusion_figure(
                result.confusion_normalized,
                result.classes,
                percent=True,
                title=t("results.cm_normalized"),
                x_title=t("results.cm_x"),
                y_title=t("results.cm_y"),
            ),
            key=f"cm_norm_{run_id}",
        )
    points = event.get("selection", {}).get("points", []) if event else []
    if points:
        cell = (str(points[0].get("y")), str(points[0].get("x")))
        # Apply a click once: afterwards the selectboxes stay free to change.
        if st.session_state.get(seen_key) != cell and cell[0] in result.classes:
            st.session_state[seen_key] = cell
            st.session_state[true_key], st.session_state[pred_key] = cell
    st.markdown(f"**{t('results.errors')}**")
    choices = [""] + list(result.classes)
    show = lambda c: c or t("results.any")  # noqa: E731
    left, right = st.columns(2)
    true_label = left.selectbox(t("results.true_filter"), choices, format_func=show, key=true_key)
    pred_label = right.selectbox(t("results.pred_filter"), choices, format_func=show, key=pred_key)
    try:
        preds = cached_test_predictions(run_id, run_version(run))
    except SlmError as exc:  # the evaluation is cached, but the run's files are gone
        st.warning(error_text(exc), icon=":material/warning:")
        preds = None
    if preds is not None:
        show_errors(preds, true_label, pred_label)

with tabs[2]:
    st.caption(t("results.curves_help"))
    if result.roc:
        auc = f"{result.roc_auc_macro:.3f}" if result.roc_auc_macro is not None else "–"
        ap = (
            f"{result.average_precision_macro:.3f}"
            if result.average_precision_macro is not None
            else "–"
        )
        st.markdown(t("results.auc_macro", auc=auc, ap=ap))
        left, right = st.columns(2)
        left.plotly_chart(
            roc_figure(
                result.roc,
                title=t("results.roc_title"),
                x_title=t("results.fpr"),
                y_title=t("results.tpr"),
                chance=t("results.chance"),
            ),
            key=f"roc_{run_id}",
        )
        right.plotly_chart(
            pr_figure(
                result.pr,
                title=t("results.pr_title"),
                x_title=t("results.recall"),
                y_title=t("results.precision"),
            ),
            key=f"pr_{run_id}",
        )
    else:
        st.info(t("results.no_curves"))

with tabs[3]:
    st.caption(t("results.calibration_help"))
    st.metric(
        t("results.ece"),
        f"{result.ece:.3f}",
        help=t("results.ece_help", ece15=f"{result.ece_15:.3f}"),
    )
    st.plotly_chart(
        reliability_figure(
            result.calibration,
            title=t("results.calibration_title"),
            x_title=t("results.confidence_axis"),
            y_title=t("results.accuracy_axis"),
            count_title=t("results.count_axis"),
            perfect=t("results.perfect"),
        ),
        key=f"reliability_{run_id}",
    )

with tabs[4]:
    st.caption(t("results.learning_help"))
    curves = result.learning_curves or run.history or {}
    if len(curves.get("loss") or []) > 1:
        st.plotly_chart(
            history_figure(curves, t("results.loss"), t("results.accuracy")),
            key=f"learning_{run_id}",
        )
    else:
        st.info(t("results.learning_linear"))

with tabs[5]:
    threshold = st.slider(
        t("results.threshold"),
        0.0,
        1.0,
        0.8,
        0.01,
        format="%.2f",
        key=f"threshold_{run_id}",
        help=t("results.threshold_help"),
    )
    point = result.coverage.at(threshold)
    if point.n == 0 or point.accuracy is None:
        st.markdown(t("results.threshold_none", x=f"{threshold:.0%}"))
    else:
        st.markdown(
            t(
                "results.threshold_sentence",
                x=f"{threshold:.0%}",
                y=f"{point.coverage:.1%}",
                z=f"{point.accuracy:.1%}",
                rest=f"{1 - point.coverage:.1%}",
            )
        )
    st.plotly_chart(
        coverage_figure(
            result.coverage,
            threshold,
            x_title=t("results.threshold_axis"),
            coverage_title=t("results.coverage_axis"),
            accuracy_title=t("results.accuracy_axis"),
        ),
        key=f"coverage_{run_id}",
    )

with tabs[6]:
    st.caption(t("results.feedback_help"))
    for r in runs:
        st.markdown("- " + feedback_line(labels[r.id], stats.get(r.id)))
