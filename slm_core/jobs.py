"""Background training: a detached queue runner that trains each run in its own process.

The Streamlit page only writes to and polls the run store. :func:`submit` queues a run and
makes sure a runner process exists (one per ``SLM_HOME``, guarded by a file lock). The runner
claims queued runs oldest first, one at a time, and starts a fresh child process per run, so
memory is returned after every run and a crash or out-of-memory kill fails only that run.
A cancel request is honoured by the training code within a batch; if it is not within a
grace period the runner kills the child. The runner exits when the queue is empty.
A child that dies (killed, crashed) fails its run with the reason, its half-written staging
folder is removed, and the runner goes on; :func:`requeue` queues a stopped run again.

Entry points: ``python -m slm_core.jobs`` runs the queue, ``--child RUN_ID`` trains one run.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, Any

import slm_core
from slm_core.errors import CancelledError, Phrase, SlmError, render
from slm_core.locks import file_lock, is_locked
from slm_core.store import CANCELLED_MESSAGE, RunRecord, RunStore
from slm_core.store.files import storage_error
from slm_core.store.processes import spawn_detached

DEFAULT_TARGET = "slm_core.train:execute_run"
DEFAULT_GRACE_S = 5.0
POLL_S = 0.2
INTERRUPTED_BY_STOP = render("errors.run.worker_stopped")

Target = Callable[[str, str, int], None]


def resolve_target(target: str | None = None) -> str:
    """The per-run target: the argument, else ``SLM_JOB_TARGET``, else the real trainer."""
    return target or os.environ.get("SLM_JOB_TARGET") or DEFAULT_TARGET


def load_target(target: str) -> Target:
    """Import ``"module:function"`` and return the function."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ValueError(f"A job target looks like 'module:function', not {target!r}.")
    return getattr(importlib.import_module(module_name), attr)


# ------------------------------------------------------------------ runner lock


def _lock_path(home: Path) -> Path:
    return Path(home) / "runner.lock"


def _try_lock(home: Path, wait_s: float = 0.0) -> AbstractContextManager[IO[str] | None]:
    """The runner lock: yields its open file (the runner writes its pid into it) if this
    process got it within ``wait_s``, else None."""
    return file_lock(_lock_path(home), wait_s)


def runner_alive(home: Path | str) -> bool:
    """Whether a queue runner currently holds the lock of ``home``."""
    return is_locked(_lock_path(Path(home)))


def runner_pid(home: Path | str) -> int | None:
    """The pid the current (or last) runner wrote into its lock file, if any."""
    try:
        text = _lock_path(Path(home)).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


# ------------------------------------------------------------------ public API


