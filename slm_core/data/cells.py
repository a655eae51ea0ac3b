"""Cells and column names as strings, the same for every file format."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, time

import pandas as pd

from slm_core.errors import DataError


def column_names(raw: Sequence[object]) -> list[str]:
    """Header cells as unique, non-empty column names (empty -> col_i, repeats -> name.1)."""
    names: list[str] = []
    seen: Counter[str] = Counter()
    for i, cell in enumerate(raw):
        name = cell_to_str(cell).strip() or f"col_{i}"
        if name in seen:
            base = name
            while name in seen:
                name = f"{base}.{seen[base]}"
                seen[base] += 1
        seen[name] += 1
        names.append(name)
    return names


def cell_to_str(value: object) -> str:
    """One cell as text: missing -> "", integral floats without ".0" (Excel stores 1 as 1.0)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    if hasattr(value, "tolist"):  # numpy scalars and arrays (Parquet list columns)
        return cell_to_str(value.tolist())
    return str(value)


# A table wider than this is not a file of labelled texts (which needs two columns, and a few
# more at most); reading it would take minutes and the column choice would be unusable.
MAX_COLUMNS = 1_000


def check_width(columns: int) -> None:
    """Raise ``DataError`` for a table with more than ``MAX_COLUMNS`` columns."""
    if columns > MAX_COLUMNS:
        raise DataError(
            "errors.io.too_many_columns", columns=f"{columns:,}", limit=f"{MAX_COLUMNS:,}"
        )
