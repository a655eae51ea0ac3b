"""The value report from a store with real trained runs, and AppTest of the Value page.

The page runs under a minimal router (``st.navigation`` over the real ``pages/``), with the
active dataset and language set in session state as the sidebar would. Assertions read the data
behind the widgets (the frames, the decision paragraph), never pixels.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from slm_core import jobs
from slm_core.data.split import content_hash
from slm_core.evaluate import evaluate_run
from slm_core.i18n import t
from slm_core.resample import wilson_interval
from slm_core.store import RunStore
from slm_core.value import Assumptions, build_scorecards, format_value_report
from slm_core.value.assumptions import RAREST_CLASS
from slm_core.value.inputs import Measurement, collect_inputs
from slm_core.value.option import Overrides
from slm_core.value.scorecard import evaluate_value
from slm_core.value.scores import score_above_chance
from slm_core.value.text import decision_text, option_label, serving_text
from tests.conftest import TOPIC_WORDS, page_under_router, planted_gap_frame, store_trained_runs
from ui.decision import (
    CONTROLS_OPEN_KEY,
    CURRENT_KEY,
    EDITOR_OPEN_KEY,
    SERVING_KEY,
    THRESHOLDS_KEY,
    VALUE_TABS_KEY,
)

TIMEOUT = 180
WORDS = TOPIC_WORDS
BENCH = {
    "latency_ms": {
        "single_thread": {"p50": 2.0, "p90": 3.0, "p95": 3.5, "p99": 5.0},
        "all_threads": {"p50": 1.5, "p90": 2.5, "p95": 3.0, "p99": 4.0},
    },
    "cpu_seconds_per_prediction": 0.002,
    "artifact_bytes": 3_000_000,
    "peak_rss_bytes": 150_000_000,
    "energy_kwh_per_million": 0.05,
    "train_energy_kwh": 0.0001,
}


@pytest.fixture
def stored(fresh_home):
    """Two trained linear runs on 3 topics with a group column; run 1 has a bench result."""
    from ui.state import get_store

    get_store.clear()  # the cached store of an earlier test points at another SLM_HOME
    st.cache_data.clear()
    store = RunStore()
    frame = planted_gap_frame(WORDS, 60)
    report = {
        "token_unit": "word",
        "script": "latin",
        "classes": {k: int(v) for k, v in frame["label"].value_counts().items()},
    }
    dataset, run_ids = store_trained_runs(store, frame, report)
    store.put_result(run_ids[0], "bench", BENCH)
    yield store, dataset, run_ids
    get_store.clear()
    st.cache_data.clear()


# ------------------------------------------------------------- value report


def test_report_json_holds_every_option_and_its_figures_add_up(stored):
    store, dataset, run_ids = stored
    a = Assumptions(positive_class=RAREST_CLASS)
    report = build_scorecards(store, dataset.id, a, with_sensitivity=False)
    assert [o.run_id for o in report.models] == run_ids
    data = json.loads(json.dumps(report.to_dict(), default=str))
    kinds = [o["kind"] for o in data["options"]]
    assert kinds[0] == "manual" and kinds.count("model") == 2 and "api" in kinds
    assert data["decision"]["best"] in [o["key"] for o in data["options"]]
    for option in data["options"]:
        b = option["business"]
        assert b["net_value"] == pytest.approx(
            b["labour_saved"]
            + b["correct_value"]
            - b["error_cost"]
            + b["people_error_avoided"]
            - (b["serving_cost"] or 0.0)
            - b["api_cost"]
            - b["maintenance"],
            abs=1e-6,
        )
        if option["kind"] == "model":
            assert b["chosen_on"] == "validation" and b["scored_on"] == "test"
            assert set(b["kinds"]) >= {"coverage", "net_value"}
            low, high = b["net_value_ci"]
            assert low <= b["net_value"] <= high
    assert data["inputs"]["text_lengths"]["n_texts"] == dataset.rows


# The fixture's three topics have 60 texts each, so a third of any stratified test split is the
# largest class: chance for robustness (majority rate) and for explanations (1 / classes) alike.
CHANCE = 1 / 3


def _expected_social_scores(store, run_id: int) -> dict[str, float]:
    """Robustness and explainability scores recomputed from the run's cached measurements."""
    rob = store.get_result(run_id, "robustness")
    faith = store.get_result(run_id, "faithfulness")
    clean, noisy = rob["clean_accuracy"], rob["noisy_accuracy"]
    gain, full = faith["comprehensiveness_gain"], faith["full_confidence"]
    return {
        "robustness": 100 * (noisy - CHANCE) / (clean - CHANCE),
        "explainability": 100 * gain / (full - CHANCE),
    }


