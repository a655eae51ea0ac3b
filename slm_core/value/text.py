"""Scorecard figures, notes, the recommendation and its sensitivity as sentences to read."""

from __future__ import annotations

from slm_core.value.assumptions import SOCIAL_DIMENSIONS
from slm_core.value.scorecard import ValueReport
from slm_core.value.scores import Dimension, Note


def note_text(note: Note, lang: str = "en") -> str:
    from slm_core.i18n import t

    return t(note.key, lang, **note.params) if note.params else t(note.key, lang)


def format_figure(dim: Dimension, currency: str = "USD", lang: str = "en") -> str:
    """A dimension's headline figure with its unit ('not measured' when there is none)."""
    from slm_core.i18n import format_money, t

    if dim.value is None:
        return t("value.not_measured", lang)
    if dim.unit == "money/yr":
        return format_money(dim.value, currency, lang) + t("value.per_year", lang)
    if dim.unit == "months":
        return f"{dim.value:.1f} " + t("value.unit.months", lang)
    if dim.unit in ("%", "points"):
        return f"{dim.value:.1f}" + ("%" if dim.unit == "%" else " " + t("value.unit.points", lang))
    if dim.unit == "MB":
        return f"{dim.value:.2f} MB"
    if dim.unit == "ms":
        return f"{dim.value:.2f} ms"
    if dim.unit == "kg CO2e/yr":
        if dim.value < 1:
            return f"{dim.value * 1000:.3g} g CO2e" + t("value.per_year", lang)
        return f"{dim.value:,.3g} kg CO2e" + t("value.per_year", lang)
    return f"{dim.value:.3f}"


def recommendation_text(report: ValueReport, lang: str = "en") -> str:
    """'With your weights, X is the best balance: …' (or why there is no recommendation)."""
    from slm_core.i18n import format_money, t

    rec = report.recommendation
    if rec.winner is None:
        return t("value.rec.none", lang)
    card = next(c for c in report.scorecards if c.label == rec.winner)
    b = card.business
    text = t(
        "value.rec.winner",
        lang,
        model=rec.winner,
        overall=f"{rec.winner_score:.0f}",
        business=_fmt_score(card.business_score.score),
        social=_fmt_score(card.social_score.score),
        coverage=f"{b.coverage:.0%}",
        threshold=f"{b.threshold:.2f}",
        net=format_money(b.net_value, report.assumptions.currency, lang),
    )
    if rec.runner_up is not None:
        text += " " + t(
            "value.rec.runner_up", lang, model=rec.runner_up, overall=f"{rec.runner_up_score:.0f}"
        )
    return text


def _fmt_score(score: float | None) -> str:
    return "–" if score is None else f"{score:.0f}"


def sensitivity_text(report: ValueReport, lang: str = "en") -> str:
    """The assumption that would change the winner, and at what value."""
    from slm_core.i18n import t

    s = report.sensitivity
    if s is None:
        return t("value.sens.not_run", lang)
    if s.field is None:
        return t("value.sens.stable", lang, factor=f"{s.factor:g}")
    return t(
        "value.sens.line",
        lang,
        field=t(f"value.field.{s.field}", lang),
        value=f"{s.value:,.4g}",
        current=f"{s.current:,.4g}",
        unit=""
        if report.assumptions.unit(s.field) in ("0–1", "×")
        else report.assumptions.unit(s.field),
        new=s.new_winner,
        direction=t("value.sens.up" if s.value > s.current else "value.sens.down", lang),
    )


def format_value_report(report: ValueReport, lang: str = "en") -> str:
    """Both scorecards of every run as plain text (for the CLI)."""
    from slm_core.i18n import format_money, t

    a = report.assumptions
    cards = list(report.scorecards)
    lines = [
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
            wage=format_money(a.hourly_labour_cost, a.currency, lang, 2),
        ),
    ]
    if not cards:
        lines.append(t("value.no_runs", lang))
        return "\n".join(lines)
    columns = cards + ([report.llm] if report.llm else [])
    width = max(14, *(len(c.label) for c in columns))
    head = f"{'':<26}" + "".join(f"{c.label:>{width + 2}}" for c in columns)

    def row(name: str, values: list[str]) -> str:
        return f"{name:<26}" + "".join(f"{v:>{width + 2}}" for v in values)

    lines += ["", t("value.business_title", lang), head]
    b_rows = [
        (
            "value.row.threshold",
            lambda c: "–" if c.business.threshold is None else f"{c.business.threshold:.2f}",
        ),
        ("value.row.coverage", lambda c: f"{c.business.coverage:.1%}"),
        ("value.row.labour_saved", lambda c: format_money(c.business.labour_saved, a.currency)),
        ("value.row.error_cost", lambda c: format_money(c.business.error_cost, a.currency)),
        (
            "value.row.inference_cost",
            lambda c: (
                "n/m"
                if c.business.inference_cost is None
                else format_money(c.business.inference_cost, a.currency, digits=2)
            ),
        ),
        ("value.row.net_value", lambda c: format_money(c.business.net_value, a.currency)),
        ("value.row.roi", lambda c: "–" if c.business.roi is None else f"{c.business.roi:.0%}"),
        (
            "value.row.payback",
            lambda c: (
                t("value.never", lang)
                if c.business.payback_months is None
                else f"{c.business.payback_months:.1f}"
            ),
        ),
    ]
    for key, fn in b_rows:
        lines.append(row(t(key, lang)[:25], [fn(c) for c in columns]))
    lines.append(
        row(
            t("value.row.business_score", lang)[:25],
            [_fmt_score(c.business_score.score) for c in columns],
        )
    )
    lines += [
        "",
        t("value.social_title", lang),
        f"{'':<26}" + "".join(f"{c.label:>{width + 2}}" for c in cards),
    ]
    for key in SOCIAL_DIMENSIONS:
        values = []
        for c in cards:
            d = c.social_dims[key]
            values.append("n/m" if d.score is None else f"{d.score:.0f}")
        lines.append(
            f"{t(f'value.dim.{key}', lang)[:25]:<26}" + "".join(f"{v:>{width + 2}}" for v in values)
        )
    lines.append(
        f"{t('value.row.social_score', lang)[:25]:<26}"
        + "".join(f"{_fmt_score(c.social_score.score):>{width + 2}}" for c in cards)
    )
    lines.append(
        f"{t('value.row.overall', lang)[:25]:<26}"
        + "".join(f"{_fmt_score(c.overall):>{width + 2}}" for c in cards)
    )
    lines += ["", recommendation_text(report, lang), sensitivity_text(report, lang)]
    missing = [c for c in cards if c.business.inference_source != "bench"]
    if missing:
        lines.append(
            t(
                "value.note.bench_missing_cli",
                lang,
                runs=", ".join(c.label for c in missing),
                run=missing[0].run_id,
            )
        )
    fallback = [c.label for c in cards if c.business.inference_source == "fallback"]
    if fallback:
        lines.append(t("value.cpu_fallback_warning", lang, runs=", ".join(fallback)))
    lines.append(t("value.cli.scores_help", lang))
    return "\n".join(lines)
