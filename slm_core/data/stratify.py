"""scikit-learn's shuffled ``train_test_split`` (stratified or not), without importing it.

Importing scikit-learn costs about 2 s of CPU here (it pulls in SciPy's statistics), and a
split is all that pages such as the LLM page need of it. This is scikit-learn 1.9's algorithm
step by step (``train_test_split`` with a float ``test_size``, ``StratifiedShuffleSplit`` and
``ShuffleSplit``, ``_approximate_mode``), with the same ``RandomState`` draws in the same order,
so a split made here is the one scikit-learn makes: every stored dataset keeps its split.
``tests/test_stratify.py`` compares the two on many inputs, the ones that fail included.

It raises ``ValueError`` exactly where scikit-learn does, since callers fall back on it.
"""

from __future__ import annotations

from math import ceil

import numpy as np


def shuffle_split_sizes(n_samples: int, test_size: float) -> tuple[int, int]:
    """(n_train, n_test) as scikit-learn sizes a split of ``n_samples`` with a float share."""
    if not 0 < test_size < 1:
        raise ValueError(f"test_size={test_size} should be a float in the (0, 1) range")
    n_test = ceil(test_size * n_samples)
    n_train = n_samples - n_test
    if n_train <= 0:  # scikit-learn: "the resulting train set will be empty"
        raise ValueError(f"with {n_samples} samples and test_size={test_size} train is empty")
    return n_train, n_test


def approximate_mode(
    class_counts: np.ndarray, n_draws: int, rng: np.random.RandomState
) -> np.ndarray:
    """scikit-learn's approximate mode of the multivariate hypergeometric: per class, how many
    of ``n_draws`` it gets (shares floored, the rest to the largest remainders, ties drawn)."""
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        values = np.sort(np.unique(remainder))[::-1]
        for value in values:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need_to_add)
            inds = rng.choice(inds, size=add_now, replace=False)
            floored[inds] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)


def train_test_split(
    units: np.ndarray, test_size: float, seed: int, stratify: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``sklearn.model_selection.train_test_split(units, test_size=test_size,
    random_state=seed, stratify=stratify)``: (first part, second part) of ``units``."""
    units = np.asarray(units)
    n_samples = len(units)
    n_train, n_test = shuffle_split_sizes(n_samples, test_size)
    rng = np.random.RandomState(seed)
    if stratify is None:
        permutation = rng.permutation(n_samples)
        test = permutation[:n_test]
        train = permutation[n_test : n_test + n_train]
        return units[train], units[test]
    y = np.asarray(stratify)
    if len(y) != n_samples:
        raise ValueError(f"stratify has {len(y)} labels for {n_samples} samples")
    classes, y_indices, class_counts = np.unique(y, return_inverse=True, return_counts=True)
    n_classes = classes.shape[0]
    if np.min(class_counts) < 2:
        raise ValueError("the least populated class has only 1 member")
    if n_train < n_classes or n_test < n_classes:
        raise ValueError("each part must hold at least one member of every class")
    class_indices = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    n_i = approximate_mode(class_counts, n_train, rng)
    t_i = approximate_mode(class_counts - n_i, n_test, rng)
    train: list[int] = []
    test: list[int] = []
    for i in range(n_classes):
        permutation = rng.permutation(class_counts[i])
        members = class_indices[i].take(permutation, mode="clip")
        train.extend(members[: n_i[i]])
        test.extend(members[n_i[i] : n_i[i] + t_i[i]])
    return units[rng.permutation(train)], units[rng.permutation(test)]
