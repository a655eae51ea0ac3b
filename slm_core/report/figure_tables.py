"""Each option's figures in detail: what serving costs per run next to what the serving
benchmark measured, the yearly business figures, and every social dimension.

Every figure comes from ``ReportData.value`` (a :class:`~slm_core.value.scorecard.ValueReport`)
or the run's measured benchmark; nothing here computes a value figure. Each figure's kind
(measured, modelled, assumed) travels in its own column.
"""

from __future__ import annotations

from typing import Any

from slm_core.i18n import CURRENCY_SYMBOLS, t
from slm_core.report.collect import CostFigures, ReportData
from slm_core.report.table_types import Column, Table, column, option_columns, run_columns, titled
from slm_core.report.value_tables import bounds, chosen_on_text, left_out_note
from slm_core.value.assumptions import SOCIAL_DIMENSIONS
from slm_core.value.option import Option
from slm_core.value.text import format_figure, kind_text, mode_text, note_text, option_label

# What serving costs in the option's mode at the scenario's volume (modelled): the
# ServingCost attribute, its column and the column's kind.
_SERVING = (
    ("instances", "instances", "int"),
    ("yearly_cost", "serving_yearly_cost", "money"),
    ("per_million", "cost_per_million", "money"),
    ("yearly_kwh", "yearly_kwh", "kwh"),
    ("wh_per_text", "wh_per_text", "sig"),
)
# What the serving benchmark measured: the CostFigures attribute (also its column) and its kind.
# The runtime comes first and the sizes, in MB, last.
_BENCH = (
    ("p50_ms", "ms"),
    ("p95_ms", "ms"),
    ("p99_ms", "ms"),
    ("throughput_32", "rate"),
    ("cpu_seconds_per_prediction", "sig"),
)
# The yearly business figures shown as they are: the OptionBusiness attribute (also its
# column) and its kind, in reading order.
_YEARLY = (
    ("automated_accuracy", "pct"),
    ("automated_per_year", "int"),
    ("labour_saved", "money"),
    ("correct_value", "money"),
    ("error_cost", "money"),
    ("people_error_avoided", "money"),
    ("serving_cost", "money"),
    ("api_cost", "money"),
    ("maintenance", "money"),
    ("setup_cost", "money"),
    ("manual_cost", "money"),
    ("yearly_cost", "money"),
    ("net_value", "money"),
)
# The business figures whose kind (measured, modelled, assumed) has a column of its own.
_KINDS = (
    ("coverage", "coverage_kind"),
    ("automated_accuracy", "accuracy_kind"),
    ("serving_cost", "serving_kind"),
    ("net_value", "net_value_kind"),
)


def serving_source(data: ReportData, run_id: int) -> str | None:
    """What the run's serving figures rest on: 'bench' (the Cost page's benchmark), 'fallback'
    (batch CPU time measured during evaluation) or None (not measured)."""
    v = data.value
    runs = v.inputs.runs if v is not None else ()
    measure = next((r.serving for r in runs if r.run_id == run_id), None)
    return None if measure is None else measure.source


def _serving_cells(o: Option | None, lang: str) -> tuple[Any, ...]:
    """How the option is served, what that costs, the cost's kind and why it cannot serve."""
    s = o.serving if o is not None else None
    return (
        mode_text(o, lang) if o is not None else "",
        *(None if s is None else getattr(s, attr) for attr, _, _ in _SERVING),
        kind_text(None if s is None else s.kind, lang),
        "" if s is None or s.note is None else t(s.note, lang),
    )


def _bench_cells(c: CostFigures | None) -> tuple[Any, ...]:
    """The benchmark's runtime, latency, throughput and CPU time, then size and memory in MB."""
    if c is None:
        return (None,) * (len(_BENCH) + 3)
    return (
        c.runtime or "",
        *(getattr(c, attr) for attr, _ in _BENCH),
        None if c.artifact_bytes is None else c.artifact_bytes / 1e6,
        None if c.peak_rss_bytes is None else c.peak_rss_bytes / 1e6,
    )


def cost_table(data: ReportData, lang: str) -> Table:
    """Per run: what serving costs in the chosen mode at the scenario's volume (modelled), then
    what the serving benchmark measured; the API's bill on the last row."""
    v = data.value
    rows = [
        (
            r.run_id,
            r.label,
            *_serving_cells(data.option(r.run_id), lang),
            t(f"report_html.source_{serving_source(data, r.run_id) or 'not_measured'}", lang),
            *_bench_cells(r.cost),
        )
        for r in data.runs
    ]
    api = v.api if v is not None else None
    if api is not None and api.serving is not None:
        api_row = (
            None,
            option_label(api, lang),
            *_serving_cells(api, lang),
            t("report_html.api_prices", lang),
            *_bench_cells(None),
        )
        rows.append(api_row)
    currency = v.assumptions.currency if v is not None else "USD"
    symbol = CURRENCY_SYMBOLS.get(currency, currency)
    columns = (
        *run_columns(lang),
        column("serving", lang),
        *(column(key, lang, kind, currency=symbol) for _, key, kind in _SERVING),
        column("serving_kind", lang),
        column("serving_note", lang),
        column("cost_status", lang),
        column("runtime", lang),
        *(column(key, lang, kind) for key, kind in _BENCH),
        column("artifact_mb", lang, "mb"),
        column("peak_rss_mb", lang, "mb"),
    )
    volume = f"{v.assumptions.annual_volume:,.0f}" if v is not None else "–"
    return titled(
        "cost", lang, columns, tuple(rows), note=t("report_table.cost_note", lang, volume=volume)
    )


def _bounded_columns(key: str, kind: str, lang: str) -> tuple[Column, Column, Column]:
    """A figure's column, then the bounds of its interval (exported, not shown)."""
    return (
        column(key, lang, kind),
        column(f"{key}_low", lang, kind, show=False),
        column(f"{key}_high", lang, kind, show=False),
    )


def business_table(data: ReportData, lang: str) -> Table:
    """Every option's yearly business figures, with the split that chose and the one that
    scored, and the kind of the main figures."""
    v = data.value
    rows = []
    for o in v.options if v is not None else ():
        b = o.business
        rows.append(
            (
                o.key,
                option_label(o, lang),
                mode_text(o, lang),
                b.threshold,
                chosen_on_text(o, lang),
                t(f"value.split.{b.scored_on}", lang) if b.scored_on else "",
                b.coverage,
                *bounds(b.coverage_ci),
                *(getattr(b, attr) for attr, _ in _YEARLY),
                b.roi,
                *bounds(b.roi_ci),
                b.payback_months,
                *(kind_text(b.kinds.get(f), lang) if o.kind != "manual" else "" for f, _ in _KINDS),
            )
        )
    columns = (
        *option_columns(lang),
        column("serving", lang),
        column("threshold", lang, "float"),
        column("threshold_source", lang),
        column("scored_on", lang),
        *_bounded_columns("coverage", "pct", lang),
        *(column(attr, lang, kind) for attr, kind in _YEARLY),
        *_bounded_columns("roi", "pct", lang),
        column("payback_months", lang, "months"),
        *(column(key, lang) for _, key in _KINDS),
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
        *option_columns(lang),
        column("dimension", lang),
        column("raw_value", lang, "float", show=False),
        column("unit", lang, show=False),
        column("figure", lang),
        column("score", lang, "score"),
        column("kind", lang),
        column("in_social_score", lang, "auto"),
        column("notes", lang),
    )
    return titled("social", lang, columns, tuple(rows), note=left_out_note(v, lang))