def test_group_fairness_robustness_and_faithfulness_are_measured_and_cached(stored):
    store, dataset, run_ids = stored
    report = build_scorecards(store, dataset.id, Assumptions(), with_sensitivity=False)
    for o in report.models:
        fair = o.social_dims["fairness"]
        assert fair.details["method"] == "groups"
        assert fair.details["worst_name"] == "south"
        assert o.social_dims["feedback"].score is None  # no ratings: left out, not lowered
        evaluation = evaluate_run(store, o.run_id)
        assert evaluation.majority_rate == pytest.approx(CHANCE)
        # Every test text is measured, clean ones exactly as the evaluation scored them.
        rob = store.get_result(o.run_id, "robustness")
        assert rob["n"] == evaluation.n
        assert rob["clean_accuracy"] == pytest.approx(evaluation.accuracy)
        faith = store.get_result(o.run_id, "faithfulness")
        assert (faith["n_texts"], faith["method"]) == (evaluation.n, "linear")
        # Topic words explain a topic: the gain over random tokens clears 0, so it is scored.
        assert faith["comprehensiveness_gain_ci"][0] > 0
        expected = _expected_social_scores(store, o.run_id)
        for dim in ("robustness", "explainability"):
            assert o.social_dims[dim].score == pytest.approx(expected[dim]), dim
            assert 0 < expected[dim] <= 100
        assert o.social_dims["robustness"].value == pytest.approx(
            100 * (rob["clean_accuracy"] - rob["noisy_accuracy"])
        )


def test_the_guessing_guard_reads_the_wilson_accuracy_interval(stored):
    """One accuracy interval everywhere: the value inputs hold the evaluation's Wilson interval."""
    store, dataset, run_ids = stored
    inputs = collect_inputs(store, dataset.id, settings=Measurement.of(Assumptions()))
    for run in inputs.runs:
        right = int(run.test.correct.sum())
        assert run.accuracy_ci == pytest.approx(wilson_interval(right, run.test.n))
        assert run.accuracy_ci == pytest.approx(evaluate_run(store, run.run_id).accuracy_ci)
        # 20 or more of 27 right: Wilson's low end (>= 0.55) clears the 1/3 majority rate.
        assert right >= 20 and run.majority_rate == pytest.approx(CHANCE)
        assert run.better_than_guessing


def test_scarce_feedback_is_left_out_and_the_text_report_states_the_decision(stored):
    store, dataset, run_ids = stored
    for i in range(6):
        store.add_feedback(run_ids[1], f"text {i}", "sport", is_correct=i != 0)
    report = build_scorecards(store, dataset.id, Assumptions())
    fb = report.card(run_ids[1]).social_dims["feedback"]
    assert fb.score is None and fb.details["rated"] == 6
    assert "feedback" in report.left_out
    text = format_value_report(report)
    assert decision_text(report) in text
    assert all(o.label in text for o in report.models)
    assert decision_text(report, "zh") in format_value_report(report, "zh")


# ------------------------------------------------------------------ AppTest

ROUTER = """
import streamlit as st
PAGES = ["pages/value.py", "pages/train.py", "pages/data.py"]
st.navigation([st.Page(p, default=(p == "pages/value.py")) for p in PAGES]).run()
"""


# The editor and the per-run controls are drawn only while open: these tests use them.
OPEN = {EDITOR_OPEN_KEY: True, CONTROLS_OPEN_KEY: True}


def _page(dataset_id: str, tmp_path, lang: str = "en", state: dict | None = None) -> AppTest:
    folder = tmp_path / "router_value"
    return page_under_router(ROUTER, folder, dataset_id, lang, TIMEOUT, OPEN | (state or {}))


