"""Results, Cost and Value in a real browser on a million-row dataset, against the same pages on
the demo (issue 16: "evaluation, cost and value pages stay responsive on a 1M-row dataset").

Set-up, in a fresh SLM_HOME: a CSV of ``--rows`` labelled short texts (``ingest_bench.generate``:
tweets with words substituted, duplicates, conflicts and empty rows planted) ingested with
``python -m slm_core ingest`` (streamed), and two quick linear models trained on it with
``python -m slm_core train --dataset`` (out of core above ``SLM_OUT_OF_CORE_ROWS``); the
reference is the default demo (BBC News, 2,225 rows) with the same two models, in the same
SLM_HOME, measured in the same run by the same clicks.

Per round (``--rounds``, default 3; medians shown): a new server process (as ``make run``
starts it), Home opened on the dataset (``?dataset=``), then a click on Results, Cost and Value
in turn (*first visit*: the page computes and caches its figures) and the same clicks again
(*warm visit*), for the large dataset and for the demo. *Interactive* is as in
``bench/pages.py``: the page's title drawn, the script run to its end, every chart drawn.

Writes ``bench/results/large_pages.json`` and ``bench/results/large_pages.md``::

    python bench/large_pages.py                       # 1M rows: ~5 min on 2 quiet cores (~15 busy)
    python bench/large_pages.py --rows 50000 --rounds 1 --home /tmp/lp   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# bench/ is this script's folder, so its helpers import by their own names.
from browser import CHROMIUM, launch  # noqa: E402
from ingest_bench import generate  # noqa: E402

from pages import (  # noqa: E402
    GOAL_CLICK_S,
    PAGE_TIMEOUT_S,
    Server,
    _click,
    _errors,
    _interactive,
    _median,
)

RESULTS = ROOT / "bench" / "results"
MODELS = "tfidf_lr,nb"
PAGES = ("results", "cost", "value")


def _cli(home: Path, *args: str) -> dict:
    """``python -m slm_core ARGS --json`` in ``home``: its JSON answer and its seconds."""
    env = {**os.environ, "SLM_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop("SLM_DATABASE_URL", None)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "slm_core", *args, "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"slm_core {' '.join(args)} failed: {done.stderr[-1500:]}")
    return {"answer": json.loads(done.stdout), "s": seconds}


def _setup(home: Path, rows: int, folder: Path) -> dict:
    """The large dataset and the demo, each with the two models; what each step took."""
    csv_path = folder / "large.csv"
    start = time.perf_counter()
    planted = generate(csv_path, rows, seed=7)
    made = {"rows": rows, "bytes": csv_path.stat().st_size, "s": time.perf_counter() - start}
    ingest = _cli(home, "ingest", str(csv_path))
    large = ingest["answer"]["dataset_id"]
    csv_path.unlink()
    out = {
        "generated": made | {"planted": planted},
        "ingest_s": ingest["s"],
        "read_mode": ingest["answer"]["read_mode"]["mode"],
    }
    train = _cli(home, "train", "--dataset", large, "--models", MODELS, "--preset", "quick")
    demo = _cli(home, "train", "--demo", "bbc_news", "--models", MODELS, "--preset", "quick")
    out["large"] = {"dataset": large, "train_s": train["s"], "runs": _brief(home, train)}
    out["demo"] = {
        "dataset": demo["answer"]["dataset_id"],
        "train_s": demo["s"],
        "runs": _brief(home, demo),
    }
    return out


def _brief(home: Path, train: dict) -> list[dict]:
    """Each run's model, status, test accuracy and training mode (as the Train page says)."""
    from slm_core.store import RunStore

    store = RunStore(url=f"sqlite:///{home / 'runs.sqlite'}", home=home)  # as the CLI's
    out = []
    for run in train["answer"]["runs"]:
        metrics = store.get_run(run["run_id"]).metrics or {}
        mode = (metrics.get("training_mode") or {}).get("mode", "in_memory")
        out.append(
            {
                "model": run["model"],
                "status": run["status"],
                "accuracy": run.get("accuracy"),
                "training_mode": mode,
            }
        )
    return out


def _titles() -> dict[str, tuple[str, str]]:
    """Page name -> (sidebar label, English title) for the measured pages and Home."""
    from pages import _titles as all_titles

    return {name: (label, title) for name, label, title in all_titles("") if name != "present"}


def _measure(browser, home: Path, dataset: str, rounds: int, log: Path) -> dict:
    titles = _titles()
    out: dict[str, list] = {f"{p}_{v}": [] for p in PAGES for v in ("first", "warm")}
    for r in range(rounds):
        server = Server(ROOT / "app.py", home, log)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            page = context.new_page()
            page.goto(f"{server.url}/?dataset={dataset}", timeout=PAGE_TIMEOUT_S * 1000)
            _interactive(page, titles["home"][1])
            for visit in ("first", "warm"):
                for name in PAGES:
                    label, title = titles[name]
                    result = _click(page, label, title)
                    out[f"{name}_{visit}"].append(result)
                    print(f"  {dataset} round {r + 1} {name} {visit}: {result}", file=sys.stderr)
            out.setdefault("errors", []).extend(_errors(page))
        finally:
            context.close()
            server.stop()
    return out


