"""A model card for the hosted LLM's measurement, in the nine sections of Mitchell et al. (2019)
like the small models' cards (:mod:`slm_core.report.card_markdown`), filled from what was
measured: the endpoint and model (never the key), the exact prompt, the sample it answered,
accuracy with its Wilson interval, unparseable answers, tokens, money at the stated prices and
latency — every figure of kind 'measured' — and the small models on the same texts.

What only people can say (intended use, users, out-of-scope uses) is stored with the
measurement's run like any card's text (:func:`~slm_core.report.card_data.save_card_text`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slm_core.escape import md_code, md_code_block
from slm_core.i18n import format_number, localize_known, t
from slm_core.numbers import finite_or_none
from slm_core.report.card_data import CARD_KIND, CARD_VERSION, SECTIONS, CardText, read_card_text
from slm_core.report.card_markdown import SMALL_TEST_SET, md, md_table, section_title
from slm_core.report.collect import ReportData
from slm_core.report.table_types import format_cell


@dataclass(frozen=True)
class LLMCard:
    """The structured fields of the LLM's card (stored as the run's 'model_card' result)."""

    run_id: int
    label: str
    model: str
    base_url: str
    finished_at: str | None
    dataset: dict[str, Any]
    summary: dict[str, Any]  # LLMMeasurement.summary(): figures, prices, method, kind
    prompt: dict[str, Any]
    example_prompt: str
    examples: int
    sample_seed: int
    per_class: list[dict[str, Any]]
    comparisons: list[dict[str, Any]]
    text: CardText
    generated_at: str
    versions: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; the user-written fields at the top level, as for every card."""
        out = {
            "version": CARD_VERSION,
            "kind": "llm_api",
            "run_id": self.run_id,
            "label": self.label,
            "model_id": "llm_api",
            "model": self.model,
            "base_url": self.base_url,
            "finished_at": self.finished_at,
            "dataset": dict(self.dataset),
            "metrics": dict(self.summary),
            "prompt": dict(self.prompt),
            "example_prompt": self.example_prompt,
            "examples": self.examples,
            "sample_seed": self.sample_seed,
            "per_class": list(self.per_class),
            "comparisons": list(self.comparisons),
            "generated_at": self.generated_at,
            "versions": dict(self.versions),
            "sections": list(SECTIONS),
        }
        out.update(self.text.to_dict())
        return out


def build_llm_card(data: ReportData, text: CardText | None = None) -> LLMCard | None:
    """The card of the report's LLM measurement (None when the LLM was never measured)."""
    f = data.llm
    if f is None:
        return None
    m, d = f.measurement, data.dataset
    report = d.report or {}
    scores = f.sample_metrics
    comparisons = []
    for c in f.comparisons:
        row = c.to_dict()
        row["label"] = f.labels.get(c.run_id, str(c.run_id))
        comparisons.append(row)
    return LLMCard(
        run_id=m.run_id,
        label=m.label,
        model=m.model,
        base_url=m.endpoint.base_url,
        finished_at=f.run.finished_at.isoformat() if f.run.finished_at else None,
        dataset={
            "id": d.id,
            "name": d.name,
            "source": d.source,
            "rows": d.rows,
            "classes": dict(report.get("classes") or {}),
            "script": report.get("script", "latin"),
        },
        summary={**m.summary(), "macro_f1": finite_or_none(scores["macro_f1"])},
        prompt=m.prompt.to_dict(),
        example_prompt=m.example_prompt,
        examples=m.examples,
        sample_seed=m.prompt.seed,
        per_class=scores["per_class"],
        comparisons=comparisons,
        text=text or CardText(),
        generated_at=data.generated_at.isoformat(),
        versions=dict(data.versions),
    )


# ------------------------------------------------------------------------ Markdown


def _pct(x: float | None) -> str:
    return format_cell(x, "pct")


def _ci(pair) -> str:
    lo, hi = (finite_or_none(v) for v in pair)
    return "–" if lo is None or hi is None else f"{lo:.1%} – {hi:.1%}"


@dataclass(frozen=True)
class _Writer:
    card: LLMCard
    lang: str

    def tr(self, key: str, **values: Any) -> str:
        return t(f"model_card_llm.{key}", self.lang, **values)

    def common(self, key: str, **values: Any) -> str:
        return t(f"model_card.{key}", self.lang, **values)

    def item(self, key: str, **values: Any) -> str:
        return "- " + self.tr(key, **values)

    def field(self, name: str, text: str) -> str:
        return f"- **{name}**{self.common('sep')}{text}"


