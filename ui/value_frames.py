"""The Value page's tables: scores, figures, business results, sources and the checklist."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from slm_core.i18n import format_money, format_number
from slm_core.value.assumptions import (
    BUSINESS_DIMENSIONS,
    SOCIAL_DIMENSIONS,
    Assumptions,
    localized_source,
    source_kind,
)
from slm_core.value.social import CARD_ITEMS
from slm_core.value.text import format_figure, note_text
from ui.state import lang, t
from ui.value_scenario import GROUPS


def _score_colour(value: Any) -> str:
    """Red (0) through amber to green (100); grey when there is no score."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "background-color: #eeeeee; color: #777777"
    v = max(0.0, min(100.0, float(value))) / 100.0
    red = int(220 - 120 * v) if v > 0.5 else 220
    green = int(90 + 130 * min(1.0, v * 2)) if v <= 0.5 else 200
    return f"background-color: rgba({red}, {green}, 90, 0.45)"


def score_frame(report) -> pd.DataFrame:
    """Dimensions as rows, models (and the LLM API) as columns, 0–100 scores, plus formulas."""
    cards = list(report.scorecards)
    llm = report.llm
    rows: list[tuple[str, str, dict[str, float | None]]] = []
    for dim in BUSINESS_DIMENSIONS:
        scores = {c.label: c.business_dims[dim].score for c in cards}
        if llm is not None:
            scores[_llm_column(report)] = llm.business_dims[dim].score
        rows.append((t(f"value.dim.{dim}"), t(f"value.formula.{dim}"), scores))
    for dim in SOCIAL_DIMENSIONS:
        rows.append(
            (
                t(f"value.dim.{dim}"),
                t(f"value.formula.{dim}"),
                {c.label: c.social_dims[dim].score for c in cards},
            )
        )
    business = {c.label: c.business_score.score for c in cards}
    if llm is not None:
        business[_llm_column(report)] = llm.business_score.score
    rows.append((t("value.row.business_score"), t("value.formula.business_score"), business))
    rows.append(
        (
            t("value.row.social_score"),
            t("value.formula.social_score"),
            {c.label: c.social_score.score for c in cards},
        )
    )
    rows.append(
        (t("value.row.overall"), t("value.formula.overall"), {c.label: c.overall for c in cards})
    )
    columns = [c.label for c in cards] + ([_llm_column(report)] if llm is not None else [])
    data = {
        col: [np.nan if r[2].get(col) is None else float(r[2][col]) for r in rows]
        for col in columns
    }
    frame = pd.DataFrame(data, index=[r[0] for r in rows])
    frame[t("value.col_formula")] = [r[1] for r in rows]
    frame.index.name = t("value.col_dimension")
    return frame


def styled_scores(frame: pd.DataFrame):
    """Scores as text ('–' when missing) on cells coloured by the score (no matplotlib needed)."""
    formula = t("value.col_formula")
    score_cols = [c for c in frame.columns if c != formula]
    colours = frame.copy()
    colours[score_cols] = frame[score_cols].map(_score_colour)
    colours[formula] = ""
    shown = frame.copy().astype(object)
    shown[score_cols] = frame[score_cols].map(lambda v: "–" if pd.isna(v) else f"{v:.0f}")
    return shown.style.apply(lambda _: colours, axis=None)


def table_height(frame: pd.DataFrame) -> int:
    """Pixel height that shows every row of a table without an inner scroll bar."""
    return 38 + 35 * len(frame)


def _llm_column(report) -> str:
    return t("value.llm_column", name=report.assumptions.llm_name)


def figures_frame(report) -> pd.DataFrame:
    """The headline figure (with unit) behind every score, per model."""
    a = report.assumptions
    cards = list(report.scorecards)
    rows: dict[str, dict[str, str]] = {}
    for dim in BUSINESS_DIMENSIONS:
        rows[t(f"value.dim.{dim}")] = {
            c.label: format_figure(c.business_dims[dim], a.currency, lang()) for c in cards
        }
        if report.llm is not None:
            rows[t(f"value.dim.{dim}")][_llm_column(report)] = format_figure(
                report.llm.business_dims[dim], a.currency, lang()
            )
    for dim in SOCIAL_DIMENSIONS:
        rows[t(f"value.dim.{dim}")] = {
            c.label: _social_figure(c.social_dims[dim], a) for c in cards
        }
    frame = pd.DataFrame(rows).T
    frame.index.name = t("value.col_dimension")
    return frame.fillna("")


def _social_figure(dim, a: Assumptions) -> str:
    text = format_figure(dim, a.currency, lang())
    if dim.status in ("estimate", "assumed"):
        text += f" ({t('value.status.' + dim.status)})"
    return text


