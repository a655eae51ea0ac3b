"""The decision, the options' figures, notes and the sensitivity as sentences to read.

One home for every sentence the Value, Present and Cost pages, the CLI and the HTML report
show about the decision, so they can never disagree.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from slm_core.value.option import API, Option
from slm_core.value.scorecard import ValueReport
from slm_core.value.scores import Dimension, Note


def note_text(note: Note, lang: str = "en") -> str:
    from slm_core.i18n import t

    return t(note.key, lang, **note.params) if note.params else t(note.key, lang)


def money(value: float | None, report: ValueReport, lang: str = "en") -> str:
    from slm_core.i18n import format_money, t

    if value is None or not math.isfinite(value):
        return t("value.not_measured", lang)
    return format_money(value, report.assumptions.currency, lang)


def kind_text(kind: str | None, lang: str = "en") -> str:
    """What a figure rests on: 'measured', 'modelled', 'assumed' or 'not measured' in ``lang``."""
    from slm_core.i18n import t

    return t(f"value.figure_kind.{kind or 'not_measured'}", lang)


def score_text(value: float | None) -> str:
    """A 0–100 score as a whole number ('–' when there is none)."""
    return "–" if value is None else f"{value:.0f}"


def volume_text(value: float, lang: str = "en") -> str:
    """A yearly volume as the decision states it: two significant digits from 100 up."""
    from slm_core.i18n import format_number

    rounded = float(f"{value:.2g}") if value >= 100 else round(value)
    return format_number(rounded, lang)


def option_label(o: Option, lang: str = "en") -> str:
    """'Keep it manual', the API's name, '#3 cnn' or '#3 cnn → API'."""
    from slm_core.i18n import t

    if o.kind == "manual":
        return t("value.option.manual", lang)
    if o.kind == "api":
        if o.llm is not None and o.llm.measured:
            return o.label  # 'LLM · <model>': the model that was measured
        return t("value.option.api", lang, name=o.label)
    return o.label


def mode_text(o: Option, lang: str = "en") -> str:
    """How the option is served, in a word or two for a table cell: 'people', 'device', 'API'."""
    from slm_core.i18n import t

    return t(f"value.mode_short.{o.serving_mode or 'manual'}", lang)


def serving_text(o: Option, lang: str = "en") -> str:
    """How the option is served: 'on 1 always-on server', 'on the user's device', …"""
    from slm_core.i18n import t

    if o.kind == "manual":
        return t("value.mode.manual", lang)
    if o.serving_mode == "always_on" and o.serving is not None and (o.serving.instances or 1) > 1:
        return t("value.mode.always_on_n", lang, n=o.serving.instances)
    return t(f"value.mode.{o.serving_mode}", lang)


def interval_text(o: Option, report: ValueReport, lang: str = "en") -> str:
    """'90% interval $31k – $47k, chance of a positive value 99%' (or why there is none)."""
    from slm_core.i18n import t

    b = o.business
    measured = o.llm is not None and o.llm.measured
    if o.kind == "api" and (not measured or b.net_value_ci is None):
        return t("value.decision.no_interval_assumed", lang)
    if b.net_value_ci is None:
        return t("value.decision.no_interval", lang)
    lo, hi = b.net_value_ci
    if o.kind == "api":
        return t(
            "value.decision.interval_llm",
            lang,
            level=f"{b.interval_level or report.assumptions.interval_level:.0%}",
            low=money(lo, report, lang),
            high=money(hi, report, lang),
        )
    text = t(
        "value.decision.interval",
        lang,
        level=f"{b.interval_level or report.assumptions.interval_level:.0%}",
        low=money(lo, report, lang),
        high=money(hi, report, lang),
        p=f"{b.p_positive or 0:.0%}",
    )
    if o.kind == "cascade" and measured:
        text += t("value.decision.interval_measured", lang, n=o.llm.n)
    elif o.kind == "cascade":
        text += t("value.decision.interval_assumed", lang)
    return text


def decision_text(report: ValueReport, lang: str = "en") -> str:
    """The decision in one paragraph: best option, its net value and interval, the runner-up,
    and the break-evens that would flip it."""
    from slm_core.i18n import t

    if not report.inputs.runs:
        return t("value.no_runs", lang)
    d = report.decision
    best = report.best
    a = report.assumptions
    if best.kind == "manual":
        parts = [t("value.decision.manual", lang, horizon=f"{a.payback_horizon_months:g}")]
        parts += [_flip_text(b, report, lang) for b in d.manual_flips]
        if not d.manual_flips:
            parts.append(t("value.decision.no_flip", lang))
    else:
        b = best.business
        key = {"model": "value.decision.own", API: "value.decision.api"}.get(
            best.kind, "value.decision.cascade"
        )
        parts = [
            t(
                key,
                lang,
                option=option_label(best, lang),
                mode=serving_text(best, lang),
                net=money(b.net_value, report, lang),
                interval=interval_text(best, report, lang),
                share=f"{b.details.get('small_model_share', b.coverage):.0%}",
                api=best.llm.name if best.llm is not None else a.llm_name,
            )
        ]
        runner = report.runner_up
        if runner is not None:
            parts.append(
                t(
                    "value.decision.runner_up",
                    lang,
                    option=option_label(runner, lang),
                    net=money(runner.business.net_value, report, lang),
                )
            )
    if d.llm_break_even is not None:
        parts.append(_flip_text(d.llm_break_even, report, lang))
    elif best.kind != "manual":
        parts.append(t("value.decision.llm_none", lang))
    if d.manual_below is not None:
        parts.append(
            t(
                "value.decision.manual_below",
                lang,
                volume=volume_text(d.manual_below.value, lang),
            )
        )
    return join_sentences(parts, lang)