def _rows(report: dict) -> list[dict]:
    rows = []
    for name in PAGES:
        for visit in ("first", "warm"):
            key = f"{name}_{visit}"
            large = _median(report["large"][key])
            demo = _median(report["demo"][key])
            errors = [e for r in report["large"][key] for e in r.get("errors", [])]
            rows.append(
                {
                    "page": name,
                    "visit": visit,
                    "large_s": large,
                    "demo_s": demo,
                    "ratio": large / demo if large and demo else None,
                    "met": large is not None and large < GOAL_CLICK_S and not errors,
                    "errors": errors,
                    "runs_s": [r.get("s") for r in report["large"][key]],
                }
            )
    return rows


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _markdown(report: dict) -> str:
    setup = report["setup"]
    gen = setup["generated"]
    lines = [
        "# Results, Cost and Value on a million-row dataset",
        "",
        f"{report['machine']} (1-minute load average {report['load_average_1min']['start']:.1f}"
        f" at the start, {report['load_average_1min']['end']:.1f} at the end); Chromium "
        f"headless via Playwright; rounds: {report['rounds']}, median shown.",
        "",
        f"Large dataset: {gen['rows']:,} generated rows ({gen['bytes'] / 1e6:,.0f} MB of CSV), "
        f"ingested ({'streamed' if setup['read_mode'] == 'stream' else 'read whole'}) in "
        f"{setup['ingest_s']:.0f} s; {MODELS.replace(',', ' and ')} "
        f"(quick) trained on it in {setup['large']['train_s']:.0f} s: "
        + "; ".join(
            f"{r['model']} {r['status']}, test accuracy {_fmt(r['accuracy'], 3)}, "
            f"{r['training_mode'].replace('_', ' ')}"
            for r in setup["large"]["runs"]
        )
        + ". Reference, measured in the same run by the same clicks: the BBC News demo (2,225 "
        "rows) with the same two models. *First visit*: a click on the page's sidebar link in a "
        "server that has just shown Home on that dataset; *warm visit*: the same click again.",
        "",
        "| page | visit | large s | runs s | demo s | × demo | goal s | met |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        runs = " / ".join(_fmt(s, 1) for s in row["runs_s"])
        lines.append(
            f"| {row['page'].title()} | {row['visit']} | {_fmt(row['large_s'])} | {runs} | "
            f"{_fmt(row['demo_s'])} | {_fmt(row['ratio'], 1)}× | < {GOAL_CLICK_S:g} | "
            f"{'yes' if row['met'] else '**no**'} |"
        )
    errors = sorted({e for row in report["rows"] for e in row["errors"]})
    lines += ["", f"Errors on screen: {'; '.join(errors) if errors else 'none'}.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--home", help="an SLM_HOME to set up (or reuse, with setup.json)")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"error: {CHROMIUM} is missing (make browser installs it)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    began = time.perf_counter()
    load_before = os.getloadavg()[0]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="slm_large_pages_") as tmp:
        home = Path(args.home).resolve() if args.home else Path(tmp) / "home"
        home.mkdir(parents=True, exist_ok=True)
        saved = home / "large_pages_setup.json"
        if saved.exists():
            setup = json.loads(saved.read_text(encoding="utf-8"))
        else:
            setup = _setup(home, args.rows, Path(tmp))
            saved.write_text(json.dumps(setup), encoding="utf-8")
        print(f"setup: {setup}", file=sys.stderr, flush=True)
        log = Path(tmp) / "app.log"
        with sync_playwright() as p:
            browser = launch(p)
            try:
                demo = _measure(browser, home, setup["demo"]["dataset"], args.rounds, log)
                large = _measure(browser, home, setup["large"]["dataset"], args.rounds, log)
            finally:
                browser.close()
    report = {
        "benchmark": "large_pages",
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        ),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "rounds": args.rounds,
        "goal_click_s": GOAL_CLICK_S,
        "setup": setup,
        "demo": demo,
        "large": large,
        # Other work on the machine stretches every figure; the ratios hold up better.
        "load_average_1min": {"start": load_before, "end": os.getloadavg()[0]},
    }
    report["rows"] = _rows(report)
    report["seconds_total"] = time.perf_counter() - began
    (out / "large_pages.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (out / "large_pages.md").write_text(_markdown(report), encoding="utf-8")
    print(_markdown(report))
    print(f"({report['seconds_total']:.0f} s in all)", file=sys.stderr)
    return 0 if all(not row["errors"] for row in report["rows"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
