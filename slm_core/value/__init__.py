"""Business and social value of trained models: assumptions, scorecards, scores, robustness.

Import the submodules directly; this package re-exports the entry points other modules call.
Nothing here imports TensorFlow or Streamlit.
"""

from slm_core.value.assumptions import (
    PRESET_IDS,
    AssumptionError,
    Assumptions,
    load_assumptions,
    load_preset,
    save_assumptions,
)
from slm_core.value.inputs import collect_inputs
from slm_core.value.scorecard import ValueReport, build_scorecards, evaluate_value
from slm_core.value.text import format_value_report

__all__ = [
    "PRESET_IDS",
    "AssumptionError",
    "Assumptions",
    "ValueReport",
    "build_scorecards",
    "collect_inputs",
    "evaluate_value",
    "format_value_report",
    "load_assumptions",
    "load_preset",
    "save_assumptions",
]
