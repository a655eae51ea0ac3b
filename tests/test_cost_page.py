"""AppTest of the Cost page with stored runs: the data behind every table, edits, measuring.

Until the page is in ``ui.navigation.PAGES`` it runs under a minimal router (``st.navigation``
over the real ``pages/``), with the active dataset and language set as the sidebar would.
"""

from __future__ import annotations

import time

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from slm_core import cost
from slm_core.store import RunStore
from slm_core.value.assumptions import Assumptions
from slm_core.value.business import text_lengths
from tests.conftest import make_topic_texts, page_under_router, store_trained_runs

TIMEOUT = 120
ROUTER = """
import streamlit as st
PAGES = ["pages/cost.py", "pages/train.py", "pages/data.py"]
st.navigation([st.Page(p, default=(p == "pages/cost.py")) for p in PAGES]).run()
"""


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """Two trained linear runs; the first one measured (quick settings). Shared by the tests
    of this module, which only read it or measure the first run again."""
    from slm_core.runtime import bench_run
    from slm_core.runtime.latency import QUICK
    from ui.state import get_store

    patch = pytest.MonkeyPatch()
    patch.setenv("SLM_HOME", str(tmp_path_factory.mktemp("cost_home")))
    get_store.clear()  # the cached store of an earlier test points at another SLM_HOME
    st.cache_data.clear()
    store = RunStore()
    texts, labels = make_topic_texts()
    frame = pd.DataFrame({"text": texts, "label": labels})
    report = {"token_unit": "word", "script": "latin", "classes": {"sport": 30}}
    dataset, run_ids = store_trained_runs(store, frame, report, filename="t.csv")
    bench_run(store, run_ids[0], config=QUICK)
    yield store, dataset, run_ids
    get_store.clear()
    st.cache_data.clear()
    patch.undo()


def _page(dataset_id: str, tmp_path, lang: str = "en") -> AppTest:
    return page_under_router(ROUTER, tmp_path / "router_cost", dataset_id, lang, TIMEOUT)


def _frame(at: AppTest, key_column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if key_column in d.value.columns)


def test_cost_page_shows_measured_figures_with_units(stored, tmp_path):
    store, dataset, (measured, plain) = stored
    bench = store.get_result(measured, "bench")
    at = _page(dataset.id, tmp_path)

    latency = _frame(at, "p50 · 1 thread (ms)")
    assert list(latency["Model"]) == [f"#{measured} tfidf_lr"]  # unmeasured runs are not faked
    single = bench["latency_ms"]["single_thread"]
    assert latency["p99 · 1 thread (ms)"][0] == pytest.approx(single["p99"])
    assert latency["p50 · all threads (ms)"][0] == pytest.approx(
        bench["latency_ms"]["all_threads"]["p50"]
    )
    assert latency["Load (ms)"][0] == pytest.approx(bench["load_ms"])

    serving = _frame(at, "Runtime used")
    assert serving["Runtime used"][0] == "scikit-learn"
    assert serving["Artifact (MB)"][0] == pytest.approx(bench["artifact_bytes"] / 1e6)
    assert serving["Peak memory (MB)"][0] == pytest.approx(bench["peak_rss_bytes"] / 1e6)
    assert serving["Throughput @256 (texts/s)"][0] > 0

    defaults = Assumptions()
    money = _frame(at, "Per 1M predictions (USD)")
    expected = cost.price_per_million(
        bench["cpu_seconds_per_prediction"], defaults.price_per_vcpu_hour
    ).value
    row = money.set_index("Model")
    assert row.loc[f"#{measured} tfidf_lr", "Per 1M predictions (USD)"] == pytest.approx(expected)
    assert f"#{plain} nb" not in row.index  # not measured: no cost is shown
    lengths = text_lengths(store.load_frame(dataset.id)["text"].tolist())
    tokens = cost.llm_input_tokens(
        lengths.mean_cjk_chars,
        lengths.mean_other_chars,
        defaults.tokens_per_char_cjk,
        defaults.tokens_per_char_latin,
        defaults.llm_prompt_tokens,
    ).value
    llm = tokens * defaults.llm_input_price_per_m + 5 * defaults.llm_output_price_per_m
    llm_col = f"{defaults.llm_name} per 1M (USD)"
    assert row.loc[f"#{measured} tfidf_lr", llm_col] == pytest.approx(llm)
    assert row.loc[f"#{measured} tfidf_lr", "API costs × the model"] == pytest.approx(
        llm / expected
    )

    energy = _frame(at, "Energy per 1M, IT (kWh)")
    assert energy["Energy per 1M, IT (kWh)"][0] == pytest.approx(bench["energy_kwh_per_million"])
    assert energy["Energy per 1M, with PUE (kWh)"][0] == pytest.approx(
        bench["energy_kwh_per_million"] * defaults.pue
    )
    assert energy["CO2e per 1M (g)"][0] == pytest.approx(
        bench["energy_kwh_per_million"] * defaults.pue * defaults.grid_gco2_per_kwh
    )
    metered = store.get_run(measured).metrics.get("train_energy_kwh")
    if metered is not None:  # training ran under CodeCarbon
        assert energy["Training figure"][0] == "CodeCarbon"
        assert energy["Training energy, with PUE (kWh)"][0] == pytest.approx(metered * defaults.pue)
    else:
        assert energy["Training figure"][0] == "estimate"
    # Every section explains how it was measured.
    assert len(at.get("popover")) >= 6


def test_editing_assumptions_recomputes_the_tables(stored, tmp_path):
    store, dataset, (measured, _) = stored
    bench = store.get_result(measured, "bench")
    at = _page(dataset.id, tmp_path)
    at.number_input(key="cost.price").set_value(0.5).run()
    at.radio(key="cost.basis").set_value("batch").run()
    at.selectbox(key="cost.country").set_value("CHN").run()
    at.number_input(key="cost.pue").set_value(1.2).run()
    assert not at.exception, [e.value for e in at.exception]
    money = _frame(at, "Per 1M predictions (USD)")
    batch_cpu = bench["cpu_seconds_per_prediction_batch"]
    assert money["CPU per prediction (ms)"][0] == pytest.approx(batch_cpu * 1000)
    assert money["Per 1M predictions (USD)"][0] == pytest.approx(batch_cpu * 1e6 / 3600 * 0.5)
    from slm_core.energy import country_intensities

    china = country_intensities()["CHN"][1]
    assert at.number_input(key="cost.grid").value == pytest.approx(china)
    energy = _frame(at, "Energy per 1M, IT (kWh)")
    assert energy["CO2e per 1M (g)"][0] == pytest.approx(
        energy["Energy per 1M, IT (kWh)"][0] * 1.2 * china
    )


def test_cost_page_in_chinese(stored, tmp_path):
    _, dataset, _ = stored
    at = _page(dataset.id, tmp_path, lang="zh")
    assert at.title[0].value == "成本"
    assert any("p50 · 1 线程（毫秒）" in d.value.columns for d in at.dataframe)


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


def test_money_table_has_its_columns_before_any_run_is_measured():
    """The Cost page reads the model and per-million columns even when nothing is measured."""
    from ui.cost_widgets import money_frame

    frame = money_frame([], {}, 0.0446, "single", cost.Figure(110.0, "USD", ""), "API")
    assert frame.empty and len(frame.columns) == 5
