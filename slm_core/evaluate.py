"""Evaluation a manager can trust: metrics with confidence intervals, per class and overall.

Curves and calibration are in :mod:`slm_core.curves`, the paired test in :mod:`slm_core.mcnemar`.
Everything here is pure: arrays in, typed results out, but for the store glue at the end:
``store_evaluation`` computes a run's evaluation and stores it as the run's 'evaluation'
result (the training job does so as a run finishes), ``evaluate_run`` reads it back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from slm_core.curves import (
    Calibration,
    CoverageCurve,
    calibration,
    coverage_curve,
    finite_or_none,
    prepare_predictions,
    roc_pr_curves,
)
from slm_core.resample import bca_interval, index_chunks, wilson_interval

EVALUATION_KIND = "evaluation"
# Bump when the stored evaluation's shape or meaning changes, so old cached results are recomputed.
# 2: Wilson accuracy and BCa macro-F1 intervals; the macro ROC AUC / AP leave out unseen labels.
EVALUATION_VERSION = 2


# --------------------------------------------------------------------- confusion


def confusion_counts(true_idx: np.ndarray, pred_idx: np.ndarray, k: int) -> np.ndarray:
    """Confusion matrix ``(k, k)``: rows are true classes, columns predicted classes."""
    flat = np.asarray(true_idx) * k + np.asarray(pred_idx)
    return np.bincount(flat, minlength=k * k).reshape(k, k)


def _f1_from_confusions(cm: np.ndarray) -> np.ndarray:
    """Macro-F1 of a stack of confusion matrices ``(..., k, k)``.

    Like scikit-learn's default, a class counts only where it occurs in the truth or the
    predictions, and an undefined F1 is 0.
    """
    tp = np.diagonal(cm, axis1=-2, axis2=-1).astype(float)
    rows, cols = cm.sum(axis=-1), cm.sum(axis=-2)
    denom = (rows + cols).astype(float)
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    present = denom > 0
    return f1.sum(axis=-1) / np.maximum(present.sum(axis=-1), 1)


def _per_class(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    tp = np.diag(cm).astype(float)
    support, predicted = cm.sum(axis=1).astype(float), cm.sum(axis=0).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    s = precision + recall
    f1 = np.divide(2 * precision * recall, s, out=np.zeros_like(tp), where=s > 0)
    return precision, recall, f1, support


# --------------------------------------------------------------------- intervals


def accuracy_interval(
    true_idx: np.ndarray, pred_idx: np.ndarray, level: float = 0.95
) -> tuple[float, float]:
    """Wilson score interval of the accuracy: the one home of every accuracy interval shown.

    Accuracy is a proportion of right answers, so it needs no resampling, and Wilson's interval
    keeps a lower end below 1 when every test text is right (the percentile bootstrap gave
    [1, 1] for 18 of 18).
    """
    n = len(true_idx)
    right = int(np.count_nonzero(np.asarray(true_idx) == np.asarray(pred_idx)))
    return wilson_interval(right, n, level)


def macro_f1_jackknife(true_idx: np.ndarray, pred_idx: np.ndarray, k: int) -> np.ndarray:
    """Macro-F1 with each test item left out once (length n), for the BCa acceleration.

    Leaving item i out only lowers its (true, predicted) cell of the confusion matrix by one, so
    there are at most k² distinct values: one F1 per occupied cell, then looked up per item.
    """
    true_idx, pred_idx = np.asarray(true_idx), np.asarray(pred_idx)
    cm = confusion_counts(true_idx, pred_idx, k)
    cells = np.flatnonzero(cm)
    stack = np.repeat(cm.reshape(1, k * k), len(cells), axis=0)
    stack[np.arange(len(cells)), cells] -= 1
    by_cell = np.zeros(k * k)
    by_cell[cells] = _f1_from_confusions(stack.reshape(-1, k, k))
    return by_cell[true_idx * k + pred_idx]


def bootstrap_macro_f1(
    true_idx: np.ndarray, pred_idx: np.ndarray, k: int, *, n_boot: int = 1000, seed: int = 0
) -> np.ndarray:
    """Macro-F1 on each of ``n_boot`` resamples of the test items (the shared resampling)."""
    n = len(true_idx)
    f1s = np.empty(n_boot)
    flat = np.asarray(true_idx) * k + np.asarray(pred_idx)
    for start, stop, idx in index_chunks(n, n_boot, seed):
        offsets = (np.arange(stop - start) * k * k)[:, None]
        cms = np.bincount((flat[idx] + offsets).ravel(), minlength=(stop - start) * k * k)
        f1s[start:stop] = _f1_from_confusions(cms.reshape(stop - start, k, k))
    return f1s


def metric_intervals(
    true_idx: np.ndarray,
    pred_idx: np.ndarray,
    k: int,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Intervals of the headline metrics: Wilson for accuracy, BCa bootstrap for macro-F1.

    Macro-F1 is not a proportion of items, so it is resampled; BCa corrects the percentile
    interval's bias and skew near the boundary. It is NaN where the resamples cannot vary (no
    error at all, or no resamples asked for).
    """
    true_idx, pred_idx = np.asarray(true_idx), np.asarray(pred_idx)
    n = len(true_idx)
    accuracy = accuracy_interval(true_idx, pred_idx, level)
    if n == 0 or n_boot <= 0:
        return {"accuracy": accuracy, "macro_f1": (math.nan, math.nan)}
    estimate = float(_f1_from_confusions(confusion_counts(true_idx, pred_idx, k)))
    f1 = bca_interval(
        bootstrap_macro_f1(true_idx, pred_idx, k, n_boot=n_boot, seed=seed),
        estimate,
        macro_f1_jackknife(true_idx, pred_idx, k),
        level,
    )
    return {"accuracy": accuracy, "macro_f1": f1}


