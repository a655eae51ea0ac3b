"""Headline classification metrics computed for every run on its test split."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def headline_metrics(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float]:
    """Accuracy, balanced accuracy, macro/weighted F1 and the majority-class rate to beat."""
    # Imported here: slm_core.train imports this module, and the pages that read stored runs
    # through it (Results) must not wait for scikit-learn (~1.5 s).
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    y_true, y_pred = list(y_true), list(y_pred)
    majority = Counter(y_true).most_common(1)[0][1] / len(y_true) if y_true else 0.0
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, average="weighted", zero_division=0)),
        "majority_rate": float(majority),
        "n_test": len(y_true),
    }