def business_frame(report) -> pd.DataFrame:
    """Every yearly business figure per model and for the LLM API."""
    a = report.assumptions
    cur, lg = a.currency, lang()
    columns = list(report.scorecards) + ([report.llm] if report.llm is not None else [])

    def money(v: float | None, digits: int = 0) -> str:
        if v is None:
            return t("value.not_measured")
        if 0 < abs(v) < 1:  # compute for small models is often a fraction of a cent a year
            digits = max(digits, 4)
        return format_money(v, cur, lg, digits)

    rows = {
        "threshold": lambda b: (
            "–"
            if b.threshold is None
            else (
                f"{b.threshold:.2f} · "
                + t(
                    "value.threshold_auto"
                    if b.threshold_source == "optimised"
                    else "value.threshold_override"
                )
            )
        ),
        "coverage": lambda b: f"{b.coverage:.1%}",
        "automated_accuracy": lambda b: (
            "–" if b.automated_accuracy is None else f"{b.automated_accuracy:.1%}"
        ),
        "automated_per_year": lambda b: format_number(b.automated_per_year, lang()),
        "labour_saved": lambda b: money(b.labour_saved),
        "correct_value": lambda b: money(b.correct_value),
        "error_cost": lambda b: money(b.error_cost),
        "inference_cost": lambda b: money(b.inference_cost, 2),
        "maintenance": lambda b: money(b.maintenance),
        "setup_cost": lambda b: money(b.setup_cost),
        "net_value": lambda b: money(b.net_value),
        "roi": lambda b: "–" if b.roi is None else f"{b.roi:.0%}",
        "payback": lambda b: (
            t("value.never") if b.payback_months is None else f"{b.payback_months:.1f}"
        ),
    }
    data = {
        (_llm_column(report) if c.run_id is None else c.label): [
            fn(c.business) for fn in rows.values()
        ]
        for c in columns
    }
    frame = pd.DataFrame(data, index=[t(f"value.row.{k}") for k in rows])
    return frame


def sources_frame(a: Assumptions) -> pd.DataFrame:
    """Every assumption with its value, unit, source, date, note and kind."""
    names = [f for g in GROUPS.values() for f in g] + ["business_weights", "social_weights"]
    if a.payoff_mode == "matrix":
        names.append("payoff_matrix")
    rows = []
    for name in names:
        src = a.source(name)
        shown = localized_source(src, lang())
        value = getattr(a, name)
        if isinstance(value, dict):
            value = json.dumps(value, ensure_ascii=False)
        rows.append(
            {
                t("value.col_field"): t(f"value.field.{name}"),
                t("value.col_value"): str(value),
                t("value.col_unit"): a.unit(name, lang()),
                t("value.col_kind"): t(f"value.kind.{source_kind(src)}"),
                t("value.col_source"): shown.source,
                t("value.col_date"): shown.date,
                t("value.col_note"): shown.note,
            }
        )
    return pd.DataFrame(rows)


def dimension_frame(report, dim: str) -> pd.DataFrame:
    """One social dimension across models: figure, score, status and notes."""
    a = report.assumptions
    rows = []
    for c in report.scorecards:
        d = c.social_dims[dim]
        notes = [note_text(n, lang()) for n in d.notes]
        if dim == "transparency" and d.details.get("missing"):
            missing = ", ".join(t(f"value.card.{k}") for k in d.details["missing"])
            notes.append(t("value.card_missing", items=missing))
        rows.append(
            {
                t("value.col_model"): c.label,
                t("value.col_value"): format_figure(d, a.currency, lang()),
                t("value.col_score"): "–" if d.score is None else f"{d.score:.0f}",
                t("value.col_kind"): t(f"value.status.{d.status}"),
                t("value.run_notes"): " ".join(notes),
            }
        )
    return pd.DataFrame(rows)


def checklist_frame(report) -> pd.DataFrame:
    """The model-card checklist (✓/✗) per model."""
    data = {}
    for c in report.scorecards:
        items = c.social_dims["transparency"].details.get("items", {})
        data[c.label] = ["✓" if items.get(k) else "✗" for k in CARD_ITEMS]
    return pd.DataFrame(data, index=[t(f"value.card.{k}") for k in CARD_ITEMS])


def compare_frame(named: Sequence[tuple[str, Any]]) -> pd.DataFrame:
    """Scenarios as rows: the winner, then each model's overall score and yearly net value."""
    rows = {}
    for name, report in named:
        row: dict[str, Any] = {t("value.col_winner"): report.recommendation.winner or "–"}
        cur = report.assumptions.currency
        for c in report.scorecards:
            row[f"{c.label} · {t('value.row.overall')}"] = (
                "–" if c.overall is None else f"{c.overall:.0f}"
            )
            row[f"{c.label} · {t('value.row.net_value')}"] = format_money(
                c.business.net_value, cur, lang()
            )
        if report.llm is not None:
            row[
                f"{t('value.llm_column', name=report.assumptions.llm_name)} · "
                f"{t('value.row.net_value')}"
            ] = format_money(report.llm.business.net_value, cur, lang())
        rows[name] = row
    frame = pd.DataFrame(rows).T
    frame.index.name = t("value.scenario")
    return frame.fillna("")
