"""TensorFlow and Keras on demand, and the inference helpers every Keras model here shares
(the classifiers trained from scratch and the pretrained encoder with its heads).

TensorFlow is imported inside functions only: importing this module stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

PREDICT_BATCH = 256  # texts (or sentence vectors) per inference batch


def keras_modules():
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


def traced_inference(model, inputs: int = 1) -> Callable[..., Any]:
    """``model`` over ``inputs`` int32 matrices (token ids; the pretrained encoder takes their
    attention mask too) as one traced graph for every batch shape: an eager Keras call costs
    50x more per batch."""
    tf, _ = keras_modules()
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
