"""The value checks as background work, never inside a page's script run.

Two ways in:

- **Right after training**: the training job calls :func:`measure_after_training` once the run
  is stored as succeeded, so the checks of a new run are measured under the default settings
  before anyone opens the Value page.
- **For runs that lack them** (runs stored before the checks were, or noise rates edited on the
  Value page): a page calls :func:`start`, which starts ``python -m slm_core.value.checks_job
  DATASET_ID --settings KEY`` detached, one per dataset at a time, and renders from what is
  stored meanwhile (:func:`job_state` says whether it runs; each run's live progress says which
  check it is on).

Guards, all files under ``SLM_HOME/value_checks/`` so that two servers sharing a home agree:
the job holds ``<dataset>.lock`` while it works; a start claims ``<dataset>.start`` (created
exclusively, so two starts at once start one job), which the job removes when it ends; the job
notes in ``<dataset>.last`` when it started and ended. A job that was killed before it ended is
not started again for the same settings within ``RETRY_AFTER_S``. Each run is measured under
``run-<id>.lock``, so a page's job and the training job never measure one run twice at the
same time.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from slm_core.atomic import write_text_atomic
from slm_core.store.processes import spawn_detached
from slm_core.value.checks import (
    Measurement,
    RunChecks,
    measure_run,
    missing_checks,
    pending_runs,
    record_checks,
)

log = logging.getLogger(__name__)

FOLDER = "value_checks"
# A start claim older than this was never taken up (its process died while starting).
STALE_START_S = 120.0
# A job that ended without saying so (killed) is not restarted for the same settings sooner.
RETRY_AFTER_S = 300.0
# The measuring process yields the CPU to the app and to training.
NICENESS = 10


# ------------------------------------------------------------------------- locks


@contextlib.contextmanager
def file_lock(path: Path, wait_s: float | None = 0.0) -> Iterator[bool]:
    """Hold an exclusive lock on ``path`` for the with-body; yields whether it was got within
    ``wait_s`` seconds (None: wait as long as it takes). Released when the process ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        deadline = None if wait_s is None else time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if deadline is None else fcntl.LOCK_NB))
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.05)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _paths(store, dataset_id: str) -> tuple[Path, Path, Path]:
    folder = Path(store.home) / FOLDER
    return (
        folder / f"{dataset_id}.lock",
        folder / f"{dataset_id}.start",
        folder / f"{dataset_id}.last",
    )


def run_lock_path(store, run_id: int) -> Path:
    # Beside the dataset locks, not in the run's folder: that folder holds artifacts only and
    # is replaced whole when a run's files are published.
    return Path(store.home) / FOLDER / f"run-{int(run_id)}.lock"


def run_measuring(store, run_id: int) -> bool:
    """Whether some process measures the checks of ``run_id`` right now."""
    with file_lock(run_lock_path(store, run_id)) as free:
        return not free


def measure_locked(store, run_id: int, settings: Measurement) -> RunChecks:
    """:func:`~slm_core.value.checks.measure_run` under the run's lock (waiting for another
    process measuring the same run, after which little or nothing is left to measure)."""
    with file_lock(run_lock_path(store, run_id), wait_s=None):
        return measure_run(store, run_id, settings)


def _record_crash(store, run_id: int, settings: Measurement) -> None:
    """Note the checks still missing as failed, so pages say so instead of waiting for them."""
    with contextlib.suppress(Exception):
        left = missing_checks(store, run_id, settings)
        record_checks(store, run_id, settings, dict.fromkeys(left, "value.note.check_failed"))


def measure_after_training(store, run_id: int) -> RunChecks | None:
    """Measure a just-trained run's checks under the default settings; never raises.

    Called by the training job after the run is stored as succeeded: whatever happens here,
    the run stays succeeded. A failure is logged (to the run's log) and noted in the run's
    'value_checks' result.
    """
    settings = Measurement()
    try:
        return measure_locked(store, run_id, settings)
    except Exception:
        log.exception("run %s: the value checks could not be measured", run_id)
        _record_crash(store, run_id, settings)
        return None


# --------------------------------------------------------------- the dataset's job


