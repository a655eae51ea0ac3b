"""Every answer to "own a small model, pay a hosted LLM, combine them, or keep people doing it?".

Options: keep it **manual** (the baseline, net value 0), each small model **as it would be
served**, the hosted **LLM API**, and a **cascade** (a small model answers what it is confident
about, the API the rest; the model and its threshold are chosen on validation). Each gets the
same business figures (:mod:`slm_core.value.business`) and social dimensions on one basis
(:mod:`slm_core.value.social`): a dimension missing for any option is left out for all.

The API's accuracy, price per text and latency are measured on the user's own data when the
dataset has a finished LLM measurement (:mod:`slm_core.value.hosted`), else the scenario's
assumptions; every figure says which.

An option can be recommended only if it is better than guessing (its accuracy interval clears
the majority-class rate — for the API too, once it is measured), can be served as chosen, has
a positive net value and pays back its set-up within the horizon; otherwise keeping it manual
is the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from slm_core.value.assumptions import SOCIAL_DIMENSIONS, Assumptions
from slm_core.value.business import (
    BusinessResult,
    api_components,
    automated_confusion,
    best_index,
    cascade_components,
    cascade_curve,
    choose_threshold,
    manual_result,
    model_components,
    per_text_value,
    summarise,
)
from slm_core.value.hosted import (
    THRESHOLD_METHOD,
    DeferredAccuracy,
    LLMBasis,
    deferred_accuracy,
    llm_basis,
)
from slm_core.value.inputs import DatasetInputs, RunInputs
from slm_core.value.payoff import Payoff
from slm_core.value.scores import (
    Dimension,
    Note,
    Weighted,
    overall_score,
    score_net_value,
    score_payback,
    score_roi,
    score_share,
    weighted_score,
)
from slm_core.value.serving import (
    HOURS_PER_YEAR,
    ServingCost,
    api_cost,
    serving_cost,
)
from slm_core.value.social import (
    SocialBasis,
    language_ok,
    mixed_dimensions,
    social_dimensions,
    transparency_items,
)

MANUAL, API, CASCADE = "manual", "api", "cascade"


def run_key(run_id: int) -> str:
    return f"run:{run_id}"


@dataclass(frozen=True)
class Option:
    """One answer to the question, with its business and social scorecards."""

    key: str  # "manual", "api", "cascade" or "run:<id>"
    kind: str  # "manual", "api", "cascade" or "model"
    label: str
    business: BusinessResult
    run_id: int | None = None
    model_id: str | None = None
    serving_mode: str | None = None
    serving: ServingCost | None = None
    business_dims: dict[str, Dimension] = field(default_factory=dict)
    social_dims: dict[str, Dimension] = field(default_factory=dict)
    business_score: Weighted | None = None
    social_score: Weighted | None = None
    overall: float | None = None
    eligible: bool = False
    reasons: tuple[Note, ...] = ()
    better_than_guessing: bool | None = None
    value_per_text: float = 0.0  # mean value of one text against doing it by hand (test)
    train_kwh: float | None = None  # one-off training energy (IT, before PUE)
    train_kwh_kind: str | None = None
    llm: LLMBasis | None = None  # the hosted LLM the API and the cascade rest on
    llm_notes: tuple[Note, ...] = ()  # what the LLM's figures rest on, shown beside its column

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "label": self.label,
            "run_id": self.run_id,
            "model_id": self.model_id,
            "serving_mode": self.serving_mode,
            "serving": self.serving.to_dict() if self.serving else None,
            "business": self.business.to_dict(),
            "business_dims": {k: d.to_dict() for k, d in self.business_dims.items()},
            "social_dims": {k: d.to_dict() for k, d in self.social_dims.items()},
            "business_score": self.business_score.to_dict() if self.business_score else None,
            "social_score": self.social_score.to_dict() if self.social_score else None,
            "overall": self.overall,
            "eligible": self.eligible,
            "reasons": [n.to_dict() for n in self.reasons],
            "better_than_guessing": self.better_than_guessing,
            "value_per_text": self.value_per_text,
            "train_kwh": self.train_kwh,
            "train_kwh_kind": self.train_kwh_kind,
            "llm": self.llm.to_dict() if self.llm else None,
            "llm_notes": [n.to_dict() for n in self.llm_notes],
        }


@dataclass(frozen=True)
class Overrides:
    """Per-run choices made on the Value page: a confidence threshold, a serving mode."""

    thresholds: Mapping[int, float] = field(default_factory=dict)
    serving: Mapping[int, str] = field(default_factory=dict)


# ------------------------------------------------------------ business figures


def _result(
    key: str,
    fig: dict[str, Any],
    *,
    threshold: float | None,
    source: str,
    kinds: dict[str, str],
    accuracy: float | None,
    chosen_on: str | None = None,
    **extra: Any,
) -> BusinessResult:
    return BusinessResult(
        threshold=threshold,
        threshold_source=source,
        chosen_on=chosen_on,
        scored_on="test",
        automated_accuracy=accuracy,
        kinds=kinds,
        **{**fig, "key": key},
        **extra,
    )


# Every figure of a BusinessResult has a kind. Set-up and maintenance are the scenario's own
# inputs; figures scaled from a measured share by the assumed volume and wage are modelled.
BASE_KINDS = {
    "coverage": "measured",
    "automated_accuracy": "measured",
    "automated_per_year": "modelled",
    "labour_saved": "modelled",
    "correct_value": "modelled",
    "error_cost": "modelled",
    "people_error_avoided": "modelled",
    "serving_cost": "modelled",
    "api_cost": "modelled",
    "maintenance": "assumed",
    "setup_cost": "assumed",
    "manual_cost": "modelled",
    "net_value": "modelled",
    "yearly_cost": "modelled",
    "roi": "modelled",
    "payback_months": "modelled",
}
_MONEY = ("serving_cost", "net_value", "yearly_cost", "roi", "payback_months")
# Figures resting on the assumed API accuracy or answer share.
_ON_API_ACCURACY = (
    "automated_accuracy",
    "correct_value",
    "error_cost",
    "net_value",
    "yearly_cost",
    "roi",
    "payback_months",
)


def _model_kinds(serving: ServingCost) -> dict[str, str]:
    money = "modelled" if serving.yearly_cost is not None else "not_measured"
    return BASE_KINDS | dict.fromkeys(_MONEY, money)


API_KINDS = BASE_KINDS | dict.fromkeys(
    (*_ON_API_ACCURACY, "coverage", "automated_per_year", "labour_saved", "people_error_avoided"),
    "assumed",
)
CASCADE_KINDS = BASE_KINDS | dict.fromkeys(_ON_API_ACCURACY, "assumed")
# Measured LLM: its accuracy is measured and the money scaled from it modelled; the answer
# share stays the scenario's assumption, and so do the figures scaled from it alone.
API_MEASURED_KINDS = BASE_KINDS | dict.fromkeys(
    ("coverage", "automated_per_year", "labour_saved", "people_error_avoided"), "assumed"
)
# The cascade's share and accuracy combine the small model's measured share with the LLM's
# measured accuracy and the assumed answer share: a formula over both, so modelled.
CASCADE_MEASURED_KINDS = BASE_KINDS | dict.fromkeys(("coverage", "automated_accuracy"), "modelled")


def _model_option(
    r: RunInputs, a: Assumptions, o: Overrides, manual_per_text: float, intervals: bool
) -> tuple[Option, dict]:
    p = Payoff.of(a, r.test.classes, r.test.prior or None)
    pv = Payoff.of(a, r.val.classes, r.val.prior or None) if r.val is not None else p
    threshold, source, curve = choose_threshold(
        r.val, pv, o.thresholds.get(r.run_id), with_curve=intervals
    )
    mode = o.serving.get(r.run_id, a.serving_mode)
    serving = serving_cost(r.serving, a, mode)
    comp = model_components(r.test, p, threshold)
    fig = summarise(
        run_key(r.run_id),
        comp,
        p,
        a,
        serving=serving.yearly_cost,
        setup=a.setup_cost,
        manual_per_text=manual_per_text,
        intervals=intervals,
    )
    answered = comp["answered"].sum()
    business = _result(
        run_key(r.run_id),
        fig,
        threshold=threshold,
        source=source,
        chosen_on="validation" if source == "validation" else None,
        kinds=_model_kinds(serving),
        accuracy=float(comp["right"].sum() / answered) if answered else None,
        automated_confusion=automated_confusion(r.test, threshold) if intervals else [],
        classes=r.test.classes,
        curve=curve,
        details={"validation_source": r.val_source, "cost_matrix": p.costs.tolist()},
    )
    option = Option(
        key=run_key(r.run_id),
        kind="model",
        label=r.label,
        business=business,
        run_id=r.run_id,
        model_id=r.model_id,
        serving_mode=mode,
        serving=serving,
        better_than_guessing=r.better_than_guessing,
        value_per_text=float(np.mean(per_text_value(comp, p))) if r.test.n else 0.0,
        train_kwh=r.train_kwh,
        train_kwh_kind=r.train_kwh_kind,
    )
    return option, {"payoff": p, "components": comp}


def _api_interval(
    comp_at: list[dict[str, np.ndarray]], p: Payoff, a: Assumptions, setup: float, mp: float
) -> dict[str, Any]:
    """Net value and ROI at both ends of the measured accuracy's interval (net value is linear
    in the accuracy, so these are its interval at the same level)."""
    ends = [
        summarise(API, c, p, a, serving=0.0, setup=setup, manual_per_text=mp, intervals=False)
        for c in comp_at
    ]
    nets = sorted(e["net_value"] for e in ends)
    rois = [e["roi"] for e in ends]
    return {
        "net_value_ci": (nets[0], nets[1]),
        "roi_ci": None if None in rois else (min(rois), max(rois)),
    }


def _api_option(
    inputs: DatasetInputs,
    a: Assumptions,
    manual_per_text: float,
    intervals: bool,
    llm: LLMBasis,
) -> Option:
    p = Payoff.of(a, inputs.classes, inputs.prior)
    true_idx = inputs.reference_idx
    price = llm.price_per_text
    bill = api_cost(inputs.lengths, a, basis=llm)
    comp = api_components(true_idx, p, a, price, llm.accuracy)
    fig = summarise(
        API,
        comp,
        p,
        a,
        serving=0.0,
        setup=a.llm_setup_cost,
        manual_per_text=manual_per_text,
        intervals=intervals,
    )
    # Resampling test texts moves only the class mix: the API's uncertainty is its accuracy.
    # Assumed, nothing measures it: no interval. Measured, the net value at both ends of the
    # accuracy's Wilson interval (at the scenario's level) is its interval.
    fig.update(net_value_ci=None, roi_ci=None, coverage_ci=None, p_positive=None)
    m = llm.measurement
    if llm.measured and m is not None and intervals and len(true_idx):
        from slm_core.resample import wilson_interval

        ends = wilson_interval(m.n_right, m.n, a.interval_level)
        comp_at = [
            api_components(true_idx, p, a, price, min(1.0, max(0.0, q + llm.shift))) for q in ends
        ]
        fig.update(_api_interval(comp_at, p, a, a.llm_setup_cost, manual_per_text))
    details = {
        **bill.details,
        "accuracy_is_assumed": not llm.measured,
        "accuracy_kind": llm.kind,
        "llm": llm.to_dict(),
    }
    if llm.measured:
        details["net_value_interval"] = "net value at the ends of the accuracy's Wilson interval"
    business = _result(
        API,
        fig,
        threshold=None,
        source="none",
        kinds=API_MEASURED_KINDS if llm.measured else API_KINDS,
        accuracy=llm.accuracy,
        classes=inputs.classes,
        details=details,
    )
    return Option(
        key=API,
        kind="api",
        label=llm.name,
        business=business,
        serving_mode="api",
        serving=bill,
        better_than_guessing=llm.better_than_guessing,
        value_per_text=float(np.mean(per_text_value(comp, p))) if len(true_idx) else 0.0,
        llm=llm,
        llm_notes=(llm.note(),),
    )


def _cascade_option(
    inputs: DatasetInputs,
    models: list[Option],
    a: Assumptions,
    manual_per_text: float,
    intervals: bool,
    llm: LLMBasis,
) -> Option | None:
    """The cascade whose small model and threshold earn most on validation.

    The threshold is chosen on validation with the LLM's (measured or assumed) overall
    accuracy; on test, a measured LLM gets its accuracy on the sampled texts this small model
    defers at that threshold (:func:`slm_core.value.hosted.deferred_accuracy`).
    """
    by_run = {r.run_id: r for r in inputs.runs}
    price = llm.price_per_text
    best: tuple[float, Option, float] | None = None
    for m in models:
        r = by_run[m.run_id]
        if r.val is None or r.val.n == 0 or not r.better_than_guessing:
            continue
        if m.serving is None or m.serving.yearly_cost is None or not m.serving.feasible:
            continue
        pv = Payoff.of(a, r.val.classes, r.val.prior or None)
        table = r.val.table
        curve = cascade_curve(table, pv, a, price, llm.accuracy)
        i = best_index(curve)
        net = a.annual_volume * float(curve[i]) - m.serving.yearly_cost
        if best is None or net > best[0]:
            best = (net, m, float(table.thresholds[i]))
    if best is None:
        return None
    _, m, threshold = best
    r = by_run[m.run_id]
    deferred: DeferredAccuracy = deferred_accuracy(llm, r, threshold)
    p = Payoff.of(a, r.test.classes, r.test.prior or None)
    comp = cascade_components(r.test, p, a, threshold, price, deferred.accuracy)
    fig = summarise(
        CASCADE,
        comp,
        p,
        a,
        serving=m.serving.yearly_cost,
        setup=a.setup_cost + a.llm_setup_cost,
        manual_per_text=manual_per_text,
        intervals=intervals,
    )
    own = model_components(r.test, p, threshold)["answered"]
    details: dict[str, Any] = {
        "small_model": m.label,
        "small_model_share": float(own.mean()) if r.test.n else 0.0,
        "llm": llm.to_dict(),
        **deferred.to_dict(),
    }
    if llm.measured:
        details["threshold_method"] = THRESHOLD_METHOD
    business = _result(
        CASCADE,
        fig,
        threshold=threshold,
        source="validation",
        chosen_on="validation",
        kinds=CASCADE_MEASURED_KINDS if llm.measured else CASCADE_KINDS,
        # expected: the small model's right answers plus the API's share of the rest
        accuracy=float(comp["right"].sum() / comp["answered"].sum())
        if comp["answered"].sum()
        else None,
        classes=r.test.classes,
        details=details,
    )
    note = deferred.note()
    return Option(
        key=CASCADE,
        kind="cascade",
        label=f"{m.label} → {llm.name}",
        business=business,
        run_id=m.run_id,
        model_id=m.model_id,
        serving_mode=m.serving_mode,
        serving=m.serving,
        better_than_guessing=True,
        value_per_text=float(np.mean(per_text_value(comp, p))) if r.test.n else 0.0,
        llm=llm,
        llm_notes=(llm.note(),) + ((note,) if note is not None else ()),
    )


# ------------------------------------------------------------- social figures


def _where(mode: str | None) -> dict[str, float]:
    if mode == "device":
        return {"device": 1.0, "own_server": 0.0, "outside": 0.0}
    if mode == "api":
        return {"device": 0.0, "own_server": 0.0, "outside": 1.0}
    return {"device": 0.0, "own_server": 1.0, "outside": 0.0}


def _latency_ms(r: RunInputs, serving: ServingCost, a: Assumptions) -> float | None:
    """What a user waits for one answer as served (a nightly batch: half a night on average)."""
    m = r.serving
    if serving.mode == "batch":
        return HOURS_PER_YEAR / max(a.batch_runs_per_year, 1.0) / 2 * 3_600_000.0
    if m.p50_ms is None:
        return None if m.wall_seconds is None else m.wall_seconds * 1000.0
    if serving.mode == "serverless":
        cold = (m.load_seconds or 0.0) + (m.first_call_seconds or 0.0)
        return m.p50_ms + a.serverless_cold_start_share * cold * 1000.0
    return m.p50_ms


def model_basis(r: RunInputs, option: Option, inputs: DatasetInputs, a: Assumptions) -> SocialBasis:
    serving = option.serving
    return SocialBasis(
        option=option.label,
        family=r.family,
        where=_where(option.serving_mode),
        artifact_mb=r.serving.artifact_mb,
        memory_mb=r.serving.model_memory_mb,
        latency_ms=_latency_ms(r, serving, a) if serving else None,
        language_ok=language_ok(inputs.script, r.model_token_unit),
        wh_per_text=serving.wh_per_text if serving else None,
        fairness=r.fairness(int(round(a.min_group_size))),
        robustness=r.robustness,
        faithfulness=r.faithfulness,
        robustness_note=r.robustness_note,
        explain_note=r.explain_note,
        transparency=transparency_items(
            r.family, card_written=r.card_written, cost_source=r.serving.source
        ),
        feedback_rated=r.feedback_rated,
        feedback_right=r.feedback_right,
    )


def api_basis(a: Assumptions, label: str, llm: LLMBasis | None = None) -> SocialBasis:
    """The API's social basis: latency measured (p50) when ``llm`` is measured, else assumed;
    evaluated on the user's data only when measured."""
    measured = llm is not None and llm.measured
    timed = measured and llm.latency_ms is not None
    return SocialBasis(
        option=label,
        family="api",
        where=_where("api"),
        latency_ms=llm.latency_ms if timed else a.llm_latency_ms,
        wh_per_text=a.llm_wh_per_query,
        transparency=transparency_items(
            "api", card_written=False, cost_source=None, evaluated=measured
        ),
        measured_kind="measured" if timed else "assumed",
    )


