"""Background training: a detached queue runner that trains each run in its own process.

The Streamlit page only writes to and polls the run store. :func:`submit` queues a run and
makes sure a runner process exists (one per ``SLM_HOME``, guarded by a file lock). The runner
claims queued runs oldest first and hands each to its executor (:mod:`slm_core.executors`):
by default a fresh child process per run, one at a time, so memory is returned after every
run and a crash or out-of-memory kill fails only that run; with ``SLM_EXECUTOR=ray`` a Ray
task per run, several at once. A cancel request is honoured by the training code within a
batch; if it is not within a grace period the runner kills the work. The runner exits when the
queue is empty. Work that dies (killed, crashed) fails its run with the reason, its
half-written staging folder is removed, and the runner goes on; :func:`requeue` queues a
stopped run again.

Entry points: ``python -m slm_core.jobs`` runs the queue, ``--child RUN_ID`` trains one run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import slm_core
from slm_core.errors import CancelledError, Phrase, SlmError, one_line, render
from slm_core.executors import Executor, Work, executor_name, make_executor
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


def _failure_reason(store: RunStore, exc: BaseException) -> str:
    """What a run that failed on ``exc`` keeps: the storage sentence for a full disk or an
    unwritable folder, else the error's first line."""
    problem = storage_error(exc, store.home, run=True)
    return str(problem) if problem else render("errors.run.failed", reason=one_line(exc))


def execute_claimed(store: RunStore, run_id: int, target: str) -> None:
    """Call the target on a claimed run and make sure the run ends with an outcome and a
    readable reason (in a local child process, a Ray task or the CLI's own process)."""
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
        store.finish_run(run_id, "failed", error=_failure_reason(store, exc))
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


def _claim_for_this_process(store: RunStore, run_id: int) -> int:
    """Claim the queued ``run_id`` for this process; SlmError saying its status otherwise."""
    if not store.claim_run(run_id, os.getpid()):
        run = store.get_run(run_id)
        raise SlmError(
            "errors.jobs.run_not_queued", run_id=run_id, status=Phrase(f"status.{run.status}")
        )
    return run_id


def run_inline(store: RunStore, run_id: int, target: str | None = None) -> RunRecord:
    """Claim and train one queued run in this process (the CLI's synchronous path)."""
    _claim_for_this_process(store, run_id)
    execute_claimed(store, run_id, resolve_target(target))
    return store.get_run(run_id)


def run_batch(
    store: RunStore,
    run_ids: list[int],
    target: str | None = None,
    grace_s: float = DEFAULT_GRACE_S,
) -> list[RunRecord]:
    """Train the queued ``run_ids`` and wait for all of them (the CLI's path).

    With the local executor each is trained in this process, one after another
    (:func:`run_inline`); with Ray this process drives them as tasks, several at once.
    SlmError when a run is not queued or Ray cannot be reached.
    """
    target = resolve_target(target)
    if executor_name() == "local":
        return [run_inline(store, run_id, target) for run_id in run_ids]
    pending = list(run_ids)

    def next_run() -> int | None:
        return _claim_for_this_process(store, pending.pop(0)) if pending else None

    executor = make_executor(store)
    try:
        drive(store, executor, target, grace_s, next_run)
    finally:
        executor.close()
    return [store.get_run(run_id) for run_id in run_ids]


def log_tail(store: RunStore, run_id: int, lines: int = 40) -> str:
    """The last ``lines`` lines of a run's log ('' when there is none), for diagnosing failures."""
    try:
        text = store.log_path(run_id).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# ------------------------------------------------------------------ the runner


def _log(message: str) -> None:
    # stderr: the CLI driving runs itself keeps stdout for its results (--json).
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} runner {os.getpid()}: {message}", file=sys.stderr, flush=True)


@dataclass
class _Active:
    """A claimed run being worked on, and when its cancel request was first seen."""

    work: Work
    cancel_seen: float | None = None
    killed_for_cancel: bool = False


def _start(store: RunStore, executor: Executor, run_id: int, target: str) -> Work | None:
    """Start a claimed run; fail it with a reason (None) when it cannot even start."""
    try:
        return executor.start(store, run_id, target)
    except Exception as exc:  # no room (or no right) to write its log, Ray refused the task
        store.finish_run(run_id, "failed", error=_failure_reason(store, exc))
        return None


