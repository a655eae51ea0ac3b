"""Cost and energy arithmetic on fixed inputs, CodeCarbon agreement, and the stored benchmark."""

from __future__ import annotations

import math
import time

import pandas as pd
import pytest

from slm_core import cost
from slm_core.data.split import content_hash
from slm_core.store import RunStore


def test_price_per_million_is_cpu_seconds_times_the_vcpu_hour_price():
    figure = cost.price_per_million(0.002, 0.0446)
    assert figure.value == pytest.approx(0.002 * 1_000_000 / 3600 * 0.0446)
    assert figure.value == pytest.approx(0.024777, rel=1e-4)
    assert figure.unit == "USD per 1M predictions"
    assert figure.assumptions == {
        "cpu_seconds_per_prediction": 0.002,
        "price_per_vcpu_hour": 0.0446,
        "currency": "USD",
    }
    assert "3,600" in figure.method
    assert cost.price_per_million(None, 0.0446).value is None


def test_llm_tokens_and_price_from_text_lengths():
    tokens = cost.llm_input_tokens(
        mean_cjk_chars=100,
        mean_other_chars=200,
        tokens_per_char_cjk=0.6,
        tokens_per_char_latin=0.25,
        prompt_tokens=150,
    )
    assert tokens.value == pytest.approx(150 + 60 + 50)
    money = cost.llm_price_per_million(tokens.value, 5, 0.15, 0.60)
    # 260 input tokens x $0.15 per 1M tokens + 5 output tokens x $0.60, for 1M answers.
    assert money.value == pytest.approx(260 * 0.15 + 5 * 0.60)
    assert money.value == pytest.approx(42.0)
    small = cost.price_per_million(0.001, 0.0446)
    factor = cost.cheaper_factor(small, money)
    assert factor.value == pytest.approx(42.0 / (0.001 * 1e6 / 3600 * 0.0446))
    assert factor.value == pytest.approx(3390.1, rel=1e-3)
    assert cost.cheaper_factor(cost.price_per_million(None, 1.0), money).value is None


def test_inference_energy_follows_codecarbon_process_model():
    figure = cost.inference_kwh_per_million(0.001, 0.002, 4.0, 10.0)
    # (4 W x 1 ms CPU + 10 W x 2 ms) = 0.024 J per prediction; 24,000 J per 1M = 0.00667 kWh.
    assert figure.value == pytest.approx(0.024 * 1e6 / 3.6e6)
    assert figure.assumptions["includes_pue"] is False
    assert cost.inference_kwh_per_million(None, 0.002, 4.0, 10.0).value is None


def test_training_estimate_pue_and_co2e():
    train = cost.training_kwh_estimate(3600.0, 2, 4.0, 10.0)
    assert train.value == pytest.approx((2 * 4.0 + 10.0) / 1000)  # 18 W for one hour
    half = cost.training_kwh_estimate(3600.0, 2, 4.0, 10.0, cpu_load=0.5)
    assert half.value == pytest.approx((2 * 4.0 * 0.5 + 10.0) / 1000)
    assert cost.facility_kwh(2.0, 1.56).value == pytest.approx(3.12)
    assert cost.co2e_grams(2.0, 1.56, 471.0).value == pytest.approx(2.0 * 1.56 * 471.0)
    assert cost.co2e_grams(None, 1.56, 471.0).value is None


@pytest.mark.parametrize(
    "bad",
    [
        lambda: cost.price_per_million(-1.0, 0.04),
        lambda: cost.price_per_million(0.001, float("nan")),
        lambda: cost.facility_kwh(1.0, 0.9),
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
    data = cost.co2e_grams(1.0, 1.2, 400).to_dict()
    assert set(data) == {"value", "unit", "method", "assumptions"}
    assert data["unit"] == "gCO2e" and data["value"] == pytest.approx(480.0)


# ---------------------------------------------------------------------- energy


def test_cpu_power_and_grid_data_come_from_codecarbon():
    from slm_core.energy import country_intensities, cpu_power

    power = cpu_power()
    assert power.logical_cpus >= 1 and power.watts_per_thread > 0
    if power.tdp_watts is None:
        assert power.watts_per_thread == cost.CODECARBON_WATTS_PER_THREAD
    grid = country_intensities()
    assert {"USA", "CHN", "DEU"} <= set(grid)
    assert grid["CHN"][0] == "China" and 300 < grid["CHN"][1] < 900


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
    from slm_core.value.inputs import _bench_figures, single_thread_p50

    store, run_id = linear_run
    seen = []
    report = bench_run(store, run_id, config=QUICK, progress=lambda f, m: seen.append(f))
    assert seen[-1] == 1.0 and seen == sorted(seen)
    stored = store.get_result(run_id, "bench")
    assert stored["form"] == "sklearn" and stored["family"] == "linear"
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
    assert "model.joblib" in stored["artifact_files"]
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
    # The Value page reads the same figures.
    figures = _bench_figures(stored)
    assert single_thread_p50(stored) == pytest.approx(stored["latency_ms"]["single_thread"]["p50"])
    assert figures["cpu_seconds_per_prediction"] == stored["cpu_seconds_per_prediction"] > 0
    assert figures["peak_rss_bytes"] == stored["peak_rss_bytes"]
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
