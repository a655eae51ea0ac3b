"""Keras 3 text classifiers: LSTM, bidirectional GRU, 1-D CNN and a tiny transformer encoder.

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

Large splits: a stored run with more training texts than ``SLM_KERAS_STREAM_ROWS`` hands the
model Parquet shards instead of lists (``fit_shards``): the vocabulary, the sequence length and
the label counts come from one streamed pass, and every epoch reads, encodes and buckets one
chunk at a time.

TensorFlow is imported inside functions only: importing this module stays cheap.
"""

from __future__ import annotations

import inspect
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from slm_core.errors import TrainError
from slm_core.models.base import TrainCallbacks, check_training_input
from slm_core.models.batching import (
    batch_dataset,
    chunked_dataset,
    count_batches,
    derive_batch_size,
)
from slm_core.models.lsa import lsa_vectors, set_token_vectors, use_lsa
from slm_core.models.saved import write_meta
from slm_core.models.tokenize import Vocabulary, derive_max_len, joined_tokens

if TYPE_CHECKING:
    from slm_core.data.shards import ShardSet

MODEL_FILE, VOCAB_FILE = "model.keras", "vocab.json"
PREDICT_BATCH = 256
ADAPT_BATCH = 1024  # texts per vocabulary update, as the in-memory path batches them
# Texts word vectors start from (LSA) when streaming: an SVD over a random sample of this many
# training texts finds the frequent words' co-occurrence as well as one over all of them, at a
# bounded cost (50,000 x 256 int32 ids are 51 MB).
LSA_SAMPLE = 50_000
STREAM_ROWS_VAR = "SLM_KERAS_STREAM_ROWS"


def stream_rows() -> tuple[int, str]:
    """Training texts above which a stored run streams its Keras model's splits from Parquet
    shards, and the variable that set it.

    ``SLM_KERAS_STREAM_ROWS``; unset, the linear models' ``SLM_OUT_OF_CORE_ROWS`` (200,000 by
    default). Why the same limit: in memory a Keras run holds the texts several times over
    (the frame, the split's lists, their tokens) plus an id matrix of up to 1 KB per text
    (``max_len`` 256 x int32), as much as the linear models' TF-IDF matrix or more, so one
    setting suits a machine for both. Why a variable of its own: streaming costs a Keras model
    a tokenisation pass per epoch, which some will trade differently.
    """
    from slm_core.models.hashed_tfidf import out_of_core_rows

    raw = os.environ.get(STREAM_ROWS_VAR)
    if raw:
        try:
            return int(raw), STREAM_ROWS_VAR
        except ValueError:
            pass
    if os.environ.get("SLM_OUT_OF_CORE_ROWS"):
        return out_of_core_rows(), "SLM_OUT_OF_CORE_ROWS"
    return out_of_core_rows(), STREAM_ROWS_VAR


def token_counts(joined: Sequence[str]) -> list[int]:
    """Tokens of each whitespace-joined text (what ``max_len`` is derived from)."""
    return [j.count(" ") + 1 if j else 0 for j in joined]


def _check_val_labels(labels: Iterable[Any], index: dict[str, int]) -> None:
    """TrainError naming the validation labels the training split never had."""
    unknown = sorted({str(v) for v in labels} - set(index))
    if unknown:
        raise TrainError("errors.neural.val_labels_not_in_train", labels=", ".join(unknown))


def _keras():
    """Import TensorFlow and Keras, honouring ``SLM_TF_THREADS`` (threads per op pool)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    threads = os.environ.get("SLM_TF_THREADS")
    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(int(threads))
            tf.config.threading.set_inter_op_parallelism_threads(int(threads))
        except RuntimeError:
            pass  # the runtime already started in this process; its thread pools stay
    import keras

    from slm_core.models import keras_blocks  # noqa: F401  registers the custom layers

    return tf, keras


# -- inference -----------------------------------------------------------------------------


def traced_inference(model, inputs: int = 1) -> Callable[..., Any]:
    """``model`` over ``inputs`` int32 matrices (token ids; the pretrained encoder takes their
    attention mask too) as one traced graph for every batch shape: an eager Keras call costs
    50x more per batch."""
    tf, _ = _keras()
    spec = tf.TensorSpec([None, None], tf.int32)
    if inputs == 1:

        def infer(ids):
            return model(ids, training=False)
    else:

        def infer(*tensors):
            return model(list(tensors), training=False)

    return tf.function(infer, input_signature=[spec] * inputs, autograph=False)


def batches_by_length(lengths: Sequence[int] | np.ndarray, batch: int) -> Iterator[np.ndarray]:
    """Row indices in batches of ``batch`` texts of similar length, shortest first, so that each
    batch is padded to its own longest text only."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    for start in range(0, len(order), int(batch)):
        yield order[start : start + int(batch)]


