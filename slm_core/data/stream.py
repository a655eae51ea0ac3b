"""Read, validate and store a large delimited or JSON-lines file in bounded memory.

The in-memory path (:func:`slm_core.data.io.read_table`, then
:func:`slm_core.data.validate.validate_canonical`) holds the whole file several times over: its
bytes, the decoded text, the parsed rows and two frames. This module reads a file on disk a
chunk of rows at a time and, for each chunk, puts the mapped columns in canonical form, counts
what validation counts and appends the rows to a Parquet file. What stays in memory besides one
chunk is a few numbers per row (a 64-bit hash of the row's text key, its label and split as small
integers, and two character counts): about 21 bytes a row, 21 MB for a million rows, and briefly a
few times that while they are sorted to count duplicates and conflicts at the end. ``dedupe``
adds a set of the (key, label, split) hashes it has kept (about 80 bytes a kept row).

The result is the same as the in-memory path's for the same file: the same parsing (Python's
``csv`` module, with the same delimiter, header and ragged-row rules), the same ``DataReport``
(every count and finding), the same canonical rows and the same content hash, so a file stored
either way gets the same dataset id. The differences:

- The encoding is detected from the file's first MiB and the rest is decoded strictly with it;
  a file that mixes encodings (which the in-memory path repairs line by line) is refused with a
  sentence that says to convert it or pass ``--encoding``.
- Duplicates are found by a 64-bit hash of :func:`~slm_core.data.split.one_text_key`, not by the
  key itself: two different texts share a hash with probability about n² / 2⁶⁵ (3 in 100 million
  at a million distinct texts), which would count one extra duplicate.
- No upload size limit applies (``SLM_MAX_UPLOAD_MB`` protects memory, which is bounded here).

``SLM_STREAM_MB`` (default 50) is the file size above which the CLI takes this path.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from itertools import chain, islice
from pathlib import Path

import numpy as np
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
from slm_core.data.split import CANONICAL_COLUMNS, MIN_STRATIFIED, one_text_key, split_role
from slm_core.data.types import ColumnMapping, DataReport, Detected, ReadOptions, SplitConfig
from slm_core.data.validate import (
    _CJK_SAMPLE_CHARS,
    LONG_CHARS,
    SHORT_TOKENS,
    _check_classes,
    _check_group_counts,
    _check_labels,
    _check_mapping,
    _check_texts,
    _Findings,
    _label,
)
from slm_core.errors import DataError, Phrase, Phrases, render
from slm_core.text import CJK_RE, normalize_text, script_of, token_unit

_MB = 1024 * 1024
# Files larger than this many MiB are streamed by the CLI (default of ``SLM_STREAM_MB``).
STREAM_MB = 50.0
# Rows per chunk: one chunk's rows, canonical columns and Parquet row group are in memory at
# once (~30 MB for tweet-length texts).
CHUNK_ROWS = 50_000
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
_ROLE_CODES = {"train": 0, "val": 1, "test": 2, None: 3}
_SHOWN_LINES = 5


def stream_threshold_mb() -> float:
    """The size in MiB above which a file is streamed (``SLM_STREAM_MB``, read at each call)."""
    try:
        return float(os.environ.get("SLM_STREAM_MB", STREAM_MB))
    except ValueError:
        return STREAM_MB


def can_stream(path: Path | str) -> bool:
    """Whether this module reads the file's format (CSV, TSV, TXT, JSONL)."""
    return Path(path).suffix.lower() in STREAM_FORMATS


def should_stream(path: Path | str) -> tuple[bool, str]:
    """Whether to stream the file at ``path``, and why, in words (for the CLI to print)."""
    path = Path(path)
    size_mb = path.stat().st_size / _MB
    limit = stream_threshold_mb()
    if not can_stream(path):
        return False, f"{path.suffix or 'this'} files are read in memory"
    if size_mb > limit:
        return True, f"{size_mb:,.1f} MB is over SLM_STREAM_MB={limit:g}"
    return False, f"{size_mb:,.1f} MB is within SLM_STREAM_MB={limit:g}"


@dataclass(frozen=True)
class StreamedDataset:
    """A file validated (and, when asked, written to Parquet) by :func:`stream_dataset`."""

    name: str
    filename: str
    report: DataReport
    content_hash: str  # equal to split.content_hash of the canonical frame the file holds
    rows_written: int  # rows in the Parquet file (fewer than report.rows with dedupe)
    removed_duplicates: int  # rows left out by dedupe
    frame_file: Path | None
    split_config: SplitConfig
    chunks: int  # chunks read (each at most chunk_rows rows)
    chunk_rows: int
    max_chunk_rows: int  # the largest chunk actually held (<= chunk_rows)

    @property
    def dataset_id(self) -> str:
        return self.content_hash[:12]


