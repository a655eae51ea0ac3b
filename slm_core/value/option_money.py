"""The business figures of each option: every small model as served, the hosted LLM API and
the cascade (a small model answers what it is confident about, the API the rest), each with
its intervals and every figure's kind (measured, modelled, assumed).

The API's accuracy, price per text and latency are measured on the user's own data when the
dataset has a finished LLM measurement (:mod:`slm_core.value.hosted`), else the scenario's
assumptions."""

from __future__ import annotations

from typing import Any

import numpy as np

from slm_core.value.assumptions import Assumptions
from slm_core.value.business import (
    BusinessResult,
    api_components,
    best_index,
    cascade_components,
    cascade_curve,
    choose_threshold,
    model_components,
    per_text_value,
    summarise,
)
from slm_core.value.hosted import THRESHOLD_METHOD, DeferredAccuracy, LLMBasis, deferred_accuracy
from slm_core.value.inputs import DatasetInputs, RunInputs
from slm_core.value.option import API, CASCADE, Option, Overrides, run_key
from slm_core.value.payoff import Payoff
from slm_core.value.serving import ServingCost, api_cost, serving_cost


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


def model_option(
    r: RunInputs, a: Assumptions, o: Overrides, manual_per_text: float, intervals: bool
) -> tuple[Option, dict]:
    p = Payoff.of(a, r.test.classes, r.test.prior or None)
    pv = Payoff.of(a, r.val.classes, r.val.prior or None) if r.val is not None else p
    threshold, source, curve = choose_threshold(
        r.val, pv, o.thresholds.get(r.run_id), with_curve=intervals
    )
    mode = o.serving.get(r.run_id, a.serving_mode)
    serving = serving_cost(r.serving, a, mode)
    answers = r.test.answers(threshold)
    comp = model_components(answers, p)
    fig = summarise(
        run_key(r.run_id),
        comp,
        p,
        a,
        serving=serving.yearly_cost,
        setup=a.setup_cost,
        manual_per_text=manual_per_text,
        intervals=intervals,
        weight=answers.weight,
    )
    answered = answers.total(comp["answered"])
    business = _result(
        run_key(r.run_id),
        fig,
        threshold=threshold,
        source=source,
        chosen_on="validation" if source == "validation" else None,
        kinds=_model_kinds(serving),
        accuracy=answers.total(comp["right"]) / answered if answered else None,
        automated_confusion=answers.confusion() if intervals else [],
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
        value_per_text=answers.mean(per_text_value(comp, p)),
        train_kwh=r.train_kwh,
        train_kwh_kind=r.train_kwh_kind,
    )
    return option, {"payoff": p, "components": comp}


def _api_interval(
    comp_at: list[dict[str, np.ndarray]],
    p: Payoff,
    a: Assumptions,
    setup: float,
    mp: float,
    weight: np.ndarray | None,
) -> dict[str, Any]:
    """Net value and ROI at both ends of the measured accuracy's interval (net value is linear
    in the accuracy, so these are its interval at the same level)."""
    ends = [
        summarise(
            API,
            c,
            p,
            a,
            serving=0.0,
            setup=setup,
            manual_per_text=mp,
            intervals=False,
            weight=weight,
        )
        for c in comp_at
    ]
    nets = sorted(e["net_value"] for e in ends)
    rois = [e["roi"] for e in ends]
    return {
        "net_value_ci": (nets[0], nets[1]),
        "roi_ci": None if None in rois else (min(rois), max(rois)),
    }


def api_option(
    inputs: DatasetInputs,
    a: Assumptions,
    manual_per_text: float,
    intervals: bool,
    llm: LLMBasis,
) -> Option:
    p = Payoff.of(a, inputs.classes, inputs.prior)
    true_idx, weight = inputs.reference_rows
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
        # Resampling test texts moves only the class mix: the API's uncertainty is its
        # accuracy. Assumed, nothing measures it: no interval. Measured, the net value at both
        # ends of the accuracy's Wilson interval (at the scenario's level) is its interval.
        intervals=False,
        weight=weight,
    )
    fig.update(net_value_ci=None, roi_ci=None, coverage_ci=None, p_positive=None)
    m = llm.measurement
    if llm.measured and m is not None and intervals and len(true_idx):
        from slm_core.resample import wilson_interval

        ends = wilson_interval(m.n_right, m.n, a.interval_level)
        comp_at = [
            api_components(true_idx, p, a, price, min(1.0, max(0.0, q + llm.shift))) for q in ends
        ]
        fig.update(_api_interval(comp_at, p, a, a.llm_setup_cost, manual_per_text, weight))
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
        value_per_text=float(np.average(per_text_value(comp, p), weights=weight))
        if len(true_idx)
        else 0.0,
        llm=llm,
        llm_notes=(llm.note(),),
    )


def cascade_option(
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
    answers = r.test.answers(threshold)
    comp = cascade_components(answers, p, a, price, deferred.accuracy)
    fig = summarise(
        CASCADE,
        comp,
        p,
        a,
        serving=m.serving.yearly_cost,
        setup=a.setup_cost + a.llm_setup_cost,
        manual_per_text=manual_per_text,
        intervals=intervals,
        weight=answers.weight,
    )
    details: dict[str, Any] = {
        "small_model": m.label,
        "small_model_share": answers.mean(answers.answered),
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
        accuracy=answers.total(comp["right"]) / answers.total(comp["answered"])
        if answers.total(comp["answered"])
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
        value_per_text=answers.mean(per_text_value(comp, p)),
        llm=llm,
        llm_notes=(llm.note(),) + ((note,) if note is not None else ()),
    )
