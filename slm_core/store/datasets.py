"""Dataset versions in the run store: their rows and their canonical frames on disk."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from slm_core.atomic import atomic_path
from slm_core.errors import NotFoundError, SlmError
from slm_core.store.artifacts import delete_frame, fetch_frame, push_frame
from slm_core.store.files import storage_error
from slm_core.store.records import DATASET_SOURCES, DatasetRecord, _dataset_record, _now, jsonable
from slm_core.store.schema import datasets, feedback, run_results, runs, scenarios, trial_runs

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Engine


# Leftovers younger than this are kept: a process id may belong to another machine.
STAGING_MIN_AGE_S = 600.0
# Names of files a writing process owns in datasets/: its pid is the first group that matched.
_STAGED_NAMES = (
    re.compile(r"^\.(?:incoming|upload)-(\d+)-"),  # store.staging_path(), an upload's folder
    re.compile(r"^\..+\.(\d+)-\d+\.tmp(?:\.|$)"),  # slm_core.atomic.atomic_path()
)


def _writer_pid(name: str) -> int | None:
    """The id of the process writing the datasets/ entry ``name``; None for a stored one."""
    for pattern in _STAGED_NAMES:
        match = pattern.match(name)
        if match is not None:
            return int(match.group(1))
    return None


class DatasetsMixin:
    """Storing, finding, loading and deleting dataset versions."""

    engine: Engine
    home: Path

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
        try:
            with atomic_path(path) as tmp:
                frame.reset_index(drop=True).to_parquet(tmp, index=False)
        except OSError as exc:
            problem = storage_error(exc, self.home)
            if problem is None:
                raise
            raise problem from exc
        return self._insert_dataset(
            dataset_id, name, source, filename, content_hash, len(frame),
            report, mapping, split_config, parent_id,
        )  # fmt: skip

    def staging_path(self) -> Path:
        """A new path in the datasets folder where a frame can be written before it is added
        with :meth:`add_dataset_file` (on the same file system, so adding it is a rename)."""
        folder = self.home / "datasets"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f".incoming-{os.getpid()}-{uuid.uuid4().hex[:12]}.parquet"

    def sweep_staging(self, min_age_s: float = STAGING_MIN_AGE_S) -> list[Path]:
        """Remove what a killed process left in the datasets folder: frames being written
        (``.incoming-<pid>-*``, and ``atomic_path``'s temporary files ``.<name>.<pid>-<thread>
        .tmp.parquet`` of either path) and uploads being read (``.upload-<pid>-*``) of
        processes that are gone, untouched for ``min_age_s`` (a process id may be another
        machine's when the folder is shared). Returns what was removed."""
        import time

        from slm_core.store.processes import pid_alive

        folder = self.home / "datasets"
        try:
            entries = list(folder.iterdir()) if folder.is_dir() else []
        except OSError:  # an unreadable folder: the pages say so when they use it
            return []
        removed = []
        for entry in entries:
            pid = _writer_pid(entry.name)
            if pid is None or pid_alive(pid):
                continue
            try:
                if time.time() - entry.stat().st_mtime < min_age_s:
                    continue
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            except OSError:  # gone meanwhile, or not ours to remove: left as it is
                continue
            removed.append(entry)
        return removed

    def add_dataset_file(
        self,
        name: str,
        source: str,
        filename: str | None,
        content_hash: str,
        frame_file: Path,
        rows: int,
        report: Mapping[str, Any] | None = None,
        mapping: Mapping[str, Any] | None = None,
        split_config: Mapping[str, Any] | None = None,
        parent_id: str | None = None,
    ) -> DatasetRecord:
        """Store a dataset version whose canonical frame is already written to ``frame_file``
        (Parquet, ``rows`` rows; see :meth:`staging_path`), as a large file streamed in chunks
        is. The file is moved into place in one rename, or removed when the same
        ``content_hash`` is stored already (that record is returned)."""
        if source not in DATASET_SOURCES:
            raise ValueError(f"source must be one of {DATASET_SOURCES}, not {source!r}")
        frame_file = Path(frame_file)
        existing = self._dataset_by_hash(content_hash)
        if existing is not None:
            frame_file.unlink(missing_ok=True)
            return existing
        dataset_id = content_hash[:12]
        path = self.frame_path(dataset_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(frame_file, path)  # a row never points at a missing or partial frame
        except OSError as exc:
            frame_file.unlink(missing_ok=True)
            problem = storage_error(exc, self.home)
            if problem is None:
                raise
            raise problem from exc
        return self._insert_dataset(
            dataset_id, name, source, filename, content_hash, rows,
            report, mapping, split_config, parent_id,
        )  # fmt: skip

    def _insert_dataset(
        self,
        dataset_id: str,
        name: str,
        source: str,
        filename: str | None,
        content_hash: str,
        rows: int,
        report: Mapping[str, Any] | None,
        mapping: Mapping[str, Any] | None,
        split_config: Mapping[str, Any] | None,
        parent_id: str | None,
    ) -> DatasetRecord:
        """The dataset's row, once its frame file is in place (and shared through
        ``SLM_ARTIFACTS``, so that no row points at a frame a worker elsewhere cannot get)."""
        push_frame(self, dataset_id)
        values = {
            "id": dataset_id,
            "name": name,
            "source": source,
            "filename": filename,
            "content_hash": content_hash,
            "parent_id": parent_id,
            "created_at": _now(),
            "rows": rows,
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
            raise NotFoundError("errors.store.ambiguous_dataset_id", key=f"{key!r}")
        raise NotFoundError("errors.store.no_dataset_with_key", key=f"{key!r}")

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

        return pd.read_parquet(self._frame_file(dataset_id))

    def load_columns(self, dataset_id: str, columns: Sequence[str]):
        """Some columns of a stored dataset's frame as an Arrow table: no pandas objects, so
        a million texts are read in a fraction of ``load_frame``'s time."""
        import pyarrow.parquet as pq

        return pq.read_table(self._frame_file(dataset_id), columns=list(columns))

    def _frame_file(self, dataset_id: str) -> Path:
        path = self.frame_path(dataset_id)
        fetch_frame(self, dataset_id)  # stored by another machine: its shared copy
        if not path.exists():
            self.get_dataset(dataset_id)  # a clear message when the id itself is unknown
            raise NotFoundError(
                "errors.store.data_file_missing",
                dataset_id=f"{dataset_id!r}",
                parent=path.parent,
            )
        return path

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete a dataset with its runs, results, feedback and files."""
        self.get_dataset(dataset_id)
        dataset_runs = self.list_runs(dataset_id=dataset_id)
        run_ids = [r.id for r in dataset_runs]
        if any(r.status == "running" for r in dataset_runs):
            raise SlmError("errors.store.dataset_still_training")
        with self.engine.begin() as conn:
            conn.execute(delete(feedback).where(feedback.c.dataset_id == dataset_id))
            if run_ids:
                conn.execute(delete(run_results).where(run_results.c.run_id.in_(run_ids)))
                conn.execute(delete(trial_runs).where(trial_runs.c.parent_run_id.in_(run_ids)))
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
        delete_frame(self, dataset_id)
        # A pretrained encoder's cached sentence vectors (slm_core.models.minilm.cache).
        shutil.rmtree(self.home / "datasets" / f"{dataset_id}.embeddings", ignore_errors=True)
        # Background work's files named after the dataset: fine-tuning time estimates
        # (slm_core.models.minilm.estimate_job), its counted text lengths
        # (slm_core.value.inputs.LENGTHS_FILE), value-check claims and kept logs
        # (slm_core.value.checks_job).
        for pattern in (
            f"estimates/{dataset_id}.*",
            f"datasets/{dataset_id}.lengths.json",
            f"value_checks/{dataset_id}.*",
            f"logs/value-checks-{dataset_id}*.log",
        ):
            for path in self.home.glob(pattern):
                path.unlink(missing_ok=True)
