"""Scorecards from a store with real trained runs, and AppTest of the Value page.

Until the page is in ``app.PAGES`` it runs under a minimal router (``st.navigation`` over the
real ``pages/``), with the active dataset and language set in session state as the sidebar
would.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from slm_core import jobs
from slm_core.data.split import content_hash
from slm_core.store import RunStore
from slm_core.value import Assumptions, build_scorecards, format_value_report
from slm_core.value.business import cost_matrix
from tests.conftest import TOPIC_WORDS, page_under_router, planted_gap_frame, store_trained_runs

TIMEOUT = 120
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


# ------------------------------------------------------------- scorecards


def test_build_scorecards_figures_can_be_recomputed_from_the_json(stored):
    store, dataset, run_ids = stored
    a = Assumptions(positive_class="money")
    report = build_scorecards(store, dataset.id, a)
    assert [c.run_id for c in report.scorecards] == run_ids
    data = json.loads(json.dumps(report.to_dict()))
    assert data["assumptions"]["positive_class"] == "money"
    v, minutes, wage = a.annual_volume, a.minutes_per_item, a.hourly_labour_cost
    for card in data["scorecards"]:
        b = card["business"]
        costs = np.array(cost_matrix(a, b["classes"]))
        confusion = np.array(b["automated_confusion"])
        assert b["labour_saved"] == pytest.approx(v * b["coverage"] * minutes / 60 * wage)
        assert b["error_cost"] == pytest.approx(v * (confusion * costs).sum() / b["n_test"])
        cpu = b["details"]["cpu_seconds_per_prediction"]
        assert b["inference_cost"] == pytest.approx(v * cpu / 3600 * a.price_per_vcpu_hour)
        assert b["net_value"] == pytest.approx(
            b["labour_saved"]
            + b["correct_value"]
            - b["error_cost"]
            - b["inference_cost"]
            - a.yearly_maintenance
        )
        assert b["net_value"] == pytest.approx(max(b["curve"]["net_value"]))
        assert card["overall"] == pytest.approx(
            0.5 * card["business_score"]["score"] + 0.5 * card["social_score"]["score"]
        )
    llm = data["llm_alternative"]["business"]
    assert llm["details"]["accuracy_is_assumed"] is True
    assert data["inputs"]["text_lengths"]["n_texts"] == dataset.rows


def test_measured_and_unmeasured_runs_are_told_apart(stored):
    store, dataset, (benched, plain) = stored
    report = build_scorecards(store, dataset.id, Assumptions(), with_sensitivity=False)
    measured, fallback = report.card(benched), report.card(plain)
    assert measured.business.inference_source == "bench"
    assert measured.social_dims["access"].value == pytest.approx(2.0)
    assert measured.social_dims["privacy"].details["memory_mb"] == pytest.approx(150.0)
    # Without a benchmark: CPU cost is the labelled fallback, latency is not measured.
    assert fallback.business.inference_source == "fallback"
    assert fallback.social_dims["access"].score is None
    assert any(
        n.key == "value.note.latency_missing" and n.params["run"] == plain
        for n in fallback.social_dims["access"].notes
    )
    # Without measuring anything now, nothing is filled in.
    bare = build_scorecards(store, dataset.id, Assumptions(), measure=False, with_sensitivity=False)
    assert bare.card(plain).business.inference_source in ("not_measured", "fallback")


def test_group_fairness_robustness_and_faithfulness_are_measured_and_cached(stored):
    store, dataset, run_ids = stored
    report = build_scorecards(store, dataset.id, Assumptions(), with_sensitivity=False)
    for card in report.scorecards:
        fair = card.social_dims["fairness"]
        assert fair.details["method"] == "groups"
        assert fair.details["worst_name"] == "south"
        assert card.social_dims["robustness"].score is not None
        assert card.social_dims["explainability"].score is not None
        assert card.social_dims["feedback"].score is None
    for run_id in run_ids:
        assert store.get_result(run_id, "robustness")["n"] > 0
        assert store.get_result(run_id, "faithfulness")["n_texts"] > 0


def test_feedback_and_text_report(stored):
    store, dataset, run_ids = stored
    for i in range(6):
        store.add_feedback(run_ids[1], f"text {i}", "sport", is_correct=i != 0)
    report = build_scorecards(store, dataset.id, Assumptions())
    fb = report.card(run_ids[1]).social_dims["feedback"]
    assert fb.details == {"rated": 6, "right": 5, "wilson_lower": pytest.approx(0.436, abs=1e-3)}
    text = format_value_report(report)
    assert all(c.label in text for c in report.scorecards)
    assert "With your weights" in text and "Sensitivity" in text
    assert "n/m" in text  # run 2 has no latency measurement
    assert "python -m slm_core bench --run" in text
    zh = format_value_report(report, "zh")
    assert "按您的权重" in zh


# ------------------------------------------------------------------ AppTest

ROUTER = """
import streamlit as st
PAGES = ["pages/value.py", "pages/train.py", "pages/data.py"]
st.navigation([st.Page(p, default=(p == "pages/value.py")) for p in PAGES]).run()
"""


def _page(dataset_id: str, tmp_path, lang: str = "en") -> AppTest:
    return page_under_router(ROUTER, tmp_path / "router_value", dataset_id, lang, TIMEOUT)


def _frame(at: AppTest, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_value_page_shows_scorecards_side_by_side(stored, tmp_path):
    _, dataset, run_ids = stored
    at = _page(dataset.id, tmp_path)
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "Value"
    assert any("With your weights" in s.value for s in at.success)
    assert any("Sensitivity" in i.value for i in at.info)
    scores = _frame(at, "How it is scored")
    labels = [f"#{run_ids[0]} tfidf_lr", f"#{run_ids[1]} nb"]
    assert all(label in scores.columns for label in labels)
    assert any(c.startswith("LLM API") for c in scores.columns)
    assert "Overall score" in scores.index
    assert all(v.isdigit() for v in scores.loc["Overall score", labels])
    assert scores.loc["Access", labels[1]] == "–"  # not benchmarked: no score, no guess
    assert scores.loc["Access", labels[0]] == "100"
    assert len(at.get("plotly_chart")) >= 2  # radar and profit curve


def test_editing_an_assumption_updates_the_figures(stored, tmp_path):
    _, dataset, run_ids = stored
    at = _page(dataset.id, tmp_path)
    label = f"#{run_ids[0]} tfidf_lr"
    before = _frame(at, label).copy()
    business = next(d.value for d in at.dataframe if "Labour saved / yr" in d.value.index)
    labour_before = business.loc["Labour saved / yr", label]
    at.number_input(key="va.annual_volume").set_value(1000.0).run()
    assert not at.exception, [e.value for e in at.exception]
    business = next(d.value for d in at.dataframe if "Labour saved / yr" in d.value.index)
    assert business.loc["Labour saved / yr", label] != labour_before
    assert not _frame(at, label).equals(before)
    sources = next(d.value for d in at.dataframe if "Source" in d.value.columns)
    row = sources[sources["Assumption"] == "Texts per year"].iloc[0]
    assert row["Source"] == "your input" and row["Value"] == "1000.0"
    # The edit survives a visit to another page (Streamlit drops undrawn widgets' state).
    at.switch_page("pages/train.py").run()
    at.switch_page("pages/value.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.number_input(key="va.annual_volume").value == 1000.0


def test_threshold_override_and_preset_loading(stored, tmp_path):
    _, dataset, run_ids = stored
    at = _page(dataset.id, tmp_path)
    at.number_input(key=f"vt.{run_ids[1]}").set_value(0.99).run()
    assert not at.exception, [e.value for e in at.exception]
    business = next(d.value for d in at.dataframe if "Labour saved / yr" in d.value.index)
    assert business.loc["Threshold", f"#{run_ids[1]} nb"].startswith("0.99")
    at.selectbox(key="value.scenario_choice").set_value("preset:sentiment_monitoring")
    at.button(key="value.load").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.number_input(key="va.annual_volume").value == 500_000.0
    assert any("Sentiment monitoring" in s.value for s in at.success)


def test_value_page_in_chinese(stored, tmp_path):
    _, dataset, _ = stored
    at = _page(dataset.id, tmp_path, lang="zh")
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "价值"
    assert any("按您的权重" in s.value for s in at.success)


def test_value_page_without_runs_says_so(fresh_home, tmp_path):
    from ui.state import get_store

    get_store.clear()
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
    assert any("No finished training run" in i.value for i in at.info)
    get_store.clear()


def test_scenarios_can_be_compared(stored, tmp_path):
    _, dataset, run_ids = stored
    at = _page(dataset.id, tmp_path)
    at.multiselect(key="value.compare.en").set_value(
        ["preset:content_moderation", "preset:sentiment_monitoring"]
    ).run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(d.value for d in at.dataframe if "Best balance" in d.value.columns)
    assert len(table) == 3
    assert table.index[0].startswith("Current")
    assert f"#{run_ids[0]} tfidf_lr · Net value / yr" in table.columns
    # A far bigger volume of cheap items: the figures differ between scenarios.
    col = f"#{run_ids[0]} tfidf_lr · Net value / yr"
    assert table[col].nunique() == 3


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
    assert card.social_dims["robustness"].score is not None
    assert card.social_dims["explainability"].details["method"] == "occlusion"
    assert card.social_dims["access"].details["token_unit"] == "char"  # Chinese: characters
