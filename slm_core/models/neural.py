"""Keras 3 text classifiers trained from scratch: LSTM, bidirectional GRU, 1-D CNN and a tiny
transformer encoder (their networks: :mod:`slm_core.models.architectures`).

Why they learn where the seed-style model did not (it padded 20-token tweets to 200 steps
without masking and predicted the majority class): the sequence length comes from the data
(95th percentile of token counts), padding is masked, batches are bucketed by length so little
padding is computed at all, every architecture pools over time (max and/or mean) instead of reading
one final state, and early stopping on validation loss restores the best epoch. For
document-length texts (BBC News), word vectors start from LSA on the training split, which
small datasets need; the transformer starts order-blind (zero position vectors).

Vocabulary: ``TextVectorization`` is adapted on the training split (already tokenised by
``slm_core.models.tokenize``), and its vocabulary is then applied in Python/NumPy both for
training batches and for serving, so no string op runs inside the Keras graph.

Large splits are read from Parquet shards instead of lists: ``fit_shards``, from
:mod:`slm_core.models.keras_shards`.

TensorFlow is imported inside functions only: importing this module stays cheap.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from slm_core.errors import TrainError
from slm_core.models.architectures import ARCHITECTURES
from slm_core.models.base import TrainCallbacks, check_training_input, check_validation_labels
from slm_core.models.batching import batch_dataset, count_batches, derive_batch_size
from slm_core.models.keras_runtime import (
    PREDICT_BATCH,
    keras_modules,
    predict_by_length,
    traced_inference,
)
from slm_core.models.keras_shards import ADAPT_BATCH, ShardFitting, stream_rows
from slm_core.models.lsa import lsa_vectors, set_token_vectors, use_lsa
from slm_core.models.saved import write_meta
from slm_core.models.tokenize import Vocabulary, derive_max_len, joined_tokens, token_counts

MODEL_FILE, VOCAB_FILE = "model.keras", "vocab.json"


def build(
    model_id: str, params: dict[str, Any], *, token_unit: str, seed: int
) -> KerasTextClassifier:
    """An untrained network ``model_id`` with ``params`` (the registry has checked them)."""
    if model_id not in ARCHITECTURES:
        raise TrainError("errors.neural.unknown_architecture", arch=model_id)
    return KerasTextClassifier(model_id, **params, token_unit=token_unit, seed=seed)


# -- the classifier --------------------------------------------------------------------------


class KerasTextClassifier(ShardFitting):
    """A Keras text classifier over token ids, with a pure-Python vocabulary in front.

    Parameters are stored as given (scikit-learn rule); ``fit`` derives ``max_len_``, the
    batch size ``batch_size_`` and the vocabulary from the training texts only.
    """

    def __init__(
        self,
        arch: str = "lstm",
        *,
        epochs: int = 15,
        batch_size: int = 32,
        batch_tokens: int | None = None,
        embedding_dim: int = 128,
        units: int = 64,
        dropout: float = 0.3,
        learning_rate: float = 2e-3,
        vocab_size: int = 20000,
        max_len: int | None = None,
        max_len_cap: int = 256,
        class_weight: bool = False,
        patience: int = 2,
        kernel_size: int = 5,
        heads: int = 4,
        blocks: int = 1,
        lsa_init: bool | None = None,
        token_unit: str = "word",
        seed: int = 42,
    ):
        self.arch = arch
        self.epochs = epochs
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self.embedding_dim = embedding_dim
        self.units = units
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.vocab_size = vocab_size
        self.max_len = max_len
        self.max_len_cap = max_len_cap
        self.class_weight = class_weight
        self.patience = patience
        self.kernel_size = kernel_size
        self.heads = heads
        self.blocks = blocks
        self.lsa_init = lsa_init
        self.token_unit = token_unit
        self.seed = seed

    # -- scikit-learn style parameters -------------------------------------------------

    # Every constructor argument, in order (what get_params returns and model.json stores).
    _PARAMS = tuple(inspect.signature(__init__).parameters)[1:]

    @property
    def model_id(self) -> str:
        return self.arch

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._PARAMS}

    def set_params(self, **params: Any) -> KerasTextClassifier:
        for name, value in params.items():
            if name not in self._PARAMS:
                raise TrainError("errors.neural.unknown_setting", name=name, arch=self.arch)
            setattr(self, name, value)
        return self

    # -- training ------------------------------------------------------------------------

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        val_texts: Sequence[str] | None = None,
        val_labels: Sequence[str] | None = None,
        callbacks: TrainCallbacks | None = None,
    ) -> KerasTextClassifier:
        """Adapt the vocabulary on ``texts``, train, and keep the best validation epoch."""
        hooks = callbacks or TrainCallbacks()
        if self.arch not in ARCHITECTURES:
            raise TrainError("errors.neural.unknown_architecture", arch=self.arch)
        texts, labels = check_training_input(texts, labels)
        self.classes_ = sorted(set(labels))
        hooks.stop_if_asked()

        tf, keras = keras_modules()
        keras.utils.set_random_seed(int(self.seed))
        index = {c: i for i, c in enumerate(self.classes_)}
        y = np.array([index[v] for v in labels], dtype=np.int32)
        x, counts = self._adapt_vocabulary(tf, keras, texts)
        per_label = self._label_weights(np.bincount(y, minlength=len(self.classes_)))
        weights = None if per_label is None else per_label[y]
        val = self._validation_arrays(val_texts, val_labels, index, per_label)
        model = self._compiled_model(keras, lambda: x, counts)
        self.batch_size_ = derive_batch_size(self.batch_size, self.batch_tokens, self.max_len_)
        rng = np.random.default_rng(int(self.seed))
        train_ds = batch_dataset(tf, x, y, weights, self.batch_size_, rng, shuffle=True)
        val_ds = None if val is None else batch_dataset(tf, *val, PREDICT_BATCH, None, False)
        limit, variable = stream_rows()
        self._record_mode(
            "in_memory",
            len(texts),
            f"{len(texts):,} training texts handed over as lists"
            + (f" (≤ {variable}={limit:,})" if len(texts) <= limit else ""),
            (limit, variable),
        )
        batches = count_batches(len(y), self.batch_size_)
        self.history_ = self._train(keras, model, train_ds, batches, val_ds, hooks)
        self._keep(keras, model)
        return self

    def _record_mode(
        self, mode: str, rows: int, reason: str, rule: tuple[int, str], **extra: Any
    ) -> None:
        """``training_mode_``: how the model was trained (in memory or streamed) and why, with
        the threshold that decides it (``rule``: ``stream_rows()``), as the Train page says."""
        limit, variable = rule
        self.training_mode_ = {
            "mode": mode,
            "family": "neural",
            "reason": reason,
            "threshold": limit,
            "variable": variable,
            "rows": rows,
            **extra,
        }

    def _vectorizer(self, keras):
        """An empty vocabulary of ``vocab_size`` whitespace tokens (texts come tokenised)."""
        return keras.layers.TextVectorization(
            max_tokens=int(self.vocab_size),
            standardize=None,
            split="whitespace",
            output_mode="int",
        )

    def _keep(self, keras, model) -> None:
        """Keep the deployable model: same layers, no optimizer state (Adam's slots are ~2x
        the weights)."""
        self.model_ = keras.Model(model.inputs, model.outputs, name=self.arch)
        self.n_params_ = int(self.model_.count_params())
        self._infer = None

    def _adapt_vocabulary(self, tf, keras, texts: list[str]) -> tuple[np.ndarray, list[int]]:
        """Set ``max_len_`` and ``vocabulary_`` from ``texts``; their ids and token counts."""
        joined = joined_tokens(texts, self.token_unit)
        counts = token_counts(joined)
        self.max_len_ = int(self.max_len or derive_max_len(counts, int(self.max_len_cap)))
        vectorizer = self._vectorizer(keras)
        vectorizer.adapt(tf.data.Dataset.from_tensor_slices(joined).batch(ADAPT_BATCH))
        self.vocabulary_ = Vocabulary(vectorizer.get_vocabulary(), self.token_unit)
        return self.vocabulary_.encode(texts, self.max_len_), counts

    def _label_weights(self, freq: np.ndarray) -> np.ndarray | None:
        """Weight of each label index (``freq``: its count in the training split) giving
        every label the same total weight (``class_weight``); None when off."""
        if not self.class_weight:
            return None
        freq = np.asarray(freq).astype(np.float64)
        return (int(freq.sum()) / (len(freq) * freq)).astype(np.float32)

    def _validation_arrays(
        self, val_texts, val_labels, index: dict[str, int], per_label: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
        """Validation ids, label indices and weights; None without a validation split.

        The weights are the training split's label weights (None without ``class_weight``):
        early stopping then watches the same weighted loss that training minimises, not the
        unweighted one, which favours the majority label the weights are there to offset.
        """
        if val_texts is None or val_labels is None or len(val_texts) == 0:
            return None
        check_validation_labels(val_labels, index)
        val_y = np.array([index[str(v)] for v in val_labels], dtype=np.int32)
        val_w = None if per_label is None else per_label[val_y]
        return self.vocabulary_.encode(val_texts, self.max_len_), val_y, val_w

    def _compiled_model(
        self, keras, lsa_ids: Callable[[], np.ndarray], counts: Sequence[int] | np.ndarray
    ):
        """The untrained network, its word vectors from LSA where used (over the ids
        ``lsa_ids()`` returns, only read then), ready to train."""
        from slm_core.models.lazy_adam import LazyAdam

        model = self._build(keras, len(self.classes_))
        self.lsa_used_ = use_lsa(self.lsa_init, counts, ARCHITECTURES[self.arch].lsa_auto)
        if self.lsa_used_:
            vectors = lsa_vectors(lsa_ids(), len(self.vocabulary_), self.embedding_dim)
            set_token_vectors(model, vectors * ARCHITECTURES[self.arch].lsa_scale)
        model.compile(
            optimizer=LazyAdam(float(self.learning_rate), clipnorm=1.0),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            jit_compile=False,
        )
        return model

    def _train(self, keras, model, train_ds, batches: int, val_ds, hooks: TrainCallbacks) -> dict:
        """Fit ``model`` on the ``train_ds`` pipeline (``batches`` per epoch) and check
        ``val_ds`` (None: no validation, no early stopping)."""
        from slm_core.models.keras_blocks import ProgressCallback

        progress = ProgressCallback(hooks, int(self.epochs), batches)
        keras_callbacks: list = [progress]
        if val_ds is not None:
            keras_callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss",
                    patience=int(self.patience),
                    restore_best_weights=True,
                )
            )
        model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=int(self.epochs),
            callbacks=keras_callbacks,
            shuffle=False,  # length_batches shuffles (by length bucket) itself
            verbose=0,
        )
        return progress.history

    def _build(self, keras, n_classes: int):
        """The architecture named by ``arch`` over int32 ids of any length up to ``max_len_``."""
        ids = keras.Input(shape=(None,), dtype="int32", name="ids")
        x = ARCHITECTURES[self.arch].features(keras, ids, self)
        x = keras.layers.Dropout(float(self.dropout))(x)
        out = keras.layers.Dense(n_classes, activation="softmax", name="probs")(x)
        return keras.Model(ids, out, name=self.arch)

    # -- inference -----------------------------------------------------------------------

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Token ids ``(n, max_len_)`` int32 in pure Python/NumPy (what serving runtimes take)."""
        self._check_fitted()
        return self.vocabulary_.encode(texts, self.max_len_)

    def predict_proba_ids(self, ids: np.ndarray) -> np.ndarray:
        """Class probabilities for already-encoded ids, in batches sorted by length."""
        self._check_fitted()
        ids = np.asarray(ids, dtype=np.int32)
        if ids.ndim != 2:
            raise TrainError("errors.neural.token_ids_not_2d")
        return predict_by_length(self._predict_fn(), ids, len(self.classes_), PREDICT_BATCH)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.predict_proba_ids(self.encode(list(texts)))

    def predict(self, texts: Sequence[str]) -> list[str]:
        proba = self.predict_proba(texts)
        return [self.classes_[i] for i in proba.argmax(axis=1)]

    def _predict_fn(self) -> Callable[[np.ndarray], Any]:
        if getattr(self, "_infer", None) is None:
            self._infer = traced_inference(self.model_)
        return self._infer

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise TrainError("errors.neural.not_trained", arch=self.arch)

    # -- persistence ---------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write ``model.keras`` (no optimizer), ``vocab.json`` and ``model.json``."""
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.model_.save(directory / MODEL_FILE)
        self.vocabulary_.save(directory / VOCAB_FILE)
        write_meta(
            directory,
            model_id=self.arch,
            family="neural",
            params=self.get_params(),
            classes=self.classes_,
            token_unit=self.token_unit,
            extra={
                "max_len": self.max_len_,
                "batch_size": self.batch_size_,
                "lsa_used": bool(self.lsa_used_),
                "n_params": self.n_params_,
                "history": self.history_,
                "training": getattr(self, "training_mode_", None),
                "files": {"model": MODEL_FILE, "vocabulary": VOCAB_FILE},
            },
        )