# Tables are found by what they hold (``st.dataframe`` keeps no key without selections), with
# the tab they are in (only the open tab is drawn).
TABLES = {
    "options": ("index", "value.col_option", None),
    "business": ("index", "value.col_figure", "value.tab_business"),
    "items": ("index", "value.col_item", "value.tab_transparency"),
    "compare": ("index", "value.scenario", "value.tab_compare"),
    "sources": ("column", "value.col_field", "value.tab_sources"),
    "train_energy": ("column", "value.col_train_energy", "value.tab_social"),
    "robustness": ("column", "value.figure_of.robustness", "value.tab_social"),
    "explainability": ("column", "value.figure_of.explainability", "value.tab_social"),
}


def open_tab(at: AppTest, tab: str, lang: str = "en") -> None:
    """Open the Value page's tab ``tab`` (a locale key), as a click on it does."""
    key = VALUE_TABS_KEY.format(lang=lang)
    if at.session_state[key] != t(tab, lang):
        at.session_state[key] = t(tab, lang)
        at.run()
        assert not at.exception, [e.value for e in at.exception]


def _frame(at: AppTest, table: str, lang: str = "en", open_it: bool = True) -> pd.DataFrame:
    where, key, tab = TABLES[table]
    if tab is not None and open_it:
        open_tab(at, tab, lang)
    name = t(key, lang)
    for d in at.dataframe:
        frame = d.value
        if (where == "index" and frame.index.name == name) or (
            where == "column" and name in frame.columns
        ):
            return frame
    raise AssertionError(f"no {table} table on the page")


def test_only_the_open_tab_is_drawn(stored, tmp_path):
    _, dataset, _ = stored
    at = _page(dataset.id, tmp_path)
    assert at.session_state[VALUE_TABS_KEY.format(lang="en")] == t("value.tab_business")
    _frame(at, "business")
    with pytest.raises(AssertionError, match="no sources table"):
        _frame(at, "sources", open_it=False)
    open_tab(at, "value.tab_sources")
    _frame(at, "sources", open_it=False)
    with pytest.raises(AssertionError, match="no business table"):
        _frame(at, "business", open_it=False)


def test_the_editor_is_drawn_only_while_open_and_edits_outlive_closing_it(stored, tmp_path):
    _, dataset, _ = stored
    closed = {EDITOR_OPEN_KEY: False, CONTROLS_OPEN_KEY: False}
    at = _page(dataset.id, tmp_path, state=closed)
    assert not at.number_input
    for key, value in ((EDITOR_OPEN_KEY, True), (EDITOR_OPEN_KEY, False)):
        at.session_state[key] = value
        at.run()
        if value:
            at.number_input(key="va.annual_volume").set_value(12_345.0).run()
    assert not at.number_input
    at.run()  # runs without the editor keep the edit
    assert at.session_state[CURRENT_KEY]["annual_volume"] == 12_345.0
    at.session_state[EDITOR_OPEN_KEY] = True
    at.run()
    assert at.number_input(key="va.annual_volume").value == 12_345.0


def _report_behind(at: AppTest, store, dataset_id: str):
    """The report of the page's current scenario and per-run choices, built outside the page."""
    state = at.session_state
    a = Assumptions.from_dict(state[CURRENT_KEY])
    overrides = Overrides(
        thresholds=dict(state[THRESHOLDS_KEY]) if THRESHOLDS_KEY in state else {},
        serving=dict(state[SERVING_KEY]) if SERVING_KEY in state else {},
    )
    return build_scorecards(store, dataset_id, a, overrides=overrides, with_sensitivity=False)


def _decision(at: AppTest) -> str:
    boxes = [*at.success, *at.warning]
    return boxes[0].value


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_page_states_the_same_decision_as_decision_text(stored, tmp_path, lang):
    store, dataset, _ = stored
    at = _page(dataset.id, tmp_path, lang)
    assert not at.error, [e.value for e in at.error]
    report = _report_behind(at, store, dataset.id)
    assert at.success[0].value == decision_text(report, lang)
    split = t(
        "value.decision.split_note",
        lang,
        chosen=t("value.split.validation", lang),
        scored=t("value.split.test", lang),
    )
    assert any(c.value == split for c in at.caption)
    options = _frame(at, "options", lang)
    assert list(options.columns) == [option_label(o, lang) for o in report.options]
    assert at.title[0].value == t("value.title", lang)


