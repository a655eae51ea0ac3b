"""Advisory file locks (``flock``) shared by processes, and by servers sharing one ``SLM_HOME``.

One primitive for every lock of the lab: the queue runner's (it keeps the open file to write
its pid into), the value-checks job's per dataset and per run (blocking and non-blocking), and
the one-benchmark-at-a-time lock. The kernel drops a lock when its process dies, so a killed
holder never leaves a lock behind.

A lock whose file should not outlive its holder is taken with ``remove=True``: the holder
unlinks the file while it still holds the lock. Whoever then gets the lock on the old, unlinked
file sees that the path no longer names it and takes the lock again on the path's current file,
so two processes never hold "the" lock at once through two different files.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

POLL_S = 0.05


def _names(handle: IO[str] | int, path: Path) -> bool:
    """Whether ``path`` still names the open file ``handle`` (not unlinked or replaced)."""
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(handle if isinstance(handle, int) else handle.fileno())
    return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)


def _take(handle: IO[str], deadline: float | None) -> bool:
    """Lock ``handle``: blocking (no deadline) or polling until ``deadline``; whether got."""
    if deadline is None:
        fcntl.flock(handle, fcntl.LOCK_EX)
        return True
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_S)


@contextlib.contextmanager
def file_lock(
    path: Path | str, wait_s: float | None = 0.0, *, remove: bool = False
) -> Iterator[IO[str] | None]:
    """Hold an exclusive lock on ``path`` for the with-body.

    Parameters
    ----------
    path
        The lock file; it and its folder are created when missing.
    wait_s
        How long to wait for another holder: 0 tries once, ``None`` waits as long as it takes.
    remove
        Unlink the file when the lock is released (see the module's note on why that is safe).

    Yields
    ------
    The open lock file (``a+``; the holder may write into it) if the lock was got in time, else
    None. Released when the body ends, or when the process dies.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = None if wait_s is None else time.monotonic() + wait_s
    while True:
        handle = open(path, "a+")  # noqa: SIM115 - held across the with-body below
        try:
            if not _take(handle, deadline):
                handle.close()
                yield None
                return
            if _names(handle, path):
                break
        except BaseException:
            handle.close()
            raise
        handle.close()  # its holder removed it on release: lock the path's file now
    try:
        yield handle
    finally:
        try:
            if remove:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()


def is_locked(path: Path | str) -> bool:
    """Whether some process holds the lock on ``path`` now. Creates nothing: a missing file is
    a free lock. Takes the lock for an instant when it is free, as any probe must."""
    path = Path(path)
    while True:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            if _names(fd, path):
                return False
        finally:
            os.close(fd)


def claim_file(path: Path | str, content: str, stale_after_s: float) -> bool:
    """Create ``path`` holding ``content`` unless it exists: of two processes starting the same
    background work at once, one claims it. A claim at least ``stale_after_s`` old is taken
    over (whoever made it died before its work could release it). True if claimed now."""
    path = Path(path)
    with contextlib.suppress(FileNotFoundError):
        if time.time() - path.stat().st_mtime >= stale_after_s:
            path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(content)
    return True
