"""Frozen records the run store returns, the run statuses, and JSON-safe conversion."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "interrupted")
ACTIVE_STATUSES = ("queued", "running")
TERMINAL_STATUSES = ("succeeded", "failed", "cancelled", "interrupted")
DATASET_SOURCES = ("upload", "demo", "cli", "feedback")
INTERRUPTED_MESSAGE = "The app or worker stopped while this run was training; start it again."
CANCELLED_MESSAGE = "Cancelled by the user."


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
class RunProgress:
    """Where a run's training is: what the worker writes and the Train page shows.

    Stored as the run's ``progress`` JSON (``to_dict``); ``message`` is a stage key
    (``stage.<message>`` in the catalogue).
    """

    epoch: int = 0
    epochs: int | None = None
    batch: int = 0
    batches: int | None = None
    fraction: float = 0.0
    message: str = "queued"

    @property
    def share(self) -> float:
        """``fraction`` clipped to 0–1 (a stored value may be missing or out of range)."""
        return min(max(self.fraction, 0.0), 1.0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RunProgress:
        data = data or {}
        fraction = data.get("fraction")
        return cls(
            epoch=int(data.get("epoch") or 0),
            epochs=data.get("epochs"),
            batch=int(data.get("batch") or 0),
            batches=data.get("batches"),
            fraction=float(fraction) if isinstance(fraction, (int, float)) else 0.0,
            message=str(data.get("message") or "queued"),
        )


@dataclass(frozen=True)
class RunMetrics:
    """What training measured about a run (stored as its ``metrics`` JSON), typed.

    Missing or non-finite values read as None; ``train_energy_estimate`` is True unless
    CodeCarbon read RAPL power counters.
    """

    accuracy: float | None = None
    macro_f1: float | None = None
    majority_rate: float | None = None
    train_seconds: float | None = None
    n_params: int | None = None
    model_size_bytes: float | None = None
    train_energy_kwh: float | None = None
    train_energy_estimate: bool = True
    split_sizes: dict[str, int] = field(default_factory=dict)
    split_seed: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RunMetrics:
        from slm_core.numbers import finite_or_none

        data = data or {}
        n_params = finite_or_none(data.get("n_params"))
        seed = data.get("split_seed")
        return cls(
            accuracy=finite_or_none(data.get("accuracy")),
            macro_f1=finite_or_none(data.get("macro_f1")),
            majority_rate=finite_or_none(data.get("majority_rate")),
            train_seconds=finite_or_none(data.get("train_seconds")),
            n_params=None if n_params is None else int(n_params),
            model_size_bytes=finite_or_none(data.get("model_size_bytes")),
            train_energy_kwh=finite_or_none(data.get("train_energy_kwh")),
            train_energy_estimate=bool((data.get("train_energy") or {}).get("estimate", True)),
            split_sizes=dict(data.get("split_sizes") or {}),
            split_seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        )


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
    def measured(self) -> RunMetrics:
        """The stored training metrics as a typed record."""
        return RunMetrics.from_dict(self.metrics)

    @property
    def live(self) -> RunProgress:
        """The stored progress as a typed record."""
        return RunProgress.from_dict(self.progress)

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


@dataclass(frozen=True)
class TrialRunRecord:
    """One setting a sweep tried for its parent run (``trial_runs``)."""

    id: int
    parent_run_id: int
    number: int
    rung: int
    engine: str
    settings: dict[str, Any]
    train_rows: int
    val_accuracy: float | None
    created_at: datetime


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
