"""Typed values passed between reading, validation, splitting, the UI and the CLI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # pandas is imported where frames are made: Home never needs it
    import pandas as pd

Severity = Literal["error", "warning"]

# What the reader reads (slm_core.data.io); here, without pandas, for the upload widget.
SUPPORTED_EXTENSIONS: tuple[str, ...] = (
    ".csv",
    ".tsv",
    ".txt",
    ".xlsx",
    ".json",
    ".jsonl",
    ".parquet",
)


@dataclass(frozen=True)
class ReadOptions:
    """User overrides for what the reader would otherwise detect (``None`` = detect)."""

    encoding: str | None = None
    delimiter: str | None = None
    header: bool | None = None
    sheet: str | None = None


@dataclass(frozen=True)
class Detected:
    """What the reader found, shown to the user so they can override it."""

    format: str  # csv, tsv, txt, xlsx, json, jsonl, parquet, folder
    encoding: str | None = None
    delimiter: str | None = None
    header: bool = True
    sheets: tuple[str, ...] = ()
    sheet: str | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ReadResult:
    frame: pd.DataFrame
    detected: Detected


@dataclass(frozen=True)
class ColumnMapping:
    """Which columns hold the text, the label, and optionally a group and a user split."""

    text: str
    label: str
    group: str | None = None
    split: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Problem:
    """One finding of validation. ``message`` says what is wrong and how to fix the file."""

    code: str
    severity: Severity
    message: str  # English, for the CLI and logs
    key: str = ""  # catalogue sentence of ``message``, so the interface can translate it
    values: tuple[tuple[str, str], ...] = ()  # its placeholder values (a tuple keeps it hashable)

    def localized(self, lang: str) -> str:
        """The message in the interface language (the English one when it has no key)."""
        if not self.key:
            return self.message
        from slm_core.errors import render  # errors imports i18n; keep types import-light

        return render(self.key, lang, **dict(self.values))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DataReport:
    """Everything validation found about a mapped table."""

    rows: int
    mapping: ColumnMapping
    detected: Detected
    classes: dict[str, int]
    imbalance_ratio: float  # largest class / smallest class
    empty_texts: int
    duplicate_rows: int  # rows whose normalised text repeats an earlier row's
    conflicting_texts: int  # distinct normalised texts seen with more than one label
    short_texts: int
    long_texts: int
    cjk_share: float
    script: str  # latin | mixed | cjk
    token_unit: str  # word | char
    mean_length: float  # characters
    tiny_classes: tuple[str, ...]  # too small for a stratified train/val/test split
    errors: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()
    groups: dict[str, int] = field(default_factory=dict)

    @property
    def trainable(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict:
        d = asdict(self)
        d["trainable"] = self.trainable
        return d


@dataclass(frozen=True)
class SplitConfig:
    train: float = 0.70
    val: float = 0.15
    test: float = 0.15
    seed: int = 42
    dedupe: bool = True
    drop_conflicts: bool = True


@dataclass(frozen=True)
class Splits:
    """Train/validation/test frames with canonical columns ``text``, ``label`` (+ ``group``)."""

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    labels: tuple[str, ...]
    config: SplitConfig
    removed_duplicates: int = 0
    removed_conflicts: int = 0
    removed_empty: int = 0
    notes: tuple[str, ...] = ()

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}
