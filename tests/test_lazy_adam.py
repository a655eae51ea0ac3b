"""The lazy Adam: dense gradients as Keras' Adam, sparse ones update only the touched rows."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from slm_core.models.lazy_adam import LazyAdam  # noqa: E402

ROWS, DIM = 6, 3


def _pair(clipnorm: float | None = None):
    """A lazy and a Keras Adam, each with its own copy of the same table."""
    start = np.arange(ROWS * DIM, dtype=np.float32).reshape(ROWS, DIM) / 10
    out = []
    for cls in (LazyAdam, keras.optimizers.Adam):
        variable = keras.Variable(start.copy())
        kwargs = {"clipnorm": clipnorm} if clipnorm else {}
        optimizer = cls(learning_rate=0.1, **kwargs)
        optimizer.build([variable])
        out.append((optimizer, variable))
    return out


def _sparse(values, indices):
    return tf.IndexedSlices(
        tf.constant(values, tf.float32), tf.constant(indices, tf.int64), (ROWS, DIM)
    )


def test_dense_gradients_match_keras_adam():
    (lazy, a), (adam, b) = _pair()
    rng = np.random.default_rng(0)
    for _ in range(3):
        grad = rng.normal(size=(ROWS, DIM)).astype(np.float32)
        lazy.apply([tf.constant(grad)], [a])
        adam.apply([tf.constant(grad)], [b])
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


@pytest.mark.parametrize("clipnorm", [None, 0.5])
def test_first_sparse_step_equals_dense_adam_with_duplicate_rows_summed(clipnorm):
    # On the first step Adam leaves zero-gradient rows where they are, so lazy == dense there.
    (lazy, a), (adam, b) = _pair(clipnorm)
    grad = _sparse([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0], [4.0, 0.0, -1.0]], [4, 1, 4])
    lazy.apply([grad], [a])
    adam.apply([tf.convert_to_tensor(grad)], [b])
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)  # float32, steps of 0.1
    assert not np.allclose(a.numpy()[[1, 4]], _pair()[0][1].numpy()[[1, 4]])


def test_rows_absent_from_a_batch_keep_their_weights():
    # Dense Adam keeps moving row 1 on step 2 (its momentum); the lazy one leaves it alone.
    (lazy, a), (adam, b) = _pair()
    for optimizer, variable in ((lazy, a), (adam, b)):
        optimizer.apply([_sparse([[1.0, 1.0, 1.0]], [1])], [variable])
    after_first = a.numpy().copy()
    lazy.apply([_sparse([[1.0, -1.0, 1.0]], [3])], [a])
    adam.apply([_sparse([[1.0, -1.0, 1.0]], [3])], [b])
    np.testing.assert_array_equal(a.numpy()[[0, 1, 2, 4, 5]], after_first[[0, 1, 2, 4, 5]])
    assert not np.allclose(b.numpy()[1], after_first[1])
    np.testing.assert_allclose(a.numpy()[3], b.numpy()[3], atol=1e-5)


def test_a_keras_embedding_is_trained_sparsely():
    """The model's embedding gradient really arrives sparse, so training takes the lazy path."""
    keras.utils.set_random_seed(0)
    ids = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(50, 4, mask_zero=True, name="embedding")(ids)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(ids, keras.layers.Dense(2, activation="softmax")(x))
    model.compile(optimizer=LazyAdam(0.01, clipnorm=1.0), loss="sparse_categorical_crossentropy")
    before = model.get_layer("embedding").get_weights()[0].copy()
    batch = np.array([[3, 4, 0], [5, 3, 0]], dtype=np.int32)
    for _ in range(2):
        model.train_on_batch(batch, np.array([0, 1], dtype=np.int32))
    after = model.get_layer("embedding").get_weights()[0]
    touched = [3, 4, 5]
    untouched = [i for i in range(50) if i not in touched]
    np.testing.assert_array_equal(after[untouched], before[untouched])
    assert not np.allclose(after[touched], before[touched])
