"""Serving costs by hand in every mode, and how the mode decides against the hosted API."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from slm_core.value.assumptions import Assumptions
from slm_core.value.serving import (
    HOURS_PER_YEAR,
    ServingMeasure,
    TextLengths,
    api_cost,
    money_summary,
    peak_rate,
    serving_cost,
    serving_modes,
)
from tests.value_fixtures import FAST

LENGTHS_400 = TextLengths(0.0, 400.0, 10)


def test_peak_rate_from_volume_hours_and_peak_factor():
    a = Assumptions(business_days_per_year=250, business_hours_per_day=10, peak_factor=3)
    assert peak_rate(a, 9_000_000) == pytest.approx(3.0)  # 1 text/s on average, 3 at peak


def test_always_on_one_server_by_hand():
    a = Assumptions()  # 200,000 texts/yr, 2 vCPU at $0.0446 per vCPU-hour
    c = serving_cost(FAST, a, "always_on")
    assert c.instances == 1
    assert c.yearly_cost == pytest.approx(2 * 0.0446 * HOURS_PER_YEAR)  # $781.4
    assert c.per_million == pytest.approx(c.yearly_cost / 200_000 * 1e6)  # ≈ $3,907 per 1M
    assert c.capacity_per_instance == pytest.approx(2 * 0.5 / 0.001)
    assert c.kind == "modelled" and c.feasible


def test_always_on_adds_instances_at_peak_and_honours_the_minimum():
    slow = replace(FAST, wall_seconds=0.1)  # 10 texts/s per instance at 50% utilisation
    a = Assumptions(annual_volume=50_000_000.0)  # 16.7 texts/s at peak
    assert serving_cost(slow, a, "always_on").instances == 2
    assert serving_cost(FAST, replace(a, min_instances=3), "always_on").instances == 3
    high = serving_cost(slow, replace(a, target_utilisation=1.0), "always_on")
    assert high.instances == 1  # 16.7 texts/s fit one instance run at 100%
    assert serving_cost(slow, replace(a, annual_volume=1_000_000.0), "always_on").instances == 1


def test_idle_servers_count_in_the_energy():
    a = Assumptions(pue=1.0)
    c = serving_cost(FAST, a, "always_on")
    idle_w = 2 * 4.0 * 0.5 + 10.0  # vCPUs × W × idle share + RAM
    busy_kwh = 200_000 * 0.001 * 4.0 * 0.5 / 3600 / 1000
    assert c.yearly_kwh == pytest.approx(idle_w * HOURS_PER_YEAR / 1000 + busy_kwh)
    # 158 kWh a year for 200,000 texts: ≈ 0.8 Wh a text, more than a hosted LLM's 0.24 Wh
    assert c.wh_per_text > Assumptions().llm_wh_per_query


def test_serverless_by_hand():
    a = Assumptions()
    c = serving_cost(FAST, a, "serverless")
    billed = 0.001 + 0.01 * (0.5 + 0.01)  # 1 ms rounded up + cold-start share × (load + first)
    memory_gb = 192 / 1024  # 150 MB rounded up to 64 MB steps
    per_request = 0.20 / 1e6 + memory_gb * billed * 0.0000166667
    assert c.details["billed_seconds_per_text"] == pytest.approx(billed)
    assert c.details["memory_mb"] == 192
    assert c.yearly_cost == pytest.approx(200_000 * per_request)


def test_batch_by_hand_with_the_minimum_billed_time():
    a = Assumptions()
    c = serving_cost(FAST, a, "batch")
    # per nightly run: 548 texts × 0.2 ms ÷ 2 vCPUs + 0.5 s load < 60 s minimum
    assert c.details["billed_seconds_per_run"] == pytest.approx(60.0)
    assert c.yearly_cost == pytest.approx(365 * 60 / 3600 * 2 * 0.0446)
    big = serving_cost(FAST, replace(a, annual_volume=1e9), "batch")
    work = 1e9 / 365 * 0.0002 / 2 + 0.5
    assert big.details["billed_seconds_per_run"] == pytest.approx(work)


def test_device_costs_no_server_but_must_fit_the_budgets():
    a = Assumptions()
    c = serving_cost(FAST, a, "device")
    assert c.yearly_cost == 0.0 and c.feasible  # 2 MB on disk, 40 MB above Python
    assert c.yearly_kwh == pytest.approx(200_000 * 0.001 * 4.0 / 3600 / 1000)
    big = serving_cost(replace(FAST, model_memory_mb=150.0), a, "device")
    assert not big.feasible and big.note == "value.note.device_too_big"
    assert not serving_cost(replace(FAST, artifact_mb=40.0), a, "device").feasible
    # Unmeasured (or priced from the batch-CPU fallback): whether it fits is not known.
    guess = ServingMeasure().with_fallback(0.002, 3e6)
    unknown = serving_cost(guess, a, "device")
    assert not unknown.feasible and unknown.note == "value.note.device_unmeasured"


def test_unmeasured_serving_says_so_instead_of_a_number():
    c = serving_cost(ServingMeasure(), Assumptions(), "always_on")
    assert c.yearly_cost is None and c.kind == "not_measured"
    assert c.note == "value.note.serving_missing"
    fallback = ServingMeasure().with_fallback(0.002, 3e6)
    assert fallback.source == "fallback" and fallback.artifact_mb == pytest.approx(3.0)
    priced = serving_cost(fallback, Assumptions(), "always_on")
    assert priced.yearly_cost is not None and priced.note == "value.note.serving_fallback"


def test_the_serving_mode_decides_against_the_api():
    """At 200,000 texts a year one always-on server costs more per text than the API; at
    50,000,000 the same server is far cheaper."""
    a = Assumptions()
    api = api_cost(LENGTHS_400, a)
    assert api.per_million == pytest.approx((150 + 400 * 0.25) * 0.15 + 5 * 0.60)  # $40.5
    assert serving_cost(FAST, a, "always_on").per_million > 10 * api.per_million
    big = replace(a, annual_volume=50_000_000.0)
    assert serving_cost(FAST, big, "always_on").per_million < api_cost(LENGTHS_400, big).per_million


def test_bench_json_money_block_has_every_mode_and_the_method():
    bench = {
        "cpu_seconds_per_prediction": 0.001,
        "cpu_seconds_per_prediction_batch": 0.0002,
        "artifact_bytes": 2e6,
        "peak_rss_bytes": 150e6,
        "settings": {
            "single_thread": {
                "peak_rss_bytes": 150e6,
                "rss_start_bytes": 110e6,
                "latency_ms": {"p50": 1.0, "mean": 1.0},
                "throughput": {"256": {"texts_per_second": 5000.0}},
                "load_ms": 500.0,
                "first_call_ms": 10.0,
            }
        },
    }
    m = ServingMeasure.from_bench(bench)
    assert (m.wall_seconds, m.batch_seconds, m.load_seconds) == (0.001, 0.0002, 0.5)
    assert m.model_memory_mb == pytest.approx(40.0)
    money = money_summary(bench, Assumptions())
    assert set(money["modes"]) == {"device", "always_on", "serverless", "batch"}
    assert money["serving_mode"] == "always_on" and money["kind"] == "modelled"
    assert money["modes"]["device"]["feasible"] is True
    assert money["chosen"]["yearly_cost"] == pytest.approx(2 * 0.0446 * HOURS_PER_YEAR)
    assert math.isclose(
        money["modes"]["always_on"]["per_million"],
        serving_modes(m, Assumptions())["always_on"].per_million,
    )
