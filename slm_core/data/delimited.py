"""Parse delimited text (CSV, TSV, TXT): delimiter, header and ragged-row detection."""

from __future__ import annotations

import csv
import io
import re
import statistics
import sys
from collections import Counter
from collections.abc import Sequence

import pandas as pd

from slm_core.data.cells import check_width, column_names
from slm_core.data.types import Detected, ReadOptions, ReadResult
from slm_core.errors import DataError, Phrase, Phrases, render

DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_SNIFF_CHARS = 64 * 1024
HEADER_ROWS = 200
# fmt: off
_HEADER_NAMES = {
    "text", "texts", "content", "sentence", "review", "comment", "message", "tweet", "body",
    "document", "title", "label", "labels", "class", "category", "sentiment", "target", "tag",
    "topic", "intent", "y", "group", "split", "id", "文本", "内容", "标签", "类别", "分类",
}
# fmt: on
# Excel's hint on the first line of a CSV: "sep=;" (sometimes quoted) names the delimiter.
_SEP_LINE_RE = re.compile(r'"?sep=(.)"?[ \t]*', re.IGNORECASE)


def read_delimited(text: str, encoding: str, fmt: str, options: ReadOptions) -> ReadResult:
    """Read decoded CSV/TSV/TXT text into a table, detecting delimiter, header and ragged rows."""
    notes: list[str] = []
    if encoding.startswith("utf-8 ("):
        notes.append(render("errors.note.mixed_encodings"))
    first, newline, rest = text.partition("\n")
    sep_line = _SEP_LINE_RE.fullmatch(first.rstrip("\r")) if newline else None
    if sep_line is not None:
        text = newline + rest  # a blank first line: skipped, and line numbers stay the file's
    sample = text[:_SNIFF_CHARS]
    truncated = len(text) > _SNIFF_CHARS
    delimiter = (
        options.delimiter
        or (sep_line.group(1) if sep_line else None)
        or _detect_delimiter(sample, truncated, fmt)
    )
    if delimiter is not None and len(delimiter) != 1:
        raise DataError("errors.delimited.delimiter_not_one_char", delimiter=delimiter)
    # TXT is a line format (text<TAB>label): a quote character there is part of the text.
    quoting = csv.QUOTE_NONE if fmt == "txt" and delimiter == "\t" else csv.QUOTE_MINIMAL
    records = _parse_records(text, delimiter, quoting)
    if not records:
        raise DataError("errors.delimited.only_blank_lines")
    check_width(len(records[0][1]))
    if delimiter is not None and quoting != csv.QUOTE_NONE:
        _check_unclosed_quote(text, records[-1], delimiter)
    header = options.header
    if header is None:
        header = detect_header([r for _, r in records[:HEADER_ROWS]], fmt)
    width = len(records[0][1])
    if fmt == "txt" and delimiter == "\t" and width == 2:
        records, joined = _join_extra_tabs(records)
        if joined:
            notes.append(render("errors.note.extra_tabs", count=f"{joined:,}"))
    width = _fit_widths(records, header, delimiter)
    rows = [r for _, r in records]
    if header:
        columns = column_names(rows[0])
        rows = rows[1:]
    else:
        columns = [f"col_{i}" for i in range(width)]
    frame = (
        pd.DataFrame(rows, columns=columns, dtype=str)
        if rows
        else pd.DataFrame(columns=columns, dtype=str)
    )
    detected = Detected(
        format=fmt,
        encoding=encoding,
        delimiter=delimiter,
        header=bool(header),
        notes=tuple(notes),
    )
    return ReadResult(frame=frame, detected=detected)


def _parse_records(text: str, delimiter: str | None, quoting: int) -> list[tuple[int, list[str]]]:
    """Parse into (first line number, fields) records, skipping blank lines."""
    _raise_csv_field_limit()
    if delimiter is None:
        # No delimiter found: one column, one record per line.
        return [
            (i + 1, [line])
            for i, line in enumerate(text.replace("\r\n", "\n").split("\n"))
            if line.strip()
        ]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    records: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for row in reader:
            if row and any(field.strip() for field in row):
                records.append((line, row))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise DataError("errors.delimited.parse_failed", line=f"{line:,}", exc=exc) from None
    return records


def _check_unclosed_quote(text: str, last: tuple[int, list[str]], delimiter: str) -> None:
    """Raise when the last record is a quote that never closes.

    The csv module reads an unclosed quote to the end of the file as one field, which can
    silently swallow every row after it (when the quote is in the last column the widths still
    fit). Read strictly from that record's first line, such a quote ends in "unexpected end of
    data"; a stray quote inside a field (5" tall) does not.
    """
    line, fields = last
    if not any("\n" in f or "\r" in f for f in fields):
        return
    lines = io.StringIO(text, newline="").readlines()  # split as the csv reader splits
    tail = io.StringIO("".join(lines[line - 1 :]), newline="")
    try:
        for _ in csv.reader(tail, delimiter=delimiter, strict=True):
            pass
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise DataError("errors.delimited.unclosed_quote", line=f"{line:,}") from None


