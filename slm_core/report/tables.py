"""Every figure of a report as named tables: one source for the HTML, the CSV and the JSON.

A ``Table`` holds raw values (numbers stay numbers) and, per column, a stable machine key, a
translated header and a ``kind`` that says how to show the value (percent, money, ms, ...).
``format_cell`` turns a value into text for a reader in the chosen language.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slm_core.i18n import CURRENCY_SYMBOLS, format_money, format_number, localize_known, t
from slm_core.report.collect import ReportData
from slm_core.value.assumptions import scenario_name

# Column kinds: how a raw value is shown (the CSV and JSON keep the raw value).
KINDS = (
    "text",
    "auto",
    "int",
    "float",
    "pct",
    "money",
    "ms",
    "mb",
    "score",
    "seconds",
    "kwh",
    "grams",
    "months",
    "rate",
    "sig",
)


@dataclass(frozen=True)
class Column:
    """One column: a stable key (CSV/JSON), a translated header and how to show its values."""

    key: str
    label: str
    kind: str = "text"
    show: bool = True  # False: exported, but left out of the HTML table (e.g. raw units)


@dataclass(frozen=True)
class Table:
    """A titled table of raw values."""

    key: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
    note: str = ""
    show: bool = True  # False: exported only (long curves drawn as charts instead)

    def records(self) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column key (for JSON)."""
        keys = [c.key for c in self.columns]
        return [dict(zip(keys, row, strict=True)) for row in self.rows]

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "note": self.note,
            "columns": [{"key": c.key, "label": c.label, "kind": c.kind} for c in self.columns],
            "rows": self.records(),
        }


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _round(value: Any, digits: int) -> float | None:
    x = _finite(value)
    return None if x is None else round(x, digits)


def money_text(value: float | None, currency: str, lang: str) -> str:
    """Money with as many decimals as a small amount needs (¥0.0248, $1,234)."""
    if value is None:
        return t("report_html.not_measured", lang)
    size = abs(value)
    digits = 0 if size >= 100 or size == 0 else (2 if size >= 1 else 4)
    return format_money(value, currency, lang, digits)


