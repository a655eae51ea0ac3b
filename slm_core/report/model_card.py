"""Model cards in Markdown, after Mitchell et al. (2019), "Model Cards for Model Reporting".

The card's nine sections (model details, intended use, factors, metrics, evaluation data,
training data, quantitative analyses, ethical considerations, caveats and recommendations) are
filled from what was measured. What only people can say — the intended use, its users and
what the model must not be used for — is written on the Report page and stored with the card;
until then the card shows a draft derived from the data, marked as such, and the Value page's
transparency checklist does not count it.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

from slm_core.i18n import format_money, format_number, localize_known, t
from slm_core.models.names import model_description, model_name  # noqa: F401  (re-exported)
from slm_core.report.collect import ReportData, RunFigures

CARD_KIND = "model_card"


CARD_VERSION = 1
USER_FIELDS = ("intended_use", "intended_users", "out_of_scope", "ethical_notes")
# The nine sections of Mitchell et al. (2019), in order; each is a '## ' heading of the card.
SECTIONS = (
    "model_details",
    "intended_use",
    "factors",
    "metrics",
    "evaluation_data",
    "training_data",
    "quantitative_analyses",
    "ethical_considerations",
    "caveats",
)
# Below this many test texts a 95% interval is wide enough to say so in the caveats.
SMALL_TEST_SET = 200


# ----------------------------------------------------------------- user text


@dataclass(frozen=True)
class CardText:
    """What people state about a model: its intended use, users, out-of-scope uses, ethics."""

    intended_use: str = ""
    intended_users: str = ""
    out_of_scope: str = ""
    ethical_notes: str = ""

    def to_dict(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in USER_FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> CardText:
        data = data or {}
        return cls(**{k: str(data.get(k) or "").strip() for k in USER_FIELDS})


def read_card_text(store, run_id: int) -> CardText:
    """The user-written fields stored with a run's model card (empty when none)."""
    return CardText.from_dict(store.get_result(run_id, CARD_KIND))


def save_card_text(store, run_id: int, text: CardText) -> dict[str, Any]:
    """Store the user-written fields, keeping the rest of the stored card; returns it."""
    stored = dict(store.get_result(run_id, CARD_KIND) or {})
    stored.update(text.to_dict())
    stored["run_id"] = run_id
    store.put_result(run_id, CARD_KIND, stored)
    return stored


# ----------------------------------------------------------------- the card


