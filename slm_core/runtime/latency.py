"""Latency and throughput statistics of a predictor, measured the way MLPerf's single stream is.

Single-text latency: after a timed first call and a short warm-up, one real text per call,
cycling through the test texts, until at least ``min_calls`` calls and ``min_seconds`` seconds
(stopping at ``max_seconds`` whatever the count); p50/p90/p95/p99 over every call. Each call is
split into vectorisation and inference so the vectorisation share comes from the same calls.
Throughput: texts per second at fixed batch sizes. CPU seconds are the process's own CPU time
(all its threads) over the same calls, the basis of the cost per prediction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

PERCENTILES = (50, 90, 95, 99)


@dataclass(frozen=True)
class LatencyConfig:
    """How long and how often to measure."""

    min_calls: int = 200
    min_seconds: float = 2.0
    max_seconds: float = 10.0
    warmup_calls: int = 10
    batch_sizes: tuple[int, ...] = (32, 256)
    throughput_seconds: float = 1.0
    throughput_min_calls: int = 3

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_calls": self.min_calls,
            "min_seconds": self.min_seconds,
            "max_seconds": self.max_seconds,
            "warmup_calls": self.warmup_calls,
            "batch_sizes": list(self.batch_sizes),
            "throughput_seconds": self.throughput_seconds,
            "throughput_min_calls": self.throughput_min_calls,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LatencyConfig:
        """Read :meth:`to_dict` back (keys this version does not know are left out)."""
        known = {f.name for f in fields(cls)}
        raw = {k: v for k, v in data.items() if k in known}
        if "batch_sizes" in raw:
            raw["batch_sizes"] = tuple(raw["batch_sizes"])
        return cls(**raw)


QUICK = LatencyConfig(min_calls=50, min_seconds=0.3, max_seconds=2.0, throughput_seconds=0.3)


@dataclass(frozen=True)
class LatencyStats:
    """Per-call wall-clock latency in milliseconds over ``n_calls`` calls."""

    n_calls: int
    seconds: float
    mean: float
    p50: float
    p90: float
    p95: float
    p99: float
    min: float
    max: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_calls": self.n_calls,
            "seconds": self.seconds,
            "mean": self.mean,
            "p50": self.p50,
            "p90": self.p90,
            "p95": self.p95,
            "p99": self.p99,
            "min": self.min,
            "max": self.max,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LatencyStats:
        """Read :meth:`to_dict` back; a figure an older stored result lacks is None."""
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})


def summarize(samples_s: Sequence[float], seconds: float | None = None) -> LatencyStats:
    """Latency statistics (ms) of per-call durations given in seconds."""
    if len(samples_s) == 0:
        raise ValueError("No latency samples to summarise.")
    ms = np.asarray(samples_s, dtype=np.float64) * 1000.0
    p50, p90, p95, p99 = (float(v) for v in np.percentile(ms, PERCENTILES))
    return LatencyStats(
        n_calls=len(ms),
        seconds=float(seconds if seconds is not None else ms.sum() / 1000.0),
        mean=float(ms.mean()),
        p50=p50,
        p90=p90,
        p95=p95,
        p99=p99,
        min=float(ms.min()),
        max=float(ms.max()),
    )


def time_calls(
    fn: Callable[[Any], Any], inputs: Sequence[Any], config: LatencyConfig = LatencyConfig()
) -> tuple[LatencyStats, list[float]]:
    """Call ``fn(x)`` cycling over ``inputs`` after warm-up; statistics and raw seconds.

    Runs until ``min_calls`` calls and ``min_seconds`` have both passed, or ``max_seconds``.
    """
    if len(inputs) == 0:
        raise ValueError("time_calls needs at least one input.")
    for i in range(config.warmup_calls):
        fn(inputs[i % len(inputs)])
    samples: list[float] = []
    clock = time.perf_counter
    started = clock()
    i = 0
    while True:
        x = inputs[i % len(inputs)]
        t0 = clock()
        fn(x)
        t1 = clock()
        samples.append(t1 - t0)
        i += 1
        elapsed = t1 - started
        if (i >= config.min_calls and elapsed >= config.min_seconds) or (
            elapsed >= config.max_seconds
        ):
            break
    return summarize(samples, clock() - started), samples


@dataclass(frozen=True)
class Throughput:
    """Texts per second when predicting ``batch_size`` texts per call."""

    batch_size: int
    texts_per_second: float
    calls: int
    seconds: float
    cpu_seconds_per_text: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch_size": self.batch_size,
            "texts_per_second": self.texts_per_second,
            "calls": self.calls,
            "seconds": self.seconds,
            "cpu_seconds_per_text": self.cpu_seconds_per_text,
        }

    @classmethod
    def from_dict(cls, batch_size: int | str, data: Any) -> Throughput:
        """Read :meth:`to_dict` back; older results stored only texts per second (a number),
        and a figure they lack is None."""
        if not isinstance(data, Mapping):
            data = {"texts_per_second": data}
        size = data.get("batch_size")
        values = {f.name: data.get(f.name) for f in fields(cls)}
        return cls(**{**values, "batch_size": int(batch_size) if size is None else size})


def throughput(
    predict_batch: Callable[[list[str]], Any],
    texts: Sequence[str],
    batch_size: int,
    seconds: float = 1.0,
    min_calls: int = 3,
) -> Throughput:
    """Texts/s of ``predict_batch`` on batches of real texts (repeated if too few)."""
    if len(texts) == 0:
        raise ValueError("throughput needs at least one text.")
    reps = -(-batch_size // len(texts))
    pool = (list(texts) * reps)[: max(batch_size, len(texts))]
    batches = [pool[i : i + batch_size] for i in range(0, len(pool) - batch_size + 1, batch_size)]
    predict_batch(batches[0])  # warm-up: the first call of a new shape allocates
    calls = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while True:
        predict_batch(batches[calls % len(batches)])
        calls += 1
        elapsed = time.perf_counter() - wall0
        if calls >= min_calls and elapsed >= seconds:
            break
    cpu = time.process_time() - cpu0
    n = calls * batch_size
    return Throughput(batch_size, n / elapsed, calls, elapsed, cpu / n)


@dataclass(frozen=True)
class LatencyReport:
    """Everything measured about serving one model in one process with ``threads`` threads."""

    threads: int
    form: str
    load_ms: float | None
    first_call_ms: float
    latency: LatencyStats
    vectorize_ms_mean: float
    vectorize_share: float
    cpu_seconds_per_prediction: float
    throughput: tuple[Throughput, ...]
    n_texts: int
    config: LatencyConfig

    def to_dict(self) -> dict[str, Any]:
        return timing_dict(self)


def timing_dict(m: Any) -> dict[str, Any]:
    """The JSON of what a timing measured: of a :class:`LatencyReport`, and the first keys of
    the stored per-setting record that adds the process's own figures to it
    (:class:`~slm_core.runtime.record.SettingMeasure`)."""
    return {
        "threads": m.threads,
        "form": m.form,
        "load_ms": m.load_ms,
        "first_call_ms": m.first_call_ms,
        "latency_ms": None if m.latency is None else m.latency.to_dict(),
        "vectorize_ms_mean": m.vectorize_ms_mean,
        "vectorize_share": m.vectorize_share,
        "cpu_seconds_per_prediction": m.cpu_seconds_per_prediction,
        "throughput": {str(t.batch_size): t.to_dict() for t in m.throughput},
        "n_texts": m.n_texts,
        "config": None if m.config is None else m.config.to_dict(),
    }


def measure_predictor(
    predictor,
    texts: Sequence[str],
    config: LatencyConfig = LatencyConfig(),
    load_seconds: float | None = None,
) -> LatencyReport:
    """Time a predictor's single-text path (raw text -> label + probabilities) and throughput.

    ``predictor`` needs ``vectorize(texts)``, ``infer(features)``, ``predict_proba(texts)``,
    ``classes_``, ``form`` and ``threads`` (a :class:`~slm_core.runtime.serve.Predictor`).
    """
    texts = [str(t) for t in texts if str(t).strip()] or ["?"]
    classes = list(predictor.classes_)
    vectorize, infer = predictor.vectorize, predictor.infer
    vec_seconds: list[float] = []
    clock = time.perf_counter

    def one(text: str) -> tuple[str, dict[str, float]]:
        t0 = clock()
        features = vectorize([text])
        vec_seconds.append(clock() - t0)
        row = infer(features)[0]
        return classes[int(row.argmax())], dict(zip(classes, row.tolist(), strict=True))

    t0 = clock()
    one(texts[0])
    first_call = clock() - t0
    for i in range(config.warmup_calls):
        one(texts[i % len(texts)])
    vec_seconds.clear()
    cpu0 = time.process_time()
    stats, _samples = time_calls(one, texts, replace(config, warmup_calls=0))
    cpu = time.process_time() - cpu0
    timed = vec_seconds
    total_s = stats.mean * stats.n_calls / 1000.0
    vec_total = float(np.sum(timed))
    rates = tuple(
        throughput(
            predictor.predict_proba,
            texts,
            size,
            config.throughput_seconds,
            config.throughput_min_calls,
        )
        for size in config.batch_sizes
    )
    return LatencyReport(
        threads=int(predictor.threads),
        form=str(predictor.form),
        load_ms=None if load_seconds is None else load_seconds * 1000.0,
        first_call_ms=first_call * 1000.0,
        latency=stats,
        vectorize_ms_mean=vec_total / max(len(timed), 1) * 1000.0,
        vectorize_share=vec_total / total_s if total_s > 0 else 0.0,
        cpu_seconds_per_prediction=cpu / stats.n_calls,
        throughput=rates,
        n_texts=len(texts),
        config=config,
    )
