"""From a read table and a column mapping to a validated, hashed dataset in the run store."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from slm_core.data.types import ColumnMapping, DataReport, ReadResult, SplitConfig
from slm_core.errors import DataError

if TYPE_CHECKING:  # pandas and validation are imported where a table is prepared: the app's
    import pandas as pd  # start (demo_dataset of a stored demo) needs neither


@dataclass(frozen=True)
class PreparedDataset:
    """A validated table in canonical columns, ready to be stored and trained on."""

    name: str
    filename: str
    frame: pd.DataFrame  # text, label[, group][, split]
    report: DataReport
    content_hash: str
    split_config: SplitConfig

    @property
    def dataset_id(self) -> str:
        return self.content_hash[:12]


def prepare_dataset(
    read: ReadResult,
    mapping: ColumnMapping,
    name: str,
    filename: str = "",
    split_config: SplitConfig | None = None,
) -> PreparedDataset:
    """Validate ``read.frame`` under ``mapping`` and put it in canonical columns."""
    from slm_core.data.split import content_hash
    from slm_core.data.validate import canonical_frame, validate_canonical

    report, frame = validate_canonical(read.frame, mapping, read.detected)
    if frame is None:  # the mapping does not fit: the same error validation reported
        frame = canonical_frame(read.frame, mapping)
    return PreparedDataset(
        name=name,
        filename=filename,
        frame=frame,
        report=report,
        content_hash=content_hash(frame),
        split_config=split_config or SplitConfig(),
    )


def register_dataset(
    store,
    prepared: PreparedDataset,
    source: str,
    *,
    parent_id: str | None = None,
    not_trainable: str = "errors.dataset.not_trainable",
):  # -> DatasetRecord
    """Store a trainable dataset (idempotent by content); DataError (``not_trainable``, with the
    first finding) if it cannot be trained."""
    if not prepared.report.trainable:
        raise DataError(not_trainable, first=prepared.report.errors[0].message)
    return store.add_dataset(
        name=prepared.name,
        source=source,
        filename=prepared.filename,
        content_hash=prepared.content_hash,
        frame=prepared.frame,
        report=prepared.report.to_dict(),
        mapping=prepared.report.mapping.to_dict(),
        split_config=asdict(prepared.split_config),
        parent_id=parent_id,
    )


def load_demo_dataset(demo_id: str, split_config: SplitConfig | None = None) -> PreparedDataset:
    """Prepare one of the bundled demo datasets."""
    from slm_core.data.demo import DEMOS, load_demo

    read, mapping = load_demo(demo_id)
    spec = DEMOS[demo_id]
    return prepare_dataset(read, mapping, spec.name, spec.relative_path, split_config)


def demo_dataset(store, demo_id: str):  # -> DatasetRecord
    """The bundled demo ``demo_id`` as a stored dataset: the one stored earlier, else stored now.

    Reading and validating a demo takes seconds (BBC News: 2,225 articles, every text
    normalised and keyed), too long to repeat at every server start, so a dataset stored from
    the demo earlier (source ``demo``, the demo's name, file path and column mapping, no
    parent) is taken as it is, without reading the demo's files again.
    """
    from slm_core.data.demo import DEMOS

    spec = DEMOS.get(demo_id)
    if spec is not None:
        for record in store.list_datasets():
            if (
                record.source == "demo"
                and record.parent_id is None
                and record.name == spec.name
                and record.filename == spec.relative_path
                and record.mapping == spec.mapping.to_dict()
            ):
                return record
    return register_dataset(store, load_demo_dataset(demo_id), source="demo")


def usable_rows(report: dict) -> int:
    """Rows left for splitting once empty, duplicate and conflicting rows are removed (an estimate
    from the stored data report: it counts each conflicting text once)."""
    removed = sum(
        int(report.get(key) or 0) for key in ("empty_texts", "duplicate_rows", "conflicting_texts")
    )
    return max(int(report.get("rows") or 0) - removed, 0)


def expected_train_rows(report: dict, split_config: dict | None = None) -> int:
    """About how many texts the training split will hold: what size-dependent presets key on."""
    share = float((split_config or {}).get("train", SplitConfig().train))
    return round(usable_rows(report) * share)
