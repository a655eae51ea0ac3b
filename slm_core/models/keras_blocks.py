"""Keras layers and callbacks the neural models are built from (imports Keras: load lazily).

Every custom layer is registered so that a saved ``.keras`` file reloads with
``safe_mode=True`` and contains no ``Lambda`` layer. Padding is id 0 everywhere; layers that
must ignore padding take the token ids as a second input rather than relying on Keras mask
propagation, which ``Conv1D`` and ``Concatenate`` do not carry.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from slm_core.models.base import TrainCallbacks

PACKAGE = "slm"


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskedGlobalPool(layers.Layer):
    """Max and/or mean over time of ``x``, ignoring positions whose token id is 0.

    Call on ``[x, ids]``; ``mode`` is "max", "mean" or "max_mean" (both, concatenated).
    """

    def __init__(self, mode: str = "max_mean", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("max", "mean", "max_mean"):
            raise ValueError(f"Unknown pooling mode {mode!r}")
        self.mode = mode
        # Padding is read from the ids input; accepting (and dropping) an upstream Keras mask
        # silences the "destroys the mask" warning.
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None

    def call(self, inputs):
        x, ids = inputs
        mask = ops.expand_dims(ops.not_equal(ids, 0), -1)  # (batch, time, 1)
        maskf = ops.cast(mask, x.dtype)
        outs = []
        if "max" in self.mode:
            very_negative = ops.full_like(x, -1e9)
            pooled = ops.max(ops.where(mask, x, very_negative), axis=1)
            # An empty text (all padding) pools to zeros instead of -1e9.
            any_token = ops.cast(ops.any(mask, axis=1), x.dtype)
            outs.append(pooled * any_token)
        if "mean" in self.mode:
            total = ops.sum(x * maskf, axis=1)
            count = ops.maximum(ops.sum(maskf, axis=1), 1.0)
            outs.append(total / count)
        return outs[0] if len(outs) == 1 else ops.concatenate(outs, axis=-1)

    def compute_output_shape(self, input_shape):
        x_shape = input_shape[0]
        width = x_shape[-1] * (2 if self.mode == "max_mean" else 1)
        return (x_shape[0], width)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ZeroAtPadding(layers.Layer):
    """``x`` with the vectors at padding positions (token id 0) set to zero.

    Call on ``[x, ids]``. Why: a ``Conv1D(padding="same")`` pads past the end of a sequence
    with zeros; when padding positions hold zeros too, every window over a real token reads
    the same values however wide the padded sequence is, so the convolution's answer no longer
    depends on the padding width (Keras, LiteRT and ONNX each pad to a different width).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # accepts an upstream mask and drops it, as the pool does

    def compute_mask(self, inputs, mask=None):
        return None

    def call(self, inputs):
        x, ids = inputs
        keep = ops.cast(ops.expand_dims(ops.not_equal(ids, 0), -1), x.dtype)
        return x * keep

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package=PACKAGE)
class TokenAndPositionEmbedding(layers.Layer):
    """Token embedding plus a learned embedding of each position (0 .. max_len-1)."""

    def __init__(self, vocab_size: int, max_len: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.max_len, self.dim = vocab_size, max_len, dim
        self.tokens = layers.Embedding(vocab_size, dim, name="tokens")
        # Zero-initialised: the model starts order-blind (a bag of words, which small datasets
        # learn reliably) and learns position only where it pays; random initial position
        # vectors are noise on every token.
        self.positions = layers.Embedding(
            max_len, dim, embeddings_initializer="zeros", name="positions"
        )

    def build(self, input_shape):
        self.tokens.build(input_shape)
        self.positions.build((None,))
        self.built = True

    def call(self, ids):
        # Length of this batch (bucketing makes it vary), not max_len. Positions past max_len
        # can only be padding (texts are truncated to max_len), which attention and pooling
        # ignore: clipping them lets any padding width through instead of failing the lookup.
        positions = ops.arange(ops.shape(ids)[-1], dtype="int32")
        positions = ops.minimum(positions, self.max_len - 1)
        return self.tokens(ids) + ops.expand_dims(self.positions(positions), 0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.dim)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "max_len": self.max_len,
            "dim": self.dim,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class TransformerEncoder(layers.Layer):
    """One pre-norm encoder block: self-attention over non-padding tokens, then a ReLU MLP.

    Pre-norm keeps the residual stream unnormalised, so the pooled output can still weigh
    telling words more than filler (post-norm scales every position alike) and trains more
    stably without a warm-up.

    Call on ``[x, ids]``.
    """

    def __init__(self, dim: int, heads: int, ff_dim: int, dropout: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.heads, self.ff_dim, self.dropout = dim, heads, ff_dim, dropout
        self.attention = layers.MultiHeadAttention(heads, max(1, dim // heads), name="attention")
        self.ff_in = layers.Dense(ff_dim, activation="relu", name="ff_in")
        self.ff_out = layers.Dense(dim, name="ff_out")
        self.norm1 = layers.LayerNormalization(epsilon=1e-6, name="norm1")
        self.norm2 = layers.LayerNormalization(epsilon=1e-6, name="norm2")
        self.drop1 = layers.Dropout(dropout)
        self.drop2 = layers.Dropout(dropout)

    def build(self, input_shape):
        x_shape = input_shape[0]
        self.attention.build(x_shape, x_shape)
        self.norm1.build(x_shape)
        self.ff_in.build(x_shape)
        self.ff_out.build((*x_shape[:-1], self.ff_dim))
        self.norm2.build(x_shape)
        self.built = True

    def call(self, inputs, training=False):
        x, ids = inputs
        keys = ops.not_equal(ids, 0)  # (batch, time)
        # (batch, query, key): every query may look at every non-padding key.
        attention_mask = ops.logical_and(
            ops.expand_dims(keys, 1), ops.expand_dims(ops.ones_like(keys), 2)
        )
        normed = self.norm1(x)
        attended = self.attention(normed, normed, attention_mask=attention_mask, training=training)
        x = x + self.drop1(attended, training=training)
        hidden = self.ff_out(self.ff_in(self.norm2(x)))
        return x + self.drop2(hidden, training=training)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {
            **super().get_config(),
            "dim": self.dim,
            "heads": self.heads,
            "ff_dim": self.ff_dim,
            "dropout": self.dropout,
        }


class ProgressCallback(keras.callbacks.Callback):
    """Forwards Keras progress to :class:`TrainCallbacks` and stops when the user cancels."""

    def __init__(self, hooks: TrainCallbacks, epochs: int, batches_per_epoch: int):
        super().__init__()
        self.hooks, self.epochs, self.batches = hooks, epochs, batches_per_epoch
        self.epoch = 0
        self.history: dict[str, list[float]] = {
            "loss": [],
            "accuracy": [],
            "val_loss": [],
            "val_accuracy": [],
        }

    def _check(self) -> None:
        self.hooks.stop_if_asked()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self._check()

    def on_train_batch_end(self, batch, logs=None):
        self.hooks.on_batch(self.epoch, batch, self.batches)
        self._check()

    def on_test_batch_end(self, batch, logs=None):
        self._check()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        clean = {k: float(logs[k]) for k in self.history if k in logs}
        for key, value in clean.items():
            self.history[key].append(value)
        self.hooks.on_epoch(epoch, self.epochs, clean)
