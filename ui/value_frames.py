"""The Value page's tables, all read from one ``ValueReport`` (no formula lives here).

Every number carries its unit (in the row or column label, or in the cell) and every figure its
kind — measured, modelled or assumed — as the core states it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from slm_core.i18n import format_money, format_number
from slm_core.report.table_types import score_css
from slm_core.report.value_tables import options_table
from slm_core.value.assumptions import (
    Assumptions,
    localized_source,
    scenario_name,
    source_kind,
)
from slm_core.value.option import Option
from slm_core.value.scorecard import ValueReport
from slm_core.value.social import TRANSPARENCY_ITEMS
from slm_core.value.sources import FIELD_GROUPS
from slm_core.value.text import format_figure, note_text, option_label, serving_text
from ui.state import lang, t
from ui.value_editor import POSITIVE_ONLY, positive_class_label


def _pixels(texts) -> int:
    """About how wide the longest of ``texts`` is drawn (CJK characters are twice as wide)."""
    longest = max((sum(14 if ord(ch) > 0x2E80 else 6.6 for ch in str(x)) for x in texts), default=0)
    return int(min(320, longest + 28))


def wide_columns(frame: pd.DataFrame, *columns: str) -> dict:
    """Widths that show the row labels and the given columns whole (Streamlit cuts long text
    there); the other columns size to their figures."""
    widths = {"_index": _pixels([frame.index.name or "", *frame.index])}
    widths |= {c: _pixels([c, *frame[c]]) for c in columns}
    return {
        c: st.column_config.Column(width=w, pinned=c == "_index" or None) for c, w in widths.items()
    }


# ------------------------------------------------------------------ formatting


def kind_label(kind: str | None) -> str:
    return t(f"value.figure_kind.{kind}") if kind else ""


def with_kind(text: str, kind: str | None) -> str:
    """'$116,837 · modelled' (the figure and what it is)."""
    return f"{text} · {kind_label(kind)}" if kind and text not in ("–", "") else text


def _money(value: float | None, a: Assumptions, digits: int = 0) -> str:
    if value is None or not np.isfinite(value):
        return t("value.not_measured")
    if 0 < abs(value) < 1:  # a small model's compute can be a fraction of a unit a year
        digits = max(digits, 4)
    return format_money(value, a.currency, lang(), digits)


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def _interval(ci: tuple[float, float] | None, fmt: Callable[[float], str], level: float) -> str:
    if ci is None:
        return "–"
    return f"{level:.0%}: {fmt(ci[0])} – {fmt(ci[1])}"


def _months(value: float | None) -> str:
    return t("value.never") if value is None else f"{value:.1f}"


def _threshold(o: Option) -> str:
    b = o.business
    if b.threshold is None:
        return "–"
    return t(
        "value.with_note",
        text=f"{b.threshold:.2f}",
        note=t(f"value.threshold_source.{b.threshold_source}"),
    )


def _level(report: ValueReport, o: Option) -> float:
    return o.business.interval_level or report.assumptions.interval_level


def money_label(key: str, a: Assumptions) -> str:
    """A money row's label with its currency: 'Net value / yr (USD)'."""
    return t("value.with_note", text=t(key), note=a.currency)


# ------------------------------------------------------------------ the options

# A row of a side-by-side table: its label (with unit) and the cell text of one option.
Row = tuple[str, Callable[[Option], str]]


def side_by_side(options: Sequence[Option], rows: Sequence[Row], index_name: str) -> pd.DataFrame:
    """Options as columns, ``rows`` as rows: the shape of every table of figures per option."""
    frame = pd.DataFrame(
        {option_label(o, lang()): [fn(o) for _, fn in rows] for o in options},
        index=[name for name, _ in rows],
    )
    frame.index.name = index_name
    return frame


def _fig(o: Option, kind_of: str, text: str) -> str:
    """``text`` with the kind of the option's business figure ``kind_of``."""
    return with_kind(text, o.business.kinds.get(kind_of))