# -------------------------------------------------------------------- scoring


def business_dimensions(b: BusinessResult, a: Assumptions) -> dict[str, Dimension]:
    """The five business dimensions of one option, scored, each with its figure's kind."""
    k = b.kinds
    details = {"threshold": b.threshold, "threshold_source": b.threshold_source}
    return {
        "net_value": Dimension(
            "net_value",
            score_net_value(b.net_value, b.manual_cost),
            b.net_value,
            "money/yr",
            k.get("net_value", "modelled"),
            details={**details, "manual_cost": b.manual_cost, "interval": b.net_value_ci},
        ),
        "roi": Dimension(
            "roi",
            score_roi(b.roi),
            None if b.roi is None else 100 * b.roi,
            "%",
            k.get("roi", "modelled"),
            details={**details, "interval": b.roi_ci},
        ),
        "payback": Dimension(
            "payback",
            score_payback(b.payback_months, a.payback_horizon_months),
            b.payback_months,
            "months",
            k.get("payback_months", "modelled"),
            details={**details, "horizon": a.payback_horizon_months},
        ),
        "automation": Dimension(
            "automation",
            score_share(b.coverage),
            100 * b.coverage,
            "%",
            k.get("coverage", "measured"),
            details={**details, "interval": b.coverage_ci},
        ),
        "automated_accuracy": Dimension(
            "automated_accuracy",
            score_share(b.automated_accuracy),
            None if b.automated_accuracy is None else 100 * b.automated_accuracy,
            "%",
            k.get("automated_accuracy", "measured"),
            details=details,
        ),
    }


