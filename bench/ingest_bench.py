"""Ingestion benchmark: a large CSV read, validated, de-duplicated and stored in bounded memory.

Generates CSV files of 100,000 and 1,000,000 rows (``--sizes``) in a temporary folder: tweets
from the tweets demo with random word substitutions, their labels, some exact and near
duplicates (same text key), a few conflicting labels, empty texts and unlabelled rows. For each
size, each path runs in a fresh subprocess, so its peak RSS (``ru_maxrss``) is its own:

* **streamed** (the app's path for large files, what ``python -m slm_core ingest`` runs above
  ``SLM_STREAM_MB``): column guess from the head, then ``stream_dataset`` in chunks (read,
  canonicalise, validate, hash, write Parquet row groups) and ``register_streamed`` into a
  throw-away run store;
* **in memory** (the app's path for uploads: ``read_table`` + ``prepare_dataset`` +
  ``register_dataset``), for comparison (``--no-memory-path`` skips it);
* **reference**: ``pyarrow.csv.read_csv`` of the same file, every column as a string (reading
  only: no validation, no key, no Parquet), the fastest whole-file reader at hand.

Reports rows/s, peak RSS, and the growth of time and memory from the smallest to the largest
size (time x10 for x10 rows = linear). Goal (issue 16): 1M rows under 4 GiB peak and under 2
minutes on this 2-CPU machine. Writes ``bench/results/ingest.json`` and ``ingest.md``.

    nice python bench/ingest_bench.py [--sizes 100000,1000000] [--chunk-rows 50000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results"
GOAL_ROWS = 1_000_000
GOAL_SECONDS = 120.0
GOAL_RSS_MB = 4 * 1024.0
PATHS = ("streamed", "memory", "reference")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="100000,1000000", help="comma-separated row counts")
    p.add_argument("--chunk-rows", type=int, default=None, help="rows per chunk (default: app's)")
    p.add_argument("--no-memory-path", action="store_true", help="skip the in-memory path")
    p.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--child", choices=PATHS, help=argparse.SUPPRESS)
    p.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    return p.parse_args(argv)


# ----------------------------------------------------------------------------- data


def generate(path: Path, rows: int, seed: int) -> dict:
    """Write a CSV of ``rows`` labelled short texts; returns what was planted."""
    from slm_core.data.demo import load_demo

    read, mapping = load_demo("tweets")
    frame = read.frame
    base = [
        (t, y)
        for t, y in zip(frame[mapping.text].tolist(), frame[mapping.label].tolist(), strict=True)
        if t.strip()
    ]
    vocab = sorted({w for t, _ in base[:5000] for w in t.split() if w.isalpha()})
    labels = sorted({y for _, y in base})
    rng = random.Random(seed)
    planted = {"exact_repeats": 0, "empty_texts": 0, "unlabelled": 0, "relabelled": 0}
    recent: list[tuple[str, str]] = []
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text", "label"])
        for i in range(rows):
            draw = rng.random()
            if draw < 0.05 and recent:  # an earlier row again (a duplicate)
                text, label = rng.choice(recent)
                planted["exact_repeats"] += 1
                if draw < 0.002:  # ... with another label (a conflict)
                    label = rng.choice(labels)
                    planted["relabelled"] += 1
            elif draw < 0.06:
                text, label = "", rng.choice(labels)
                planted["empty_texts"] += 1
            else:
                text, label = rng.choice(base)
                words = text.split()
                for _ in range(rng.randint(1, 3)):  # word substitutions: mostly new texts
                    words[rng.randrange(len(words))] = rng.choice(vocab)
                text = " ".join(words)
                if draw > 0.995:
                    label = ""
                    planted["unlabelled"] += 1
            if len(recent) < 10_000:
                recent.append((text, label))
            elif rng.random() < 0.01:
                recent[rng.randrange(len(recent))] = (text, label)
            writer.writerow([i, text, label])
    return planted


# ----------------------------------------------------------------------------- children


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(args: argparse.Namespace) -> dict:
    """One path on one file, in this fresh process: seconds, peak RSS, what it found."""
    os.environ["SLM_HOME"] = str(args.home)
    import pandas  # noqa: F401  (imports are not the work measured)
    import pyarrow.csv
    import pyarrow.parquet  # noqa: F401

    from slm_core.data import stream, validate  # noqa: F401
    from slm_core.store import RunStore

    store = RunStore() if args.child != "reference" else None
    rss_before = _rss_mb()
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    out: dict = {}
    if args.child == "streamed":
        from slm_core.data.columns import guess_mapping

        mapping = guess_mapping(stream.read_head(args.file).frame)
        result = stream.stream_dataset(
            args.file,
            mapping,
            out=store.staging_path(),
            chunk_rows=args.chunk_rows or stream.CHUNK_ROWS,
        )
        record = stream.register_streamed(store, result, source="cli")
        out = {
            "dataset_id": record.id,
            "report": result.report.to_dict(),
            "chunks": result.chunks,
            "max_chunk_rows": result.max_chunk_rows,
        }
    elif args.child == "memory":
        from slm_core.data.columns import guess_mapping
        from slm_core.data.io import read_table
        from slm_core.dataset import prepare_dataset, register_dataset

        read = read_table(args.file.read_bytes(), args.file.name)
        prepared = prepare_dataset(read, guess_mapping(read.frame), args.file.stem)
        record = register_dataset(store, prepared, source="cli")
        out = {"dataset_id": record.id, "report": prepared.report.to_dict()}
    else:
        options = pyarrow.csv.ConvertOptions(
            column_types={"id": "string"}, strings_can_be_null=False
        )
        table = pyarrow.csv.read_csv(args.file, convert_options=options)
        out = {"rows": table.num_rows}
    seconds = time.perf_counter() - started
    out["cpu_seconds"] = _cpu_seconds() - cpu_before
    if "report" in out:
        out["rows"] = out["report"]["rows"]
    return {**out, "seconds": seconds, "rss_before_mb": rss_before, "peak_rss_mb": _rss_mb()}


def _run_child(path: str, file: Path, args: argparse.Namespace, home: Path) -> dict:
    command = [sys.executable, __file__, "--child", path, "--file", str(file), "--home", str(home)]
    if args.chunk_rows:
        command += ["--chunk-rows", str(args.chunk_rows)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        raise SystemExit(f"{path} on {file.name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- report


def _fmt(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def write_markdown(result: dict, target: Path) -> None:
    sizes = result["sizes"]
    runs = result["runs"]
    lines = [
        "# Ingestion benchmark (large CSV, streamed in bounded memory)",
        "",
        f"Generated {result['generated']} on {result['platform']}, {result['cpus']} logical "
        f"CPUs (run under `nice`, machine shared). Chunk: {result['chunk_rows']:,} rows. "
        "Every path runs in a fresh process; peak RSS is that process's `ru_maxrss` "
        "(Python, pandas and pyarrow themselves included; 'before' is after the imports).",
        "",
        "## Goal (issue 16): 1M rows < 4 GiB peak RSS and < 2 minutes",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for goal in result["goals"]:
        lines.append(
            f"| {goal['target']} | {goal['measured']} | {'yes' if goal['met'] else 'no'} |"
        )
    lines += [
        "",
        "## Each path at each size",
        "",
        "| rows | path | seconds | CPU s | rows/s | peak RSS MB | RSS before work MB | file MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size in sizes:
        for path in PATHS:
            run = runs.get(str(size), {}).get(path)
            if run is None:
                continue
            lines.append(
                f"| {size:,} | {path} | {_fmt(run['seconds'])} | {_fmt(run['cpu_seconds'])} "
                f"| {run['rows'] / run['seconds']:,.0f} | {_fmt(run['peak_rss_mb'])} "
                f"| {_fmt(run['rss_before_mb'])}"
                f" | {_fmt(result['files'][str(size)]['mb'])} |"
            )
    lines += [
        "",
        "## Growth from the smallest to the largest size",
        "",
        "| path | rows × | wall time × | CPU time × (≈ rows × is linear) | peak RSS × "
        "| streamed wall time / path's |",
        "|---|---|---|---|---|---|",
    ]
    for row in result["growth"]:
        lines.append(
            f"| {row['path']} | {row['rows_ratio']:.0f} | {row['time_ratio']:.2f} "
            f"| {row['cpu_ratio']:.2f} "
            f"| {row['rss_ratio']:.2f} | {row['streamed_vs_path']} |"
        )
    largest = str(sizes[-1])
    streamed = runs[largest]["streamed"]
    report = streamed["report"]
    lines += [
        "",
        f"## What the streamed path found in the {int(largest):,}-row file",
        "",
        f"Rows {report['rows']:,}; empty texts {report['empty_texts']:,}; duplicate rows "
        f"{report['duplicate_rows']:,}; conflicting texts {report['conflicting_texts']:,}; "
        f"classes {len(report['classes'])}; {streamed['chunks']} chunks of at most "
        f"{streamed['max_chunk_rows']:,} rows. Planted: "
        + ", ".join(
            f"{k.replace('_', ' ')} {v:,}" for k, v in result["files"][largest]["planted"].items()
        )
        + " (the substitutions also make near duplicates that share a text key).",
    ]
    if "memory" in runs[largest]:
        same = runs[largest]["memory"]["dataset_id"] == streamed["dataset_id"]
        lines += [
            "",
            f"Same dataset id from the streamed and in-memory paths: {'yes' if same else 'no'} "
            f"(`{streamed['dataset_id']}`): same canonical rows, same content hash.",
        ]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.child:
        print(json.dumps(child(args)))
        return 0
    from slm_core.data.stream import CHUNK_ROWS

    sizes = sorted(int(s) for s in args.sizes.split(",") if s.strip())
    paths = [p for p in PATHS if not (p == "memory" and args.no_memory_path)]
    work = Path(tempfile.mkdtemp(prefix="slm_ingest_bench_"))
    files: dict[str, dict] = {}
    runs: dict[str, dict] = {}
    try:
        for size in sizes:
            file = work / f"rows_{size}.csv"
            started = time.perf_counter()
            planted = generate(file, size, args.seed)
            files[str(size)] = {
                "mb": file.stat().st_size / 1024 / 1024,
                "planted": planted,
                "generate_seconds": time.perf_counter() - started,
            }
            print(f"generated {size:,} rows ({files[str(size)]['mb']:.1f} MB)", flush=True)
            runs[str(size)] = {}
            for path in paths:
                home = work / f"home_{size}_{path}"
                run = _run_child(path, file, args, home)
                shutil.rmtree(home, ignore_errors=True)
                runs[str(size)][path] = run
                print(
                    f"  {path:<9} {run['seconds']:7.1f} s  {run['rows'] / run['seconds']:>10,.0f}"
                    f" rows/s  peak RSS {run['peak_rss_mb']:,.0f} MB",
                    flush=True,
                )
            file.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    small, large = str(sizes[0]), str(sizes[-1])
    growth = []
    for path in paths:
        a, b = runs[small][path], runs[large][path]
        s = runs[large]["streamed"]
        growth.append(
            {
                "path": path,
                "rows_ratio": sizes[-1] / sizes[0],
                "time_ratio": b["seconds"] / a["seconds"],
                "cpu_ratio": b["cpu_seconds"] / a["cpu_seconds"],
                "rss_ratio": b["peak_rss_mb"] / a["peak_rss_mb"],
                "streamed_vs_path": "1"
                if path == "streamed"
                else f"{s['seconds'] / b['seconds']:.2f}",
            }
        )
    goals = []
    if str(GOAL_ROWS) in runs:
        s = runs[str(GOAL_ROWS)]["streamed"]
        goals = [
            {
                "target": "1M rows: peak RSS < 4 GiB",
                "measured": f"{s['peak_rss_mb']:,.0f} MB",
                "met": s["peak_rss_mb"] < GOAL_RSS_MB,
            },
            {
                "target": "1M rows: < 120 s",
                "measured": f"{s['seconds']:.1f} s",
                "met": s["seconds"] < GOAL_SECONDS,
            },
        ]
    streamed_growth = growth[0]
    # CPU time, not wall time: on a shared machine other work stretches the longer run's wall
    # time more (both are in the table).
    goals.append(
        {
            "target": f"CPU time grows about linearly ({sizes[-1] // sizes[0]}× rows: ≤ 1.3× that)",
            "measured": f"{streamed_growth['cpu_ratio']:.2f}× "
            f"(wall {streamed_growth['time_ratio']:.2f}×)",
            "met": streamed_growth["cpu_ratio"] <= 1.3 * streamed_growth["rows_ratio"],
        }
    )
    result = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "chunk_rows": args.chunk_rows or CHUNK_ROWS,
        "sizes": sizes,
        "files": files,
        "runs": runs,
        "growth": growth,
        "goals": goals,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ingest.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    write_markdown(result, args.out / "ingest.md")
    print((args.out / "ingest.md").read_text(encoding="utf-8"))
    return 0 if all(g["met"] for g in goals) else 1


if __name__ == "__main__":
    raise SystemExit(main())