def test_every_option_is_shown_side_by_side_with_units_and_kinds(stored, tmp_path):
    store, dataset, run_ids = stored
    at = _page(dataset.id, tmp_path)
    options = _frame(at, "options")
    labels = [f"#{run_ids[0]} tfidf_lr", f"#{run_ids[1]} nb"]
    assert options.columns[0] == "Keep it manual"
    assert all(label in options.columns for label in labels)
    assert any(c.endswith(" API") for c in options.columns)
    net = options.loc["Net value / yr (USD)"]
    assert all(v.startswith(("$", "-$")) for v in net)
    assert all(v.endswith(("· measured", "· modelled", "· assumed")) for v in net)
    api = next(c for c in options.columns if c.endswith(" API"))
    assert net[api].endswith("· assumed")  # the API's accuracy was never measured
    assert options.loc["Automated share", labels[0]].endswith("· measured")
    assert options.loc["Threshold", labels[0]].endswith("(chosen on validation)")
    for row in ("Business score (0–100)", "Social score (0–100)", "Overall score (0–100)"):
        assert options.loc[row, labels[0]].isdigit()
    assert options.loc["Can be recommended", "Keep it manual"] == "yes"
    assert len(at.get("plotly_chart")) >= 3  # cost vs volume, radar, validation curve
    business = _frame(at, "business")
    for row in ("Labour saved / yr (USD)", "Serving cost per 1M texts (USD)", "Payback (months)"):
        assert row in business.index
    energy = _frame(at, "train_energy")
    assert list(energy.iloc[:, 0]) == labels
    assert _frame(at, "items").shape[0] == 6
    assert any("JSON" in b.label for b in at.get("download_button"))
    # The social tab shows the scores that follow from the cached measurements.
    for dim in ("robustness", "explainability"):
        shown = _frame(at, dim).set_index("Option")["Score"]
        for run_id, label in zip(run_ids, labels, strict=True):
            assert shown[label] == f"{_expected_social_scores(store, run_id)[dim]:.0f}", dim


