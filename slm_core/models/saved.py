"""``model.json``: the file beside every saved model that says what it is and how to reload it.

Each family's ``save()`` writes it with :func:`write_meta`; ``registry.load_model`` and the
serving and benchmark code read it with :func:`read_meta`. This module imports no model code,
so the families and the registry can all depend on it without depending on each other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from slm_core.errors import NotFoundError, TrainError

META_FILE = "model.json"
FORMAT_VERSION = 1


def write_meta(
    directory: Path,
    *,
    model_id: str,
    family: str,
    params: dict[str, Any],
    classes: list[str],
    token_unit: str,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write ``model.json``: what ``registry.load_model`` needs to rebuild a saved model."""
    meta = {
        "format_version": FORMAT_VERSION,
        "model_id": model_id,
        "family": family,
        "params": params,
        "classes": list(classes),
        "token_unit": token_unit,
        **(extra or {}),
    }
    text = json.dumps(meta, ensure_ascii=False, indent=2)
    (Path(directory) / META_FILE).write_text(text, encoding="utf-8")


def read_meta(directory: Path) -> dict[str, Any]:
    """The ``model.json`` of a saved model."""
    path = Path(directory) / META_FILE
    if not path.is_file():
        raise NotFoundError("errors.saved.no_model_file", directory=directory, meta_file=META_FILE)
    meta = json.loads(path.read_text(encoding="utf-8"))
    if meta.get("format_version") != FORMAT_VERSION:
        raise TrainError(
            "errors.saved.old_format",
            directory=directory,
            found=meta.get("format_version"),
            expected=FORMAT_VERSION,
        )
    return meta
