"""Read an uploaded file (bytes + filename) into a table of strings, and say what was detected.

One function serves the uploader, the CLI and the tests. Every cell is read as a string so that
labels such as "01" or "1" stay categories; every user mistake raises ``DataError`` with one
sentence that says how to fix the file.
"""

from __future__ import annotations

import io
import json
from pathlib import PurePath

import pandas as pd

from slm_core import config
from slm_core.data.cells import cell_to_str, column_names
from slm_core.data.decode import decode_bytes
from slm_core.data.delimited import HEADER_ROWS, detect_header, read_delimited
from slm_core.data.types import Detected, ReadOptions, ReadResult
from slm_core.errors import DataError, Phrase, render

SUPPORTED_EXTENSIONS: tuple[str, ...] = (
    ".csv",
    ".tsv",
    ".txt",
    ".xlsx",
    ".json",
    ".jsonl",
    ".parquet",
)
_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "txt",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_MB = 1024 * 1024


def read_table(data: bytes, filename: str, options: ReadOptions = ReadOptions()) -> ReadResult:  # noqa: B008
    """Read CSV/TSV/TXT/XLSX/JSON/JSONL/Parquet bytes into a table whose cells are strings.

    Parameters
    ----------
    data
        The whole file.
    filename
        Only its extension is used, to choose the format.
    options
        Overrides for what would otherwise be detected (encoding, delimiter, header, sheet).
    """
    limit = config.MAX_UPLOAD_MB
    if len(data) > limit * _MB:
        raise DataError("errors.upload.too_large", size=_format_mb(len(data), limit), limit=limit)
    suffix = PurePath(filename).suffix.lower()
    fmt = _FORMATS.get(suffix)
    if fmt is None:
        if suffix == ".xls":
            raise DataError("errors.upload.old_excel")
        raise DataError(
            "errors.upload.unsupported_type",
            suffix=suffix or filename,
            choices=", ".join(SUPPORTED_EXTENSIONS),
        )
    if not data or data.isspace():
        raise DataError("errors.io.empty_file", filename=filename)
    if fmt == "xlsx":
        result = _read_xlsx(data, options)
    elif fmt == "parquet":
        result = _read_parquet(data)
    else:
        text, encoding = decode_bytes(data, options.encoding)
        text = text.removeprefix("\ufeff")
        if not text.strip():
            raise DataError("errors.io.only_whitespace", filename=filename)
        if fmt == "json":
            result = _read_json(text, encoding)
        elif fmt == "jsonl":
            result = _read_jsonl(text, encoding)
        else:
            result = read_delimited(text, encoding, fmt, options)
    if len(result.frame.columns) == 0:
        raise DataError("errors.io.no_columns", filename=filename)
    if len(result.frame) == 0:
        cols = ", ".join(str(c) for c in result.frame.columns)
        raise DataError("errors.io.no_data_rows", filename=filename, cols=cols)
    return result


def _format_mb(size: int, limit: int) -> str:
    """Size in MB with just enough decimals to read as over the limit ("200.3", not "200")."""
    mb = size / _MB
    for digits in range(4):
        shown = f"{mb:,.{digits}f}"
        if float(shown.replace(",", "")) > limit:
            return shown
    return shown


def _frame_from_rows(
    rows: list[list[object]], header: bool | None, fmt: str
) -> tuple[pd.DataFrame, bool]:
    """Rows of cells (already rectangular) to a string frame, detecting the header if needed."""
    text_rows = [[cell_to_str(c) for c in row] for row in rows]
    if header is None:
        header = detect_header(text_rows[:HEADER_ROWS], fmt) if text_rows else True
    if header:
        columns = column_names(text_rows[0])
        body = text_rows[1:]
    else:
        columns = [f"col_{i}" for i in range(len(text_rows[0]))]
        body = text_rows
    return pd.DataFrame(body, columns=columns, dtype=str), header


