"""The value report every page shows: one scenario, one set of overrides, one cache.

The Value page edits the scenario (``ui/value_scenario.py``) and the per-run choices (a
threshold, a serving mode); the Value, Cost, Present and Report pages all read the same
:class:`~slm_core.value.scorecard.ValueReport` from here, so they state the same decision.
"""

from __future__ import annotations

import hashlib
import json

import streamlit as st

from slm_core.escape import md_text
from slm_core.runtime import BENCH_KIND
from slm_core.value.assumptions import PRESET_IDS, Assumptions, load_preset
from slm_core.value.checks import stamp
from slm_core.value.inputs import Measurement, collect_inputs
from slm_core.value.option import Overrides
from slm_core.value.scorecard import ValueReport, evaluate_value, with_sensitivity_search
from slm_core.value.text import decision_text
from ui.state import get_store, lang, t
from ui.value_checks import queue_checks

# ------------------------------------------------ the Value page's session state, named once
BASE_KEY = "value.base"  # the loaded scenario, as Assumptions.to_dict()
CURRENT_KEY = "value.current"  # the edited scenario, to survive a visit to another page
THRESHOLDS_KEY = "value.thresholds"  # {run_id: threshold} chosen by the user
SERVING_KEY = "value.serving"  # {run_id: serving mode} chosen by the user
VERSION_KEY = "value.version"  # bumped on every load so that editors start afresh
MATRIX_VERSION_KEY = "value.matrix_version"  # bumped on every edit of the payoff matrix
UPLOAD_DIGEST_KEY = "value.upload_digest"  # the scenario file loaded last (loaded once)
# Widgets of the scenario bar and the comparison tab.
SCENARIO_CHOICE_KEY = "value.scenario_choice"
LOAD_KEY = "value.load"
UPLOAD_KEY = "value.upload"
SAVE_NAME_KEY = "value.save_name"
SAVE_KEY = "value.save"
DOWNLOAD_TOML_KEY = "value.dl_toml"
DOWNLOAD_JSON_KEY = "value.dl_json"


def field_key(field: str) -> str:
    """The widget that edits the assumption ``field`` (or a weight, ``bw.<dim>``/``sw.<dim>``)."""
    return f"va.{field}"


def threshold_key(run_id: int) -> str:
    """The widget holding the threshold chosen for a run (empty: chosen on validation)."""
    return f"vt.{run_id}"


def serving_key(run_id: int) -> str:
    """The widget holding the serving mode chosen for a run (empty: the scenario's)."""
    return f"vs.{run_id}"


def payoff_editor_key(version: int, matrix_version: int) -> str:
    """The payoff matrix's data editor; a new key per load and per edit starts it afresh."""
    return f"value.payoff.{version}.{matrix_version}"


# The Value page's open tab, per language (its state is the tab's label), and whether its
# assumptions editor and per-run controls are open (each drawn only while open).
VALUE_TABS_KEY = "value.tabs.{lang}"
EDITOR_OPEN_KEY = "value.editor_open"
CONTROLS_OPEN_KEY = "value.controls_open"


def compare_key(lang: str) -> str:
    """The scenarios picked for comparison; one per language (chips keep their labels)."""
    return f"value.compare.{lang}"


def current_assumptions() -> Assumptions:
    """The scenario the Value page is editing (its first preset until the user opens it)."""
    for key in (CURRENT_KEY, BASE_KEY):
        data = st.session_state.get(key)
        if data:
            return Assumptions.from_dict(data)
    return load_preset(PRESET_IDS[0])


def current_overrides() -> Overrides:
    """Thresholds and serving modes chosen per run on the Value page."""
    return Overrides(
        thresholds={
            int(k): float(v) for k, v in (st.session_state.get(THRESHOLDS_KEY) or {}).items()
        },
        serving={int(k): str(v) for k, v in (st.session_state.get(SERVING_KEY) or {}).items()},
    )


