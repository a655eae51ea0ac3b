"""Curves of a model's test predictions: ROC / PR, calibration (ECE) and coverage vs accuracy.

Also the checks every evaluation of predicted probabilities starts with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from slm_core.numbers import finite_or_none

# Curves are stored per run and drawn in the browser: a few hundred points are enough.
MAX_CURVE_POINTS = 200
DEFAULT_THRESHOLDS = tuple(round(0.01 * i, 2) for i in range(101))


def prepare_predictions(
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
            accuracy=finite_or_none(self.accuracy[i]),
            n=int(self.n[i]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "thresholds": [float(v) for v in self.thresholds],
            "coverage": [float(v) for v in self.coverage],
            "accuracy": [finite_or_none(v) for v in self.accuracy],
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
    true_idx, proba, _, pred_idx = prepare_predictions(y_true, proba, classes)
    confidence = proba.max(axis=1) if len(true_idx) else np.zeros(0)
    return coverage_from_arrays(confidence, true_idx == pred_idx, thresholds)


def coverage_from_arrays(
    confidence: np.ndarray, correct: np.ndarray, thresholds: Sequence[float] | None = None
) -> CoverageCurve:
    """:func:`coverage_curve` from each item's top confidence and whether it was right."""
    thresholds = np.asarray(DEFAULT_THRESHOLDS if thresholds is None else thresholds, float)
    thresholds = np.sort(thresholds)
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=bool)
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
