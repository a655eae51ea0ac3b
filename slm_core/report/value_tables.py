"""Report tables about cost, business and social value, assumptions and the recommendation."""

from __future__ import annotations

from typing import Any

from slm_core.i18n import CURRENCY_SYMBOLS, t
from slm_core.report.collect import ReportData
from slm_core.report.table_types import (
    Column,
    Table,
    column,
    finite_float,
    money_text,
    run_columns,
    titled,
)
from slm_core.value.assumptions import scenario_name


def cost_table(data: ReportData, lang: str) -> Table:
    """Measured serving cost per run; runs without a benchmark say 'not measured yet'."""
    a = data.value.assumptions if data.value is not None else None
    price = a.price_per_vcpu_hour if a is not None else None
    currency = a.currency if a is not None else "USD"
    grid = a.grid_gco2_per_kwh if a is not None else None
    pue = a.pue if a is not None else None
    rows = []
    for r in data.runs:
        c = r.cost
        per_m = c.cost_per_million(price) if price is not None else None
        grams = (
            None
            if c.energy_kwh_per_million is None or grid is None
            else c.energy_kwh_per_million * pue * grid
        )
        rows.append(
            (
                r.run_id,
                r.label,
                t("report_html.measured" if c.measured else "report_html.not_measured", lang),
                c.runtime or "",
                c.p50_ms,
                c.p90_ms,
                c.p95_ms,
                c.p99_ms,
                c.throughput_32,
                c.throughput_256,
                c.cpu_seconds_per_prediction,
                per_m,
                None if c.artifact_bytes is None else c.artifact_bytes / 1e6,
                None if c.peak_rss_bytes is None else c.peak_rss_bytes / 1e6,
                c.energy_kwh_per_million,
                grams,
            )
        )
    llm = data.value.llm if data.value is not None else None
    if llm is not None:
        per_item = finite_float(llm.business.details.get("cost_per_item"))
        rows.append(
            (
                None,
                t("value.llm_column", lang, name=a.llm_name),
                t("report_html.api_prices", lang),
                "",
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None if per_item is None else per_item * 1e6,
                None,
                None,
                None,
                None,
            )
        )
    symbol = CURRENCY_SYMBOLS.get(currency, currency)
    columns = (
        *run_columns(lang),
        column("cost_status", lang),
        column("runtime", lang),
        column("p50_ms", lang, "ms"),
        column("p90_ms", lang, "ms"),
        column("p95_ms", lang, "ms"),
        column("p99_ms", lang, "ms"),
        column("throughput_32", lang, "rate"),
        column("throughput_256", lang, "rate"),
        column("cpu_seconds_per_prediction", lang, "sig"),
        column("cost_per_million", lang, "money", currency=symbol),
        column("artifact_mb", lang, "mb"),
        column("peak_rss_mb", lang, "mb"),
        column("energy_kwh_per_million", lang, "kwh"),
        column("co2e_g_per_million", lang, "grams"),
    )
    note = t(
        "report_table.cost_note",
        lang,
        price=money_text(price, currency, lang) if price is not None else "–",
        grid=f"{grid:g}" if grid is not None else "–",
        pue=f"{pue:g}" if pue is not None else "–",
    )
    return titled("cost", lang, columns, tuple(rows), note=note)


def cheaper_than_llm(data: ReportData) -> tuple[str, float] | None:
    """(cheapest measured model, how many times cheaper per prediction than the LLM API)."""
    v = data.value
    if v is None or v.llm is None:
        return None
    llm_item = finite_float(v.llm.business.details.get("cost_per_item"))
    price = v.assumptions.price_per_vcpu_hour
    costs = [
        (r.cost.cost_per_million(price), r.label)
        for r in data.runs
        if r.cost.cpu_seconds_per_prediction is not None
    ]
    costs = [(c, label) for c, label in costs if c is not None and c > 0]
    if not llm_item or not costs:
        return None
    cheapest, label = min(costs)
    return label, llm_item * 1e6 / cheapest


