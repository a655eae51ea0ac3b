"""Report tables of the value report: the options, the decision, serving cost, business and
social figures per option, scores, curves and the assumptions behind them.

Every figure comes from ``ReportData.value`` (a :class:`~slm_core.value.scorecard.ValueReport`);
nothing here computes a value figure. Each figure's kind (measured, modelled, assumed) travels
in its own column.
"""

from __future__ import annotations

import json
from typing import Any

from slm_core.i18n import CURRENCY_SYMBOLS, t
from slm_core.report.collect import ReportData
from slm_core.report.table_types import Column, Table, column, titled
from slm_core.value.assumptions import (
    BUSINESS_DIMENSIONS,
    FIELD_NAMES,
    RAREST_CLASS,
    SOCIAL_DIMENSIONS,
    localized_source,
    scenario_name,
    source_kind,
)
from slm_core.value.options import Option
from slm_core.value.scorecard import ValueReport
from slm_core.value.text import (
    decision_text,
    format_figure,
    note_text,
    option_label,
    reasons_text,
    sensitivity_text,
)


def kind_text(kind: str | None, lang: str) -> str:
    return t(f"value.figure_kind.{kind or 'not_measured'}", lang)


def mode_text(o: Option, lang: str) -> str:
    return t(f"value.mode_short.{o.serving_mode or 'manual'}", lang)


def _interval(pair: tuple[float, float] | None) -> tuple[float | None, float | None]:
    return (None, None) if pair is None else (pair[0], pair[1])


def _role(v: ValueReport, o: Option, lang: str) -> str:
    if o.key == v.decision.best:
        return t("report_html.role_best", lang)
    if o.key == v.decision.runner_up:
        return t("report_html.role_runner_up", lang)
    return ""


def _chosen_on(o: Option, lang: str) -> str:
    return t(f"report_html.threshold_{o.business.threshold_source}", lang)


def _interval_money(v: ValueReport, pair: tuple[float, float] | None, lang: str) -> str:
    from slm_core.value.text import money

    if pair is None:
        return "–"
    return f"{money(pair[0], v, lang)} – {money(pair[1], v, lang)}"


def options_table(data: ReportData, lang: str) -> Table:
    """Every option side by side: how it is served, its threshold, net value with interval and
    chance of being positive, yearly cost, payback, scores, and whether it can be recommended."""
    v = data.value
    rows = []
    for o in v.options if v is not None else ():
        b = o.business
        low, high = _interval(b.net_value_ci)
        rows.append(
            (
                o.key,
                option_label(o, lang),
                _role(v, o, lang),
                mode_text(o, lang),
                o.serving.instances if o.serving is not None else None,
                b.threshold,
                _chosen_on(o, lang),
                b.coverage,
                b.net_value,
                _interval_money(v, b.net_value_ci, lang),
                low,
                high,
                b.p_positive,
                b.yearly_cost,
                b.payback_months,
                o.business_score.score if o.business_score else None,
                o.social_score.score if o.social_score else None,
                o.overall,
                o.eligible,
                reasons_text(o, lang) or t("report_html.yes", lang),
                kind_text(b.kinds.get("net_value"), lang) if o.kind != "manual" else "",
            )
        )
    level = f"{v.assumptions.interval_level:.0%}" if v is not None else "–"
    columns = (
        column("key", lang, show=False),
        column("option", lang),
        column("role", lang),
        column("serving", lang),
        column("instances", lang, "int", show=False),
        column("threshold", lang, "float"),
        column("threshold_source", lang, show=False),
        column("coverage", lang, "pct"),
        column("net_value", lang, "money"),
        column("net_value_interval", lang, level=level),
        column("net_value_low", lang, "money", show=False),
        column("net_value_high", lang, "money", show=False),
        column("p_positive", lang, "pct"),
        column("yearly_cost", lang, "money"),
        column("payback_months", lang, "months"),
        column("business_score", lang, "score", show=False),
        column("social_score", lang, "score", show=False),
        column("overall", lang, "score"),
        column("eligible", lang, "auto", show=False),
        column("recommendable", lang),
        column("net_value_kind", lang),
    )
    return titled(
        "options",
        lang,
        columns,
        tuple(rows),
        note=t("report_table.options_note", lang, level=level),
    )