def _money_row(a: Assumptions, key: str, *, kind_of: str, digits: int = 0) -> Row:
    """A yearly money figure of the options' ``BusinessResult``: the attribute ``key``, with
    the kind of the business figure ``kind_of``."""

    def cell(o: Option) -> str:
        return _fig(o, kind_of, _money(getattr(o.business, key), a, digits))

    return money_label(f"value.row.{key}", a), cell


def _coverage_row() -> Row:
    return t("value.row.coverage"), lambda o: _fig(o, "coverage", _pct(o.business.coverage))


def _net_interval_row(report: ValueReport) -> Row:
    a = report.assumptions
    return (
        t("value.with_note", text=t("value.row.interval"), note=a.currency),
        lambda o: _interval(o.business.net_value_ci, lambda v: _money(v, a), _level(report, o)),
    )


def _p_positive_row() -> Row:
    return t("value.row.p_positive"), lambda o: _pct(o.business.p_positive, 0)


def _payback_row() -> Row:
    return (
        t("value.row.payback"),
        lambda o: _fig(o, "payback_months", _months(o.business.payback_months)),
    )


def _rank_cell(report: ValueReport, row: dict[str, Any]) -> str:
    if row["key"] == report.decision.best:
        return t("value.rank_best")
    if row["key"] == report.decision.runner_up:
        return t("value.rank_runner_up")
    return "–" if row["rank"] is None else str(row["rank"])


def _threshold_cell(row: dict[str, Any]) -> str:
    if row["threshold"] is None:
        return "–"
    note = t(f"value.threshold_source.{row['threshold_source_key']}")
    return t("value.with_note", text=f"{row['threshold']:.2f}", note=note)


def _interval_cell(row: dict[str, Any], a: Assumptions) -> str:
    low, high = row["net_value_low"], row["net_value_high"]
    pair = None if low is None else (low, high)
    return _interval(pair, lambda v: _money(v, a), row["interval_level"])


SCORE_KEYS = ("business_score", "social_score", "overall")


