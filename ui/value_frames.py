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
from slm_core.value.assumptions import (
    Assumptions,
    localized_source,
    scenario_name,
    source_kind,
)
from slm_core.value.options import Option
from slm_core.value.scorecard import ValueReport
from slm_core.value.social import TRANSPARENCY_ITEMS
from slm_core.value.sources import FIELD_GROUPS
from slm_core.value.text import format_figure, note_text, option_label, reasons_text, serving_text
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


def options_frame(report: ValueReport) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every option side by side (columns), its figures as rows, each with unit and kind.

    Returns the text table and a frame of the same shape holding the 0–100 scores (NaN
    elsewhere), for colouring.
    """
    a = report.assumptions
    ranked = list(report.decision.ranked)
    cur = a.currency

    def rank(o: Option) -> str:
        if o.key == report.decision.best:
            return t("value.rank_best")
        if o.key == report.decision.runner_up:
            return t("value.rank_runner_up")
        return str(ranked.index(o.key) + 1) if o.key in ranked else "–"

    def manual_or(o: Option, fn: Callable[[Option], str]) -> str:
        return t("value.baseline") if o.kind == "manual" else fn(o)

    rows: list[tuple[str, Callable[[Option], str]]] = [
        (t("value.row.rank"), rank),
        (t("value.row.serving"), lambda o: serving_text(o, lang())),
        (t("value.row.threshold"), _threshold),
        (
            t("value.row.coverage"),
            lambda o: with_kind(_pct(o.business.coverage), o.business.kinds.get("coverage")),
        ),
        (
            money_label("value.row.net_value", a),
            lambda o: with_kind(_money(o.business.net_value, a), o.business.kinds.get("net_value")),
        ),
        (
            t("value.with_note", text=t("value.row.interval"), note=cur),
            lambda o: manual_or(
                o,
                lambda x: _interval(
                    x.business.net_value_ci, lambda v: _money(v, a), _level(report, x)
                ),
            ),
        ),
        (
            t("value.row.p_positive"),
            lambda o: "–" if o.kind == "manual" else _pct(o.business.p_positive, 0),
        ),
        (
            money_label("value.row.yearly_cost", a),
            lambda o: with_kind(
                _money(o.business.yearly_cost, a), o.business.kinds.get("net_value")
            ),
        ),
        (
            t("value.row.payback"),
            lambda o: (
                "–"
                if o.kind == "manual"
                else with_kind(
                    _months(o.business.payback_months), o.business.kinds.get("payback_months")
                )
            ),
        ),
        (
            t("value.row.business_score_100"),
            lambda o: _score(o.business_score.score if o.business_score else None),
        ),
        (
            t("value.row.social_score_100"),
            lambda o: _score(o.social_score.score if o.social_score else None),
        ),
        (t("value.row.overall_100"), lambda o: _score(o.overall)),
        (t("value.row.eligible"), lambda o: t("value.yes" if o.eligible else "value.no")),
        (t("value.row.why_not"), lambda o: reasons_text(o, lang()) or "–"),
    ]
    columns = [option_label(o, lang()) for o in report.options]
    text = pd.DataFrame(
        {col: [fn(o) for _, fn in rows] for col, o in zip(columns, report.options, strict=True)},
        index=[name for name, _ in rows],
    )
    text.index.name = t("value.col_option")
    scores = pd.DataFrame(np.nan, index=text.index, columns=text.columns)
    getters = {
        "business_score": lambda o: o.business_score.score if o.business_score else None,
        "social_score": lambda o: o.social_score.score if o.social_score else None,
        "overall": lambda o: o.overall,
    }
    for key, getter in getters.items():
        for col, o in zip(columns, report.options, strict=True):
            value = getter(o)
            if value is not None:
                scores.loc[t(f"value.row.{key}_100"), col] = float(value)
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


def business_frame(report: ValueReport) -> pd.DataFrame:
    """Every yearly business and serving figure of every option but manual, unit in the row
    label, kind in the cell."""
    a = report.assumptions
    options = [o for o in report.options if o.kind != "manual"]

    def fig(value: str, o: Option, key: str | None) -> str:
        return with_kind(value, o.business.kinds.get(key) if key else None)

    def serving(o: Option, attr: str, fmt: Callable[[Any], str]) -> str:
        s = o.serving
        value = getattr(s, attr) if s is not None else None
        return "–" if value is None else with_kind(fmt(value), s.kind)

    error_kind = "error_cost"
    rows: list[tuple[str, Callable[[Option], str]]] = [
        (t("value.row.threshold"), _threshold),
        (t("value.row.coverage"), lambda o: fig(_pct(o.business.coverage), o, "coverage")),
        (
            t("value.with_note", text=t("value.row.coverage_interval"), note="%"),
            lambda o: _interval(o.business.coverage_ci, _pct, _level(report, o)),
        ),
        (
            t("value.row.automated_accuracy"),
            lambda o: fig(_pct(o.business.automated_accuracy), o, "automated_accuracy"),
        ),
        (
            t("value.row.automated_per_year"),
            lambda o: fig(format_number(o.business.automated_per_year, lang()), o, "coverage"),
        ),
        (
            money_label("value.row.labour_saved", a),
            lambda o: fig(_money(o.business.labour_saved, a), o, "labour_saved"),
        ),
        (
            money_label("value.row.correct_value", a),
            lambda o: fig(_money(o.business.correct_value, a), o, error_kind),
        ),
        (
            money_label("value.row.error_cost", a),
            lambda o: fig(_money(o.business.error_cost, a), o, error_kind),
        ),
        (
            money_label("value.row.people_error_avoided", a),
            lambda o: fig(_money(o.business.people_error_avoided, a), o, error_kind),
        ),
        (
            money_label("value.row.serving_cost", a),
            lambda o: fig(_money(o.business.serving_cost, a, 2), o, "serving_cost"),
        ),
        (
            money_label("value.row.api_cost", a),
            lambda o: fig(_money(o.business.api_cost, a, 2), o, "api_cost"),
        ),
        (
            money_label("value.row.maintenance", a),
            lambda o: with_kind(_money(o.business.maintenance, a), "assumed"),
        ),
        (
            money_label("value.row.setup_cost", a),
            lambda o: with_kind(_money(o.business.setup_cost, a), "assumed"),
        ),
        (
            money_label("value.row.net_value", a),
            lambda o: fig(_money(o.business.net_value, a), o, "net_value"),
        ),
        (
            t("value.with_note", text=t("value.row.interval"), note=a.currency),
            lambda o: _interval(o.business.net_value_ci, lambda v: _money(v, a), _level(report, o)),
        ),
        (t("value.row.p_positive"), lambda o: _pct(o.business.p_positive, 0)),
        (t("value.row.roi"), lambda o: fig(_pct(o.business.roi, 0), o, "roi")),
        (
            t("value.with_note", text=t("value.row.roi_interval"), note="%"),
            lambda o: _interval(o.business.roi_ci, lambda v: _pct(v, 0), _level(report, o)),
        ),
        (
            t("value.row.payback"),
            lambda o: fig(_months(o.business.payback_months), o, "payback_months"),
        ),
        (
            money_label("value.row.yearly_cost", a),
            lambda o: fig(_money(o.business.yearly_cost, a), o, "net_value"),
        ),
        (
            money_label("value.row.manual_cost", a),
            lambda o: with_kind(_money(o.business.manual_cost, a), "modelled"),
        ),
        (t("value.row.serving"), lambda o: serving_text(o, lang())),
        (
            money_label("value.row.per_million", a),
            lambda o: serving(o, "per_million", lambda v: _money(v, a, 2)),
        ),
        (t("value.row.instances"), lambda o: serving(o, "instances", str)),
        (t("value.row.yearly_kwh"), lambda o: serving(o, "yearly_kwh", lambda v: f"{v:,.3g}")),
        (t("value.row.wh_per_text"), lambda o: serving(o, "wh_per_text", lambda v: f"{v:.3g}")),
        (
            t("value.row.feasible"),
            lambda o: (
                "–"
                if o.serving is None
                else t("value.yes")
                if o.serving.feasible
                else f"{t('value.no')}: {t(o.serving.note or 'value.reason.cannot_serve')}"
            ),
        ),
    ]
    frame = pd.DataFrame(
        {option_label(o, lang()): [fn(o) for _, fn in rows] for o in options},
        index=[name for name, _ in rows],
    )
    frame.index.name = t("value.col_figure")
    return frame


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


def sources_frame(a: Assumptions) -> pd.DataFrame:
    """Every assumption with its value, unit, kind of source, source, date and note."""
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
                t("value.col_value"): _shown_value(a, name),
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
