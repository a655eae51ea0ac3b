"""``model.json``: the file beside every saved model that says what it is and how to reload it.

Each family's ``save()`` writes it with :func:`write_meta`; ``registry.load_model`` and the
serving and benchmark code read it with :func:`read_meta`. This module imports no model code,
so the families and the registry can all depend on it without depending on each other.

A saved linear model is a pickle and a Keras file names its layers, so a model is only ever
loaded from where this app wrote it: :func:`trusted_model_dir` refuses a folder (or a file in
it) that resolves, symlinks followed, outside the run store's ``runs/`` folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from slm_core.errors import NotFoundError, SlmError, TrainError

META_FILE = "model.json"
FORMAT_VERSION = 1
# Extra folders models may be loaded from (os.pathsep-separated): for benchmarks and tests that
# save a model outside a run store. Set by whoever starts the process, never by the app's users.
MODEL_ROOTS_ENV = "SLM_MODEL_ROOTS"


def model_roots() -> list[Path]:
    """The folders saved models may be loaded from: ``SLM_HOME/runs`` (every run's artifacts,
    staging folders included) and the folders named in ``SLM_MODEL_ROOTS``; symlinks resolved."""
    from slm_core.config import slm_home

    extra = [p for p in os.environ.get(MODEL_ROOTS_ENV, "").split(os.pathsep) if p.strip()]
    return [Path(p).expanduser().resolve() for p in (slm_home() / "runs", *extra)]


def trust_model_root(folder: Path) -> None:
    """Let this process and the processes it starts load models saved under ``folder`` (a
    benchmark's or a test's own folder): appended to ``SLM_MODEL_ROOTS``."""
    roots = [p for p in os.environ.get(MODEL_ROOTS_ENV, "").split(os.pathsep) if p.strip()]
    os.environ[MODEL_ROOTS_ENV] = os.pathsep.join([*roots, str(Path(folder).resolve())])


def trusted_model_dir(directory: Path, roots: list[Path] | None = None) -> Path:
    """``directory`` resolved, if it and every entry in it lie inside one of ``roots``
    (default :func:`model_roots`) once symlinks are followed; else a :class:`SlmError`."""
    roots = model_roots() if roots is None else [Path(r).resolve() for r in roots]
    resolved = Path(directory).expanduser().resolve()
    entries = [e.resolve() for e in resolved.iterdir()] if resolved.is_dir() else []
    outside = next(
        (p for p in (resolved, *entries) if not any(p.is_relative_to(r) for r in roots)), None
    )
    if outside is not None:
        raise SlmError(
            "errors.saved.outside_store",
            path=outside,
            roots=", ".join(str(r) for r in roots),
        )
    return resolved


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