def llm_notes_text(o: Option, lang: str = "en") -> str:
    """What the option's LLM figures rest on, e.g. 'measured on 200 test texts: 87.5%
    (82.2–91.5%)' ('' for options without an LLM)."""
    # The notes are clauses, not sentences: joined like items of one sentence.
    return ("；" if lang == "zh" else "; ").join(note_text(n, lang) for n in o.llm_notes)


def llm_figures_text(o: Option, report: ValueReport, lang: str = "en") -> str:
    """The measured LLM's price per 1M texts and latency, with kind and method ('' when the
    LLM is assumed)."""
    from slm_core.i18n import format_money, format_number, t

    llm = o.llm
    if llm is None or not llm.measured:
        return ""

    def ms(value: float | None) -> str:
        return "–" if value is None else format_number(value, lang)

    per_million = llm.price_per_million
    return t(
        "value.llm.figures",
        lang,
        name=llm.name,
        per_million=(
            "–"
            if per_million is None
            else format_money(per_million, report.assumptions.currency, lang, 2)
        ),
        p50=ms(llm.latency_ms),
        p95=ms(llm.latency_p95_ms),
        run=llm.run_id,
        kind=kind_text(llm.price_kind, lang),  # 'modelled' when some usage was estimated
    )


def join_sentences(parts, lang: str = "en") -> str:
    """Sentences joined as the language writes them (Chinese needs no space after 。)."""
    return ("" if lang == "zh" else " ").join(p for p in parts if p)


def _flip_text(b, report: ValueReport, lang: str) -> str:
    from slm_core.i18n import format_money, t

    new = option_label(report.option(b.new), lang) if _has(report, b.new) else b.new
    if b.field == "llm_accuracy":
        key = "value.decision.llm_up" if b.value > b.current else "value.decision.llm_down"
        if b.measured:  # from the accuracy measured on the user's data
            key += "_measured"
            return t(key, lang, new=new, value=f"{b.value:.1%}", now=f"{b.current:.1%}")
        return t(key, lang, new=new, value=f"{b.value:.1%}")
    if b.field == "annual_volume":
        return t("value.decision.flip_volume", lang, new=new, value=volume_text(b.value, lang))
    if b.field == "hourly_labour_cost":
        value = format_money(b.value, report.assumptions.currency, lang, 2)
        return t("value.decision.flip_wage", lang, new=new, value=value)
    return t("value.decision.flip_errors", lang, new=new, pct=f"{b.value:.0%}")


def _has(report: ValueReport, key: str) -> bool:
    return any(o.key == key for o in report.options)


def reasons_text(o: Option, lang: str = "en") -> str:
    """Why an option may not be recommended ('' when it may)."""
    return " ".join(note_text(n, lang) for n in o.reasons)


# Notes saying a check was tried and failed: "not measured yet" would promise it is coming.
FAILED_NOTES = frozenset({"value.note.check_failed", "value.note.model_unavailable"})


def format_figure(dim: Dimension, currency: str = "USD", lang: str = "en") -> str:
    """A dimension's headline figure with its unit ('not measured' when there is none)."""
    from slm_core.i18n import format_money, t

    if dim.value is None:
        failed = any(n.key in FAILED_NOTES for n in dim.notes)
        return t("value.not_measurable" if failed else "value.not_measured", lang)
    if dim.unit == "money/yr":
        return format_money(dim.value, currency, lang) + t("value.per_year", lang)
    if dim.unit == "months":
        return f"{dim.value:.1f} " + t("value.unit.months", lang)
    if dim.unit in ("%", "% sent outside"):
        return f"{dim.value:.1f}%"
    if dim.unit == "points":
        return f"{dim.value:.1f} " + t("value.unit.points", lang)
    if dim.unit == "ms":
        return f"{dim.value:,.0f} ms" if dim.value >= 100 else f"{dim.value:.3g} ms"
    if dim.unit == "Wh/text":
        return f"{dim.value:.3g} Wh" + t("value.per_text", lang)
    return _number(dim.value)


