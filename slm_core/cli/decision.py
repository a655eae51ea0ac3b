"""The decision for a dataset: ``value`` (every option's scorecards, in a table or JSON) and
``report`` (the self-contained HTML report)."""

from __future__ import annotations

import argparse
import json

from slm_core.cli.common import (
    EXIT_OK,
    add_command,
    add_dataset_arg,
    add_json_arg,
    add_scenario_args,
    open_store,
    scenario,
)


def cmd_value(args: argparse.Namespace) -> int:
    from slm_core.value import build_scorecards, format_value_report

    store = open_store()
    dataset = store.find_dataset(args.dataset)
    report = build_scorecards(store, dataset.id, scenario(args))
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        print(format_value_report(report, lang=args.lang))
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from slm_core.report import write_report

    store = open_store()
    dataset = store.find_dataset(args.dataset)
    path = write_report(store, dataset.id, args.out, lang=args.lang, assumptions=scenario(args))
    print(json.dumps({"path": str(path)}) if args.json else f"wrote {path}")
    return EXIT_OK


def add_commands(sub) -> None:
    p = add_command(
        sub, "value", cmd_value, "the decision and every option's business and social scorecards"
    )
    add_dataset_arg(p)
    add_scenario_args(p)
    p.add_argument("--lang", default="en", choices=["en", "zh"], help="language of the table")
    add_json_arg(p)
    p = add_command(
        sub, "report", cmd_report, "self-contained HTML report of a dataset's runs (opens offline)"
    )
    add_dataset_arg(p)
    p.add_argument("--out", default="report.html", help="output file (or folder)")
    p.add_argument("--lang", default="en", choices=["en", "zh"], help="report language")
    add_scenario_args(p)
    add_json_arg(p)
