"""Run store: datasets, training runs, their results, user feedback and value scenarios.

SQLAlchemy Core over SQLite by default (WAL, busy timeout, foreign keys on) so that the
Streamlit process, the job runner, its training children and the CLI can use one store at
the same time; ``SLM_DATABASE_URL=postgresql://...`` works unchanged for a shared deployment.
Every read returns a frozen record, never a raw row.
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    Table,
    UniqueConstraint,
    case,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from slm_core import config
from slm_core.errors import NotFoundError, SlmError
from slm_core.store_engine import RowId, SafeText, make_engine

if TYPE_CHECKING:
    import pandas as pd

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
ACTIVE_STATUSES = ("queued", "running")
TERMINAL_STATUSES = ("succeeded", "failed", "cancelled", "interrupted")
DATASET_SOURCES = ("upload", "demo", "cli", "feedback")
INTERRUPTED_MESSAGE = "The app or worker stopped while this run was training; start it again."
CANCELLED_MESSAGE = "Cancelled by the user."

# none_as_null: a Python None is SQL NULL, not the JSON text 'null'.
_JSON = JSON(none_as_null=True)
_TS = DateTime(timezone=True)

metadata = MetaData()

datasets = Table(
    "datasets",
    metadata,
    Column("id", SafeText, primary_key=True),
    Column("name", SafeText, nullable=False),
    Column("source", SafeText, nullable=False),
    Column("filename", SafeText),
    Column("content_hash", SafeText, nullable=False, unique=True),
    Column("parent_id", SafeText, ForeignKey("datasets.id", ondelete="SET NULL")),
    Column("created_at", _TS, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("report_json", _JSON),
    Column("mapping_json", _JSON),
    Column("split_config_json", _JSON),
)

runs = Table(
    "runs",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("dataset_id", SafeText, ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
    Column("model_id", SafeText, nullable=False),
    Column("preset", SafeText),
    Column("params_json", _JSON),
    Column("status", SafeText, nullable=False, index=True),
    Column("created_at", _TS, nullable=False),
    Column("started_at", _TS),
    Column("finished_at", _TS),
    Column("updated_at", _TS),  # heartbeat: last claim/progress/history write
    Column("train_seconds", Float),
    Column("metrics_json", _JSON),
    Column("error", SafeText),
    Column("artifact_path", SafeText),
    Column("progress_json", _JSON),
    Column("history_json", _JSON),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("pid", Integer),
    # The worker's process start time guards against a recycled pid looking alive.
    Column("pid_started", Float),
    Column("worker_host", SafeText),
)

run_results = Table(
    "run_results",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("run_id", RowId, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("kind", SafeText, nullable=False),
    Column("data_json", _JSON),
    Column("created_at", _TS, nullable=False),
    UniqueConstraint("run_id", "kind", name="uq_run_results_run_kind"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    # Feedback outlives a deleted run: its corrected examples still feed the next dataset.
    Column("run_id", RowId, ForeignKey("runs.id", ondelete="SET NULL"), index=True),
    Column("dataset_id", SafeText, ForeignKey("datasets.id", ondelete="CASCADE"), index=True),
    Column("text", SafeText, nullable=False),
    Column("predicted_label", SafeText),
    Column("is_correct", Boolean, nullable=False),
    Column("corrected_label", SafeText),
    Column("created_at", _TS, nullable=False),
)

scenarios = Table(
    "scenarios",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("name", SafeText, nullable=False),
    Column("dataset_id", SafeText, ForeignKey("datasets.id", ondelete="SET NULL")),
    Column("data_json", _JSON),
    Column("created_at", _TS, nullable=False),
)


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything is written in UTC.
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def jsonable(value: Any) -> Any:
    """Return ``value`` as plain JSON types (numpy scalars, paths, NaN and dataclasses handled)."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        # PostgreSQL's JSON type rejects NaN and infinities.
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "to_dict"):
        return jsonable(value.to_dict())
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:  # numpy scalar
        return jsonable(value.item())
    if hasattr(value, "tolist"):  # numpy array
        return jsonable(value.tolist())
    return str(value)


def _record_dict(record: Any) -> dict[str, Any]:
    out = asdict(record)
    for key, value in out.items():
        if isinstance(value, datetime):
            out[key] = value.isoformat()
    return out


