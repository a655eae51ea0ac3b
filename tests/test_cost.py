"""The Cost page's money and energy (from the value core), CodeCarbon's power model, and the
stored benchmark."""

from __future__ import annotations

import math
import time

import pandas as pd
import pytest

from slm_core import cost
from slm_core.data.split import content_hash
from slm_core.store import RunStore
from slm_core.value.serving import ServingMeasure

# ------------------------------------------------- money and energy as served (the page's)


def _report(a=None, serving=None):
    from slm_core.value.assumptions import Assumptions
    from slm_core.value.scorecard import evaluate_value
    from tests.value_fixtures import FAST, dataset, run

    runs = [run(1, "tfidf_lr", serving=serving or FAST), run(2, "nb", serving=ServingMeasure())]
    return evaluate_value(
        dataset(runs, mean_chars=200.0),
        a or Assumptions(),
        with_sensitivity=False,
        break_evens=False,
    )


def test_mode_costs_are_the_value_cores_figures_for_measured_models_only():
    from slm_core.value.assumptions import SERVING_MODES, Assumptions
    from slm_core.value.serving import serving_cost
    from tests.value_fixtures import FAST

    a = Assumptions()
    rows = cost.mode_costs(_report(a))
    assert [r.mode for r in rows] == list(SERVING_MODES)  # run 2 was never measured
    assert {r.label for r in rows} == {"#1 tfidf_lr"}
    for r in rows:
        assert r.cost == serving_cost(FAST, a, r.mode)
        assert r.used == (r.mode == "always_on") and r.source == "bench"
    assert [r.use for r in rows if r.use] == ["scenario"]


def test_a_serving_mode_chosen_for_one_model_is_marked():
    from slm_core.value.assumptions import Assumptions
    from slm_core.value.option import Overrides
    from slm_core.value.scorecard import evaluate_value
    from tests.value_fixtures import dataset, run

    report = evaluate_value(
        dataset([run(1)]), Assumptions(), Overrides(serving={1: "serverless"}), break_evens=False
    )
    use = {r.mode: r.use for r in cost.mode_costs(report)}
    assert use == {
        "device": "",
        "always_on": "scenario_unused",
        "serverless": "override",
        "batch": "",
    }


def test_one_always_on_server_makes_the_api_cheaper_at_200000_and_not_at_50_million():
    from slm_core.value.assumptions import Assumptions

    small = cost.compare_money(_report(Assumptions(annual_volume=200_000.0)))
    # One c7i.large all year ($0.08925/h × 8,760 h ≈ $781) for 200,000 texts ≈ $3,907 per 1M.
    assert small.model_cost.per_million == pytest.approx(2 * 0.0446 * 8760 / 200_000 * 1e6)
    assert small.cheaper == "api" and small.model.label == "#1 tfidf_lr"
    assert small.factor == pytest.approx(small.model_cost.per_million / small.api.per_million)
    text = cost.money_text(small, "en")
    assert "200,000 texts a year" in text and "on one always-on server" in text
    assert "the API is" in text and "cheaper" in text
    big = cost.compare_money(_report(Assumptions(annual_volume=50_000_000.0)))
    assert big.cheaper == "model"
    text = cost.money_text(big, "en")
    assert "50,000,000 texts a year" in text and "the small model is" in text
    assert "小模型便宜" in cost.money_text(big, "zh")


def test_money_sentence_for_a_device_and_without_measurements():
    from slm_core.value.assumptions import Assumptions
    from slm_core.value.serving import ServingMeasure as M

    device = cost.compare_money(_report(Assumptions(serving_mode="device")))
    assert device.cheaper == "model" and device.factor is None  # no bill to divide by
    assert "has no serving bill" in cost.money_text(device, "en")
    nothing = cost.compare_money(_report(serving=M()))
    assert nothing.model is None and nothing.cheaper is None
    assert cost.money_text(nothing, "en") == "Measure the runs to see what serving them costs."
    none = cost.compare_money(_report(Assumptions(annual_volume=0.0)))
    assert "yearly volume is 0" in cost.money_text(none, "en")
    from dataclasses import replace

    from tests.value_fixtures import FAST

    too_big = cost.compare_money(  # 150 MB above Python against a 100 MB budget
        _report(Assumptions(serving_mode="device"), replace(FAST, model_memory_mb=150.0))
    )
    assert too_big.model is None and too_big.unservable == ("#1 tfidf_lr",)
    assert "#1 tfidf_lr" in cost.money_text(too_big, "en")


