"""Files that are either whole or not there: written under a temporary name, then renamed.

A reader, a kill or a full disk never meets half a file. Kept free of heavy imports so the run
store, the served-form export and the value-checks job can all use it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; once the block has written it, it replaces
    ``path`` in one rename. If the block fails, ``path`` is left as it was and the temporary
    file is removed. The temporary name keeps the suffix, for writers that look at it, and is
    unique per process *and* thread (Streamlit runs every session as a thread of one process).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}-{threading.get_ident()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_text_atomic(path: Path | str, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_path`."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
