"""User feedback on predictions: per-model summaries, export, and the next dataset version.

Corrected examples never change a stored dataset: they go into a new version whose
``parent_id`` is the dataset they were given on, with source 'feedback'.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from slm_core.errors import DataError
from slm_core.text import normalize_text

CORRECTION_COLUMNS = ("text", "label", "predicted_label", "run_id", "created_at")


@dataclass(frozen=True)
class FeedbackStats:
    """How many answers of one model users rated, and how many they rated right."""

    run_id: int
    rated: int
    right: int

    @property
    def share_right(self) -> float | None:
        return self.right / self.rated if self.rated else None

    def to_dict(self) -> dict:
        return {**asdict(self), "share_right": self.share_right}


def feedback_stats(store, dataset_id: str) -> dict[int, FeedbackStats]:
    """Per run of ``dataset_id`` that has feedback: answers rated and rated right."""
    return {
        int(run_id): FeedbackStats(int(run_id), v["rated"], v["right"])
        for run_id, v in store.feedback_summary(dataset_id).items()
    }


def corrections_frame(store, dataset_id: str) -> pd.DataFrame:
    """Corrected examples given on ``dataset_id``: the latest correction per text wins.

    Columns: text (normalised), label (the corrected label), predicted_label, run_id,
    created_at (ISO 8601, UTC).
    """
    rows = [
        {
            "text": normalize_text(f.text),
            "label": normalize_text(f.corrected_label),
            "predicted_label": f.predicted_label or "",
            "run_id": f.run_id,
            "created_at": f.created_at.isoformat(),
        }
        for f in store.list_feedback(dataset_id=dataset_id, corrected_only=True)
    ]
    frame = pd.DataFrame(rows, columns=list(CORRECTION_COLUMNS))
    frame = frame[(frame["text"] != "") & (frame["label"] != "")]
    # list_feedback is oldest first: keeping the last row per text keeps the latest correction.
    frame = frame.drop_duplicates("text", keep="last").reset_index(drop=True)
    return frame.astype({"run_id": "Int64"})


def corrections_csv(store, dataset_id: str) -> bytes:
    """The corrected examples as CSV (UTF-8 with BOM, so Excel shows Chinese correctly)."""
    from slm_core.report.export import safe_cell

    # Texts typed in the Playground are untrusted: neutralise spreadsheet formulas.
    frame = corrections_frame(store, dataset_id).map(safe_cell)
    return frame.to_csv(index=False).encode("utf-8-sig")


@dataclass(frozen=True)
class NewVersion:
    """The dataset version made from feedback, and what changed relative to its parent."""

    dataset: object  # DatasetRecord
    parent_id: str
    added: int  # corrected texts that were not in the dataset
    relabelled: int  # rows of the parent whose label the corrections changed

    def to_dict(self) -> dict:
        return {
            "dataset_id": self.dataset.id,
            "parent_id": self.parent_id,
            "added": self.added,
            "relabelled": self.relabelled,
        }


def _text_key(texts: pd.Series) -> pd.Series:
    # As the splitter compares texts for duplicates: normalised and case folded.
    return texts.astype(str).map(normalize_text).str.casefold()


def merged_frame(parent: pd.DataFrame, corrections: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    """Parent rows with corrected labels applied, plus the corrected texts it lacked.

    Returns the new frame, how many texts were added and how many rows relabelled. New rows go
    to the training split when the parent has a split column, and get no group.
    """
    frame = parent.copy()
    key = _text_key(frame["text"])
    correction_keys = _text_key(corrections["text"])
    fixes = dict(zip(correction_keys, corrections["label"], strict=True))
    new_labels = key.map(fixes)
    changed = new_labels.notna() & (new_labels != frame["label"])
    frame.loc[changed, "label"] = new_labels[changed]
    extra = corrections[~correction_keys.isin(set(key))]
    new_rows = pd.DataFrame({"text": extra["text"], "label": extra["label"]})
    if "group" in frame.columns:
        new_rows["group"] = ""
    if "split" in frame.columns:
        new_rows["split"] = "train"
    merged = pd.concat([frame, new_rows[frame.columns]], ignore_index=True).astype(str)
    return merged, len(new_rows), int(changed.sum())


def add_corrections_as_version(store, dataset_id: str, name: str | None = None) -> NewVersion:
    """Store a new dataset version = ``dataset_id`` + its corrected examples (parent unchanged).

    Raises ``DataError`` when there are no corrections, when they are already in the dataset,
    or when the new version would not be trainable.
    """
    from slm_core.data.types import ColumnMapping, Detected, ReadResult, SplitConfig
    from slm_core.dataset import prepare_dataset, register_dataset

    parent = store.get_dataset(dataset_id)
    corrections = corrections_frame(store, dataset_id)
    if corrections.empty:
        raise DataError("errors.feedback.no_corrections")
    frame, added, relabelled = merged_frame(store.load_frame(dataset_id), corrections)
    if added == 0 and relabelled == 0:
        raise DataError("errors.feedback.corrections_already_in")
    mapping = ColumnMapping(
        text="text",
        label="label",
        group="group" if "group" in frame.columns else None,
        split="split" if "split" in frame.columns else None,
    )
    detected = Detected(format="feedback", notes=(f"corrections added to dataset {parent.id}",))
    config = SplitConfig(**parent.split_config) if parent.split_config else SplitConfig()
    prepared = prepare_dataset(
        ReadResult(frame=frame, detected=detected),
        mapping,
        name=name or f"{parent.name} + feedback",
        filename=parent.filename or "",
        split_config=config,
    )
    record = register_dataset(
        store,
        prepared,
        "feedback",
        parent_id=parent.id,
        not_trainable="errors.feedback.corrected_not_trainable",
    )
    return NewVersion(dataset=record, parent_id=parent.id, added=added, relabelled=relabelled)
