"""The network of each Keras model id trained from scratch: LSTM, bidirectional GRU, 1-D CNN
and a tiny transformer encoder, from token ids to pooled features.

Every architecture pools over time (max and/or mean, padding masked) instead of reading one
final state. A new model is a features builder added to :data:`ARCHITECTURES` (and its spec in
the registry); :class:`slm_core.models.neural.KerasTextClassifier` adds dropout and the softmax.
"""

from __future__ import annotations

from collections.abc import Callable, Sized
from dataclasses import dataclass
from typing import Any, Protocol


class NetworkSettings(Protocol):
    """What a features builder reads of the classifier: its settings and fitted vocabulary
    (a :class:`slm_core.models.neural.KerasTextClassifier`; named here by what is read, so that
    this module does not import the classifier's)."""

    vocabulary_: Sized
    max_len_: int
    embedding_dim: int
    units: int
    dropout: float
    kernel_size: int
    heads: int
    blocks: int


@dataclass(frozen=True)
class Architecture:
    """What the neural family needs to know about one of its model ids.

    ``features(keras, ids, clf)`` builds the layers from the ``ids`` input to pooled features
    ``(batch, width)`` from the classifier's settings and fitted vocabulary; the classifier adds
    dropout and the softmax. ``lsa_scale`` is the standard deviation of LSA-initialised word
    vectors; ``lsa_auto`` whether "automatic" turns LSA on for document-length texts.
    """

    features: Callable[[Any, Any, NetworkSettings], Any]
    lsa_scale: float
    lsa_auto: bool


def _word_vectors(keras, ids, clf: NetworkSettings, mask_zero: bool):
    """Token embeddings with whole vectors dropped at random (how the RNNs and the CNN start)."""
    vocab, dim = len(clf.vocabulary_), int(clf.embedding_dim)
    x = keras.layers.Embedding(vocab, dim, mask_zero=mask_zero, name="embedding")(ids)
    return keras.layers.SpatialDropout1D(float(clf.dropout))(x)


def _lstm(keras, ids, clf: NetworkSettings):
    from slm_core.models.keras_blocks import MaskedGlobalPool

    x = _word_vectors(keras, ids, clf, mask_zero=True)
    x = keras.layers.LSTM(int(clf.units), return_sequences=True, name="lstm")(x)
    return MaskedGlobalPool("max_mean", name="pool")([x, ids])


def _bigru(keras, ids, clf: NetworkSettings):
    from slm_core.models.keras_blocks import MaskedGlobalPool

    x = _word_vectors(keras, ids, clf, mask_zero=True)
    gru = keras.layers.GRU(int(clf.units), return_sequences=True)
    x = keras.layers.Bidirectional(gru, name="bigru")(x)
    return MaskedGlobalPool("max_mean", name="pool")([x, ids])


def _cnn(keras, ids, clf: NetworkSettings):
    from slm_core.models.keras_blocks import MaskedGlobalPool, ZeroAtPadding

    x = _word_vectors(keras, ids, clf, mask_zero=False)
    # Zero vectors at padding equal the zeros "same" padding adds past the end, so a window
    # over a real token reads the same values at any padding width (see ZeroAtPadding).
    x = ZeroAtPadding(name="zero_padding")([x, ids])
    x = keras.layers.Conv1D(
        int(clf.units), int(clf.kernel_size), padding="same", activation="relu", name="conv"
    )(x)
    return MaskedGlobalPool("max", name="pool")([x, ids])


def _transformer(keras, ids, clf: NetworkSettings):
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
