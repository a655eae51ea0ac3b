"""Evaluation a manager can trust: metrics with confidence intervals, curves, calibration.

Everything here is pure: arrays in, typed results out. ``evaluate_run`` is the one function that
touches the run store (it caches its result as the run's 'evaluation' result).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

# Curves are stored per run and drawn in the browser: a few hundred points are enough.
MAX_CURVE_POINTS = 200
DEFAULT_THRESHOLDS = tuple(round(0.01 * i, 2) for i in range(101))
# Below this many discordant pairs the chi-square approximation is poor; use the exact test.
MCNEMAR_EXACT_BELOW = 25
EVALUATION_KIND = "evaluation"
# Bump when the stored evaluation's shape changes, so old cached results are recomputed.
EVALUATION_VERSION = 1


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# --------------------------------------------------------------------------- inputs


def _prepare(
    y_true: Sequence[str], proba: np.ndarray, classes: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Integer true labels, probabilities, class list and predicted indices.

    A test label the model never saw becomes an extra class with probability 0, so it counts as
    an error instead of crashing the evaluation.
    """
    classes = [str(c) for c in classes]
    proba = np.asarray(proba, dtype=float)
    y_true = [str(y) for y in y_true]
    if proba.ndim != 2 or proba.shape[0] != len(y_true) or proba.shape[1] != len(classes):
        raise ValueError(
            f"proba must have shape (n={len(y_true)}, k={len(classes)}), not {proba.shape}"
        )
    extra = sorted(set(y_true) - set(classes))
    if extra:
        classes = classes + extra
        proba = np.hstack([proba, np.zeros((proba.shape[0], len(extra)))])
    index = {c: i for i, c in enumerate(classes)}
    true_idx = np.array([index[y] for y in y_true], dtype=int)
    pred_idx = proba.argmax(axis=1) if len(y_true) else np.zeros(0, dtype=int)
    return true_idx, proba, classes, pred_idx


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


# --------------------------------------------------------------------- bootstrap