def serving_source(data: ReportData, run_id: int) -> str | None:
    """What the run's serving figures rest on: 'bench' (the Cost page's benchmark), 'fallback'
    (batch CPU time measured during evaluation) or None (not measured)."""
    v = data.value
    runs = v.inputs.runs if v is not None else ()
    measure = next((r.serving for r in runs if r.run_id == run_id), None)
    return None if measure is None else measure.source


def cost_table(data: ReportData, lang: str) -> Table:
    """Per run: what serving costs in the chosen mode at the scenario's volume (modelled), then
    what the serving benchmark measured; the API's bill on the last row."""
    v = data.value
    rows = []
    for r in data.runs:
        c = r.cost
        o = data.option(r.run_id)
        s = o.serving if o is not None else None
        source = serving_source(data, r.run_id) or "not_measured"
        rows.append(
            (
                r.run_id,
                r.label,
                mode_text(o, lang) if o is not None else "",
                None if s is None else s.instances,
                None if s is None else s.yearly_cost,
                None if s is None else s.per_million,
                None if s is None else s.yearly_kwh,
                None if s is None else s.wh_per_text,
                kind_text(None if s is None else s.kind, lang),
                "" if s is None or s.note is None else t(s.note, lang),
                t(f"report_html.source_{source}", lang),
                c.runtime or "",
                c.p50_ms,
                c.p95_ms,
                c.p99_ms,
                c.throughput_32,
                c.cpu_seconds_per_prediction,
                None if c.artifact_bytes is None else c.artifact_bytes / 1e6,
                None if c.peak_rss_bytes is None else c.peak_rss_bytes / 1e6,
            )
        )
    api = next((o for o in v.options if o.kind == "api"), None) if v is not None else None
    if api is not None and api.serving is not None:
        s = api.serving
        rows.append(
            (
                None,
                option_label(api, lang),
                mode_text(api, lang),
                None,
                s.yearly_cost,
                s.per_million,
                s.yearly_kwh,
                s.wh_per_text,
                kind_text(s.kind, lang),
                "",
                t("report_html.api_prices", lang),
                *([None] * 8),
            )
        )
    currency = v.assumptions.currency if v is not None else "USD"
    symbol = CURRENCY_SYMBOLS.get(currency, currency)
    columns = (
        column("run", lang, "int"),
        column("model", lang),
        column("serving", lang),
        column("instances", lang, "int"),
        column("serving_yearly_cost", lang, "money", currency=symbol),
        column("cost_per_million", lang, "money", currency=symbol),
        column("yearly_kwh", lang, "kwh"),
        column("wh_per_text", lang, "sig"),
        column("serving_kind", lang),
        column("serving_note", lang),
        column("cost_status", lang),
        column("runtime", lang),
        column("p50_ms", lang, "ms"),
        column("p95_ms", lang, "ms"),
        column("p99_ms", lang, "ms"),
        column("throughput_32", lang, "rate"),
        column("cpu_seconds_per_prediction", lang, "sig"),
        column("artifact_mb", lang, "mb"),
        column("peak_rss_mb", lang, "mb"),
    )
    volume = f"{v.assumptions.annual_volume:,.0f}" if v is not None else "–"
    return titled(
        "cost", lang, columns, tuple(rows), note=t("report_table.cost_note", lang, volume=volume)
    )


