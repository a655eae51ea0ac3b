"""Large delimited and JSON-lines files read a chunk of rows at a time, with the whole-file
reader's rules (see :mod:`slm_core.data.stream`): the encoding found in the first MiB, Python's
``csv`` module with the detected delimiter and header, the column mapping applied per row."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import replace
from itertools import chain, islice
from pathlib import Path

import pandas as pd

from slm_core.data.cells import cell_to_str, check_width, column_names
from slm_core.data.decode import _CODEC_UPGRADE, decode
from slm_core.data.delimited import (
    _DELIMITER_NAMES,
    _SEP_LINE_RE,
    _SNIFF_CHARS,
    HEADER_ROWS,
    _detect_delimiter,
    _raise_csv_field_limit,
    detect_header,
)
from slm_core.data.io import jsonl_records
from slm_core.data.types import Detected, ReadOptions
from slm_core.errors import DataError, Phrase, Phrases, render

_MB = 1024 * 1024
# Rows of the file's head that the column guess looks at (guess_mapping samples as many).
HEAD_ROWS = 20_000
STREAM_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "txt",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_ENCODING_SAMPLE_BYTES = 1 * _MB
_BOM_CODECS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_SHOWN_LINES = 5


class _Source:
    """Rows of a file as lists of strings, a chunk at a time, after its header."""

    columns: list[str]  # as far as the head shows them (the final width may be narrower)
    detected: Detected

    def head(self, rows: int) -> pd.DataFrame:
        """The first ``rows`` body rows as a frame of strings (for the column guess)."""
        body = list(islice(self._buffered(), rows))
        width = len(self.columns)
        body = [(r + [""] * (width - len(r)))[:width] for r in body]
        return pd.DataFrame(body, columns=self.columns, dtype=str)

    def chunks(self, size: int, wanted: list[int]) -> Iterator[list[list[str]]]:
        """Body rows, ``size`` at a time, as the cells of the ``wanted`` columns."""
        chunk: list[list[str]] = []
        for row in self._rows():
            n = len(row)
            chunk.append([row[i] if i < n else "" for i in wanted])
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def finish(self) -> Detected:
        """After the last chunk: raise what only the whole file shows; the final Detected."""
        return self.detected

    def column_index(self, name: str) -> int | None:
        return self.columns.index(name) if name in self.columns else None

    def final_columns(self) -> list[str]:
        """The table's columns once every row is read (after finish)."""
        return self.columns

    def bytes_read(self) -> int:
        """Bytes of the file read so far (ahead of the rows given by up to a buffer's worth)."""
        stream = getattr(self, "stream", None)
        if stream is None or stream.closed:
            return 0
        return stream.buffer.tell()

    def _buffered(self) -> Iterator[list[str]]:
        raise NotImplementedError

    def _rows(self) -> Iterator[list[str]]:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _open_text(path: Path, options: ReadOptions, newline: str) -> tuple[io.TextIOWrapper, str]:
    """The file as a text stream, and the encoding's name as the in-memory path gives it."""
    with path.open("rb") as fh:
        sample = fh.read(_ENCODING_SAMPLE_BYTES + 1)
    if not sample or sample.isspace():
        raise DataError("errors.io.empty_file", filename=path.name)
    whole = len(sample) <= _ENCODING_SAMPLE_BYTES
    if options.encoding and "(" not in options.encoding and "," not in options.encoding:
        # decode()'s rule for a chosen encoding: strict, GBK read as its superset GB18030.
        name = options.encoding
        try:
            codec = codecs.lookup(name).name
        except LookupError:
            raise DataError("errors.decode.unknown_encoding", encoding=name) from None
        codec = _CODEC_UPGRADE.get(codec, codec)
        if codec == "utf-8":
            codec = "utf-8-sig"  # a byte-order mark is dropped, as the in-memory path does
    else:
        bom = next((c for b, c in _BOM_CODECS if sample.startswith(b)), None)
        if bom is not None:
            codec = name = bom
        else:
            # Refuses binary files with the in-memory path's sentence.
            decoded = decode(sample if whole else _detection_sample(sample))
            name = decoded.encoding
            if decoded.notes:  # repairs (stray NUL bytes, a wrong byte-order mark) of the whole
                raise DataError("errors.stream.needs_repair")
            try:
                codec = codecs.lookup(name).name
            except LookupError:  # "utf-8 (3 lines cp1252)": decoded line by line
                raise DataError("errors.stream.mixed_encoding", encoding=name) from None
    stream = io.TextIOWrapper(path.open("rb"), encoding=codec, errors="strict", newline=newline)
    return stream, name