def bootstrap_ci(
    true_idx: np.ndarray,
    pred_idx: np.ndarray,
    k: int,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals for accuracy and macro-F1 (resampling test items)."""
    n = len(true_idx)
    if n == 0 or n_boot <= 0:
        return {"accuracy": (math.nan, math.nan), "macro_f1": (math.nan, math.nan)}
    rng = np.random.default_rng(seed)
    accs, f1s = np.empty(n_boot), np.empty(n_boot)
    flat = true_idx * k + pred_idx
    correct = (true_idx == pred_idx).astype(float)
    # Chunks keep the index matrix to ~8 MB even for tens of thousands of test items.
    chunk = max(1, min(n_boot, 1_000_000 // max(n, 1)))
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        accs[start:stop] = correct[idx].mean(axis=1)
        offsets = (np.arange(stop - start) * k * k)[:, None]
        cms = np.bincount((flat[idx] + offsets).ravel(), minlength=(stop - start) * k * k)
        f1s[start:stop] = _f1_from_confusions(cms.reshape(stop - start, k, k))
    tail = (1 - level) / 2 * 100
    q = [tail, 100 - tail]
    acc_lo, acc_hi = np.percentile(accs, q)
    f1_lo, f1_hi = np.percentile(f1s, q)
    return {"accuracy": (float(acc_lo), float(acc_hi)), "macro_f1": (float(f1_lo), float(f1_hi))}


# ------------------------------------------------------------------------ curves


def _downsample(*arrays: np.ndarray, max_points: int = MAX_CURVE_POINTS) -> list[list[float]]:
    """Keep at most ``max_points`` evenly spaced points, always the first and the last."""
    n = len(arrays[0])
    if n <= max_points:
        keep = np.arange(n)
    else:
        keep = np.unique(np.linspace(0, n - 1, max_points).round().astype(int))
    return [[float(v) for v in np.asarray(a)[keep]] for a in arrays]


def roc_pr_curves(
    true_idx: np.ndarray, proba: np.ndarray, classes: Sequence[str]
) -> tuple[dict[str, dict], dict[str, dict]]:
    """One-vs-rest ROC and precision-recall curves per class, with AUC and average precision.

    A class without positives or without negatives in the test set has no curve.
    """
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    roc, pr = {}, {}
    for j, cls in enumerate(classes):
        positive = true_idx == j
        if positive.all() or not positive.any():
            continue
        scores = proba[:, j]
        fpr, tpr, _ = roc_curve(positive, scores)
        fpr_s, tpr_s = _downsample(fpr, tpr)
        roc[cls] = {"fpr": fpr_s, "tpr": tpr_s, "auc": float(auc(fpr, tpr))}
        precision, recall, _ = precision_recall_curve(positive, scores)
        rec_s, prec_s = _downsample(recall, precision)
        pr[cls] = {
            "recall": rec_s,
            "precision": prec_s,
            "average_precision": float(average_precision_score(positive, scores)),
            "prevalence": float(positive.mean()),
        }
    return roc, pr


@dataclass(frozen=True)
class Calibration:
    """Reliability diagram of the top-label confidence and its expected calibration error."""

    n_bins: int
    lower: list[float]
    upper: list[float]
    confidence: list[float | None]  # mean confidence per bin (None: empty bin)
    accuracy: list[float | None]
    count: list[int]
    ece: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def calibration(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> Calibration:
    """Equal-width bins over (0, 1]; ECE = sum over bins of share × |accuracy − confidence|."""
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Bin b holds confidences in (edges[b], edges[b+1]]; a confidence of exactly 0 goes to bin 0.
    bins = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    conf_sum = np.bincount(bins, weights=confidence, minlength=n_bins)
    acc_sum = np.bincount(bins, weights=correct, minlength=n_bins)
    n = max(len(confidence), 1)
    ece = 0.0
    confs: list[float | None] = []
    accs: list[float | None] = []
    for b in range(n_bins):
        if counts[b] == 0:
            confs.append(None)
            accs.append(None)
            continue
        mean_conf, mean_acc = conf_sum[b] / counts[b], acc_sum[b] / counts[b]
        confs.append(float(mean_conf))
        accs.append(float(mean_acc))
        ece += counts[b] / n * abs(mean_acc - mean_conf)
    return Calibration(
        n_bins=n_bins,
        lower=[float(e) for e in edges[:-1]],
        upper=[float(e) for e in edges[1:]],
        confidence=confs,
        accuracy=accs,
        count=[int(c) for c in counts],
        ece=float(ece),
    )


@dataclass(frozen=True)
class CoveragePoint:
    """What happens when the model only answers at or above one confidence threshold."""

    threshold: float
    coverage: float  # share of items answered
    accuracy: float | None  # accuracy on the answered items (None when none is answered)
    n: int  # items answered

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CoverageCurve:
    """Coverage and accuracy over confidence thresholds (arrays of equal length).

    ``accuracy`` is NaN where no item reaches the threshold.
    """

    thresholds: np.ndarray
    coverage: np.ndarray
    accuracy: np.ndarray
    n: np.ndarray
    total: int

    def at(self, threshold: float) -> CoveragePoint:
        """The point at the largest stored threshold not above ``threshold``."""
        i = int(np.searchsorted(self.thresholds, threshold + 1e-9, side="right") - 1)
        i = min(max(i, 0), len(self.thresholds) - 1)
        return self._point(i)

    def best_threshold(self, min_accuracy: float) -> CoveragePoint | None:
        """The lowest threshold (most coverage) whose accuracy reaches ``min_accuracy``."""
        ok = np.flatnonzero(np.nan_to_num(self.accuracy, nan=-1.0) >= min_accuracy)
        return self._point(int(ok[0])) if len(ok) else None

    def _point(self, i: int) -> CoveragePoint:
        return CoveragePoint(
            threshold=float(self.thresholds[i]),
            coverage=float(self.coverage[i]),
            accuracy=_finite(self.accuracy[i]),
            n=int(self.n[i]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "thresholds": [float(v) for v in self.thresholds],
            "coverage": [float(v) for v in self.coverage],
            "accuracy": [_finite(v) for v in self.accuracy],
            "n": [int(v) for v in self.n],
            "total": int(self.total),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CoverageCurve:
        acc = [math.nan if v is None else v for v in data["accuracy"]]
        return cls(
            thresholds=np.asarray(data["thresholds"], dtype=float),
            coverage=np.asarray(data["coverage"], dtype=float),
            accuracy=np.asarray(acc, dtype=float),
            n=np.asarray(data["n"], dtype=int),
            total=int(data["total"]),
        )


def coverage_curve(
    y_true: Sequence[str],
    proba: np.ndarray,
    classes: Sequence[str],
    thresholds: Sequence[float] | None = None,
) -> CoverageCurve:
    """Share of items the model answers, and its accuracy on them, per confidence threshold.

    An item is answered when its top-class probability is at least the threshold.
    """
    true_idx, proba, _, pred_idx = _prepare(y_true, proba, classes)
    thresholds = np.asarray(DEFAULT_THRESHOLDS if thresholds is None else thresholds, float)
    thresholds = np.sort(thresholds)
    confidence = proba.max(axis=1) if len(true_idx) else np.zeros(0)
    correct = true_idx == pred_idx
    # Sorting once makes every threshold a binary search instead of a pass over the data.
    order = np.argsort(confidence)
    sorted_conf = confidence[order]
    correct_suffix = np.concatenate([np.cumsum(correct[order][::-1])[::-1], [0]])
    total = len(confidence)
    first = np.searchsorted(sorted_conf, thresholds - 1e-12, side="left")
    answered = total - first
    right = correct_suffix[first]
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.where(answered > 0, right / np.maximum(answered, 1), np.nan)
    coverage = answered / total if total else np.zeros(len(thresholds))
    return CoverageCurve(
        thresholds=thresholds,
        coverage=coverage.astype(float),
        accuracy=accuracy.astype(float),
        n=answered.astype(int),
        total=total,
    )


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
    diagonal).
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (lists, floats, None for undefined values)."""
        return {
            "version": EVALUATION_VERSION,
            "run_id": self.run_id,
            "classes": list(self.classes),
            "n": self.n,
            "accuracy": self.accuracy,
            "accuracy_ci": [_finite(v) for v in self.accuracy_ci],
            "balanced_accuracy": self.balanced_accuracy,
            "macro_precision": self.macro_precision,
            "macro_recall": self.macro_recall,
            "macro_f1": self.macro_f1,
            "macro_f1_ci": [_finite(v) for v in self.macro_f1_ci],
            "weighted_precision": self.weighted_precision,
            "weighted_recall": self.weighted_recall,
            "weighted_f1": self.weighted_f1,
            "majority_rate": self.majority_rate,
            "per_class": [c.to_dict() for c in self.per_class],
            "confusion_matrix": [list(map(int, row)) for row in self.confusion_matrix],
            "confusion_normalized": [list(map(float, r)) for r in self.confusion_normalized],
            "roc": self.roc,
            "pr": self.pr,
            "roc_auc_macro": _finite(self.roc_auc_macro),
            "average_precision_macro": _finite(self.average_precision_macro),
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
    true_idx, proba, classes, pred_idx = _prepare(y_true, proba, classes)
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
    ci = bootstrap_ci(true_idx, pred_idx, k, n_boot=n_boot, seed=seed)
    roc, pr = roc_pr_curves(true_idx, proba, classes)
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
        roc_auc_macro=float(np.mean([c["auc"] for c in roc.values()])) if roc else None,
        average_precision_macro=(
            float(np.mean([c["average_precision"] for c in pr.values()])) if pr else None
        ),
        calibration=cal10,
        ece=cal10.ece,
        ece_15=cal15.ece,
        coverage=coverage_curve(y_true, proba, classes),
        n_boot=n_boot,
        seed=seed,
    )


# ----------------------------------------------------------------------- McNemar


@dataclass(frozen=True)
class McNemarResult:
    """Paired comparison of two models on the same test items.

    ``only_a`` counts items A got right and B wrong; ``only_b`` the reverse. Only these
    discordant items carry information about which model is better.
    """

    n: int
    accuracy_a: float
    accuracy_b: float
    only_a: int
    only_b: int
    statistic: float
    p_value: float
    method: str  # "exact" (binomial) or "chi2" (with continuity correction)

    def better(self, alpha: float = 0.05) -> str | None:
        """'a' or 'b' when the difference is significant at ``alpha``, else None."""
        if self.p_value >= alpha or self.only_a == self.only_b:
            return None
        return "a" if self.only_a > self.only_b else "b"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mcnemar(y_true: Sequence[str], pred_a: Sequence[str], pred_b: Sequence[str]) -> McNemarResult:
    """McNemar's test: exact binomial below 25 discordant items, else chi-square (corrected)."""
    from scipy.stats import binom, chi2

    y = np.asarray([str(v) for v in y_true])
    a = np.asarray([str(v) for v in pred_a]) == y
    b = np.asarray([str(v) for v in pred_b]) == y
    if not (len(y) == len(a) == len(b)):
        raise ValueError("y_true, pred_a and pred_b must have the same length")
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    discordant = only_a + only_b
    if discordant == 0:
        statistic, p_value, method = 0.0, 1.0, "exact"
    elif discordant < MCNEMAR_EXACT_BELOW:
        statistic = float(min(only_a, only_b))
        p_value = float(min(1.0, 2 * binom.cdf(min(only_a, only_b), discordant, 0.5)))
        method = "exact"
    else:
        statistic = float((abs(only_a - only_b) - 1) ** 2 / discordant)
        p_value = float(chi2.sf(statistic, 1))
        method = "chi2"
    n = len(y)
    return McNemarResult(
        n=n,
        accuracy_a=float(a.mean()) if n else math.nan,
        accuracy_b=float(b.mean()) if n else math.nan,
        only_a=only_a,
        only_b=only_b,
        statistic=statistic,
        p_value=p_value,
        method=method,
    )


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def mcnemar_verdict(
    result: McNemarResult, name_a: str, name_b: str, lang: str = "en", alpha: float = 0.05
) -> str:
    """Plain-language answer to "is A better than B?" in ``lang`` ('en' or 'zh')."""
    from slm_core.i18n import t

    values = {
        "a": name_a,
        "b": name_b,
        "p": _p_text(result.p_value),
        "only_a": result.only_a,
        "only_b": result.only_b,
        "n": result.n,
    }
    winner = result.better(alpha)
    if winner == "a":
        key = "results.verdict_yes"
    elif winner == "b":
        key = "results.verdict_no"
    else:
        key = "results.verdict_tie"
    return t(key, lang, **values)


def paired_predictions(a, b) -> tuple[list[str], list[str], list[str]]:
    """Truth and both predictions on the test texts two runs share (``TestPredictions`` each).

    Runs with the same split have identical test sets; otherwise texts are matched by content.
    """
    if a.texts == b.texts and a.y_true == b.y_true:
        return list(a.y_true), list(a.y_pred), list(b.y_pred)
    other = {
        text: (truth, pred) for text, truth, pred in zip(b.texts, b.y_true, b.y_pred, strict=True)
    }
    y, pa, pb = [], [], []
    for text, truth, pred in zip(a.texts, a.y_true, a.y_pred, strict=True):
        match = other.get(text)
        if match is not None and match[0] == truth:
            y.append(truth)
            pa.append(pred)
            pb.append(match[1])
    return y, pa, pb


def compare_runs(store, run_a: int, run_b: int) -> McNemarResult:
    """McNemar's test between two finished runs on the test texts they share."""
    from slm_core.train import load_test_predictions

    y, pa, pb = paired_predictions(
        load_test_predictions(store, run_a), load_test_predictions(store, run_b)
    )
    return mcnemar(y, pa, pb)


# -------------------------------------------------------------------- store glue


def evaluate_run(
    store, run_id: int, *, n_boot: int = 1000, seed: int = 0, refresh: bool = False
) -> EvalResult:
    """Evaluate a finished run on its test split; cached as the run's 'evaluation' result."""
    from slm_core.errors import NotFoundError, Phrase
    from slm_core.train import load_test_predictions

    run = store.get_run(run_id)
    if run.status != "succeeded":
        raise NotFoundError(
            "errors.evaluate.run_only_finished_runs",
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
    preds = load_test_predictions(store, run_id)
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
        f"accuracy            {result.accuracy:.4f}  95% CI {_ci_text(result.accuracy_ci)}",
        f"macro F1            {result.macro_f1:.4f}  95% CI {_ci_text(result.macro_f1_ci)}",
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