def format_cell(value: Any, kind: str, lang: str = "en", currency: str = "USD") -> str:
    """A raw table value as text for a reader of ``lang`` ('–' when there is none)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool):
        return t("report_html.yes" if value else "report_html.no", lang)
    if kind in ("text",) or isinstance(value, str):
        return str(value)
    x = float(value)
    if kind == "auto":
        if isinstance(value, int) or x.is_integer():
            return format_number(x, "en", 0)
        return f"{x:.6g}"
    if kind == "int":
        return format_number(x, "en" if abs(x) < 100_000 else lang, 0)
    if kind == "pct":
        return f"{x:.1%}"
    if kind == "money":
        return money_text(x, currency, lang)
    if kind == "score":
        return f"{x:.0f}"
    if kind == "ms":
        return f"{x:.2f}"
    if kind in ("mb", "months"):
        return f"{x:,.2f}" if kind == "mb" else f"{x:.1f}"
    if kind == "sig":
        return f"{x:.3g}"
    if kind == "rate":
        return f"{x:,.0f}"
    if kind == "seconds":
        return f"{x:,.2f}"
    if kind in ("kwh", "grams"):
        return f"{x:.3g}"
    return f"{x:.3f}" if abs(x) < 1000 else f"{x:,.1f}"


# -------------------------------------------------------------------- tables


def _col(key: str, lang: str, kind: str = "text", show: bool = True, **values: Any) -> Column:
    return Column(key, t(f"report_col.{key}", lang, **values), kind, show)


def dataset_table(data: ReportData, lang: str) -> Table:
    d = data.dataset
    r = d.report or {}
    classes = r.get("classes") or {}
    split = {}
    for run in data.runs:
        split = (run.run.metrics or {}).get("split_sizes") or {}
        if split:
            break
    script = r.get("script", "latin")
    unit = r.get("token_unit", "word")
    fields: list[tuple[str, Any]] = [
        ("name", localize_known(d.name, lang, "demos.")),
        ("id", d.id),
        ("source", d.source),
        ("filename", d.filename or ""),
        ("created", d.created_at.strftime("%Y-%m-%d %H:%M UTC") if d.created_at else ""),
        ("rows", int(d.rows)),
        ("classes", len(classes)),
        ("script", t(f"script.{script}", lang)),
        ("token_unit", t(f"unit.{unit}", lang)),
        ("mean_length", _round(r.get("mean_length"), 1)),
        ("imbalance", _round(r.get("imbalance_ratio"), 2)),
        ("duplicates", r.get("duplicate_rows")),
        ("conflicts", r.get("conflicting_texts")),
        ("groups", len(r.get("groups") or {}) or None),
        ("split_train", split.get("train")),
        ("split_val", split.get("val")),
        ("split_test", split.get("test")),
        ("finished_runs", len(data.runs)),
    ]
    return Table(
        "dataset",
        t("report_table.dataset", lang),
        (_col("field", lang), _col("value", lang, "auto")),
        tuple((t(f"report_field.{k}", lang), v) for k, v in fields),
    )


def classes_table(data: ReportData, lang: str) -> Table:
    counts = (data.dataset.report or {}).get("classes") or {}
    total = sum(counts.values()) or 1
    rows = tuple((str(c), int(n), n / total) for c, n in counts.items())
    return Table(
        "classes",
        t("report_table.classes", lang),
        (_col("class", lang), _col("count", lang, "int"), _col("share", lang, "pct")),
        rows,
    )


def leaderboard_table(data: ReportData, lang: str) -> Table:
    from slm_core.report.model_card import model_name

    ranked = sorted(data.runs, key=lambda r: (-r.evaluation.accuracy, r.run_id))
    rows = []
    for r in ranked:
        ev, m = r.evaluation, r.run.metrics or {}
        size = _finite(m.get("model_size_bytes"))
        rows.append(
            (
                r.run_id,
                r.label,
                model_name(r.run.model_id, lang),
                t(f"preset.{r.run.preset}", lang) if r.run.preset else "",
                ev.n,
                ev.accuracy,
                _finite(ev.accuracy_ci[0]),
                _finite(ev.accuracy_ci[1]),
                ev.macro_f1,
                _finite(ev.macro_f1_ci[0]),
                _finite(ev.macro_f1_ci[1]),
                ev.balanced_accuracy,
                ev.weighted_f1,
                ev.ece,
                ev.majority_rate,
                _finite(r.run.train_seconds),
                None if size is None else size / 1e6,
                m.get("n_params"),
            )
        )
    columns = (
        _col("run", lang, "int"),
        _col("model", lang),
        _col("model_name", lang),
        _col("preset", lang),
        _col("n_test", lang, "int"),
        _col("accuracy", lang, "pct"),
        _col("accuracy_ci_low", lang, "pct"),
        _col("accuracy_ci_high", lang, "pct"),
        _col("macro_f1", lang, "float"),
        _col("macro_f1_ci_low", lang, "float"),
        _col("macro_f1_ci_high", lang, "float"),
        _col("balanced_accuracy", lang, "pct"),
        _col("weighted_f1", lang, "float"),
        _col("ece", lang, "float"),
        _col("majority_rate", lang, "pct"),
        _col("train_seconds", lang, "seconds"),
        _col("size_mb", lang, "mb"),
        _col("n_params", lang, "int"),
    )
    n_boot = data.runs[0].evaluation.n_boot if data.runs else 0
    return Table(
        "leaderboard",
        t("report_table.leaderboard", lang),
        columns,
        tuple(rows),
        note=t("report_table.leaderboard_note", lang, n_boot=n_boot),
    )


def per_class_table(data: ReportData, lang: str) -> Table:
    rows = tuple(
        (r.run_id, r.label, c.label, c.precision, c.recall, c.f1, c.support)
        for r in data.runs
        for c in r.evaluation.per_class
    )
    return Table(
        "per_class",
        t("report_table.per_class", lang),
        (
            _col("run", lang, "int"),
            _col("model", lang),
            _col("class", lang),
            _col("precision", lang, "float"),
            _col("recall", lang, "float"),
            _col("f1", lang, "float"),
            _col("support", lang, "int"),
        ),
        rows,
    )


def confusion_table(data: ReportData, lang: str) -> Table:
    rows = tuple(
        (r.run_id, r.label, true, pred, int(count))
        for r in data.runs
        for i, true in enumerate(r.evaluation.classes)
        for j, pred in enumerate(r.evaluation.classes)
        for count in (r.evaluation.confusion_matrix[i][j],)
    )
    return Table(
        "confusion",
        t("report_table.confusion", lang),
        (
            _col("run", lang, "int"),
            _col("model", lang),
            _col("true_label", lang),
            _col("predicted_label", lang),
            _col("count", lang, "int"),
        ),
        rows,
        show=False,
    )


def groups_table(data: ReportData, lang: str) -> Table:
    rows = tuple((r.run_id, r.label, g.group, g.n, g.accuracy) for r in data.runs for g in r.groups)
    return Table(
        "groups",
        t("report_table.groups", lang),
        (
            _col("run", lang, "int"),
            _col("model", lang),
            _col("group", lang),
            _col("n_test", lang, "int"),
            _col("accuracy", lang, "pct"),
        ),
        rows,
        note=t("report_table.groups_note", lang),
    )


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
        per_item = _finite(llm.business.details.get("cost_per_item"))
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
        _col("run", lang, "int"),
        _col("model", lang),
        _col("cost_status", lang),
        _col("runtime", lang),
        _col("p50_ms", lang, "ms"),
        _col("p90_ms", lang, "ms"),
        _col("p95_ms", lang, "ms"),
        _col("p99_ms", lang, "ms"),
        _col("throughput_32", lang, "rate"),
        _col("throughput_256", lang, "rate"),
        _col("cpu_seconds_per_prediction", lang, "sig"),
        _col("cost_per_million", lang, "money", currency=symbol),
        _col("artifact_mb", lang, "mb"),
        _col("peak_rss_mb", lang, "mb"),
        _col("energy_kwh_per_million", lang, "kwh"),
        _col("co2e_g_per_million", lang, "grams"),
    )
    note = t(
        "report_table.cost_note",
        lang,
        price=money_text(price, currency, lang) if price is not None else "–",
        grid=f"{grid:g}" if grid is not None else "–",
        pue=f"{pue:g}" if pue is not None else "–",
    )
    return Table("cost", t("report_table.cost", lang), columns, tuple(rows), note=note)


def cheaper_than_llm(data: ReportData) -> tuple[str, float] | None:
    """(cheapest measured model, how many times cheaper per prediction than the LLM API)."""
    v = data.value
    if v is None or v.llm is None:
        return None
    llm_item = _finite(v.llm.business.details.get("cost_per_item"))
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
        _col("run", lang, "int"),
        _col("model", lang),
        _col("threshold", lang, "float"),
        _col("threshold_source", lang),
        _col("coverage", lang, "pct"),
        _col("automated_accuracy", lang, "pct"),
        _col("automated_per_year", lang, "int"),
        _col("labour_saved", lang, "money"),
        _col("correct_value", lang, "money"),
        _col("error_cost", lang, "money"),
        _col("inference_cost", lang, "money"),
        _col("inference_source", lang),
        _col("maintenance", lang, "money"),
        _col("setup_cost", lang, "money"),
        _col("net_value", lang, "money"),
        _col("roi", lang, "pct"),
        _col("payback_months", lang, "months"),
    )
    return Table(
        "business",
        t("report_table.business", lang),
        columns,
        tuple(rows),
        note=t("report_table.business_note", lang),
    )


def social_table(data: ReportData, lang: str) -> Table:
    from slm_core.value.assumptions import SOCIAL_DIMENSIONS
    from slm_core.value.scorecard import format_figure, note_text

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
        _col("run", lang, "int"),
        _col("model", lang),
        _col("dimension", lang),
        _col("raw_value", lang, "float", show=False),
        _col("unit", lang, show=False),
        _col("figure", lang),
        _col("score", lang, "score"),
        _col("status", lang),
        _col("notes", lang),
    )
    return Table("social", t("report_table.social", lang), columns, tuple(rows))


def scores_table(data: ReportData, lang: str) -> Table:
    """Dimensions as rows, models (and the LLM API) as columns: the side-by-side view."""
    from slm_core.value.assumptions import BUSINESS_DIMENSIONS, SOCIAL_DIMENSIONS

    v = data.value
    if v is None:
        return Table("scores", t("report_table.scores", lang), (), ())
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
        _col("dimension", lang),
        *[Column(c.label, c.label, "score") for c in cards],
        Column("llm_api", llm_name, "score", show=llm is not None),
        _col("formula", lang),
    )
    if llm is None:
        rows = [(*r[:-2], r[-1]) for r in rows]
        columns = tuple(c for c in columns if c.key != "llm_api")
    return Table(
        "scores",
        t("report_table.scores", lang),
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
    return Table(
        "profit_curve",
        t("report_table.profit_curve", lang),
        (
            _col("run", lang, "int"),
            _col("model", lang),
            _col("threshold", lang, "float"),
            _col("coverage", lang, "pct"),
            _col("automated_accuracy", lang, "pct"),
            _col("net_value", lang, "money"),
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
    return Table(
        "assumptions",
        t("report_table.assumptions", lang),
        (
            _col("key", lang, show=False),
            _col("assumption", lang),
            _col("value", lang, "auto"),
            _col("unit", lang),
            _col("kind", lang),
            _col("source", lang),
            _col("date", lang),
            _col("note", lang),
        ),
        tuple(rows),
    )


def recommendation_table(data: ReportData, lang: str) -> Table:
    from slm_core.value.scorecard import recommendation_text, sensitivity_text

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
    return Table(
        "recommendation",
        t("report_table.recommendation", lang),
        (_col("key", lang, show=False), _col("field", lang), _col("value", lang, "auto")),
        tuple(rows),
        show=False,
    )


def build_tables(data: ReportData, lang: str = "en") -> dict[str, Table]:
    """Every figure of the report as tables, in reading order."""
    builders = (
        recommendation_table,
        dataset_table,
        classes_table,
        leaderboard_table,
        per_class_table,
        groups_table,
        confusion_table,
        cost_table,
        scores_table,
        business_table,
        social_table,
        curves_table,
        assumptions_table,
    )
    tables = [b(data, lang) for b in builders]
    return {tb.key: tb for tb in tables}


def visible(columns: Sequence[Column]) -> list[int]:
    """Indices of the columns shown to readers."""
    return [i for i, c in enumerate(columns) if c.show]


# ---------------------------------------------------------------------- KPIs


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