def business_table(data: ReportData, lang: str) -> Table:
    """Every option's yearly business figures, with the split that chose and the one that
    scored, and the kind of the main figures."""
    v = data.value
    rows = []
    for o in v.options if v is not None else ():
        b = o.business
        cov_low, cov_high = _interval(b.coverage_ci)
        roi_low, roi_high = _interval(b.roi_ci)
        k = b.kinds
        rows.append(
            (
                o.key,
                option_label(o, lang),
                mode_text(o, lang),
                b.threshold,
                _chosen_on(o, lang),
                t(f"value.split.{b.scored_on}", lang) if b.scored_on else "",
                b.coverage,
                cov_low,
                cov_high,
                b.automated_accuracy,
                b.automated_per_year,
                b.labour_saved,
                b.correct_value,
                b.error_cost,
                b.people_error_avoided,
                b.serving_cost,
                b.api_cost,
                b.maintenance,
                b.setup_cost,
                b.manual_cost,
                b.yearly_cost,
                b.net_value,
                b.roi,
                roi_low,
                roi_high,
                b.payback_months,
                *(
                    kind_text(k.get(f), lang) if o.kind != "manual" else ""
                    for f in ("coverage", "automated_accuracy", "serving_cost", "net_value")
                ),
            )
        )
    columns = (
        column("key", lang, show=False),
        column("option", lang),
        column("serving", lang),
        column("threshold", lang, "float"),
        column("threshold_source", lang),
        column("scored_on", lang),
        column("coverage", lang, "pct"),
        column("coverage_low", lang, "pct", show=False),
        column("coverage_high", lang, "pct", show=False),
        column("automated_accuracy", lang, "pct"),
        column("automated_per_year", lang, "int"),
        column("labour_saved", lang, "money"),
        column("correct_value", lang, "money"),
        column("error_cost", lang, "money"),
        column("people_error_avoided", lang, "money"),
        column("serving_cost", lang, "money"),
        column("api_cost", lang, "money"),
        column("maintenance", lang, "money"),
        column("setup_cost", lang, "money"),
        column("manual_cost", lang, "money"),
        column("yearly_cost", lang, "money"),
        column("net_value", lang, "money"),
        column("roi", lang, "pct"),
        column("roi_low", lang, "pct", show=False),
        column("roi_high", lang, "pct", show=False),
        column("payback_months", lang, "months"),
        column("coverage_kind", lang),
        column("accuracy_kind", lang),
        column("serving_kind", lang),
        column("net_value_kind", lang),
    )
    return titled(
        "business", lang, columns, tuple(rows), note=t("report_table.business_note", lang)
    )


def social_table(data: ReportData, lang: str) -> Table:
    """Every social dimension of every option: its figure, score, kind and notes; dimensions
    missing for one option are left out of every social score (and marked so)."""
    v = data.value
    rows = []
    if v is not None:
        cur = v.assumptions.currency
        for o in v.options:
            if o.kind == "manual":
                continue
            for key in SOCIAL_DIMENSIONS:
                d = o.social_dims.get(key)
                if d is None:
                    continue
                rows.append(
                    (
                        o.key,
                        option_label(o, lang),
                        t(f"value.dim.{key}", lang),
                        d.value,
                        d.unit,
                        format_figure(d, cur, lang),
                        d.score,
                        kind_text(d.kind, lang),
                        key not in v.left_out,
                        " ".join(note_text(n, lang) for n in d.notes),
                    )
                )
    columns = (
        column("key", lang, show=False),
        column("option", lang),
        column("dimension", lang),
        column("raw_value", lang, "float", show=False),
        column("unit", lang, show=False),
        column("figure", lang),
        column("score", lang, "score"),
        column("kind", lang),
        column("in_social_score", lang, "auto"),
        column("notes", lang),
    )
    return titled("social", lang, columns, tuple(rows), note=_left_out_note(v, lang))


def _left_out_note(v: ValueReport | None, lang: str) -> str:
    if v is None or not v.left_out:
        return ""
    dims = t("model_card.list_sep", lang).join(t(f"value.dim.{d}", lang) for d in v.left_out)
    return t("value.left_out", lang, dims=dims)


def scores_table(data: ReportData, lang: str) -> Table:
    """Dimensions as rows, every option but keeping it manual as columns (0–100)."""
    v = data.value
    if v is None:
        return titled("scores", lang, (), ())
    options = [o for o in v.options if o.kind != "manual"]

    def dim(o: Option, key: str) -> float | None:
        d = o.business_dims.get(key) or o.social_dims.get(key)
        return None if d is None else d.score

    rows = []
    for key in (*BUSINESS_DIMENSIONS, *SOCIAL_DIMENSIONS):
        used = key not in v.left_out
        rows.append(
            (
                key,
                t(f"value.dim.{key}", lang),
                *(dim(o, key) for o in options),
                used,
                t(f"value.formula.{key}", lang),
            )
        )
    for key, get in (
        ("business_score", lambda o: o.business_score.score if o.business_score else None),
        ("social_score", lambda o: o.social_score.score if o.social_score else None),
        ("overall", lambda o: o.overall),
    ):
        rows.append(
            (
                key,
                t(f"value.row.{key}", lang),
                *(get(o) for o in options),
                True,
                t(f"value.formula.{key}", lang),
            )
        )
    columns = (
        column("key", lang, show=False),
        column("dimension", lang),
        *[Column(o.key, option_label(o, lang), "score") for o in options],
        column("in_overall", lang, "auto"),
        column("formula", lang),
    )
    sep = "" if lang == "zh" else " "  # Chinese sentences follow each other without a space
    note = sep.join(x for x in (t("report_table.scores_note", lang), _left_out_note(v, lang)) if x)
    return titled("scores", lang, columns, tuple(rows), note=note)


