"""Intervals: one bootstrap for every resampled figure, Wilson's score interval for proportions.

With the same seed and number of texts, :func:`index_chunks` draws the same resamples, so a macro-F1
interval and a net-value interval rest on the same bootstrap samples. A proportion such as accuracy
needs no resampling: :func:`wilson_interval` stays honest where the percentile bootstrap collapses
(every test text right gives the bootstrap [1, 1], Wilson a lower end below 1).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from statistics import NormalDist

import numpy as np

# Chunks keep the index matrix to ~8 MB even for tens of thousands of texts.
INDEX_BUDGET = 1_000_000
# From this many texts a bootstrap of means is drawn over the distinct columns, when there are
# at most one per this many texts (_collapsed_means). Smaller test splits keep the drawn
# resamples that other intervals of the same texts share (index_chunks).
COLLAPSE_FROM = 20_000
COLLAPSE_SHARE = 10


def index_chunks(n: int, n_boot: int, seed: int = 0) -> Iterator[tuple[int, int, np.ndarray]]:
    """(start, stop, indices of shape (stop − start, n)) for resamples ``start:stop``."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_boot, INDEX_BUDGET // max(n, 1)))
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        yield start, stop, rng.integers(0, n, size=(stop - start, n))


def bootstrap_means(
    values: np.ndarray, n_boot: int = 1000, seed: int = 0, weight: np.ndarray | None = None
) -> np.ndarray:
    """Means of each row of ``values`` (m, n) over ``n_boot`` resamples of its n columns.

    With ``weight`` each column stands for that many texts (integer counts): the resamples
    draw the texts, multinomially over the distinct columns, as :func:`_collapsed_means`.
    """
    values = np.atleast_2d(np.asarray(values, dtype=float))
    out = np.empty((n_boot, values.shape[0]))
    if values.shape[1] == 0:
        out.fill(np.nan)
        return out
    if weight is not None:
        return _weighted_means(values, np.asarray(weight), n_boot, seed)
    if values.shape[1] >= COLLAPSE_FROM:
        collapsed = _collapsed_means(values, n_boot, seed)
        if collapsed is not None:
            return collapsed
    for start, stop, idx in index_chunks(values.shape[1], n_boot, seed):
        out[start:stop] = values[:, idx].mean(axis=2).T
    return out


def _collapsed_means(values: np.ndarray, n_boot: int, seed: int) -> np.ndarray | None:
    """The same bootstrap drawn over the distinct columns: None when most columns differ.

    Drawing n columns with replacement is drawing how many times each distinct column comes
    up, multinomially with its share: the resampled means have exactly the ordinary
    bootstrap's distribution, at a cost set by the distinct columns instead of n. Per-text
    values take a handful of distinct tuples (answered or not, right or not, at a few costs),
    so on a test split of 100,000 texts this is milliseconds instead of seconds per figure.
    """
    distinct, counts = np.unique(values.T, axis=0, return_counts=True)
    n = values.shape[1]
    if len(distinct) * COLLAPSE_SHARE > n:
        return None
    return _multinomial_means(distinct, counts, n_boot, seed)


def _weighted_means(values: np.ndarray, weight: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """:func:`_collapsed_means` of the texts that columns weighted by ``weight`` stand for:
    the same distinct columns and counts, so the same draws wherever that collapses (and
    multinomial draws of the same distribution where it would fall back to resampling
    indices, with more distinct columns than a tenth of the texts)."""
    distinct, inverse = np.unique(values.T, axis=0, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=weight, minlength=len(distinct))
    return _multinomial_means(distinct, np.rint(counts).astype(np.int64), n_boot, seed)


def _multinomial_means(
    distinct: np.ndarray, counts: np.ndarray, n_boot: int, seed: int
) -> np.ndarray:
    n = int(counts.sum())
    draws = np.random.default_rng(seed).multinomial(n, counts / n, size=n_boot)
    return draws @ distinct / n


def percentile_interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    """The central ``level`` percentile interval of ``samples`` (NaN where there are none)."""
    samples = np.asarray(samples, dtype=float)
    samples = samples[np.isfinite(samples)]
    if not len(samples):
        return (float("nan"), float("nan"))
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(samples, [tail, 100 - tail])
    return float(lo), float(hi)


# The standard normal from the standard library (Wichura's AS241, ~1e-16 relative): importing
# scipy.special for two functions costs a page's first visit ~0.6 s.
_NORMAL = NormalDist()


def _ndtri(p: float) -> float:
    """The standard normal quantile of ``p``: -inf at 0 and +inf at 1, as scipy's ``ndtri``."""
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return math.inf
    return _NORMAL.inv_cdf(p)


def _normal_quantile(level: float) -> float:
    """z such that a standard normal lies within ±z with probability ``level``."""
    return _ndtri(1 - (1 - level) / 2)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for the proportion ``successes / n`` (NaN when n is 0).

    Unlike the percentile bootstrap or the Wald interval it never collapses to a point at 0 or n
    successes, and its coverage stays near ``level`` for small n (Brown, Cai & DasGupta 2001).
    """
    if n <= 0:
        return (math.nan, math.nan)
    z = _normal_quantile(level)
    z2 = z * z
    p = successes / n
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return (max(0.0, centre - half), min(1.0, centre + half))


def bca_interval(
    boot: np.ndarray, estimate: float, jackknife: np.ndarray, level: float = 0.95
) -> tuple[float, float]:
    """Bias-corrected and accelerated bootstrap interval (Efron & Tibshirani 1993, ch. 14).

    Parameters
    ----------
    boot
        The statistic on each bootstrap resample.
    estimate
        The statistic on the data itself.
    jackknife
        The statistic with each item left out once (gives the acceleration).

    Returns NaN bounds where the resamples do not vary (e.g. macro-F1 with no error at all): no
    bootstrap can size that interval, and a point would claim certainty the data do not give.
    Where the estimate lies outside every resample, the plain percentile interval is returned.
    Otherwise it follows ``scipy.stats.bootstrap(method="BCa")`` step for step, so the two agree
    on the same resamples.
    """
    boot = np.asarray(boot, dtype=float)
    boot = boot[np.isfinite(boot)]
    if len(boot) == 0 or not math.isfinite(estimate) or np.ptp(boot) == 0:
        return (math.nan, math.nan)
    # Share of resamples below the estimate, ties counted half (scipy's percentile of score).
    share = (np.count_nonzero(boot < estimate) + np.count_nonzero(boot <= estimate)) / (
        2 * len(boot)
    )
    z0 = _ndtri(float(share))
    jack = np.asarray(jackknife, dtype=float)
    u = jack.mean() - jack
    spread = float((u**2).sum())
    accel = float((u**3).sum()) / (6 * spread**1.5) if spread > 0 else 0.0
    if not math.isfinite(z0):  # the estimate lies outside every resample: no bias correction
        return percentile_interval(boot, level)
    z = _normal_quantile(level)
    quantiles = [_NORMAL.cdf(z0 + (z0 + zq) / (1 - accel * (z0 + zq))) for zq in (-z, z)]
    lo, hi = np.quantile(boot, quantiles)
    return float(lo), float(hi)