def test_running_and_training_energy_use_the_scenarios_grid():
    from slm_core.value.assumptions import Assumptions

    a = Assumptions(grid_region="China", grid_gco2_per_kwh=555.0)
    report = _report(a)
    rows = {r.key: r for r in cost.running_energy(report)}
    model = rows["run:1"]
    served = report.card(1).serving
    assert model.yearly_kwh == pytest.approx(served.yearly_kwh)
    assert model.co2e_kg == pytest.approx(served.yearly_kwh * 555.0 / 1000)
    assert model.kind == "modelled" and model.mode == "always_on"
    assert rows["run:2"].kind == "not_measured" and rows["run:2"].co2e_kg is None
    api = rows["api"]
    assert api.wh_per_text == pytest.approx(a.llm_wh_per_query) and api.kind == "assumed"
    assert cost.co2e_kg(2.0, 471.0) == pytest.approx(0.942)
    assert cost.co2e_kg(None, 471.0) is None
    training = cost.training_energy(report)
    assert [t.kind for t in training] == ["not_measured", "not_measured"]  # none recorded


def test_inference_energy_follows_codecarbon_process_model():
    figure = cost.inference_kwh_per_million(0.001, 0.002, 4.0, 10.0)
    # (4 W x 1 ms CPU + 10 W x 2 ms) = 0.024 J per prediction; 24,000 J per 1M = 0.00667 kWh.
    assert figure.value == pytest.approx(0.024 * 1e6 / 3.6e6)
    assert figure.assumptions["includes_pue"] is False
    assert cost.inference_kwh_per_million(None, 0.002, 4.0, 10.0).value is None


def test_training_estimate():
    train = cost.training_kwh_estimate(3600.0, 2, 4.0, 10.0)
    assert train.value == pytest.approx((2 * 4.0 + 10.0) / 1000)  # 18 W for one hour
    half = cost.training_kwh_estimate(3600.0, 2, 4.0, 10.0, cpu_load=0.5)
    assert half.value == pytest.approx((2 * 4.0 * 0.5 + 10.0) / 1000)


@pytest.mark.parametrize(
    "bad",
    [
        lambda: cost.inference_kwh_per_million(-1.0, 0.002, 4.0, 10.0),
        lambda: cost.inference_kwh_per_million(0.001, 0.002, float("nan"), 10.0),
        lambda: cost.training_kwh_estimate(-1.0, 1, 4.0, 10.0),
        lambda: cost.training_kwh_estimate(10.0, 1, 4.0, 10.0, cpu_load=1.5),
        lambda: cost.cpu_watts_per_thread(100.0, 0),
    ],
)
def test_invalid_inputs_are_refused(bad):
    with pytest.raises(ValueError):
        bad()


def test_cpu_power_per_thread_from_tdp_or_fallback():
    assert cost.cpu_watts_per_thread(None, 2).value == 4.0
    assert "fallback" in cost.cpu_watts_per_thread(None, 2).method
    assert cost.cpu_watts_per_thread(120.0, 16).value == pytest.approx(7.5)


@pytest.mark.parametrize("gb", [0.05, 1.5, 3, 8, 16, 24, 48, 100, 256, 1000, 4096])
def test_ram_power_matches_codecarbon(gb):
    from codecarbon.external.ram import RAM

    reference = RAM(tracking_mode="process")
    reference.is_arm_cpu = False
    assert cost.ram_watts(gb).value == pytest.approx(reference._calculate_ram_power(gb))


def test_figures_serialise_with_unit_method_and_assumptions():
    data = cost.training_kwh_estimate(3600.0, 1, 4.0, 10.0).to_dict()
    assert set(data) == {"value", "unit", "method", "assumptions"}
    assert data["unit"] == "kWh (IT, before PUE)" and data["value"] == pytest.approx(0.014)


# ---------------------------------------------------------------------- energy


def test_cpu_power_comes_from_codecarbon():
    from slm_core.energy import cpu_power

    power = cpu_power()
    assert power.logical_cpus >= 1 and power.watts_per_thread > 0
    if power.tdp_watts is None:
        assert power.watts_per_thread == cost.CODECARBON_WATTS_PER_THREAD


def test_track_training_meters_a_busy_block_offline():
    from slm_core.energy import track_training

    with track_training("USA", measure_power_secs=1) as meter:
        deadline = time.perf_counter() + 1.2
        x = 0
        while time.perf_counter() < deadline:
            x += 1
    assert meter.error is None, meter.error
    result = meter.result
    assert result is not None and result.kwh > 0
    assert result.kwh == pytest.approx(result.cpu_kwh + result.ram_kwh, rel=0.05)
    assert result.country_iso_code == "USA" and result.tracking_mode == "process"
    metrics = meter.metrics()
    assert metrics["train_energy_kwh"] == result.kwh
    assert metrics["train_energy"]["includes_pue"] is False


# ------------------------------------------------------------------- the bench


@pytest.fixture
def linear_run(fresh_home, topic_texts):
    from slm_core import jobs

    store = RunStore()
    texts, labels = topic_texts
    frame = pd.DataFrame({"text": texts, "label": labels})
    report = {"token_unit": "word", "script": "latin", "classes": {"sport": 30}}
    dataset = store.add_dataset(
        "topics", "cli", "t.csv", content_hash(frame), frame, report=report, split_config={}
    )
    run = store.create_run(dataset.id, "tfidf_lr", "quick", {})
    assert jobs.run_inline(store, run.id).status == "succeeded"
    return store, run.id


