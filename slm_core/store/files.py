"""Files under ``SLM_HOME`` that are whole or absent, and what to say when it cannot be written.

A reader must never find half a file, or half a run's folder, where it expects a whole one:
a file is written under a temporary name beside its final one and renamed into place
(:func:`slm_core.atomic.atomic_path`), and a training run writes its folder under a temporary name
(``runs/.<id>.partial-<pid>``) that is renamed to ``runs/<id>`` only when complete (see the
run store's ``staging_dir`` and ``publish_artifacts``). A rename within one folder is atomic,
so a crash, a kill or a full disk leaves either the old state or the new one.

:func:`storage_error` turns an operating-system or SQLite failure to write (a read-only or
missing folder, a full disk) into an :class:`~slm_core.errors.SlmError` that names the folder
and what to do, instead of a traceback.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from slm_core.errors import SlmError

_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST}
# How SQLite (and libraries that do not set errno, e.g. pyarrow) word the same failures.
_FULL_TEXT = ("no space left on device", "database or disk is full", "disk quota exceeded")
_NOT_WRITABLE_TEXT = (
    "readonly database",
    "read-only file system",
    "unable to open database file",
    "permission denied",
)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, the DB-API error a SQLAlchemy error wraps, and the errors it was raised from."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [getattr(current, "orig", None), current.__cause__, current.__context__]


def storage_problem(exc: BaseException) -> str | None:
    """'full' or 'not_writable' when ``exc`` comes from a disk that is full or a folder that
    cannot be written; None for any other error."""
    for cause in _causes(exc):
        code = getattr(cause, "errno", None) if isinstance(cause, OSError) else None
        if code in _FULL:
            return "full"
        if code in _NOT_WRITABLE:
            return "not_writable"
        text = str(cause).lower()
        if any(part in text for part in _FULL_TEXT):
            return "full"
        if any(part in text for part in _NOT_WRITABLE_TEXT):
            return "not_writable"
    return None


def storage_error(exc: BaseException, path: Path | str, *, run: bool = False) -> SlmError | None:
    """The error to show for ``exc`` when it is a full disk or an unwritable ``path``, else None.

    ``run``: the sentence a failed run keeps (it says to queue the run again) rather than the
    one for the data folder as a whole (it says to start again).
    """
    problem = storage_problem(exc)
    if problem is None:
        return None
    if run:
        if problem == "full":
            return SlmError("errors.storage.run_disk_full", path=str(path))
        return SlmError("errors.storage.run_not_writable", path=str(path))
    if problem == "full":
        return SlmError("errors.storage.disk_full", path=str(path))
    return SlmError("errors.storage.not_writable", path=str(path))


def check_writable(folder: Path) -> None:
    """Raise OSError unless a file can be created (and removed) in ``folder``."""
    handle, name = tempfile.mkstemp(prefix=".write-check-", dir=folder)
    os.close(handle)
    os.unlink(name)
