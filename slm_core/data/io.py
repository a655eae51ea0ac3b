"""Read an uploaded file (bytes + filename) into a table of strings, and say what was detected.

One function serves the uploader, the CLI and the tests. Every cell is read as a string so that
labels such as "01" or "1" stay categories; every user mistake raises ``DataError`` with one
sentence that says how to fix the file.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import PurePath
from typing import NamedTuple

import pandas as pd

from slm_core import config
from slm_core.data.cells import cell_to_str, check_width, column_names
from slm_core.data.decode import decode
from slm_core.data.delimited import HEADER_ROWS, detect_header, read_delimited
from slm_core.data.types import SUPPORTED_EXTENSIONS, Detected, ReadOptions, ReadResult
from slm_core.errors import DataError, Phrase, render

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
# More cells than this on one sheet (after dropping empty rows and trailing empty cells) is
# not a table of labelled texts; the frame of strings would not fit in memory.
_MAX_SHEET_CELLS = 20_000_000


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
    check_upload_size(len(data))
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
        text, encoding, notes = decode(data, options.encoding)
        text = text.removeprefix("\ufeff")
        if not text.strip():
            raise DataError("errors.io.only_whitespace", filename=filename)
        if fmt == "json":
            result = _read_json(text, encoding)
        elif fmt == "jsonl":
            result = _read_jsonl(text, encoding)
        else:
            result = read_delimited(text, encoding, fmt, options)
        if notes:  # what decoding repaired (a wrong byte-order mark, stray NUL bytes)
            detected = replace(result.detected, notes=(*notes, *result.detected.notes))
            result = ReadResult(frame=result.frame, detected=detected)
    if len(result.frame.columns) == 0:
        raise DataError("errors.io.no_columns", filename=filename)
    if len(result.frame) == 0:
        names = [str(c) for c in result.frame.columns]
        cols = ", ".join(names[:10]) + (f", … (+{len(names) - 10:,})" if len(names) > 10 else "")
        raise DataError("errors.io.no_data_rows", filename=filename, cols=cols)
    return result


def check_upload_size(size: int) -> None:
    """Raise ``DataError`` when a file of ``size`` bytes is over the upload limit.

    The CLI calls it with the file's size on disk before reading it, so a file of many
    gigabytes is refused without being loaded into memory.
    """
    limit = config.MAX_UPLOAD_MB
    if size > limit * _MB:
        raise DataError("errors.upload.too_large", size=_format_mb(size, limit), limit=limit)


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
    from xml.etree.ElementTree import ParseError

    workbook = _open_workbook(data, data_only=True)
    try:
        sheets = tuple(workbook.sheetnames)
        if not sheets:
            raise DataError("errors.io.no_sheets")
        if options.sheet is not None and options.sheet not in sheets:
            raise DataError(
                "errors.io.unknown_sheet", sheet=options.sheet, choices=", ".join(sheets)
            )
        # Without a choice, the first sheet that holds data (a cover sheet is often empty).
        for sheet in (options.sheet,) if options.sheet is not None else sheets:
            try:
                cells = _sheet_cells(workbook[sheet], sheet)
            except (KeyError, OSError, ValueError, ParseError) as exc:
                raise DataError("errors.io.unreadable_xlsx", reason=_xlsx_reason(exc)) from None
            if cells.rows:
                break
    finally:
        workbook.close()
    rows = cells.rows
    if not rows and not cells.valueless:
        raise DataError("errors.io.empty_sheet", sheet=options.sheet or sheets[0])
    notes = []
    if len(sheets) > 1 and options.sheet is None:
        key = "several_sheets" if sheet == sheets[0] else "first_sheet_with_data"
        notes.append(
            render(f"errors.note.{key}", count=len(sheets), sheets=", ".join(sheets), sheet=sheet)
        )
    if cells.valueless:
        # Cells without a value may be formulas never calculated: read their text instead.
        formulas = {
            at: text for at, text in _formula_texts(data, sheet).items() if at not in cells.blank
        }
        for (r, c), formula in formulas.items():
            rows.setdefault(r, {})[c] = formula
        if formulas:
            notes.append(render("errors.note.formula_text", count=f"{len(formulas):,}"))
    if not rows:
        raise DataError("errors.io.empty_sheet", sheet=sheet)
    width = max(max(row) for row in rows.values()) + 1
    table = [[rows[r].get(c) for c in range(width)] for r in sorted(rows)]
    frame, header = _frame_from_rows(table, options.header, "xlsx")
    detected = Detected(
        format="xlsx", header=header, sheets=sheets, sheet=sheet, notes=tuple(notes)
    )
    return ReadResult(frame=frame, detected=detected)


def _xlsx_reason(exc: Exception) -> Phrase:
    """What is wrong with a workbook, in words (never the name of a Python exception)."""
    import zipfile
    from xml.etree.ElementTree import ParseError

    if isinstance(exc, zipfile.BadZipFile):
        return Phrase("errors.io.xlsx_not_zip")
    if isinstance(exc, KeyError):
        return Phrase("errors.io.xlsx_missing_part")
    if isinstance(exc, ParseError):
        return Phrase("errors.io.xlsx_bad_xml")
    return Phrase("errors.io.xlsx_damaged")


def _open_workbook(data: bytes, data_only: bool):
    import zipfile
    from xml.etree.ElementTree import ParseError

    from openpyxl import load_workbook

    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=data_only)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, ParseError) as exc:
        raise DataError("errors.io.unreadable_xlsx", reason=_xlsx_reason(exc)) from None


class _SheetCells(NamedTuple):
    rows: dict[int, dict[int, object]]  # non-empty cells: {row: {column: value}}, 0-based
    valueless: bool  # some cell has no value at all (a formula never calculated looks so)
    blank: set[tuple[int, int]]  # cells whose value is an empty or blank text


def _sheet_cells(worksheet, sheet: str) -> _SheetCells:
    """The cells of one sheet as saved values.

    The sheet's stated size is ignored (``reset_dimensions``): a workbook that claims, or has,
    one stray cell at XFD1048576 would otherwise be padded to 17 billion cells.
    """
    worksheet.reset_dimensions()
    rows: dict[int, dict[int, object]] = {}
    valueless = False
    blank: set[tuple[int, int]] = set()
    width = 0
    for r, raw in enumerate(worksheet.iter_rows(values_only=True)):
        row = {}
        for c, value in enumerate(raw):
            if value is None:
                valueless = True
            elif cell_to_str(value).strip():
                row[c] = value
            else:
                blank.add((r, c))
        if not row:
            continue
        rows[r] = row
        width = max(width, max(row) + 1)
        check_width(width)
        if width * len(rows) > _MAX_SHEET_CELLS:
            raise DataError(
                "errors.io.sheet_too_large",
                sheet=sheet,
                rows=f"{len(rows):,}",
                columns=f"{width:,}",
            )
    return _SheetCells(rows, valueless, blank)


def _formula_texts(data: bytes, sheet: str) -> dict[tuple[int, int], str]:
    """Formulas without a saved value, by (row, column): their text is the cell's content.

    A workbook written by a program (pandas, openpyxl) stores every text that starts with "="
    as a formula and saves no value for it, so reading saved values alone would lose such
    texts ("=CMD|' /C calc'!A0", "==> great").
    """
    workbook = _open_workbook(data, data_only=False)
    try:
        worksheet = workbook[sheet]
        worksheet.reset_dimensions()
        return {
            (r, c): v
            for r, raw in enumerate(worksheet.iter_rows(values_only=True))
            for c, v in enumerate(raw)
            if isinstance(v, str) and v.startswith("=")
        }
    finally:
        workbook.close()


def _records_frame(records: list[object], where: str) -> pd.DataFrame:
    """A list of JSON objects (or of equal-length arrays) as a string frame."""
    if all(isinstance(r, dict) for r in records):
        keyed = [{str(k): v for k, v in r.items()} for r in records]
        names = list(dict.fromkeys(k for r in keyed for k in r))
        check_width(len(names))
        body = [[cell_to_str(r.get(k)) for k in names] for r in keyed]
        return pd.DataFrame(body, columns=names, dtype=str)
    if all(isinstance(r, list) for r in records):
        widths = {len(r) for r in records}
        if len(widths) == 1:
            width = widths.pop()
            check_width(width)
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
    except RecursionError:  # [[[[...]]]] thousands deep: the parser runs out of stack
        raise DataError("errors.io.json_too_deep") from None
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


def jsonl_records(lines: Iterable[str]) -> Iterator[object]:
    """The JSON value of each non-blank line; DataError naming the first line that is not one
    (the whole-file reader and the streamed reader both read JSON lines through this)."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                "errors.io.jsonl_bad_line",
                number=f"{number:,}",
                msg=exc.msg,
                colno=exc.colno,
            ) from None
        except RecursionError:
            raise DataError("errors.io.jsonl_too_deep", number=f"{number:,}") from None