def _model_details(w: _Writer) -> list[str]:
    c, s = w.card, w.card.summary
    mode = t(f"report_html.llm_mode_{c.prompt.get('mode', 'zero')}", w.lang)
    lines = [
        w.field(w.common("developed_by"), w.tr("developed_by")),
        w.field(w.common("model_type"), w.tr("model_type", model=md(c.model))),
        w.field(w.tr("endpoint"), md_code(c.base_url)),
        w.field(
            w.common("version"),
            w.tr("version", run=c.run_id, date=(c.finished_at or "")[:10]),
        ),
        w.field(
            w.tr("prompt_field"),
            w.tr(
                "prompt_text",
                mode=mode,
                shots=c.prompt.get("k", 0) if c.prompt.get("mode") == "few" else 0,
                structured=t(
                    "report_html.yes" if s.get("structured_output") else "report_html.no", w.lang
                ),
                tokens=c.prompt.get("max_answer_tokens", "–"),
            ),
        ),
        w.field(w.common("reference"), w.common("reference_text")),
        "",
        f"### {w.tr('prompt_title')}",
        "",
        w.tr("prompt_intro"),
        "",
    ]
    return lines + md_code_block(c.example_prompt)


def _intended_use(w: _Writer) -> list[str]:
    c = w.card
    classes = w.common("list_sep").join(md(k) for k in c.dataset.get("classes", {}))
    dataset = md(localize_known(c.dataset.get("name", ""), w.lang, "demos."))

    def stated_or_draft(key: str, value: str, draft: str) -> str:
        if value:
            return w.field(w.common(key), md(value))
        return w.field(w.common(key), f"{draft} _({w.common('draft_marker')})_")

    return [
        stated_or_draft(
            "primary_uses",
            c.text.intended_use,
            w.tr("draft_use", dataset=dataset, classes=classes),
        ),
        stated_or_draft("primary_users", c.text.intended_users, w.common("draft_users")),
        stated_or_draft("out_of_scope", c.text.out_of_scope, w.tr("draft_out_of_scope")),
    ]


def _factors(w: _Writer) -> list[str]:
    ds = w.card.dataset
    return [
        "- " + w.common("factor_script", script=t(f"script.{ds.get('script', 'latin')}", w.lang)),
        "- " + w.common("factor_labels", n=len(ds.get("classes", {}))),
        w.item("factor_prompt"),
    ]


def _metrics(w: _Writer) -> list[str]:
    return [w.item("metric_accuracy"), w.item("metric_paired"), w.item("metric_cost")]


def _evaluation_data(w: _Writer) -> list[str]:
    s = w.card.summary
    lines = [
        w.item(
            "eval_sample",
            n=s.get("n", 0),
            test=s.get("test_size", 0),
            seed=w.card.sample_seed,
        )
    ]
    if s.get("stopped") == "budget":
        lines.append(w.item("eval_budget", n=s.get("n", 0), planned=s.get("n_planned", 0)))
    return lines


def _training_data(w: _Writer) -> list[str]:
    lines = [w.item("train_unknown")]
    if w.card.examples:
        lines.append(w.item("train_examples", n=w.card.examples))
    return lines


def _money(x: float | None) -> str:
    return "–" if x is None else f"{x:,.4g}"


def _quantitative(w: _Writer) -> list[str]:
    c, s = w.card, w.card.summary
    lines = [f"### {w.common('overall')}", ""]
    lines += md_table(
        [w.common("col_metric"), w.common("col_value"), w.common("col_ci")],
        [
            [
                w.common("accuracy"),
                _pct(s.get("accuracy")),
                _ci(s.get("accuracy_ci") or [None, None]),
            ],
            [w.common("macro_f1"), format_cell(s.get("macro_f1"), "float"), "–"],
            [w.common("majority_rate"), _pct(_majority(c)), "–"],
            [w.tr("unparseable"), str(s.get("unparseable", 0)), "–"],
            [w.tr("failed_calls"), str(s.get("failed_calls", 0)), "–"],
        ],
    )
    lines += ["", f"### {w.common('per_class')}", ""]
    lines += md_table(
        [
            w.common("col_class"),
            w.common("precision"),
            w.common("recall"),
            w.common("f1"),
            w.common("support"),
        ],
        [
            [
                md(p["label"]),
                f"{p['precision']:.3f}",
                f"{p['recall']:.3f}",
                f"{p['f1']:.3f}",
                str(p["support"]),
            ]
            for p in c.per_class
        ],
    )
    if c.comparisons:
        lines += ["", f"### {w.tr('same_texts')}", ""]
        lines += md_table(
            [
                t("report_col.model", w.lang),
                t("report_col.n_same", w.lang),
                t("report_col.accuracy", w.lang),
                md(c.label),
                t("report_col.p_value", w.lang),
            ],
            [
                [
                    md(r["label"]),
                    str(r["n"]),
                    f"{_pct(r['accuracy'])} ({_ci(r['accuracy_ci'])})",
                    f"{_pct(r['llm_accuracy'])} ({_ci(r['llm_accuracy_ci'])})",
                    format_cell(r["mcnemar"]["p_value"], "sig"),
                ]
                for r in c.comparisons
            ],
        )
    lines += ["", f"### {w.common('cost')}", ""]
    p50, p95 = s.get("latency_p50_ms"), s.get("latency_p95_ms")
    lines.append(
        w.tr(
            "cost_line",
            n=s.get("n", 0),
            tokens_in=f"{float(s.get('input_tokens') or 0) / max(s.get('n') or 1, 1):,.1f}",
            tokens_out=f"{float(s.get('output_tokens') or 0) / max(s.get('n') or 1, 1):,.1f}",
            cost=_money(s.get("cost_usd")),
            per_m=_money(s.get("usd_per_million")),
            in_price=f"{float(s.get('input_price_per_m') or 0):g}",
            out_price=f"{float(s.get('output_price_per_m') or 0):g}",
            source=md(s.get("price_source") or "–"),
            date=md(s.get("price_date") or "–"),
            p50="–" if p50 is None else f"{p50:,.0f}",
            p95="–" if p95 is None else f"{p95:,.0f}",
            kind=t("value.figure_kind.measured", w.lang),
        )
    )
    if not s.get("usage_reported", True):
        lines += ["", w.tr("usage_estimated")]
    return lines


