"""Where things live, read from environment variables so deployments can move them."""

from __future__ import annotations

import os
from pathlib import Path


def slm_home() -> Path:
    """Data directory (``SLM_HOME``, default ``~/.slm_value_lab``); created on first use."""
    home = Path(os.environ.get("SLM_HOME", Path.home() / ".slm_value_lab")).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def database_url() -> str:
    """SQLAlchemy URL of the run store (``SLM_DATABASE_URL``, default SQLite in ``SLM_HOME``)."""
    url = os.environ.get("SLM_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{slm_home() / 'runs.sqlite'}"


def artifacts_url() -> str | None:
    """Where runs' files and datasets' frames are shared between machines (``SLM_ARTIFACTS``: a
    folder path or an fsspec URL such as ``s3://bucket/lab``); None keeps them in ``SLM_HOME``
    only. See :mod:`slm_core.store.artifacts`."""
    return os.environ.get("SLM_ARTIFACTS", "").strip() or None


# Keep in sync with .streamlit/config.toml [server] maxUploadSize (MB); the UI states it.
MAX_UPLOAD_MB = int(os.environ.get("SLM_MAX_UPLOAD_MB", "200"))