def business_table(data: ReportData, lang: str) -> Table:
    v = data.value
    rows = []
    if v is not None:
        cards = list(v.scorecards) + ([v.llm] if v.llm is not None else [])
        for c in cards:
            b = c.business
            name = c.label if c.run_id is not None else t("value.llm_column", lang, name=c.label)
            rows.append(
                (
                    c.run_id,
                    name,
                    b.threshold,
                    t(f"report_html.threshold_{b.threshold_source}", lang),
                    b.coverage,
                    b.automated_accuracy,
                    b.automated_per_year,
                    b.labour_saved,
                    b.correct_value,
                    b.error_cost,
                    b.inference_cost,
                    t(f"report_html.source_{b.inference_source}", lang),
                    b.maintenance,
                    b.setup_cost,
                    b.net_value,
                    b.roi,
                    b.payback_months,
                )
            )
    columns = (
        *run_columns(lang),
        column("threshold", lang, "float"),
        column("threshold_source", lang),
        column("coverage", lang, "pct"),
        column("automated_accuracy", lang, "pct"),
        column("automated_per_year", lang, "int"),
        column("labour_saved", lang, "money"),
        column("correct_value", lang, "money"),
        column("error_cost", lang, "money"),
        column("inference_cost", lang, "money"),
        column("inference_source", lang),
        column("maintenance", lang, "money"),
        column("setup_cost", lang, "money"),
        column("net_value", lang, "money"),
        column("roi", lang, "pct"),
        column("payback_months", lang, "months"),
    )
    return titled(
        "business",
        lang,
        columns,
        tuple(rows),
        note=t("report_table.business_note", lang),
    )


def social_table(data: ReportData, lang: str) -> Table:
    from slm_core.value.assumptions import SOCIAL_DIMENSIONS
    from slm_core.value.text import format_figure, note_text

    v = data.value
    rows = []
    if v is not None:
        cur = v.assumptions.currency
        for c in v.scorecards:
            for key in SOCIAL_DIMENSIONS:
                d = c.social_dims[key]
                notes = " ".join(note_text(n, lang) for n in d.notes)
                rows.append(
                    (
                        c.run_id,
                        c.label,
                        t(f"value.dim.{key}", lang),
                        d.value,
                        d.unit,
                        format_figure(d, cur, lang),
                        d.score,
                        t(f"value.status.{d.status}", lang),
                        notes,
                    )
                )
    columns = (
        *run_columns(lang),
        column("dimension", lang),
        column("raw_value", lang, "float", show=False),
        column("unit", lang, show=False),
        column("figure", lang),
        column("score", lang, "score"),
        column("status", lang),
        column("notes", lang),
    )
    return titled("social", lang, columns, tuple(rows))


def scores_table(data: ReportData, lang: str) -> Table:
    """Dimensions as rows, models (and the LLM API) as columns: the side-by-side view."""
    from slm_core.value.assumptions import BUSINESS_DIMENSIONS, SOCIAL_DIMENSIONS

    v = data.value
    if v is None:
        return titled("scores", lang, (), ())
    cards = list(v.scorecards)
    llm = v.llm
    llm_name = t("value.llm_column", lang, name=v.assumptions.llm_name)
    rows = []
    for key in BUSINESS_DIMENSIONS:
        scores = [c.business_dims[key].score for c in cards]
        scores.append(llm.business_dims[key].score if llm is not None else None)
        rows.append((t(f"value.dim.{key}", lang), *scores, t(f"value.formula.{key}", lang)))
    for key in SOCIAL_DIMENSIONS:
        scores = [c.social_dims[key].score for c in cards] + [None]
        rows.append((t(f"value.dim.{key}", lang), *scores, t(f"value.formula.{key}", lang)))
    rows.append(
        (
            t("value.row.business_score", lang),
            *[c.business_score.score for c in cards],
            llm.business_score.score if llm is not None else None,
            t("value.formula.business_score", lang),
        )
    )
    rows.append(
        (
            t("value.row.social_score", lang),
            *[c.social_score.score for c in cards],
            None,
            t("value.formula.social_score", lang),
        )
    )
    rows.append(
        (
            t("value.row.overall", lang),
            *[c.overall for c in cards],
            None,
            t("value.formula.overall", lang),
        )
    )
    columns = (
        column("dimension", lang),
        *[Column(c.label, c.label, "score") for c in cards],
        Column("llm_api", llm_name, "score", show=llm is not None),
        column("formula", lang),
    )
    if llm is None:
        rows = [(*r[:-2], r[-1]) for r in rows]
        columns = tuple(c for c in columns if c.key != "llm_api")
    return titled(
        "scores",
        lang,
        columns,
        tuple(rows),
        note=t("value.scores_caption", lang),
    )


