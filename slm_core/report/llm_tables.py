"""Report tables of the hosted LLM's measurement: its figures, and the small models against it
on the same sampled test texts (empty tables when the LLM was never measured)."""

from __future__ import annotations

from typing import Any

from slm_core.i18n import t
from slm_core.numbers import finite_or_none
from slm_core.report.collect import ReportData
from slm_core.report.table_types import Table, column, titled


def _kind(kind: str, lang: str) -> str:
    from slm_core.value.text import kind_text

    return kind_text(kind, lang)


def llm_fields(data: ReportData, lang: str) -> list[tuple[str, Any, str]]:
    """(field key, raw value, column kind) of the measurement, in reading order."""
    f = data.llm
    if f is None:
        return []
    m = f.measurement
    low, high = m.accuracy_ci
    e = m.endpoint
    return [
        ("model", m.model, "text"),
        ("base_url", e.base_url, "text"),
        ("sample", t("report_html.llm_sample", lang, n=m.n, test=m.test_size), "text"),
        ("n_texts", m.n, "int"),
        ("test_size", m.test_size, "int"),
        ("accuracy", m.accuracy, "pct"),
        ("accuracy_ci_low", finite_or_none(low), "pct"),
        ("accuracy_ci_high", finite_or_none(high), "pct"),
        ("macro_f1", finite_or_none(f.sample_metrics.get("macro_f1")), "float"),
        ("majority_rate", finite_or_none(m.majority_rate), "pct"),
        ("unparseable", m.unparseable, "int"),
        ("failed_calls", m.failed_calls, "int"),
        ("input_tokens", m.input_tokens, "rate"),
        ("output_tokens", m.output_tokens, "rate"),
        ("input_tokens_per_text", m.input_tokens_per_text, "float"),
        ("output_tokens_per_text", m.output_tokens_per_text, "float"),
        ("usage_reported", m.usage_reported, "text"),
        ("input_price", e.input_price_per_m, "sig"),
        ("output_price", e.output_price_per_m, "sig"),
        ("price_source", e.price_source or "–", "text"),
        ("price_date", e.price_date or "–", "text"),
        ("cost_usd", m.cost_usd, "sig"),
        ("usd_per_million", m.usd_per_million, "sig"),
        ("estimate_usd", finite_or_none(m.estimate.get("cost_usd")), "sig"),
        ("budget_usd", m.budget_usd, "sig"),
        ("stopped", t(f"report_html.llm_stopped_{m.stopped or 'no'}", lang), "text"),
        ("latency_p50_ms", m.latency_p50_ms, "ms"),
        ("latency_p95_ms", m.latency_p95_ms, "ms"),
        ("prompt_mode", t(f"report_html.llm_mode_{m.prompt.mode}", lang), "text"),
        ("shots", m.prompt.shots, "int"),
        ("structured", m.structured, "text"),
        ("kind", _kind("measured", lang), "text"),
    ]


def llm_table(data: ReportData, lang: str) -> Table:
    """Every figure of the measurement as (field, value) rows; raw values for the export."""
    rows = tuple(
        (key, t(f"report_llm.{key}", lang), value) for key, value, _ in llm_fields(data, lang)
    )
    note = t("llm.method.measured", lang) if data.llm is not None else ""
    return titled(
        "llm",
        lang,
        (column("key", lang, show=False), column("field", lang), column("value", lang, "auto")),
        rows,
        note=note,
    )


def llm_compare_table(data: ReportData, lang: str) -> Table:
    """Each small model and the LLM on the texts both answered, with McNemar's verdict."""
    from slm_core.mcnemar import mcnemar_verdict

    f = data.llm
    rows = []
    if f is not None:
        for c in f.comparisons:
            name = f.labels.get(c.run_id, str(c.run_id))
            rows.append(
                (
                    c.run_id,
                    name,
                    c.n,
                    finite_or_none(c.accuracy),
                    finite_or_none(c.accuracy_ci[0]),
                    finite_or_none(c.accuracy_ci[1]),
                    finite_or_none(c.llm_accuracy),
                    finite_or_none(c.llm_accuracy_ci[0]),
                    finite_or_none(c.llm_accuracy_ci[1]),
                    c.test.only_a,
                    c.test.only_b,
                    c.test.p_value,
                    c.missing,
                    mcnemar_verdict(c.test, name, f.label, lang) if c.n else "",
                )
            )
    columns = (
        column("run", lang, "int"),
        column("model", lang),
        column("n_same", lang, "int"),
        column("accuracy", lang, "pct"),
        column("accuracy_ci_low", lang, "pct"),
        column("accuracy_ci_high", lang, "pct"),
        column("llm_accuracy", lang, "pct"),
        column("llm_accuracy_ci_low", lang, "pct"),
        column("llm_accuracy_ci_high", lang, "pct"),
        column("only_small", lang, "int"),
        column("only_llm", lang, "int"),
        column("p_value", lang, "sig"),
        column("missing", lang, "int", show=False),
        column("verdict", lang),
    )
    note = ""
    if f is not None:
        m = f.measurement
        note = t(
            "report_table.llm_compare_note",
            lang,
            llm=f.label,
            n=m.n,
            unparseable=m.unparseable,
            failed=m.failed_calls,
        )
    return titled("llm_compare", lang, columns, tuple(rows), note=note)
