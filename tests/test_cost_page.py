"""AppTest of the Cost page with stored runs: the decision it states, the data behind every
table, the money sentence under different scenarios, measuring, and a store with nothing
measured yet.

The page runs under a minimal router (``st.navigation`` over the real ``pages/``), with the
active dataset and language set as the sidebar would.
"""

from __future__ import annotations

import time

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from slm_core.store import RunStore
from slm_core.value.assumptions import DEFAULT_PRESET, Assumptions, load_preset
from slm_core.value.inputs import Measurement, collect_inputs
from slm_core.value.option import Overrides
from slm_core.value.scorecard import evaluate_value
from slm_core.value.serving import ServingMeasure, api_cost, serving_cost, text_lengths
from slm_core.value.text import decision_text
from tests.conftest import make_topic_texts, page_under_router, store_trained_runs
from ui.decision import CURRENT_KEY

TIMEOUT = 180
ROUTER = """
import streamlit as st
PAGES = ["pages/cost.py", "pages/value.py", "pages/train.py", "pages/data.py", "pages/llm.py"]
st.navigation([st.Page(p, default=(p == "pages/cost.py")) for p in PAGES]).run()
"""
MONEY = "Per 1M predictions (USD)"
YEARLY = "Yearly cost (USD/yr)"


def _store_runs(tmp_path_factory, name: str, models: tuple[str, ...]):
    from ui.state import get_store

    patch = pytest.MonkeyPatch()
    patch.setenv("SLM_HOME", str(tmp_path_factory.mktemp(name)))
    get_store.clear()  # the cached store of an earlier test points at another SLM_HOME
    st.cache_data.clear()
    store = RunStore()
    texts, labels = make_topic_texts()
    frame = pd.DataFrame({"text": texts, "label": labels})
    report = {"token_unit": "word", "script": "latin", "classes": {"sport": 30}}
    dataset, run_ids = store_trained_runs(store, frame, report, filename="t.csv", models=models)
    return patch, store, dataset, run_ids


def _restore(patch: pytest.MonkeyPatch) -> None:
    from ui.state import get_store

    get_store.clear()
    st.cache_data.clear()
    patch.undo()


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """Two trained linear runs; the first one measured (quick settings). Shared by the tests
    of this module, which only read it or measure the first run again."""
    from slm_core.runtime import bench_run
    from slm_core.runtime.latency import QUICK

    patch, store, dataset, run_ids = _store_runs(tmp_path_factory, "cost_home", ("tfidf_lr", "nb"))
    bench_run(store, run_ids[0], config=QUICK)
    yield store, dataset, run_ids
    _restore(patch)


def _page(dataset_id: str, tmp_path, lang: str = "en", scenario: Assumptions | None = None):
    at = page_under_router(ROUTER, tmp_path / "router_cost", dataset_id, lang, TIMEOUT)
    if scenario is not None:  # as the Value page leaves it after an edit
        at.session_state[CURRENT_KEY] = scenario.to_dict()
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    return at


def _frame(at: AppTest, key_column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if key_column in d.value.columns)


def _alerts(at: AppTest) -> list[str]:
    return [e.value for e in [*at.success, *at.warning, *at.info]]


def _money_sentence(at: AppTest) -> str:
    return next(text for text in _alerts(at) if "per 1M predictions" in text)


def _report(store, dataset_id: str, a: Assumptions):
    inputs = collect_inputs(store, dataset_id, measure=True, settings=Measurement.of(a))
    return evaluate_value(inputs, a, Overrides(), with_sensitivity=False)


def test_the_page_states_the_value_reports_decision(stored, tmp_path):
    store, dataset, _ = stored
    at = _page(dataset.id, tmp_path)
    report = _report(store, dataset.id, load_preset(DEFAULT_PRESET))
    assert decision_text(report, "en") in _alerts(at)
    links = [p.proto.page for p in at.get("page_link")]
    assert "value" in links, links  # where to edit the scenario


