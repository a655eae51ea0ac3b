"""Page speed in a real browser: server start to Home and Data, and a click to every other page.

Issue 14's goals: Home and Data interactive < 3 s after the server process starts, every other
page < 2 s after its sidebar link is clicked, with five stored runs. Measured with Playwright
driving Debian's Chromium against the app as ``make run`` starts it (``python -m ui.launch``)
on 127.0.0.1, in a fresh SLM_HOME holding the default demo (BBC News) and five finished runs
on it (four linear models and a one-epoch CNN, trained before the server starts).

*Interactive* = ``[data-testid='stApp']`` reports ``data-test-script-state='notRunning'`` and
the page's own title (its ``st.title``, in English) is drawn in the main area: the script
has run to its end, so everything it draws is on screen.

Per round (``--rounds``, default 3; each figure is the median over rounds):

* **cold start, Home**: a new server process; the clock starts just before the process is
  spawned and stops when Home is interactive in a new browser context (no cached assets);
* **first visit**: in that same server, a click on each other page's sidebar link, in sidebar
  order, to that page interactive (the first visit pays for what the page imports and caches);
* **warm visit**: the same clicks once more, in the same server;
* **cold start, Data**: another new server process, opened directly at ``/data``.

The reference, measured in the same run on the same machine and browser: a trivial two-page
Streamlit app (``st.navigation`` over two pages that draw a title and a line), its cold start
and a click to its second page. Every figure is also given as a multiple of the reference's,
which holds on other machines where the seconds do not.

Writes ``bench/results/pages.json`` and ``bench/results/pages.md``::

    python bench/pages.py                 # 3 rounds: ~4 min on 2 shared cores (load 2.5-4),
                                          # 1.5 of them training the five runs
    python bench/pages.py --rounds 1 --home /tmp/h   # a smoke run; /tmp/h set up once, reused
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# bench/ is this script's folder, so its helpers import by their own names.
from browser import CHROMIUM, IDLE, free_port, launch  # noqa: E402
from workers import print_result, run_worker  # noqa: E402

RESULTS = ROOT / "bench" / "results"
MAIN_TITLE = "[data-testid='stMain'] h1"
GOAL_START_S = 3.0  # Home and Data, from the server process's start
GOAL_CLICK_S = 2.0  # every other page, from the click on its sidebar link
START_PAGES = ("home", "data")
PAGE_TIMEOUT_S = 90
# The five stored runs: (model, preset, parameter overrides).
RUNS = (
    ("tfidf_lr", "quick", {}),
    ("tfidf_svm", "quick", {}),
    ("nb", "quick", {}),
    ("tfidf_lr", "balanced", {"C": 2.0}),
    ("cnn", "quick", {"epochs": 1, "vocab_size": 5000, "max_len_cap": 64}),
)

REFERENCE_ROUTER = """
import streamlit as st
st.navigation([st.Page("first.py", title="First", default=True),
               st.Page("second.py", title="Second"), st.Page("chart.py", title="Chart")]).run()
