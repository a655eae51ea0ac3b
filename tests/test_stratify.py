"""slm_core.data.stratify makes scikit-learn's train_test_split without importing it: the same
parts, in the same order, and a ValueError wherever scikit-learn raises one."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split as sk_split

from slm_core.data.stratify import train_test_split

SHARES = (0.01, 0.05, 0.15, 0.3, 0.5, 0.7, 0.85, 0.99)


def _labels(rng: np.random.Generator, n: int) -> np.ndarray:
    """n labels from 1-12 classes of skewed sizes (some with a single member), as objects."""
    names = np.array(["sport", "商业", "tech", "<b>x</b>", "a", "b", "c", "d", "e", "f", "g", "h"])
    k = int(rng.integers(1, 13))
    weights = rng.dirichlet(np.full(k, 0.6))
    return np.array(rng.choice(names[:k], size=n, p=weights), dtype=object)


def _both(units, share, seed, stratify):
    """(scikit-learn's parts or its ValueError, ours or our ValueError)."""
    out = []
    for split in (
        lambda: sk_split(units, test_size=share, random_state=seed, stratify=stratify),
        lambda: train_test_split(units, share, seed, stratify),
    ):
        try:
            out.append(tuple(split()))
        except ValueError:
            out.append(ValueError)
    return out


@pytest.mark.parametrize("stratified", [True, False])
def test_the_same_parts_as_scikit_learn_on_many_inputs(stratified):
    rng = np.random.default_rng(20261203)
    raised = same = 0
    for case in range(400):
        n = int(rng.integers(2, 400)) if case % 4 else int(rng.integers(2, 12))
        units = np.sort(rng.choice(1000, size=n, replace=False))  # positions, as split.py
        labels = _labels(rng, n)
        share = float(rng.choice(SHARES))
        seed = int(rng.integers(0, 2**31 - 1))
        theirs, ours = _both(units, share, seed, labels if stratified else None)
        if theirs is ValueError:
            assert ours is ValueError, (case, n, share, seed)
            raised += 1
            continue
        assert ours is not ValueError, (case, n, share, seed)
        for a, b in zip(theirs, ours, strict=True):
            np.testing.assert_array_equal(a, b)
        same += 1
    assert same > 100 and (raised > 20 or not stratified)  # both outcomes were exercised


def test_string_labels_and_the_shares_the_app_uses():
    """Unicode labels as a NumPy string array, and the default 70/15/15 split's two shares."""
    rng = np.random.default_rng(7)
    labels = rng.choice(np.array(["负面", "正面", "中性"]), size=500)
    units = np.arange(500)
    for share, seed in ((0.3, 42), (0.5, 42), (0.15 / 0.3, 13)):
        theirs, ours = _both(units, share, seed, labels)
        for a, b in zip(theirs, ours, strict=True):
            np.testing.assert_array_equal(a, b)