def test_cost_page_shows_measured_figures_with_units(stored, tmp_path):
    store, dataset, (measured, plain) = stored
    bench = store.get_result(measured, "bench")
    at = _page(dataset.id, tmp_path)
    a = load_preset(DEFAULT_PRESET)

    latency = _frame(at, "p50 · 1 thread (ms)")
    assert list(latency["Model"]) == [f"#{measured} tfidf_lr"]  # unmeasured runs are not faked
    single = bench["latency_ms"]["single_thread"]
    assert latency["p99 · 1 thread (ms)"][0] == pytest.approx(single["p99"])
    assert latency["p50 · all threads (ms)"][0] == pytest.approx(
        bench["latency_ms"]["all_threads"]["p50"]
    )
    assert latency["Load (ms)"][0] == pytest.approx(bench["load_ms"])
    # Beside its latency, the served form's own accuracy on the test split (its parity check),
    # which for the exact compiled form is the accuracy the run was evaluated at.
    accuracy = store.get_run(measured).metrics["accuracy"]
    assert bench["parity"]["accuracy"] == pytest.approx(accuracy)
    assert latency["Served accuracy (%)"][0] == pytest.approx(accuracy * 100)
    serving = _frame(at, "Runtime used")
    assert serving["Runtime used"][0] == "NumPy (compiled linear model)"
    assert serving["Parity with the trained model"][0] == "100.0% agree, +0.00 pt ✓"
    assert serving["Artifact (MB)"][0] == pytest.approx(bench["artifact_bytes"] / 1e6)
    assert serving["Peak memory (MB)"][0] == pytest.approx(bench["peak_rss_bytes"] / 1e6)

    # Money: every serving mode of the measured model at the scenario's volume, then the API.
    money = _frame(at, MONEY)
    rows = money[money["Model"] == f"#{measured} tfidf_lr"].set_index("Served")
    assert list(rows.index) == ["device", "always-on", "serverless", "batch"]
    m = ServingMeasure.from_bench(bench)
    for mode, label in (("always_on", "always-on"), ("serverless", "serverless")):
        expected = serving_cost(m, a, mode)
        assert rows.loc[label, YEARLY] == pytest.approx(expected.yearly_cost)
        assert rows.loc[label, MONEY] == pytest.approx(expected.per_million)
    assert rows.loc["always-on", "Instances"] == "1"
    assert rows.loc["always-on", "Decision uses"] == "✓ scenario's mode"
    assert rows.loc["device", YEARLY] == 0
    assert set(rows["Kind"]) == {"modelled"}
    api = api_cost(text_lengths(store.load_frame(dataset.id)["text"].tolist()), a)
    api_row = money[money["Served"] == "API"].iloc[0]
    assert api_row[MONEY] == pytest.approx(api.per_million)
    assert api_row[YEARLY] == pytest.approx(api.yearly_cost)
    # The unmeasured run is priced as the decision prices it, and says so.
    nb = money[money["Model"] == f"#{plain} nb"]
    assert nb.empty or nb["Note"].str.contains("Not benchmarked").all()

    # Energy: yearly, as served, CO2e at the scenario's one grid figure; training apart.
    energy = _frame(at, "Energy (kWh/yr)").set_index("Option")
    chosen = serving_cost(m, a)
    row = energy.loc[f"#{measured} tfidf_lr"]
    assert row["Energy (kWh/yr)"] == pytest.approx(chosen.yearly_kwh)
    assert row["Energy per text (Wh)"] == pytest.approx(chosen.wh_per_text)
    assert row["CO2e (kg/yr)"] == pytest.approx(chosen.yearly_kwh * a.grid_gco2_per_kwh / 1000)
    assert row["Kind"] == "modelled"
    llm = energy.loc[f"{a.llm_name} API"]
    assert llm["Energy per text (Wh)"] == pytest.approx(a.llm_wh_per_query)
    assert llm["Kind"] == "assumed"
    training = _frame(at, "Training energy (kWh)").set_index("Model")
    assert training.loc[f"#{measured} tfidf_lr", "Kind"] in ("measured", "modelled")
    assert training.loc[f"#{measured} tfidf_lr", "Training energy (kWh)"] > 0
    # No country list of its own: one grid figure, the scenario's.
    assert not at.get("selectbox") or all(s.key != "cost.country" for s in at.selectbox)
    assert len(at.get("popover")) >= 6  # every section explains how it was measured


