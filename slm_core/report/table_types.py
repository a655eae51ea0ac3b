"""What a report table is: columns with a kind, raw rows, and how a raw value is shown.

A ``Table`` holds raw values (numbers stay numbers) and, per column, a stable machine key, a
translated header and a ``kind`` that says how to show the value (percent, money, ms, ...).
``format_cell`` turns a value into text for a reader in the chosen language.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slm_core.i18n import format_money, format_number, t
from slm_core.numbers import finite_or_none

# Column kinds: how a raw value is shown (the CSV and JSON keep the raw value).
KINDS = (
    "text",
    "auto",
    "int",
    "float",
    "pct",
    "money",
    "ms",
    "mb",
    "score",
    "seconds",
    "kwh",
    "grams",
    "months",
    "rate",
    "sig",
)


@dataclass(frozen=True)
class Column:
    """One column: a stable key (CSV/JSON), a translated header and how to show its values."""

    key: str
    label: str
    kind: str = "text"
    show: bool = True  # False: exported, but left out of the HTML table (e.g. raw units)


@dataclass(frozen=True)
class Table:
    """A titled table of raw values."""

    key: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
    note: str = ""
    show: bool = True  # False: exported only (long curves drawn as charts instead)

    def records(self) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column key (for JSON)."""
        keys = [c.key for c in self.columns]
        return [dict(zip(keys, row, strict=True)) for row in self.rows]

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "note": self.note,
            "columns": [{"key": c.key, "label": c.label, "kind": c.kind} for c in self.columns],
            "rows": self.records(),
        }


def rounded(value: Any, digits: int) -> float | None:
    x = finite_or_none(value)
    return None if x is None else round(x, digits)


def money_text(value: float | None, currency: str, lang: str) -> str:
    """Money with as many decimals as a small amount needs (¥0.0248, $1,234)."""
    if value is None:
        return t("report_html.not_measured", lang)
    size = abs(value)
    digits = 0 if size >= 100 or size == 0 else (2 if size >= 1 else 4)
    return format_money(value, currency, lang, digits)


def format_cell(value: Any, kind: str, lang: str = "en", currency: str = "USD") -> str:
    """A raw table value as text for a reader of ``lang`` ('–' when there is none)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool):
        return t("report_html.yes" if value else "report_html.no", lang)
    if kind in ("text",) or isinstance(value, str):
        return str(value)
    x = float(value)
    if kind == "auto":
        if isinstance(value, int) or x.is_integer():
            return format_number(x, "en", 0)
        return f"{x:.6g}"
    if kind == "int":
        return format_number(x, "en" if abs(x) < 100_000 else lang, 0)
    if kind == "pct":
        return f"{x:.1%}"
    if kind == "money":
        return money_text(x, currency, lang)
    if kind == "score":
        return f"{x:.0f}"
    if kind == "ms":
        return f"{x:.2f}"
    if kind in ("mb", "months"):
        return f"{x:,.2f}" if kind == "mb" else f"{x:.1f}"
    if kind == "sig":
        return f"{x:.3g}"
    if kind == "rate":
        return f"{x:,.0f}"
    if kind == "seconds":
        return f"{x:,.2f}"
    if kind in ("kwh", "grams"):
        return f"{x:.3g}"
    return f"{x:.3f}" if abs(x) < 1000 else f"{x:,.1f}"


def visible(columns: Sequence[Column]) -> list[int]:
    """Indices of the columns shown to readers."""
    return [i for i, c in enumerate(columns) if c.show]


def column(key: str, lang: str, kind: str = "text", show: bool = True, **values: Any) -> Column:
    return Column(key, t(f"report_col.{key}", lang, **values), kind, show)


def titled(key: str, lang: str, columns, rows, **options: Any) -> Table:
    """A table titled with the catalogue's ``report_table.<key>`` in ``lang``."""
    return Table(key, t(f"report_table.{key}", lang), tuple(columns), tuple(rows), **options)


def run_columns(lang: str) -> tuple[Column, Column]:
    """The run number and model label that every per-run table starts with."""
    return column("run", lang, "int"), column("model", lang)


def option_columns(lang: str) -> tuple[Column, Column]:
    """The option's key (exported, not shown) and label that every per-option table starts with."""
    return column("key", lang, show=False), column("option", lang)


def score_css(value: Any) -> str:
    """Cell style of a 0–100 score: red (0) through amber to green (100); grey when none.

    One colour scale for the HTML report and the pages' tables.
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "background-color: #eeeeee; color: #777777"
    v = max(0.0, min(100.0, float(value))) / 100.0
    red = int(220 - 120 * v) if v > 0.5 else 220
    green = int(90 + 130 * min(1.0, v * 2)) if v <= 0.5 else 200
    return f"background-color: rgba({red}, {green}, 90, 0.45)"