"""
# No element still waiting for its code (a skeleton stands in for it) and every chart drawn.
CHARTS_DRAWN = """() => !document.querySelector("[data-testid='stMain'] [data-testid='stSkeleton']")
    && [...document.querySelectorAll("[data-testid='stPlotlyChart']")]
        .every(chart => chart.querySelector('.main-svg'))"""
REFERENCE_CHART_PAGE = """
import plotly.graph_objects as go
import streamlit as st
st.title("Reference chart")
st.write("A trivial page with one Plotly chart.")
st.plotly_chart(go.Figure(go.Scatter(x=[1, 10, 100], y=[3, 1, 2])))
"""
REFERENCE_PAGE = """
import streamlit as st
st.title({title!r})
st.write("A trivial page: the reference for the app's pages.")
"""


# ------------------------------------------------------------------ the store (a worker)


def _work_setup() -> dict:
    """Store the default demo and train the five runs on it, in this process's SLM_HOME."""
    from slm_core import jobs
    from slm_core.data.demo import DEFAULT_DEMO
    from slm_core.dataset import demo_dataset
    from slm_core.store import RunStore

    store = RunStore()
    start = time.perf_counter()
    dataset = demo_dataset(store, DEFAULT_DEMO)  # what the app's sidebar does at start
    seconds = {"demo": time.perf_counter() - start}
    runs = []
    stored = store.list_runs(dataset_id=dataset.id, statuses=("succeeded",))
    if len(stored) >= len(RUNS):  # --home given again: its runs are reused
        runs = [{"id": r.id, "model": r.model_id, "preset": r.preset, "s": None} for r in stored]
    for model_id, preset, params in RUNS[len(runs) :]:
        start = time.perf_counter()
        run = store.create_run(dataset.id, model_id, preset, params)
        done = jobs.run_inline(store, run.id)
        if done.status != "succeeded":
            raise SystemExit(f"run {run.id} ({model_id}) {done.status}: {done.error}")
        runs.append(
            {"id": run.id, "model": model_id, "preset": preset, "s": time.perf_counter() - start}
        )
    return {
        "dataset": dataset.id,
        "name": dataset.name,
        "rows": dataset.rows,
        "seconds": seconds,
        "runs": runs,
    }


def _titles(dataset: str) -> list[tuple[str, str, str]]:
    """(page name, sidebar label, its English title) for every page, in sidebar order.

    The title is the page's first ``st.title(t("<key>"...))`` in English, naming ``dataset``
    where it names the active dataset (Present's does).
    """
    from slm_core.i18n import t
    from ui.navigation import PAGES

    out = []
    for entry in PAGES:
        source = (ROOT / entry.path).read_text(encoding="utf-8")
        found = re.search(r"st\.title\(\s*t\(\s*\"([^\"]+)\"", source)
        if found is None:
            raise SystemExit(f"{entry.path}: no st.title(t(...)) to wait for")
        title = t(found.group(1), "en", dataset=dataset)
        out.append((entry.name, t(entry.title, "en"), title))
    return out


# ------------------------------------------------------------------ server and browser


APP_COMMAND = ["-m", "ui.launch"]  # what `make run` runs: streamlit run app.py, warmed up