def predict_by_length(
    infer: Callable[[np.ndarray], Any], ids: np.ndarray, n_classes: int, batch: int
) -> np.ndarray:
    """Class probabilities of int32 ``ids`` (n, width) through ``infer``, in batches of texts
    of similar length, each cut to its longest text (padding is id 0), rows renormalised."""
    out = np.zeros((len(ids), n_classes), dtype=np.float64)
    if len(ids) == 0:
        return out
    lengths = np.maximum((ids != 0).sum(axis=1), 1)
    for rows in batches_by_length(lengths, batch):
        out[rows] = np.asarray(infer(ids[rows, : int(lengths[rows].max())]), dtype=np.float64)
    return out / np.maximum(out.sum(axis=1, keepdims=True), 1e-12)


# -- architectures -------------------------------------------------------------------------


@dataclass(frozen=True)
class Architecture:
    """What the neural family needs to know about one of its model ids.

    ``features(keras, ids, clf)`` builds the layers from the ``ids`` input to pooled features
    ``(batch, width)`` from the classifier's settings and fitted vocabulary; the classifier adds
    dropout and the softmax. ``lsa_scale`` is the standard deviation of LSA-initialised word
    vectors; ``lsa_auto`` whether "automatic" turns LSA on for document-length texts.
    """

    features: Callable[[Any, Any, KerasTextClassifier], Any]
    lsa_scale: float
    lsa_auto: bool


def _word_vectors(keras, ids, clf: KerasTextClassifier, mask_zero: bool):
    """Token embeddings with whole vectors dropped at random (how the RNNs and the CNN start)."""
    vocab, dim = len(clf.vocabulary_), int(clf.embedding_dim)
    x = keras.layers.Embedding(vocab, dim, mask_zero=mask_zero, name="embedding")(ids)
    return keras.layers.SpatialDropout1D(float(clf.dropout))(x)


def _lstm(keras, ids, clf: KerasTextClassifier):
    from slm_core.models.keras_blocks import MaskedGlobalPool

    x = _word_vectors(keras, ids, clf, mask_zero=True)
    x = keras.layers.LSTM(int(clf.units), return_sequences=True, name="lstm")(x)
    return MaskedGlobalPool("max_mean", name="pool")([x, ids])


def _bigru(keras, ids, clf: KerasTextClassifier):
    from slm_core.models.keras_blocks import MaskedGlobalPool

    x = _word_vectors(keras, ids, clf, mask_zero=True)
    gru = keras.layers.GRU(int(clf.units), return_sequences=True)
    x = keras.layers.Bidirectional(gru, name="bigru")(x)
    return MaskedGlobalPool("max_mean", name="pool")([x, ids])


def _cnn(keras, ids, clf: KerasTextClassifier):
    from slm_core.models.keras_blocks import MaskedGlobalPool, ZeroAtPadding

    x = _word_vectors(keras, ids, clf, mask_zero=False)
    # Zero vectors at padding equal the zeros "same" padding adds past the end, so a window
    # over a real token reads the same values at any padding width (see ZeroAtPadding).
    x = ZeroAtPadding(name="zero_padding")([x, ids])
    x = keras.layers.Conv1D(
        int(clf.units), int(clf.kernel_size), padding="same", activation="relu", name="conv"
    )(x)
    return MaskedGlobalPool("max", name="pool")([x, ids])