def test_money_sentence_follows_the_serving_mode_and_the_volume(stored, tmp_path):
    _, dataset, _ = stored
    # One always-on server for 200,000 texts a year: the API is cheaper per 1M predictions.
    small = Assumptions(serving_mode="always_on", annual_volume=200_000.0)
    at = _page(dataset.id, tmp_path, scenario=small)
    sentence = _money_sentence(at)
    assert "200,000 texts a year" in sentence and "always-on server" in sentence
    assert "the API is" in sentence and "cheaper" in sentence
    assert "small model is" not in sentence
    # 50 million texts a year on the same server: the small model is cheaper.
    big = Assumptions(serving_mode="always_on", annual_volume=50_000_000.0)
    at.session_state[CURRENT_KEY] = big.to_dict()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    sentence = _money_sentence(at)
    assert "50,000,000 texts a year" in sentence and "always-on server" in sentence
    assert "the small model is" in sentence and "cheaper" in sentence
    assert _frame(at, "Served")["Served"].tolist().count("API") == 1


def test_cost_page_in_chinese(stored, tmp_path):
    _, dataset, _ = stored
    at = _page(dataset.id, tmp_path, lang="zh")
    assert at.title[0].value == "成本"
    assert any("p50 · 1 线程（毫秒）" in d.value.columns for d in at.dataframe)
    assert any("服务时准确率（%）" in d.value.columns for d in at.dataframe)
    assert any("每百万次预测（USD）" in d.value.columns for d in at.dataframe)
    assert any("决策" in s.value for s in at.subheader)


def test_measure_button_runs_the_benchmark_in_the_background(stored, tmp_path, monkeypatch):
    from slm_core.runtime import background_job
    from slm_core.runtime.latency import QUICK

    monkeypatch.setenv("SLM_BENCH_PROFILE", "quick")  # the background process inherits it
    store, dataset, (measured, plain) = stored
    before = store.get_result(measured, "bench")
    at = _page(dataset.id, tmp_path)
    assert at.button(key=f"cost.measure.{plain}").label == "Measure"
    button = at.button(key=f"cost.measure.{measured}")
    assert button.label == "Measure again"
    button.click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.button(key=f"cost.measure.{plain}").disabled  # one measurement at a time
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and background_job(store) is not None:
        time.sleep(0.3)
    progress = store.get_result(measured, "bench_progress")
    assert progress["status"] == "done", progress
    after = store.get_result(measured, "bench")
    assert after["config"]["min_seconds"] == QUICK.min_seconds  # the profile reached it
    assert after["measured_at"] >= before["measured_at"]
    # A new measuring process produced it.
    assert after["settings"]["single_thread"]["pid"] != before["settings"]["single_thread"]["pid"]
    at.run()
    latency = _frame(at, "p50 · 1 thread (ms)")
    assert latency["p50 · 1 thread (ms)"][0] == pytest.approx(
        after["latency_ms"]["single_thread"]["p50"]
    )
    assert not at.button(key=f"cost.measure.{plain}").disabled


def test_the_page_works_before_anything_is_measured(tmp_path_factory, tmp_path):
    patch, store, dataset, (run_id,) = _store_runs(tmp_path_factory, "cost_bare", ("tfidf_lr",))
    try:
        assert store.get_result(run_id, "bench") is None
        at = _page(dataset.id, tmp_path)
        report = _report(store, dataset.id, load_preset(DEFAULT_PRESET))
        assert decision_text(report, "en") in _alerts(at)
        assert at.button(key=f"cost.measure.{run_id}").label == "Measure"
        assert not any("p50 · 1 thread (ms)" in d.value.columns for d in at.dataframe)
        money = _frame(at, MONEY)  # the API's row is there; models only as the decision has them
        assert "API" in money["Served"].tolist()
        assert (money[money["Served"] != "API"]["Note"].str.contains("Not benchmarked")).all()
        assert any("Measure the runs above" in text for text in _alerts(at))
    finally:
        _restore(patch)
