"""The BERT encoder's layers in Keras 3, computed exactly as Hugging Face's ``BertModel`` does.

Embeddings: word + absolute position + token type (always type 0 here, single sentences), then
LayerNorm. Each of the layers: self-attention (12 heads), its output projection, residual and
LayerNorm (post-norm), then a GELU feed-forward block (exact erf GELU, as ``hidden_act="gelu"``),
residual and LayerNorm. Dropout is left out: the encoder is only ever run frozen, for inference.
Pooling is sentence-transformers': the mean over the attention mask, then L2 normalisation
(:func:`pooled_encoder` pools the top few layers so, side by side).

Imported only once TensorFlow is wanted (``encoder.py`` imports it inside functions).
"""

from __future__ import annotations

import keras
from keras import ops

PACKAGE = "slm_minilm"
# Added to attention scores at padding: exp() of it is exactly 0 in float32, as with HF's
# finfo(float32).min, without the overflow that value risks in a sum.
_MASKED = -1e9


def _gelu(x):
    """Exact (erf) GELU, as BERT's ``hidden_act="gelu"``. Written with ``erf`` because Keras'
    own exact GELU lowers to ``Erfc`` in TensorFlow, which ONNX Runtime cannot load."""
    return 0.5 * x * (1.0 + ops.erf(x * 0.7071067811865476))