def _majority(c: LLMCard) -> float | None:
    supports = [p["support"] for p in c.per_class]
    total = sum(supports)
    return max(supports) / total if total else None


def _ethics(w: _Writer) -> list[str]:
    lines = [w.item("ethics_third_party"), w.item("ethics_changes"), w.item("ethics_human")]
    if w.card.text.ethical_notes:
        lines.append(w.field(w.common("ethical_notes"), md(w.card.text.ethical_notes)))
    return lines


def _caveats(w: _Writer) -> list[str]:
    s = w.card.summary
    n = int(s.get("n") or 0)
    lines = []
    low, high = (finite_or_none(v) for v in (s.get("accuracy_ci") or [None, None]))
    if low is not None and high is not None:
        lines.append(w.item("caveat_ci", n=n, width=f"{(high - low) * 100:.1f}"))
    if n < SMALL_TEST_SET:
        lines.append("- " + w.common("caveat_small", n=n))
    lines.append(w.item("caveat_prompt"))
    lines.append(w.item("caveat_prices", date=md(s.get("price_date") or "–")))
    return lines


_RENDER: dict[str, Callable[[_Writer], list[str]]] = {
    "model_details": _model_details,
    "intended_use": _intended_use,
    "factors": _factors,
    "metrics": _metrics,
    "evaluation_data": _evaluation_data,
    "training_data": _training_data,
    "quantitative_analyses": _quantitative,
    "ethical_considerations": _ethics,
    "caveats": _caveats,
}


def llm_card_markdown(card: LLMCard, lang: str = "en") -> str:
    """The LLM's card as Markdown in ``lang``: a title, a summary line and the nine sections."""
    s = card.summary
    lines = [
        "# " + t("model_card_llm.title", lang, model=md(card.model), run=card.run_id),
        "",
        t(
            "model_card_llm.summary",
            lang,
            dataset=md(localize_known(card.dataset.get("name", ""), lang, "demos.")),
            accuracy=_pct(s.get("accuracy")),
            ci=_ci(s.get("accuracy_ci") or [None, None]),
            n=format_number(float(s.get("n") or 0), lang),
            test=format_number(float(s.get("test_size") or 0), lang),
        ),
        "",
        "_"
        + t(
            "model_card.generated",
            lang,
            date=card.generated_at[:16].replace("T", " ") + " UTC",
        )
        + "_",
    ]
    writer = _Writer(card, lang)
    for section in SECTIONS:
        lines += ["", f"## {section_title(section, lang)}", ""]
        lines += _RENDER[section](writer)
    return "\n".join(lines) + "\n"


def llm_card(store, data: ReportData, *, save: bool = True) -> LLMCard | None:
    """The LLM's card with the text people stored for it; saved as the run's card result."""
    if data.llm is None:
        return None
    card = build_llm_card(data, read_card_text(store, data.llm.run_id))
    if save and card is not None:
        store.put_result(card.run_id, CARD_KIND, card.to_dict())
    return card


def llm_cards(store, data: ReportData, lang: str = "en", *, save: bool = True) -> dict[int, str]:
    """{run id: Markdown} of the LLM's card (empty when the LLM was never measured)."""
    card = llm_card(store, data, save=save)
    return {} if card is None else {card.run_id: llm_card_markdown(card, lang)}