def _read_jsonl(text: str, encoding: str) -> ReadResult:
    # Split on "\n" only: str.splitlines() would also split on U+2028 inside a JSON string.
    records = list(jsonl_records(text.split("\n")))
    frame = _records_frame(records, "lines")
    return ReadResult(frame=frame, detected=Detected(format="jsonl", encoding=encoding))


def _read_parquet(data: bytes) -> ReadResult:
    import pyarrow as pa
    import pyarrow.parquet as pq

    errors = (pa.ArrowException, OSError, ValueError, TypeError, OverflowError)
    try:
        # ParquetFile, not read_table: the dataset reader refuses repeated column names.
        parquet = pq.ParquetFile(io.BytesIO(data))
        width = len(parquet.schema_arrow.names)
    except errors:
        raise DataError("errors.io.unreadable_parquet") from None
    check_width(width)
    try:
        table = parquet.read()
        # Python values column by column, not pandas: no dtype to overflow (a date in year
        # 9999 as nanoseconds), and repeated column names stay apart.
        values = [table.column(i).to_pylist() for i in range(table.num_columns)]
    except errors:
        raise DataError("errors.io.unreadable_parquet") from None
    names = column_names([str(c) for c in table.column_names])
    frame = pd.DataFrame(
        {name: pd.Series([cell_to_str(v) for v in column], dtype=str)
         for name, column in zip(names, values, strict=True)},
        columns=names,
    )  # fmt: skip
    return ReadResult(frame=frame, detected=Detected(format="parquet"))
