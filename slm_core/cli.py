"""Headless command line: ``python -m slm_core <command> ...``.

Every command prints a human table, or JSON with ``--json``. A user error exits 2 with a single
line on stderr; nothing a user can cause ends in a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from slm_core.errors import SlmError

EXIT_OK, EXIT_CRASH, EXIT_USER = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors on one line with exit 2 (its own code too)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        # prog is "slm_core" for the top level and "slm_core train" for a sub-command.
        help_cmd = " ".join(["python -m slm_core", *self.prog.split()[1:], "-h"])
        self.exit(EXIT_USER, f"error: {message} (see `{help_cmd}`)\n")


def _add_source_args(p: argparse.ArgumentParser) -> None:
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
    p.add_argument("--json", action="store_true", help="print JSON")


def _read_source(args: argparse.Namespace):
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

    read, mapping, _, _ = _read_source(args)
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


def _store():
    from slm_core.store import RunStore

    store = RunStore()
    store.mark_interrupted()
    return store


def cmd_train(args: argparse.Namespace) -> int:
    from slm_core import jobs
    from slm_core.data.types import SplitConfig
    from slm_core.dataset import expected_train_rows, prepare_dataset, register_dataset
    from slm_core.models.registry import MODEL_IDS, PRESETS, resolve_params

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODEL_IDS]
    if unknown or not models:
        raise SlmError(
            "errors.cli.unknown_models",
            models=", ".join(unknown) or "(none)",
            choices=", ".join(MODEL_IDS),
        )
    if args.preset not in PRESETS:
        raise SlmError("errors.cli.unknown_preset", preset=args.preset, choices=", ".join(PRESETS))
    overrides = {"epochs": args.epochs} if args.epochs is not None else {}
    # Validate every model's parameters before anything is stored or trained.
    params = {m: resolve_params(m, args.preset, overrides) for m in models}

    read, mapping, name, filename = _read_source(args)
    prepared = prepare_dataset(read, mapping, name, filename, SplitConfig(seed=args.seed))
    # Presets may depend on the training split's size: resolve again now that it is known.
    n_train = expected_train_rows(prepared.report.to_dict(), asdict(prepared.split_config))
    params = {m: resolve_params(m, args.preset, overrides, n_train) for m in models}
    store = _store()
    dataset = register_dataset(store, prepared, source="cli")
    results = []
    for model_id in models:
        run_params = dict(params[model_id], seed=args.seed, split_seed=args.seed)
        run = store.create_run(dataset.id, model_id, args.preset, run_params)
        if not args.json:
            print(f"training {model_id} (run {run.id}) ...", file=sys.stderr)
        jobs.run_inline(store, run.id)
        results.append(_run_result(store.get_run(run.id)))
    if args.json:
        print(json.dumps({"dataset_id": dataset.id, "runs": results}, indent=2))
    else:
        print(f"dataset_id: {dataset.id}  ({dataset.name}, {dataset.rows} rows)")
        print(
            f"{'run':>5}  {'model':<12} {'status':<10} {'accuracy':>8} {'macro_f1':>8} "
            f"{'train_s':>8}  artifact"
        )
        for r in results:
            acc = f"{r['accuracy']:.4f}" if r["accuracy"] is not None else "-"
            f1 = f"{r['macro_f1']:.4f}" if r["macro_f1"] is not None else "-"
            secs = f"{r['train_seconds']:.1f}" if r["train_seconds"] is not None else "-"
            print(
                f"{r['run_id']:>5}  {r['model']:<12} {r['status']:<10} {acc:>8} {f1:>8} "
                f"{secs:>8}  {r['artifact_path'] or r['error'] or ''}"
            )
    failed = [r for r in results if r["status"] != "succeeded"]
    if failed:
        print(
            f"error: {len(failed)} run(s) did not succeed: "
            f"{failed[0]['model']}: {failed[0]['error']}",
            file=sys.stderr,
        )
        return EXIT_USER
    return EXIT_OK


def _run_result(run) -> dict:
    """What `train` and `retrain` print about one finished run."""
    metrics = run.metrics or {}
    return {
        "run_id": run.id,
        "model": run.model_id,
        "status": run.status,
        "error": run.error,
        "accuracy": metrics.get("accuracy"),
        "macro_f1": metrics.get("macro_f1"),
        "train_seconds": run.train_seconds,
        "artifact_path": run.artifact_path,
    }


def cmd_retrain(args: argparse.Namespace) -> int:
    from slm_core import jobs

    store = _store()
    store.restart_run(args.run)  # SlmError unless it is an interrupted, failed or cancelled run
    if not args.json:
        print(f"training run {args.run} again ...", file=sys.stderr)
    run = jobs.run_inline(store, args.run)
    result = _run_result(run)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"run {run.id} ({run.model_id}): {run.status}  {run.artifact_path or ''}")
    if run.status != "succeeded":
        print(f"error: run {run.id} did not succeed: {run.error}", file=sys.stderr)
        return EXIT_USER
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    from slm_core.evaluate import evaluate_run, format_evaluation

    result = evaluate_run(_store(), args.run, refresh=args.refresh)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_evaluation(result))
    return EXIT_OK


def _assumptions(args: argparse.Namespace):
    """The scenario of ``--assumptions`` (default: the built-in one) with ``--serving``."""
    from dataclasses import replace

    from slm_core.value.assumptions import Assumptions, load_assumptions

    a = load_assumptions(args.assumptions) if args.assumptions else Assumptions()
    serving = getattr(args, "serving", None)
    return replace(a, serving_mode=serving) if serving else a


def cmd_value(args: argparse.Namespace) -> int:
    from slm_core.value import build_scorecards, format_value_report

    store = _store()
    dataset = store.find_dataset(args.dataset)
    report = build_scorecards(store, dataset.id, _assumptions(args))
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        print(format_value_report(report, lang=args.lang))
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    from slm_core.runtime import bench_run, format_bench
    from slm_core.value.serving import money_summary

    store = _store()
    a = _assumptions(args)
    say = None if args.json else (lambda fraction, message: print(f"  {message}", file=sys.stderr))
    report = bench_run(store, args.run, args.threads, progress=say)
    if args.json:
        data = report.to_dict()
        data["money"] = money_summary(data, a)
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(format_bench(report, a))
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from slm_core.report import write_report

    store = _store()
    dataset = store.find_dataset(args.dataset)
    path = write_report(store, dataset.id, args.out, lang=args.lang, assumptions=_assumptions(args))
    print(json.dumps({"path": str(path)}) if args.json else f"wrote {path}")
    return EXIT_OK


# ------------------------------------------------------------------ the hosted LLM


def _llm_endpoint(args: argparse.Namespace):
    """The endpoint of ``--preset`` and/or ``--base-url``/``--model``, with the stated prices,
    and whether it needs an API key."""
    from datetime import date

    from slm_core.llm.endpoints import PRESETS_BY_KEY, Endpoint, is_local

    changes: dict = {"timeout_s": args.timeout, "concurrency": args.concurrency}
    if args.base_url:
        changes["base_url"] = args.base_url.strip()
    if args.model:
        changes["model"] = args.model.strip()
    if args.input_price is not None or args.output_price is not None:
        # Prices given here are the user's statement: say so, and when.
        changes.update(price_source="stated on the command line", price_date=str(date.today()))
        if args.input_price is not None:
            changes["input_price_per_m"] = args.input_price
        if args.output_price is not None:
            changes["output_price_per_m"] = args.output_price
    if args.preset:
        preset = PRESETS_BY_KEY.get(args.preset)
        if preset is None:
            raise SlmError(
                "errors.cli.unknown_preset", preset=args.preset, choices=", ".join(PRESETS_BY_KEY)
            )
        endpoint = Endpoint.from_preset(preset, **changes)
        local = not preset.needs_key
    else:
        if not changes.get("base_url") or not changes.get("model"):
            raise SlmError("errors.llm.no_endpoint")
        endpoint = Endpoint(**changes)
        local = False
    return endpoint, not (local or is_local(endpoint.base_url))


def _estimate_lines(run, budget: float | None) -> list[str]:
    e = run.params.get("estimate") or {}
    lines = [
        f"estimate: {e.get('n_texts', 0)} test texts, ~{e.get('input_tokens', 0):,.0f} input + "
        f"~{e.get('output_tokens', 0):,.0f} output tokens, ~${e.get('cost_usd', 0):.4f} at "
        f"{e.get('input_price_per_m', 0):g} / {e.get('output_price_per_m', 0):g} USD per 1M "
        "tokens (modelled)",
        "budget: none" if budget is None else f"budget: ${budget:.2f}",
    ]
    return lines


def _measure_here(store, run_id: int, key: str | None, say) -> None:
    """Run the measurement in a thread of this process; Ctrl-C cancels it cleanly (the answers
    so far are kept, to resume)."""
    import threading
    import time

    from slm_core.llm.job import measure

    failure: list[BaseException] = []

    def work() -> None:
        try:
            measure(store, run_id, key)
        except BaseException as exc:  # handed to the main thread
            failure.append(exc)

    worker = threading.Thread(target=work, name=f"llm-{run_id}", daemon=True)
    worker.start()
    shown, last = None, 0.0
    try:
        while worker.is_alive():
            worker.join(timeout=0.5)
            if say is not None and time.monotonic() - last >= 2.0:
                last = time.monotonic()
                progress = store.get_run(run_id).live
                step = (progress.batch, progress.batches)
                if step != shown and step[1]:
                    shown = step
                    say(f"  asked {step[0]} of {step[1]} texts")
    except KeyboardInterrupt:
        if say is not None:
            say("cancelling (the answers so far are kept) ...")
        store.request_cancel(run_id)
        worker.join()
    if failure:
        raise failure[0]


def _comparison_lines(store, m, lang: str) -> list[dict]:
    from slm_core.llm import model_runs
    from slm_core.llm.measurement import compare_runs_on_sample
    from slm_core.mcnemar import mcnemar_verdict
    from slm_core.value.inputs import run_label

    runs = model_runs(store.list_runs(dataset_id=m.dataset_id, statuses=("succeeded",)))
    out = []
    for c in compare_runs_on_sample(store, m, runs):
        name = run_label(c.run_id, c.model_id)
        row = c.to_dict()
        row.update(label=name, verdict=mcnemar_verdict(c.test, name, m.label, lang) if c.n else "")
        out.append(row)
    return out


def cmd_llm(args: argparse.Namespace) -> int:
    from slm_core.llm.endpoints import key_for, redact
    from slm_core.llm.job import create_measurement
    from slm_core.llm.measurement import load_measurement
    from slm_core.llm.prompt import FEW_SHOT, PromptSpec
    from slm_core.store.records import jsonable

    store = _store()
    dataset = store.find_dataset(args.dataset)
    endpoint, needs_key = _llm_endpoint(args)
    key, _, _ = key_for(endpoint.base_url, None, (("env", os.environ.get),))
    if needs_key and not key:
        raise SlmError("errors.llm.no_key")
    spec = PromptSpec.default(args.lang, args.prompt, args.shots if args.prompt == FEW_SHOT else 0)
    run_id = create_measurement(store, dataset.id, endpoint, spec, args.sample, args.budget)
    estimate = dict(store.get_run(run_id).params.get("estimate") or {})
    # Text: the estimate first, then progress, then the result, all on stdout (stderr holds an
    # error's one line only). JSON: one document at the end, the estimate inside it.
    say = None if args.json else (lambda text: print(text, flush=True))
    if say is not None:
        say(f"run {run_id}: measuring {endpoint.model} at {endpoint.base_url}")
        for line in _estimate_lines(store.get_run(run_id), args.budget):
            say(line)
    _measure_here(store, run_id, key, say)

    run = store.get_run(run_id)
    if run.status != "succeeded":
        reason = redact(" ".join(str(run.error or run.status).split()), key)
        if args.json:
            failed = {"run_id": run_id, "status": run.status, "error": reason}
            print(json.dumps({**failed, "estimate": estimate}, ensure_ascii=False))
        print(f"error: measurement run {run_id} {run.status}: {reason}", file=sys.stderr)
        return EXIT_USER
    m = load_measurement(store, run_id)
    comparisons = _comparison_lines(store, m, args.lang)
    if args.json:
        out = {
            "run_id": run_id,
            "dataset_id": dataset.id,
            "status": run.status,
            "summary": m.summary(),
            "estimate": estimate,
            "comparisons": comparisons,
        }
        # A comparison on no shared text has NaN figures: JSON null, not a crash after paying.
        print(json.dumps(jsonable(out), ensure_ascii=False, indent=2, allow_nan=False))
        return EXIT_OK
    print(_measurement_text(m, comparisons))
    return EXIT_OK


def _measurement_text(m, comparisons: list[dict]) -> str:
    """The measurement in a few lines, the way the Results and Cost pages state it."""
    low, high = m.accuracy_ci
    lines = [
        f"{m.label}: measured on {m.n} test texts (a stratified sample of {m.test_size}): "
        f"{m.accuracy:.1%} ({low:.1%}–{high:.1%}, Wilson 95%) accurate; "
        f"{m.unparseable} unparseable answers, {m.failed_calls} failed calls (counted wrong)",
        f"tokens per text: {m.input_tokens_per_text:,.1f} in + {m.output_tokens_per_text:,.1f} "
        f"out; spent ${m.cost_usd:.4f}; ${m.usd_per_million:,.2f} per 1M texts at "
        f"{m.endpoint.input_price_per_m:g} / {m.endpoint.output_price_per_m:g} USD per 1M tokens"
        f" ({m.endpoint.price_source or 'no price source'}, {m.endpoint.price_date or 'no date'})"
        " (measured)",
    ]
    if m.latency_p50_ms is not None:
        lines.append(
            f"latency per call: p50 {m.latency_p50_ms:,.0f} ms, p95 {m.latency_p95_ms:,.0f} ms"
        )
    if m.stopped == "budget":
        lines.append(f"stopped at the budget after {m.n} of {m.n_planned} planned texts")
    if comparisons:
        lines.append("small models on the same texts:")
        for c in comparisons:
            lo, hi = c["accuracy_ci"]
            lines.append(
                f"  {c['label']:<16} {c['accuracy']:.1%} ({lo:.1%}–{hi:.1%}) on {c['n']} texts; "
                f"{c['verdict']}"
            )
    return "\n".join(lines)


COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], str]] = {
    "inspect": (cmd_inspect, "validate a data file and print its DataReport"),
    "train": (cmd_train, "train models on a data file and store the runs"),
    "retrain": (cmd_retrain, "train an interrupted, failed or cancelled run again, same settings"),
    "evaluate": (cmd_evaluate, "full evaluation of a finished run (metrics with CIs, ...)"),
    "bench": (cmd_bench, "measure latency, size, memory, $ and energy of a finished run"),
    "value": (cmd_value, "the decision and every option's business and social scorecards"),
    "report": (cmd_report, "self-contained HTML report of a dataset's runs (opens offline)"),
    "llm": (cmd_llm, "measure a hosted LLM (OpenAI-compatible API) on a sample of the test split"),
}


def _add_scenario_args(p: argparse.ArgumentParser) -> None:
    from slm_core.value.assumptions import SERVING_MODES

    p.add_argument("--assumptions", help="scenario file (.toml or .json) with your assumptions")
    p.add_argument(
        "--serving",
        choices=SERVING_MODES,
        help="serving mode of the small models (default: the scenario's)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="slm_core", description="SLM Value Lab, headless.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("inspect", help=COMMANDS["inspect"][1])
    _add_source_args(p)
    p = sub.add_parser("train", help=COMMANDS["train"][1])
    _add_source_args(p)
    p.add_argument("--models", default="tfidf_lr", help="comma-separated model ids")
    p.add_argument("--preset", default="balanced", help="quick, balanced or thorough")
    p.add_argument("--epochs", type=int, help="override the preset's epochs (neural models)")
    p.add_argument("--seed", type=int, default=42, help="split and model seed")
    p = sub.add_parser("retrain", help=COMMANDS["retrain"][1])
    p.add_argument("--run", type=int, required=True, help="run id")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = sub.add_parser("evaluate", help=COMMANDS["evaluate"][1])
    p.add_argument("--run", type=int, required=True, help="run id")
    p.add_argument("--refresh", action="store_true", help="recompute instead of the cached one")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = sub.add_parser("bench", help=COMMANDS["bench"][1])
    p.add_argument("--run", type=int, required=True, help="run id")
    p.add_argument("--threads", type=int, help="measure only this thread count (default 1 and all)")
    _add_scenario_args(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p = sub.add_parser("value", help=COMMANDS["value"][1])
    p.add_argument("--dataset", required=True, help="dataset id, id prefix or name")
    _add_scenario_args(p)
    p.add_argument("--lang", default="en", choices=["en", "zh"], help="language of the table")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = sub.add_parser("report", help=COMMANDS["report"][1])
    p.add_argument("--dataset", required=True, help="dataset id, id prefix or name")
    p.add_argument("--out", default="report.html", help="output file (or folder)")
    p.add_argument("--lang", default="en", choices=["en", "zh"], help="report language")
    _add_scenario_args(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_llm_args(sub.add_parser("llm", help=COMMANDS["llm"][1]))
    return parser


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
        return value

    return parse


def _price(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def _add_llm_args(p: argparse.ArgumentParser) -> None:
    from slm_core.llm.endpoints import PRESETS_BY_KEY
    from slm_core.llm.plan import DEFAULT_SAMPLE

    p.add_argument("--dataset", required=True, help="dataset id, id prefix or name")
    p.add_argument("--base-url", help="the endpoint, e.g. https://api.openai.com/v1")
    p.add_argument("--model", help="model name, e.g. gpt-4o-mini")
    p.add_argument("--preset", help=f"start from a preset: {', '.join(PRESETS_BY_KEY)}")
    p.add_argument(
        "--sample", type=_positive(int), default=DEFAULT_SAMPLE, help="test texts to ask"
    )
    p.add_argument(
        "--budget", type=_positive(float), help="stop before spending more USD (default: none)"
    )
    p.add_argument("--prompt", choices=["zero", "few"], default="zero", help="zero- or few-shot")
    p.add_argument("--shots", type=_positive(int), default=2, help="few-shot examples per label")
    p.add_argument("--input-price", type=_price, help="USD per 1M input tokens")
    p.add_argument("--output-price", type=_price, help="USD per 1M output tokens")
    p.add_argument("--timeout", type=_positive(float), default=30.0, help="seconds per call")
    p.add_argument("--concurrency", type=_positive(int), default=4, help="calls at once")
    p.add_argument("--lang", default="en", choices=["en", "zh"], help="prompt and text language")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.epilog = "The API key is read from SLM_LLM_API_KEY (or OPENAI_API_KEY), never an argument."


def _storage_problem(exc: OSError) -> SlmError | None:
    """The data folder's 'not writable' or 'disk full' message for a failed write in SLM_HOME."""
    from slm_core.config import slm_home
    from slm_core.store.files import storage_error

    try:
        home = slm_home().resolve()
    except OSError:  # SLM_HOME itself cannot be made
        return storage_error(exc, os.environ.get("SLM_HOME", "SLM_HOME"))
    where = Path(exc.filename).resolve() if exc.filename else home
    return storage_error(exc, home) if where.is_relative_to(home) else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # said by the sub-command's parser, so the hint names that command's help
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        commands.choices[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    handler = COMMANDS[args.command][0]
    try:
        return handler(args)
    except SlmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_USER
    except OSError as exc:
        problem = _storage_problem(exc)
        if problem is None:
            print(f"error: unexpected failure ({type(exc).__name__}): {exc}", file=sys.stderr)
            return EXIT_CRASH
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USER
    except Exception as exc:  # last resort: one line, never a traceback
        print(f"error: unexpected failure ({type(exc).__name__}): {exc}", file=sys.stderr)
        return EXIT_CRASH