# ----------------------------------------------------------------------------- sources


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


# ----------------------------------------------------------------------------- tally


class _Tally:
    """What validate_canonical measures, accumulated a chunk at a time in bounded memory."""

    def __init__(self, roles: tuple[str, ...]) -> None:
        self.roles = roles  # canonical columns: text, label[, group][, split]
        self.rows = 0
        self.empty = 0
        self.unlabelled = 0
        self.classes: Counter[str] = Counter()
        self.groups: Counter[str] = Counter()
        self.missing_groups = 0
        self.split_bad = 0
        self.split_bad_shown: list[str] = []
        self.split_bad_seen: set[int] = set()
        self.split_roles: set[str] = set()
        self.label_ids: dict[str, int] = {}
        self.key_hashes: list[np.ndarray] = []  # per filled row
        self.label_codes: list[np.ndarray] = []  # per filled row, -1 without a label
        self.role_codes: list[np.ndarray] = []  # per filled row
        self.nonspace: list[np.ndarray] = []  # per filled row: characters other than spaces
        self.cjk: list[np.ndarray] = []  # per filled row: CJK characters
        self.total_chars = 0
        self.long = 0
        self.short_word = 0
        self.short_char = 0
        self.dedupe_seen: set[bytes] = set()

    def add(self, columns: dict[str, list[str]], dedupe: bool) -> np.ndarray | None:
        """Count one chunk of canonical columns; with ``dedupe`` returns the rows to keep."""
        texts, labels = columns["text"], columns["label"]
        n = len(texts)
        self.rows += n
        splits = columns.get("split")
        roles = [split_role(v) for v in splits] if splits is not None else None
        keys: list[int] = []
        codes: list[int] = []
        role_codes: list[int] = []
        nonspace: list[int] = []
        cjk: list[int] = []
        keep = np.ones(n, dtype=bool) if dedupe else None
        ids = self.label_ids
        for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
            if label:
                self.classes[label] += 1
                code = ids.setdefault(label, len(ids))
            else:
                self.unlabelled += 1
                code = -1
            if not text:
                self.empty += 1
                continue
            key = one_text_key(text).encode("utf-8", "surrogatepass")
            digest = hashlib.blake2b(key, digest_size=8).digest()
            keys.append(int.from_bytes(digest, "little"))
            codes.append(code)
            role = _ROLE_CODES[roles[i]] if roles is not None else 0
            role_codes.append(role)
            length = len(text)
            spaces = text.count(" ")
            nonspace.append(length - spaces)
            cjk.append(0 if text.isascii() else len(CJK_RE.findall(text)))
            self.total_chars += length
            if length > LONG_CHARS:
                self.long += 1
            if len(text.split()) < SHORT_TOKENS:
                self.short_word += 1
                if length < 2 * SHORT_TOKENS and length - spaces < SHORT_TOKENS:
                    self.short_char += 1
            if keep is not None and code >= 0:
                # clean_rows keeps the first row of each (text key, label, split) among rows
                # with a text and a label; this keeps the same first rows.
                row_id = digest + code.to_bytes(4, "little") + bytes((role,))
                if row_id in self.dedupe_seen:
                    keep[i] = False
                else:
                    self.dedupe_seen.add(row_id)
        self.key_hashes.append(np.array(keys, dtype=np.uint64))
        self.label_codes.append(np.array(codes, dtype=np.int32))
        self.role_codes.append(np.array(role_codes, dtype=np.int8))
        self.nonspace.append(np.array(nonspace, dtype=np.int32))
        self.cjk.append(np.array(cjk, dtype=np.int32))
        if "group" in columns:
            for group in columns["group"]:
                if group:
                    self.groups[group] += 1
                else:
                    self.missing_groups += 1
        if roles is not None:
            for value, role in zip(splits, roles, strict=True):
                if role is None:
                    self.split_bad += 1
                    if len(self.split_bad_shown) < 6 and value not in self.split_bad_shown:
                        self.split_bad_shown.append(value)
                    digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=8)
                    self.split_bad_seen.add(int.from_bytes(digest.digest(), "little"))
                else:
                    self.split_roles.add(role)
        return keep

    def report(self, mapping: ColumnMapping, detected: Detected) -> DataReport:
        """The DataReport validate_canonical gives for the same rows."""
        found = _Findings()
        rows = self.rows
        classes = {
            str(k): int(v) for k, v in sorted(self.classes.items(), key=lambda kv: (-kv[1], kv[0]))
        }
        imbalance = max(classes.values()) / min(classes.values()) if classes else 0.0
        keys = np.concatenate(self.key_hashes) if self.key_hashes else np.zeros(0, np.uint64)
        codes = np.concatenate(self.label_codes) if self.label_codes else np.zeros(0, np.int32)
        role_codes = np.concatenate(self.role_codes) if self.role_codes else np.zeros(0, np.int8)
        filled = len(keys)
        duplicates = filled - len(np.unique(keys))
        conflicted, distinct_codes = _conflicts_and_distinct(keys, codes, role_codes)
        distinct_counts = np.bincount(distinct_codes, minlength=len(self.label_ids))
        names = {code: label for label, code in self.label_ids.items()}
        distinct = {c: 0 for c in classes}
        for code, count in enumerate(distinct_counts.tolist()):
            if names.get(code) in distinct:
                distinct[names[code]] = int(count)
        tiny = sorted(
            (c for c, n in distinct.items() if n < MIN_STRATIFIED), key=lambda c: distinct[c]
        )
        # validate's _cjk_share: every step-th filled text, step from the total length.
        step = max(1, self.total_chars // _CJK_SAMPLE_CHARS)
        nonspace = np.concatenate(self.nonspace)[::step] if self.nonspace else np.zeros(0)
        cjk = np.concatenate(self.cjk)[::step] if self.cjk else np.zeros(0)
        total = int(nonspace.sum())
        share = int(cjk.sum()) / total if total else 0.0
        script = script_of(share)
        unit = token_unit(script)
        short = self.short_word if unit == "word" else self.short_char
        groups = {
            str(k): int(v) for k, v in sorted(self.groups.items(), key=lambda kv: (-kv[1], kv[0]))
        }

        _check_texts(found, rows, self.empty, mapping.text)
        _check_labels(found, rows, self.unlabelled, mapping.label)
        _check_classes(found, classes, distinct, tiny, imbalance, mapping.label)
        if "split" in self.roles:
            self._check_split(found)
        for code, n, values in (
            ("duplicates", duplicates, {}),
            ("conflicts", conflicted, {}),
            ("short_texts", short, {"tokens": str(SHORT_TOKENS)}),
            ("long_texts", self.long, {"chars": f"{LONG_CHARS:,}"}),
        ):
            if n:
                key = f"errors.problem.{code}_{unit}" if code == "short_texts" else None
                found.add(code, key, count=f"{n:,}", **values)
        if "group" in self.roles:
            _check_group_counts(found, groups, self.missing_groups)
        return DataReport(
            rows=rows,
            mapping=mapping,
            detected=detected,
            classes=classes,
            imbalance_ratio=float(imbalance),
            empty_texts=self.empty,
            duplicate_rows=int(duplicates),
            conflicting_texts=int(conflicted),
            short_texts=short,
            long_texts=self.long,
            cjk_share=float(share),
            script=script,
            token_unit=unit,
            mean_length=self.total_chars / filled if filled else 0.0,
            tiny_classes=tuple(tiny),
            errors=tuple(found.errors),
            warnings=tuple(found.warnings),
            groups=groups,
        )

    def _check_split(self, found: _Findings) -> None:
        if self.split_bad:
            shown = self.split_bad_shown[:5]
            distinct = len(self.split_bad_seen)
            text = ", ".join(f"'{v}'" for v in shown)
            if distinct > 5:
                text += f", … (+{distinct - 5:,})"
            found.add("bad_split_values", count=f"{self.split_bad:,}", shown=text)
            return
        missing = [r for r in ("train", "test") if r not in self.split_roles]
        if missing:
            found.add("split_missing_part", parts=" / ".join(missing))


def _conflicts_and_distinct(
    keys: np.ndarray, codes: np.ndarray, roles: np.ndarray
) -> tuple[int, np.ndarray]:
    """Texts seen with several labels, and the label code of every row clean_rows would keep.

    clean_rows drops rows without a label, then every row of a conflicting text, then repeats
    of (text, label, split): the label of each remaining row, once per (text, split).
    """
    usable = codes >= 0
    keys, codes, roles = keys[usable], codes[usable], roles[usable]
    if not len(keys):
        return 0, np.zeros(0, dtype=np.int64)
    order = np.lexsort((codes, keys))
    k, c = keys[order], codes[order]
    new_pair = np.ones(len(k), dtype=bool)
    new_pair[1:] = (k[1:] != k[:-1]) | (c[1:] != c[:-1])
    pair_keys = k[new_pair]
    repeated = pair_keys[1:][pair_keys[1:] == pair_keys[:-1]]
    conflicted_keys = np.unique(repeated)
    kept = ~np.isin(keys, conflicted_keys)
    keys, codes, roles = keys[kept], codes[kept], roles[kept]
    order = np.lexsort((roles, keys))
    k, r = keys[order], roles[order]
    first = np.ones(len(k), dtype=bool)
    first[1:] = (k[1:] != k[:-1]) | (r[1:] != r[:-1])
    return len(conflicted_keys), codes[order][first].astype(np.int64)


# ----------------------------------------------------------------------------- the path


def _normalize(text: str) -> str:
    """``normalize_text``, without its work for the common text it leaves as it is.

    Printable ASCII is its own NFKC form and holds no control character; with single inner
    spaces and none at either end there is nothing to collapse or strip.
    """
    if (
        text.isascii()
        and text.isprintable()
        and "  " not in text
        and not text.startswith(" ")
        and not text.endswith(" ")
    ):
        return text
    return normalize_text(text)


class _Labels(dict):
    """Raw label cell -> canonical label (validate's ``_label``), computed once per value.

    A label column has few distinct values; past ``_MAX_CACHED`` (a free-text column mapped as
    the label) values are no longer kept, so memory stays bounded.
    """

    _MAX_CACHED = 100_000

    def __missing__(self, raw: str) -> str:
        value = _label(raw)
        if len(self) < self._MAX_CACHED:
            self[raw] = value
        return value


class _ContentHash:
    """split.content_hash computed row by row: SHA-256 of the same JSON text, in pieces."""

    def __init__(self, columns: list[str]) -> None:
        self.sha = hashlib.sha256()
        self.sha.update(("[" + _dumps(columns)).encode("utf-8"))

    def add(self, rows: list[list[str]]) -> None:
        if rows:
            # json.dumps of a list is "[" + its items joined by "," + "]": the items of this
            # chunk are exactly the text content_hash has for them.
            self.sha.update(("," + _dumps(rows)[1:-1]).encode("utf-8"))

    def hexdigest(self) -> str:
        self.sha.update(b"]")
        return self.sha.hexdigest()


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def stream_dataset(
    path: Path | str,
    mapping: ColumnMapping,
    *,
    options: ReadOptions = ReadOptions(),  # noqa: B008
    out: Path | str | None = None,
    name: str | None = None,
    split_config: SplitConfig | None = None,
    chunk_rows: int = CHUNK_ROWS,
    dedupe: bool = False,
) -> StreamedDataset:
    """Read, validate and (with ``out``) write the canonical frame of a large file in chunks.

    Parameters
    ----------
    path
        A CSV, TSV, TXT or JSONL file.
    mapping
        Its columns (see :func:`read_head` to guess them from the file's first rows).
    out
        Where to write the canonical rows as Parquet (one row group per chunk), atomically;
        ``None`` validates only.
    chunk_rows
        Rows read, canonicalised and written at a time: with the per-row counts, what bounds
        the memory used.
    dedupe
        Leave out repeats of a (text key, label, split) among rows with a text and a label, as
        ``clean_rows`` would before splitting. The report still describes every row of the
        file, but the content hash is then that of the rows written, so the dataset id differs
        from the in-memory path's.

    Raises ``DataError`` (one sentence) for a file that cannot be read or a mapping that does
    not fit; a file whose rows are read but not trainable gives a report with errors.
    """
    from slm_core.atomic import atomic_path

    path = Path(path)
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    roles = ["text", "label"] + [
        r for r, c in (("group", mapping.group), ("split", mapping.split)) if c is not None
    ]
    columns = [getattr(mapping, r) for r in roles]
    tally = _Tally(tuple(roles))
    digest = _ContentHash([c for c in CANONICAL_COLUMNS if c in roles])
    counts = {"chunks": 0, "written": 0, "removed": 0, "largest": 0}
    source = open_source(path, options)
    try:
        found = _Findings()
        known = source.columns if isinstance(source, _Delimited) else [*source.columns, *columns]
        _check_mapping(pd.DataFrame(columns=known), mapping, found)
        if not found.errors:
            wanted = [source.column_index(c) for c in columns]
            if out is None:
                _consume(source, wanted, roles, tally, digest, None, chunk_rows, dedupe, counts)
                detected = source.finish()
            else:
                out = Path(out)
                with atomic_path(out) as tmp:
                    _consume(source, wanted, roles, tally, digest, tmp, chunk_rows, dedupe, counts)
                    detected = source.finish()  # inside: a ragged file leaves no Parquet behind
            # A mapped JSON-lines key no line has, or a column a ragged header's fit dropped.
            _check_mapping(pd.DataFrame(columns=source.final_columns()), mapping, found)
            rows = tally.rows
            if found.errors and out is not None:
                out.unlink(missing_ok=True)
        else:
            rows = sum(len(c) for c in source.chunks(chunk_rows, []))
            detected = source.finish()
    finally:
        source.close()
    if found.errors:  # validate_canonical's report for a mapping that does not fit the table
        report = DataReport(
            rows=rows, mapping=mapping, detected=detected,
            classes={}, imbalance_ratio=0.0, empty_texts=0, duplicate_rows=0,
            conflicting_texts=0, short_texts=0, long_texts=0, cjk_share=0.0, script="latin",
            token_unit="word", mean_length=0.0, tiny_classes=(), errors=tuple(found.errors),
        )  # fmt: skip
        return StreamedDataset(
            name=name or path.stem,
            filename=path.name,
            report=report,
            content_hash="",
            rows_written=0,
            removed_duplicates=0,
            frame_file=None,
            split_config=split_config or SplitConfig(),
            chunks=counts["chunks"],
            chunk_rows=chunk_rows,
            max_chunk_rows=counts["largest"],
        )
    return StreamedDataset(
        name=name or path.stem,
        filename=path.name,
        report=tally.report(mapping, detected),
        content_hash=digest.hexdigest(),
        rows_written=counts["written"],
        removed_duplicates=counts["removed"],
        frame_file=out,
        split_config=split_config or SplitConfig(),
        chunks=counts["chunks"],
        chunk_rows=chunk_rows,
        max_chunk_rows=counts["largest"],
    )


def _consume(source, wanted, roles, tally, digest, out, chunk_rows, dedupe, counts) -> None:
    """Every chunk: canonical columns, counts, content hash, and a row group in ``out``."""
    writer = None
    schema = None
    labels = _Labels()
    try:
        for chunk in source.chunks(chunk_rows, wanted):
            counts["chunks"] += 1
            counts["largest"] = max(counts["largest"], len(chunk))
            cells = list(zip(*chunk, strict=True))
            canon: dict[str, list[str]] = {}
            for role, values in zip(roles, cells, strict=True):
                if role == "label":
                    canon[role] = [labels[v] for v in values]
                else:
                    canon[role] = [_normalize(v) for v in values]
            keep = tally.add(canon, dedupe)
            ordered = [c for c in CANONICAL_COLUMNS if c in canon]
            if keep is not None and not keep.all():
                counts["removed"] += int((~keep).sum())
                canon = {c: [v for v, k in zip(canon[c], keep, strict=True) if k] for c in canon}
            rows = [list(r) for r in zip(*(canon[c] for c in ordered), strict=True)]
            digest.add(rows)
            counts["written"] += len(rows)
            if out is not None:
                import pyarrow as pa
                import pyarrow.parquet as pq

                if writer is None:
                    empty = pd.DataFrame({c: pd.Series([], dtype=str) for c in ordered})
                    schema = pa.Schema.from_pandas(empty, preserve_index=False)
                    writer = pq.ParquetWriter(out, schema)
                arrays = [pa.array(canon[c], type=schema.field(c).type) for c in ordered]
                writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
    finally:
        if writer is not None:
            writer.close()


def register_streamed(store, streamed: StreamedDataset, source: str, *, parent_id=None):
    """Store a streamed, trainable dataset whose frame file is written (idempotent by content);
    DataError with the first finding otherwise. The frame file is moved into the store."""
    if not streamed.report.trainable or streamed.frame_file is None:
        if streamed.frame_file is not None:
            streamed.frame_file.unlink(missing_ok=True)
        first = streamed.report.errors[0].message if streamed.report.errors else ""
        raise DataError("errors.dataset.not_trainable", first=first)
    return store.add_dataset_file(
        name=streamed.name,
        source=source,
        filename=streamed.filename,
        content_hash=streamed.content_hash,
        frame_file=streamed.frame_file,
        rows=streamed.rows_written,
        report=streamed.report.to_dict(),
        mapping=streamed.report.mapping.to_dict(),
        split_config=asdict(streamed.split_config),
        parent_id=parent_id,
    )
