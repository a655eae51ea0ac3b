"""What one answered text is worth, relative to a person handling it: the payoff of every option.

Keeping it manual is the baseline (net value 0 by definition). Against it, a text answered by a
model saves the person's labour, may bring extra value when right, costs its error when wrong,
and avoids the error a person would have made (people are right ``human_accuracy`` of the time):

    value of an automated text  u = L + vpc·[right] − cost[true, predicted] + (1 − h)·ē[true]

with L = minutes ÷ 60 × hourly cost, vpc the extra value of a right automated answer, h the
people's accuracy and ē[t] the mean cost of a wrong answer to a text of true class t (any wrong
label equally likely). A hosted LLM that answers a share s of the texts it is sent, with
accuracy q (measured on a sample of the user's test texts when there is a measurement, see
:mod:`slm_core.value.hosted`; else the scenario's assumption), is worth in expectation

    w = s·(L + vpc·q − (1 − q)·ē[true] + (1 − h)·ē[true]) − API price per text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from slm_core.curves import DEFAULT_THRESHOLDS, coverage_from_arrays, prepare_predictions
from slm_core.resample import COLLAPSE_FROM
from slm_core.value.assumptions import RAREST_CLASS, Assumptions

# Confidence exactly at the threshold counts as answered (same rule as curves.coverage_curve).
_EPS = 1e-12


def answered_at(confidence: np.ndarray, threshold: float) -> np.ndarray:
    """Which texts a small model answers alone at ``threshold`` (the rest go to people or the
    LLM): the one rule for every threshold figure."""
    return np.asarray(confidence) >= threshold - _EPS


def positive_class(
    a: Assumptions, classes: Sequence[str], prior: Sequence[float] | None = None
) -> str | None:
    """The class whose errors get the false-positive / false-negative costs, if any.

    ``RAREST_CLASS`` resolves to the class with the smallest share in ``prior`` (in ``classes``
    order; ties go to the first); a named class absent from ``classes`` resolves to None.
    """
    wanted = a.positive_class
    if not wanted:
        return None
    if wanted == RAREST_CLASS:
        if not classes or prior is None or len(prior) != len(classes):
            return None
        return str(classes[int(np.argmin(np.asarray(prior, dtype=float)))])
    return wanted if wanted in classes else None


def cost_matrix(
    a: Assumptions, classes: Sequence[str], prior: Sequence[float] | None = None
) -> np.ndarray:
    """Cost of one wrong answer per (true row, predicted column); 0 on the diagonal.

    Simple mode: with a positive class, predicting it wrongly costs the false-positive cost and
    missing it the false-negative cost (one-vs-rest with more than two classes); every other
    error costs ``cost_other_error``. Matrix mode: pairs in ``payoff_matrix`` override that.
    """
    k = len(classes)
    costs = np.full((k, k), float(a.cost_other_error))
    positive = positive_class(a, classes, prior)
    if positive is not None:
        p = list(classes).index(positive)
        costs[:, p] = a.cost_false_positive
        costs[p, :] = a.cost_false_negative
    if a.payoff_mode == "matrix":
        index = {c: i for i, c in enumerate(classes)}
        for true, row in a.payoff_matrix.items():
            for pred, cost in row.items():
                if true in index and pred in index:
                    costs[index[true], index[pred]] = float(cost)
    np.fill_diagonal(costs, 0.0)
    return costs


def mean_error_cost(costs: np.ndarray) -> np.ndarray:
    """Per true class: the mean cost of a wrong answer, any wrong label equally likely."""
    k = costs.shape[0]
    if k < 2:
        return np.zeros(k)
    return costs.sum(axis=1) / (k - 1)  # the diagonal is 0


# ------------------------------------------------------------------ predictions


@dataclass(frozen=True)
class SplitScores:
    """One split's predictions as arrays: true and predicted class index, top confidence.

    ``classes`` are the model's classes followed by any true label it never saw (always an
    error); ``prior`` is the dataset's class share in the same order (for the rarest class).
    """

    split: str  # "validation" or "test"
    classes: tuple[str, ...]
    true_idx: np.ndarray
    pred_idx: np.ndarray
    confidence: np.ndarray
    prior: tuple[float, ...] = ()

    @property
    def n(self) -> int:
        return len(self.true_idx)

    @property
    def correct(self) -> np.ndarray:
        return self.true_idx == self.pred_idx

    @property
    def true_counts(self) -> np.ndarray:
        return np.bincount(self.true_idx, minlength=len(self.classes))

    def majority_rate(self) -> float:
        """Accuracy of always answering this split's most common true class."""
        return float(self.true_counts.max() / self.n) if self.n else 0.0

    @cached_property
    def table(self) -> ThresholdTable:
        """The split's :class:`ThresholdTable` at the default thresholds, built once."""
        return threshold_table(self)

    def answers(self, threshold: float, *, compact: bool | None = None) -> Answers:
        """The split's texts at ``threshold``: one row per text, or (``compact``; by default
        from ``COLLAPSE_FROM`` texts on) one row per true class x predicted class x answered,
        weighted by its texts.

        Why: every per-text figure is a function of those three alone, so the rows give the
        same means and a bootstrap of the same distribution (multinomial draws over the
        distinct rows: the very draws ``resample.bootstrap_means`` makes from that size on
        wherever it collapses the columns, i.e. unless there are hundreds of classes), at a
        cost set by the classes instead of the texts: the sensitivity search rebuilds every
        option ~200 times, on 150,000 test texts seconds.
        """
        if compact is None:
            compact = self.n >= COLLAPSE_FROM
        if not compact:
            return Answers(
                self.classes,
                self.true_idx,
                self.pred_idx,
                answered_at(self.confidence, threshold),
                None,
            )
        cache = self._compact_answers
        if threshold not in cache:  # the searches ask for the same few thresholds again
            k = len(self.classes)
            key = (self.true_idx * k + self.pred_idx) * 2 + answered_at(self.confidence, threshold)
            rows, counts = np.unique(key, return_counts=True)
            cells = rows // 2
            cache[threshold] = Answers(
                self.classes, cells // k, cells % k, (rows % 2).astype(bool), counts
            )
        return cache[threshold]

    @cached_property
    def _compact_answers(self) -> dict[float, Answers]:
        return {}