def _transformer(keras, ids, clf: KerasTextClassifier):
    from slm_core.models.keras_blocks import (
        MaskedGlobalPool,
        TokenAndPositionEmbedding,
        TransformerEncoder,
    )

    dim, drop, ff_dim = int(clf.embedding_dim), float(clf.dropout), 2 * int(clf.units)
    x = TokenAndPositionEmbedding(len(clf.vocabulary_), clf.max_len_, dim, name="embedding")(ids)
    x = keras.layers.Dropout(drop)(x)
    for i in range(int(clf.blocks)):
        x = TransformerEncoder(dim, int(clf.heads), ff_dim, drop, name=f"enc{i}")([x, ids])
    return MaskedGlobalPool("max_mean", name="pool")([x, ids])


# The neural models by id: a new one is a features builder added here (and its spec).
# lsa_scale: recurrent cells (bounded gates) did best on BBC News with large initial vectors;
# ReLU convolutions and attention blow up with them early in training and do better with
# smaller ones (Keras' random default is ~0.03). lsa_auto: the transformer's zero-initialised
# positions already make it start as a bag of words, and LSA vectors did not help it there.
ARCHITECTURES: dict[str, Architecture] = {
    "lstm": Architecture(_lstm, lsa_scale=0.3, lsa_auto=True),
    "bigru": Architecture(_bigru, lsa_scale=0.3, lsa_auto=True),
    "cnn": Architecture(_cnn, lsa_scale=0.1, lsa_auto=True),
    "transformer": Architecture(_transformer, lsa_scale=0.1, lsa_auto=False),
}


def build(
    model_id: str, params: dict[str, Any], *, token_unit: str, seed: int
) -> KerasTextClassifier:
    """An untrained network ``model_id`` with ``params`` (the registry has checked them)."""
    if model_id not in ARCHITECTURES:
        raise TrainError("errors.neural.unknown_architecture", arch=model_id)
    return KerasTextClassifier(model_id, **params, token_unit=token_unit, seed=seed)


# -- the classifier --------------------------------------------------------------------------


