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
exclusively, so two starts at once start one job); the job notes in ``<dataset>.last`` when it
started. A job that was killed before it ended is not started again for the same settings
within ``RETRY_AFTER_S``. Each run is measured under ``run-<id>.lock``, so a page's job and the
training job never measure one run twice at the same time.

What a finished job leaves: nothing in ``value_checks/`` (it removes its claim and its
``.last`` note, and its locks go with it); a job that was killed leaves its ``.last`` note,
which is what marks it stalled, until the next job ends. Each job writes its own log,
``logs/value-checks-<dataset>.log``: a job that measured every check removes it; a job where
something failed (or that was killed) keeps it, so that its traceback is there to read, and the
next start moves it to ``.1.log`` (then ``.2.log``); ``KEPT_LOGS`` per dataset at most.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from slm_core.atomic import write_text_atomic
from slm_core.locks import claim_file, file_lock, is_locked
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
# Logs kept per dataset: the latest job's and those of the jobs before it that failed.
KEPT_LOGS = 3


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
    return is_locked(run_lock_path(store, run_id))


def measure_locked(store, run_id: int, settings: Measurement) -> RunChecks:
    """:func:`~slm_core.value.checks.measure_run` under the run's lock (waiting for another
    process measuring the same run, after which little or nothing is left to measure)."""
    with file_lock(run_lock_path(store, run_id), wait_s=None, remove=True):
        return measure_run(store, run_id, settings)


def _record_crash(store, run_id: int, settings: Measurement) -> RunChecks:
    """Note the checks still missing as failed, so pages say so instead of waiting for them."""
    failed: dict[str, str] = {}
    with contextlib.suppress(Exception):
        failed = dict.fromkeys(missing_checks(store, run_id, settings), "value.note.check_failed")
        record_checks(store, run_id, settings, failed)
    return RunChecks(run_id, failed=tuple(failed.items()))


def measure_after_training(store, run_id: int) -> RunChecks | None:
    """Measure a just-trained run's checks under the default settings, and count its
    dataset's text lengths if they are not yet (``slm_core.value.inputs.dataset_lengths``);
    never raises.

    Called by the training job after the run is stored as succeeded: whatever happens here,
    the run stays succeeded. A failure is logged (to the run's log) and noted in the run's
    'value_checks' result.
    """
    settings = Measurement()
    try:
        from slm_core.value.inputs import dataset_lengths

        dataset_lengths(store, store.get_run(run_id).dataset_id)  # counted once, then read
    except Exception:  # a page counts them instead
        log.exception("run %s: the dataset's text lengths could not be counted", run_id)
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
    started again yet; ``log``: the latest job's log file (kept only if something failed).
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


def kept_logs(store, dataset_id: str) -> list[Path]:
    """The dataset's job logs, the latest first: ``.log``, ``.1.log``, … (``KEPT_LOGS``)."""
    latest = log_path(store, dataset_id)
    older = [latest.with_suffix(f".{i}{latest.suffix}") for i in range(1, KEPT_LOGS)]
    return [latest, *older]


def _make_room_for_a_log(store, dataset_id: str) -> None:
    """Move the last job's log (kept: something failed there) to ``.1.log``, and so on down
    the line, dropping the oldest, so that the new job writes a log of its own."""
    chain = kept_logs(store, dataset_id)
    if not chain[0].exists():
        return  # the last job removed its log: nothing to keep, nothing moves
    for newer, older in reversed(list(zip(chain, chain[1:], strict=False))):
        with contextlib.suppress(FileNotFoundError):
            os.replace(newer, older)


def job_state(store, dataset_id: str, settings: Measurement) -> JobState:
    """Whether a job measures ``dataset_id`` now, or the last one for ``settings`` stalled."""
    lock, claim, last = _paths(store, dataset_id)
    locked = is_locked(lock)
    age = _age(claim)
    running = locked or (age is not None and age < STALE_START_S)
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
    # An old claim is stale: its job died (the lock is free and the claim is old).
    content = json.dumps({"settings": settings.key(), "claimed_at": time.time()})
    if not claim_file(claim, content, STALE_START_S):
        return False  # another start got here first
    # Until the job records its own start, a job that dies before it gets going (an import
    # error, a locked store) reads as stalled, and is not started again every few minutes.
    write_text_atomic(last, json.dumps({"settings": settings.key(), "started_at": time.time()}))
    _make_room_for_a_log(store, dataset_id)
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
            out.append(_record_crash(store, run.id, settings))
    return out


class _Warnings(logging.Handler):
    """Counts the warnings and errors logged while it is attached."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def _drop_own_log(path: Path) -> None:
    """Remove ``path`` if it is the file this process writes its output to (the detached
    job's log), not a log of another job (a job run by hand writes to the terminal)."""
    with contextlib.suppress(OSError):
        if os.path.samestat(os.fstat(sys.stdout.fileno()), os.stat(path)):
            path.unlink()


def run_job(store, dataset_id: str, settings: Measurement) -> list[RunChecks]:
    """The detached job's work: take the dataset's lock (waiting for an earlier job), measure,
    then remove what no one needs once it ended: its ``.last`` note, its log if every check
    was measured without a warning, and last the start claim (kept while it works, so no
    second job starts). A job that fails here keeps its note (it reads as stalled) and log."""
    lock, claim, last = _paths(store, dataset_id)
    with file_lock(lock, wait_s=None, remove=True):
        info = {"settings": settings.key(), "started_at": time.time(), "pid": os.getpid()}
        write_text_atomic(last, json.dumps(info))
        warnings = _Warnings()
        logging.getLogger().addHandler(warnings)
        try:
            done = measure_dataset(store, dataset_id, settings)
            last.unlink(missing_ok=True)
            if not warnings.count and not any(r.failed for r in done):
                _drop_own_log(log_path(store, dataset_id))
        finally:
            logging.getLogger().removeHandler(warnings)
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