def child_env(store: RunStore) -> dict[str, str]:
    """The environment of a worker process: this one's, plus where the store and code are."""
    # The runner and children must import slm_core even when the app was started elsewhere.
    root = str(Path(slm_core.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    # Through the environment, not argv: a database URL may hold a password that ps would show.
    env["SLM_DATABASE_URL"] = store.url
    env["SLM_HOME"] = str(store.home)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def ensure_runner(store: RunStore, target: str | None = None, grace_s: float | None = None) -> bool:
    """Start a detached queue runner unless one is alive or nothing is queued; True if started.

    SlmError when ``SLM_HOME`` cannot be written (its lock and log live there) or is full.
    """
    if store.next_queued_run() is None:
        return False
    try:
        return _start_runner(store, target, grace_s)
    except OSError as exc:
        problem = storage_error(exc, store.home)
        if problem is None:
            raise
        raise problem from exc


def _start_runner(store: RunStore, target: str | None, grace_s: float | None) -> bool:
    with _try_lock(store.home) as lock:
        if lock is None:
            return False
    # A runner that finds the queue empty releases its lock and then looks once more, so a run
    # queued just before this check is never left behind by a runner that is about to exit.
    command = [
        sys.executable,
        "-m",
        "slm_core.jobs",
        "--target",
        resolve_target(target),
        "--grace",
        str(DEFAULT_GRACE_S if grace_s is None else grace_s),
    ]
    spawn_detached(command, store.home / "logs" / "runner.log", child_env(store), "runner")
    return True


def submit(
    store: RunStore,
    dataset_id: str,
    model_id: str,
    preset: str | None,
    params: dict[str, Any] | None = None,
    *,
    target: str | None = None,
    grace_s: float | None = None,
) -> RunRecord:
    """Queue a training run and make sure a runner will pick it up."""
    run = store.create_run(dataset_id, model_id, preset, params or {})
    ensure_runner(store, target=target, grace_s=grace_s)
    return run


def cancel(store: RunStore, run_id: int) -> RunRecord:
    """Cancel a run: a queued run at once; a running one stops within a few seconds."""
    return store.request_cancel(run_id)


def requeue(
    store: RunStore, run_id: int, *, target: str | None = None, grace_s: float | None = None
) -> RunRecord:
    """Queue an interrupted, failed or cancelled training run again (trained from the start
    with the same settings) and make sure a runner will pick it up."""
    run = store.restart_run(run_id)
    ensure_runner(store, target=target, grace_s=grace_s)
    return run


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _execute(store: RunStore, run_id: int, target: str) -> None:
    """Call the target and make sure the run ends with an outcome and a readable reason."""
    try:
        load_target(target)(store.url, str(store.home), run_id)
    except CancelledError as exc:
        store.finish_run(run_id, "cancelled", error=str(exc) or CANCELLED_MESSAGE)
    except SlmError as exc:
        store.finish_run(run_id, "failed", error=str(exc))
    except MemoryError:
        traceback.print_exc()
        store.finish_run(
            run_id,
            "failed",
            error=render("errors.run.out_of_memory"),
        )
    except KeyboardInterrupt:
        store.finish_run(run_id, "cancelled", error=CANCELLED_MESSAGE)
        raise
    except Exception as exc:
        traceback.print_exc()
        problem = storage_error(exc, store.home, run=True)
        reason = str(problem) if problem else render("errors.run.failed", reason=_one_line(exc))
        store.finish_run(run_id, "failed", error=reason)
    else:
        run = store.get_run(run_id)
        if not run.is_finished:
            if run.cancel_requested:
                store.finish_run(run_id, "cancelled", error=CANCELLED_MESSAGE)
            else:
                store.finish_run(
                    run_id,
                    "failed",
                    error=render("errors.run.no_result"),
                )


def run_inline(store: RunStore, run_id: int, target: str | None = None) -> RunRecord:
    """Claim and train one queued run in this process (the CLI's synchronous path)."""
    if not store.claim_run(run_id, os.getpid()):
        run = store.get_run(run_id)
        raise SlmError(
            "errors.jobs.run_not_queued", run_id=run_id, status=Phrase(f"status.{run.status}")
        )
    _execute(store, run_id, resolve_target(target))
    return store.get_run(run_id)


def log_tail(store: RunStore, run_id: int, lines: int = 40) -> str:
    """The last ``lines`` lines of a run's log ('' when there is none), for diagnosing failures."""
    try:
        text = store.log_path(run_id).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# ------------------------------------------------------------------ the runner


def _exit_reason(returncode: int, log: Path) -> str:
    if returncode < 0:
        signum = -returncode
        if signum == signal.SIGKILL:
            return render("errors.run.killed")
        if signum == signal.SIGSEGV:
            return render("errors.run.segfault", log=log)
        name = signal.Signals(signum).name if signum in signal.valid_signals() else signum
        return render("errors.run.signal", name=name)
    return render("errors.run.exit_code", code=returncode, log=log)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    proc.wait()


def _run_child(store: RunStore, run_id: int, target: str, grace_s: float) -> None:
    """Train one claimed run in a child process and settle its outcome."""
    log_path = store.log_path(run_id)
    command = [
        sys.executable,
        "-m",
        "slm_core.jobs",
        "--target",
        target,
        "--child",
        str(run_id),
    ]
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group, so a kill also reaches its helpers
                env=child_env(store),
            )
    except OSError as exc:  # no room (or no right) to write its log: fail this run, go on
        problem = storage_error(exc, store.home, run=True)
        reason = str(problem) if problem else render("errors.run.failed", reason=_one_line(exc))
        store.finish_run(run_id, "failed", error=reason)
        return
    killed_for_cancel = False
    try:
        store.set_worker(run_id, proc.pid)
        cancel_seen: float | None = None
        while proc.poll() is None:
            if cancel_seen is None and store.is_cancel_requested(run_id):
                cancel_seen = time.monotonic()
            if cancel_seen is not None and time.monotonic() - cancel_seen > grace_s:
                killed_for_cancel = True
                _kill_group(proc)
                break
            time.sleep(POLL_S)
    except BaseException:
        # The runner itself is stopping (SIGTERM, error): do not leave an orphan training.
        _kill_group(proc)
        store.finish_run(run_id, "interrupted", error=INTERRUPTED_BY_STOP)
        store.discard_staging(run_id)
        raise
    # A child that was killed (or crashed) while saving leaves its staging folder behind.
    store.discard_staging(run_id)
    if store.get_run(run_id).is_finished:
        return
    if killed_for_cancel or store.is_cancel_requested(run_id):
        store.finish_run(run_id, "cancelled", error=CANCELLED_MESSAGE)
    else:
        store.finish_run(run_id, "failed", error=_exit_reason(proc.returncode, log_path))


def _log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} runner {os.getpid()}: {message}", flush=True)