def curves_table(data: ReportData, lang: str) -> Table:
    """Each model's validation curve: what its threshold was chosen on."""
    v = data.value
    rows = []
    for o in v.models if v is not None else ():
        curve = o.business.curve
        if not curve.get("threshold"):
            continue
        for th, cov, acc, per_text in zip(
            curve["threshold"],
            curve["coverage"],
            curve["accuracy"],
            curve["value_per_text"],
            strict=True,
        ):
            rows.append((o.run_id, o.label, th, cov, acc, per_text))
    return titled(
        "profit_curve",
        lang,
        (
            column("run", lang, "int"),
            column("model", lang),
            column("threshold", lang, "float"),
            column("coverage", lang, "pct"),
            column("automated_accuracy", lang, "pct"),
            column("value_per_text", lang, "sig"),
        ),
        tuple(rows),
        note=t("report_table.profit_curve_note", lang),
        show=False,
    )


def cost_volume_table(data: ReportData, lang: str) -> Table:
    """The cost-vs-volume chart's data: each option's yearly cost at each yearly volume."""
    v = data.value
    rows = []
    curves = v.decision.curves if v is not None else {}
    if curves:
        labels = {o.key: option_label(o, lang) for o in v.options}
        for key, costs in curves["cost"].items():
            for volume, cost in zip(curves["volume"], costs, strict=True):
                rows.append((key, labels.get(key, key), volume, cost))
    return titled(
        "cost_volume",
        lang,
        (
            column("key", lang, show=False),
            column("option", lang),
            column("volume", lang, "int"),
            column("yearly_cost", lang, "money"),
        ),
        tuple(rows),
        show=False,
    )


def _used(v: ValueReport, name: str) -> bool:
    """False for figures the scenario states but no formula uses on this dataset."""
    from slm_core.value.payoff import positive_class

    a = v.assumptions
    if name in ("cost_false_positive", "cost_false_negative"):
        return positive_class(a, v.inputs.classes, v.inputs.prior) is not None
    if name == "payoff_matrix":
        return a.payoff_mode == "matrix"
    return True


def _shown_value(v: ValueReport, name: str, lang: str) -> Any:
    from slm_core.value.payoff import positive_class

    a = v.assumptions
    value = getattr(a, name)
    if name == "name":
        return scenario_name(value, lang)
    if name == "serving_mode":
        return t(f"value.mode_short.{value}", lang)
    if name == "payoff_mode":
        return t(f"value.payoff_mode.{value}", lang)
    if name == "positive_class" and value == RAREST_CLASS:
        resolved = positive_class(a, v.inputs.classes, v.inputs.prior)
        return t("report_html.rarest_class", lang, cls=resolved or "–")
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def assumptions_table(data: ReportData, lang: str) -> Table:
    """Every assumption: value, unit, kind of source, source, date, note, and whether a formula
    uses it on this dataset (error costs of a positive class the scenario does not name are not
    used)."""
    v = data.value
    rows = []
    if v is not None:
        a = v.assumptions
        for name in FIELD_NAMES:
            if name in ("sources", "preset"):
                continue
            src = a.source(name)
            shown = localized_source(src, lang)
            used = _used(v, name)
            note = shown.note
            if not used:
                note = " ".join(x for x in (t(f"report_html.unused_{name}", lang), note) if x)
            rows.append(
                (
                    name,
                    t(f"value.field.{name}", lang),
                    _shown_value(v, name, lang),
                    a.unit(name, lang),
                    t(f"value.kind.{source_kind(src)}", lang),
                    shown.source,
                    shown.date,
                    used,
                    note,
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
            column("in_use", lang, "auto"),
            column("note", lang),
        ),
        tuple(rows),
    )


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def _volume(x: float | None, lang: str) -> str:
    from slm_core.i18n import format_number

    if x is None:
        return "–"
    # Rounded as in the decision sentence (slm_core.value.text), so both show the same figure.
    rounded = float(f"{x:.2g}") if x >= 100 else round(x)
    return t("report_unit.texts_per_year", lang, n=format_number(rounded, lang))


