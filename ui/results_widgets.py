"""Cached loaders and table/HTML builders shared by the Results and Playground pages."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import streamlit as st

from slm_core.value.inputs import run_label
from ui.state import get_store, t

# Columns where higher is better / lower is better, by catalogue key.
HIGHER_BETTER = (
    "results.col_accuracy",
    "results.col_balanced",
    "results.col_macro_p",
    "results.col_macro_r",
    "results.col_macro_f1",
    "results.col_weighted_p",
    "results.col_weighted_r",
    "results.col_weighted_f1",
    "results.col_share_right",
)
LOWER_BETTER = ("results.col_ece", "results.col_train_s", "results.col_size_mb")
BEST_STYLE = "background-color: rgba(34,197,94,0.22); font-weight: 600"
MAX_ERROR_ROWS = 500


def run_version(run) -> str:
    """Cache key part that changes when a run id is reused or a run is retrained."""
    return run.finished_at.isoformat() if run.finished_at else ""


def run_name(run) -> str:
    """A run's name in selectboxes and tables: the core's ``run_label`` ('#3 tfidf_lr') and
    its preset ('#3 tfidf_lr · quick')."""
    preset = f" · {t('preset.' + run.preset)}" if run.preset else ""
    return f"{run_label(run.id, run.model_id)}{preset}"


@st.cache_data(show_spinner=False, max_entries=64)
def cached_evaluation(run_id: int, version: str):
    """The run's EvalResult (computed once, then read from the run store)."""
    from slm_core.evaluate import evaluate_run

    return evaluate_run(get_store(), run_id)


@st.cache_data(show_spinner=False, max_entries=16)
def cached_test_predictions(run_id: int, version: str):
    """The run's TestPredictions (texts, truth, predictions, probabilities)."""
    from slm_core.train import load_test_predictions

    return load_test_predictions(get_store(), run_id)


@st.cache_resource(show_spinner=False, max_entries=16)
def load_run_model(run_id: int, version: str):
    """A run's trained model, loaded once per server process (Keras imports TensorFlow here)."""
    from slm_core.models.registry import load_model
    from slm_core.train import MODEL_SUBDIR

    model = load_model(Path(get_store().artifact_dir(run_id)) / MODEL_SUBDIR)
    # The first call builds graphs and caches; do it now so measured times are steady-state.
    model.predict_proba(["warm up"])
    return model


def format_ci(ci: Sequence[float]) -> str:
    lo, hi = ci
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "–"
    return f"{lo:.3f} – {hi:.3f}"


def leaderboard_frame(runs, evaluations: Mapping[int, object], stats: Mapping[int, object]):
    """One row per evaluated run with every headline metric (numbers stay numeric to sort)."""
    rows = []
    for run in runs:
        ev = evaluations.get(run.id)
        if ev is None:
            continue
        fb = stats.get(run.id)
        size = run.measured.model_size_bytes
        rows.append(
            {
                t("results.col_run"): run.id,
                t("results.col_model"): run.model_id,
                t("results.col_preset"): t("preset." + run.preset) if run.preset else "",
                t("results.col_accuracy"): ev.accuracy,
                t("results.col_accuracy_ci"): format_ci(ev.accuracy_ci),
                t("results.col_balanced"): ev.balanced_accuracy,
                t("results.col_macro_p"): ev.macro_precision,
                t("results.col_macro_r"): ev.macro_recall,
                t("results.col_macro_f1"): ev.macro_f1,
                t("results.col_macro_f1_ci"): format_ci(ev.macro_f1_ci),
                t("results.col_weighted_p"): ev.weighted_precision,
                t("results.col_weighted_r"): ev.weighted_recall,
                t("results.col_weighted_f1"): ev.weighted_f1,
                t("results.col_ece"): ev.ece,
                t("results.col_train_s"): run.train_seconds,
                t("results.col_size_mb"): size / 1e6 if size is not None else None,
                t("results.col_rated"): fb.rated if fb else 0,
                t("results.col_share_right"): fb.share_right if fb else None,
            }
        )
    return pd.DataFrame(rows)


