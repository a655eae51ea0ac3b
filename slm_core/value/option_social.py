"""What each option's social dimensions are scored from (:class:`SocialBasis`): where it runs,
its size, memory, latency as served, energy per text, fairness, robustness, faithfulness,
transparency and feedback; the API's from the scenario or its measurement."""

from __future__ import annotations

from slm_core.value.assumptions import Assumptions
from slm_core.value.hosted import LLMBasis
from slm_core.value.inputs import DatasetInputs, RunInputs
from slm_core.value.option import Option
from slm_core.value.serving import HOURS_PER_YEAR, ServingCost
from slm_core.value.social import SocialBasis, language_ok, transparency_items


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
