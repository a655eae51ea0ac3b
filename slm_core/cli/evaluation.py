"""What a finished run measures: ``evaluate`` (accuracy and the rest, with intervals) and
``bench`` (latency, size, memory, and the money and energy of serving it)."""

from __future__ import annotations

import argparse
import json
import sys

from slm_core.cli.common import (
    EXIT_OK,
    add_command,
    add_json_arg,
    add_run_arg,
    add_scenario_args,
    open_store,
    scenario,
)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from slm_core.evaluate import evaluate_run, format_evaluation

    result = evaluate_run(open_store(), args.run, refresh=args.refresh)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_evaluation(result))
    return EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    from slm_core.runtime import bench_run, format_bench
    from slm_core.value.serving import money_summary

    store = open_store()
    a = scenario(args)
    say = None if args.json else (lambda fraction, message: print(f"  {message}", file=sys.stderr))
    report = bench_run(store, args.run, args.threads, progress=say)
    if args.json:
        data = report.to_dict()
        data["money"] = money_summary(data, a)
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(format_bench(report, a))
    return EXIT_OK


def add_commands(sub) -> None:
    p = add_command(
        sub, "evaluate", cmd_evaluate, "full evaluation of a finished run (metrics with CIs, ...)"
    )
    add_run_arg(p)
    p.add_argument("--refresh", action="store_true", help="recompute instead of the cached one")
    add_json_arg(p)
    p = add_command(
        sub, "bench", cmd_bench, "measure latency, size, memory, $ and energy of a finished run"
    )
    add_run_arg(p)
    p.add_argument("--threads", type=int, help="measure only this thread count (default 1 and all)")
    add_scenario_args(p)
    add_json_arg(p)
