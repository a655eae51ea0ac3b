"""Cached loaders and table/HTML builders shared by the Results and Playground pages."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import streamlit as st

from slm_core.llm.measurement import LABEL_PREFIX
from slm_core.value.inputs import run_label
from ui.state import get_store, lang, t

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


@st.cache_data(show_spinner=False, max_entries=16)
def cached_measurement(run_id: int, version: str):
    """An LLM measurement's figures (``LLMMeasurement``), read once per finished version."""
    from slm_core.llm.measurement import load_measurement

    return load_measurement(get_store(), run_id)


@st.cache_data(show_spinner=False, max_entries=16)
def cached_sample_comparisons(llm_id: int, llm_version: str, runs: tuple[tuple[int, str], ...]):
    """Every small model of ``runs`` ((run id, version) pairs) scored on the LLM's sample,
    paired with it (``SampleComparison`` each)."""
    from slm_core.llm.measurement import compare_runs_on_sample

    store = get_store()
    m = cached_measurement(llm_id, llm_version)
    return compare_runs_on_sample(store, m, [store.get_run(run_id) for run_id, _ in runs])


def format_ci(ci: Sequence[float]) -> str:
    lo, hi = ci
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "–"
    return f"{lo:.3f} – {hi:.3f}"


def format_ci_pct(ci: Sequence[float]) -> str:
    """'82.2% – 91.5%' (as the verdicts and the LLM's sentences write an interval)."""
    lo, hi = ci
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "–"
    return f"{lo:.1%} – {hi:.1%}"


def leaderboard_frame(
    runs,
    evaluations: Mapping[int, object],
    stats: Mapping[int, object],
    measurements: Sequence = (),
):
    """One row per evaluated run with every headline metric (numbers stay numeric to sort),
    then one per LLM measurement, all ranked by accuracy.

    An LLM row holds what was measured on its sample (``Test texts`` says how many); what does
    not apply to an API — calibration, training time, size — stays empty.
    """
    rows = []
    for m in measurements:
        rows.append(_llm_row(m))
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
                t("results.col_n"): ev.n,
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
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    # Best first, as the paired comparison's default; ties by run id.
    order = frame.sort_values(
        [t("results.col_accuracy"), t("results.col_run")], ascending=[False, True], kind="stable"
    )
    return order.reset_index(drop=True)


def _llm_row(m) -> dict:
    """An LLM measurement as a leaderboard row, with its metrics over the labels on its sample."""
    from slm_core.llm.measurement import sample_scores

    scores = sample_scores(m)
    return {
        t("results.col_run"): m.run_id,
        t("results.col_model"): m.label,
        t("results.col_preset"): "",
        t("results.col_accuracy"): m.accuracy,
        t("results.col_accuracy_ci"): format_ci(m.accuracy_ci),
        t("results.col_n"): m.n,
        t("results.col_balanced"): scores["balanced_accuracy"],
        t("results.col_macro_p"): scores["macro_precision"],
        t("results.col_macro_r"): scores["macro_recall"],
        t("results.col_macro_f1"): scores["macro_f1"],
        t("results.col_macro_f1_ci"): "",
        t("results.col_weighted_p"): scores["weighted_precision"],
        t("results.col_weighted_r"): scores["weighted_recall"],
        t("results.col_weighted_f1"): scores["weighted_f1"],
        t("results.col_ece"): None,
        t("results.col_train_s"): None,
        t("results.col_size_mb"): None,
        t("results.col_rated"): None,
        t("results.col_share_right"): None,
    }


def same_texts_frame(m, comparisons: Sequence, labels: Mapping[int, str]) -> pd.DataFrame:
    """Each small model and the LLM on the texts both answered: accuracies with their Wilson
    intervals, the texts only one got right, and McNemar's verdict in a sentence."""
    from slm_core.mcnemar import mcnemar_verdict

    rows = []
    for c in comparisons:
        if not c.n:  # no sampled text in this run's test split: nothing to pair
            continue
        name = labels.get(c.run_id, run_label(c.run_id, c.model_id))
        rows.append(
            {
                t("results.col_model"): name,
                t("results.llm_col_n"): c.n,
                t("results.llm_col_small"): c.accuracy,
                t("results.llm_col_small_ci"): format_ci(c.accuracy_ci),
                t("results.llm_col_llm", llm=m.label): c.llm_accuracy,
                t("results.llm_col_llm_ci"): format_ci(c.llm_accuracy_ci),
                t("results.llm_col_only_small"): c.test.only_a,
                t("results.llm_col_only_llm"): c.test.only_b,
                t("results.llm_col_p"): c.test.p_value,
                t("results.llm_col_verdict"): mcnemar_verdict(c.test, name, m.label, lang()),
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
    counts = [t(k) for k in ("results.col_n", "results.col_rated") if t(k) in frame.columns]
    styler = styler.format("{:,.0f}", subset=counts, na_rep="–")
    # The best small model is marked; an LLM row is scored on its sample, not the whole test
    # split, so it is not in the running for "best" on these columns.
    small = frame.index[~frame[t("results.col_model")].astype(str).str.startswith(LABEL_PREFIX)]
    if len(small) > 1:
        styler = styler.highlight_max(subset=pd.IndexSlice[small, higher], props=BEST_STYLE)
        styler = styler.highlight_min(subset=pd.IndexSlice[small, lower], props=BEST_STYLE)
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