@keras.saving.register_keras_serializable(package=PACKAGE)
class BertEmbeddings(keras.layers.Layer):
    """Word, position and token-type (0) embeddings summed, then LayerNorm."""

    def __init__(self, vocab_size, max_positions, hidden, type_vocab_size, eps, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size, self.max_positions = int(vocab_size), int(max_positions)
        self.hidden, self.type_vocab_size, self.eps = int(hidden), int(type_vocab_size), eps
        self.word = keras.layers.Embedding(self.vocab_size, self.hidden, name="word")
        self.position = keras.layers.Embedding(self.max_positions, self.hidden, name="position")
        self.token_type = keras.layers.Embedding(self.type_vocab_size, self.hidden, name="type")
        self.norm = keras.layers.LayerNormalization(epsilon=eps, name="norm")

    def build(self, input_shape):
        self.word.build((None, None))
        self.position.build((None, None))
        self.token_type.build((None, None))
        self.norm.build((None, None, self.hidden))
        super().build(input_shape)

    def call(self, ids):
        length = ops.shape(ids)[1]
        positions = ops.expand_dims(ops.arange(length, dtype="int32"), 0)
        x = self.word(ids) + self.position(positions)
        x = x + self.token_type(ops.zeros_like(positions))
        return self.norm(x)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "max_positions": self.max_positions,
            "hidden": self.hidden,
            "type_vocab_size": self.type_vocab_size,
            "eps": self.eps,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class BertLayer(keras.layers.Layer):
    """One post-norm transformer layer: attention + residual + LayerNorm, FFN + residual +
    LayerNorm. Inputs ``[x (batch, len, hidden), mask (batch, len) 1 = token, 0 = padding]``."""

    def __init__(self, hidden, heads, intermediate, eps, **kwargs):
        super().__init__(**kwargs)
        self.hidden, self.heads = int(hidden), int(heads)
        self.intermediate, self.eps = int(intermediate), eps
        self.head_dim = self.hidden // self.heads
        dense = keras.layers.Dense
        self.query = dense(self.hidden, name="query")
        self.key = dense(self.hidden, name="key")
        self.value = dense(self.hidden, name="value")
        self.attention_out = dense(self.hidden, name="attention_out")
        self.attention_norm = keras.layers.LayerNormalization(epsilon=eps, name="attention_norm")
        self.ffn_in = dense(self.intermediate, name="ffn_in")
        self.ffn_out = dense(self.hidden, name="ffn_out")
        self.output_norm = keras.layers.LayerNormalization(epsilon=eps, name="output_norm")

    def build(self, input_shape):
        for layer in (self.query, self.key, self.value, self.attention_out):
            layer.build((None, None, self.hidden))
        self.ffn_in.build((None, None, self.hidden))
        self.ffn_out.build((None, None, self.intermediate))
        self.attention_norm.build((None, None, self.hidden))
        self.output_norm.build((None, None, self.hidden))
        super().build(input_shape)

    def _split(self, x, batch, length):
        x = ops.reshape(x, (batch, length, self.heads, self.head_dim))
        return ops.transpose(x, (0, 2, 1, 3))  # (batch, heads, len, head_dim)

    def call(self, inputs):
        x, mask = inputs
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        q = self._split(self.query(x), batch, length)
        k = self._split(self.key(x), batch, length)
        v = self._split(self.value(x), batch, length)
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / (self.head_dim**0.5)
        padding = (1.0 - ops.cast(mask, scores.dtype)) * _MASKED
        scores = scores + padding[:, None, None, :]
        context = ops.matmul(ops.softmax(scores, axis=-1), v)
        context = ops.reshape(ops.transpose(context, (0, 2, 1, 3)), (batch, length, self.hidden))
        x = self.attention_norm(x + self.attention_out(context))
        h = self.ffn_out(_gelu(self.ffn_in(x)))
        return self.output_norm(x + h)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden": self.hidden,
            "heads": self.heads,
            "intermediate": self.intermediate,
            "eps": self.eps,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class MeanPoolNormalize(keras.layers.Layer):
    """Mean of the token vectors over the mask, then divided by its L2 norm (eps 1e-12), as
    sentence-transformers' Pooling (mean) and Normalize modules."""

    def call(self, inputs):
        x, mask = inputs
        weights = ops.expand_dims(ops.cast(mask, x.dtype), -1)
        summed = ops.sum(x * weights, axis=1)
        pooled = summed / ops.maximum(ops.sum(weights, axis=1), 1e-9)
        norm = ops.sqrt(ops.sum(pooled * pooled, axis=-1, keepdims=True))
        return pooled / ops.maximum(norm, 1e-12)


def build_encoder(config: dict, name: str = "minilm"):
    """The encoder as a Keras model ``[ids, mask] -> (batch, hidden)`` unit vectors, unweighted."""
    eps = float(config.get("layer_norm_eps", 1e-12))
    hidden = int(config["hidden_size"])
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    mask = keras.Input(shape=(None,), dtype="int32", name="mask")
    x = BertEmbeddings(
        config["vocab_size"],
        config["max_position_embeddings"],
        hidden,
        config.get("type_vocab_size", 2),
        eps,
        name="embeddings",
    )(ids)
    for i in range(int(config["num_hidden_layers"])):
        x = BertLayer(
            hidden,
            config["num_attention_heads"],
            config["intermediate_size"],
            eps,
            name=f"layer{i}",
        )([x, mask])
    pooled = MeanPoolNormalize(name="pool")([x, mask])
    return keras.Model([ids, mask], pooled, name=name)


def pooled_encoder(encoder, layers: int):
    """``encoder`` with the top ``layers`` layers each mean-pooled and normalised, concatenated
    last layer first: ``(batch, layers * hidden)``. One layer is ``encoder`` itself (the
    sentence-transformers vector); more share its weights, and their first ``hidden`` numbers
    are that vector. A small head reads task cues (sentiment, topic words) that the last
    layer, trained for sentence similarity, has partly averaged away: +0.4 to +0.7 points of
    validation accuracy for three layers (bench/results/pretrained_layers_tuning.md)."""
    layers = int(layers)
    if layers == 1:
        return encoder
    n_layers = sum(1 for layer in encoder.layers if isinstance(layer, BertLayer))
    if not 1 <= layers <= n_layers:
        raise ValueError(f"pooled layers must be 1 to {n_layers}, not {layers}")
    ids, mask = encoder.inputs
    pools = [encoder.output]
    for i in range(n_layers - 2, n_layers - layers - 1, -1):
        states = encoder.get_layer(f"layer{i}").output
        pools.append(MeanPoolNormalize(name=f"pool{i}")([states, mask]))
    joined = keras.layers.Concatenate(name="pools")(pools)
    return keras.Model([ids, mask], joined, name=f"{encoder.name}_top{layers}")


def load_weights(model, weights: dict, n_layers: int) -> None:
    """Copy Hugging Face BERT weights (NumPy arrays by their ``BertModel`` names) into ``model``.

    ``torch.nn.Linear`` stores ``(out, in)``; a Keras ``Dense`` kernel is ``(in, out)``. A
    missing or mis-shaped tensor raises (``KeyError`` / ``ValueError``): never half-loaded.
    """
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""

    def w(name):
        return weights[prefix + name]

    emb = model.get_layer("embeddings")
    emb.word.set_weights([w("embeddings.word_embeddings.weight")])
    emb.position.set_weights([w("embeddings.position_embeddings.weight")])
    emb.token_type.set_weights([w("embeddings.token_type_embeddings.weight")])
    emb.norm.set_weights([w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias")])
    for i in range(n_layers):
        layer, p = model.get_layer(f"layer{i}"), f"encoder.layer.{i}."
        pairs = {
            layer.query: "attention.self.query",
            layer.key: "attention.self.key",
            layer.value: "attention.self.value",
            layer.attention_out: "attention.output.dense",
            layer.ffn_in: "intermediate.dense",
            layer.ffn_out: "output.dense",
        }
        for dense, name in pairs.items():
            dense.set_weights([w(f"{p}{name}.weight").T, w(f"{p}{name}.bias")])
        for norm, name in (
            (layer.attention_norm, "attention.output.LayerNorm"),
            (layer.output_norm, "output.LayerNorm"),
        ):
            norm.set_weights([w(f"{p}{name}.weight"), w(f"{p}{name}.bias")])


@keras.saving.register_keras_serializable(package=PACKAGE)
class PaddingMask(keras.layers.Layer):
    """1 for a word piece, 0 for padding (id 0, ``[PAD]``): the attention mask from the ids."""

    def call(self, ids):
        return ops.cast(ops.not_equal(ids, 0), "int32")


def with_head(encoder, head, name: str):
    """``ids -> probabilities``: the frozen encoder (mask from the ids) then the head, one model
    for serving and export (the runtimes take one int32 input)."""
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    vectors = encoder([ids, PaddingMask(name="mask")(ids)])
    return keras.Model(ids, head(vectors), name=name)
