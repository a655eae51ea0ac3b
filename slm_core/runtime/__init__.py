"""Serving and measuring trained models: export, the predictor, latency, benchmark.

Importing this package is cheap (NumPy only): TensorFlow, LiteRT, ONNX Runtime and
scikit-learn load only when a model is exported or served.
"""

from slm_core.runtime.bench import (
    BENCH_KIND,
    PROGRESS_KIND,
    BenchReport,
    background_job,
    bench_run,
    format_bench,
    start_background,
)
from slm_core.runtime.latency import LatencyConfig, LatencyReport, LatencyStats
from slm_core.runtime.record import SettingMeasure
from slm_core.runtime.serve import Prediction, Predictor, load_predictor

__all__ = [
    "BENCH_KIND",
    "PROGRESS_KIND",
    "BenchReport",
    "LatencyConfig",
    "LatencyReport",
    "LatencyStats",
    "Prediction",
    "Predictor",
    "SettingMeasure",
    "background_job",
    "bench_run",
    "format_bench",
    "load_predictor",
    "start_background",
]
