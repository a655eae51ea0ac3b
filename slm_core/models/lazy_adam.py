"""Adam that updates only the embedding rows a batch touched (imports TensorFlow: load lazily).

Why: a batch of 32 tweets reads about a thousand of the 20,000 rows of the word-embedding
table, but Keras 3's Adam (and its per-variable ``clipnorm``) turns the sparse gradient of that
table into a dense one and rewrites all 2.5 million weights and both moment tables every step.
Measured here, that was ~5 of the ~9 ms of an LSTM training step. This is the "lazy" Adam of
TensorFlow Addons (``LazyAdam``) for Keras 3: for a sparse (``tf.IndexedSlices``) gradient it
updates the moments and weights of the touched rows only, so rows of words absent from a batch
keep their moments unchanged instead of decaying; dense gradients follow Keras' Adam exactly.
Used for training only: a saved model carries no optimizer.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from slm_core.models.keras_blocks import PACKAGE


def _merge_duplicates(gradient: tf.IndexedSlices) -> tf.IndexedSlices:
    """One row per index: a word seen twice in a batch has its two gradients summed."""
    unique, positions = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, positions, tf.shape(unique)[0])
    return tf.IndexedSlices(values, unique, gradient.dense_shape)


@keras.saving.register_keras_serializable(package=PACKAGE)
class LazyAdam(keras.optimizers.Adam):
    """Adam whose sparse updates touch only the rows present in the gradient."""

    def _clip_gradients(self, grads):
        # Keras calls this before every update, with or without clipping: merging here once
        # gives both the norm (of the dense gradient = of its merged rows) and the row updates
        # (a scatter must not see one row twice) what they need.
        merged = [_merge_duplicates(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
        return super()._clip_gradients(merged)

    def _clip_by_norm(self, values, axes=None):
        if not isinstance(values, tf.IndexedSlices):
            return super()._clip_by_norm(values, axes)
        clipped = tf.clip_by_norm(values.values, self.clipnorm)
        return tf.IndexedSlices(clipped, values.indices, values.dense_shape)

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(gradient, tf.IndexedSlices) or self.amsgrad:
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        rows, values = gradient.indices, tf.cast(gradient.values, dtype)
        lr = ops.cast(learning_rate, dtype)
        step = ops.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = ops.cast(self.beta_1, dtype), ops.cast(self.beta_2, dtype)
        alpha = lr * ops.sqrt(1 - ops.power(beta_2, step)) / (1 - ops.power(beta_1, step))

        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        m_rows = beta_1 * tf.gather(m.value, rows) + (1 - beta_1) * values
        v_rows = beta_2 * tf.gather(v.value, rows) + (1 - beta_2) * tf.square(values)
        self.assign(m, tf.IndexedSlices(m_rows, rows, gradient.dense_shape))
        self.assign(v, tf.IndexedSlices(v_rows, rows, gradient.dense_shape))
        step_rows = alpha * m_rows / (tf.sqrt(v_rows) + self.epsilon)
        self.assign_sub(variable, tf.IndexedSlices(step_rows, rows, gradient.dense_shape))