def _break_even_rows(v: ValueReport, lang: str) -> list[tuple[Any, ...]]:
    from slm_core.i18n import format_money

    d = v.decision
    label = {o.key: option_label(o, lang) for o in v.options}
    rows: list[tuple[Any, ...]] = []
    if d.llm_break_even is not None:
        b = d.llm_break_even
        name = t("report_field.llm_break_even", lang, new=label.get(b.new, b.new))
        rows.append(("llm_break_even", name, b.value, _pct(b.value)))
    if d.llm_break_even is None and d.best != "manual":
        rows.append(
            (
                "llm_break_even",
                t("report_field.llm_none", lang),
                None,
                t("value.decision.llm_none", lang),
            )
        )
    if d.manual_below is not None:
        value = d.manual_below.value
        rows.append(
            ("manual_below", t("report_field.manual_below", lang), value, _volume(value, lang))
        )
    for b in d.manual_flips:
        if b.field == "annual_volume":
            text = _volume(b.value, lang)
        elif b.field == "hourly_labour_cost":
            text = format_money(b.value, v.assumptions.currency, lang, 2)
        else:
            text = t("report_unit.times_today", lang, pct=f"{b.value:.0%}")
        name = t(f"report_field.flip_{b.field}", lang, new=label.get(b.new, b.new))
        rows.append((f"manual_flip.{b.field}", name, b.value, text))
    for c in d.crossovers:
        name = t("report_field.crossover", lang, a=label.get(c.a, c.a), b=label.get(c.b, c.b))
        rows.append((f"crossover.{c.a}.{c.b}", name, c.volume, _volume(c.volume, lang)))
    return rows


def decision_table(data: ReportData, lang: str) -> Table:
    """The decision: its sentence, best option and runner-up with their net values, the
    break-evens that would flip it, crossover volumes and the sensitivity search."""
    from slm_core.value.text import interval_text, money

    v = data.value
    rows: list[tuple[Any, ...]] = []
    if v is not None:
        best, runner = v.best, v.runner_up
        b = best.business
        low, high = _interval(b.net_value_ci)
        sens = v.sensitivity

        def row(key: str, raw: Any, text: str, **values: Any) -> tuple[Any, ...]:
            return (key, t(f"report_field.{key}", lang, **values), raw, text)

        rows = [
            row("decision", None, decision_text(v, lang)),
            row("best", best.key, option_label(best, lang)),
            row("best_net_value", b.net_value, money(b.net_value, v, lang)),
            row("best_interval", None, interval_text(best, v, lang)),
            row("interval_low", low, money(low, v, lang)),
            row("interval_high", high, money(high, v, lang)),
            row("p_positive", b.p_positive, _pct(b.p_positive)),
            row(
                "best_overall", best.overall, "–" if best.overall is None else f"{best.overall:.0f}"
            ),
            row(
                "runner_up",
                runner.key if runner else None,
                option_label(runner, lang) if runner else "–",
            ),
            row(
                "runner_up_net_value",
                runner.business.net_value if runner else None,
                money(runner.business.net_value, v, lang) if runner else "–",
            ),
            *_break_even_rows(v, lang),
            row("sensitivity", None, sensitivity_text(v, lang)),
            row(
                "sensitivity_field",
                sens.field if sens else None,
                t(f"value.field.{sens.field}", lang) if sens and sens.field else "–",
            ),
            row(
                "sensitivity_value",
                sens.value if sens else None,
                "–" if sens is None or sens.value is None else f"{sens.value:,.4g}",
            ),
            row("scenario", v.assumptions.name, scenario_name(v.assumptions.name, lang)),
            row("how", None, t("value.decision.how", lang)),
        ]
    return titled(
        "decision",
        lang,
        (
            column("key", lang, show=False),
            column("field", lang),
            column("raw_value", lang, "auto", show=False),
            column("value", lang),
        ),
        tuple(rows),
    )