def test_editing_an_assumption_updates_the_figures(stored, tmp_path):
    _, dataset, run_ids = stored
    at = _page(dataset.id, tmp_path)
    label = f"#{run_ids[0]} tfidf_lr"
    before = _frame(at, "business").loc["Labour saved / yr (USD)", label]
    decision = _decision(at)
    at.number_input(key="va.annual_volume").set_value(1000.0).run()
    assert not at.exception, [e.value for e in at.exception]
    assert _frame(at, "business").loc["Labour saved / yr (USD)", label] != before
    assert _decision(at) != decision
    sources = _frame(at, "sources")
    row = sources[sources["Assumption"] == "Texts per year"].iloc[0]
    assert row["Source"] == "your input" and row["Value"] == "1,000"
    # The edit survives a visit to another page (Streamlit drops undrawn widgets' state).
    at.switch_page("pages/train.py").run()
    at.switch_page("pages/value.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.number_input(key="va.annual_volume").value == 1000.0


def test_a_threshold_override_changes_the_figures_and_says_so(stored, tmp_path):
    store, dataset, run_ids = stored
    at = _page(dataset.id, tmp_path)
    label = f"#{run_ids[1]} nb"
    before = _frame(at, "options")[label].copy()
    at.number_input(key=f"vt.{run_ids[1]}").set_value(0.99).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state[THRESHOLDS_KEY] == {run_ids[1]: 0.99}
    after = _frame(at, "options")[label]
    assert after["Threshold"] == "0.99 (your choice)"
    assert after["Automated share"] != before["Automated share"]
    assert _decision(at) == decision_text(_report_behind(at, store, dataset.id))
    # Emptying the field goes back to the threshold chosen on validation.
    at.number_input(key=f"vt.{run_ids[1]}").set_value(None).run()
    assert at.session_state[THRESHOLDS_KEY] == {}
    assert _frame(at, "options")[label].equals(before)


def test_a_serving_mode_per_model_changes_the_figures(stored, tmp_path):
    store, dataset, run_ids = stored
    at = _page(dataset.id, tmp_path)
    label = f"#{run_ids[0]} tfidf_lr"
    before = _frame(at, "business")[label].copy()
    report = _report_behind(at, store, dataset.id)
    assert before["Served"] == serving_text(report.card(run_ids[0]))
    assert report.card(run_ids[0]).serving_mode == "always_on"  # the scenario's mode
    at.selectbox(key=f"vs.{run_ids[0]}").set_value("serverless").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state[SERVING_KEY] == {run_ids[0]: "serverless"}
    report = _report_behind(at, store, dataset.id)
    served = serving_text(report.card(run_ids[0]))
    assert report.card(run_ids[0]).serving_mode == "serverless" and served != before["Served"]
    after = _frame(at, "business")[label]
    assert after["Served"] == served
    assert after["Serving cost / yr (USD)"] != before["Serving cost / yr (USD)"]
    assert _frame(at, "options").loc["Served", label] == served
    assert _decision(at) == decision_text(report)
    # The other model keeps the scenario's mode.
    assert _frame(at, "business").loc["Served", f"#{run_ids[1]} nb"] == before["Served"]


def test_the_china_preset_loads_and_shows_cny(stored, tmp_path):
    _, dataset, _ = stored
    at = _page(dataset.id, tmp_path)
    at.selectbox(key="value.scenario_choice").set_value("preset:china_customer_service")
    at.button(key="value.load").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="va.currency").value == "CNY"
    options = _frame(at, "options")
    assert all(v.startswith(("¥", "-¥")) for v in options.loc["Net value / yr (CNY)"])
    assert "¥" in at.success[0].value or "¥" in at.warning[0].value
    assert any("CNY per USD" in c.value for c in at.caption)
    sources = _frame(at, "sources")
    assert sources[sources["Assumption"] == "Labour cost per hour"].iloc[0]["Unit"] == "CNY/h"


def test_positive_class_shows_or_hides_its_error_costs(stored, tmp_path):
    _, dataset, _ = stored
    at = _page(dataset.id, tmp_path)
    keys = {w.key for w in at.number_input}
    assert "va.cost_false_positive" not in keys and "va.cost_other_error" in keys
    sources = _frame(at, "sources")
    fp = sources[sources["Assumption"] == "Cost of a false positive"].iloc[0]
    assert "not used" in fp["Value"]
    positive = at.selectbox(key="va.positive_class")
    assert RAREST_CLASS in positive.options or "the rarest class" in positive.options
    positive.set_value(RAREST_CLASS).run()
    assert not at.exception, [e.value for e in at.exception]
    keys = {w.key for w in at.number_input}
    assert {"va.cost_false_positive", "va.cost_false_negative"} <= keys
    sources = _frame(at, "sources")
    fp = sources[sources["Assumption"] == "Cost of a false positive"].iloc[0]
    assert "not used" not in fp["Value"]


def test_every_assumption_has_an_editor(stored, tmp_path):
    from slm_core.value.sources import FIELD_GROUPS

    _, dataset, _ = stored
    at = _page(dataset.id, tmp_path)
    at.selectbox(key="va.positive_class").set_value(RAREST_CLASS).run()
    shown = {
        w.key
        for kind in ("number_input", "selectbox", "radio", "text_input", "slider")
        for w in at.get(kind)
    }
    fields = {f"va.{f}" for group in FIELD_GROUPS.values() for f in group}
    assert fields <= shown, sorted(fields - shown)
    assert at.selectbox(key="va.serving_mode").options == [
        "device",
        "always-on",
        "serverless",
        "batch",
    ]


