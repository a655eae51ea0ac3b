"""The Results page's Plotly figures, built once per run, language (and threshold) per server.

A run's figures only change when the run does (``version``: when it finished) or when the
interface language does, so a second visit to Results, another session, or a click elsewhere on
the page reuses them instead of building about seven figures again (100-200 ms each here). The
page draws only its open tab, so a tab's figures are first built when the tab is first opened.

They are kept with ``st.cache_resource``, not ``st.cache_data``: a hit on ``cache_data``
unpickles the figure, and unpickling a Plotly figure validates every property again, about a
third of building it. ``st.plotly_chart`` only reads a figure (it copies it with ``to_dict``),
and nothing here changes one after it is built: never mutate what these return.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from slm_core.i18n import t as translate
from slm_core.report.charts import confusion_figure
from ui.charts import history_figure
from ui.results_charts import coverage_figure, pr_figure, reliability_figure, roc_figure
from ui.results_widgets import cached_evaluation

# Per (run, version, language): a few runs in two languages. The coverage chart is also per
# threshold (a slider in steps of 0.01), so it keeps more.
MAX_RUN_FIGURES = 64
MAX_COVERAGE_FIGURES = 128


@st.cache_resource(show_spinner=False, max_entries=MAX_RUN_FIGURES)
def confusion_figures(run_id: int, version: str, lang: str) -> tuple[go.Figure, go.Figure]:
    """The confusion matrix as counts (clickable cells) and as row shares."""
    result = cached_evaluation(run_id, version)
    counts = confusion_figure(
        result.classes,
        result.confusion_matrix,
        lang,
        title=translate("results.cm_counts", lang),
        clickable=True,
    )
    shares = confusion_figure(
        result.classes,
        result.confusion_normalized,
        lang,
        title=translate("results.cm_normalized", lang),
        percent=True,
    )
    return counts, shares


@st.cache_resource(show_spinner=False, max_entries=MAX_RUN_FIGURES)
def curve_figures(run_id: int, version: str, lang: str) -> tuple[go.Figure, go.Figure]:
    """One-vs-rest ROC and precision-recall curves (call only when the run has curves)."""
    result = cached_evaluation(run_id, version)
    roc = roc_figure(
        result.roc,
        title=translate("results.roc_title", lang),
        x_title=translate("results.fpr", lang),
        y_title=translate("results.tpr", lang),
        chance=translate("results.chance", lang),
    )
    pr = pr_figure(
        result.pr,
        title=translate("results.pr_title", lang),
        x_title=translate("results.recall", lang),
        y_title=translate("results.precision", lang),
    )
    return roc, pr


@st.cache_resource(show_spinner=False, max_entries=MAX_RUN_FIGURES)
def calibration_chart(run_id: int, version: str, lang: str) -> go.Figure:
    """The reliability diagram."""
    result = cached_evaluation(run_id, version)
    return reliability_figure(
        result.calibration,
        title=translate("results.calibration_title", lang),
        x_title=translate("results.confidence_axis", lang),
        y_title=translate("results.accuracy_axis", lang),
        count_title=translate("results.count_axis", lang),
        perfect=translate("results.perfect", lang),
    )


@st.cache_resource(show_spinner=False, max_entries=MAX_COVERAGE_FIGURES)
def coverage_chart(run_id: int, version: str, lang: str, threshold: float) -> go.Figure:
    """Coverage and accuracy over the confidence threshold, ``threshold`` marked."""
    result = cached_evaluation(run_id, version)
    return coverage_figure(
        result.coverage,
        threshold,
        x_title=translate("results.threshold_axis", lang),
        coverage_title=translate("results.coverage_axis", lang),
        accuracy_title=translate("results.accuracy_axis", lang),
    )


@st.cache_resource(show_spinner=False, max_entries=MAX_RUN_FIGURES)
def learning_chart(run_id: int, version: str, lang: str, _curves: dict) -> go.Figure:
    """Loss and accuracy per epoch. ``_curves`` (the run's stored history) is not hashed: it
    belongs to this run and version."""
    return history_figure(
        _curves, translate("results.loss", lang), translate("results.accuracy", lang)
    )
