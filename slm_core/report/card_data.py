"""The structured fields of a model card, after Mitchell et al. (2019), "Model Cards for Model
Reporting": what was measured about one run, filled from a report's data, and what people state
about it (intended use, users, out-of-scope uses, ethics), stored with the run.

:mod:`slm_core.report.card_markdown` writes a card as Markdown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slm_core.numbers import finite_or_none
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
            "accuracy_ci": [finite_or_none(x) for x in ev.accuracy_ci],
            "macro_f1": ev.macro_f1,
            "macro_f1_ci": [finite_or_none(x) for x in ev.macro_f1_ci],
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
