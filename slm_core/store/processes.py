"""Worker processes: starting one detached, and whether the one working on a run is alive."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

# Shared logs (the runner's, the benchmark's) are appended to at every start: past this size
# one is moved to "<name>.1", replacing the one before, so each stays under about twice it.
MAX_LOG_BYTES = 5 * 1024 * 1024


def rotate_log(log: Path, limit: int = MAX_LOG_BYTES) -> None:
    """Move ``log`` to ``<log>.1`` when it is over ``limit`` bytes."""
    try:
        if log.stat().st_size > limit:
            os.replace(log, log.with_name(log.name + ".1"))
    except FileNotFoundError:
        pass


def spawn_detached(command: Sequence[str], log: Path, env: Mapping[str, str], name: str) -> int:
    """Start ``command`` in its own session, appending its output to ``log``; returns its pid.

    The process survives Ctrl-C and restarts of the Streamlit server; a daemon thread reaps it
    when it exits, so no zombie lingers in the long-lived app process.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    rotate_log(log)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=dict(env),
        )
    threading.Thread(target=proc.wait, daemon=True, name=f"reap-{name}-{proc.pid}").start()
    return proc.pid


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