def test_value_page_without_runs_says_so(fresh_home, tmp_path):
    from ui.state import get_store

    get_store.clear()
    st.cache_data.clear()
    store = RunStore()
    frame = pd.DataFrame({"text": ["a b", "c d", "e f", "g h"], "label": ["x", "y", "x", "y"]})
    dataset = store.add_dataset(
        "empty",
        "cli",
        "e.csv",
        content_hash(frame),
        frame,
        report={"token_unit": "word"},
        split_config={},
    )
    at = _page(dataset.id, tmp_path)
    assert not at.exception and not at.error
    assert any("No finished training run" in w.value for w in [*at.warning, *at.info])
    assert at.number_input(key="va.annual_volume").value == 200_000.0  # the editor is there
    at.number_input(key="va.annual_volume").set_value(5000.0).run()
    assert not at.exception, [e.value for e in at.exception]
    get_store.clear()


def test_scenarios_can_be_compared(stored, tmp_path):
    _, dataset, run_ids = stored
    at = _page(dataset.id, tmp_path)
    open_tab(at, "value.tab_compare")
    picked = ["preset:content_moderation", "preset:sentiment_monitoring"]
    at.multiselect(key="value.compare.en").set_value(picked).run()
    assert not at.exception, [e.value for e in at.exception]
    open_tab(at, "value.tab_sources")  # the picks outlive a visit to another tab
    open_tab(at, "value.tab_compare")
    assert at.multiselect(key="value.compare.en").value == picked
    table = _frame(at, "compare")
    assert len(table) == 3
    assert table.index[0].startswith("Current")
    col = f"#{run_ids[0]} tfidf_lr · Net value / yr"
    assert {"Decision", col, "LLM API · Net value / yr"} <= set(table.columns)
    assert table[col].nunique() == 3  # the same model is worth a different amount in each


def test_a_model_not_better_than_guessing_is_labelled(stored):
    """Frames of a report whose second model's accuracy interval does not clear chance."""
    store, dataset, run_ids = stored
    inputs = collect_inputs(store, dataset.id, settings=Measurement.of(Assumptions()))
    runs = list(inputs.runs)
    runs[1] = replace(runs[1], accuracy_ci=(0.2, 0.4), majority_rate=0.5)
    report = evaluate_value(
        replace(inputs, runs=tuple(runs)), Assumptions(), with_sensitivity=False
    )
    from ui.value_frames import not_guessing_labels, options_frame

    assert not_guessing_labels(report) == [f"#{run_ids[1]} nb"]
    text, _ = options_frame(report)
    column = text[f"#{run_ids[1]} nb"]
    assert column["Can be recommended"] == "no"
    assert t("value.reason.guessing") in column["Why it cannot be recommended"]
    assert report.decision.best != f"run:{run_ids[1]}"


@pytest.mark.slow
def test_neural_run_gets_robustness_and_occlusion_faithfulness(fresh_home):
    """A Keras model is loaded once to measure robustness and faithfulness (minutes: slow)."""
    from slm_core.data.columns import guess_mapping
    from slm_core.data.io import read_table
    from slm_core.dataset import prepare_dataset, register_dataset
    from tests.conftest import SAMPLE_ZH

    store = RunStore()
    read = read_table(SAMPLE_ZH.read_bytes(), SAMPLE_ZH.name)
    prepared = prepare_dataset(read, guess_mapping(read.frame), "tickets", SAMPLE_ZH.name)
    dataset = register_dataset(store, prepared, "cli")
    run = store.create_run(dataset.id, "cnn", "quick", {"epochs": 2})
    assert jobs.run_inline(store, run.id).status == "succeeded"
    report = build_scorecards(store, dataset.id, Assumptions(), with_sensitivity=False)
    card = report.card(run.id)
    evaluation = evaluate_run(store, run.id)
    rob = store.get_result(run.id, "robustness")
    assert rob["n"] == evaluation.n  # the few test texts of 40 rows are all measured
    assert rob["clean_accuracy"] == pytest.approx(evaluation.accuracy)
    clean, noisy, chance = rob["clean_accuracy"], rob["noisy_accuracy"], evaluation.majority_rate
    assert card.social_dims["robustness"].score == pytest.approx(
        score_above_chance(noisy - chance, clean - chance)
    )
    assert card.social_dims["explainability"].details["method"] == "occlusion"
