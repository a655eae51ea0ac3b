"""Business and social scorecards for every finished run of a dataset, from the run store.

Two steps, so the page can re-score instantly as the user edits assumptions:

1. ``collect_inputs(store, dataset_id)`` (in :mod:`slm_core.value.inputs`) gathers what was
   measured per run (test predictions, cost benchmark, fairness, robustness under seeded noise,
   explanation faithfulness, model-card checklist, feedback).
2. ``evaluate_value(inputs, assumptions)`` is pure and cheap: business figures, dimension
   scores, the recommendation and the sensitivity search.

``build_scorecards`` does both. ``ValueReport.to_dict()`` holds every input, so any figure can
be recomputed by hand; :mod:`slm_core.value.text` puts the results into sentences.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from slm_core.errors import NotFoundError
from slm_core.value.assumptions import Assumptions
from slm_core.value.business import BusinessResult, llm_business, model_business
from slm_core.value.inputs import DatasetInputs, RunInputs, collect_inputs
from slm_core.value.scores import (
    Dimension,
    Note,
    Recommendation,
    Sensitivity,
    Weighted,
    overall_score,
    recommend,
    score_net_value,
    score_payback,
    score_roi,
    score_share,
    sensitivity,
    weighted_score,
)
from slm_core.value.social import social_dimensions


@dataclass(frozen=True)
class Scorecard:
    """One model's business and social dimensions, scores and overall score."""

    run_id: int | None  # None for the LLM-API alternative
    model_id: str
    label: str
    business: BusinessResult
    business_dims: dict[str, Dimension]
    social_dims: dict[str, Dimension]
    business_score: Weighted
    social_score: Weighted
    overall: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "model_id": self.model_id,
            "label": self.label,
            "business": self.business.to_dict(),
            "business_dims": {k: d.to_dict() for k, d in self.business_dims.items()},
            "social_dims": {k: d.to_dict() for k, d in self.social_dims.items()},
            "business_score": self.business_score.to_dict(),
            "social_score": self.social_score.to_dict(),
            "overall": self.overall,
        }


@dataclass(frozen=True)
class ValueReport:
    """All scorecards of a dataset under one set of assumptions, with every input."""

    dataset_id: str
    dataset_name: str
    assumptions: Assumptions
    scorecards: tuple[Scorecard, ...]
    llm: Scorecard | None
    recommendation: Recommendation
    sensitivity: Sensitivity | None
    inputs: DatasetInputs
    thresholds: dict[int, float] = field(default_factory=dict)

    def card(self, run_id: int) -> Scorecard:
        for c in self.scorecards:
            if c.run_id == run_id:
                return c
        raise NotFoundError("errors.scorecard.run_no_scorecard_dataset", run_id=run_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_id": self.dataset_id,
            "dataset_name": self.dataset_name,
            "assumptions": self.assumptions.to_dict(),
            "threshold_overrides": {str(k): v for k, v in self.thresholds.items()},
            "scorecards": [c.to_dict() for c in self.scorecards],
            "llm_alternative": self.llm.to_dict() if self.llm else None,
            "recommendation": self.recommendation.to_dict(),
            "sensitivity": self.sensitivity.to_dict() if self.sensitivity else None,
            "inputs": self.inputs.to_dict(),
        }