def _raise_csv_field_limit() -> None:
    # The csv module refuses fields over 128 KiB by default; a long article is legitimate.
    if csv.field_size_limit() < 2**30:
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def _detect_delimiter(sample: str, truncated: bool, fmt: str) -> str | None:
    """Pick the candidate delimiter that splits the sample into the most consistent rows."""
    if fmt == "tsv":
        return "\t"
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None
    order = ("\t", ",", ";", "|") if fmt == "txt" else DELIMITERS
    best, best_score = None, 0.0
    for delim in order:
        score = _consistency(sample, delim, truncated)
        if delim == sniffed:
            score += 0.01  # Sniffer breaks near-ties, e.g. rows with one ',' and one ';' each
        if score > best_score + 1e-9:
            best, best_score = delim, score
    return best


def _consistency(sample: str, delim: str, truncated: bool) -> float:
    """Share of sample rows with the most common field count (0 when that count is 1)."""
    if delim not in sample:
        return 0.0
    try:
        rows = [r for r in csv.reader(io.StringIO(sample, newline=""), delimiter=delim) if r]
    except csv.Error:
        return 0.0
    if truncated and len(rows) > 1:
        rows = rows[:-1]  # the sample may end inside a row
    if not rows:
        return 0.0
    widths = Counter(len(r) for r in rows)
    width, count = widths.most_common(1)[0]
    if width < 2:
        return 0.0
    return count / len(rows)


def _is_number(value: str) -> bool:
    try:
        float(value.replace(",", ""))
    except ValueError:
        return False
    return bool(value.strip())


def detect_header(rows: Sequence[Sequence[str]], fmt: str) -> bool:
    """Guess whether the first row names the columns, by comparing it with the rows below it."""
    first = [c.strip() for c in rows[0]]
    while len(first) > 1 and not first[-1]:
        first.pop()  # "text,label," – a trailing delimiter, not a column
    rest = [r for r in rows[1:] if len(r) >= len(first)]
    if not rest:
        # A lone row: a header when it looks like names rather than an example.
        return all(c and len(c) <= 40 and not _is_number(c) for c in first)
    score = 0.0
    for j, name in enumerate(first):
        values = [r[j].strip() for r in rest]
        lowered = name.casefold()
        if lowered in _HEADER_NAMES:
            score += 2
        if not name:
            score -= 0.5
            continue
        if name in set(values):
            score -= 2  # a column name does not usually repeat as a value
        numeric = sum(_is_number(v) for v in values if v)
        filled = sum(1 for v in values if v) or 1
        if numeric / filled >= 0.9:
            score += -1 if _is_number(name) else 2
        elif _is_number(name):
            score -= 1
        if len(name.split()) > 4 or len(name) > 60:
            score -= 2  # a sentence: an example, not a name
        lengths = [len(v) for v in values if v]
        if lengths and statistics.median(lengths) >= 3 * max(len(name), 1) and len(name) <= 30:
            score += 1  # a short name above a column of long texts
        distinct = len(set(values))
        if distinct <= max(1, len(values) // 2) and name not in set(values):
            score += 1  # a label-like column whose first cell is not one of its labels
    if score == 0:
        return fmt != "txt"
    return score > 0


Records = list[tuple[int, list[str]]]


def _join_extra_tabs(records: Records) -> tuple[Records, int]:
    """TXT lines are text<TAB>label, so a tab inside the text belongs to the text."""
    joined = 0
    out = []
    for line, row in records:
        if len(row) > 2:
            row = ["\t".join(row[:-1]), row[-1]]
            joined += 1
        out.append((line, row))
    return out, joined


def _fit_widths(records: Records, header: bool, delimiter: str | None) -> int:
    """Make every row as wide as the first; only trailing empty fields may be dropped.

    Some exporters end each line, or just the header, with a delimiter ("a,b,"); those empty
    trailing fields are forgiven. Any other difference raises ``DataError`` naming the lines.
    """
    first = records[0][1]
    trimmed = len(first)
    while trimmed and first[trimmed - 1] == "":
        trimmed -= 1

    def misfits(width: int) -> list[tuple[int, int]]:
        return [
            (line, len(row))
            for line, row in records
            if len(row) < width or any(cell != "" for cell in row[width:])
        ]

    width, bad = len(first), misfits(len(first))
    if bad and 0 < trimmed < width:
        narrower = misfits(trimmed)
        if len(narrower) < len(bad):
            width, bad = trimmed, narrower
    if bad:
        # Phrases, not English fragments, so the sentence reads whole in either language.
        shown = Phrases(
            [Phrase("errors.delimited.line_has", line=f"{ln:,}", n=n) for ln, n in bad[:5]]
        )
        more = (
            Phrase("errors.delimited.more_rows", count=f"{len(bad) - 5:,}") if len(bad) > 5 else ""
        )
        ref = Phrase("errors.delimited.header_has" if header else "errors.delimited.first_row_has")
        name = _DELIMITER_NAMES.get(delimiter or "", repr(delimiter))
        name = (
            Phrase(f"errors.delimited.delimiter_{name}") if delimiter in _DELIMITER_NAMES else name
        )
        raise DataError(
            "errors.delimited.ragged_rows",
            ref=ref,
            width=width,
            shown=shown,
            more=more,
            name=name,
        )
    for _, row in records:
        del row[width:]
    return width