def load(directory: Path, meta: dict[str, Any]) -> KerasTextClassifier:
    """Rebuild a saved :class:`KerasTextClassifier` (``safe_mode=True``; no Lambda layers)."""
    _, keras = keras_modules()
    directory = Path(directory)
    clf = KerasTextClassifier(**meta["params"])
    clf.model_ = keras.saving.load_model(directory / MODEL_FILE, compile=False, safe_mode=True)
    clf.vocabulary_ = Vocabulary.load(directory / VOCAB_FILE)
    clf.classes_ = list(meta["classes"])
    clf.max_len_ = int(meta["max_len"])
    clf.batch_size_ = int(meta.get("batch_size", clf.batch_size))
    clf.lsa_used_ = bool(meta.get("lsa_used", False))
    clf.n_params_ = int(meta.get("n_params", clf.model_.count_params()))
    clf.history_ = {k: list(v) for k, v in meta.get("history", {}).items()}
    clf.model_ = _padding_invariant(keras, clf, directory)
    clf._infer = None
    return clf


def _padding_invariant(keras, clf: KerasTextClassifier, directory: Path):
    """``clf.model_``, or for a CNN saved before :class:`ZeroAtPadding` existed, the same
    weights in today's graph.

    Why: such a CNN's answer depends on how far its input is padded, so Keras, LiteRT and ONNX
    (each padding differently) disagree. The zeroing layer has no weights of its own, so
    rebuilding the architecture and copying every weighted layer by name fixes the old model
    instead of making its owner retrain it.
    """
    from slm_core.models.keras_blocks import ZeroAtPadding

    old = clf.model_
    if clf.arch != "cnn" or any(isinstance(layer, ZeroAtPadding) for layer in old.layers):
        return old
    current = clf._build(keras, len(clf.classes_))
    try:
        for layer in current.layers:
            if layer.weights:
                layer.set_weights(old.get_layer(layer.name).get_weights())
    except ValueError as exc:  # a layer missing or shaped differently: not a CNN we wrote
        reason = " ".join(str(exc).split())[:200]
        raise TrainError(
            "errors.neural.old_model_unreadable", directory=directory, reason=reason
        ) from exc
    return current
