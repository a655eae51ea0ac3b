"""The run store's tables: datasets, runs, their sweeps' trial runs, run results, feedback and
scenarios."""

from __future__ import annotations

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
)

from slm_core.store.engine import RowId, SafeText

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

# The settings a sweep tried before its run trained (slm_core.sweeps): child runs of that run,
# each with its settings, the texts it trained on and its validation accuracy. Not rows of
# ``runs``: every page, the value checks and the report take a row there for a trained model
# with a folder, which a trial never is.
trial_runs = Table(
    "trial_runs",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column(
        "parent_run_id",
        RowId,
        ForeignKey("runs.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("number", Integer, nullable=False),  # the setting's draw, from 0
    Column("rung", Integer, nullable=False),  # successive halving's round (0 otherwise)
    Column("engine", SafeText, nullable=False),
    Column("settings_json", _JSON),
    Column("train_rows", Integer, nullable=False),
    Column("val_accuracy", Float),  # None: the trial could not be scored
    Column("created_at", _TS, nullable=False),
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
