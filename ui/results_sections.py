"""Sections of the Results page: the paired comparison, the error browser and per-model tabs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from slm_core.errors import SlmError
from slm_core.escape import md_text
from slm_core.evaluate import roc_auc_note
from slm_core.i18n import format_number
from slm_core.llm import is_llm_run
from slm_core.mcnemar import McNemarResult, mcnemar, mcnemar_verdict, paired_predictions
from ui.results_figures import (
    calibration_chart,
    confusion_figures,
    coverage_chart,
    curve_figures,
)
from ui.results_widgets import (
    cached_measurement,
    cached_sample_comparisons,
    cached_test_predictions,
    errors_frame,
    format_ci_pct,
    run_version,
    same_texts_frame,
)
from ui.state import error_text, lang, t

# The per-model tabs, in order (catalogue keys). Only the open one is drawn; which one is open is
# kept per language under ``DETAIL_TABS_KEY`` (its state is the tab's label).
DETAIL_TABS = (
    "results.tab_classes",
    "results.tab_confusion",
    "results.tab_curves",
    "results.tab_calibration",
    "results.tab_learning",
    "results.tab_threshold",
    "results.tab_feedback",
)
DETAIL_TABS_KEY = "results.tabs.{lang}"


def threshold_slider_key(run_id: int) -> str:
    """The confidence threshold slider of a run's threshold tab."""
    return f"threshold_{run_id}"


def error_filter_keys(run_id: int) -> tuple[str, str]:
    """The error browser's filters (true label, predicted label) in a run's confusion tab."""
    return f"err_true_{run_id}", f"err_pred_{run_id}"


def _answers(run):
    """A run's test answers: a small model's stored predictions, or an LLM measurement (its
    sample's texts, truth and labels), both with ``texts``, ``y_true`` and ``y_pred``."""
    if is_llm_run(run):
        return cached_measurement(run.id, run_version(run))
    return cached_test_predictions(run.id, run_version(run))


@st.cache_data(show_spinner=False, max_entries=32)
def cached_pairing(_run_a, _run_b, key: tuple) -> tuple[McNemarResult | None, int, int]:
    """(McNemar's test, texts paired, run A's test texts) of two runs on the test texts they
    share; no test when they share none. ``key``: both runs' ids and versions. On a large
    test split, reading both runs' answers and pairing them took ~0.3 s at every visit."""
    preds_a, preds_b = _answers(_run_a), _answers(_run_b)
    y, pa, pb = paired_predictions(preds_a, preds_b)
    return (mcnemar(y, pa, pb) if y else None), len(y), len(preds_a.texts)


def show_comparison(
    a_id: int, b_id: int, by_id: Mapping[int, Any], labels: Mapping[int, str]
) -> None:
    """McNemar's test between two runs on their shared test texts, with a plain verdict (an
    LLM measurement is paired on the sampled texts it answered)."""
    run_a, run_b = by_id[a_id], by_id[b_id]
    key = (a_id, run_version(run_a), b_id, run_version(run_b))
    try:
        test, paired, texts_a = cached_pairing(run_a, run_b, key)
    except SlmError as exc:  # e.g. the run's files were deleted by hand
        st.warning(error_text(exc), icon=":material/warning:")
        return
    if test is None:
        st.warning(t("results.no_overlap"))
        return
    if is_llm_run(run_a) or is_llm_run(run_b):
        st.caption(t("results.llm_paired", n=format_number(paired, lang())))
    elif paired < texts_a:
        st.caption(t("results.different_tests", n=f"{paired:,}"))
    # Run labels may quote user text (an LLM's model name): inert in Markdown.
    name_a, name_b = md_text(labels[a_id], exact=False), md_text(labels[b_id], exact=False)
    verdict = mcnemar_verdict(test, name_a, name_b, lang())
    (st.success if test.better() else st.info)(verdict, icon=":material/balance:")
    cols = st.columns(4)
    cols[0].metric(name_a, f"{test.accuracy_a:.1%}")
    cols[1].metric(name_b, f"{test.accuracy_b:.1%}")
    cols[2].metric(t("results.only_a"), f"{test.only_a:,}")
    cols[3].metric(t("results.only_b"), f"{test.only_b:,}")


