"""Training and validation batches for the Keras models: bucketed by length, trimmed to the
longest text of each batch (padding is masked), with a token budget per step for long texts;
from arrays in memory, or chunk by chunk from a split streamed off Parquet shards."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

BUCKET_CHUNK = 50  # batches sorted by length together; more = less padding, less randomness
MIN_TOKEN_BATCH = 8


def derive_batch_size(batch_size: int, batch_tokens: int | None, max_len: int) -> int:
    """Texts per training step: ``batch_size``, fewer where texts are long (``batch_tokens``).

    Why: a fixed count of texts is either too few tokens per step for tweets (the per-step
    cost of a small model is mostly overhead, so large batches train several times faster
    per text) or too few steps per epoch for a few thousand long documents (which then
    converge worse). A token budget per step gives short texts large batches and long texts
    small ones, as token-based batching does in machine translation.
    """
    if not batch_tokens:
        return int(batch_size)
    return int(max(1, min(int(batch_size), max(MIN_TOKEN_BATCH, int(batch_tokens) // max_len))))


def count_batches(n: int, batch_size: int) -> int:
    chunk = batch_size * BUCKET_CHUNK
    full, rest = divmod(n, chunk)
    return full * BUCKET_CHUNK + math.ceil(rest / batch_size)


def length_batches(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    batch_size: int,
    rng: np.random.Generator | None,
    shuffle: bool,
) -> Iterator[tuple[np.ndarray, ...]]:
    """Batches of similar length, each trimmed to its longest text (padding is masked)."""
    n = len(y)
    lengths = np.maximum((x != 0).sum(axis=1), 1)
    order = rng.permutation(n) if shuffle and rng is not None else np.arange(n)
    chunk = batch_size * BUCKET_CHUNK if shuffle else max(n, 1)
    batches = []
    for start in range(0, n, chunk):
        part = order[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    if shuffle and rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    for rows in batches:
        xb = x[rows, : int(lengths[rows].max())]
        yield (xb, y[rows]) if w is None else (xb, y[rows], w[rows])


def _signature(tf, weighted: bool) -> tuple:
    signature = [
        tf.TensorSpec((None, None), tf.int32),
        tf.TensorSpec((None,), tf.int32),
    ]
    if weighted:
        signature.append(tf.TensorSpec((None,), tf.float32))
    return tuple(signature)


def _generated(tf, batches: Callable[[], Iterator[tuple]], n_batches: int, weighted: bool):
    """``tf.data`` over the batches ``batches()`` yields, called afresh at each Keras pass."""
    dataset = tf.data.Dataset.from_generator(batches, output_signature=_signature(tf, weighted))
    # A known length lets Keras count steps instead of warning that the data "ran out".
    return dataset.apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(2)


def batch_dataset(tf, x, y, w, batch_size, rng, shuffle):
    """A ``tf.data`` pipeline over :func:`length_batches`, re-shuffled at each Keras pass."""
    n_batches = count_batches(len(y), batch_size) if shuffle else math.ceil(len(y) / batch_size)
    return _generated(
        tf,
        lambda: length_batches(x, y, w, batch_size, rng, shuffle),
        n_batches,
        w is not None,
    )


def chunked_dataset(
    tf,
    chunks: Callable[[], Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]],
    chunk_sizes: list[int],
    batch_size: int,
    rng: np.random.Generator | None,
    shuffle: bool,
    weighted: bool,
):
    """A ``tf.data`` pipeline over :func:`length_batches` of each chunk ``chunks()`` yields
    (ids, labels, weights or None), so that one chunk is in memory at a time.

    ``chunk_sizes`` (rows per chunk, in any order) gives the number of batches: a chunk is
    bucketed on its own, so the count is the sum of each chunk's.
    """

    def batches() -> Iterator[tuple[np.ndarray, ...]]:
        for x, y, w in chunks():
            yield from length_batches(x, y, w, batch_size, rng, shuffle)

    per_chunk = count_batches if shuffle else lambda n, b: math.ceil(n / b)
    n_batches = sum(per_chunk(n, batch_size) for n in chunk_sizes)
    return _generated(tf, batches, n_batches, weighted)
