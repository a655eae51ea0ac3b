"""A model card as Markdown, in either interface language: a title, a summary line and the nine
sections of Mitchell et al. (2019), each filled from the card's fields (:mod:`card_data`).

What only people can say (the intended use, its users, what the model must not be used for)
shows the user's words when stored, else a draft derived from the data, marked as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slm_core.escape import md_text
from slm_core.i18n import catalogue, format_money, format_number, localize_known, t
from slm_core.models.names import model_description, model_name
from slm_core.report.card_data import SECTIONS, ModelCard
from slm_core.report.table_types import format_cell
from slm_core.value.text import kind_text

# Below this many test texts a 95% interval is wide enough to say so in the caveats.
SMALL_TEST_SET = 200


# User text in a card: no raw HTML, links, images or table breaks; one line.
md = md_text


def _pct(x: float | None) -> str:
    return format_cell(x, "pct")


def _ci(pair: list[float | None]) -> str:
    lo, hi = pair
    return "–" if lo is None or hi is None else f"{lo:.1%} – {hi:.1%}"


def _f(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _shown(text: str, lang: str, prefix: str) -> str:
    # The card keeps the English demo and preset names (it is data); the text shows them in lang.
    return localize_known(str(text), lang, prefix)


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table (header, rule, rows) as lines, for every model card."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


@dataclass(frozen=True)
class _Writer:
    """One card being written in one language, with the card's own phrases (model_card.*)."""

    card: ModelCard
    lang: str

    def tr(self, key: str, **values: Any) -> str:
        return t(f"model_card.{key}", self.lang, **values)

    def item(self, key: str, **values: Any) -> str:
        """A bullet holding the phrase ``key``."""
        return "- " + self.tr(key, **values)

    def field(self, key: str, text: str) -> str:
        """A bullet naming a field in bold, then its text: '- **Model type**: …'."""
        return f"- **{self.tr(key)}**{self.tr('sep')}{text}"

    def join(self, items) -> str:
        return self.tr("list_sep").join(items)


def _model_details(w: _Writer) -> list[str]:
    c, lang = w.card, w.lang
    params = ", ".join(f"{k}={v}" for k, v in sorted(c.params.items())) or "–"
    size = "–" if c.size_bytes is None else f"{c.size_bytes / 1e6:.2f} MB"
    family = t("family." + c.family, lang) if c.family else "–"
    preset = t("preset." + c.preset, lang) if c.preset else "–"
    return [
        w.field(
            "developed_by", w.tr("developed_by_text", version=c.versions.get("slm-value-lab", ""))
        ),
        w.field("model_type", f"{md(model_name(c.model_id, lang))} (`{c.model_id}`, {family})"),
        w.field("description", md(model_description(c.model_id, lang))),
        w.field("version", w.tr("run_version", run=c.run_id, date=(c.finished_at or "")[:10])),
        w.field("settings", f"{w.tr('preset')} {preset}; {md(params)}"),
        w.field("input", t("unit." + c.token_unit, lang)),
        w.field(
            "size",
            f"{size}; "
            + w.tr("params_count", n=format_number(float(c.n_params or 0), "en"))
            + "; "
            + w.tr("train_time", seconds=_f(c.train_seconds, 2)),
        ),
        w.field("reference", w.tr("reference_text")),
    ]


def _intended_use(w: _Writer) -> list[str]:
    c = w.card
    classes = w.join([md(k) for k in c.dataset.get("classes", {})])
    dataset = md(_shown(c.dataset.get("name", ""), w.lang, "demos."))
    draft_use = w.tr("draft_use", dataset=dataset, classes=classes)

    def stated_or_draft(key: str, value: str, draft: str) -> str:
        if value:
            return w.field(key, md(value))
        return w.field(key, f"{draft} _({w.tr('draft_marker')})_")

    return [
        stated_or_draft("primary_uses", c.text.intended_use, draft_use),
        stated_or_draft("primary_users", c.text.intended_users, w.tr("draft_users")),
        stated_or_draft("out_of_scope", c.text.out_of_scope, w.tr("draft_out_of_scope")),
    ]


def _factors(w: _Writer) -> list[str]:
    ds = w.card.dataset
    groups = ds.get("groups") or {}
    lines = [
        w.item("factor_script", script=t(f"script.{ds.get('script', 'latin')}", w.lang)),
        w.item("factor_labels", n=len(ds.get("classes", {}))),
    ]
    if groups:
        names = w.join([md(g) for g in list(groups)[:12]])
        lines.append(w.item("factor_groups", n=len(groups), groups=names))
    else:
        lines.append(w.item("factor_no_groups"))
    return lines


