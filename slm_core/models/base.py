"""The contract every model family implements, so training, evaluation and serving are generic."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from slm_core.errors import CancelledError, TrainError

if TYPE_CHECKING:  # annotations only: Home lists the models without importing NumPy
    import numpy as np


@dataclass
class TrainCallbacks:
    """Hooks the trainer calls; the job worker uses them for live progress and cancellation.

    ``on_batch(epoch, batch, batches_per_epoch)`` and ``on_epoch(epoch, epochs, logs)`` use
    0-based epoch/batch numbers; ``logs`` holds loss, accuracy, val_loss, val_accuracy.
    ``should_stop()`` is polled at least once per batch; when it returns True the model raises
    ``slm_core.errors.CancelledError`` promptly. ``on_stage(stage, done, total)`` reports work
    before the first epoch (a pretrained encoder embedding the texts: stage "embedding").
    """

    on_batch: Callable[[int, int, int], None] = lambda epoch, batch, total: None
    on_epoch: Callable[[int, int, dict[str, float]], None] = lambda epoch, total, logs: None
    should_stop: Callable[[], bool] = lambda: False
    on_stage: Callable[[str, int, int], None] = lambda stage, done, total: None

    def stop_if_asked(self) -> None:
        """Raise ``CancelledError`` when ``should_stop()`` says so (every family polls this)."""
        if self.should_stop():
            raise CancelledError("errors.fit.cancelled")


def check_training_input(
    texts: Sequence[str], labels: Sequence[object]
) -> tuple[list[str], list[str]]:
    """The training texts and their labels as strings, checked the same way for every family.

    ``TrainError`` unless there is one label per text and at least two different labels.
    """
    texts, labels = list(texts), [str(v) for v in labels]
    if len(texts) != len(labels):
        raise TrainError("errors.fit.one_label_per_text")
    if len(set(labels)) < 2:
        raise TrainError("errors.fit.two_labels_needed")
    return texts, labels


def check_validation_labels(labels: Iterable[object], known: Collection[str]) -> None:
    """``TrainError`` naming the validation labels the training split never had (a model has
    no output for them)."""
    unknown = sorted({str(v) for v in labels} - set(known))
    if unknown:
        raise TrainError("errors.fit.val_labels_not_in_train", labels=", ".join(unknown))


class TextClassifier(Protocol):
    """A fitted-or-not text classifier following scikit-learn's conventions.

    ``classes_`` (label strings, the column order of ``predict_proba``), ``history_`` (per-epoch
    lists keyed loss/accuracy/val_loss/val_accuracy; empty for linear models) and ``n_params_``
    exist after ``fit``.
    """

    model_id: str
    classes_: list[str]
    history_: dict[str, list[float]]
    n_params_: int

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        val_texts: Sequence[str] | None = None,
        val_labels: Sequence[str] | None = None,
        callbacks: TrainCallbacks | None = None,
    ) -> TextClassifier: ...

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...

    def predict(self, texts: Sequence[str]) -> list[str]: ...

    def save(self, directory: Path) -> None: ...

    def get_params(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry: what the model is, for whom, and how to build it."""

    id: str
    name: str
    family: str  # "linear" or "neural": the module that builds and loads it
    description: str  # plain language, for managers
    presets: dict[str, dict[str, Any]]  # "quick" / "balanced" / "thorough" -> params
    param_help: dict[str, str] = field(default_factory=dict)
