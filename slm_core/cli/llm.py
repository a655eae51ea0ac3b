"""``llm``: measure a hosted LLM (an OpenAI-compatible chat-completions API) on a stratified
sample of a dataset's test split, in this process, and compare the small models on the same
texts."""

from __future__ import annotations

import argparse
import json
import os
import sys

from slm_core.cli.common import (
    EXIT_OK,
    EXIT_USER,
    add_command,
    add_dataset_arg,
    add_json_arg,
    open_store,
)
from slm_core.errors import SlmError


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

    store = open_store()
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

    add_dataset_arg(p)
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
    add_json_arg(p)
    p.epilog = "The API key is read from SLM_LLM_API_KEY (or OPENAI_API_KEY), never an argument."


def add_commands(sub) -> None:
    help_ = "measure a hosted LLM (OpenAI-compatible API) on a sample of the test split"
    _add_llm_args(add_command(sub, "llm", cmd_llm, help_))
