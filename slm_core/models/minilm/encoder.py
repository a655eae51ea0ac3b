"""all-MiniLM-L6-v2 as a frozen Keras encoder: texts in, unit-length 384-d sentence vectors out
(or the top few layers' vectors side by side, ``pooled_layers``).

Tokenised with the ``tokenizers`` library from the package's ``tokenizer.json`` (BERT uncased
WordPiece), cut at the sentence-transformers length (256 word pieces) and padded per batch;
batches are formed from texts of similar length, so little padding is computed at all.
Threads follow ``SLM_TF_THREADS`` (TensorFlow, see ``keras_runtime.keras_modules``) and the
tokenizer's thread pool is held to the same number.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import numpy as np

from slm_core.models.minilm.files import EncoderFiles, encoder_files

EMBED_BATCH = 64
# progress(done, total) after each batch of texts.
Progress = Callable[[int, int], None]


def _tokenizer(files: EncoderFiles):
    threads = os.environ.get("SLM_TF_THREADS")
    if threads:  # read by the tokenizer's thread pool when it first starts
        os.environ.setdefault("RAYON_RS_NUM_CPUS", threads)
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(files.tokenizer))
    # The file itself pads every text to 128 and cuts there; sentence-transformers overrides
    # both with its own max_seq_length and per-batch padding, and so does this.
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=files.max_tokens)
    return tokenizer


class MiniLMEncoder:
    """The frozen encoder: ``tokenize`` (pure Python/Rust) and ``embed`` (Keras)."""

    def __init__(self, files: EncoderFiles | None = None):
        self.files = files or encoder_files()
        self.tokenizer = _tokenizer(self.files)
        self._model = None
        self._pooled: dict[int, Any] = {}
        self._infer: dict[int, Callable[[np.ndarray, np.ndarray], Any]] = {}

    @property
    def encoder_id(self) -> str:
        return self.files.encoder_id

    def tokenize(self, texts: Sequence[str]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Each text's word-piece ids and attention mask (int32; [CLS] ... [SEP], at most
        ``max_tokens``)."""
        encodings = self.tokenizer.encode_batch([str(t) for t in texts])
        ids = [np.asarray(e.ids, dtype=np.int32) for e in encodings]
        masks = [np.asarray(e.attention_mask, dtype=np.int32) for e in encodings]
        return ids, masks

    def keras_model(self, pooled_layers: int = 1):
        """The Keras encoder ``[ids, mask] -> (batch, 384 * pooled_layers)`` with the package's
        weights (one copy, shared by every pooling)."""
        if self._model is None:
            from safetensors.numpy import load_file

            from slm_core.models.keras_runtime import keras_modules

            keras_modules()  # TensorFlow's threads, before any op runs
            from slm_core.models.minilm.layers import build_encoder, load_weights

            config = self.files.config
            model = build_encoder(config)
            load_weights(model, load_file(str(self.files.weights)), config["num_hidden_layers"])
            model.trainable = False
            self._model = model
        if pooled_layers not in self._pooled:
            from slm_core.models.minilm.layers import pooled_encoder

            self._pooled[pooled_layers] = pooled_encoder(self._model, pooled_layers)
        return self._pooled[pooled_layers]

    def _predict_fn(self, pooled_layers: int) -> Callable[[np.ndarray, np.ndarray], Any]:
        if pooled_layers not in self._infer:
            from slm_core.models.keras_runtime import traced_inference

            model = self.keras_model(pooled_layers)
            self._infer[pooled_layers] = traced_inference(model, inputs=2)
        return self._infer[pooled_layers]

    def embed(
        self,
        texts: Sequence[str],
        batch_size: int = EMBED_BATCH,
        progress: Progress | None = None,
        pooled_layers: int = 1,
    ) -> np.ndarray:
        """Sentence embeddings ``(len(texts), 384 * pooled_layers)`` float32, each layer's of
        length 1.

        Parameters
        ----------
        batch_size
            Texts per forward pass; texts are sorted by length first, so each pass pads to
            its own longest text only.
        progress
            Called as ``progress(done, total)`` after every pass (and may raise to stop).
        pooled_layers
            How many of the top layers are pooled (:func:`~.layers.pooled_encoder`).
        """
        out = np.zeros((len(texts), self.files.vector_width(pooled_layers)), dtype=np.float32)
        if len(texts) == 0:
            return out
        from slm_core.models.keras_runtime import batches_by_length

        ids, _ = self.tokenize(texts)
        infer = self._predict_fn(int(pooled_layers))
        done = 0
        for rows in batches_by_length([len(i) for i in ids], batch_size):
            batch_ids, batch_mask = pad_batch([ids[r] for r in rows])
            out[rows] = np.asarray(infer(batch_ids, batch_mask), dtype=np.float32)
            done += len(rows)
            if progress is not None:
                progress(done, len(texts))
        return out


def pad_batch(rows: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Word-piece id rows padded with 0 ([PAD]) to the longest, and their attention mask."""
    width = max(len(r) for r in rows)
    ids = np.zeros((len(rows), width), dtype=np.int32)
    mask = np.zeros((len(rows), width), dtype=np.int32)
    for j, r in enumerate(rows):
        ids[j, : len(r)] = r
        mask[j, : len(r)] = 1
    return ids, mask


@cache
def shared_encoder() -> MiniLMEncoder:
    """One encoder per process (its weights are 90 MB): every model and cache uses this one."""
    return MiniLMEncoder()
