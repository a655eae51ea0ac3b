"""Reading a data file or demo from the command line, and ``inspect``."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from slm_core.cli.common import EXIT_OK, EXIT_USER, add_command, add_json_arg
from slm_core.errors import SlmError


def add_source_args(p: argparse.ArgumentParser) -> None:
    """The file or demo to read and how to read it (``inspect`` and ``train``)."""
    p.add_argument("file", nargs="?", help="CSV/TSV/TXT/XLSX/JSON/JSONL/Parquet file")
    from slm_core.data.demo import DEMOS  # the manifest only: no corpus is read here

    p.add_argument("--demo", help=f"use a bundled demo dataset instead: {', '.join(DEMOS)}")
    p.add_argument("--text-col", help="text column, by name or 0-based index")
    p.add_argument("--label-col", help="label column, by name or 0-based index")
    p.add_argument("--group-col", help="optional group column (fairness)")
    p.add_argument("--split-col", help="optional column with train/val/test per row")
    p.add_argument("--encoding", help="override the detected encoding")
    p.add_argument("--delimiter", help="override the detected delimiter (use \\t for tab)")
    p.add_argument("--sheet", help="Excel sheet name")
    header = p.add_mutually_exclusive_group()
    header.add_argument("--header", dest="header", action="store_true", default=None)
    header.add_argument("--no-header", dest="header", action="store_false")
    add_json_arg(p)


def read_source(args: argparse.Namespace):
    """Read the file or demo named on the command line and resolve its column mapping."""
    from slm_core.data.demo import DEMOS, load_demo
    from slm_core.data.io import check_upload_size, read_table

    if args.demo:
        read, mapping = load_demo(args.demo)
        name, filename = DEMOS[args.demo].name, args.demo
    elif args.file:
        path = _source_path(args)
        check_upload_size(path.stat().st_size)  # before reading: a 50 GB file stays on disk
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SlmError("errors.cli.unreadable_file", path=path, reason=exc.strerror) from None
        read = read_table(data, path.name, _read_options(args))
        mapping = None
        name, filename = path.stem, path.name
    else:
        raise SlmError("errors.cli.no_source")
    return read, _mapping(args, read.frame, mapping), name, filename


def _source_path(args: argparse.Namespace) -> Path:
    path = Path(args.file)
    if not path.is_file():
        raise SlmError("errors.cli.file_not_found", path=path)
    return path


def _read_options(args: argparse.Namespace):
    from slm_core.data.types import ReadOptions

    delimiter = args.delimiter.replace("\\t", "\t") if args.delimiter else None
    return ReadOptions(
        encoding=args.encoding, delimiter=delimiter, header=args.header, sheet=args.sheet
    )


def _mapping(args: argparse.Namespace, frame, guessed):
    """The column mapping: the one given (--text-col ...), else the demo's, else a guess."""
    from slm_core.data.columns import guess_mapping, resolve_column
    from slm_core.data.types import ColumnMapping

    if guessed is None and not (args.text_col and args.label_col):
        guessed = guess_mapping(frame)
    return ColumnMapping(
        text=resolve_column(frame, args.text_col) if args.text_col else guessed.text,
        label=resolve_column(frame, args.label_col) if args.label_col else guessed.label,
        group=resolve_column(frame, args.group_col) if args.group_col else None,
        split=resolve_column(frame, args.split_col) if args.split_col else None,
    )


def add_stream_args(p: argparse.ArgumentParser) -> None:
    """How a large file is read (``inspect`` and ``ingest``)."""
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--stream",
        dest="stream",
        action="store_true",
        default=None,
        help="read the file in chunks, in bounded memory (default: for CSV/TSV/TXT/JSONL files "
        "over SLM_STREAM_MB, 50 MB)",
    )
    mode.add_argument("--no-stream", dest="stream", action="store_false", help="read it whole")
    p.add_argument(
        "--chunk-rows", type=_positive_int, default=None, help="rows per chunk when streaming"
    )


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of rows above 0, not {value!r}")
    return number


def read_mode(args: argparse.Namespace) -> tuple[bool, str]:
    """Whether the file on the command line is streamed, and why (in words)."""
    from slm_core.data.stream import can_stream, should_stream

    if args.demo or not args.file:
        return False, "a bundled demo" if args.demo else ""
    path = _source_path(args)
    if args.stream is None:
        return should_stream(path)
    if args.stream and not can_stream(path):
        from slm_core.data.stream import STREAM_FORMATS

        raise SlmError(
            "errors.stream.unsupported_type",
            suffix=path.suffix or path.name,
            choices=", ".join(STREAM_FORMATS),
        )
    return bool(args.stream), "--stream" if args.stream else "--no-stream"


