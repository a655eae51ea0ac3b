"""Every answer to "own a small model, pay a hosted LLM, combine them, or keep people doing it?".

Options: keep it **manual** (the baseline, net value 0), each small model **as it would be
served**, the hosted **LLM API**, and a **cascade** (a small model answers what it is confident
about, the API the rest; the model and its threshold are chosen on validation). Each gets the
same business figures (:mod:`slm_core.value.business`) and social dimensions on one basis
(:mod:`slm_core.value.social`): a dimension missing for any option is left out for all.

The API's accuracy, price per text and latency are measured on the user's own data when the
dataset has a finished LLM measurement (:mod:`slm_core.value.hosted`), else the scenario's
assumptions; every figure says which.

Homes: the option and the per-run choices in :mod:`slm_core.value.option`, the business
figures in :mod:`slm_core.value.option_money`, the social basis in
:mod:`slm_core.value.option_social`, the scores and whether an option may be recommended in
:mod:`slm_core.value.eligibility`; here they are put together.
"""

from __future__ import annotations

import numpy as np

from slm_core.value.assumptions import Assumptions
from slm_core.value.business import manual_result
from slm_core.value.eligibility import business_dimensions, common_dimensions, eligibility
from slm_core.value.hosted import llm_basis
from slm_core.value.inputs import DatasetInputs
from slm_core.value.option import API, CASCADE, MANUAL, Option, Overrides, run_key
from slm_core.value.option_money import api_option, cascade_option, model_option
from slm_core.value.option_social import api_basis, model_basis
from slm_core.value.payoff import Payoff
from slm_core.value.scores import overall_score, weighted_score
from slm_core.value.social import mixed_dimensions, social_dimensions


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
        option, _ = model_option(r, a, o, manual_per_text, intervals)
        models.append(option)
        socials[option.key] = social_dimensions(model_basis(r, option, inputs, a), a)
    llm = llm_basis(inputs, a, llm_shift)
    api = api_option(inputs, a, manual_per_text, intervals, llm)
    socials[API] = social_dimensions(api_basis(a, api.label, llm), a)
    cascade = cascade_option(inputs, models, a, manual_per_text, intervals, llm)
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
