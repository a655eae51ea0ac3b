"""Whether the process working on a run is still alive on this host."""

from __future__ import annotations

import psutil


def _process_start(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


def pid_alive(pid: int | None, started: float | None = None) -> bool:
    """Whether process ``pid`` runs on this host (and, given ``started``, is that same process)."""
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        # A different start time means the pid was recycled by an unrelated process.
        return started is None or abs(proc.create_time() - started) < 1.0
    except (psutil.NoSuchProcess, ValueError):
        return False
    except psutil.AccessDenied:
        return True
