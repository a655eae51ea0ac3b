"""Whether a served form answers as the evaluated model does: the parity rule and its figures.

A form (LiteRT, ONNX, or the compiled NumPy form of a linear model) serves only if, on texts
the model did not train on (the run's test split), it gives the same label as the reference
model on at least :data:`MIN_AGREEMENT` of them *and* its accuracy is within
:data:`MAX_ACCURACY_DELTA` of the reference's. Accuracy alone is not enough: a form that
flips 20% of answers in both directions can keep the same accuracy and still serve different
answers from the ones the scorecard evaluated.

NumPy only, so the serving path can judge a stored manifest without TensorFlow or
scikit-learn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from slm_core.errors import SlmError

MIN_AGREEMENT = 0.995  # share of texts where the form and the reference give the same label
MAX_ACCURACY_DELTA = 0.005  # |form accuracy - reference accuracy|, as a fraction (0.5 point)
# A linear model's compiled form computes the same formula as scikit-learn, so it is held to
# exactness (issue 12): every answer the same and probabilities within this.
EXACT_PROB_DIFF = 1e-6
# Float comparisons of shares computed from integer counts: 199/200 must pass 0.995.
_EPS = 1e-12


@dataclass(frozen=True)
class Parity:
    """How a served form's answers on held-out texts compare with the reference model's."""

    n: int
    accuracy: float | None  # of the form, against the true labels
    reference_accuracy: float | None  # of the reference model, against the true labels
    agreement: float  # share of texts where both predict the same label
    max_abs_diff: float  # largest probability difference over all texts and classes
    min_agreement: float = MIN_AGREEMENT
    max_accuracy_delta: float = MAX_ACCURACY_DELTA
    max_prob_diff: float | None = None  # set for forms that must be exact (linear)

    @property
    def accuracy_delta(self) -> float | None:
        if self.accuracy is None or self.reference_accuracy is None:
            return None
        return self.accuracy - self.reference_accuracy

    @property
    def passed(self) -> bool:
        """Agreement high enough and, where labels are known, accuracy close enough."""
        if self.n <= 0 or self.agreement < self.min_agreement - _EPS:
            return False
        if self.max_prob_diff is not None and self.max_abs_diff > self.max_prob_diff:
            return False
        delta = self.accuracy_delta
        return delta is None or abs(delta) <= self.max_accuracy_delta + _EPS

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "reference_accuracy": self.reference_accuracy,
            "accuracy_delta": self.accuracy_delta,
            "agreement": self.agreement,
            "max_abs_diff": self.max_abs_diff,
            "min_agreement": self.min_agreement,
            "max_accuracy_delta": self.max_accuracy_delta,
            "max_prob_diff": self.max_prob_diff,
            "passed": self.passed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Parity:
        """Read :meth:`to_dict` back and judge it by *today's* rule: a verdict stored under an
        older, looser rule (accuracy within 1 point only) is not trusted. A record made under the
        exact rule (``max_prob_diff`` set) is judged by today's exact rule."""
        exact = data.get("max_prob_diff") is not None
        return cls(
            n=int(data.get("n") or 0),
            accuracy=data.get("accuracy"),
            reference_accuracy=data.get("reference_accuracy"),
            agreement=float(data.get("agreement") or 0.0),
            max_abs_diff=float(data.get("max_abs_diff") or 0.0),
            **({"min_agreement": 1.0, "max_prob_diff": EXACT_PROB_DIFF} if exact else {}),
        )


def parity(
    proba: np.ndarray,
    reference_proba: np.ndarray,
    classes: Sequence[str],
    y_true: Sequence[str] | None = None,
) -> Parity:
    """Compare a form's probabilities with the reference model's on the same texts."""
    proba, reference_proba = np.asarray(proba), np.asarray(reference_proba)
    if proba.shape != reference_proba.shape:
        raise SlmError("errors.runtime_export.class_count_differs")
    pred, ref = proba.argmax(axis=1), reference_proba.argmax(axis=1)
    n = len(pred)
    accuracy = reference_accuracy = None
    if y_true is not None and n:
        labels = np.array([str(v) for v in y_true], dtype=object)
        names = np.array(list(classes), dtype=object)
        accuracy = float(np.mean(names[pred] == labels))
        reference_accuracy = float(np.mean(names[ref] == labels))
    return Parity(
        n=n,
        accuracy=accuracy,
        reference_accuracy=reference_accuracy,
        agreement=float(np.mean(pred == ref)) if n else 0.0,
        max_abs_diff=float(np.abs(proba - reference_proba).max()) if n else 0.0,
    )


def exact_parity(
    proba: np.ndarray,
    reference_proba: np.ndarray,
    classes: Sequence[str],
    y_true: Sequence[str] | None = None,
) -> Parity:
    """:func:`parity` under the exact rule: every answer the same, |dp| <= EXACT_PROB_DIFF."""
    from dataclasses import replace

    check = parity(proba, reference_proba, classes, y_true)
    return replace(check, min_agreement=1.0, max_prob_diff=EXACT_PROB_DIFF)


def stored_parity_passes(data: Mapping[str, Any] | None) -> bool:
    """Whether a stored parity dict passes today's rule (None or empty: no)."""
    return bool(data) and Parity.from_dict(data).passed
