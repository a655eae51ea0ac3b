"""`make bench`: run every benchmark in its own process and list what each one wrote.

Each benchmark measures the product's path and a reference in the same run and reports ratios,
so results are comparable across machines. Results land in bench/results/*.json and *.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# (script, extra args): the small-data table takes 1-2 hours on 2 cores, the others minutes.
BENCHMARKS: list[tuple[str, list[str]]] = [
    # Page speed in Chromium: 9 server starts, clicks through every page (~4 min).
    ("pages.py", []),
    ("train_bench.py", []),
    # 3 corpora x 4 sizes x 3 seeds x 7 models.
    ("small_data_bench.py", []),
    ("inference_bench.py", []),
    # The pretrained encoder: texts/s at 1 and 2 threads, minilm_head's accuracy (~45 min).
    ("pretrained_bench.py", []),
    # A 100k- and a 1M-row CSV streamed in bounded memory, against the in-memory path (~4 min).
    ("ingest_bench.py", []),
    # Results, Cost and Value on a 1M-row dataset against the demo (~15 min).
    ("large_pages.py", []),
]


def main() -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    failed = []
    for script, args in BENCHMARKS:
        path = HERE / script
        if not path.exists():
            print(f"skip {script}: not present", flush=True)
            continue
        print(f"== {script} {' '.join(args)}", flush=True)
        code = subprocess.call([sys.executable, str(path), *args], cwd=ROOT, env=env)
        if code:
            failed.append(script)
    for md in sorted((HERE / "results").glob("*.md")):
        print(f"\n--- {md.relative_to(ROOT)} ---\n{md.read_text(encoding='utf-8')}")
    if failed:
        print(f"error: benchmark(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