def options_frame(report: ValueReport) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every option side by side (columns), its figures as rows, each with unit and kind: the
    report's options table (:func:`slm_core.report.value_tables.options_table`), pivoted.

    Returns the text table and a frame of the same shape holding the 0–100 scores (NaN
    elsewhere), for colouring.
    """
    table = options_table(report, lang())
    keys = [c.key for c in table.columns]
    records = [dict(zip(keys, row, strict=True)) for row in table.rows]
    a = report.assumptions

    def manual_or(fn: Callable[[dict], str], manual: str = "–") -> Callable[[dict], str]:
        return lambda r: manual if r["option_kind"] == "manual" else fn(r)

    interval_label = t("value.with_note", text=t("value.row.interval"), note=a.currency)
    rows: list[tuple[str, Callable[[dict], str]]] = [
        (t("value.row.rank"), lambda r: _rank_cell(report, r)),
        (t("value.row.serving"), lambda r: r["serving_detail"]),
        (t("value.row.threshold"), _threshold_cell),
        (t("value.row.coverage"), lambda r: with_kind(_pct(r["coverage"]), r["coverage_kind_key"])),
        (
            money_label("value.row.net_value", a),
            lambda r: with_kind(_money(r["net_value"], a), r["net_value_kind_key"]),
        ),
        (interval_label, manual_or(lambda r: _interval_cell(r, a), t("value.baseline"))),
        (t("value.row.p_positive"), manual_or(lambda r: _pct(r["p_positive"], 0))),
        (
            money_label("value.row.yearly_cost", a),
            lambda r: with_kind(_money(r["yearly_cost"], a), r["net_value_kind_key"]),
        ),
        (
            t("value.row.payback"),
            manual_or(lambda r: with_kind(_months(r["payback_months"]), r["payback_kind_key"])),
        ),
        *((t(f"value.row.{k}_100"), lambda r, k=k: _score(r[k])) for k in SCORE_KEYS),
        (t("value.row.eligible"), lambda r: t("value.yes" if r["eligible"] else "value.no")),
        (t("value.row.why_not"), lambda r: r["reasons"] or "–"),
    ]
    text = pd.DataFrame(
        {r["option"]: [fn(r) for _, fn in rows] for r in records},
        index=[name for name, _ in rows],
    )
    text.index.name = t("value.col_option")
    scores = pd.DataFrame(np.nan, index=text.index, columns=text.columns)
    for key in SCORE_KEYS:
        for r in records:
            if r[key] is not None:
                scores.loc[t(f"value.row.{key}_100"), r["option"]] = float(r[key])
    return text, scores


def styled_options(text: pd.DataFrame, scores: pd.DataFrame):
    """The options table with its score cells coloured by the score."""
    rows = [r for r in scores.index if scores.loc[r].notna().any()]
    colours = pd.DataFrame("", index=text.index, columns=text.columns)
    for r in rows:
        colours.loc[r] = [score_css(v) for v in scores.loc[r]]
    return text.style.apply(lambda _: colours, axis=None)


def not_guessing_labels(report: ValueReport) -> list[str]:
    """Labels of the models whose accuracy interval does not clear the majority-class rate."""
    return [o.label for o in report.models if o.better_than_guessing is False]


def split_note(report: ValueReport) -> str:
    """Which split chose the thresholds and which scored every figure."""
    models = [o for o in report.models if o.business.chosen_on]
    chosen = models[0].business.chosen_on if models else "validation"
    scored = next((o.business.scored_on for o in report.models if o.business.scored_on), "test")
    return t(
        "value.decision.split_note",
        chosen=t(f"value.split.{chosen}"),
        scored=t(f"value.split.{scored}"),
    )


# ------------------------------------------------------------- business figures


def _automation_rows(report: ValueReport) -> list[Row]:
    """What a model answers alone: threshold, share automated and how accurately."""
    return [
        (t("value.row.threshold"), _threshold),
        _coverage_row(),
        (
            t("value.with_note", text=t("value.row.coverage_interval"), note="%"),
            lambda o: _interval(o.business.coverage_ci, _pct, _level(report, o)),
        ),
        (
            t("value.row.automated_accuracy"),
            lambda o: _fig(o, "automated_accuracy", _pct(o.business.automated_accuracy)),
        ),
        (
            t("value.row.automated_per_year"),
            lambda o: _fig(
                o, "automated_per_year", format_number(o.business.automated_per_year, lang())
            ),
        ),
    ]


def _money_rows(a: Assumptions) -> list[Row]:
    """What each option saves, earns and costs a year, down to its net value."""
    return [
        _money_row(a, "labour_saved", kind_of="labour_saved"),
        _money_row(a, "correct_value", kind_of="correct_value"),
        _money_row(a, "error_cost", kind_of="error_cost"),
        _money_row(a, "people_error_avoided", kind_of="people_error_avoided"),
        _money_row(a, "serving_cost", kind_of="serving_cost", digits=2),
        _money_row(a, "api_cost", kind_of="api_cost", digits=2),
        _money_row(a, "maintenance", kind_of="maintenance"),
        _money_row(a, "setup_cost", kind_of="setup_cost"),
        _money_row(a, "net_value", kind_of="net_value"),
    ]


def _return_rows(report: ValueReport) -> list[Row]:
    """Net value's interval and sign, return on investment, payback and the yearly costs."""
    a = report.assumptions
    return [
        _net_interval_row(report),
        _p_positive_row(),
        (t("value.row.roi"), lambda o: _fig(o, "roi", _pct(o.business.roi, 0))),
        (
            t("value.with_note", text=t("value.row.roi_interval"), note="%"),
            lambda o: _interval(o.business.roi_ci, lambda v: _pct(v, 0), _level(report, o)),
        ),
        _payback_row(),
        _money_row(a, "yearly_cost", kind_of="yearly_cost"),
        _money_row(a, "manual_cost", kind_of="manual_cost"),
    ]


