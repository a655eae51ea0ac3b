"""Reading a data file or demo from the command line, and ``inspect``."""

from __future__ import annotations

import argparse
import json
import sys
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
    from slm_core.data.columns import guess_mapping, resolve_column
    from slm_core.data.demo import DEMOS, load_demo
    from slm_core.data.io import check_upload_size, read_table
    from slm_core.data.types import ColumnMapping, ReadOptions

    if args.demo:
        read, mapping = load_demo(args.demo)
        name, filename = DEMOS[args.demo].name, args.demo
    elif args.file:
        path = Path(args.file)
        if not path.is_file():
            raise SlmError("errors.cli.file_not_found", path=path)
        delimiter = args.delimiter.replace("\\t", "\t") if args.delimiter else None
        options = ReadOptions(
            encoding=args.encoding, delimiter=delimiter, header=args.header, sheet=args.sheet
        )
        check_upload_size(path.stat().st_size)  # before reading: a 50 GB file stays on disk
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SlmError("errors.cli.unreadable_file", path=path, reason=exc.strerror) from None
        read = read_table(data, path.name, options)
        mapping = None
        name, filename = path.stem, path.name
    else:
        raise SlmError("errors.cli.no_source")
    frame = read.frame
    guessed = mapping
    if guessed is None and not (args.text_col and args.label_col):
        guessed = guess_mapping(frame)
    mapping = ColumnMapping(
        text=resolve_column(frame, args.text_col) if args.text_col else guessed.text,
        label=resolve_column(frame, args.label_col) if args.label_col else guessed.label,
        group=resolve_column(frame, args.group_col) if args.group_col else None,
        split=resolve_column(frame, args.split_col) if args.split_col else None,
    )
    return read, mapping, name, filename


def cmd_inspect(args: argparse.Namespace) -> int:
    from slm_core.data.validate import format_report, validate

    read, mapping, _, _ = read_source(args)
    report = validate(read.frame, mapping, read.detected)
    if args.json:
        data = report.to_dict()
        data.update(
            encoding=read.detected.encoding,
            delimiter=read.detected.delimiter,
            header=read.detected.header,
            format=read.detected.format,
        )
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(format_report(report))
    if not report.trainable:
        print(f"error: not trainable: {report.errors[0].message}", file=sys.stderr)
        return EXIT_USER
    return EXIT_OK


def add_commands(sub) -> None:
    add_source_args(
        add_command(sub, "inspect", cmd_inspect, "validate a data file and print its DataReport")
    )