@dataclass(frozen=True)
class Answers:
    """A split's texts at one threshold: true and predicted class index and whether the small
    model answers alone; ``weight`` is how many texts each row stands for (None: one each)."""

    classes: tuple[str, ...]
    true_idx: np.ndarray
    pred_idx: np.ndarray
    answered: np.ndarray  # bool
    weight: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Texts (not rows)."""
        return int(self.weight.sum()) if self.weight is not None else len(self.true_idx)

    @property
    def correct(self) -> np.ndarray:
        return self.true_idx == self.pred_idx

    def mean(self, values: np.ndarray) -> float:
        """The mean of per-row ``values`` over the texts (0 without texts)."""
        if not len(values):
            return 0.0
        return float(np.average(values, weights=self.weight))

    def total(self, values: np.ndarray) -> float:
        """The sum of per-row ``values`` over the texts."""
        if self.weight is None:
            return float(np.sum(values))
        return float(np.dot(values, self.weight))

    def confusion(self) -> list[list[int]]:
        """Counts of the answered texts by (true, predicted) class."""
        k = len(self.classes)
        keep = self.answered
        weights = None if self.weight is None else self.weight[keep]
        flat = self.true_idx[keep] * k + self.pred_idx[keep]
        counts = np.bincount(flat, weights=weights, minlength=k * k)
        return counts.reshape(k, k).astype(int).tolist()


def split_scores(
    split: str,
    y_true: Sequence[str],
    proba: np.ndarray,
    classes: Sequence[str],
    prior_by_class: dict[str, float] | None = None,
) -> SplitScores:
    """Arrays of one split from stored labels and class probabilities (``classes`` order)."""
    true_idx, proba, all_classes, pred_idx = prepare_predictions(y_true, proba, classes)
    prior = tuple(float((prior_by_class or {}).get(c, 0.0)) for c in all_classes)
    return SplitScores(
        split=split,
        classes=tuple(all_classes),
        true_idx=true_idx,
        pred_idx=pred_idx,
        confidence=proba.max(axis=1) if len(true_idx) else np.zeros(0),
        prior=prior if prior_by_class else (),
    )


@dataclass(frozen=True)
class ThresholdTable:
    """Per confidence threshold: coverage, accuracy and the confusion of the answered texts.

    It depends only on one split's predictions, so value figures for any assumptions are
    cheap tensor sums.
    """

    split: str
    classes: tuple[str, ...]
    thresholds: np.ndarray  # (T,)
    coverage: np.ndarray  # (T,) share of texts answered
    accuracy: np.ndarray  # (T,) accuracy on answered texts, NaN when none
    confusion: np.ndarray  # (T, k, k) counts of answered texts
    true_counts: np.ndarray  # (k,) every text of the split by true class
    n: int

    # The sums that depend on the predictions alone, once per table: the curves below are
    # evaluated for every rebuild of the sensitivity search and the break-evens.
    @cached_property
    def confusion_float(self) -> np.ndarray:
        """``confusion`` as floats (T, k, k)."""
        return self.confusion.astype(float)

    @cached_property
    def answered_by_true(self) -> np.ndarray:
        """(T, k) answered texts by true class."""
        return self.confusion_float.sum(axis=2)

    @cached_property
    def answered(self) -> np.ndarray:
        """(T,) answered texts."""
        return self.answered_by_true.sum(axis=1)

    @cached_property
    def right(self) -> np.ndarray:
        """(T,) answered texts the model got right."""
        return np.trace(self.confusion_float, axis1=1, axis2=2)

    @cached_property
    def deferred_by_true(self) -> np.ndarray:
        """(T, k) texts left to someone else, by true class."""
        return self.true_counts[None, :] - self.confusion.sum(axis=2)

    def index_of(self, threshold: float) -> int:
        """Index of the largest stored threshold not above ``threshold``."""
        i = int(np.searchsorted(self.thresholds, threshold + 1e-9, side="right") - 1)
        return min(max(i, 0), len(self.thresholds) - 1)


def threshold_table(
    scores: SplitScores, thresholds: Sequence[float] = DEFAULT_THRESHOLDS
) -> ThresholdTable:
    """Coverage (from ``curves.coverage_curve``) plus the answered confusion per threshold."""
    k = len(scores.classes)
    curve = coverage_from_arrays(scores.confidence, scores.correct, thresholds)
    flat = scores.true_idx * k + scores.pred_idx
    confusion = np.zeros((len(curve.thresholds), k, k), dtype=int)
    for i, t in enumerate(curve.thresholds):
        kept = flat[answered_at(scores.confidence, t)]
        confusion[i] = np.bincount(kept, minlength=k * k).reshape(k, k)
    return ThresholdTable(
        split=scores.split,
        classes=scores.classes,
        thresholds=np.asarray(curve.thresholds, dtype=float),
        coverage=np.asarray(curve.coverage, dtype=float),
        accuracy=np.asarray(curve.accuracy, dtype=float),
        confusion=confusion,
        true_counts=scores.true_counts,
        n=int(curve.total),
    )


# ----------------------------------------------------------------- per-text value


@dataclass(frozen=True)
class Payoff:
    """The per-text figures of one scenario for one set of classes (see module docstring)."""

    labour: float  # L
    extra_right: float  # vpc
    costs: np.ndarray  # (k, k)
    mean_error: np.ndarray  # (k,) ē per true class
    people_error: np.ndarray  # (k,) (1 − h)·ē: a person's expected error cost per text

    @classmethod
    def of(cls, a: Assumptions, classes: Sequence[str], prior: Sequence[float] | None = None):
        costs = cost_matrix(a, classes, prior or None)
        mean = mean_error_cost(costs)
        return cls(
            labour=a.labour_per_item,
            extra_right=a.value_per_correct,
            costs=costs,
            mean_error=mean,
            people_error=(1.0 - a.human_accuracy) * mean,
        )

    def manual_cost_per_text(self, weights: np.ndarray) -> float:
        """What a person costs per text: labour plus their expected error cost, averaged over
        true classes with ``weights`` (counts or shares)."""
        weights = np.asarray(weights, dtype=float)
        total = float(weights.sum())
        return self.labour + (float((weights * self.people_error).sum()) / total if total else 0.0)
