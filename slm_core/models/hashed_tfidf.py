"""TF-IDF over hashed n-grams, for linear models trained out of core (``slm_core.models.linear``)
on more training texts than ``SLM_OUT_OF_CORE_ROWS``: no vocabulary, an idf counted a chunk at a
time."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer

# Training texts above which the linear models train out of core (``SLM_OUT_OF_CORE_ROWS``).
OUT_OF_CORE_ROWS = 200_000


def out_of_core_rows() -> int:
    """Training texts above which linear models train out of core (``SLM_OUT_OF_CORE_ROWS``)."""
    try:
        return int(os.environ.get("SLM_OUT_OF_CORE_ROWS", OUT_OF_CORE_ROWS))
    except ValueError:
        return OUT_OF_CORE_ROWS


class HashedTfidf:
    """TF-IDF over hashed n-grams: ``HashingVectorizer`` counts, sublinear tf, an idf counted
    a chunk at a time (features in fewer than ``min_df`` texts get idf 0: dropped), l2 norm.

    The same features as ``TfidfVectorizer`` with the same settings, except that n-grams share
    ``HASH_FEATURES`` columns (a collision merges two rare n-grams) and there is no vocabulary.
    """

    def __init__(self, hasher: HashingVectorizer, sublinear_tf: bool) -> None:
        self.hasher = hasher
        self.sublinear_tf = sublinear_tf

    @property
    def ngram_range(self) -> tuple[int, int]:
        return self.hasher.ngram_range

    def build_analyzer(self):
        return self.hasher.build_analyzer()

    def counts(self, texts: Sequence[str]):
        return self.hasher.transform(list(texts))

    def fit_idf(self, chunks, n_texts: int, min_df: int) -> HashedTfidf:
        """The idf from document frequencies summed over ``chunks`` (lists of texts)."""
        df = np.zeros(self.hasher.n_features, dtype=np.int64)
        for texts in chunks:
            df += np.bincount(self.counts(texts).indices, minlength=self.hasher.n_features)
        self.idf_ = np.log((1.0 + n_texts) / (1.0 + df)) + 1.0  # scikit-learn's smooth idf
        self.idf_[df < max(int(min_df), 1)] = 0.0
        return self

    def transform(self, texts: Sequence[str]):
        from sklearn.preprocessing import normalize

        features = self.counts(texts).astype(np.float64)
        if self.sublinear_tf:
            np.log(features.data, out=features.data)
            features.data += 1.0
        features.data *= self.idf_[features.indices]
        features.eliminate_zeros()
        return normalize(features, copy=False)
