"""Report tables about the dataset and how well each model did on it."""

from __future__ import annotations

from typing import Any

from slm_core.i18n import localize_known, t
from slm_core.models.names import model_name
from slm_core.numbers import finite_or_none
from slm_core.report.collect import ReportData
from slm_core.report.table_types import Table, column, rounded, run_columns, titled


def dataset_table(data: ReportData, lang: str) -> Table:
    d = data.dataset
    r = d.report or {}
    classes = r.get("classes") or {}
    split = {}
    for run in data.runs:
        split = run.run.measured.split_sizes
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
        ("mean_length", rounded(r.get("mean_length"), 1)),
        ("imbalance", rounded(r.get("imbalance_ratio"), 2)),
        ("duplicates", r.get("duplicate_rows")),
        ("conflicts", r.get("conflicting_texts")),
        ("groups", len(r.get("groups") or {}) or None),
        ("split_train", split.get("train")),
        ("split_val", split.get("val")),
        ("split_test", split.get("test")),
        ("finished_runs", len(data.runs)),
    ]
    return titled(
        "dataset",
        lang,
        (column("field", lang), column("value", lang, "auto")),
        tuple((t(f"report_field.{k}", lang), v) for k, v in fields),
    )


def classes_table(data: ReportData, lang: str) -> Table:
    counts = (data.dataset.report or {}).get("classes") or {}
    total = sum(counts.values()) or 1
    rows = tuple((str(c), int(n), n / total) for c, n in counts.items())
    return titled(
        "classes",
        lang,
        (column("class", lang), column("count", lang, "int"), column("share", lang, "pct")),
        rows,
    )


def leaderboard_table(data: ReportData, lang: str) -> Table:
    ranked = sorted(data.runs, key=lambda r: (-r.evaluation.accuracy, r.run_id))
    rows = []
    for r in ranked:
        ev, m = r.evaluation, r.run.measured
        size = m.model_size_bytes
        rows.append(
            (
                r.run_id,
                r.label,
                model_name(r.run.model_id, lang),
                t(f"preset.{r.run.preset}", lang) if r.run.preset else "",
                ev.n,
                ev.accuracy,
                finite_or_none(ev.accuracy_ci[0]),
                finite_or_none(ev.accuracy_ci[1]),
                ev.macro_f1,
                finite_or_none(ev.macro_f1_ci[0]),
                finite_or_none(ev.macro_f1_ci[1]),
                ev.balanced_accuracy,
                ev.weighted_f1,
                ev.ece,
                ev.majority_rate,
                finite_or_none(r.run.train_seconds),
                None if size is None else size / 1e6,
                m.n_params,
            )
        )
    if data.llm is not None:  # on its sample: n_test says how many texts
        rows.append(llm_leaderboard_row(data, lang))
        rows.sort(key=lambda row: (-(row[5] if row[5] is not None else -1.0), row[0]))
    columns = (
        *run_columns(lang),
        column("model_name", lang),
        column("preset", lang),
        column("n_test", lang, "int"),
        column("accuracy", lang, "pct"),
        column("accuracy_ci_low", lang, "pct"),
        column("accuracy_ci_high", lang, "pct"),
        column("macro_f1", lang, "float"),
        column("macro_f1_ci_low", lang, "float"),
        column("macro_f1_ci_high", lang, "float"),
        column("balanced_accuracy", lang, "pct"),
        column("weighted_f1", lang, "float"),
        column("ece", lang, "float"),
        column("majority_rate", lang, "pct"),
        column("train_seconds", lang, "seconds"),
        column("size_mb", lang, "mb"),
        column("n_params", lang, "int"),
    )
    n_boot = data.runs[0].evaluation.n_boot if data.runs else 0
    note = t("report_table.leaderboard_note", lang, n_boot=n_boot)
    if data.llm is not None:
        m = data.llm.measurement
        llm_note = t(
            "report_table.leaderboard_llm_note", lang, llm=m.label, n=m.n, test=m.test_size
        )
        note += " " + llm_note
    return titled("leaderboard", lang, columns, tuple(rows), note=note)


def llm_leaderboard_row(data: ReportData, lang: str) -> tuple[Any, ...]:
    """The LLM measurement as a leaderboard row: its sample size, accuracy with its Wilson
    interval and macro-F1 on the sample; what does not apply to an API (calibration, size,
    training time) stays empty."""
    f = data.llm
    m = f.measurement
    low, high = m.accuracy_ci
    metrics = f.sample_metrics
    return (
        m.run_id,
        f.label,
        t("report_html.llm_model_name", lang),
        "",
        m.n,
        finite_or_none(m.accuracy),
        finite_or_none(low),
        finite_or_none(high),
        finite_or_none(metrics.get("macro_f1")),
        None,
        None,
        finite_or_none(metrics.get("balanced_accuracy")),
        finite_or_none(metrics.get("weighted_f1")),
        None,
        finite_or_none(m.majority_rate),
        None,
        None,
        None,
    )


def per_class_table(data: ReportData, lang: str) -> Table:
    rows = tuple(
        (r.run_id, r.label, c.label, c.precision, c.recall, c.f1, c.support)
        for r in data.runs
        for c in r.evaluation.per_class
    )
    return titled(
        "per_class",
        lang,
        (
            *run_columns(lang),
            column("class", lang),
            column("precision", lang, "float"),
            column("recall", lang, "float"),
            column("f1", lang, "float"),
            column("support", lang, "int"),
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
    return titled(
        "confusion",
        lang,
        (
            *run_columns(lang),
            column("true_label", lang),
            column("predicted_label", lang),
            column("count", lang, "int"),
        ),
        rows,
        show=False,
    )


def groups_table(data: ReportData, lang: str) -> Table:
    rows = tuple((r.run_id, r.label, g.group, g.n, g.accuracy) for r in data.runs for g in r.groups)
    return titled(
        "groups",
        lang,
        (
            *run_columns(lang),
            column("group", lang),
            column("n_test", lang, "int"),
            column("accuracy", lang, "pct"),
        ),
        rows,
        note=t("report_table.groups_note", lang),
    )