def test_bench_run_stores_what_the_value_page_reads(linear_run):
    from slm_core.runtime import bench_run, format_bench
    from slm_core.runtime.bench import BenchReport
    from slm_core.runtime.latency import QUICK
    from slm_core.train import load_test_predictions

    store, run_id = linear_run
    seen = []
    report = bench_run(store, run_id, config=QUICK, progress=lambda f, m: seen.append(f))
    assert seen[-1] == 1.0 and seen == sorted(seen)
    stored = store.get_result(run_id, "bench")
    assert stored["form"] == "numpy" and stored["family"] == "linear"
    # The compiled form was checked against scikit-learn on the run's test split (texts the
    # model did not train on), and the served form's own accuracy is what the test scored.
    test = load_test_predictions(store, run_id)
    parity = stored["parity"]
    assert parity["n"] == len(test.texts) and parity["passed"]
    assert parity["agreement"] == 1.0 and parity["max_abs_diff"] <= 1e-6
    assert parity["accuracy"] == pytest.approx(store.get_run(run_id).metrics["accuracy"])
    assert stored["forms"]["numpy"]["passed"]
    for setting in ("single_thread", "all_threads"):
        lat = stored["latency_ms"][setting]
        assert lat["p50"] <= lat["p90"] <= lat["p95"] <= lat["p99"]
        assert lat["n_calls"] >= QUICK.min_calls or lat["seconds"] >= QUICK.min_seconds
    one = stored["settings"]["single_thread"]
    assert one["threads"] == 1 and len(one["cpus"]) == 1
    assert 0 < one["rss_start_bytes"] <= one["rss_loaded_bytes"] <= one["peak_rss_bytes"]
    assert set(one["throughput"]) == {"32", "256"}
    assert 0 <= one["vectorize_share"] <= 1
    assert stored["artifact_bytes"] == sum(stored["artifact_files"].values()) > 0
    assert set(stored["artifact_files"]) == {"linear_form.npz", "model.json"}
    assert stored["energy_includes_pue"] is False
    # The energy figure is the cost module's formula on the stored inputs.
    a = stored["energy"]["assumptions"]
    expected = cost.inference_kwh_per_million(
        a["cpu_seconds_per_prediction"],
        a["wall_seconds_per_prediction"],
        a["watts_per_thread"],
        a["ram_watts"],
    )
    assert stored["energy_kwh_per_million"] == pytest.approx(expected.value)
    metered = store.get_run(run_id).metrics.get("train_energy_kwh")
    assert stored["train_energy_source"] == ("estimate" if metered is None else "codecarbon")
    assert stored["train_energy_kwh"] > 0
    # The value core reads the same figures.
    measure = ServingMeasure.from_bench(stored)
    assert measure.source == "bench"
    assert measure.p50_ms == pytest.approx(stored["latency_ms"]["single_thread"]["p50"])
    assert measure.cpu_seconds == stored["cpu_seconds_per_prediction"] > 0
    assert measure.peak_rss_mb == pytest.approx(stored["peak_rss_bytes"] / 1e6)
    assert BenchReport.from_dict(stored).to_dict()["settings"] == stored["settings"]
    text = format_bench(report)
    assert "p50" in text and "per 1M predictions" in text and f"Run {run_id}" in text
    assert math.isfinite(report.to_dict()["cpu_seconds_per_prediction"])


def test_training_energy_is_codecarbon_reading_or_a_labelled_estimate():
    from types import SimpleNamespace

    from slm_core.runtime.bench import _train_energy

    cpu = {"watts_per_thread": 4.0, "logical_cpus": 2}
    metered = SimpleNamespace(metrics={"train_energy_kwh": 0.002}, train_seconds=60.0)
    reading = _train_energy(metered, "neural", cpu, 10.0)
    assert reading["source"] == "codecarbon" and reading["value"] == 0.002
    plain = SimpleNamespace(metrics={}, train_seconds=3600.0)
    neural = _train_energy(plain, "neural", cpu, 10.0)
    assert neural["source"] == "estimate" and neural["estimate"] is True
    assert neural["value"] == pytest.approx((2 * 4.0 + 10.0) / 1000)  # all threads busy
    linear = _train_energy(plain, "linear", cpu, 10.0)
    assert linear["value"] == pytest.approx((4.0 + 10.0) / 1000)  # one thread


def test_bench_run_refuses_unfinished_runs(fresh_home, topic_texts):
    from slm_core.errors import SlmError
    from slm_core.runtime import bench_run

    store = RunStore()
    texts, labels = topic_texts
    frame = pd.DataFrame({"text": texts, "label": labels})
    dataset = store.add_dataset("t", "cli", "t.csv", content_hash(frame), frame, split_config={})
    run = store.create_run(dataset.id, "nb", "quick", {})
    with pytest.raises(SlmError, match="queued"):
        bench_run(store, run.id)