def _metrics(w: _Writer) -> list[str]:
    m, v, lang = w.card.metrics, w.card.value, w.lang
    lines = [
        w.item("metric_measures"),
        w.item("metric_variation", n_boot=m.get("n_boot", 0)),
        w.item("metric_calibration", ece=_f(m.get("ece"))),
    ]
    if v.get("threshold") is not None:
        lines.append(
            w.item(
                "metric_threshold",
                threshold=f"{v['threshold']:.2f}",
                chosen=t(f"report_html.threshold_{v.get('threshold_source', 'none')}", lang),
                coverage=_pct(v.get("coverage")),
                accuracy=_pct(v.get("automated_accuracy")),
                scenario=md(_shown(v.get("scenario", ""), lang, "scenario.")),
            )
        )
    if v.get("text"):
        lines.append(
            w.item(
                "metric_value",
                mode=v["text"]["mode"].get(lang, ""),
                net=v["text"]["net"].get(lang, ""),
                kind=kind_text((v.get("kinds") or {}).get("net_value", "not_measured"), lang),
            )
        )
    return lines


def _evaluation_data(w: _Writer) -> list[str]:
    ds = w.card.dataset
    split = ds.get("split_sizes") or {}
    cfg = ds.get("split_config") or {}
    n = w.card.metrics.get("n_test", split.get("test", 0))
    lines = [
        w.item("eval_split", n=n, seed=ds.get("split_seed", cfg.get("seed", "–"))),
        w.item("eval_preprocessing"),
    ]
    if cfg.get("dedupe", True):
        lines.append(w.item("eval_dedupe"))
    return lines


def _training_data(w: _Writer) -> list[str]:
    ds = w.card.dataset
    split = ds.get("split_sizes") or {}
    classes = ds.get("classes") or {}
    total = sum(classes.values()) or 1
    lines = [
        w.item(
            "train_dataset",
            name=md(_shown(ds.get("name", ""), w.lang, "demos.")),
            id=md(ds.get("id", "")),
            rows=format_number(float(ds.get("rows", 0)), "en"),
            source=md(ds.get("source", "")),
        ),
        w.item("train_split", train=split.get("train", "–"), val=split.get("val", "–")),
        "",
    ]
    lines += md_table(
        [w.tr("col_class"), w.tr("col_count"), w.tr("col_share")],
        [[md(k), str(n), f"{n / total:.1%}"] for k, n in classes.items()],
    )
    return lines


def _overall_and_per_class(w: _Writer) -> list[str]:
    """The headline metrics with their intervals, then precision, recall and F1 per class."""
    m, tr = w.card.metrics, w.tr
    f1_lo, f1_hi = m["macro_f1_ci"]
    f1_ci = "–" if f1_lo is None or f1_hi is None else f"{f1_lo:.3f} – {f1_hi:.3f}"
    lines = [f"### {tr('overall')}", ""]
    lines += md_table(
        [tr("col_metric"), tr("col_value"), tr("col_ci")],
        [
            [tr("accuracy"), _pct(m["accuracy"]), _ci(m["accuracy_ci"])],
            [tr("macro_f1"), _f(m["macro_f1"]), f1_ci],
            [tr("balanced_accuracy"), _pct(m["balanced_accuracy"]), "–"],
            [tr("weighted_f1"), _f(m["weighted_f1"]), "–"],
            [tr("majority_rate"), _pct(m["majority_rate"]), "–"],
        ],
    )
    lines += ["", f"### {tr('per_class')}", ""]
    lines += md_table(
        [tr("col_class"), tr("precision"), tr("recall"), tr("f1"), tr("support")],
        [
            [md(p["label"]), _f(p["precision"]), _f(p["recall"]), _f(p["f1"]), str(p["support"])]
            for p in w.card.per_class
        ],
    )
    return lines


def _per_group(w: _Writer) -> list[str]:
    """Accuracy per group with the gap between groups; without groups, the classes' recalls."""
    c, tr = w.card, w.tr
    if c.groups:
        lines = md_table(
            [tr("col_group"), tr("col_n"), tr("accuracy")],
            [[md(g["group"]), str(g["n"]), _pct(g["accuracy"])] for g in c.groups],
        )
        if c.value.get("fairness_gap_points") is not None:
            lines += ["", tr("group_gap", gap=f"{c.value['fairness_gap_points']:.1f}")]
        return lines
    recalls = sorted(c.per_class, key=lambda p: p["recall"])
    if not recalls:
        return []
    worst, best = recalls[0], recalls[-1]
    return [
        tr(
            "no_groups_recall",
            worst=md(worst["label"]),
            worst_recall=_f(worst["recall"]),
            best=md(best["label"]),
            best_recall=_f(best["recall"]),
        )
    ]