def _number(value: float) -> str:
    """Three significant digits, without scientific notation for large numbers."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def sensitivity_text(report: ValueReport, lang: str = "en") -> str:
    """The assumption that would change the decision with the smallest relative change."""
    from slm_core.i18n import t

    s = report.sensitivity
    if s is None:
        return t("value.sens.not_run", lang)
    if s.field is None:
        return t("value.sens.stable", lang, factor=f"{s.factor:g}")
    unit = report.assumptions.unit(s.field, lang)
    unit = "" if unit in ("0–1", "×") else " " + unit
    new = option_label(report.option(s.new_winner), lang) if _has(report, s.new_winner) else "–"
    return t(
        "value.sens.line",
        lang,
        field=t(f"value.field.{s.field}", lang),
        value=f"{s.value:,.4g}{unit}",
        current=f"{s.current:,.4g}{unit}",
        new=new,
        direction=t("value.sens.up" if s.value > s.current else "value.sens.down", lang),
    )


def format_value_report(report: ValueReport, lang: str = "en") -> str:
    """The decision and every option's figures as plain text (for the CLI)."""
    from slm_core.i18n import t

    lines = _cli_header(report, lang)
    if not report.inputs.runs:
        lines.append(t("value.no_runs", lang))
        return "\n".join(lines)
    lines += ["", decision_text(report, lang), ""]
    lines += _cli_grid(report, lang)
    for o in report.options:
        if o.llm_notes:
            lines.append(f"  {option_label(o, lang)}: {llm_notes_text(o, lang)}")
    api = report.api
    if api is not None and llm_figures_text(api, report, lang):
        lines.append(f"  {llm_figures_text(api, report, lang)}")
    for o in report.options:
        if o.reasons:
            lines.append(f"  {option_label(o, lang)}: {reasons_text(o, lang)}")
    if report.left_out:
        names = ", ".join(t(f"value.dim.{d}", lang) for d in report.left_out)
        lines.append(t("value.left_out", lang, dims=names))
    lines += ["", sensitivity_text(report, lang), t("value.cli.scores_help", lang)]
    return "\n".join(lines)


def _cli_header(report: ValueReport, lang: str) -> list[str]:
    """The dataset and scenario, then the volume, time per text and wage behind the figures."""
    from slm_core.i18n import t

    a = report.assumptions
    return [
        t(
            "value.cli.header",
            lang,
            name=report.dataset_name,
            id=report.dataset_id,
            scenario=a.name,
        ),
        t(
            "value.cli.assumptions",
            lang,
            volume=f"{a.annual_volume:,.0f}",
            minutes=f"{a.minutes_per_item:g}",
            wage=money(a.hourly_labour_cost, report, lang),
        ),
    ]


def _cli_grid(report: ValueReport, lang: str) -> list[str]:
    """Every option as a fixed-width column, one figure a line."""
    from slm_core.i18n import t

    options = list(report.options)
    labels = [option_label(o, lang)[:22] for o in options]
    width = max(14, *(len(x) for x in labels))

    def row(name: str, values: list[str]) -> str:
        return f"{name[:25]:<26}" + "".join(f"{v:>{width + 2}}" for v in values)

    lines = [row("", labels)]
    for key, cell in _cli_rows(report, lang):
        lines.append(row(t(key, lang), [cell(o) for o in options]))
    return lines


def _cli_rows(report: ValueReport, lang: str) -> list[tuple[str, Callable[[Option], str]]]:
    """The grid's rows: the catalogue key of each row's name and how an option's cell reads."""
    from slm_core.i18n import t

    def pair(ci: tuple[float, float] | None) -> str:
        return "–" if ci is None else "/".join(money(x, report, lang) for x in ci)

    return [
        ("value.row.serving", lambda o: mode_text(o, lang)),
        (
            "value.row.threshold",
            lambda o: "–" if o.business.threshold is None else f"{o.business.threshold:.2f}",
        ),
        ("value.row.coverage", lambda o: f"{o.business.coverage:.1%}"),
        ("value.row.net_value", lambda o: money(o.business.net_value, report, lang)),
        ("value.row.interval", lambda o: pair(o.business.net_value_ci)),
        (
            "value.row.p_positive",
            lambda o: "–" if o.business.p_positive is None else f"{o.business.p_positive:.0%}",
        ),
        ("value.row.yearly_cost", lambda o: money(o.business.yearly_cost, report, lang)),
        (
            "value.row.payback",
            lambda o: (
                "–" if o.business.payback_months is None else f"{o.business.payback_months:.1f}"
            ),
        ),
        (
            "value.row.business_score",
            lambda o: score_text(o.business_score.score if o.business_score else None),
        ),
        (
            "value.row.social_score",
            lambda o: score_text(o.social_score.score if o.social_score else None),
        ),
        ("value.row.overall", lambda o: score_text(o.overall)),
        ("value.row.eligible", lambda o: t("value.yes" if o.eligible else "value.no", lang)),
    ]