# ------------------------------------------------------------------------ result


@dataclass(frozen=True)
class ClassMetrics:
    """Precision, recall, F1 and test support of one class."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EvalResult:
    """The full evaluation of one model on one test set (plain JSON-ready values).

    ``confusion_matrix[i][j]`` counts items of true class ``classes[i]`` predicted as
    ``classes[j]``; ``confusion_normalized`` divides each row by its total (recall on the
    diagonal). ``roc_auc_excluded`` names the test labels the model never saw: it has no
    probability for them, so their ROC AUC would be chance by construction and they are left out
    of ``roc_auc_macro`` and ``average_precision_macro``.
    """

    classes: list[str]
    n: int
    accuracy: float
    accuracy_ci: tuple[float, float]
    balanced_accuracy: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    macro_f1_ci: tuple[float, float]
    weighted_precision: float
    weighted_recall: float
    weighted_f1: float
    majority_rate: float
    per_class: list[ClassMetrics]
    confusion_matrix: list[list[int]]
    confusion_normalized: list[list[float]]
    roc: dict[str, dict]
    pr: dict[str, dict]
    roc_auc_macro: float | None
    average_precision_macro: float | None
    calibration: Calibration
    ece: float  # top-label ECE, 10 equal-width bins
    ece_15: float  # the same with 15 bins, as often reported in the literature
    coverage: CoverageCurve
    n_boot: int
    seed: int
    learning_curves: dict[str, list[float | None]] = field(default_factory=dict)
    run_id: int | None = None
    roc_auc_excluded: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (lists, floats, None for undefined values)."""
        return {
            "version": EVALUATION_VERSION,
            "run_id": self.run_id,
            "classes": list(self.classes),
            "n": self.n,
            "accuracy": self.accuracy,
            "accuracy_ci": [finite_or_none(v) for v in self.accuracy_ci],
            "balanced_accuracy": self.balanced_accuracy,
            "macro_precision": self.macro_precision,
            "macro_recall": self.macro_recall,
            "macro_f1": self.macro_f1,
            "macro_f1_ci": [finite_or_none(v) for v in self.macro_f1_ci],
            "weighted_precision": self.weighted_precision,
            "weighted_recall": self.weighted_recall,
            "weighted_f1": self.weighted_f1,
            "majority_rate": self.majority_rate,
            "per_class": [c.to_dict() for c in self.per_class],
            "confusion_matrix": [list(map(int, row)) for row in self.confusion_matrix],
            "confusion_normalized": [list(map(float, r)) for r in self.confusion_normalized],
            "roc": self.roc,
            "pr": self.pr,
            "roc_auc_macro": finite_or_none(self.roc_auc_macro),
            "average_precision_macro": finite_or_none(self.average_precision_macro),
            "roc_auc_excluded": list(self.roc_auc_excluded),
            "calibration": self.calibration.to_dict(),
            "ece": self.ece,
            "ece_15": self.ece_15,
            "coverage": self.coverage.to_dict(),
            "learning_curves": self.learning_curves,
            "n_boot": self.n_boot,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvalResult:
        """Rebuild a result stored with :meth:`to_dict`."""

        def ci(values: Sequence[float | None]) -> tuple[float, float]:
            lo, hi = (math.nan if v is None else float(v) for v in values)
            return lo, hi

        return cls(
            classes=list(data["classes"]),
            n=int(data["n"]),
            accuracy=float(data["accuracy"]),
            accuracy_ci=ci(data["accuracy_ci"]),
            balanced_accuracy=float(data["balanced_accuracy"]),
            macro_precision=float(data["macro_precision"]),
            macro_recall=float(data["macro_recall"]),
            macro_f1=float(data["macro_f1"]),
            macro_f1_ci=ci(data["macro_f1_ci"]),
            weighted_precision=float(data["weighted_precision"]),
            weighted_recall=float(data["weighted_recall"]),
            weighted_f1=float(data["weighted_f1"]),
            majority_rate=float(data["majority_rate"]),
            per_class=[ClassMetrics(**c) for c in data["per_class"]],
            confusion_matrix=[list(r) for r in data["confusion_matrix"]],
            confusion_normalized=[list(r) for r in data["confusion_normalized"]],
            roc=dict(data["roc"]),
            pr=dict(data["pr"]),
            roc_auc_macro=data.get("roc_auc_macro"),
            average_precision_macro=data.get("average_precision_macro"),
            calibration=Calibration(**data["calibration"]),
            ece=float(data["ece"]),
            ece_15=float(data["ece_15"]),
            coverage=CoverageCurve.from_dict(data["coverage"]),
            n_boot=int(data["n_boot"]),
            seed=int(data["seed"]),
            learning_curves=dict(data.get("learning_curves") or {}),
            run_id=data.get("run_id"),
            # Absent in results stored before version 2 (which averaged every label).
            roc_auc_excluded=list(data.get("roc_auc_excluded") or []),
        )


def evaluate_predictions(
    y_true: Sequence[str],
    proba: np.ndarray,
    classes: Sequence[str],
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> EvalResult:
    """Evaluate class probabilities ``proba`` (columns in ``classes`` order) against the truth.

    The prediction is the most probable class. Precision/recall/F1 averages follow
    scikit-learn's defaults (classes present in the truth or the predictions, 0 when undefined).
    """
    known = {str(c) for c in classes}
    true_idx, proba, classes, pred_idx = prepare_predictions(y_true, proba, classes)
    n, k = len(true_idx), len(classes)
    if n == 0:
        raise ValueError("Cannot evaluate an empty test set.")
    cm = confusion_counts(true_idx, pred_idx, k)
    precision, recall, f1, support = _per_class(cm)
    present = (cm.sum(axis=1) + cm.sum(axis=0)) > 0
    with_support = support > 0
    weights = support / support.sum()
    row_totals = cm.sum(axis=1, keepdims=True).astype(float)
    normalized = np.divide(cm, row_totals, out=np.zeros(cm.shape), where=row_totals > 0)
    ci = metric_intervals(true_idx, pred_idx, k, n_boot=n_boot, seed=seed)
    roc, pr = roc_pr_curves(true_idx, proba, classes)
    unseen = [c for c in classes if c not in known]
    scored = [c for c in roc if c not in unseen]
    confidence = proba.max(axis=1)
    correct = true_idx == pred_idx
    cal10 = calibration(confidence, correct, 10)
    cal15 = calibration(confidence, correct, 15)
    return EvalResult(
        classes=list(classes),
        n=n,
        accuracy=float(correct.mean()),
        accuracy_ci=ci["accuracy"],
        balanced_accuracy=float(recall[with_support].mean()),
        macro_precision=float(precision[present].mean()),
        macro_recall=float(recall[present].mean()),
        macro_f1=float(f1[present].mean()),
        macro_f1_ci=ci["macro_f1"],
        weighted_precision=float((precision * weights).sum()),
        weighted_recall=float((recall * weights).sum()),
        weighted_f1=float((f1 * weights).sum()),
        majority_rate=float(support.max() / n),
        per_class=[
            ClassMetrics(c, float(p), float(r), float(f), int(s))
            for c, p, r, f, s in zip(classes, precision, recall, f1, support, strict=True)
        ],
        confusion_matrix=cm.tolist(),
        confusion_normalized=normalized.tolist(),
        roc=roc,
        pr=pr,
        roc_auc_macro=float(np.mean([roc[c]["auc"] for c in scored])) if scored else None,
        average_precision_macro=(
            float(np.mean([pr[c]["average_precision"] for c in scored])) if scored else None
        ),
        calibration=cal10,
        ece=cal10.ece,
        ece_15=cal15.ece,
        coverage=coverage_curve(y_true, proba, classes),
        n_boot=n_boot,
        seed=seed,
        roc_auc_excluded=[c for c in unseen if c in roc],
    )


def roc_auc_note(result: EvalResult, lang: str = "en") -> str | None:
    """The sentence naming the labels left out of the mean ROC AUC, or None if none were."""
    from slm_core.i18n import t

    if not result.roc_auc_excluded:
        return None
    labels = ", ".join(result.roc_auc_excluded)
    return t("results.auc_excluded", lang, labels=labels, n=len(result.roc_auc_excluded))


# -------------------------------------------------------------------- store glue


def evaluate_run(
    store, run_id: int, *, n_boot: int = 1000, seed: int = 0, refresh: bool = False
) -> EvalResult:
    """Evaluate a finished run on its test split; cached as the run's 'evaluation' result
    (stored by the training job as the run finishes, so a page normally reads it)."""
    from slm_core.errors import NotFoundError, Phrase

    run = store.get_run(run_id)
    if run.status != "succeeded":
        raise NotFoundError(
            "errors.evaluate.run_not_finished",
            run_id=run_id,
            status=Phrase(f"status.{run.status}"),
        )
    cached = None if refresh else store.get_result(run_id, EVALUATION_KIND)
    if (
        cached
        and cached.get("version") == EVALUATION_VERSION
        and cached.get("n_boot") == n_boot
        and cached.get("seed") == seed
    ):
        return EvalResult.from_dict(cached)
    return store_evaluation(store, run_id, n_boot=n_boot, seed=seed)


def store_evaluation(store, run_id: int, *, n_boot: int = 1000, seed: int = 0) -> EvalResult:
    """Evaluate a run's saved test predictions and store the result as its 'evaluation'.

    The training job calls this once the run's files are in place and before it records the
    run as succeeded: the bootstrap intervals of a large test split take seconds (~3 s a run
    for 140,000 texts), which the first visit to Results would otherwise wait for.
    """
    from slm_core.train import load_test_predictions

    run = store.get_run(run_id)
    preds = load_test_predictions(store, run_id, with_texts=False)
    result = evaluate_predictions(
        preds.y_true, preds.proba, preds.classes, n_boot=n_boot, seed=seed
    )
    curves = {k: list(v) for k, v in (run.history or {}).items() if isinstance(v, list)}
    result = EvalResult(**{**_fields(result), "learning_curves": curves, "run_id": run.id})
    store.put_result(run_id, EVALUATION_KIND, result.to_dict())
    return result


def _fields(result: EvalResult) -> dict[str, Any]:
    # dataclasses.asdict would also convert the nested dataclasses; keep them as they are.
    return {f: getattr(result, f) for f in result.__dataclass_fields__}


def _ci_text(ci: Sequence[float]) -> str:
    lo, hi = ci
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "n/a"
    return f"[{lo:.4f}, {hi:.4f}]"


def format_evaluation(result: EvalResult) -> str:
    """Human-readable evaluation for the terminal (the CLI's ``evaluate`` output)."""
    head = f"run {result.run_id}" if result.run_id is not None else "evaluation"
    lines = [
        f"{head}: {result.n} test items, {len(result.classes)} classes",
        "",
        f"accuracy            {result.accuracy:.4f}  95% CI {_ci_text(result.accuracy_ci)}"
        "  (Wilson)",
        f"macro F1            {result.macro_f1:.4f}  95% CI {_ci_text(result.macro_f1_ci)}"
        + (
            "  (BCa bootstrap)"
            if all(math.isfinite(v) for v in result.macro_f1_ci) or result.n_boot <= 0
            else "  (BCa bootstrap: every resample gives the same F1)"
        ),
        f"balanced accuracy   {result.balanced_accuracy:.4f}",
        f"macro P / R         {result.macro_precision:.4f} / {result.macro_recall:.4f}",
        f"weighted P / R / F1 {result.weighted_precision:.4f} / {result.weighted_recall:.4f}"
        f" / {result.weighted_f1:.4f}",
        f"majority-class rate {result.majority_rate:.4f}  (accuracy of always guessing the "
        "largest class)",
        f"calibration error   ECE {result.ece:.4f} (10 bins), {result.ece_15:.4f} (15 bins)",
    ]
    if result.roc_auc_macro is not None:
        lines.append(f"ROC AUC (macro)     {result.roc_auc_macro:.4f}")
    note = roc_auc_note(result)
    if note:
        lines.append(f"                    {note}")
    lines += ["", "per class:"]
    width = max([len(c.label) for c in result.per_class] + [5])
    lines.append(f"  {'class':<{width}}  precision  recall      f1  support")
    for c in result.per_class:
        scores = f"{c.precision:9.4f}  {c.recall:6.4f}  {c.f1:6.4f}  {c.support:7d}"
        lines.append(f"  {c.label:<{width}}  {scores}")
    lines += ["", "confusion matrix (rows: true, columns: predicted):"]
    cell = max([len(str(v)) for row in result.confusion_matrix for v in row] + [3])
    short = [c[:cell] for c in result.classes]
    lines.append(f"  {'':<{width}}  " + " ".join(f"{s:>{cell}}" for s in short))
    for label, row in zip(result.classes, result.confusion_matrix, strict=True):
        lines.append(f"  {label:<{width}}  " + " ".join(f"{v:>{cell}}" for v in row))
    lines += ["", "confidence threshold -> share answered, accuracy on them:"]
    for threshold in (0.5, 0.7, 0.9):
        point = result.coverage.at(threshold)
        acc = f"{point.accuracy:.4f}" if point.accuracy is not None else "n/a"
        lines.append(f"  >= {threshold:.0%}: {point.coverage:6.1%} answered, accuracy {acc}")
    return "\n".join(lines)
