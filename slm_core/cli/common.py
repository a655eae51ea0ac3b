"""What several commands share: exit codes, adding a sub-command and its usual arguments, the
run store, and the scenario (``--assumptions``, ``--serving``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Handler = Callable[[argparse.Namespace], int]

EXIT_OK, EXIT_CRASH, EXIT_USER = 0, 1, 2


def add_command(sub, name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
    """Add the sub-command ``name``, run by ``handler``; returns its parser for its arguments."""
    p = sub.add_parser(name, help=help)
    p.set_defaults(handler=handler)
    return p


def add_json_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")


def add_run_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", type=int, required=True, help="run id")


def add_dataset_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, help="dataset id, id prefix or name")


def open_store():
    """The run store of ``SLM_HOME`` / ``SLM_DATABASE_URL``, with runs whose worker died
    marked interrupted."""
    from slm_core.store import RunStore

    store = RunStore()
    store.mark_interrupted()
    return store


def add_scenario_args(p: argparse.ArgumentParser) -> None:
    from slm_core.value.assumptions import SERVING_MODES

    p.add_argument("--assumptions", help="scenario file (.toml or .json) with your assumptions")
    p.add_argument(
        "--serving",
        choices=SERVING_MODES,
        help="serving mode of the small models (default: the scenario's)",
    )


def scenario(args: argparse.Namespace):
    """The scenario of ``--assumptions`` (default: the built-in one) with ``--serving``."""
    from dataclasses import replace

    from slm_core.value.assumptions import Assumptions, load_assumptions

    a = load_assumptions(args.assumptions) if args.assumptions else Assumptions()
    serving = getattr(args, "serving", None)
    return replace(a, serving_mode=serving) if serving else a
