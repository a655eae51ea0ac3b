"""Scoring an option and whether it may be recommended.

An option can be recommended only if it is better than guessing (its accuracy interval clears
the majority-class rate — for the API too, once it is measured), can be served as chosen, has
a positive net value and pays back its set-up within the horizon; otherwise keeping it manual
is the answer."""

from __future__ import annotations

from slm_core.value.assumptions import SOCIAL_DIMENSIONS, Assumptions
from slm_core.value.business import BusinessResult
from slm_core.value.option import Option
from slm_core.value.scores import (
    Dimension,
    Note,
    score_net_value,
    score_payback,
    score_roi,
    score_share,
)


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