def _drain(store: RunStore, target: str, grace_s: float) -> None:
    while (run := store.next_queued_run()) is not None:
        if not store.claim_run(run.id, os.getpid()):
            continue  # cancelled or taken by another worker meanwhile
        _log(f"training run {run.id} ({run.model_id})")
        _run_child(store, run.id, target, grace_s)
        _log(f"run {run.id} ended {store.get_run(run.id).status}")


def run_queue(store: RunStore, target: str | None = None, grace_s: float = DEFAULT_GRACE_S) -> bool:
    """Train queued runs until none is left; False if another runner holds the lock."""
    target = resolve_target(target)
    while True:
        # Waiting a little outlasts the brief probes of ensure_runner/runner_alive, which
        # would otherwise make a runner give up while no other runner exists.
        with _try_lock(store.home, wait_s=1.0) as lock:
            if lock is None:
                return False
            lock.seek(0)
            lock.truncate()
            lock.write(str(os.getpid()))
            lock.flush()
            _drain(store, target, grace_s)
        # Look once more after releasing the lock: a run queued while we held it found a
        # runner alive and started none.
        if store.next_queued_run() is None:
            return True


def _sigterm(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Command line of the runner and of the per-run child process."""
    parser = argparse.ArgumentParser(prog="python -m slm_core.jobs", description=__doc__)
    parser.add_argument("--url", help="run store URL (default: SLM_DATABASE_URL / SLM_HOME)")
    parser.add_argument("--home", help="data directory (default: SLM_HOME)")
    parser.add_argument("--target", help=f"module:function to train a run ({DEFAULT_TARGET})")
    parser.add_argument("--grace", type=float, default=DEFAULT_GRACE_S, help="cancel grace, s")
    parser.add_argument("--child", type=int, metavar="RUN_ID", help="train one claimed run")
    args = parser.parse_args(argv)
    store = RunStore(args.url, Path(args.home) if args.home else None)
    if args.child is not None:
        _execute(store, args.child, resolve_target(args.target))
        return 0
    signal.signal(signal.SIGTERM, _sigterm)
    _log("started")
    ran = run_queue(store, args.target, args.grace)
    _log("queue empty, exiting" if ran else "another runner is active, exiting")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
