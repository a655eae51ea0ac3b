"""The value report of a dataset: every option's scorecards and the decision, from the run store.

Two steps, so the page can re-score instantly as the user edits assumptions:

1. ``collect_inputs(store, dataset_id)`` (in :mod:`slm_core.value.inputs`) gathers what was
   measured per run (validation and test predictions, cost benchmark, robustness under
   seeded noise, explanation faithfulness, model card, feedback).
2. ``evaluate_value(inputs, assumptions)`` is pure: the options and their figures with
   intervals (:mod:`slm_core.value.options`), the decision and its break-evens
   (:mod:`slm_core.value.decision`) and the sensitivity search.

``ValueReport.to_dict()`` holds every input, so any figure can be recomputed by hand;
:mod:`slm_core.value.text` puts the results into sentences.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from slm_core.errors import NotFoundError
from slm_core.value.assumptions import Assumptions
from slm_core.value.decision import Decision, MeasuredLLM, best_of, decide
from slm_core.value.hosted import REPLACED_FIELDS
from slm_core.value.inputs import DatasetInputs, Measurement, collect_inputs
from slm_core.value.option import Option, Overrides
from slm_core.value.options import build_options
from slm_core.value.scores import SENSITIVITY_FIELDS, Sensitivity, sensitivity


@dataclass(frozen=True)
class ValueReport:
    """Every option of a dataset under one set of assumptions, the decision, every input."""

    dataset_id: str
    dataset_name: str
    assumptions: Assumptions
    options: tuple[Option, ...]
    decision: Decision
    sensitivity: Sensitivity | None
    inputs: DatasetInputs
    overrides: Overrides = field(default_factory=Overrides)
    left_out: tuple[str, ...] = ()  # social dimensions missing for some option, so for all

    def option(self, key: str) -> Option:
        for o in self.options:
            if o.key == key:
                return o
        raise NotFoundError("errors.scorecard.option_missing", key=key)

    def card(self, run_id: int) -> Option:
        for o in self.options:
            if o.kind == "model" and o.run_id == run_id:
                return o
        raise NotFoundError("errors.scorecard.run_no_scorecard", run_id=run_id)

    @property
    def api(self) -> Option | None:
        """The hosted LLM API option (None before any run is scored)."""
        return next((o for o in self.options if o.kind == "api"), None)

    @property
    def models(self) -> tuple[Option, ...]:
        return tuple(o for o in self.options if o.kind == "model")

    @property
    def best(self) -> Option:
        return self.option(self.decision.best)

    @property
    def runner_up(self) -> Option | None:
        return self.option(self.decision.runner_up) if self.decision.runner_up else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_id": self.dataset_id,
            "dataset_name": self.dataset_name,
            "decision": self.decision.to_dict(),
            "options": [o.to_dict() for o in self.options],
            "left_out_dimensions": list(self.left_out),
            "assumptions": self.assumptions.to_dict(),
            "overrides": {
                "thresholds": {str(k): v for k, v in self.overrides.thresholds.items()},
                "serving": {str(k): v for k, v in self.overrides.serving.items()},
            },
            "sensitivity": self.sensitivity.to_dict() if self.sensitivity else None,
            "inputs": self.inputs.to_dict(),
        }


def evaluate_value(
    inputs: DatasetInputs,
    assumptions: Assumptions,
    overrides: Overrides | None = None,
    *,
    with_sensitivity: bool = True,
    break_evens: bool = True,
) -> ValueReport:
    """Score every option of ``inputs`` under ``assumptions`` (pure; no store, no model)."""
    from slm_core.value.eligibility import common_dimensions

    a = assumptions
    o = overrides or Overrides()
    options = build_options(inputs, a, o)
    measures = {r.run_id: r.serving for r in inputs.runs}
    api = next((x for x in options if x.kind == "api"), None)
    measured = None
    if _llm_measured(options):
        current = api.llm.accuracy

        def rebuild_llm(value: float) -> list[Option]:
            return build_options(inputs, a, o, intervals=False, llm_shift=value - current)

        measured = MeasuredLLM(current, rebuild_llm)
    decision = decide(
        options,
        a,
        _rebuilder(inputs, o),
        measures,
        break_evens=break_evens and bool(inputs.runs),
        measured_llm=measured,
    )
    report = ValueReport(
        dataset_id=inputs.dataset_id,
        dataset_name=inputs.dataset_name,
        assumptions=a,
        options=tuple(options),
        decision=decision,
        sensitivity=None,
        inputs=inputs,
        overrides=o,
        left_out=common_dimensions(options)[1] if inputs.runs else (),
    )
    return with_sensitivity_search(report) if with_sensitivity else report


def with_sensitivity_search(report: ValueReport) -> ValueReport:
    """``report`` with its sensitivity search (the assumptions' changes that would change the
    best option): the slowest part of a report, so a page that does not show it skips it and
    one that does adds it to the report it already has."""
    if report.sensitivity is not None or not report.inputs.runs:
        return report
    rebuild = _rebuilder(report.inputs, report.overrides)
    fields = SENSITIVITY_FIELDS
    if _llm_measured(list(report.options)):
        # The measurement replaces these assumptions: changing them changes nothing.
        fields = tuple(f for f in SENSITIVITY_FIELDS if f not in REPLACED_FIELDS)
    sens = sensitivity(lambda x: best_of(rebuild(x))[0], report.assumptions, fields)
    return replace(report, sensitivity=sens)


def _rebuilder(inputs: DatasetInputs, o: Overrides) -> Callable[[Assumptions], list[Option]]:
    """The options under other assumptions, without intervals (what the searches rebuild)."""
    return lambda x: build_options(inputs, x, o, intervals=False)


def _llm_measured(options: list[Option]) -> bool:
    api = next((x for x in options if x.kind == "api"), None)
    return api is not None and api.llm is not None and api.llm.measured


def build_scorecards(
    store,
    dataset_id: str,
    assumptions: Assumptions | None = None,
    *,
    overrides: Overrides | None = None,
    thresholds: Mapping[int, float] | None = None,
    measure: bool = True,
    with_sensitivity: bool = True,
) -> ValueReport:
    """The value report of every finished run of ``dataset_id`` (see module docstring)."""
    a = assumptions or Assumptions()
    if overrides is None:
        overrides = Overrides(thresholds={int(k): float(v) for k, v in (thresholds or {}).items()})
    inputs = collect_inputs(store, dataset_id, measure=measure, settings=Measurement.of(a))
    return evaluate_value(inputs, a, overrides, with_sensitivity=with_sensitivity)
