"""Which column holds what: resolve a user's column choice and guess a mapping for a new table."""

from __future__ import annotations

import math

import pandas as pd

from slm_core.data.cells import cell_to_str
from slm_core.data.types import ColumnMapping
from slm_core.errors import DataError

# Names that say "this is the label"; preferred over an unnamed low-cardinality column.
# fmt: off
LABEL_NAMES = (
    "label", "labels", "class", "category", "categories", "sentiment", "target", "tag", "topic",
    "intent", "y", "标签", "类别", "分类", "类型",
)
TEXT_NAMES = (
    "text", "texts", "content", "sentence", "review", "comment", "message", "tweet", "body",
    "document", "文本", "内容",
)
# fmt: on
GROUP_NAMES = ("group", "groups", "group_id", "subgroup", "分组")
SPLIT_NAMES = ("split", "subset")
SPLIT_VALUES = {"train": "train", "val": "val", "validation": "val", "dev": "val", "test": "test"}
# A label column has few distinct values; more than this share of the rows looks like free text.
_MAX_LABEL_SHARE = 0.5
_MAX_LABELS = 200


def _available(frame: pd.DataFrame) -> str:
    return ", ".join(f"{i}: {c}" for i, c in enumerate(frame.columns))


def resolve_column(frame: pd.DataFrame, spec: str | int | None) -> str | None:
    """A column by name or 0-based position (an int, or digits that are not a column name).

    Returns ``None`` for ``None``; raises ``DataError`` listing the columns when nothing matches.
    """
    if spec is None:
        return None
    columns = list(frame.columns)
    if isinstance(spec, str):
        if spec in columns:
            return spec
        folded = [c for c in columns if str(c).strip().casefold() == spec.strip().casefold()]
        if len(folded) == 1:
            return folded[0]
        if spec.strip().isdigit():
            spec = int(spec.strip())
    if isinstance(spec, int) and not isinstance(spec, bool):
        if 0 <= spec < len(columns):
            return columns[spec]
        raise DataError(
            "errors.columns.position_out_of_range",
            spec=spec,
            count=len(columns),
            columns=_available(frame),
        )
    raise DataError("errors.columns.unknown_column", spec=spec, columns=_available(frame))


def _is_number(value: str) -> bool:
    """A number as pandas would parse it ("1,234" counts: thousands separators are dropped)."""
    value = value.replace(",", "")
    if "_" in value:
        return False  # float() takes "1_000"; a spreadsheet would not
    try:
        return not math.isnan(float(value))
    except ValueError:
        return False


def _is_numeric(values: list[str]) -> bool:
    """At least 90% of the non-empty values are numbers."""
    filled = [v for v in (v.strip() for v in values) if v]
    if not filled:
        return False
    return sum(_is_number(v) for v in filled) >= 0.9 * len(filled)


def _named(columns: list[str], names: tuple[str, ...]) -> list[str]:
    wanted = {n.casefold() for n in names}
    return [c for c in columns if str(c).strip().casefold() in wanted]


def _sample_columns(frame: pd.DataFrame, rows: int = 20_000) -> dict[str, list[str]]:
    """The first ``rows`` rows, column by column, as lists of strings.

    Plain lists rather than one pandas operation per column: a table with 10,000 columns
    would otherwise take a minute to guess.
    """
    block = frame.head(rows).to_numpy(dtype=object).T.tolist()
    columns = zip(frame.columns, block, strict=True)
    return {str(c): [cell_to_str(v) for v in values] for c, values in columns}


def guess_mapping(frame: pd.DataFrame) -> ColumnMapping:
    """Guess text (free text, longest), label (few distinct values), group and split.

    The text is the longest non-numeric column among those with many distinct values (more
    than a label column could have), else a column named like a text column, else the
    longest non-numeric column: a column of long class names is not the text. ``group`` and
    ``split`` are only guessed when a column is literally named so; a split column is also
    required to hold only train/val/test values.
    """
    columns = [str(c) for c in frame.columns]
    if len(columns) < 2:
        only = columns[0] if columns else "none"
        raise DataError("errors.columns.only_one_column", only=only)
    sample = _sample_columns(frame)
    rows = len(next(iter(sample.values())))
    split = next(
        (
            c
            for c in _named(columns, SPLIT_NAMES)
            if {v.strip().casefold() for v in sample[c]} <= set(SPLIT_VALUES)
        ),
        None,
    )
    group = next(iter(_named(columns, GROUP_NAMES)), None)
    candidates = [c for c in columns if c not in (split, group)]
    if len(candidates) < 2:
        candidates = columns
    distinct = {c: len({v.strip() for v in sample[c]}) for c in candidates}
    limit = min(_MAX_LABELS, max(2, int(rows * _MAX_LABEL_SHARE)))
    lengths = {c: sum(len(v) for v in sample[c]) / max(rows, 1) for c in candidates}
    textual = [c for c in candidates if not _is_numeric(sample[c])] or candidates
    named_text = _named(textual, TEXT_NAMES)
    free_text = [c for c in textual if distinct[c] > limit]
    if free_text:
        text = max(free_text, key=lambda c: (lengths[c], c in named_text))
    elif named_text:
        text = named_text[0]
    else:
        text = max(textual, key=lambda c: lengths[c])
    rest = [c for c in candidates if c != text]
    label_like = [c for c in rest if 2 <= distinct[c] <= limit]
    named_labels = _named(label_like, LABEL_NAMES)
    if named_labels:
        label = named_labels[0]
    elif label_like:
        label = min(label_like, key=lambda c: (distinct[c], rest.index(c)))
    else:
        # Nothing looks like a label: take the column with fewest values and let validation
        # explain what is wrong (one class, every label unique, ...).
        label = min(rest, key=lambda c: (distinct[c], rest.index(c)))
    return ColumnMapping(
        text=text,
        label=label,
        group=group if group not in (text, label) else None,
        split=split if split not in (text, label) else None,
    )