def _decode_failed(path: Path, codec: str, encoding: str) -> DataError:
    """The error for bytes past the file's start that ``codec`` cannot decode, with their line.

    The text stream decodes blocks of several kilobytes, so the line is found again here: the
    file's lines decoded one after the other until one fails (only ever done once, on error).
    """
    decoder = codecs.getincrementaldecoder(codec)("strict")
    number = 0
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):  # noqa: B007
            try:
                decoder.decode(raw)
            except UnicodeDecodeError:
                break
    return DataError("errors.stream.decode_failed", encoding=encoding, line=f"{number:,}")


def _detection_sample(sample: bytes) -> bytes:
    """The start of a large file, cut where decoding it alone cannot fail for being cut.

    At the last line break when that keeps most of it; else (a file of very long lines, or
    binary) at the last whole UTF-8 character, so what follows the first line is looked at.
    """
    cut = sample[: sample.rfind(b"\n") + 1]
    if len(cut) >= len(sample) // 2:
        return cut
    end = len(sample)
    while end and 0x80 <= sample[end - 1] < 0xC0 and len(sample) - end < 3:
        end -= 1  # continuation bytes of a character that may be cut
    if end and sample[end - 1] >= 0xC0:
        end -= 1  # its first byte
    return sample[:end]


class _Delimited(_Source):
    """CSV/TSV/TXT through the csv module, with the in-memory reader's detection rules."""

    def __init__(self, path: Path, fmt: str, options: ReadOptions) -> None:
        self.path, self.fmt, self.options = path, fmt, options
        self.stream, self.encoding = _open_text(path, options, newline="")
        self.name = path.name
        try:
            self._start()
        except BaseException:
            self.stream.close()
            raise

    def _start(self) -> None:
        options = self.options
        lines: list[str] = []
        size = 0
        while size <= _SNIFF_CHARS:
            line = self._readline()
            if not line:
                break
            lines.append(line)
            size += len(line)
        if not "".join(lines).strip():
            raise DataError("errors.io.only_whitespace", filename=self.name)
        self.sep_line = None
        if lines and lines[0].endswith("\n"):
            self.sep_line = _SEP_LINE_RE.fullmatch(lines[0].rstrip("\n").rstrip("\r"))
            if self.sep_line is not None:
                lines[0] = "\n"  # a blank first line: skipped, and line numbers stay the file's
                size = sum(len(x) for x in lines)
        sample = "".join(lines)[:_SNIFF_CHARS]
        truncated = size > _SNIFF_CHARS
        delimiter = (
            options.delimiter
            or (self.sep_line.group(1) if self.sep_line else None)
            or _detect_delimiter(sample, truncated, self.fmt)
        )
        if delimiter is not None and len(delimiter) != 1:
            raise DataError("errors.delimited.delimiter_not_one_char", delimiter=delimiter)
        self.delimiter = delimiter
        self.quoting = (
            csv.QUOTE_NONE if self.fmt == "txt" and delimiter == "\t" else csv.QUOTE_MINIMAL
        )
        self._lines = chain(lines, self.stream)
        self._records = self._parse()
        # The head holds what the column guess samples (and the header detection's rows).
        head: list[tuple[int, list[str]]] = list(islice(self._records, HEAD_ROWS + 1))
        if not head:
            raise DataError("errors.delimited.only_blank_lines")
        first = head[0][1]
        check_width(len(first))
        header = options.header
        if header is None:
            header = detect_header([r for _, r in head[:HEADER_ROWS]], self.fmt)
        self.header = bool(header)
        self.width = len(first)
        self.join_tabs = self.fmt == "txt" and delimiter == "\t" and self.width == 2
        self.joined = 0
        trimmed = len(first)
        while trimmed and first[trimmed - 1] == "":
            trimmed -= 1
        self.trimmed = trimmed if 0 < trimmed < self.width else None
        self.bad: list[tuple[int, int]] = []  # (line, fields) of rows misfit at full width
        self.bad_count = 0
        self.bad_trimmed: list[tuple[int, int]] = []
        self.bad_trimmed_count = 0
        self.last: tuple[int, list[str]] = head[-1]
        self.body_rows = 0
        self._head = head
        self._head_rows: list[list[str]] | None = None
        if self.header:
            self.columns = column_names(first)
        else:
            self.columns = [f"col_{i}" for i in range(self.width)]
        self.detected = Detected(
            format=self.fmt,
            encoding=self.encoding,
            delimiter=delimiter,
            header=self.header,
            notes=(render("errors.note.mixed_encodings"),)
            if self.encoding.startswith("utf-8 (")
            else (),
        )

    def _readline(self) -> str:
        try:
            return self.stream.readline()
        except UnicodeDecodeError:
            raise _decode_failed(self.path, self.stream.encoding, self.encoding) from None

    def _line_iter(self) -> Iterator[str]:
        try:
            yield from self._lines
        except UnicodeDecodeError:
            raise _decode_failed(self.path, self.stream.encoding, self.encoding) from None

    def _parse(self) -> Iterator[tuple[int, list[str]]]:
        """(first line number, fields) records, skipping blank lines, as read_delimited's."""
        _raise_csv_field_limit()
        if self.delimiter is None:
            # No delimiter: one column, one record per line (no column to map a label to).
            for number, line in enumerate(self._line_iter(), start=1):
                text = line.rstrip("\n").rstrip("\r")
                if text.strip():
                    yield number, [text]
            return
        reader = csv.reader(self._line_iter(), delimiter=self.delimiter, quoting=self.quoting)
        line = 1
        try:
            for row in reader:
                if row and any(field.strip() for field in row):
                    yield line, row
                line = reader.line_num + 1
        except csv.Error as exc:
            raise DataError("errors.delimited.parse_failed", line=f"{line:,}", exc=exc) from None

    def _join(self, row: list[str]) -> list[str]:
        if len(row) > 2:
            self.joined += 1
            return ["\t".join(row[:-1]), row[-1]]
        return row

    def _check(self, line: int, row: list[str]) -> None:
        """Note a row that does not fit the first row's width (raised in finish)."""
        n = len(row)
        width = self.width
        if n != width and (n < width or any(cell != "" for cell in row[width:])):
            self.bad_count += 1
            if len(self.bad) < _SHOWN_LINES:
                self.bad.append((line, n))
        trimmed = self.trimmed
        if trimmed is not None and (n < trimmed or any(c != "" for c in row[trimmed:])):
            self.bad_trimmed_count += 1
            if len(self.bad_trimmed) < _SHOWN_LINES:
                self.bad_trimmed.append((line, n))

    def _all(self) -> Iterator[tuple[int, list[str]]]:
        for record in chain(self._head, self._records):
            line, row = record
            if self.join_tabs:
                row = self._join(row)
            self._check(line, row)
            self.last = record
            yield line, row

    def _buffered(self) -> Iterator[list[str]]:
        rows = [r for _, r in self._head]
        return iter(rows[1:] if self.header else rows)

    def _rows(self) -> Iterator[list[str]]:
        records = self._all()
        if self.header:
            next(records)
        for _, row in records:
            self.body_rows += 1
            yield row

    def finish(self) -> Detected:
        if self.body_rows == 0:
            cols = ", ".join(self.columns[:10])
            if len(self.columns) > 10:
                cols += f", … (+{len(self.columns) - 10:,})"
            raise DataError("errors.io.no_data_rows", filename=self.name, cols=cols)
        if self.delimiter is not None and self.quoting != csv.QUOTE_NONE:
            self._check_unclosed_quote()  # first, as read_delimited checks it
        width, bad, count = self.width, self.bad, self.bad_count
        if count and self.trimmed is not None and self.bad_trimmed_count < count:
            width, bad, count = self.trimmed, self.bad_trimmed, self.bad_trimmed_count
        if count:
            self._raise_ragged(width, bad, count)
        if width < len(self.columns):
            self.columns = self.columns[:width]
        notes = self.detected.notes
        if self.joined:
            notes = (*notes, render("errors.note.extra_tabs", count=f"{self.joined:,}"))
        return replace(self.detected, notes=notes)

    def _raise_ragged(self, width: int, bad: list[tuple[int, int]], count: int) -> None:
        shown = Phrases([Phrase("errors.delimited.line_has", line=f"{ln:,}", n=n) for ln, n in bad])
        more = (
            Phrase("errors.delimited.more_rows", count=f"{count - _SHOWN_LINES:,}")
            if count > _SHOWN_LINES
            else ""
        )
        ref = Phrase(
            "errors.delimited.header_has" if self.header else "errors.delimited.first_row_has"
        )
        delimiter = self.delimiter
        name = _DELIMITER_NAMES.get(delimiter or "", repr(delimiter))
        name = (
            Phrase(f"errors.delimited.delimiter_{name}") if delimiter in _DELIMITER_NAMES else name
        )
        raise DataError(
            "errors.delimited.ragged_rows", ref=ref, width=width, shown=shown, more=more, name=name
        )

    def _check_unclosed_quote(self) -> None:
        """read_delimited's check: the last record must not be a quote that never closes."""
        line, fields = self.last
        if not any("\n" in f or "\r" in f for f in fields):
            return
        with io.TextIOWrapper(self.path.open("rb"), encoding=self.stream.encoding, newline="") as t:
            lines = islice(t, line - 1, None)
            try:
                for _ in csv.reader(lines, delimiter=self.delimiter, strict=True):
                    pass
            except csv.Error as exc:
                if "unexpected end of data" in str(exc):
                    raise DataError("errors.delimited.unclosed_quote", line=f"{line:,}") from None

    def close(self) -> None:
        self.stream.close()