def fingerprint(store, dataset_id: str) -> str:
    """Changes when a run finishes or gets a benchmark, card text, feedback or a value check
    (measured in the background, so the figures fill in when it lands).

    LLM measurements are runs of the dataset too, so a finished one changes it and the value
    figures switch from the assumed LLM to the measured one. A stored evaluation does not
    change it: it is computed from the stored predictions, the same whether a page stored it
    just now or not (counting it made the first visit of Present or Report compute the value
    report twice).
    """
    from slm_core.report.model_card import read_card_text

    runs = store.list_runs(dataset_id=dataset_id, statuses=("succeeded",))
    parts = [
        (
            r.id,
            str(r.finished_at),
            store.get_result(r.id, BENCH_KIND),
            read_card_text(store, r.id).to_dict(),
            stamp(store, r.id),
        )
        for r in runs
    ]
    # The dataset itself too: two datasets without runs would otherwise share one cached report.
    raw = json.dumps(
        [dataset_id, parts, store.feedback_summary(dataset_id)], default=str, sort_keys=True
    )
    return hashlib.sha1(raw.encode()).hexdigest()


@st.cache_data(show_spinner=False, max_entries=8)
def cached_inputs(_store, dataset_id: str, key: str, measurement: str):
    """What was measured per run, as stored: a page never loads a model for the value figures
    (missing checks are measured in the background, ``ui.value_checks``). ``measurement`` is
    ``Measurement.key()`` of the scenario, whose noise rates the robustness figures need."""
    settings = Measurement.from_key(measurement)
    return collect_inputs(_store, dataset_id, measure=False, settings=settings)


def overrides_key(o: Overrides) -> tuple:
    """The per-run choices as a hashable cache key."""
    return (tuple(sorted(o.thresholds.items())), tuple(sorted(o.serving.items())))


@st.cache_data(show_spinner=False, max_entries=32)
def cached_report(_inputs, key: str, assumptions_json: str, overrides: tuple) -> ValueReport:
    """The report without its sensitivity search (a page that does not show it: Cost)."""
    thresholds, serving = overrides
    return evaluate_value(
        _inputs,
        Assumptions.from_json(assumptions_json),
        Overrides(dict(thresholds), dict(serving)),
        with_sensitivity=False,
    )


@st.cache_data(show_spinner=False, max_entries=32)
def cached_report_with_sensitivity(
    _inputs, key: str, assumptions_json: str, overrides: tuple
) -> ValueReport:
    """The same report with the sensitivity search added: a page that visits the Value page
    after the Cost page does not score every option again."""
    report = cached_report(_inputs, key, assumptions_json, overrides)
    return with_sensitivity_search(report)


def value_report(
    dataset_id: str, assumptions: Assumptions | None = None, *, with_sensitivity: bool = True
) -> ValueReport:
    """The value report of ``dataset_id`` under the current (or the given) scenario.

    Without ``with_sensitivity`` (a page that does not show it) the sensitivity search, most
    of the report's time, is skipped; the decision and every figure are the same.
    """
    store = get_store()
    a = assumptions or current_assumptions()
    key = fingerprint(store, dataset_id)
    settings = Measurement.of(a)
    inputs = cached_inputs(store, dataset_id, key, settings.key())
    if assumptions is None or settings == Measurement.of(current_assumptions()):
        queue_checks(store, inputs)  # what the figures lack is measured in the background
    args = (inputs, key, a.to_json(), overrides_key(current_overrides()))
    return cached_report_with_sensitivity(*args) if with_sensitivity else cached_report(*args)


def decision_box(report: ValueReport) -> None:
    """The decision, stated once, with how it was made (the same paragraph on every page)."""
    text = md_text(decision_text(report, lang()), exact=False)  # it may name the LLM
    if report.decision.best == "manual":
        st.warning(text, icon=":material/front_hand:")
    else:
        st.success(text, icon=":material/recommend:")
    st.caption(t("value.decision.how"))
