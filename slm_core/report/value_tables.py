"""The value report's headline tables: the decision with the break-evens that would flip it,
every option side by side, and their 0–100 scores.

Each option's figures in detail (serving cost, business, social) are in
:mod:`slm_core.report.figure_tables`; the scenario behind them (assumptions, validation curves,
cost against volume) in :mod:`slm_core.report.scenario_tables`. Every figure comes from
``ReportData.value`` (a :class:`~slm_core.value.scorecard.ValueReport`); nothing here computes a
value figure. Each figure's kind (measured, modelled, assumed) travels in its own column.
"""

from __future__ import annotations

from typing import Any

from slm_core.i18n import format_money, t
from slm_core.report.collect import ReportData
from slm_core.report.table_types import Column, Table, column, format_cell, option_columns, titled
from slm_core.value.assumptions import BUSINESS_DIMENSIONS, SOCIAL_DIMENSIONS, scenario_name
from slm_core.value.option import Option
from slm_core.value.scorecard import ValueReport
from slm_core.value.text import (
    decision_text,
    interval_text,
    join_sentences,
    kind_text,
    mode_text,
    money,
    option_label,
    reasons_text,
    sensitivity_text,
    serving_text,
    volume_text,
)


def bounds(pair: tuple[float, float] | None) -> tuple[float | None, float | None]:
    """An interval's low and high end (both None when there is no interval)."""
    return (None, None) if pair is None else (pair[0], pair[1])


def _role(v: ValueReport, o: Option, lang: str) -> str:
    if o.key == v.decision.best:
        return t("report_html.role_best", lang)
    if o.key == v.decision.runner_up:
        return t("report_html.role_runner_up", lang)
    return ""


def chosen_on_text(o: Option, lang: str) -> str:
    """What the option's threshold was chosen on, as a table cell."""
    return t(f"report_html.threshold_{o.business.threshold_source}", lang)


def _interval_money(v: ValueReport, pair: tuple[float, float] | None, lang: str) -> str:
    if pair is None:
        return "–"
    return f"{money(pair[0], v, lang)} – {money(pair[1], v, lang)}"


def _option_row(v: ValueReport, o: Option, ranked: list[str], lang: str) -> tuple:
    """One option's cells, in the order of :func:`_option_table_columns`."""
    b = o.business
    low, high = bounds(b.net_value_ci)
    return (
        o.key,
        option_label(o, lang),
        _role(v, o, lang),
        mode_text(o, lang),
        o.serving.instances if o.serving is not None else None,
        b.threshold,
        chosen_on_text(o, lang),
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
        # hidden: what the Value page shows besides (and the CSV export keeps)
        o.kind,
        ranked.index(o.key) + 1 if o.key in ranked else None,
        serving_text(o, lang),
        b.threshold_source,
        b.interval_level or v.assumptions.interval_level,
        b.kinds.get("coverage", ""),
        b.kinds.get("net_value", ""),
        b.kinds.get("payback_months", ""),
        reasons_text(o, lang),
    )


def _option_table_columns(level: str, lang: str) -> tuple[Column, ...]:
    return (
        *option_columns(lang),
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
        column("option_kind", lang, show=False),
        column("rank", lang, "int", show=False),
        column("serving_detail", lang, show=False),
        column("threshold_source_key", lang, show=False),
        column("interval_level", lang, "float", show=False),
        column("coverage_kind_key", lang, show=False),
        column("net_value_kind_key", lang, show=False),
        column("payback_kind_key", lang, show=False),
        column("reasons", lang, show=False),
    )


def options_table(source: ReportData | ValueReport, lang: str) -> Table:
    """Every option side by side: how it is served, its threshold, net value with interval and
    chance of being positive, yearly cost, payback, scores, and whether it can be recommended.

    The one builder of this table: the HTML report and exports show its visible columns, the
    Value page pivots it (options as columns) and reads the hidden ones too.
    """
    v = source if isinstance(source, ValueReport) else source.value
    ranked = list(v.decision.ranked) if v is not None else []
    rows = tuple(_option_row(v, o, ranked, lang) for o in (v.options if v is not None else ()))
    level = f"{v.assumptions.interval_level:.0%}" if v is not None else "–"
    return titled(
        "options",
        lang,
        _option_table_columns(level, lang),
        rows,
        note=t("report_table.options_note", lang, level=level),
    )


def left_out_note(v: ValueReport | None, lang: str) -> str:
    """Which social dimensions are left out of every score, and why ('' when none are)."""
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
    note = join_sentences((t("report_table.scores_note", lang), left_out_note(v, lang)), lang)
    return titled("scores", lang, columns, tuple(rows), note=note)


def _volume(x: float | None, lang: str) -> str:
    """Texts a year, rounded as in the decision sentence, so both show the same figure."""
    if x is None:
        return "–"
    return t("report_unit.texts_per_year", lang, n=volume_text(x, lang))


def _break_even_rows(v: ValueReport, lang: str) -> list[tuple[Any, ...]]:
    d = v.decision
    label = {o.key: option_label(o, lang) for o in v.options}
    rows: list[tuple[Any, ...]] = []
    if d.llm_break_even is not None:
        b = d.llm_break_even
        name = t("report_field.llm_break_even", lang, new=label.get(b.new, b.new))
        rows.append(("llm_break_even", name, b.value, format_cell(b.value, "pct")))
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
    v = data.value
    rows: list[tuple[Any, ...]] = []
    if v is not None:
        best, runner = v.best, v.runner_up
        b = best.business
        low, high = bounds(b.net_value_ci)
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
            row("p_positive", b.p_positive, format_cell(b.p_positive, "pct")),
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