def _read_xlsx(data: bytes, options: ReadOptions) -> ReadResult:
    import zipfile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise DataError("errors.io.unreadable_xlsx", reason=type(exc).__name__) from None
    try:
        sheets = tuple(workbook.sheetnames)
        if not sheets:
            raise DataError("errors.io.no_sheets")
        sheet = options.sheet if options.sheet is not None else sheets[0]
        if sheet not in sheets:
            raise DataError("errors.io.unknown_sheet", sheet=sheet, choices=", ".join(sheets))
        rows = [list(r) for r in workbook[sheet].iter_rows(values_only=True)]
    finally:
        workbook.close()
    notes = []
    if len(sheets) > 1 and options.sheet is None:
        notes.append(
            render(
                "errors.note.several_sheets",
                count=len(sheets),
                sheets=", ".join(sheets),
                sheet=sheet,
            )
        )
    rows = [r for r in rows if any(cell_to_str(c).strip() for c in r)]
    if not rows:
        raise DataError("errors.io.empty_sheet", sheet=sheet)
    width = max(
        max((i + 1 for i, c in enumerate(r) if cell_to_str(c).strip()), default=0) for r in rows
    )
    rows = [(r + [None] * width)[:width] for r in rows]
    frame, header = _frame_from_rows(rows, options.header, "xlsx")
    detected = Detected(
        format="xlsx", header=header, sheets=sheets, sheet=sheet, notes=tuple(notes)
    )
    return ReadResult(frame=frame, detected=detected)


def _records_frame(records: list[object], where: str) -> pd.DataFrame:
    """A list of JSON objects (or of equal-length arrays) as a string frame."""
    if all(isinstance(r, dict) for r in records):
        keyed = [{str(k): v for k, v in r.items()} for r in records]
        names = list(dict.fromkeys(k for r in keyed for k in r))
        body = [[cell_to_str(r.get(k)) for k in names] for r in keyed]
        return pd.DataFrame(body, columns=names, dtype=str)
    if all(isinstance(r, list) for r in records):
        widths = {len(r) for r in records}
        if len(widths) == 1:
            width = widths.pop()
            body = [[cell_to_str(c) for c in r] for r in records]
            return pd.DataFrame(body, columns=[f"col_{i}" for i in range(width)], dtype=str)
    raise DataError("errors.io.json_not_records", where=Phrase(f"errors.io.json_{where}"))


def _read_json(text: str, encoding: str) -> ReadResult:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            "errors.io.json_malformed", lineno=exc.lineno, colno=exc.colno, msg=exc.msg
        ) from None
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        if "data" in value and isinstance(value["data"], list):
            value = value["data"]
        elif len(lists) == 1:
            value = lists[0]
        else:
            raise DataError("errors.io.json_object_without_array")
    if not isinstance(value, list):
        raise DataError("errors.io.json_not_an_array")
    if not value:
        raise DataError("errors.io.json_empty_array")
    frame = _records_frame(value, "array")
    return ReadResult(frame=frame, detected=Detected(format="json", encoding=encoding))


def _read_jsonl(text: str, encoding: str) -> ReadResult:
    records: list[object] = []
    # Split on "\n" only: str.splitlines() would also split on U+2028 inside a JSON string.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DataError(
                "errors.io.jsonl_bad_line",
                number=f"{number:,}",
                msg=exc.msg,
                colno=exc.colno,
            ) from None
    frame = _records_frame(records, "lines")
    return ReadResult(frame=frame, detected=Detected(format="jsonl", encoding=encoding))


def _read_parquet(data: bytes) -> ReadResult:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError):
        raise DataError("errors.io.unreadable_parquet") from None
    raw = table.to_pandas()
    names = column_names([str(c) for c in raw.columns])
    frame = pd.DataFrame(
        {name: _column_to_str(raw[c]) for name, c in zip(names, raw.columns, strict=True)},
        columns=names,
    )
    return ReadResult(frame=frame, detected=Detected(format="parquet"))


def _column_to_str(series: pd.Series) -> pd.Series:
    return pd.Series([cell_to_str(v) for v in series.tolist()], dtype=str)