@dataclass(frozen=True)
class ModelCard:
    """The structured fields of one model card (stored as the run's 'model_card' result)."""

    run_id: int
    label: str
    model_id: str
    family: str
    preset: str | None
    params: dict[str, Any]
    finished_at: str | None
    train_seconds: float | None
    n_params: int | None
    size_bytes: int | None
    token_unit: str
    dataset: dict[str, Any]
    metrics: dict[str, Any]
    per_class: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    cost: dict[str, Any]
    value: dict[str, Any]
    text: CardText
    generated_at: str
    versions: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; the user-written fields sit at the top level, as the Value page reads."""
        out = {
            "version": CARD_VERSION,
            "run_id": self.run_id,
            "label": self.label,
            "model_id": self.model_id,
            "family": self.family,
            "preset": self.preset,
            "params": dict(self.params),
            "finished_at": self.finished_at,
            "train_seconds": self.train_seconds,
            "n_params": self.n_params,
            "size_bytes": self.size_bytes,
            "token_unit": self.token_unit,
            "dataset": dict(self.dataset),
            "metrics": dict(self.metrics),
            "per_class": list(self.per_class),
            "groups": list(self.groups),
            "cost": dict(self.cost),
            "value": dict(self.value),
            "generated_at": self.generated_at,
            "versions": dict(self.versions),
            "sections": list(SECTIONS),
        }
        out.update(self.text.to_dict())
        return out


def _shown(text: str, lang: str, prefix: str) -> str:
    # The card keeps the English demo and preset names (it is data); the text shows them in lang.
    return localize_known(str(text), lang, prefix)


def _option_texts(v, o) -> dict[str, dict[str, str]]:
    """The decision and this model's value as sentences, in every interface language (the card
    is stored once and rendered in either)."""
    from slm_core.i18n import LANGUAGES
    from slm_core.value.text import decision_text, interval_text, money, reasons_text, serving_text

    out: dict[str, dict[str, str]] = {"decision": {}, "mode": {}, "net": {}, "reasons": {}}
    for lang in LANGUAGES:
        out["decision"][lang] = decision_text(v, lang)
        out["mode"][lang] = serving_text(o, lang)
        out["net"][lang] = f"{money(o.business.net_value, v, lang)} ({interval_text(o, v, lang)})"
        out["reasons"][lang] = reasons_text(o, lang)
    return out


def _value_fields(data: ReportData, r: RunFigures) -> dict[str, Any]:
    """The run's option in the value report: how it is served, its value with interval, the
    kind of each figure, and the decision it is part of."""
    v = data.value
    o = data.option(r.run_id)
    if v is None or o is None:  # the value report was built before this run finished
        return {}
    b = o.business
    s = o.serving
    fair = o.social_dims.get("fairness")
    rob = o.social_dims.get("robustness")
    transparency = o.social_dims.get("transparency")
    decided = v.best
    return {
        "scenario": v.assumptions.name,
        "currency": v.assumptions.currency,
        "option_key": o.key,
        "serving_mode": o.serving_mode,
        "instances": None if s is None else s.instances,
        "serving_yearly_cost": None if s is None else s.yearly_cost,
        "cost_per_million": None if s is None else s.per_million,
        "serving_kind": None if s is None else s.kind,
        "annual_volume": v.assumptions.annual_volume,
        "threshold": b.threshold,
        "threshold_source": b.threshold_source,
        "chosen_on": b.chosen_on,
        "scored_on": b.scored_on,
        "coverage": b.coverage,
        "automated_accuracy": b.automated_accuracy,
        "net_value": b.net_value,
        "net_value_ci": None if b.net_value_ci is None else list(b.net_value_ci),
        "p_positive": b.p_positive,
        "interval_level": b.interval_level,
        "kinds": dict(b.kinds),
        "business_score": o.business_score.score if o.business_score else None,
        "social_score": o.social_score.score if o.social_score else None,
        "overall": o.overall,
        "eligible": o.eligible,
        "better_than_guessing": o.better_than_guessing,
        "reasons": [n.to_dict() for n in o.reasons],
        "decision_best": decided.key,
        "is_recommended": decided.key == o.key,
        "in_cascade": decided.kind == "cascade" and decided.run_id == o.run_id,
        "text": _option_texts(v, o),
        "fairness_method": fair.details.get("method") if fair else None,
        "fairness_gap_points": fair.value if fair else None,
        "fairness_worst": fair.details.get("worst_name") if fair else None,
        "robustness_drop_points": rob.value if rob else None,
        "robustness_clean": rob.details.get("clean_accuracy") if rob else None,
        "robustness_noisy": rob.details.get("noisy_accuracy") if rob else None,
        "transparency_missing": list(transparency.details.get("missing", []))
        if transparency
        else [],
    }


def build_model_card(data: ReportData, run_id: int, text: CardText | None = None) -> ModelCard:
    """The structured card of one run of ``data`` (``text``: the user-written fields)."""
    from slm_core.models.registry import SPECS

    r = data.run(run_id)
    run, ev, m = r.run, r.evaluation, r.run.metrics or {}
    d = data.dataset
    report = d.report or {}
    spec = SPECS.get(run.model_id)

    def ci(pair) -> list[float | None]:
        return [v if v is not None and math.isfinite(v) else None for v in pair]

    return ModelCard(
        run_id=run.id,
        label=r.label,
        model_id=run.model_id,
        family=spec.family if spec else "",
        preset=run.preset,
        params=dict(run.params or {}),
        finished_at=run.finished_at.isoformat() if run.finished_at else None,
        train_seconds=run.train_seconds,
        n_params=m.get("n_params"),
        size_bytes=m.get("model_size_bytes"),
        token_unit=report.get("token_unit", "word"),
        dataset={
            "id": d.id,
            "name": d.name,
            "source": d.source,
            "rows": d.rows,
            "classes": dict(report.get("classes") or {}),
            "script": report.get("script", "latin"),
            "groups": dict(report.get("groups") or {}),
            "split_sizes": dict(m.get("split_sizes") or {}),
            "split_seed": m.get("split_seed"),
            "split_config": dict(d.split_config or {}),
        },
        metrics={
            "n_test": ev.n,
            "accuracy": ev.accuracy,
            "accuracy_ci": ci(ev.accuracy_ci),
            "macro_f1": ev.macro_f1,
            "macro_f1_ci": ci(ev.macro_f1_ci),
            "balanced_accuracy": ev.balanced_accuracy,
            "weighted_f1": ev.weighted_f1,
            "ece": ev.ece,
            "majority_rate": ev.majority_rate,
            "roc_auc_macro": ev.roc_auc_macro,
            "n_boot": ev.n_boot,
            "ci_level": 0.95,
        },
        per_class=[c.to_dict() for c in ev.per_class],
        groups=[g.to_dict() for g in r.groups],
        cost=r.cost.to_dict(),
        value=_value_fields(data, r),
        text=text or CardText(),
        generated_at=data.generated_at.isoformat(),
        versions=dict(data.versions),
    )


def store_model_card(store, card: ModelCard) -> None:
    """Save the card's structured fields as the run's 'model_card' result."""
    store.put_result(card.run_id, CARD_KIND, card.to_dict())


def model_cards(store, data: ReportData, *, save: bool = True) -> dict[int, ModelCard]:
    """A card for every run of ``data`` with the user-written text stored for it."""
    cards = {}
    for r in data.runs:
        card = build_model_card(data, r.run_id, read_card_text(store, r.run_id))
        if save:
            store_model_card(store, card)
        cards[r.run_id] = card
    return cards


# ------------------------------------------------------------------ Markdown


def md(text: object) -> str:
    """User text made safe for Markdown: no raw HTML, no table breaks, one line."""
    out = html.escape(str(text), quote=False)
    return " ".join(out.replace("|", "\\|").split())


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def _ci(pair: list[float | None]) -> str:
    lo, hi = pair
    return "–" if lo is None or hi is None else f"{lo:.1%} – {hi:.1%}"


def _f(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _sep(lang: str) -> str:
    return t("model_card.sep", lang)


def _join(items, lang: str) -> str:
    return t("model_card.list_sep", lang).join(items)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _model_details(c: ModelCard, lang: str) -> list[str]:
    tr = lambda key, **kw: t(f"model_card.{key}", lang, **kw)
    params = ", ".join(f"{k}={v}" for k, v in sorted(c.params.items())) or "–"
    size = "–" if c.size_bytes is None else f"{c.size_bytes / 1e6:.2f} MB"
    lines = [
        f"- **{tr('developed_by')}**{_sep(lang)}"
        + tr("developed_by_text", version=c.versions.get("slm-value-lab", "")),
        f"- **{tr('model_type')}**{_sep(lang)}{md(model_name(c.model_id, lang))} (`{c.model_id}`, "
        f"{t('family.' + c.family, lang) if c.family else '–'})",
        f"- **{tr('description')}**{_sep(lang)}{md(model_description(c.model_id, lang))}",
        f"- **{tr('version')}**{_sep(lang)}"
        + tr("run_version", run=c.run_id, date=(c.finished_at or "")[:10]),
        f"- **{tr('settings')}**{_sep(lang)}{tr('preset')} "
        f"{t('preset.' + c.preset, lang) if c.preset else '–'}; {md(params)}",
        f"- **{tr('input')}**{_sep(lang)}{t('unit.' + c.token_unit, lang)}",
        f"- **{tr('size')}**{_sep(lang)}{size}; "
        + tr("params_count", n=format_number(float(c.n_params or 0), "en"))
        + "; "
        + tr("train_time", seconds=_f(c.train_seconds, 2)),
        f"- **{tr('reference')}**{_sep(lang)}{tr('reference_text')}",
    ]
    return lines


def _intended_use(c: ModelCard, lang: str) -> list[str]:
    tr = lambda key, **kw: t(f"model_card.{key}", lang, **kw)
    classes = _join([md(k) for k in c.dataset.get("classes", {})], lang)
    draft_use = tr(
        "draft_use", dataset=md(_shown(c.dataset.get("name", ""), lang, "demos.")), classes=classes
    )
    text = c.text

    def field_line(label: str, value: str, draft: str) -> str:
        if value:
            return f"- **{label}**{_sep(lang)}{md(value)}"
        return f"- **{label}**{_sep(lang)}{draft} _({tr('draft_marker')})_"

    return [
        field_line(tr("primary_uses"), text.intended_use, draft_use),
        field_line(tr("primary_users"), text.intended_users, tr("draft_users")),
        field_line(tr("out_of_scope"), text.out_of_scope, tr("draft_out_of_scope")),
    ]


def _factors(c: ModelCard, lang: str) -> list[str]:
    tr = lambda key, **kw: t(f"model_card.{key}", lang, **kw)
    ds = c.dataset
    groups = ds.get("groups") or {}
    lines = [
        "- " + tr("factor_script", script=t(f"script.{ds.get('script', 'latin')}", lang)),
        "- " + tr("factor_labels", n=len(ds.get("classes", {}))),
    ]
    if groups:
        names = _join([md(g) for g in list(groups)[:12]], lang)
        lines.append("- " + tr("factor_groups", n=len(groups), groups=names))
    else:
        lines.append("- " + tr("factor_no_groups"))
    return lines


def _metrics(c: ModelCard, lang: str) -> list[str]:
    tr = lambda key, **kw: t(f"model_card.{key}", lang, **kw)
    m, v = c.metrics, c.value
    lines = [
        "- " + tr("metric_measures"),
        "- " + tr("metric_variation", n_boot=m.get("n_boot", 0)),
        "- " + tr("metric_calibration", ece=_f(m.get("ece"))),
    ]
    if v.get("threshold") is not None:
        lines.append(
            "- "
            + tr(
                "metric_threshold",
                threshold=f"{v['threshold']:.2f}",
                chosen=t(f"report_html.threshold_{v.get('threshold_source', 'none')}", lang),
                coverage=_pct(v.get("coverage")),
                accuracy=_pct(v.get("automated_accuracy")),
                scenario=md(_shown(v.get("scenario", ""), lang, "scenario.")),
            )
        )
    if v.get("text"):
        kinds = v.get("kinds") or {}
        lines.append(
            "- "
            + tr(
                "metric_value",
                mode=v["text"]["mode"].get(lang, ""),
                net=v["text"]["net"].get(lang, ""),
                kind=t(f"value.figure_kind.{kinds.get('net_value', 'not_measured')}", lang),
            )
        )
    return lines


def _evaluation_data(c: ModelCard, lang: str) -> list[str]:
    tr = lambda key, **kw: t(f"model_card.{key}", lang, **kw)
    ds = c.dataset
    split = ds.get("split_sizes") or {}
    cfg = ds.get("split_config") or {}
    lines = [
        "- "
        + tr(
            "eval_split",
            n=c.metrics.get("n_test", split.get("test", 0)),
            seed=ds.get("split_seed", cfg.get("seed", "–")),
        ),
        "- " + tr("eval_preprocessing"),
    ]
    if cfg.get("dedupe", True):
        lines.append("- " + tr("eval_dedupe"))
    return lines


def _training_data(c: ModelCard, lang: str) -> list[str]:
    tr = lambda key, **kw: t(f"model_card.{key}", lang, **kw)
    ds = c.dataset
    split = ds.get("split_sizes") or {}
    classes = ds.get("classes") or {}
    total = sum(classes.values()) or 1
    lines = [
        "- "
        + tr(
            "train_dataset",
            name=md(_shown(ds.get("name", ""), lang, "demos.")),
            id=md(ds.get("id", "")),
            rows=format_number(float(ds.get("rows", 0)), "en"),
            source=md(ds.get("source", "")),
        ),
        "- " + tr("train_split", train=split.get("train", "–"), val=split.get("val", "–")),
        "",
    ]
    lines += _table(
        [tr("col_class"), tr("col_count"), tr("col_share")],
        [[md(k), str(n), f"{n / total:.1%}"] for k, n in classes.items()],
    )
    return lines


def _cost_lines(c: ModelCard, lang: str) -> list[str]:
    """What the benchmark measured, and what serving costs in its mode (modelled)."""
    tr = lambda key, **kw: t(f"model_card.{key}", lang, **kw)
    lines = []
    cost = c.cost
    if cost.get("measured"):
        lines.append(
            tr(
                "cost_line",
                p50=_f(cost.get("p50_ms"), 2),
                p95=_f(cost.get("p95_ms"), 2),
                cpu=_f(cost.get("cpu_seconds_per_prediction"), 5),
                memory="–"
                if cost.get("peak_rss_bytes") is None
                else f"{cost['peak_rss_bytes'] / 1e6:.0f}",
            )
        )
    else:
        lines.append(tr("cost_missing", run=c.run_id))
    v = c.value
    if v.get("cost_per_million") is not None:
        cur = v.get("currency", "USD")
        lines += [
            "",
            tr(
                "cost_serving",
                mode=v["text"]["mode"].get(lang, ""),
                volume=format_number(float(v.get("annual_volume") or 0), lang),
                yearly=format_money(v.get("serving_yearly_cost") or 0.0, cur, lang),
                per_m=format_money(v["cost_per_million"], cur, lang, 2),
                kind=t(f"value.figure_kind.{v.get('serving_kind') or 'modelled'}", lang),
            ),
        ]
    return lines


def _quantitative(c: ModelCard, lang: str) -> list[str]:
    tr = lambda key, **kw: t(f"model_card.{key}", lang, **kw)
    m = c.metrics
    lines = [f"### {tr('overall')}", ""]
    lines += _table(
        [tr("col_metric"), tr("col_value"), tr("col_ci")],
        [
            [tr("accuracy"), _pct(m["accuracy"]), _ci(m["accuracy_ci"])],
            [
                tr("macro_f1"),
                _f(m["macro_f1"]),
                "–"
                if None in m["macro_f1_ci"]
                else f"{m['macro_f1_ci'][0]:.3f} – {m['macro_f1_ci'][1]:.3f}",
            ],
            [tr("balanced_accuracy"), _pct(m["balanced_accuracy"]), "–"],
            [tr("weighted_f1"), _f(m["weighted_f1"]), "–"],
            [tr("majority_rate"), _pct(m["majority_rate"]), "–"],
        ],
    )
    lines += ["", f"### {tr('per_class')}", ""]
    lines += _table(
        [tr("col_class"), tr("precision"), tr("recall"), tr("f1"), tr("support")],
        [
            [md(p["label"]), _f(p["precision"]), _f(p["recall"]), _f(p["f1"]), str(p["support"])]
            for p in c.per_class
        ],
    )
    lines += ["", f"### {tr('per_group')}", ""]
    if c.groups:
        lines += _table(
            [tr("col_group"), tr("col_n"), tr("accuracy")],
            [[md(g["group"]), str(g["n"]), _pct(g["accuracy"])] for g in c.groups],
        )
        if c.value.get("fairness_gap_points") is not None:
            lines += ["", tr("group_gap", gap=f"{c.value['fairness_gap_points']:.1f}")]
    else:
        recalls = sorted(c.per_class, key=lambda p: p["recall"])
        if recalls:
            lines.append(
                tr(
                    "no_groups_recall",
                    worst=md(recalls[0]["label"]),
                    worst_recall=_f(recalls[0]["recall"]),
                    best=md(recalls[-1]["label"]),
                    best_recall=_f(recalls[-1]["recall"]),
                )
            )
    lines += ["", f"### {tr('cost')}", ""]
    lines += _cost_lines(c, lang)
    v = c.value
    if v.get("robustness_drop_points") is not None:
        lines += [
            "",
            tr(
                "robustness_line",
                clean=_pct(v.get("robustness_clean")),
                noisy=_pct(v.get("robustness_noisy")),
                drop=f"{v['robustness_drop_points']:.1f}",
            ),
        ]
    return lines


def _ethics(c: ModelCard, lang: str) -> list[str]:
    tr = lambda key, **kw: t(f"model_card.{key}", lang, **kw)
    lines = [
        "- " + tr("ethics_data"),
        "- " + tr("ethics_offline"),
        "- " + tr("ethics_human"),
        "- " + tr("ethics_errors"),
    ]
    if c.value.get("fairness_gap_points") is not None:
        key = (
            "ethics_fair_groups"
            if c.value.get("fairness_method") == "groups"
            else "ethics_fair_classes"
        )
        lines.append(
            "- "
            + tr(
                key,
                gap=f"{c.value['fairness_gap_points']:.1f}",
                worst=md(c.value.get("fairness_worst") or "–"),
            )
        )
    if c.text.ethical_notes:
        lines.append(f"- **{tr('ethical_notes')}**{_sep(lang)}{md(c.text.ethical_notes)}")
    return lines


def _caveats(c: ModelCard, lang: str) -> list[str]:
    tr = lambda key, **kw: t(f"model_card.{key}", lang, **kw)
    m, v = c.metrics, c.value
    lines = []
    lo, hi = m["accuracy_ci"]
    if lo is not None and hi is not None:
        lines.append("- " + tr("caveat_ci", n=m["n_test"], width=f"{(hi - lo) * 100:.1f}"))
    if m["n_test"] < SMALL_TEST_SET:
        lines.append("- " + tr("caveat_small", n=m["n_test"]))
    if m["accuracy"] <= m["majority_rate"] + 0.02:
        lines.append("- " + tr("caveat_baseline", rate=_pct(m["majority_rate"])))
    lines.append("- " + tr("caveat_drift"))
    missing = v.get("transparency_missing") or []
    if missing:
        items = _join([tr(f"item.{k}") for k in missing], lang)
        lines.append("- " + tr("caveat_missing", items=items))
    if v.get("text"):
        if v.get("is_recommended"):
            key = "caveat_recommended"
        elif v.get("in_cascade"):
            key = "caveat_in_cascade"
        else:
            key = "caveat_not_recommended"
        scenario = md(_shown(v.get("scenario", ""), lang, "scenario."))
        lines.append("- " + tr(key, scenario=scenario))
        lines.append("  " + tr("caveat_decision", decision=md(v["text"]["decision"].get(lang, ""))))
        reasons = v["text"]["reasons"].get(lang, "")
        if reasons:
            lines.append("- " + tr("caveat_reasons", reasons=md(reasons)))
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
    for section in SECTIONS:
        lines += ["", f"## {section_title(section, lang)}", ""]
        lines += _RENDER[section](card, lang)
    return "\n".join(lines) + "\n"
