"""Training a Keras classifier on a split too large to hold as lists: Parquet shards, one chunk
at a time.

A stored run with more training texts than :func:`stream_rows` hands the model Parquet shards
instead of lists (``KerasTextClassifier.fit_shards``): the vocabulary, the sequence length and
the label counts come from one streamed pass, and every epoch reads, encodes and buckets one
chunk at a time. The network, its optimiser and the training loop are the in-memory path's
(:mod:`slm_core.models.neural`), so both paths derive the same model from the same texts.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from slm_core.errors import TrainError
from slm_core.models.architectures import ARCHITECTURES
from slm_core.models.base import TrainCallbacks, check_validation_labels
from slm_core.models.batching import chunked_dataset, count_batches, derive_batch_size
from slm_core.models.keras_runtime import PREDICT_BATCH, keras_modules
from slm_core.models.tokenize import Vocabulary, derive_max_len, joined_tokens, token_counts

if TYPE_CHECKING:
    from slm_core.data.shards import ShardSet

ADAPT_BATCH = 1024  # texts per vocabulary update, on both paths
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


class ShardFitting:
    """``fit_shards`` of :class:`slm_core.models.neural.KerasTextClassifier`, the class that
    mixes it in and provides the steps both paths share (``_compiled_model``, ``_train``,
    ``_keep``, ``_label_weights``, ``_record_mode``, ``_vectorizer``)."""

    def fit_shards(
        self,
        train: ShardSet,
        val: ShardSet | None = None,
        callbacks: TrainCallbacks | None = None,
    ) -> Self:
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
        tf, keras = keras_modules()
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
            labels = (v for part in val.column_values("label") for v in part)
            check_validation_labels(labels, index)
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
