"""Training runs in the run store: queue, claims, progress, outcomes, results and files."""

from __future__ import annotations

import math
import os
import shutil
import socket
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from slm_core import config
from slm_core.errors import NotFoundError, Phrase, SlmError
from slm_core.llm import LLM_MODEL_ID
from slm_core.numbers import finite_or_none
from slm_core.store.processes import _process_start, pid_alive
from slm_core.store.records import (
    CANCELLED_MESSAGE,
    INTERRUPTED_MESSAGE,
    TERMINAL_STATUSES,
    RunProgress,
    RunRecord,
    TrialRunRecord,
    _now,
    _run_record,
    _utc,
    jsonable,
)
from slm_core.store.schema import feedback, run_results, runs, trial_runs

# Stopped before the end: their work can be taken up again (an LLM measurement's answers are kept).
REOPENABLE = ("cancelled", "interrupted", "failed")
# A training attempt writes its folder as runs/.<id>.partial-<pid> and renames it to runs/<id>
# when complete; runs/.<id>.old-<pid> briefly holds the folder it replaces, and
# runs/.<id>.fetch-<pid>-<x> a copy being fetched from SLM_ARTIFACTS (slm_core.store.artifacts).
STAGING_MARK = ".partial-"

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from slm_core.store.artifacts import RemoteArtifacts