def eligibility(o: Option, a: Assumptions) -> tuple[bool, tuple[Note, ...]]:
    """Whether ``o`` may be recommended, and the reasons it may not (``value.reason.*``)."""
    reasons = []
    if o.better_than_guessing is False:
        reasons.append(Note("value.reason.guessing"))
    if o.serving is not None and not o.serving.feasible:
        reasons.append(Note(o.serving.note or "value.reason.cannot_serve"))
    if o.serving is not None and o.serving.yearly_cost is None:
        reasons.append(Note("value.reason.not_measured"))
    b = o.business
    if b.net_value <= 0:
        reasons.append(Note("value.reason.not_paying"))
    elif b.payback_months is None or b.payback_months > a.payback_horizon_months:
        reasons.append(
            Note("value.reason.slow_payback", {"horizon": f"{a.payback_horizon_months:g}"})
        )
    return not reasons, tuple(reasons)


def common_dimensions(options: list[Option]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(social dimensions scored for every option, those left out because one lacks them)."""
    scored = [o for o in options if o.kind != "manual"]
    keep = tuple(
        d for d in SOCIAL_DIMENSIONS if all(o.social_dims[d].score is not None for o in scored)
    )
    return keep, tuple(d for d in SOCIAL_DIMENSIONS if d not in keep)


def build_options(
    inputs: DatasetInputs,
    a: Assumptions,
    overrides: Overrides | None = None,
    *,
    intervals: bool = True,
    llm_shift: float = 0.0,
) -> list[Option]:
    """Manual, every run as served, the API and the best cascade, scored on one basis.

    ``llm_shift`` moves the measured LLM's accuracies by that much (a what-if for the
    decision's break-even; no effect when the LLM is assumed).
    """
    from dataclasses import replace

    o = overrides or Overrides()
    dataset_payoff = Payoff.of(a, inputs.classes, inputs.prior)
    manual_per_text = dataset_payoff.manual_cost_per_text(np.asarray(inputs.prior, dtype=float))
    manual = Option(
        key=MANUAL,
        kind="manual",
        label="manual",
        business=manual_result(a, manual_per_text),
    )
    if not inputs.runs:
        return [manual]
    models, socials = [], {}
    for r in inputs.runs:
        option, _ = _model_option(r, a, o, manual_per_text, intervals)
        models.append(option)
        socials[option.key] = social_dimensions(model_basis(r, option, inputs, a), a)
    llm = llm_basis(inputs, a, llm_shift)
    api = _api_option(inputs, a, manual_per_text, intervals, llm)
    socials[API] = social_dimensions(api_basis(a, api.label, llm), a)
    cascade = _cascade_option(inputs, models, a, manual_per_text, intervals, llm)
    options = [manual, *models, api]
    if cascade is not None:
        share = float(cascade.business.details.get("small_model_share", 0.0))
        socials[CASCADE] = mixed_dimensions(socials[run_key(cascade.run_id)], socials[API], share)
        options.append(cascade)
    scored = []
    for option in options:
        if option.kind == "manual":
            scored.append(option)
            continue
        scored.append(
            replace(
                option,
                social_dims=socials[option.key],
                business_dims=business_dimensions(option.business, a),
            )
        )
    keep, _ = common_dimensions(scored)
    out = []
    for option in scored:
        if option.kind == "manual":
            out.append(replace(option, eligible=True))
            continue
        bscore = weighted_score(
            {k: d.score for k, d in option.business_dims.items()}, a.business_weights
        )
        # Weights of left-out dimensions count as unused, so weight_used shows what is missing.
        sscore = weighted_score({k: option.social_dims[k].score for k in keep}, a.social_weights)
        ok, reasons = eligibility(option, a)
        out.append(
            replace(
                option,
                business_score=bscore,
                social_score=sscore,
                overall=overall_score(bscore.score, sscore.score, a.business_share),
                eligible=ok,
                reasons=reasons,
            )
        )
    return out