def _settle(store: RunStore, run_id: int, active: _Active) -> None:
    """Give an ended run its outcome when its target recorded none."""
    # A worker that was killed (or crashed) while saving leaves its staging folder behind.
    store.discard_staging(run_id)
    if store.get_run(run_id).is_finished:
        return
    if active.killed_for_cancel or store.is_cancel_requested(run_id):
        store.finish_run(run_id, "cancelled", error=CANCELLED_MESSAGE)
    else:
        store.finish_run(run_id, "failed", error=active.work.failure())


def _poll(store: RunStore, run_id: int, active: _Active, grace_s: float) -> bool:
    """Whether the run's work has ended; kills it once a cancel is not honoured in time."""
    if active.work.done():
        return True
    if active.cancel_seen is None and store.is_cancel_requested(run_id):
        active.cancel_seen = time.monotonic()
    if active.cancel_seen is not None and time.monotonic() - active.cancel_seen > grace_s:
        active.killed_for_cancel = True
        active.work.stop()
        return True
    return False


def drive(
    store: RunStore,
    executor: Executor,
    target: str,
    grace_s: float,
    next_run: Callable[[], int | None],
) -> None:
    """Work on runs until ``next_run`` gives none and all have ended, ``executor.slots`` at once.

    ``next_run`` returns the id of a run it has claimed, or None when there is none now.
    """
    active: dict[int, _Active] = {}
    try:
        while True:
            while len(active) < executor.slots and (run_id := next_run()) is not None:
                work = _start(store, executor, run_id, target)
                if work is not None:
                    active[run_id] = _Active(work)
            if not active:
                return
            for run_id, entry in list(active.items()):
                if _poll(store, run_id, entry, grace_s):
                    _settle(store, run_id, entry)
                    del active[run_id]
                    _log(f"run {run_id} ended {store.get_run(run_id).status}")
            time.sleep(POLL_S)
    except BaseException:
        # The runner itself is stopping (SIGTERM, error): leave no orphan training behind.
        for run_id, entry in active.items():
            entry.work.stop()
            store.finish_run(run_id, "interrupted", error=INTERRUPTED_BY_STOP)
            store.discard_staging(run_id)
        raise


def _claim_next(store: RunStore) -> int | None:
    """Claim the oldest queued run for this process; None when the queue is empty."""
    while (run := store.next_queued_run()) is not None:
        if store.claim_run(run.id, os.getpid()):
            _log(f"claimed run {run.id} ({run.model_id})")
            return run.id
        # Cancelled or taken by another worker meanwhile: look again.
    return None


def _fail_queued(store: RunStore, reason: str) -> None:
    """Fail every queued run with ``reason`` (the executor cannot start), so none waits forever."""
    while (run_id := _claim_next(store)) is not None:
        store.finish_run(run_id, "failed", error=reason)


def run_queue(store: RunStore, target: str | None = None, grace_s: float = DEFAULT_GRACE_S) -> bool:
    """Train queued runs until none is left; False if another runner holds the lock."""
    target = resolve_target(target)
    executor: Executor | None = None
    try:
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
                # Starting an executor may take seconds (a local Ray): not for an empty queue.
                if executor is None and store.next_queued_run() is not None:
                    try:
                        executor = make_executor(store)
                    except SlmError as exc:
                        _log(f"cannot start the executor: {exc}")
                        _fail_queued(store, str(exc))
                        return True
                    _log(f"working on {executor.describe()}")
                if executor is not None:
                    drive(store, executor, target, grace_s, lambda: _claim_next(store))
            # Look once more after releasing the lock: a run queued while we held it found a
            # runner alive and started none.
            if store.next_queued_run() is None:
                return True
    finally:
        if executor is not None:
            executor.close()


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
        execute_claimed(store, args.child, resolve_target(args.target))
        return 0
    signal.signal(signal.SIGTERM, _sigterm)
    _log("started")
    ran = run_queue(store, args.target, args.grace)
    _log("queue empty, exiting" if ran else "another runner is active, exiting")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