class _JsonLines(_Source):
    """JSON lines: one object (or one array) per line, split on "\\n" only."""

    def __init__(self, path: Path, options: ReadOptions) -> None:
        self.path, self.name = path, path.name
        self.stream, encoding = _open_text(path, options, newline="\n")
        self.detected = Detected(format="jsonl", encoding=encoding)
        try:
            self._records = self._parse()
            self._head = list(islice(self._records, HEAD_ROWS))
            if not self._head:
                raise DataError("errors.io.only_whitespace", filename=self.name)
            self.kind = dict if isinstance(self._head[0], dict) else list
            if self.kind is dict:
                names = dict.fromkeys(str(k) for r in self._head if isinstance(r, dict) for k in r)
                self.columns = list(names)
            else:
                width = len(self._head[0]) if isinstance(self._head[0], list) else 0
                self.columns = [f"col_{i}" for i in range(width)]
            check_width(len(self.columns))
        except BaseException:
            self.stream.close()
            raise
        self._names = list(self.columns)
        self.pending: set[str] = set()  # mapped keys no line has shown yet

    def _parse(self) -> Iterator[object]:
        try:
            yield from jsonl_records(self.stream)
        except UnicodeDecodeError:
            raise _decode_failed(self.path, self.stream.encoding, self.detected.encoding) from None

    def _buffered(self) -> Iterator[list[str]]:
        width = len(self.columns)
        for record in self._head:
            if isinstance(record, dict):
                yield [cell_to_str(record.get(k)) for k in self.columns]
            elif isinstance(record, list) and len(record) == width:
                yield [cell_to_str(c) for c in record]
            else:
                raise DataError("errors.io.json_not_records", where=Phrase("errors.io.json_lines"))

    def chunks(self, size: int, wanted: list[int]) -> Iterator[list[list[str]]]:
        names = [self._names[i] for i in wanted]
        width = len(self.columns)
        chunk: list[list[str]] = []
        for record in chain(self._head, self._records):
            if self.kind is dict and isinstance(record, dict):
                chunk.append([cell_to_str(record.get(k)) for k in names])
                if self.pending:
                    self.pending -= record.keys()
            elif self.kind is list and isinstance(record, list) and len(record) == width:
                chunk.append([cell_to_str(record[i]) for i in wanted])
            else:
                raise DataError("errors.io.json_not_records", where=Phrase("errors.io.json_lines"))
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def column_index(self, name: str) -> int | None:
        # Any key some line has is a column of a JSON-lines file: one the head lacks is looked
        # for in every line (finish says when no line had it).
        if name not in self._names:
            if self.kind is not dict:
                return None
            self._names.append(name)
            self.pending.add(name)
        return self._names.index(name)

    def final_columns(self) -> list[str]:
        return [
            *self.columns,
            *(n for n in self._names[len(self.columns) :] if n not in self.pending),
        ]

    def close(self) -> None:
        self.stream.close()


def open_source(path: Path | str, options: ReadOptions = ReadOptions()) -> _Source:  # noqa: B008
    """Open ``path`` for streaming: its header is read and its format detected."""
    path = Path(path)
    fmt = STREAM_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            "errors.stream.unsupported_type",
            suffix=path.suffix or path.name,
            choices=", ".join(STREAM_FORMATS),
        )
    if path.stat().st_size == 0:
        raise DataError("errors.io.empty_file", filename=path.name)
    return _JsonLines(path, options) if fmt == "jsonl" else _Delimited(path, fmt, options)


def read_head(path: Path | str, options: ReadOptions = ReadOptions(), rows: int = HEAD_ROWS):  # noqa: B008
    """The first ``rows`` rows of a file as a ``ReadResult`` (for guessing the column mapping)."""
    from slm_core.data.types import ReadResult

    source = open_source(path, options)
    try:
        return ReadResult(frame=source.head(rows), detected=source.detected)
    finally:
        source.close()