def curves_table(data: ReportData, lang: str) -> Table:
    v = data.value
    rows = []
    if v is not None:
        for c in v.scorecards:
            curve = c.business.curve
            for th, cov, acc, net in zip(
                curve["threshold"],
                curve["coverage"],
                curve["accuracy"],
                curve["net_value"],
                strict=True,
            ):
                rows.append((c.run_id, c.label, th, cov, acc, net))
    return titled(
        "profit_curve",
        lang,
        (
            *run_columns(lang),
            column("threshold", lang, "float"),
            column("coverage", lang, "pct"),
            column("automated_accuracy", lang, "pct"),
            column("net_value", lang, "money"),
        ),
        tuple(rows),
        show=False,
    )


def assumptions_table(data: ReportData, lang: str) -> Table:
    from slm_core.value.assumptions import (
        FIELD_NAMES,
        localized_source,
        scenario_name,
        source_kind,
    )

    v = data.value
    rows = []
    if v is not None:
        a = v.assumptions
        for name in FIELD_NAMES:
            if name in ("sources", "preset") or (
                name == "payoff_matrix" and a.payoff_mode != "matrix"
            ):
                continue
            value = getattr(a, name)
            if isinstance(value, dict):
                import json

                value = json.dumps(value, ensure_ascii=False, sort_keys=True)
            if name == "name":
                value = scenario_name(value, lang)
            src = a.source(name)
            shown = localized_source(src, lang)
            label = t(f"value.field.{name}", lang)
            rows.append(
                (
                    name,
                    label,
                    value,
                    a.unit(name, lang),
                    t(f"value.kind.{source_kind(src)}", lang),
                    shown.source,
                    shown.date,
                    shown.note,
                )
            )
    return titled(
        "assumptions",
        lang,
        (
            column("key", lang, show=False),
            column("assumption", lang),
            column("value", lang, "auto"),
            column("unit", lang),
            column("kind", lang),
            column("source", lang),
            column("date", lang),
            column("note", lang),
        ),
        tuple(rows),
    )


def recommendation_table(data: ReportData, lang: str) -> Table:
    from slm_core.value.text import recommendation_text, sensitivity_text

    v = data.value
    rows: list[tuple[Any, ...]] = []
    if v is not None:
        rec, sens = v.recommendation, v.sensitivity
        rows = [
            ("winner", t("report_field.winner", lang), rec.winner),
            ("winner_score", t("report_field.winner_score", lang), rec.winner_score),
            ("runner_up", t("report_field.runner_up", lang), rec.runner_up),
            ("runner_up_score", t("report_field.runner_up_score", lang), rec.runner_up_score),
            (
                "recommendation",
                t("report_field.recommendation", lang),
                recommendation_text(v, lang),
            ),
            ("sensitivity", t("report_field.sensitivity", lang), sensitivity_text(v, lang)),
            (
                "sensitivity_field",
                t("report_field.sensitivity_field", lang),
                sens.field if sens else None,
            ),
            (
                "sensitivity_value",
                t("report_field.sensitivity_value", lang),
                sens.value if sens else None,
            ),
            ("scenario", t("report_field.scenario", lang), scenario_name(v.assumptions.name, lang)),
        ]
    return titled(
        "recommendation",
        lang,
        (column("key", lang, show=False), column("field", lang), column("value", lang, "auto")),
        tuple(rows),
        show=False,
    )