def style_leaderboard(frame: pd.DataFrame):
    """The leaderboard with the best value of each metric column highlighted."""
    higher = [t(k) for k in HIGHER_BETTER if t(k) in frame.columns]
    lower = [t(k) for k in LOWER_BETTER if t(k) in frame.columns]
    numeric = higher + lower
    styler = frame.style.format("{:.3f}", subset=numeric, na_rep="–")
    styler = styler.format(
        "{:.2f}", subset=[t("results.col_train_s"), t("results.col_size_mb")], na_rep="–"
    )
    if len(frame) > 1:
        styler = styler.highlight_max(subset=higher, props=BEST_STYLE)
        styler = styler.highlight_min(subset=lower, props=BEST_STYLE)
    return styler


def per_class_frame(result) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                t("results.class"): c.label,
                t("results.precision"): c.precision,
                t("results.recall"): c.recall,
                t("results.f1"): c.f1,
                t("results.support"): c.support,
            }
            for c in result.per_class
        ]
    )


def errors_frame(preds, true_label: str | None = None, pred_label: str | None = None):
    """Misclassified test texts (confident mistakes first) and the total number of errors."""
    confidence = preds.proba.max(axis=1) if len(preds.texts) else []
    frame = pd.DataFrame(
        {
            t("results.true_filter"): preds.y_true,
            t("results.pred_filter"): preds.y_pred,
            t("results.confidence"): confidence,
            t("results.text"): preds.texts,
        }
    )
    wrong = frame[frame[t("results.true_filter")] != frame[t("results.pred_filter")]]
    total = len(wrong)
    if true_label:
        wrong = wrong[wrong[t("results.true_filter")] == true_label]
    if pred_label:
        wrong = wrong[wrong[t("results.pred_filter")] == pred_label]
    wrong = wrong.sort_values(t("results.confidence"), ascending=False, kind="stable")
    return wrong.head(MAX_ERROR_ROWS).reset_index(drop=True), len(wrong), total


def highlight_html(text: str, attributions: Sequence) -> str:
    """``text`` with each token's background tinted by its weight (green +, red −), escaped.

    Every piece of user text goes through ``html.escape`` before it is put between tags.
    """
    scale = max((abs(a.weight) for a in attributions), default=0.0) or 1.0
    pieces, last = [], 0
    for a in attributions:
        pieces.append(html.escape(text[last : a.start]))
        strength = min(1.0, abs(a.weight) / scale)
        token = html.escape(a.token)
        if strength < 0.02:
            pieces.append(token)
        else:
            rgb = "22,163,74" if a.weight > 0 else "220,38,38"
            pieces.append(
                f'<span style="background:rgba({rgb},{0.12 + 0.5 * strength:.2f});'
                f'border-radius:3px;padding:0 1px" title="{a.weight:+.4f}">{token}</span>'
            )
        last = a.end
    pieces.append(html.escape(text[last:]))
    return '<div style="line-height:1.9;white-space:pre-wrap">' + "".join(pieces) + "</div>"


def proba_frame(classes: Sequence[str], proba: Sequence[float]) -> pd.DataFrame:
    """Labels and probabilities, most probable first."""
    frame = pd.DataFrame(
        {t("playground.label"): list(classes), t("playground.proba"): [float(p) for p in proba]}
    )
    return frame.sort_values(t("playground.proba"), ascending=False).reset_index(drop=True)


def feedback_line(label: str, stats) -> str:
    """'model: N answers rated, X% rated right' or 'no feedback yet'."""
    if stats is None or not stats.rated:
        return t("results.no_feedback", model=label)
    return t(
        "results.feedback_line", model=label, rated=stats.rated, share=f"{stats.share_right:.0%}"
    )
