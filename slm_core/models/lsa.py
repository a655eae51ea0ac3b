"""Word vectors initialised from the training texts' TF-IDF statistics (LSA), for the Keras
models: where they apply and how they are computed and copied into an embedding."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# How large the initial word vectors are, and whether "auto" applies LSA at all, is each
# architecture's (``architectures.ARCHITECTURES``). "Auto" turns LSA on for document-length texts
# only: a tweet has too few words for their co-occurrence to say much, and on the tweets demo
# LSA vectors lowered accuracy.
LSA_MIN_MEDIAN_TOKENS = 64


def use_lsa(setting: bool | None, token_counts: Sequence[int], lsa_auto: bool) -> bool:
    """Whether to start from LSA word vectors: the user's choice, or "auto" (None), which the
    architecture may allow (``lsa_auto``) for document-length texts."""
    if setting is not None:
        return bool(setting)
    if not lsa_auto or not len(token_counts):
        return False
    return float(np.median(token_counts)) >= LSA_MIN_MEDIAN_TOKENS


def lsa_vectors(x: np.ndarray, vocab_size: int, dim: int) -> np.ndarray:
    """Word vectors ``(vocab, k <= dim)``: truncated SVD of the word x text TF-IDF matrix (LSA).

    Built from the training split only.

    Why: with a few thousand texts, randomly initialised embeddings overfit before words that
    occur in the same texts end up near each other; LSA puts them there before training starts
    (on BBC News it lifted the LSTM from ~0.93-0.96 to ~0.98 test accuracy). Rows 0 and 1
    (padding, unknown), and columns beyond ``k`` on tiny data, keep their random initial values.
    """
    from scipy import sparse
    from sklearn.utils.extmath import randomized_svd

    n_texts = len(x)
    words = x.ravel()
    texts = np.repeat(np.arange(n_texts), x.shape[1])
    keep = words > 1
    counts = sparse.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.float64), (words[keep], texts[keep])),
        shape=(vocab_size, n_texts),
    )
    counts.sum_duplicates()
    counts.data = 1.0 + np.log(counts.data)
    df = np.diff(counts.indptr)
    idf = np.log((1.0 + n_texts) / (1.0 + df)) + 1.0
    matrix = sparse.diags(idf) @ counts
    k = min(dim, n_texts - 1, vocab_size - 3)
    if k < 1 or matrix.nnz == 0:
        return np.zeros((vocab_size, 0), dtype=np.float32)
    u, s, _ = randomized_svd(matrix, k, random_state=0)
    vectors = u * np.sqrt(s)
    vectors /= max(float(vectors[2:].std()), 1e-12)  # unit std; callers scale
    return vectors.astype(np.float32)


def set_token_vectors(model, vectors: np.ndarray) -> None:
    """Copy ``vectors`` (rows 2+, its first columns) into the model's token embedding."""
    from slm_core.models.keras_blocks import TokenAndPositionEmbedding

    layer = model.get_layer("embedding")
    if isinstance(layer, TokenAndPositionEmbedding):
        layer = layer.tokens
    (table,) = layer.get_weights()
    table[2:, : vectors.shape[1]] = vectors[2:]
    layer.set_weights([table])