class RunsMixin:
    """The life of a training run, from queued to finished, and its stored results."""

    engine: Engine
    home: Path

    def create_run(
        self,
        dataset_id: str,
        model_id: str,
        preset: str | None,
        params: Mapping[str, Any] | None = None,
    ) -> RunRecord:
        """Queue a new run of ``model_id`` on ``dataset_id``."""
        self.get_dataset(dataset_id)
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(runs).values(
                    dataset_id=dataset_id,
                    model_id=model_id,
                    preset=preset,
                    params_json=jsonable(dict(params or {})),
                    status="queued",
                    created_at=_now(),
                    cancel_requested=False,
                    history_json={},
                    progress_json={},
                )
            )
            run_id = result.inserted_primary_key[0]
        return self.get_run(run_id)

    def get_run(self, run_id: int) -> RunRecord:
        """The run with this id; raises NotFoundError if there is none."""
        with self.engine.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.id == int(run_id))).first()
        if row is None:
            raise NotFoundError("errors.store.no_run_with_id", run_id=run_id)
        return _run_record(row)

    def list_runs(
        self, dataset_id: str | None = None, statuses: Iterable[str] | None = None
    ) -> list[RunRecord]:
        """Runs, newest first, optionally of one dataset and/or in some statuses."""
        query = select(runs).order_by(runs.c.id.desc())
        if dataset_id is not None:
            query = query.where(runs.c.dataset_id == dataset_id)
        if statuses is not None:
            query = query.where(runs.c.status.in_(list(statuses)))
        with self.engine.connect() as conn:
            return [_run_record(r) for r in conn.execute(query).all()]

    def next_queued_run(self) -> RunRecord | None:
        """The oldest queued training run, or None when the queue is empty.

        LLM measurements are left out: each runs in a process started with its API key in the
        environment (:mod:`slm_core.llm.job`), which the queue runner does not have.
        """
        with self.engine.connect() as conn:
            row = conn.execute(
                select(runs)
                .where((runs.c.status == "queued") & (runs.c.model_id != LLM_MODEL_ID))
                .order_by(runs.c.id)
                .limit(1)
            ).first()
        return _run_record(row) if row else None

    def claim_run(self, run_id: int, pid: int) -> bool:
        """Atomically move a queued run to running for process ``pid``; False if not queued."""
        now = _now()
        with self.engine.begin() as conn:
            result = conn.execute(
                update(runs)
                .where((runs.c.id == int(run_id)) & (runs.c.status == "queued"))
                .values(
                    status="running",
                    started_at=now,
                    updated_at=now,
                    pid=pid,
                    pid_started=_process_start(pid),
                    worker_host=socket.gethostname(),
                )
            )
        return result.rowcount == 1

    def set_worker(self, run_id: int, pid: int) -> None:
        """Record that process ``pid`` (on this host) now does the work of a running run."""
        with self.engine.begin() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == int(run_id))
                .values(pid=pid, pid_started=_process_start(pid), worker_host=socket.gethostname())
            )

    def set_progress(self, run_id: int, progress: RunProgress | Mapping[str, Any]) -> None:
        """Replace the live progress (epoch, epochs, batch, batches, fraction, message)."""
        if isinstance(progress, RunProgress):
            progress = progress.to_dict()
        with self.engine.begin() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == int(run_id))
                .values(progress_json=jsonable(dict(progress)), updated_at=_now())
            )

    def append_history(self, run_id: int, epoch_logs: Mapping[str, Any]) -> None:
        """Append one epoch's logs (loss, accuracy, val_loss, ...) to the run's history.

        Keys missing from an epoch get ``None`` so that every list has one entry per epoch.
        Only the run's own worker appends, so read-then-write cannot lose an epoch.
        """
        history = {k: list(v) for k, v in self.get_run(run_id).history.items()}
        epochs = max((len(v) for v in history.values()), default=0)
        logs = jsonable(dict(epoch_logs))
        for key in logs:
            history.setdefault(key, [None] * epochs)
        for key, values in history.items():
            values.append(logs.get(key))
        with self.engine.begin() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == int(run_id))
                .values(history_json=history, updated_at=_now())
            )

    def finish_run(
        self,
        run_id: int,
        status: str,
        *,
        metrics: Mapping[str, Any] | None = None,
        train_seconds: float | None = None,
        artifact_path: str | Path | None = None,
        error: str | None = None,
    ) -> RunRecord:
        """Record the outcome of a run; a run that already has an outcome keeps its first one.

        An 'interrupted' run may still be finished by its worker if it turns out to be alive.
        With a shared artifact store (``SLM_ARTIFACTS``) what the run's folder holds is pushed
        there first (:meth:`sync_artifacts`); a run whose files cannot be pushed is 'failed'
        with the reason rather than 'succeeded'.
        """
        if status not in TERMINAL_STATUSES:
            raise ValueError(f"finish_run status must be one of {TERMINAL_STATUSES}")
        not_shared = self._share_artifacts(run_id, status)
        if not_shared is not None:  # readers elsewhere could not load it: it did not succeed
            status, error = "failed", not_shared
        values: dict[str, Any] = {"status": status, "finished_at": _now(), "updated_at": _now()}
        if metrics is not None:
            values["metrics_json"] = jsonable(dict(metrics))
        if train_seconds is not None:
            # SQLite turns NaN into NULL but keeps infinity; PostgreSQL keeps both: store neither.
            seconds = float(train_seconds)
            values["train_seconds"] = seconds if math.isfinite(seconds) else None
        if artifact_path is not None:
            values["artifact_path"] = str(artifact_path)
        if error is not None:
            values["error"] = error
        with self.engine.begin() as conn:
            conn.execute(
                update(runs)
                .where(
                    (runs.c.id == int(run_id))
                    & runs.c.status.in_(("queued", "running", "interrupted"))
                )
                .values(**values)
            )
        return self.get_run(run_id)

    def update_params(self, run_id: int, params: Mapping[str, Any]) -> RunRecord:
        """Replace a run's stored parameters (e.g. a measurement's budget before a resume)."""
        self.get_run(run_id)
        with self.engine.begin() as conn:
            conn.execute(
                update(runs)
                .where(runs.c.id == int(run_id))
                .values(params_json=jsonable(dict(params)), updated_at=_now())
            )
        return self.get_run(run_id)

    def reopen_run(self, run_id: int, statuses: Iterable[str] = REOPENABLE) -> RunRecord:
        """Queue a stopped run again so its work can go on where it stopped (its outcome,
        error and cancel request cleared); NotFoundError/SlmError when it is not stopped."""
        run = self.get_run(run_id)
        allowed = tuple(statuses)
        with self.engine.begin() as conn:
            result = conn.execute(
                update(runs)
                .where((runs.c.id == int(run_id)) & runs.c.status.in_(allowed))
                .values(
                    status="queued",
                    finished_at=None,
                    error=None,
                    cancel_requested=False,
                    pid=None,
                    updated_at=_now(),
                )
            )
        if result.rowcount != 1:
            raise SlmError(
                "errors.llm.not_resumable", run_id=run_id, status=Phrase(f"status.{run.status}")
            )
        return self.get_run(run_id)

    def request_cancel(self, run_id: int) -> RunRecord:
        """Cancel a run: a queued one at once, a running one by asking its worker to stop."""
        now = _now()
        with self.engine.begin() as conn:
            queued = conn.execute(
                update(runs)
                .where((runs.c.id == int(run_id)) & (runs.c.status == "queued"))
                .values(
                    status="cancelled",
                    cancel_requested=True,
                    finished_at=now,
                    updated_at=now,
                    error=CANCELLED_MESSAGE,
                )
            )
            if queued.rowcount == 0:
                conn.execute(
                    update(runs)
                    .where((runs.c.id == int(run_id)) & (runs.c.status == "running"))
                    .values(cancel_requested=True)
                )
        return self.get_run(run_id)

    def is_cancel_requested(self, run_id: int) -> bool:
        """Whether the user asked to cancel this run (True for an unknown run too)."""
        with self.engine.connect() as conn:
            value = conn.execute(
                select(runs.c.cancel_requested).where(runs.c.id == int(run_id))
            ).scalar_one_or_none()
        # A run deleted under a worker's feet should stop that worker.
        return True if value is None else bool(value)

    def mark_interrupted(self, stale_after_s: float = 3600.0) -> int:
        """Mark runs left 'running' by a process that is gone as 'interrupted'; return how many.

        A run worked on by this host is interrupted at once when its worker pid is dead (or
        recycled). A run of another host only when it has not reported for ``stale_after_s``
        seconds, since its pid cannot be checked from here — even on SQLite: two containers on
        one machine can share a SQLite volume, each with its own pid namespace, so a pid that
        looks dead here may be a live worker there. The partial history of an interrupted run is
        kept; only a local worker's staging folder is removed.
        """
        host = socket.gethostname()
        now = _now()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    runs.c.id, runs.c.pid, runs.c.pid_started, runs.c.worker_host, runs.c.updated_at
                ).where(runs.c.status == "running")
            ).all()
        count = 0
        for row in rows:
            local = row.worker_host in (None, host)
            if local:
                alive = pid_alive(row.pid, row.pid_started)
            else:
                seen = _utc(row.updated_at)
                alive = seen is not None and (now - seen).total_seconds() < stale_after_s
            if alive:
                continue
            with self.engine.begin() as conn:
                result = conn.execute(
                    update(runs)
                    .where(
                        (runs.c.id == row.id)
                        & (runs.c.status == "running")
                        # The worker may have handed the run to a new process meanwhile.
                        & ((runs.c.pid == row.pid) | runs.c.pid.is_(None))
                    )
                    .values(status="interrupted", finished_at=now, error=INTERRUPTED_MESSAGE)
                )
            if result.rowcount and local:
                # What the dead worker was writing. (A silent worker of another host may still
                # be alive and finish the run: its files are left alone.)
                self.discard_staging(row.id)
            count += result.rowcount
        return count

    def restart_run(self, run_id: int) -> RunRecord:
        """Queue a stopped training run to train again from the start, with the same settings.

        Unlike :meth:`reopen_run` (which lets an LLM measurement go on where it stopped), its
        progress, history, metrics, outcome and files are cleared (its log is kept); its id,
        dataset, model and parameters stay. Only an interrupted, failed or cancelled training
        run can be restarted (SlmError otherwise).
        """
        run = self.get_run(run_id)
        if run.model_id == LLM_MODEL_ID:
            raise SlmError("errors.jobs.requeue_measurement", run_id=run.id)
        if run.status in REOPENABLE:
            self._delete_shared(run.id)  # first: a failure leaves the run as it was
        with self.engine.begin() as conn:
            result = conn.execute(
                update(runs)
                .where((runs.c.id == run.id) & runs.c.status.in_(REOPENABLE))
                .values(
                    status="queued",
                    started_at=None,
                    finished_at=None,
                    updated_at=_now(),
                    train_seconds=None,
                    metrics_json=None,
                    error=None,
                    artifact_path=None,
                    progress_json={},
                    history_json={},
                    cancel_requested=False,
                    pid=None,
                    pid_started=None,
                    worker_host=None,
                )
            )
            if result.rowcount == 1:
                conn.execute(delete(run_results).where(run_results.c.run_id == run.id))
                conn.execute(delete(trial_runs).where(trial_runs.c.parent_run_id == run.id))
        if result.rowcount != 1:
            raise SlmError(
                "errors.jobs.not_requeueable", run_id=run.id, status=Phrase(f"status.{run.status}")
            )
        # Nothing of an earlier attempt may pass for this one's result.
        shutil.rmtree(self._final_dir(run.id), ignore_errors=True)
        self.discard_staging(run.id)
        return self.get_run(run.id)

    def delete_run(self, run_id: int) -> None:
        """Delete a run that is not training, with its results and files (feedback is kept)."""
        run = self.get_run(run_id)
        if run.status == "running":
            raise SlmError("errors.store.run_still_training", run_id=run_id)
        # The shared copy first: if it cannot be removed the run stays, to be deleted later,
        # rather than leaving files a later run with the same id could be taken for.
        self._delete_shared(run.id)
        with self.engine.begin() as conn:
            conn.execute(delete(run_results).where(run_results.c.run_id == run.id))
            conn.execute(delete(trial_runs).where(trial_runs.c.parent_run_id == run.id))
            conn.execute(update(feedback).where(feedback.c.run_id == run.id).values(run_id=None))
            conn.execute(delete(runs).where(runs.c.id == run.id))
        self._remove_run_files(run.id, shared=False)

    def _remove_run_files(self, run_id: int, *, shared: bool = True) -> None:
        shutil.rmtree(self._final_dir(run_id), ignore_errors=True)
        self.discard_staging(run_id)
        self.log_path(run_id).unlink(missing_ok=True)
        if shared:
            self._delete_shared(run_id)

    def _final_dir(self, run_id: int) -> Path:
        return self.home / "runs" / str(int(run_id))

    def artifact_dir(self, run_id: int) -> Path:
        """The run's artifact directory ``home/runs/<id>/`` (created).

        With a shared artifact store (``SLM_ARTIFACTS``) it is this machine's copy of the run's
        published files, fetched first when it is missing or older than them; a run with
        nothing published yet (still training, or an LLM measurement being carried out here)
        keeps its local folder as it is.
        """
        path = self._final_dir(run_id)
        remote = self.remote_artifacts()
        if remote is not None:
            remote.fetch_run(run_id, path)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def remote_artifacts(self) -> RemoteArtifacts | None:
        """The shared artifact store named by ``SLM_ARTIFACTS``, or None when runs' files stay
        in ``home`` only; SlmError when the setting cannot be used."""
        url = config.artifacts_url()
        if url is None:
            return None
        remote = getattr(self, "_remote_artifacts", None)
        if remote is None or remote.url != url:
            from slm_core.store.artifacts import RemoteArtifacts

            remote = RemoteArtifacts(url)
            local = remote.local_root()
            if local is not None and local.resolve() == self.home:
                # Its runs/<id>/ would be this machine's copies themselves.
                raise SlmError("errors.artifacts.same_as_home", url=remote.shown)
            self._remote_artifacts = remote
        return remote

    def sync_artifacts(self, run_id: int) -> None:
        """Push the files added to or changed in a published run's folder since (e.g. the
        validation predictions of an older run) to the shared artifact store; nothing without
        ``SLM_ARTIFACTS``. :meth:`finish_run` does it for every run that ends."""
        remote = self.remote_artifacts()
        if remote is not None:
            remote.push_run(run_id, self._final_dir(run_id))

    def _share_artifacts(self, run_id: int, status: str) -> str | None:
        """Before a run's outcome is recorded, push its folder to the shared artifact store;
        the reason when a run that succeeded could not be shared, else None (a run that did
        not succeed keeps its own outcome: its files, if any, are shared as far as possible)."""
        try:
            if self.remote_artifacts() is None:
                return None
            if self.get_run(run_id).status not in ("queued", "running", "interrupted"):
                return None  # it keeps its first outcome, and the files that went with it
            self.sync_artifacts(run_id)
        except NotFoundError:
            return None
        except SlmError as exc:
            return str(exc) if status == "succeeded" else None
        return None

    def _delete_shared(self, run_id: int) -> None:
        remote = self.remote_artifacts()
        if remote is not None:
            remote.delete_run(run_id)

    def staging_dir(self, run_id: int) -> Path:
        """A new, empty folder beside the run's artifact folder for a training attempt to write
        into; :meth:`publish_artifacts` moves it into place once every file is written.

        Leftovers of an earlier attempt of the run (a killed worker's) are removed first: a run
        is trained by one process at a time.
        """
        self.discard_staging(run_id)
        path = self.home / "runs" / f".{int(run_id)}{STAGING_MARK}{os.getpid()}"
        path.mkdir(parents=True)
        return path

    def discard_staging(self, run_id: int) -> None:
        """Remove what unfinished attempts of the run left beside its artifact folder."""
        for leftover in (self.home / "runs").glob(f".{int(run_id)}.*"):
            shutil.rmtree(leftover, ignore_errors=True)

    def publish_artifacts(self, run_id: int, staging: Path) -> Path:
        """Rename the complete ``staging`` folder to the run's artifact folder and return it.

        An older artifact folder of the run is moved aside first and removed after, so a
        reader finds either the old folder or the new one, never a mix or half of one. With a
        shared artifact store (``SLM_ARTIFACTS``) the folder is uploaded there as the run's new
        version first (SlmError if it cannot be: then nothing is published here either), and
        stays here as this machine's copy.
        """
        remote = self.remote_artifacts()
        if remote is not None:
            # Before the rename: a reader here that fetches meanwhile gets this version too.
            remote.push_run(run_id, staging)
        final = self._final_dir(run_id)
        old = final.with_name(f".{int(run_id)}.old-{os.getpid()}")
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)
        return final

    def log_path(self, run_id: int) -> Path:
        """The log file of the process that trains ``run_id``: ``home/logs/run-<id>.log``."""
        return self.home / "logs" / f"run-{int(run_id)}.log"

    def put_result(self, run_id: int, kind: str, data: Mapping[str, Any]) -> None:
        """Store (or replace) the ``kind`` result of a run, e.g. 'evaluation' or 'benchmark'."""
        self.get_run(run_id)
        payload = jsonable(dict(data))
        for _ in range(3):
            with self.engine.begin() as conn:
                updated = conn.execute(
                    update(run_results)
                    .where((run_results.c.run_id == int(run_id)) & (run_results.c.kind == kind))
                    .values(data_json=payload, created_at=_now())
                )
                if updated.rowcount:
                    return
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        insert(run_results).values(
                            run_id=int(run_id), kind=kind, data_json=payload, created_at=_now()
                        )
                    )
                return
            except IntegrityError:
                continue  # another process inserted it first: update that row instead
        raise SlmError("errors.store.result_not_saved", kind=kind, run_id=run_id)

    def put_trial_runs(
        self, parent_run_id: int, engine: str, trials: Iterable[Mapping[str, Any]]
    ) -> None:
        """Store a sweep's trials (each with ``number``, ``rung``, ``settings``, ``train_rows``
        and ``val_accuracy``) as the child runs of ``parent_run_id``, in place of any earlier
        ones: a run swept again keeps only its last sweep's."""
        self.get_run(parent_run_id)
        rows = [
            {
                "parent_run_id": int(parent_run_id),
                "number": int(t["number"]),
                "rung": int(t.get("rung") or 0),
                "engine": str(engine),
                "settings_json": jsonable(dict(t.get("settings") or {})),
                "train_rows": int(t["train_rows"]),
                "val_accuracy": finite_or_none(t.get("val_accuracy")),
                "created_at": _now(),
            }
            for t in trials
        ]
        with self.engine.begin() as conn:
            conn.execute(delete(trial_runs).where(trial_runs.c.parent_run_id == int(parent_run_id)))
            if rows:
                conn.execute(insert(trial_runs), rows)

    def list_trial_runs(self, parent_run_id: int) -> list[TrialRunRecord]:
        """The trial runs of a run's sweep, by draw and round; empty when it swept nothing."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(trial_runs)
                .where(trial_runs.c.parent_run_id == int(parent_run_id))
                .order_by(trial_runs.c.number, trial_runs.c.rung, trial_runs.c.id)
            ).all()
        return [
            TrialRunRecord(
                id=int(r.id),
                parent_run_id=int(r.parent_run_id),
                number=int(r.number),
                rung=int(r.rung),
                engine=str(r.engine),
                settings=dict(r.settings_json or {}),
                train_rows=int(r.train_rows),
                val_accuracy=r.val_accuracy,
                created_at=_utc(r.created_at),
            )
            for r in rows
        ]

    def get_result(self, run_id: int, kind: str) -> dict[str, Any] | None:
        """The stored ``kind`` result of a run, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(run_results.c.data_json).where(
                    (run_results.c.run_id == int(run_id)) & (run_results.c.kind == kind)
                )
            ).first()
        return None if row is None else (row.data_json or {})