class Server:
    """``streamlit run <script>`` on a free port (the app: ``APP_COMMAND``, as ``make run``
    starts it); ``started`` is when the process was spawned."""

    def __init__(self, script: Path, home: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("a", encoding="utf-8")
        env = {**os.environ, "SLM_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "2"}
        env.pop("SLM_DATABASE_URL", None)
        self.started = time.perf_counter()
        run = APP_COMMAND if script == ROOT / "app.py" else ["-m", "streamlit", "run", str(script)]
        self.proc = subprocess.Popen(
            [sys.executable, *run, "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.port", str(self.port),
             "--browser.gatherUsageStats", "false",
             # No reloading of modules whose files change while it runs (edits elsewhere in
             # the tree would otherwise re-import them mid-measurement).
             "--server.fileWatcherType", "none"],
            cwd=script.parent, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if self.proc.poll() is not None:
                    self._log.close()
                    message = f"streamlit exited ({self.proc.returncode}); see {log}"
                    raise SystemExit(message) from None
                time.sleep(0.02)
        else:
            self.stop()
            raise SystemExit(f"streamlit did not listen within 90 s; see {log}")
        self.listening_s = time.perf_counter() - self.started

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def _interactive(page, title: str) -> None:
    """Wait until ``title`` is drawn in the main area, the script has run to its end and
    every Plotly chart on screen is drawn (the first chart of a session waits for the browser
    to load Plotly's JavaScript, ~4.6 MB; while it parses, the page does not respond)."""
    exact = re.compile(rf"^\s*{re.escape(title)}\s*$")  # "Value" is in "SLM Value Lab" too
    page.locator(MAIN_TITLE, has_text=exact).first.wait_for(timeout=PAGE_TIMEOUT_S * 1000)
    page.wait_for_selector(IDLE, timeout=PAGE_TIMEOUT_S * 1000)
    page.wait_for_function(CHARTS_DRAWN, timeout=PAGE_TIMEOUT_S * 1000)


def _errors(page) -> list[str]:
    """Exceptions and error boxes on screen (a fast page that failed must not pass)."""
    found = page.locator("[data-testid='stException'], [data-testid='stAlertContentError']")
    return [" ".join(text.split())[:300] for text in found.all_inner_texts()]


def _cold(browser, server: Server, path: str, title: str) -> dict:
    """Seconds from the server process's spawn to ``path`` interactive in a new context."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(f"{server.url}/{path}", timeout=PAGE_TIMEOUT_S * 1000)
        _interactive(page, title)
        seconds = time.perf_counter() - server.started
    except Exception as exc:  # a timeout: recorded, the other pages are still measured
        context.close()
        return {"s": None, "error": str(exc).splitlines()[0][:200]}
    return {"s": seconds, "listening_s": server.listening_s, "errors": _errors(page),
            "_context": context, "_page": page}  # fmt: skip


def _click(page, label: str, title: str) -> dict:
    """Seconds from a click on the sidebar link ``label`` to its page interactive."""
    link = page.locator("[data-testid='stSidebarNav'] a", has_text=label).first
    start = time.perf_counter()
    link.click()
    try:
        _interactive(page, title)
    except Exception as exc:
        return {"s": None, "error": str(exc).splitlines()[0][:200]}
    seconds = time.perf_counter() - start
    charts = page.locator("[data-testid='stMain'] [data-testid='stPlotlyChart']").count()
    return {"s": seconds, "errors": _errors(page), "charts": charts}


def _close(result: dict) -> dict:
    context = result.pop("_context", None)
    result.pop("_page", None)
    if context is not None:
        context.close()
    return result


# ------------------------------------------------------------------ the measurements


def _measure_reference(browser, folder: Path, rounds: int) -> dict:
    """The trivial two-page app: cold start to its first page, click to its second."""
    (folder / "router.py").write_text(REFERENCE_ROUTER, encoding="utf-8")
    for name, title in (("first", "Reference first"), ("second", "Reference second")):
        text = REFERENCE_PAGE.format(title=title)
        (folder / f"{name}.py").write_text(text, encoding="utf-8")
    (folder / "chart.py").write_text(REFERENCE_CHART_PAGE, encoding="utf-8")
    cold, click, chart = [], [], []
    for _ in range(rounds):
        server = Server(folder / "router.py", folder / "home", folder / "streamlit.log")
        try:
            first = _cold(browser, server, "", "Reference first")
            if first["s"] is not None:
                click.append(_click(first["_page"], "Second", "Reference second"))
                chart.append(_click(first["_page"], "Chart", "Reference chart"))
            cold.append(_close(first))
        finally:
            server.stop()
    return {"cold_start": cold, "click": click, "chart": chart}


def _measure_app(browser, home: Path, rounds: int, pages: list, log: Path) -> dict:
    titles = {name: title for name, _, title in pages}
    out: dict[str, list] = {"home_cold": [], "data_cold": []}
    for name, _, _ in pages[1:]:
        out[f"{name}_first"] = []
        out[f"{name}_warm"] = []
    for r in range(rounds):
        server = Server(ROOT / "app.py", home, log)
        try:
            home_page = _cold(browser, server, "", titles["home"])
            print(f"round {r + 1}: home cold {home_page['s']}", file=sys.stderr, flush=True)
            page = home_page.get("_page")
            charted = False  # whether a page of this browser session drew a chart yet
            for visit in ("first", "warm") if page is not None else ():
                if visit == "warm":  # Present hides the sidebar: back to Home, not timed
                    page.goto(server.url, timeout=PAGE_TIMEOUT_S * 1000)
                    _interactive(page, titles["home"])
                for name, label, title in pages[1:]:
                    result = _click(page, label, title)
                    result["first_chart"] = not charted and bool(result.get("charts"))
                    charted = charted or result["first_chart"]
                    out[f"{name}_{visit}"].append(result)
                    print(f"  {name} {visit}: {result}", file=sys.stderr, flush=True)
            out["home_cold"].append(_close(home_page))
        finally:
            server.stop()
        server = Server(ROOT / "app.py", home, log)
        try:
            out["data_cold"].append(_close(_cold(browser, server, "data", titles["data"])))
            print(f"round {r + 1}: data cold {out['data_cold'][-1]}", file=sys.stderr)
        finally:
            server.stop()
    return out


def _median(results: list[dict]) -> float | None:
    values = [r["s"] for r in results if r.get("s") is not None]
    return statistics.median(values) if len(values) == len(results) and values else None


def _rows(report: dict) -> list[dict]:
    """One table row per (page, measure): median, runs, multiple of the reference, goal, met."""
    ref = report["reference"]
    ref_cold, ref_click = _median(ref["cold_start"]), _median(ref["click"])
    ref_chart = _median(ref.get("chart", []))
    rows = []
    for name, label, _ in report["pages"]:
        measures = (
            [("cold", "cold start (server spawn → interactive)", ref_cold, GOAL_START_S)]
            if name in START_PAGES
            else []
        )
        if name != "home":
            measures += [
                ("first", "first visit (click → interactive)", ref_click, GOAL_CLICK_S),
                ("warm", "warm visit (click → interactive)", ref_click, GOAL_CLICK_S),
            ]
        for key, measure, reference, goal in measures:
            results = report["app"].get(f"{name}_{key}", [])
            if not results:
                continue
            if any(r.get("first_chart") for r in results):  # compared with the chart page
                measure, reference = f"{measure}, the session's first chart", ref_chart
            median = _median(results)
            failed = [r["error"] for r in results if r.get("error")]
            errors = sorted({e for r in results for e in r.get("errors", [])})
            rows.append(
                {
                    "page": label,
                    "measure": measure,
                    "median_s": median,
                    "runs_s": [r.get("s") for r in results],
                    "x_reference": median / reference if median and reference else None,
                    "goal_s": goal,
                    "met": bool(median is not None and median < goal and not errors),
                    "errors_on_screen": errors,
                    "failed": failed,
                }
            )
    return rows


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _markdown(report: dict) -> str:
    ref = report["reference"]
    setup = report["setup"]
    runs = ", ".join(f"{r['model']} ({r['preset']})" for r in setup["runs"])
    load = report["load_average_1min"]
    lines = [
        "# Page speed in a real browser",
        "",
        f"{report['machine']} (1-minute load average {load['start']:.1f} at the start, "
        f"{load['end']:.1f} at the end); Chromium headless via Playwright; "
        f"{report['rounds']} rounds, median shown. Store: the BBC News demo "
        f"({setup['rows']:,} rows) and five finished runs on it: {runs}.",
        "",
        "*Cold start*: the clock starts when the app's server is spawned as `make run` starts "
        "it (`python -m ui.launch`: `streamlit run app.py` with the app's modules imported "
        "while the browser loads) and stops when the "
        "page is interactive in a new browser context (script state `notRunning`, the "
        "page's title drawn and every Plotly chart on screen drawn); a new server process each "
        "round, Data opened at `/data`. "
        "*First visit*: a click on the page's sidebar link in the server that has just shown "
        "Home, pages in sidebar order. *Warm visit*: the same click again in the same server. "
        "Servers run with `--server.fileWatcherType none` (no module reloads mid-measurement).",
        "",
        f"Reference, measured in the same run: a trivial two-page Streamlit app (a title and a "
        f"line each): cold start {_fmt(_median(ref['cold_start']))} s, click to its second page "
        f"{_fmt(_median(ref['click']))} s. *× reference* divides by the reference of the same "
        "kind (cold start or click). The same app's third page, a title and one small Plotly "
        f"chart, the first chart of the session: {_fmt(_median(ref.get('chart', [])))} s from "
        "the click, most of it the browser loading and parsing Plotly's JavaScript; the app's "
        "first page to draw a chart pays that once too, and is compared with it.",
        "",
        "| page | measure | median s | runs s | × reference | goal s | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        runs_s = " / ".join(_fmt(v, 1) for v in row["runs_s"])
        met = "yes" if row["met"] else "**no**"
        if row["failed"]:
            met += f" (failed: {row['failed'][0][:60]})"
        elif row["errors_on_screen"]:
            met += f" (error on screen: {row['errors_on_screen'][0][:80]})"
        lines.append(
            f"| {row['page']} | {row['measure']} | {_fmt(row['median_s'])} | {runs_s} "
            f"| {_fmt(row['x_reference'], 1)}{'×' if row['x_reference'] else ''} "
            f"| < {row['goal_s']:g} | {met} |"
        )
    cold = report["app"]["home_cold"]
    listening = [r.get("listening_s") for r in cold if r.get("listening_s") is not None]
    if listening:
        lines += [
            "",
            f"Of Home's cold start, the server process took {_fmt(statistics.median(listening))} "
            "s (median) to listen on its port; the rest is the browser loading the app's page, "
            "its websocket and the first script run.",
        ]
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="server starts per measure")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument(
        "--home",
        help="an SLM_HOME to set up (or reuse, if set up before) instead of a throw-away one",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker == "setup":
        print_result(_work_setup())
        return 0
    if not Path(CHROMIUM).exists():
        print(f"error: {CHROMIUM} is missing (make browser installs it)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    began = time.perf_counter()
    load_before = os.getloadavg()[0]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="slm_pages_bench_") as tmp:
        home = Path(args.home).resolve() if args.home else Path(tmp) / "home"
        home.mkdir(parents=True, exist_ok=True)
        old_home = os.environ.get("SLM_HOME")
        os.environ["SLM_HOME"] = str(home)
        try:
            setup = run_worker([sys.executable, __file__, "--worker", "setup"])
        finally:
            if old_home is None:
                os.environ.pop("SLM_HOME")
            else:
                os.environ["SLM_HOME"] = old_home
        if "error" in setup:
            print(f"error: setting up the store failed:\n{setup['error']}", file=sys.stderr)
            return 1
        print(f"setup: {setup}", file=sys.stderr, flush=True)
        pages = _titles(setup["name"])
        reference_dir = Path(tmp) / "reference"
        reference_dir.mkdir()
        with sync_playwright() as p:
            browser = launch(p)
            try:
                reference = _measure_reference(browser, reference_dir, args.rounds)
                print(f"reference: {reference}", file=sys.stderr, flush=True)
                app = _measure_app(browser, home, args.rounds, pages, Path(tmp) / "app.log")
            finally:
                browser.close()
    report = {
        "benchmark": "pages",
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        ),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "rounds": args.rounds,
        "goals_s": {"start": GOAL_START_S, "click": GOAL_CLICK_S},
        "pages": pages,
        "setup": setup,
        "reference": reference,
        "app": app,
        "seconds_total": None,
        # Other work on the machine stretches every figure; the ratios hold up better.
        "load_average_1min": {"start": load_before, "end": os.getloadavg()[0]},
    }
    report["rows"] = _rows(report)
    report["seconds_total"] = time.perf_counter() - began
    (out / "pages.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (out / "pages.md").write_text(_markdown(report), encoding="utf-8")
    print(_markdown(report))
    print(f"({report['seconds_total']:.0f} s in all)", file=sys.stderr)
    failed = [row for row in report["rows"] if row["failed"]]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
