"""Headless command line: ``python -m slm_core <command> ...``.

Every command prints a human table, or JSON with ``--json``. A user error exits 2 with a single
line on stderr; nothing a user can cause ends in a traceback.

This module holds the parser and :func:`main`; each group of commands lives in its own module
and adds its sub-commands (:func:`add_commands`, each with its handler):

- :mod:`~slm_core.cli.data`: ``inspect``, and reading a file or demo for ``train``;
- :mod:`~slm_core.cli.training`: ``train``, ``retrain``;
- :mod:`~slm_core.cli.evaluation`: ``evaluate``, ``bench`` (what a finished run measures);
- :mod:`~slm_core.cli.decision`: ``value``, ``report`` (the decision for a dataset);
- :mod:`~slm_core.cli.llm`: ``llm`` (a hosted LLM measured on the test split).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from slm_core.cli import data, decision, evaluation, llm, training
from slm_core.cli.common import EXIT_CRASH, EXIT_OK, EXIT_USER
from slm_core.errors import SlmError

__all__ = ["EXIT_CRASH", "EXIT_OK", "EXIT_USER", "build_parser", "main"]

# In the order `python -m slm_core -h` lists them.
GROUPS = (data, training, evaluation, decision, llm)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors on one line with exit 2 (its own code too)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        # prog is "slm_core" for the top level and "slm_core train" for a sub-command.
        help_cmd = " ".join(["python -m slm_core", *self.prog.split()[1:], "-h"])
        self.exit(EXIT_USER, f"error: {message} (see `{help_cmd}`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="slm_core", description="SLM Value Lab, headless.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for group in GROUPS:
        group.add_commands(sub)
    return parser


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
    try:
        return args.handler(args)
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