@dataclass(frozen=True)
class JobState:
    """Where the background measurement of a dataset stands.

    ``running``: a job measures (or was just started); ``stalled``: the last job for these
    settings ended without finishing (killed) less than ``RETRY_AFTER_S`` ago, so none is
    started again yet; ``log``: the jobs' log file.
    """

    running: bool
    stalled: bool
    log: Path


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _age(path: Path) -> float | None:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return None


def log_path(store, dataset_id: str) -> Path:
    return Path(store.home) / "logs" / f"value-checks-{dataset_id}.log"


def job_state(store, dataset_id: str, settings: Measurement) -> JobState:
    """Whether a job measures ``dataset_id`` now, or the last one for ``settings`` stalled."""
    lock, claim, last = _paths(store, dataset_id)
    with file_lock(lock) as free:
        pass
    age = _age(claim)
    running = not free or (age is not None and age < STALE_START_S)
    info = _read_json(last)
    stalled = (
        not running
        and info.get("settings") == settings.key()
        and info.get("ended_at") is None
        and time.time() - float(info.get("started_at") or 0.0) < RETRY_AFTER_S
    )
    return JobState(running, stalled, log_path(store, dataset_id))


def start(store, dataset_id: str, settings: Measurement) -> bool:
    """Start the detached measurement of every run of ``dataset_id`` that lacks a check under
    ``settings``; True if started. Nothing is started while a job runs or starts (on this or
    another server sharing the home), after a stalled one (see :class:`JobState`), or when
    nothing is missing."""
    from slm_core.jobs import child_env

    state = job_state(store, dataset_id, settings)
    if state.running or state.stalled or not pending_runs(store, dataset_id, settings):
        return False
    _, claim, last = _paths(store, dataset_id)
    age = _age(claim)
    if age is not None and age >= STALE_START_S:  # re-read now: another start may have claimed
        with contextlib.suppress(FileNotFoundError):
            claim.unlink()  # a stale claim: its job died (the lock is free and the claim is old)
    try:
        fd = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False  # another start got here first
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"settings": settings.key(), "claimed_at": time.time()}, fh)
    # Until the job records its own start, a job that dies before it gets going (an import
    # error, a locked store) reads as stalled, and is not started again every few minutes.
    write_text_atomic(last, json.dumps({"settings": settings.key(), "started_at": time.time()}))
    command = [
        sys.executable,
        "-m",
        "slm_core.value.checks_job",
        dataset_id,
        "--settings",
        settings.key(),
    ]
    spawn_detached(command, state.log, child_env(store), f"checks-{dataset_id}")
    return True


def measure_dataset(store, dataset_id: str, settings: Measurement) -> list[RunChecks]:
    """Measure the missing checks of every finished run of ``dataset_id``, one run at a time."""
    out: list[RunChecks] = []
    for run, _missing in pending_runs(store, dataset_id, settings):
        try:
            out.append(measure_locked(store, run.id, settings))
        except Exception:  # one run's failure must not stop the others
            log.exception("run %s: the value checks could not be measured", run.id)
            _record_crash(store, run.id, settings)
    return out


def run_job(store, dataset_id: str, settings: Measurement) -> list[RunChecks]:
    """The detached job's work: take the dataset's lock (waiting for an earlier job), measure,
    note the end and drop the start claim (kept while it works, so no second job starts)."""
    lock, claim, last = _paths(store, dataset_id)
    with file_lock(lock, wait_s=None):
        info = {"settings": settings.key(), "started_at": time.time(), "pid": os.getpid()}
        write_text_atomic(last, json.dumps(info))
        try:
            done = measure_dataset(store, dataset_id, settings)
            info["ended_at"] = time.time()
            info["runs"] = [r.to_dict() for r in done]
            write_text_atomic(last, json.dumps(info))
        finally:
            with contextlib.suppress(FileNotFoundError):
                claim.unlink()
    return done


def main(argv: list[str] | None = None) -> int:
    from slm_core.store import RunStore

    parser = argparse.ArgumentParser(
        prog="python -m slm_core.value.checks_job",
        description="Measure the value checks a dataset's runs lack (robustness, faithfulness).",
    )
    parser.add_argument("dataset_id")
    parser.add_argument("--settings", default=None, help="Measurement.key() (default settings)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    settings = Measurement.from_key(args.settings) if args.settings else Measurement()
    done = run_job(RunStore(), args.dataset_id, settings)
    log.info("dataset %s: %s", args.dataset_id, [r.to_dict() for r in done])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
