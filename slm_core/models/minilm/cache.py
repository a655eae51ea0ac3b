"""Sentence embeddings of a dataset, computed once and kept beside the dataset in the store.

File: ``SLM_HOME/datasets/<dataset id>.embeddings/<encoder key>.npz`` holding ``keys`` (the
SHA-256 of each exact text, ``(n, 32)`` uint8) and ``vectors`` (``(n, dim)`` float32). Keyed
by dataset id and encoder key (package, version and a hash of its weights: new weights, new
file; and how many layers are pooled, ``-top3``, when more than one), and per text by the
hash of the text exactly as given, so every split, split seed and preset of the dataset shares
one set of vectors. Written whole or not at all
(:func:`~slm_core.atomic.atomic_path`); two runs writing at once can only cost a recomputation.
A stored model never reads it: serving and the Cost page measure the encoder itself.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from slm_core.atomic import atomic_path

Embed = Callable[[list[str], Callable[[int, int], None] | None], np.ndarray]


def cache_dir(home: Path, dataset_id: str) -> Path:
    """The folder of one dataset's embeddings (removed with the dataset)."""
    return Path(home) / "datasets" / f"{dataset_id}.embeddings"


def _file_name(encoder_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", encoder_id) + ".npz"


def text_key(text: str) -> bytes:
    return hashlib.sha256(str(text).encode("utf-8", "surrogatepass")).digest()


class EmbeddingCache:
    """One dataset's embeddings under one encoder; ``computed`` counts texts embedded here."""

    def __init__(self, home: Path, dataset_id: str, encoder_id: str, dim: int):
        self.path = cache_dir(home, dataset_id) / _file_name(encoder_id)
        self.dim = int(dim)
        self.computed = 0
        self._rows: dict[bytes, np.ndarray] | None = None

    def _load(self) -> dict[bytes, np.ndarray]:
        if self._rows is None:
            self._rows = {}
            if self.path.is_file():
                try:
                    with np.load(self.path) as data:
                        keys, vectors = data["keys"], data["vectors"]
                    if vectors.ndim == 2 and vectors.shape[1] == self.dim:
                        self._rows = {bytes(k): v for k, v in zip(keys, vectors, strict=True)}
                except (OSError, ValueError, KeyError):
                    self._rows = {}  # unreadable: computed again and rewritten
        return self._rows

    def embed(
        self,
        texts: Sequence[str],
        embed: Embed,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """Vectors of ``texts``: stored ones read, the others computed by ``embed(missing,
        progress)`` and stored. ``progress(done, total)`` counts only the texts computed."""
        rows = self._load()
        keys = [text_key(t) for t in texts]
        missing: dict[bytes, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in rows and key not in missing:
                missing[key] = str(text)
        if missing:
            vectors = embed(list(missing.values()), progress)
            rows.update(zip(missing, np.asarray(vectors, dtype=np.float32), strict=True))
            self.computed += len(missing)
            self._save(rows)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, key in enumerate(keys):
            out[i] = rows[key]
        return out

    def _save(self, rows: dict[bytes, np.ndarray]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), 32)
        vectors = np.stack(list(rows.values())).astype(np.float32)
        with atomic_path(self.path) as tmp, tmp.open("wb") as fh:
            np.savez(fh, keys=keys, vectors=vectors)