class KerasTextClassifier:
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

        tf, keras = _keras()
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

    def fit_shards(
        self,
        train: ShardSet,
        val: ShardSet | None = None,
        callbacks: TrainCallbacks | None = None,
    ) -> KerasTextClassifier:
        """Like :meth:`fit`, reading each split from Parquet shards one chunk at a time.

        The shards hold columns ``text`` and ``label`` (``slm_core.data.shards``). Memory holds
        one chunk's texts and ids, the vocabulary's counts, one token count per training text
        and, where LSA is used, a sample of ``LSA_SAMPLE`` texts' ids; never a whole split.
        The vocabulary and ``max_len_`` are those :meth:`fit` derives from the same texts.
        """
        hooks = callbacks or TrainCallbacks()
        if self.arch not in ARCHITECTURES:
            raise TrainError("errors.neural.unknown_architecture", arch=self.arch)
        hooks.stop_if_asked()
        tf, keras = _keras()
        keras.utils.set_random_seed(int(self.seed))
        label_counts, counts = self._adapt_streamed(tf, keras, train, hooks)
        if len(label_counts) < 2:
            raise TrainError("errors.fit.two_labels_needed")
        self.classes_ = sorted(label_counts)
        index = {c: i for i, c in enumerate(self.classes_)}
        per_label = self._label_weights(np.array([label_counts[c] for c in self.classes_]))
        if val is not None and val.rows == 0:
            val = None
        if val is not None:
            _check_val_labels((v for part in val.column_values("label") for v in part), index)
        model = self._compiled_model(keras, lambda: self._lsa_sample(train, hooks), counts)
        self.batch_size_ = derive_batch_size(self.batch_size, self.batch_tokens, self.max_len_)
        rng = np.random.default_rng(int(self.seed))
        weighted = per_label is not None
        train_ds = chunked_dataset(
            tf,
            lambda: self._encoded_chunks(train, index, per_label, rng),
            train.chunk_sizes(),
            self.batch_size_,
            rng,
            True,
            weighted,
        )
        val_ds = None
        if val is not None:
            val_ds = chunked_dataset(
                tf,
                lambda: self._encoded_chunks(val, index, per_label, None),
                val.chunk_sizes(),
                PREDICT_BATCH,
                None,
                False,
                weighted,
            )
        limit, variable = stream_rows()
        chunk = max(train.chunk_sizes())
        self._record_mode(
            "streamed",
            train.rows,
            f"{train.rows:,} training texts "
            + (f"> {variable}={limit:,}" if train.rows > limit else "handed over as shards")
            + f": read from {len(train.paths)} Parquet shards, {chunk:,} texts at a time",
            (limit, variable),
            shards=len(train.paths),
            chunk=chunk,
        )
        batches = sum(count_batches(n, self.batch_size_) for n in train.chunk_sizes())
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

    def _adapt_streamed(
        self, tf, keras, train: ShardSet, hooks: TrainCallbacks
    ) -> tuple[Counter, np.ndarray]:
        """Set ``max_len_`` and ``vocabulary_`` from the shards in one pass; the label counts
        and each text's token count.

        ``adapt`` iterates a Python generator of batches here, not a ``tf.data`` pipeline:
        it runs in this thread, so a cancel raises straight through and progress is reported
        from the thread that owns the run store's connection. The vocabulary does not depend on
        the order texts come in (``TextVectorization`` sorts by count, ties by token).
        """
        counts = np.zeros(train.rows, dtype=np.int32)
        labels: Counter = Counter()

        def joined_batches() -> Iterator[Any]:
            done = 0
            hooks.on_stage("vocabulary", 0, train.rows)
            for chunk in train.iter_chunks(["text", "label"]):
                hooks.stop_if_asked()
                joined = joined_tokens(chunk["text"], self.token_unit)
                counts[done : done + len(joined)] = token_counts(joined)
                done += len(joined)
                labels.update(str(v) for v in chunk["label"])
                for start in range(0, len(joined), ADAPT_BATCH):
                    yield tf.constant(joined[start : start + ADAPT_BATCH], dtype=tf.string)
                hooks.on_stage("vocabulary", done, train.rows)

        vectorizer = self._vectorizer(keras)
        vectorizer.adapt(joined_batches())
        hooks.stop_if_asked()
        self.max_len_ = int(self.max_len or derive_max_len(counts, int(self.max_len_cap)))
        self.vocabulary_ = Vocabulary(vectorizer.get_vocabulary(), self.token_unit)
        return labels, counts

    def _lsa_sample(self, train: ShardSet, hooks: TrainCallbacks) -> np.ndarray:
        """Ids of up to ``LSA_SAMPLE`` training texts, from chunks in a seeded random order
        (the shards were written shuffled, so each chunk is a random sample already)."""
        parts, taken = [], 0
        for chunk in train.iter_chunks(["text"], np.random.default_rng(int(self.seed))):
            hooks.stop_if_asked()
            texts = chunk["text"][: LSA_SAMPLE - taken]
            parts.append(self.vocabulary_.encode(texts, self.max_len_))
            taken += len(texts)
            if taken >= LSA_SAMPLE:
                break
        return np.concatenate(parts)

    def _encoded_chunks(
        self,
        shards: ShardSet,
        index: dict[str, int],
        per_label: np.ndarray | None,
        rng: np.random.Generator | None,
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """(ids, label indices, weights or None) of each chunk, in an order drawn from ``rng``
        (file order without one). Runs in ``tf.data``'s thread, once per epoch."""
        for chunk in shards.iter_chunks(["text", "label"], rng):
            x = self.vocabulary_.encode(chunk["text"], self.max_len_)
            y = np.array([index[str(v)] for v in chunk["label"]], dtype=np.int32)
            yield x, y, None if per_label is None else per_label[y]

    def _adapt_vocabulary(self, tf, keras, texts: list[str]) -> tuple[np.ndarray, list[int]]:
        """Set ``max_len_`` and ``vocabulary_`` from ``texts``; their ids and token counts."""
        joined = joined_tokens(texts, self.token_unit)
        counts = token_counts(joined)
        self.max_len_ = int(self.max_len or derive_max_len(counts, int(self.max_len_cap)))
        vectorizer = self._vectorizer(keras)
        vectorizer.adapt(tf.data.Dataset.from_tensor_slices(joined).batch(1024))
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
        _check_val_labels(val_labels, index)
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
    _, keras = _keras()
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