def _serving(attr: str, fmt: Callable[[Any], str]) -> Callable[[Option], str]:
    """A figure of the option's serving cost, with its kind ('–' when not served)."""

    def cell(o: Option) -> str:
        s = o.serving
        value = getattr(s, attr) if s is not None else None
        return "–" if value is None else with_kind(fmt(value), s.kind)

    return cell


def _feasible(o: Option) -> str:
    if o.serving is None:
        return "–"
    if o.serving.feasible:
        return t("value.yes")
    return f"{t('value.no')}: {t(o.serving.note or 'value.reason.cannot_serve')}"


def _serving_rows(a: Assumptions) -> list[Row]:
    """How each option is served and what that takes: cost, instances, energy."""
    return [
        (t("value.row.serving"), lambda o: serving_text(o, lang())),
        (
            money_label("value.row.per_million", a),
            _serving("per_million", lambda v: _money(v, a, 2)),
        ),
        (t("value.row.instances"), _serving("instances", str)),
        (t("value.row.yearly_kwh"), _serving("yearly_kwh", lambda v: f"{v:,.3g}")),
        (t("value.row.wh_per_text"), _serving("wh_per_text", lambda v: f"{v:.3g}")),
        (t("value.row.feasible"), _feasible),
    ]


def business_frame(report: ValueReport) -> pd.DataFrame:
    """Every yearly business and serving figure of every option but manual, unit in the row
    label, kind in the cell."""
    a = report.assumptions
    rows = [
        *_automation_rows(report),
        *_money_rows(a),
        *_return_rows(report),
        *_serving_rows(a),
    ]
    options = [o for o in report.options if o.kind != "manual"]
    return side_by_side(options, rows, t("value.col_figure"))


def confusion_frame(o: Option) -> pd.DataFrame:
    """The texts a model answers alone at its threshold: true class rows, predicted columns."""
    b = o.business
    frame = pd.DataFrame(b.automated_confusion, index=list(b.classes), columns=list(b.classes))
    frame.index.name = t("value.true_class")
    return frame


# ----------------------------------------------------------------- social figures


def _figure(d, a: Assumptions) -> str:
    if d.unit == "ms" and d.value is not None and d.value >= 1000:
        return f"{format_number(d.value, lang())} ms"
    return format_figure(d, a.currency, lang())


def dimension_frame(report: ValueReport, dim: str) -> pd.DataFrame:
    """One social dimension across options: figure (with unit), score, kind and notes."""
    a = report.assumptions
    rows = []
    for o in report.options:
        d = o.social_dims.get(dim)
        if d is None:
            continue
        notes = [note_text(n, lang()) for n in d.notes]
        if dim == "transparency" and d.details.get("missing"):
            missing = ", ".join(t(f"value.transparency_item.{k}") for k in d.details["missing"])
            notes.append(t("value.items_missing", items=missing))
        rows.append(
            {
                t("value.col_option"): option_label(o, lang()),
                t(f"value.figure_of.{dim}"): _figure(d, a),
                t("value.col_score"): _score(d.score),
                t("value.col_kind"): kind_label(d.kind),
                t("value.run_notes"): " ".join(notes),
            }
        )
    return pd.DataFrame(rows)


def transparency_frame(report: ValueReport) -> pd.DataFrame:
    """The transparency items (0, ½ or 1) per option."""
    marks = {1.0: "✓ 1", 0.5: "◐ 0.5", 0.0: "✗ 0"}
    data = {}
    for o in report.options:
        d = o.social_dims.get("transparency")
        if d is None:
            continue
        items = d.details.get("items")
        data[option_label(o, lang())] = [
            "–" if items is None else marks.get(float(items.get(k, 0.0)), f"{items.get(k, 0):g}")
            for k in TRANSPARENCY_ITEMS
        ]
    frame = pd.DataFrame(
        data, index=[t(f"value.transparency_item.{k}") for k in TRANSPARENCY_ITEMS]
    )
    frame.index.name = t("value.col_item")
    return frame


