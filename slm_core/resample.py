"""One bootstrap for every interval: accuracy, F1 and the money figures resample test texts alike.

With the same seed and number of texts, :func:`index_chunks` draws the same resamples, so an
accuracy interval and a net-value interval rest on the same bootstrap samples.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

# Chunks keep the index matrix to ~8 MB even for tens of thousands of texts.
INDEX_BUDGET = 1_000_000


def index_chunks(n: int, n_boot: int, seed: int = 0) -> Iterator[tuple[int, int, np.ndarray]]:
    """(start, stop, indices of shape (stop − start, n)) for resamples ``start:stop``."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_boot, INDEX_BUDGET // max(n, 1)))
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        yield start, stop, rng.integers(0, n, size=(stop - start, n))


def bootstrap_means(values: np.ndarray, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """Means of each row of ``values`` (m, n) over ``n_boot`` resamples of its n columns."""
    values = np.atleast_2d(np.asarray(values, dtype=float))
    out = np.empty((n_boot, values.shape[0]))
    if values.shape[1] == 0:
        out.fill(np.nan)
        return out
    for start, stop, idx in index_chunks(values.shape[1], n_boot, seed):
        out[start:stop] = values[:, idx].mean(axis=2).T
    return out


def percentile_interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    """The central ``level`` percentile interval of ``samples`` (NaN where there are none)."""
    samples = np.asarray(samples, dtype=float)
    samples = samples[np.isfinite(samples)]
    if not len(samples):
        return (float("nan"), float("nan"))
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(samples, [tail, 100 - tail])
    return float(lo), float(hi)
