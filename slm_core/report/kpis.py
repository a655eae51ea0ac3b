"""The headline tiles of a report: best model, accuracy, cost per 1M, net value, social score."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from slm_core.i18n import format_money, format_number, t
from slm_core.report.collect import ReportData
from slm_core.report.table_types import money_text
from slm_core.value.assumptions import scenario_name


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


def _best_card(data: ReportData):
    best = data.best
    if best is None or data.value is None:
        return best, None
    try:
        return best, data.value.card(best.run_id)
    except Exception:  # scorecards built before this run finished
        return best, None


def kpi_tiles(data: ReportData, lang: str = "en") -> list[Kpi]:
    """The five headline figures: best model, accuracy, cost per 1M, net value, social score."""
    from slm_core.report.model_card import model_name

    best, card = _best_card(data)
    if best is None:
        return []
    a = data.value.assumptions if data.value is not None else None
    currency = a.currency if a is not None else "USD"
    ev = best.evaluation
    recommended = card is not None and data.value.recommendation.winner == card.label
    tiles = [
        Kpi(
            "best_model",
            t("report_kpi.best_model", lang),
            best.label,
            t(
                "report_kpi.best_model_note" if recommended else "report_kpi.best_model_accuracy",
                lang,
                name=model_name(best.run.model_id, lang),
            ),
            best.label,
        ),
    ]
    lo, hi = ev.accuracy_ci
    ci = f"{lo:.1%} – {hi:.1%}" if math.isfinite(lo) and math.isfinite(hi) else "–"
    tiles.append(
        Kpi(
            "accuracy",
            t("report_kpi.accuracy", lang),
            f"{ev.accuracy:.1%}",
            t("report_kpi.accuracy_note", lang, ci=ci, n=format_number(ev.n, "en")),
            ev.accuracy,
        )
    )
    per_m, note_key = None, "report_kpi.cost_missing"
    if a is not None and best.cost.cpu_seconds_per_prediction is not None:
        per_m, note_key = best.cost.cost_per_million(a.price_per_vcpu_hour), "report_kpi.cost_note"
    elif a is not None and data.value is not None:
        inputs = next((r for r in data.value.inputs.runs if r.run_id == best.run_id), None)
        if inputs is not None and inputs.cpu_seconds_per_prediction is not None:
            per_m = inputs.cpu_seconds_per_prediction * 1e6 / 3600.0 * a.price_per_vcpu_hour
            note_key = "report_kpi.cost_estimate"
    llm = data.value.llm if data.value is not None else None
    llm_per_m = (
        float(llm.business.details["cost_per_item"]) * 1e6
        if llm is not None and llm.business.details.get("cost_per_item") is not None
        else None
    )
    tiles.append(
        Kpi(
            "cost_per_million",
            t("report_kpi.cost_per_million", lang),
            t("report_html.not_measured", lang)
            if per_m is None
            else money_text(per_m, currency, lang),
            t(
                note_key,
                lang,
                price=money_text(a.price_per_vcpu_hour, currency, lang) if a else "–",
                llm="–" if llm_per_m is None else money_text(llm_per_m, currency, lang),
                run=best.run_id,
            ),
            per_m,
        )
    )
    if card is not None:
        b = card.business
        tiles.append(
            Kpi(
                "net_value",
                t("report_kpi.net_value", lang),
                format_money(b.net_value, currency, lang),
                t(
                    "report_kpi.net_value_note",
                    lang,
                    coverage=f"{b.coverage:.0%}",
                    threshold=f"{b.threshold:.2f}" if b.threshold is not None else "–",
                    scenario=scenario_name(a.name, lang),
                ),
                b.net_value,
            )
        )
        s = card.social_score
        tiles.append(
            Kpi(
                "social_score",
                t("report_kpi.social_score", lang),
                "–" if s.score is None else f"{s.score:.0f} / 100",
                t("report_kpi.social_score_note", lang, share=f"{s.weight_used:.0%}"),
                s.score,
            )
        )
    return tiles