def _cost_lines(w: _Writer) -> list[str]:
    """What the benchmark measured, and what serving costs in its mode (modelled)."""
    c, lang = w.card, w.lang
    cost = c.cost
    if cost.get("measured"):
        rss = cost.get("peak_rss_bytes")
        lines = [
            w.tr(
                "cost_line",
                p50=_f(cost.get("p50_ms"), 2),
                p95=_f(cost.get("p95_ms"), 2),
                cpu=_f(cost.get("cpu_seconds_per_prediction"), 5),
                memory="–" if rss is None else f"{rss / 1e6:.0f}",
            )
        ]
    else:
        lines = [w.tr("cost_missing", run=c.run_id)]
    v = c.value
    if v.get("cost_per_million") is not None:
        cur = v.get("currency", "USD")
        lines += [
            "",
            w.tr(
                "cost_serving",
                mode=v["text"]["mode"].get(lang, ""),
                volume=format_number(float(v.get("annual_volume") or 0), lang),
                yearly=format_money(v.get("serving_yearly_cost") or 0.0, cur, lang),
                per_m=format_money(v["cost_per_million"], cur, lang, 2),
                kind=kind_text(v.get("serving_kind") or "modelled", lang),
            ),
        ]
    return lines


def _quantitative(w: _Writer) -> list[str]:
    lines = _overall_and_per_class(w)
    lines += ["", f"### {w.tr('per_group')}", ""]
    lines += _per_group(w)
    lines += ["", f"### {w.tr('cost')}", ""]
    lines += _cost_lines(w)
    v = w.card.value
    if v.get("robustness_drop_points") is not None:
        lines += [
            "",
            w.tr(
                "robustness_line",
                clean=_pct(v.get("robustness_clean")),
                noisy=_pct(v.get("robustness_noisy")),
                drop=f"{v['robustness_drop_points']:.1f}",
            ),
        ]
    return lines


def _ethics(w: _Writer) -> list[str]:
    c = w.card
    lines = [
        w.item("ethics_data"),
        w.item("ethics_offline"),
        w.item("ethics_human"),
        w.item("ethics_errors"),
    ]
    if c.value.get("fairness_gap_points") is not None:
        by_groups = c.value.get("fairness_method") == "groups"
        lines.append(
            w.item(
                "ethics_fair_groups" if by_groups else "ethics_fair_classes",
                gap=f"{c.value['fairness_gap_points']:.1f}",
                worst=md(c.value.get("fairness_worst") or "–"),
            )
        )
    if c.text.ethical_notes:
        lines.append(w.field("ethical_notes", md(c.text.ethical_notes)))
    return lines


def _caveats(w: _Writer) -> list[str]:
    m, v, lang = w.card.metrics, w.card.value, w.lang
    lines = []
    lo, hi = m["accuracy_ci"]
    if lo is not None and hi is not None:
        lines.append(w.item("caveat_ci", n=m["n_test"], width=f"{(hi - lo) * 100:.1f}"))
    if m["n_test"] < SMALL_TEST_SET:
        lines.append(w.item("caveat_small", n=m["n_test"]))
    if m["accuracy"] <= m["majority_rate"] + 0.02:
        lines.append(w.item("caveat_baseline", rate=_pct(m["majority_rate"])))
    lines.append(w.item("caveat_drift"))
    own = f"model.{w.card.model_id}.caveat"  # what one model needs said (what it was trained on)
    if f"model_card.{own}" in catalogue("en"):
        lines.append(w.item(own))
    missing = v.get("transparency_missing") or []
    if missing:
        lines.append(w.item("caveat_missing", items=w.join([w.tr(f"item.{k}") for k in missing])))
    if v.get("text"):
        if v.get("is_recommended"):
            key = "caveat_recommended"
        elif v.get("in_cascade"):
            key = "caveat_in_cascade"
        else:
            key = "caveat_not_recommended"
        lines.append(w.item(key, scenario=md(_shown(v.get("scenario", ""), lang, "scenario."))))
        decision = md(v["text"]["decision"].get(lang, ""))
        lines.append("  " + w.tr("caveat_decision", decision=decision))
        reasons = v["text"]["reasons"].get(lang, "")
        if reasons:
            lines.append(w.item("caveat_reasons", reasons=md(reasons)))
    return lines


_RENDER = {
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


def section_title(section: str, lang: str = "en") -> str:
    return t(f"model_card.section.{section}", lang)


def model_card_markdown(card: ModelCard, lang: str = "en") -> str:
    """The card as Markdown in ``lang``: a title, a summary line and the nine sections."""
    m = card.metrics
    lines = [
        "# "
        + t("model_card.title", lang, model=md(model_name(card.model_id, lang)), run=card.run_id),
        "",
        t(
            "model_card.summary",
            lang,
            dataset=md(_shown(card.dataset.get("name", ""), lang, "demos.")),
            accuracy=_pct(m["accuracy"]),
            ci=_ci(m["accuracy_ci"]),
            n=m["n_test"],
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