def _energy(kwh: float | None) -> str:
    """Energy with its unit: Wh below 1 kWh (training a small model takes milliwatt-hours)."""
    if kwh is None:
        return t("value.not_measured")
    return f"{kwh:,.3g} kWh" if kwh >= 1 else f"{kwh * 1000:.3g} Wh"


def training_energy_frame(report: ValueReport) -> pd.DataFrame:
    """One-off training energy of every model, apart from the yearly running energy."""
    rows = [
        {
            t("value.col_option"): o.label,
            t("value.col_train_energy"): _energy(o.train_kwh),
            t("value.col_kind"): kind_label(o.train_kwh_kind or "not_measured"),
        }
        for o in report.models
    ]
    return pd.DataFrame(rows)


def left_out_text(report: ValueReport) -> str:
    if not report.left_out:
        return ""
    return t("value.left_out", dims=", ".join(t(f"value.dim.{d}") for d in report.left_out))


# ------------------------------------------------------------------ compare, sources


def compare_frame(named: Sequence[tuple[str, ValueReport]]) -> pd.DataFrame:
    """Scenarios as rows: the decision, its net value, and every option's net value."""
    rows = {}
    for name, report in named:
        a = report.assumptions
        best = report.best
        row: dict[str, Any] = {
            t("value.col_decision"): option_label(best, lang()),
            f"{t('value.col_decision_net')}": _money(best.business.net_value, a),
        }
        for o in report.options:
            if o.kind == "manual":
                continue
            col = {"api": t("value.compare_api"), "cascade": t("value.compare_cascade")}.get(
                o.kind, o.label
            )
            row[f"{col} · {t('value.row.net_value')}"] = _money(o.business.net_value, a)
        rows[name] = row
    frame = pd.DataFrame(rows).T
    frame.index.name = t("value.scenario")
    return frame.fillna("–")


def _shown_value(a: Assumptions, name: str) -> str:
    value = getattr(a, name)
    if name == "positive_class":
        return positive_class_label(value)
    if name == "serving_mode":
        return t(f"value.mode_short.{value}")
    if name == "payoff_mode":
        return t(f"value.payoff_mode.{value}")
    if name in ("business_weights", "social_weights"):
        return ", ".join(f"{t(f'value.dim.{k}')} {v:g}" for k, v in value.items())
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        text = f"{value:,.6g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.10f}".rstrip("0")
        if name in POSITIVE_ONLY and not a.positive_class:
            text = t("value.with_note", text=text, note=t("value.not_used"))
        return text
    return str(value)


def sources_columns() -> dict:
    """Widths that let the sources table show where each default comes from."""
    return {
        t(k): st.column_config.Column(width="large") for k in ("value.col_source", "value.col_note")
    }


def sources_frame(a: Assumptions, replaced: dict[str, str] | None = None) -> pd.DataFrame:
    """Every assumption with its value, unit, kind of source, source, date and note
    (``replaced``: fields a measurement replaces, with the note saying so)."""
    replaced = replaced or {}
    names = [f for g in FIELD_GROUPS.values() for f in g] + ["business_weights", "social_weights"]
    if a.payoff_mode == "matrix":
        names.append("payoff_matrix")
    rows = []
    for name in names:
        src = a.source(name)
        shown = localized_source(src, lang())
        rows.append(
            {
                t("value.col_field"): t(f"value.field.{name}"),
                t("value.col_value"): (
                    t("value.with_note", text=_shown_value(a, name), note=replaced[name])
                    if name in replaced
                    else _shown_value(a, name)
                ),
                t("value.col_unit"): a.unit(name, lang()),
                t("value.col_kind"): t(f"value.kind.{source_kind(src)}"),
                t("value.col_source"): shown.source,
                t("value.col_date"): shown.date,
                t("value.col_note"): shown.note,
            }
        )
    return pd.DataFrame(rows)


def scenario_label(report: ValueReport) -> str:
    return f"{t('value.col_current')}: {scenario_name(report.assumptions.name, lang())}"
