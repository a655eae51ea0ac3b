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

``SLM_STREAM_MB`` (default 50) is the file size above which the CLI and the Data page take this
path (the page's side is :mod:`slm_core.data.upload_stream`). The readers are in
:mod:`slm_core.data.stream_sources`, the counts validation needs in
:mod:`slm_core.data.stream_tally`; this module puts rows in canonical form, hashes, writes and
stores them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from slm_core.data.split import CANONICAL_COLUMNS
from slm_core.data.stream_sources import (
    _MB,
    STREAM_FORMATS,
    _Delimited,
    open_source,
    read_head,
)
from slm_core.data.stream_tally import _Tally
from slm_core.data.types import ColumnMapping, DataReport, ReadOptions, SplitConfig
from slm_core.data.validate import (
    _check_mapping,
    _Findings,
    _label,
)
from slm_core.errors import DataError
from slm_core.text import normalize_text

# Files larger than this many MiB are streamed by the CLI (default of ``SLM_STREAM_MB``).
STREAM_MB = 50.0
# Rows per chunk: one chunk's rows, canonical columns and Parquet row group are in memory at
# once (~30 MB for tweet-length texts).
CHUNK_ROWS = 50_000

# The readers' head of a file, for the column guess, is part of this module's interface.
__all__ = [
    "CHUNK_ROWS",
    "STREAM_FORMATS",
    "StreamProgress",
    "StreamedDataset",
    "can_stream",
    "read_head",
    "register_streamed",
    "should_stream",
    "stream_choice",
    "stream_dataset",
    "stream_threshold_mb",
]


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
    return stream_choice(path.name, path.stat().st_size)


def stream_choice(filename: str, size: int) -> tuple[bool, str]:
    """:func:`should_stream` for a file known by its name and size in bytes (an upload that is
    not on disk yet): streamed when its format streams and it is over ``SLM_STREAM_MB``."""
    suffix = Path(filename).suffix
    size_mb = size / _MB
    limit = stream_threshold_mb()
    if not can_stream(filename):
        return False, f"{suffix or 'this'} files are read in memory"
    if size_mb > limit:
        return True, f"{size_mb:,.1f} MB is over SLM_STREAM_MB={limit:g}"
    return False, f"{size_mb:,.1f} MB is within SLM_STREAM_MB={limit:g}"


@dataclass(frozen=True)
class StreamProgress:
    """How far :func:`stream_dataset` has read, given to its ``progress`` callback per chunk."""

    rows: int  # rows read so far
    chunks: int  # chunks read so far
    bytes_read: int  # bytes of the file read so far (the reader reads a little ahead)
    total_bytes: int  # the file's size

    @property
    def fraction(self) -> float:
        """The share of the file read, from 0 to 1."""
        if self.total_bytes <= 0:
            return 1.0
        return min(max(self.bytes_read / self.total_bytes, 0.0), 1.0)


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
    progress: Callable[[StreamProgress], None] | None = None,
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
    progress
        Called after each chunk with how far the read has got (for a progress bar); an
        exception it raises stops the read (and no Parquet file is left behind).

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
    report_progress = _progress_reporter(source, path, progress)
    try:
        found = _Findings()
        known = source.columns if isinstance(source, _Delimited) else [*source.columns, *columns]
        _check_mapping(pd.DataFrame(columns=known), mapping, found)
        if not found.errors:
            wanted = [source.column_index(c) for c in columns]
            if out is None:
                _consume(
                    source, wanted, roles, tally, digest, None, chunk_rows, dedupe, counts,
                    report_progress,
                )  # fmt: skip
                detected = source.finish()
            else:
                out = Path(out)
                with atomic_path(out) as tmp:
                    _consume(
                        source, wanted, roles, tally, digest, tmp, chunk_rows, dedupe, counts,
                        report_progress,
                    )  # fmt: skip
                    detected = source.finish()  # inside: a ragged file leaves no Parquet behind
            # A mapped JSON-lines key no line has, or a column a ragged header's fit dropped.
            _check_mapping(pd.DataFrame(columns=source.final_columns()), mapping, found)
            rows = tally.rows
            if found.errors and out is not None:
                out.unlink(missing_ok=True)
        else:
            rows = 0
            for number, chunk in enumerate(source.chunks(chunk_rows, []), start=1):
                rows += len(chunk)
                if report_progress is not None:
                    report_progress(rows, number)
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


def _progress_reporter(source, path: Path, progress) -> Callable[[int, int], None] | None:
    """A function of the rows and chunks read so far that calls ``progress`` (None without)."""
    if progress is None:
        return None
    total = path.stat().st_size

    def report(rows: int, chunks: int) -> None:
        progress(StreamProgress(rows, chunks, min(source.bytes_read(), total), total))

    return report


def _consume(
    source, wanted, roles, tally, digest, out, chunk_rows, dedupe, counts, report_progress=None
) -> None:
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
            if report_progress is not None:
                report_progress(tally.rows, counts["chunks"])
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