@dataclass(frozen=True)
class DatasetRecord:
    """A stored dataset version; its canonical frame lives in ``home/datasets/<id>.parquet``."""

    id: str
    name: str
    source: str
    filename: str | None
    content_hash: str
    parent_id: str | None
    created_at: datetime
    rows: int
    report: dict[str, Any] = field(default_factory=dict)
    mapping: dict[str, Any] = field(default_factory=dict)
    split_config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return _record_dict(self)


@dataclass(frozen=True)
class RunRecord:
    """One training run: what was asked, where it stands, and what came out."""

    id: int
    dataset_id: str
    model_id: str
    preset: str | None
    params: dict[str, Any]
    status: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    train_seconds: float | None
    metrics: dict[str, Any]
    error: str | None
    artifact_path: str | None
    progress: dict[str, Any]
    history: dict[str, list[Any]]
    cancel_requested: bool
    pid: int | None
    worker_host: str | None
    updated_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_finished(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def to_dict(self) -> dict[str, Any]:
        return _record_dict(self)


@dataclass(frozen=True)
class FeedbackRecord:
    """A user's verdict on one prediction, with an optional corrected label."""

    id: int
    run_id: int | None
    dataset_id: str | None
    text: str
    predicted_label: str | None
    is_correct: bool
    corrected_label: str | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return _record_dict(self)


@dataclass(frozen=True)
class ScenarioRecord:
    """A saved set of business-value assumptions."""

    id: int
    name: str
    dataset_id: str | None
    data: dict[str, Any]
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return _record_dict(self)


def _dataset_record(row: Any) -> DatasetRecord:
    return DatasetRecord(
        id=row.id,
        name=row.name,
        source=row.source,
        filename=row.filename,
        content_hash=row.content_hash,
        parent_id=row.parent_id,
        created_at=_utc(row.created_at),
        rows=row.rows,
        report=row.report_json or {},
        mapping=row.mapping_json or {},
        split_config=row.split_config_json or {},
    )


def _run_record(row: Any) -> RunRecord:
    return RunRecord(
        id=row.id,
        dataset_id=row.dataset_id,
        model_id=row.model_id,
        preset=row.preset,
        params=row.params_json or {},
        status=row.status,
        created_at=_utc(row.created_at),
        started_at=_utc(row.started_at),
        finished_at=_utc(row.finished_at),
        train_seconds=row.train_seconds,
        metrics=row.metrics_json or {},
        error=row.error,
        artifact_path=row.artifact_path,
        progress=row.progress_json or {},
        history=row.history_json or {},
        cancel_requested=bool(row.cancel_requested),
        pid=row.pid,
        worker_host=row.worker_host,
        updated_at=_utc(row.updated_at),
    )


def _feedback_record(row: Any) -> FeedbackRecord:
    return FeedbackRecord(
        id=row.id,
        run_id=row.run_id,
        dataset_id=row.dataset_id,
        text=row.text,
        predicted_label=row.predicted_label,
        is_correct=bool(row.is_correct),
        corrected_label=row.corrected_label,
        created_at=_utc(row.created_at),
    )


def _scenario_record(row: Any) -> ScenarioRecord:
    return ScenarioRecord(
        id=row.id,
        name=row.name,
        dataset_id=row.dataset_id,
        data=row.data_json or {},
        created_at=_utc(row.created_at),
    )


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


class RunStore:
    """Datasets, runs, results, feedback and scenarios in one database plus files under ``home``.

    Parameters
    ----------
    url
        SQLAlchemy URL; default :func:`slm_core.config.database_url`.
    home
        Data directory for frames, artifacts and logs; default :func:`slm_core.config.slm_home`.
    """

    def __init__(self, url: str | None = None, home: Path | str | None = None) -> None:
        self.home = (Path(home) if home is not None else config.slm_home()).expanduser().resolve()
        self.home.mkdir(parents=True, exist_ok=True)
        self.url = url or config.database_url()
        self.engine = make_engine(self.url)
        self._create_tables()

    def __repr__(self) -> str:
        return f"RunStore(url={self.engine.url!r}, home={str(self.home)!r})"

    def _create_tables(self) -> None:
        # Two processes may create the schema at the same moment; the loser sees
        # "already exists" and simply finds the tables on the next try.
        for attempt in range(5):
            try:
                metadata.create_all(self.engine)
                return
            except DBAPIError:
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def close(self) -> None:
        """Release pooled connections (the store stays usable; it reconnects on demand)."""
        self.engine.dispose()

    # ----------------------------------------------------------------- datasets

    def frame_path(self, dataset_id: str) -> Path:
        """Where the canonical frame of ``dataset_id`` is stored."""
        return self.home / "datasets" / f"{dataset_id}.parquet"

    def add_dataset(
        self,
        name: str,
        source: str,
        filename: str | None,
        content_hash: str,
        frame: pd.DataFrame,
        report: Mapping[str, Any] | None = None,
        mapping: Mapping[str, Any] | None = None,
        split_config: Mapping[str, Any] | None = None,
        parent_id: str | None = None,
    ) -> DatasetRecord:
        """Store a dataset version; the same ``content_hash`` returns the existing record."""
        if source not in DATASET_SOURCES:
            raise ValueError(f"source must be one of {DATASET_SOURCES}, not {source!r}")
        existing = self._dataset_by_hash(content_hash)
        if existing is not None:
            return existing
        dataset_id = content_hash[:12]
        path = self.frame_path(dataset_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write the file first and atomically, so a row never points at a missing frame.
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        frame.reset_index(drop=True).to_parquet(tmp, index=False)
        os.replace(tmp, path)
        values = {
            "id": dataset_id,
            "name": name,
            "source": source,
            "filename": filename,
            "content_hash": content_hash,
            "parent_id": parent_id,
            "created_at": _now(),
            "rows": len(frame),
            "report_json": jsonable(dict(report or {})),
            "mapping_json": jsonable(dict(mapping or {})),
            "split_config_json": jsonable(dict(split_config or {})),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(datasets).values(**values))
        except IntegrityError:
            # Another process stored the same content first.
            existing = self._dataset_by_hash(content_hash)
            if existing is None:
                raise
            return existing
        return self.get_dataset(dataset_id)

    def _dataset_by_hash(self, content_hash: str) -> DatasetRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(datasets).where(datasets.c.content_hash == content_hash)
            ).first()
        return _dataset_record(row) if row else None

    def get_dataset(self, dataset_id: str) -> DatasetRecord:
        """The dataset with this exact id; raises NotFoundError if there is none."""
        with self.engine.connect() as conn:
            row = conn.execute(select(datasets).where(datasets.c.id == dataset_id)).first()
        if row is None:
            raise NotFoundError("errors.store.no_dataset_with_id", dataset_id=f"{dataset_id!r}")
        return _dataset_record(row)

    def find_dataset(self, id_prefix_or_name: str) -> DatasetRecord:
        """A dataset by full id, unique id prefix, or name (the newest with that name)."""
        key = id_prefix_or_name.strip()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(datasets)
                .where(datasets.c.id.startswith(key, autoescape=True) | (datasets.c.name == key))
                .order_by(datasets.c.created_at.desc())
            ).all()
        by_id = [r for r in rows if r.id == key]
        by_prefix = [r for r in rows if r.id.startswith(key)]
        by_name = [r for r in rows if r.name == key]
        if by_id:
            return _dataset_record(by_id[0])
        if len(by_prefix) == 1:
            return _dataset_record(by_prefix[0])
        if by_name:
            return _dataset_record(by_name[0])
        if by_prefix:
            raise NotFoundError("errors.store.several_datasets_have_ids", key=f"{key!r}")
        raise NotFoundError("errors.store.no_dataset_id_name", key=f"{key!r}")

    def list_datasets(self) -> list[DatasetRecord]:
        """All datasets, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(datasets).order_by(datasets.c.created_at.desc(), datasets.c.id)
            ).all()
        return [_dataset_record(r) for r in rows]

    def load_frame(self, dataset_id: str) -> pd.DataFrame:
        """The canonical frame (text, label[, group][, split]) of a stored dataset."""
        import pandas as pd

        path = self.frame_path(dataset_id)
        if not path.exists():
            self.get_dataset(dataset_id)  # a clear message when the id itself is unknown
            raise NotFoundError(
                "errors.store.data_file_dataset_missing",
                dataset_id=f"{dataset_id!r}",
                parent=path.parent,
            )
        return pd.read_parquet(path)

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete a dataset with its runs, results, feedback and files."""
        self.get_dataset(dataset_id)
        dataset_runs = self.list_runs(dataset_id=dataset_id)
        run_ids = [r.id for r in dataset_runs]
        if any(r.status == "running" for r in dataset_runs):
            raise SlmError("errors.store.run_dataset_still_training")
        with self.engine.begin() as conn:
            conn.execute(delete(feedback).where(feedback.c.dataset_id == dataset_id))
            if run_ids:
                conn.execute(delete(run_results).where(run_results.c.run_id.in_(run_ids)))
                conn.execute(
                    update(feedback).where(feedback.c.run_id.in_(run_ids)).values(run_id=None)
                )
                conn.execute(delete(runs).where(runs.c.id.in_(run_ids)))
            conn.execute(
                update(scenarios)
                .where(scenarios.c.dataset_id == dataset_id)
                .values(dataset_id=None)
            )
            conn.execute(
                update(datasets).where(datasets.c.parent_id == dataset_id).values(parent_id=None)
            )
            conn.execute(delete(datasets).where(datasets.c.id == dataset_id))
        for run_id in run_ids:
            self._remove_run_files(run_id)
        self.frame_path(dataset_id).unlink(missing_ok=True)

    # --------------------------------------------------------------------- runs

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
        """The oldest queued run, or None when the queue is empty."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(runs).where(runs.c.status == "queued").order_by(runs.c.id).limit(1)
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

    def set_progress(self, run_id: int, progress: Mapping[str, Any]) -> None:
        """Replace the live progress (epoch, epochs, batch, batches, fraction, message)."""
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
        """
        if status not in TERMINAL_STATUSES:
            raise ValueError(f"finish_run status must be one of {TERMINAL_STATUSES}")
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

        A run worked on by this host is interrupted when its worker pid is dead (or recycled).
        A run of another host (shared database) only when it has not reported for
        ``stale_after_s`` seconds, since its pid cannot be checked from here.
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
            if row.worker_host in (None, host):
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
            count += result.rowcount
        return count

    def delete_run(self, run_id: int) -> None:
        """Delete a run that is not training, with its results and files (feedback is kept)."""
        run = self.get_run(run_id)
        if run.status == "running":
            raise SlmError("errors.store.run_still_training_cancel", run_id=run_id)
        with self.engine.begin() as conn:
            conn.execute(delete(run_results).where(run_results.c.run_id == run.id))
            conn.execute(update(feedback).where(feedback.c.run_id == run.id).values(run_id=None))
            conn.execute(delete(runs).where(runs.c.id == run.id))
        self._remove_run_files(run.id)

    def _remove_run_files(self, run_id: int) -> None:
        shutil.rmtree(self.home / "runs" / str(run_id), ignore_errors=True)
        self.log_path(run_id).unlink(missing_ok=True)

    def artifact_dir(self, run_id: int) -> Path:
        """The run's artifact directory ``home/runs/<id>/`` (created)."""
        path = self.home / "runs" / str(int(run_id))
        path.mkdir(parents=True, exist_ok=True)
        return path

    def log_path(self, run_id: int) -> Path:
        """The log file of the process that trains ``run_id``: ``home/logs/run-<id>.log``."""
        return self.home / "logs" / f"run-{int(run_id)}.log"

    # ------------------------------------------------------------------ results

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
        raise SlmError("errors.store.could_save_result_run", kind=kind, run_id=run_id)

    def get_result(self, run_id: int, kind: str) -> dict[str, Any] | None:
        """The stored ``kind`` result of a run, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(run_results.c.data_json).where(
                    (run_results.c.run_id == int(run_id)) & (run_results.c.kind == kind)
                )
            ).first()
        return None if row is None else (row.data_json or {})

    # ----------------------------------------------------------------- feedback

    def add_feedback(
        self,
        run_id: int,
        text: str,
        predicted_label: str | None,
        is_correct: bool,
        corrected_label: str | None = None,
        *,
        dataset_id: str | None = None,
    ) -> FeedbackRecord:
        """Store a thumbs up/down on one prediction; the dataset defaults to the run's."""
        run = self.get_run(run_id)
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(feedback).values(
                    run_id=run.id,
                    dataset_id=dataset_id or run.dataset_id,
                    text=text,
                    predicted_label=predicted_label,
                    is_correct=bool(is_correct),
                    corrected_label=corrected_label or None,
                    created_at=_now(),
                )
            )
            feedback_id = result.inserted_primary_key[0]
        with self.engine.connect() as conn:
            row = conn.execute(select(feedback).where(feedback.c.id == feedback_id)).one()
        return _feedback_record(row)

    def list_feedback(
        self,
        dataset_id: str | None = None,
        run_id: int | None = None,
        corrected_only: bool = False,
    ) -> list[FeedbackRecord]:
        """Feedback, oldest first, optionally of one dataset/run or only with a corrected label."""
        query = select(feedback).order_by(feedback.c.id)
        if dataset_id is not None:
            query = query.where(feedback.c.dataset_id == dataset_id)
        if run_id is not None:
            query = query.where(feedback.c.run_id == int(run_id))
        if corrected_only:
            query = query.where(feedback.c.corrected_label.is_not(None))
        with self.engine.connect() as conn:
            return [_feedback_record(r) for r in conn.execute(query).all()]

    def feedback_summary(self, dataset_id: str) -> dict[int, dict[str, int]]:
        """Per run of a dataset: how many answers were rated and how many rated right."""
        query = (
            select(
                feedback.c.run_id,
                func.count().label("rated"),
                func.sum(case((feedback.c.is_correct, 1), else_=0)).label("right"),
            )
            .where((feedback.c.dataset_id == dataset_id) & feedback.c.run_id.is_not(None))
            .group_by(feedback.c.run_id)
        )
        with self.engine.connect() as conn:
            return {
                r.run_id: {"rated": int(r.rated), "right": int(r.right or 0)}
                for r in conn.execute(query).all()
            }

    # ---------------------------------------------------------------- scenarios

    def save_scenario(
        self,
        name: str,
        data: Mapping[str, Any],
        dataset_id: str | None = None,
        scenario_id: int | None = None,
    ) -> ScenarioRecord:
        """Save value assumptions as a new scenario, or overwrite ``scenario_id``."""
        values = {"name": name, "dataset_id": dataset_id, "data_json": jsonable(dict(data))}
        with self.engine.begin() as conn:
            if scenario_id is None:
                result = conn.execute(insert(scenarios).values(created_at=_now(), **values))
                scenario_id = result.inserted_primary_key[0]
            else:
                result = conn.execute(
                    update(scenarios).where(scenarios.c.id == int(scenario_id)).values(**values)
                )
                if result.rowcount == 0:
                    raise NotFoundError(
                        "errors.store.no_scenario_with_id_2", scenario_id=scenario_id
                    )
        return self.get_scenario(scenario_id)

    def get_scenario(self, scenario_id: int) -> ScenarioRecord:
        """The scenario with this id; raises NotFoundError if there is none."""
        with self.engine.connect() as conn:
            row = conn.execute(select(scenarios).where(scenarios.c.id == int(scenario_id))).first()
        if row is None:
            raise NotFoundError("errors.store.no_scenario_with_id", scenario_id=scenario_id)
        return _scenario_record(row)

    def list_scenarios(self, dataset_id: str | None = None) -> list[ScenarioRecord]:
        """Scenarios, newest first; with ``dataset_id``, those of that dataset and general ones."""
        query = select(scenarios).order_by(scenarios.c.id.desc())
        if dataset_id is not None:
            query = query.where(
                (scenarios.c.dataset_id == dataset_id) | scenarios.c.dataset_id.is_(None)
            )
        with self.engine.connect() as conn:
            return [_scenario_record(r) for r in conn.execute(query).all()]

    def delete_scenario(self, scenario_id: int) -> None:
        """Delete a saved scenario (no error if it is already gone)."""
        with self.engine.begin() as conn:
            conn.execute(delete(scenarios).where(scenarios.c.id == int(scenario_id)))