def business_dimensions(
    b: BusinessResult, cost_source: str, assumed: bool = False, run_id: int | None = None
) -> dict:
    """The five business dimensions of a BusinessResult, scored."""
    status = "assumed" if assumed else ("measured" if cost_source == "bench" else "estimate")
    notes: tuple[Note, ...] = ()
    if cost_source == "not_measured":
        notes = (Note("value.note.inference_excluded", {"run": run_id}),)
    elif cost_source == "fallback":
        notes = (Note("value.note.cpu_fallback"),)
    elif assumed:
        notes = (Note("value.note.llm_assumed"),)
    details = {"threshold": b.threshold, "threshold_source": b.threshold_source}
    return {
        "net_value": Dimension(
            "net_value",
            score_net_value(b.net_value, b.manual_cost),
            b.net_value,
            "money/yr",
            status,
            details={**details, "manual_cost": b.manual_cost},
            notes=notes,
        ),
        "roi": Dimension(
            "roi",
            score_roi(b.roi),
            None if b.roi is None else 100 * b.roi,
            "%",
            status,
            details=details,
            notes=notes,
        ),
        "payback": Dimension(
            "payback",
            score_payback(b.payback_months),
            b.payback_months,
            "months",
            status,
            details=details,
            notes=notes,
        ),
        "automation": Dimension(
            "automation",
            score_share(b.coverage),
            100 * b.coverage,
            "%",
            "assumed" if assumed else "measured",
            details=details,
        ),
        "automated_accuracy": Dimension(
            "automated_accuracy",
            score_share(b.automated_accuracy),
            None if b.automated_accuracy is None else 100 * b.automated_accuracy,
            "%",
            "assumed" if assumed else "measured",
            details=details,
            notes=(Note("value.note.llm_assumed"),) if assumed else (),
        ),
    }


def _score_run(r: RunInputs, a: Assumptions, threshold: float | None) -> Scorecard:
    business = model_business(
        r.label, r.table, a, r.cpu_seconds_per_prediction, r.cpu_source, threshold
    )
    bdims = business_dimensions(business, r.cpu_source, run_id=r.run_id)
    sdims = social_dimensions(r.social, a)
    bscore = weighted_score({k: d.score for k, d in bdims.items()}, a.business_weights)
    sscore = weighted_score({k: d.score for k, d in sdims.items()}, a.social_weights)
    return Scorecard(
        run_id=r.run_id,
        model_id=r.model_id,
        label=r.label,
        business=business,
        business_dims=bdims,
        social_dims=sdims,
        business_score=bscore,
        social_score=sscore,
        overall=overall_score(bscore.score, sscore.score, a.business_share),
    )


def _overall_by_run(
    inputs: DatasetInputs, a: Assumptions, thresholds: Mapping[int, float]
) -> dict[str, float | None]:
    return {r.label: _score_run(r, a, thresholds.get(r.run_id)).overall for r in inputs.runs}


def evaluate_value(
    inputs: DatasetInputs,
    assumptions: Assumptions,
    thresholds: Mapping[int, float] | None = None,
    *,
    with_sensitivity: bool = True,
) -> ValueReport:
    """Score every run of ``inputs`` under ``assumptions`` (pure; no store, no model)."""
    a = assumptions
    thresholds = {int(k): float(v) for k, v in (thresholds or {}).items()}
    cards = tuple(_score_run(r, a, thresholds.get(r.run_id)) for r in inputs.runs)
    llm = None
    if inputs.classes:
        lb = llm_business(a, inputs.lengths, inputs.classes, inputs.prior)
        ldims = business_dimensions(lb, "api_prices", assumed=True)
        lscore = weighted_score({k: d.score for k, d in ldims.items()}, a.business_weights)
        llm = Scorecard(None, lb.name, a.llm_name, lb, ldims, {}, lscore, Weighted(None, 0.0), None)
    overall = {c.label: c.overall for c in cards}
    rec = recommend(overall)
    sens = None
    if with_sensitivity and len(cards) >= 2 and rec.winner is not None:
        sens = sensitivity(lambda x: _overall_by_run(inputs, x, thresholds), a)
    return ValueReport(
        dataset_id=inputs.dataset_id,
        dataset_name=inputs.dataset_name,
        assumptions=a,
        scorecards=cards,
        llm=llm,
        recommendation=rec,
        sensitivity=sens,
        inputs=inputs,
        thresholds=thresholds,
    )


def build_scorecards(
    store,
    dataset_id: str,
    assumptions: Assumptions | None = None,
    *,
    thresholds: Mapping[int, float] | None = None,
    measure: bool = True,
    with_sensitivity: bool = True,
) -> ValueReport:
    """Scorecards for every finished run of ``dataset_id`` (see module docstring)."""
    inputs = collect_inputs(store, dataset_id, measure=measure)
    return evaluate_value(
        inputs, assumptions or Assumptions(), thresholds, with_sensitivity=with_sensitivity
    )