def llm_same_texts(measured: Mapping[int, Any], by_id: Mapping[int, Any], runs, labels) -> None:
    """The LLM and each small model on the very texts the LLM answered: accuracies with their
    intervals, McNemar's verdict, and the answers that could not count.

    ``measured``: run id -> LLMMeasurement, newest first; ``by_id``: run id -> run record.
    """
    st.subheader(t("results.llm_title"), help=t("results.llm_help"))
    ids = list(measured)
    llm_id = ids[0]
    if len(ids) > 1:  # any finished measurement can be looked at; the newest first
        llm_id = st.selectbox(
            t("results.llm_pick"), ids, format_func=labels.get, key="results_llm_run"
        )
    m = measured[llm_id]
    st.markdown(
        t(
            "results.llm_line",
            llm=md_text(m.label),
            n=format_number(m.n, lang()),
            test=format_number(m.test_size, lang()),
            acc=f"{m.accuracy:.1%}",
            ci=format_ci_pct(m.accuracy_ci),
        )
    )
    if m.stopped == "budget":
        st.warning(t("results.llm_budget", n=m.n, planned=m.n_planned), icon=":material/savings:")
    try:
        comparisons = cached_sample_comparisons(
            llm_id, run_version(by_id[llm_id]), tuple((r.id, run_version(r)) for r in runs)
        )
    except SlmError as exc:
        st.warning(error_text(exc), icon=":material/warning:")
        return
    frame = same_texts_frame(m, comparisons, labels)
    if frame.empty:
        st.info(t("results.llm_no_overlap"))
    else:
        pct = st.column_config.NumberColumn(format="percent")
        st.dataframe(
            frame,
            hide_index=True,
            key=f"results_llm_same_{m.run_id}",
            column_config={
                t("results.llm_col_small"): pct,
                t("results.llm_col_llm", llm=m.label): pct,
                t("results.llm_col_p"): st.column_config.NumberColumn(format="%.3g"),
                t("results.llm_col_verdict"): st.column_config.TextColumn(width="large"),
            },
        )
    missing = max((c.missing for c in comparisons), default=0)
    if missing:
        st.caption(t("results.llm_missing", n=missing))
    st.caption(
        t(
            "results.llm_unparseable",
            unparseable=m.unparseable,
            failed=m.failed_calls,
            n=format_number(m.n, lang()),
        )
    )


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


def confusion_tab(result, run) -> None:
    """Confusion matrices (counts clickable) and the misclassified texts of the chosen cell."""
    run_id = run.id
    st.caption(t("results.cm_help"))
    (true_key, pred_key), seen_key = error_filter_keys(run_id), f"cm_seen_{run_id}"
    left, right = st.columns(2)
    # Built once per run, version and language (ui.results_figures), not on every run.
    counts, shares = confusion_figures(run_id, run_version(run), lang())
    event = left.plotly_chart(
        counts, key=f"cm_counts_{run_id}", on_select="rerun", selection_mode="points"
    )
    right.plotly_chart(shares, key=f"cm_norm_{run_id}")
    points = event.get("selection", {}).get("points", []) if event else []
    picked = (points[0].get("customdata") or []) if points else []
    if len(picked) >= 2:  # [true label, predicted label, cell text] of the clicked cell
        cell = (str(picked[0]), str(picked[1]))
        # Apply a click once: afterwards the selectboxes stay free to change.
        if st.session_state.get(seen_key) != cell and cell[0] in result.classes:
            st.session_state[seen_key] = cell
            st.session_state[true_key], st.session_state[pred_key] = cell
    st.markdown(f"**{t('results.errors')}**")
    choices = [""] + list(result.classes)
    anything = t("results.any")  # read now: a format_func may be called outside the run
    show = lambda c: c or anything  # noqa: E731
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


def curves_tab(result, run) -> None:
    """One-vs-rest ROC and precision-recall curves with their macro averages."""
    run_id = run.id
    st.caption(t("results.curves_help"))
    if result.roc:
        auc = f"{result.roc_auc_macro:.3f}" if result.roc_auc_macro is not None else "–"
        ap = (
            f"{result.average_precision_macro:.3f}"
            if result.average_precision_macro is not None
            else "–"
        )
        st.markdown(t("results.auc_macro", auc=auc, ap=ap))
        note = roc_auc_note(result, lang())
        if note:
            st.caption(note)
        left, right = st.columns(2)
        roc, pr = curve_figures(run_id, run_version(run), lang())
        left.plotly_chart(roc, key=f"roc_{run_id}")
        right.plotly_chart(pr, key=f"pr_{run_id}")
    else:
        st.info(t("results.no_curves"))


def calibration_tab(result, run) -> None:
    """Expected calibration error and the reliability diagram."""
    st.caption(t("results.calibration_help"))
    st.metric(
        t("results.ece"),
        f"{result.ece:.3f}",
        help=t("results.ece_help", ece15=f"{result.ece_15:.3f}"),
    )
    st.plotly_chart(
        calibration_chart(run.id, run_version(run), lang()), key=f"reliability_{run.id}"
    )


def threshold_tab(result, run) -> None:
    """Coverage and accuracy at a chosen confidence threshold, in a sentence and a chart."""
    run_id = run.id
    threshold = st.slider(
        t("results.threshold"),
        0.0,
        1.0,
        0.8,
        0.01,
        format="%.2f",
        key=threshold_slider_key(run_id),
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
        coverage_chart(run_id, run_version(run), lang(), float(threshold)),
        key=f"coverage_{run_id}",
    )
