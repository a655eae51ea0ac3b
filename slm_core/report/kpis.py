"""The headline tiles of a report: the decision, its net value, accuracy, cost per 1M, social score.

Every tile follows the decision of the value report (the one the Value page shows) and says in
its note how the figure was got and what kind of figure it is (measured, modelled, assumed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from slm_core.i18n import format_number, t
from slm_core.report.collect import ReportData
from slm_core.report.table_types import money_text
from slm_core.value.option import Option
from slm_core.value.scorecard import ValueReport
from slm_core.value.text import (
    interval_text,
    kind_text,
    money,
    option_label,
    score_text,
    serving_text,
)


@dataclass(frozen=True)
class Kpi:
    """One headline tile: a label, its figure as text, and what the figure rests on."""

    key: str
    label: str
    value: str
    note: str = ""
    raw: float | str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "value": self.value,
            "note": self.note,
            "raw": self.raw,
        }


def _decision_tile(v: ValueReport, decided: Option, lang: str) -> Kpi:
    a = v.assumptions
    if decided.kind == "manual":
        note = t("report_kpi.decision_manual", lang, horizon=f"{a.payback_horizon_months:g}")
    elif decided.kind == "api":
        note = t("report_kpi.decision_api", lang, overall=score_text(decided.overall))
    elif decided.kind == "cascade":
        share = decided.business.details.get("small_model_share", decided.business.coverage)
        note = t(
            "report_kpi.decision_cascade",
            lang,
            share=f"{share:.0%}",
            mode=serving_text(decided, lang),
            overall=score_text(decided.overall),
        )
    else:
        note = t(
            "report_kpi.decision_model",
            lang,
            mode=serving_text(decided, lang),
            overall=score_text(decided.overall),
        )
    return Kpi(
        "decision", t("report_kpi.decision", lang), option_label(decided, lang), note, decided.key
    )


def _net_value_tile(v: ValueReport, decided: Option, lang: str) -> Kpi:
    b = decided.business
    if decided.kind == "manual":
        note = t("report_kpi.net_value_manual", lang)
    else:
        note = t(
            "report_kpi.net_value_note",
            lang,
            interval=interval_text(decided, v, lang),
            kind=kind_text(b.kinds.get("net_value"), lang),
        )
    return Kpi(
        "net_value", t("report_kpi.net_value", lang), money(b.net_value, v, lang), note, b.net_value
    )


def _accuracy_tile(data: ReportData, lang: str) -> Kpi:
    best = data.best
    ev = best.evaluation
    lo, hi = ev.accuracy_ci
    ci = f"{lo:.1%} – {hi:.1%}" if math.isfinite(lo) and math.isfinite(hi) else "–"
    return Kpi(
        "accuracy",
        t("report_kpi.accuracy", lang),
        f"{ev.accuracy:.1%}",
        t(
            "report_kpi.accuracy_note",
            lang,
            run=best.label,
            ci=ci,
            n=format_number(ev.n, "en"),
            majority=f"{ev.majority_rate:.1%}",
            kind=kind_text("measured", lang),
        ),
        ev.accuracy,
    )


def _cost_tile(data: ReportData, model: Option | None, lang: str) -> Kpi:
    v = data.value
    a = v.assumptions
    api = v.api
    api_m = api.serving.per_million if api is not None and api.serving is not None else None
    api_text = "–" if api_m is None else money_text(api_m, a.currency, lang)
    per_m = model.serving.per_million if model is not None and model.serving else None
    if per_m is None:
        return Kpi(
            "cost_per_million",
            t("report_kpi.cost_per_million", lang),
            t("report_html.not_measured", lang),
            t("report_kpi.cost_missing", lang, run=data.best.run_id, api=api_text),
            None,
        )
    return Kpi(
        "cost_per_million",
        t("report_kpi.cost_per_million", lang),
        money_text(per_m, a.currency, lang),
        t(
            "report_kpi.cost_note",
            lang,
            run=model.label,
            mode=serving_text(model, lang),
            volume=format_number(a.annual_volume, lang),
            api=api_text,
            kind=kind_text(model.serving.kind, lang),
        ),
        per_m,
    )


def _social_tile(decided: Option, model: Option | None, lang: str) -> Kpi:
    scored = decided if decided.social_score is not None else model
    s = scored.social_score if scored is not None else None
    return Kpi(
        "social_score",
        t("report_kpi.social_score", lang),
        "–" if s is None or s.score is None else f"{s.score:.0f} / 100",
        t(
            "report_kpi.social_score_note",
            lang,
            option=option_label(scored, lang) if scored is not None else "–",
            share=f"{s.weight_used:.0%}" if s is not None else "–",
        ),
        None if s is None else s.score,
    )


def kpi_tiles(data: ReportData, lang: str = "en") -> list[Kpi]:
    """The five headline figures: the decision, its net value with interval, the best model's
    accuracy, its cost per 1M as served (next to the API's) and the social score."""
    v = data.value
    decided = data.decided
    if data.best is None or v is None or decided is None:
        return []
    model = data.option(data.best.run_id)
    return [
        _decision_tile(v, decided, lang),
        _net_value_tile(v, decided, lang),
        _accuracy_tile(data, lang),
        _cost_tile(data, model, lang),
        _social_tile(decided, model, lang),
    ]
