"""Latency statistics on stub callables with known sleeps, and the measuring subprocess.

No timing threshold is asserted beyond sanity: a call that sleeps s seconds takes at least s.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from slm_core.runtime.latency import (
    LatencyConfig,
    measure_predictor,
    summarize,
    throughput,
    time_calls,
)

SLEEP_S = 0.001


def test_summarize_percentiles_of_known_samples():
    stats = summarize([i / 1000 for i in range(1, 101)])  # 1 .. 100 ms
    assert stats.n_calls == 100
    assert stats.p50 == pytest.approx(50.5)
    assert stats.p90 == pytest.approx(90.1)
    assert stats.p99 == pytest.approx(99.01)
    assert stats.min == pytest.approx(1.0) and stats.max == pytest.approx(100.0)
    assert stats.mean == pytest.approx(50.5)
    with pytest.raises(ValueError):
        summarize([])


def test_time_calls_runs_at_least_min_calls_with_ordered_percentiles():
    inputs = ["a", "b", "c"]
    seen = []

    def stub(x):
        seen.append(x)
        time.sleep(SLEEP_S)

    config = LatencyConfig(min_calls=200, min_seconds=0.05, max_seconds=30, warmup_calls=5)
    stats, samples = time_calls(stub, inputs, config)
    assert stats.n_calls == len(samples) >= 200
    assert len(seen) == stats.n_calls + 5  # warm-up calls are not timed
    assert set(seen) == set(inputs)  # cycles through every input
    assert stats.p50 >= SLEEP_S * 1000
    assert stats.min >= SLEEP_S * 1000
    assert stats.min <= stats.p50 <= stats.p90 <= stats.p95 <= stats.p99 <= stats.max


def test_default_config_runs_200_calls_and_2_seconds():
    """The issue's rule: at least 200 calls or 2 s after warm-up (here: both, fast stub)."""
    stats, _ = time_calls(lambda x: time.sleep(SLEEP_S), [1], LatencyConfig())
    assert stats.n_calls >= 200
    assert stats.seconds >= 2.0


def test_slow_calls_stop_at_max_seconds_after_min_seconds():
    config = LatencyConfig(min_calls=200, min_seconds=0.1, max_seconds=0.3, warmup_calls=0)
    stats, _ = time_calls(lambda x: time.sleep(0.02), [1], config)
    assert stats.n_calls < 200  # 200 calls of 20 ms would need 4 s
    assert stats.seconds >= config.min_seconds
    assert stats.p50 >= 20.0


def test_throughput_uses_full_batches_even_with_few_texts():
    sizes = []

    def batch(texts):
        sizes.append(len(texts))
        time.sleep(SLEEP_S)

    result = throughput(batch, ["x", "y", "z"], batch_size=32, seconds=0.05, min_calls=3)
    assert set(sizes) == {32}
    assert result.calls >= 3 and result.batch_size == 32
    assert result.texts_per_second == pytest.approx(32 * result.calls / result.seconds)
    assert result.texts_per_second <= 32 / SLEEP_S  # a call sleeps at least 1 ms


class StubPredictor:
    """Vectorisation sleeps 1 ms and inference 3 ms per call; two classes."""

    classes_ = ["neg", "pos"]
    form = "stub"
    threads = 1

    def vectorize(self, texts):
        time.sleep(SLEEP_S)
        return np.array([[len(t)] for t in texts], dtype=float)

    def infer(self, features):
        time.sleep(3 * SLEEP_S)
        return np.tile([0.25, 0.75], (len(features), 1))

    def predict_proba(self, texts):
        return self.infer(self.vectorize(texts))


def test_measure_predictor_splits_vectorisation_from_inference():
    config = LatencyConfig(min_calls=200, min_seconds=0.05, warmup_calls=3, throughput_seconds=0.05)
    report = measure_predictor(StubPredictor(), ["one text", "two", " "], config, 0.5)
    assert report.latency.n_calls >= 200
    assert report.latency.p50 >= 4 * SLEEP_S * 1000
    assert report.vectorize_ms_mean >= SLEEP_S * 1000
    assert 0 < report.vectorize_share < 1
    assert report.first_call_ms >= 4 * SLEEP_S * 1000
    assert report.load_ms == pytest.approx(500.0)
    assert report.n_texts == 2  # blank texts are not measured
    assert [t.batch_size for t in report.throughput] == [32, 256]
    assert report.cpu_seconds_per_prediction >= 0
    data = json.loads(json.dumps(report.to_dict()))
    assert data["latency_ms"]["p50"] == report.latency.p50
    assert set(data["throughput"]) == {"32", "256"}


# ---------------------------------------------------------- measuring process


def test_measure_in_subprocess_pins_threads_and_reports_memory(fresh_home, topic_texts):
    from slm_core.models.registry import build
    from slm_core.runtime.latency import QUICK
    from slm_core.runtime.measure import measure_in_subprocess
    from slm_core.runtime.serve import load_predictor

    texts, labels = topic_texts
    model = build("tfidf_lr", "quick").fit(texts, labels)
    model_dir = fresh_home / "model"
    model.save(model_dir)
    result = measure_in_subprocess(model_dir, texts, 1, config=QUICK)
    assert result["threads"] == 1 and len(result["cpus"]) == 1
    assert result["form"] == "numpy"  # the compiled form saved beside the model
    assert result["latency_ms"]["n_calls"] >= QUICK.min_calls
    assert result["latency_ms"]["p50"] <= result["latency_ms"]["p99"]
    assert result["load_ms"] > 0 and result["first_call_ms"] > 0
    assert 0 < result["rss_start_bytes"] <= result["rss_loaded_bytes"] <= result["peak_rss_bytes"]
    # Serving needs the compiled form and the metadata, not the scikit-learn pickle.
    assert set(result["artifact_files"]) == {"linear_form.npz", "model.json"}
    assert result["runtime_version"].startswith("numpy")
    # The predictor serves the same answers as the model it was compiled from.
    predictor = load_predictor(model_dir, threads=1)
    assert predictor.predict(texts) == model.predict(texts)
    np.testing.assert_allclose(
        predictor.predict_proba(texts), model.predict_proba(texts), atol=1e-9
    )
    one = predictor.predict_one(texts[0])
    assert one.label == model.predict([texts[0]])[0]
    assert sum(one.probabilities.values()) == pytest.approx(1.0)