def stream_source(args: argparse.Namespace, out: Path | None, dedupe: bool = False):
    """Stream the file on the command line (mapping guessed from its first rows)."""
    from slm_core.data.io import check_upload_size
    from slm_core.data.stream import CHUNK_ROWS, read_head, stream_dataset

    path = _source_path(args)
    # The CLI's limit holds on both paths (SLM_MAX_UPLOAD_MB), though this one is bounded.
    check_upload_size(path.stat().st_size)
    options = _read_options(args)
    head = read_head(path, options)
    mapping = _mapping(args, head.frame, None)
    chunk_rows = args.chunk_rows or CHUNK_ROWS
    return stream_dataset(
        path, mapping, options=options, out=out, name=path.stem, chunk_rows=chunk_rows,
        dedupe=dedupe,
    )  # fmt: skip


def _mode_line(streamed: bool, reason: str, chunk_rows: int) -> str:
    from slm_core.i18n import t

    if streamed:
        return t("stream.mode_stream", chunk=f"{chunk_rows:,}", reason=reason)
    return t("stream.mode_memory", reason=reason)


def cmd_inspect(args: argparse.Namespace) -> int:
    from slm_core.data.validate import format_report, validate

    streamed, reason = read_mode(args)
    if streamed:
        result = stream_source(args, out=None)
        report, detected = result.report, result.report.detected
    else:
        read, mapping, _, _ = read_source(args)
        report, detected = validate(read.frame, mapping, read.detected), read.detected
    if args.json:
        data = report.to_dict()
        data.update(
            encoding=detected.encoding,
            delimiter=detected.delimiter,
            header=detected.header,
            format=detected.format,
        )
        if streamed:
            data["read_mode"] = {"mode": "stream", "reason": reason}
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(format_report(report))
        if streamed:
            print(f"{'Read':<12}{_mode_line(True, reason, result.chunk_rows)}")
    if not report.trainable:
        print(f"error: not trainable: {report.errors[0].message}", file=sys.stderr)
        return EXIT_USER
    return EXIT_OK


def cmd_ingest(args: argparse.Namespace) -> int:
    """Validate a file and store it as a dataset (in chunks when it is large)."""
    from slm_core.cli.common import open_store
    from slm_core.data.validate import format_report

    streamed, reason = read_mode(args)
    store = open_store()
    if streamed:
        from slm_core.data.stream import register_streamed

        result = stream_source(args, out=store.staging_path(), dedupe=args.dedupe)
        if args.name:
            result = replace(result, name=args.name)
        report, chunk_rows, removed = result.report, result.chunk_rows, result.removed_duplicates
        if report.trainable:
            dataset = register_streamed(store, result, source="cli")
        elif result.frame_file is not None:
            result.frame_file.unlink(missing_ok=True)  # written, but not to be stored
    else:
        from slm_core.dataset import prepare_dataset, register_dataset

        read, mapping, name, filename = read_source(args)
        prepared = prepare_dataset(read, mapping, args.name or name, filename)
        removed = 0
        if args.dedupe:
            prepared, removed = _dedupe(prepared)
        report, chunk_rows = prepared.report, 0
        if report.trainable:
            dataset = register_dataset(store, prepared, source="cli")
    mode = _mode_line(streamed, reason, chunk_rows)
    if not report.trainable:
        if not args.json:
            print(format_report(report))
        print(f"error: not trainable: {report.errors[0].message}", file=sys.stderr)
        return EXIT_USER
    if args.json:
        out = {
            "dataset_id": dataset.id,
            "name": dataset.name,
            "rows": dataset.rows,
            "removed_duplicates": removed,
            "read_mode": {"mode": "stream" if streamed else "memory", "reason": reason},
            "report": report.to_dict(),
        }
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        print(format_report(report))
        print(f"{'Read':<12}{mode}")
        if removed:
            print(f"{'De-dup':<12}{removed:,} repeated rows left out")
        print(f"dataset_id: {dataset.id}  ({dataset.name}, {dataset.rows:,} rows)")
    return EXIT_OK


def _dedupe(prepared):
    """The prepared dataset without repeats of a (text key, label, split) among rows with a
    text and a label, as clean_rows would drop them before splitting (the streamed path's
    --dedupe, in memory)."""
    from slm_core.data.split import content_hash, split_role, text_key

    frame = prepared.frame
    subset = frame.assign(_key=text_key(frame["text"]))
    columns = ["_key", "label"]
    if "split" in frame.columns:
        subset = subset.assign(_role=frame["split"].map(split_role))
        columns.append("_role")
    usable = (frame["text"] != "") & (frame["label"] != "")
    repeated = usable & subset.duplicated(columns)
    if not repeated.any():
        return prepared, 0
    kept = frame[~repeated].reset_index(drop=True)
    return replace(prepared, frame=kept, content_hash=content_hash(kept)), int(repeated.sum())


def add_commands(sub) -> None:
    p = add_command(sub, "inspect", cmd_inspect, "validate a data file and print its DataReport")
    add_source_args(p)
    add_stream_args(p)
    p = add_command(
        sub,
        "ingest",
        cmd_ingest,
        "validate a data file and store it as a dataset (large: in chunks)",
    )
    add_source_args(p)
    add_stream_args(p)
    p.add_argument("--name", help="dataset name (default: the file name without extension)")
    p.add_argument(
        "--dedupe",
        action="store_true",
        help="leave out repeated rows (same text key, label and split) when storing",
    )
