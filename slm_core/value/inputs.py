"""What was measured per finished run of a dataset, gathered from the run store for scoring.

Robustness and faithfulness need the model, so they are computed once and cached in the store
as the run's 'robustness' / 'faithfulness' results.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from slm_core.errors import NotFoundError, SlmError
from slm_core.value.business import TextLengths, ThresholdTable, text_lengths, threshold_table
from slm_core.value.robustness import (
    ROBUSTNESS_KIND,
    ROBUSTNESS_VERSION,
    NoiseConfig,
    robustness_check,
)
from slm_core.value.social import SocialInputs, fairness

log = logging.getLogger(__name__)


BENCH_KIND = "bench"
FAITHFULNESS_KIND = "faithfulness"
FAITHFULNESS_VERSION = 1
# Faithfulness blanks tokens and re-predicts; neural models pay per variant, so fewer texts.
FAITHFULNESS_TEXTS = {"linear": 100, "neural": 30}
NOISE_SEED = 0


@dataclass(frozen=True)
class RunInputs:
    """Everything measured about one finished run that the value figures use."""

    run_id: int
    model_id: str
    label: str
    family: str
    table: ThresholdTable
    cpu_seconds_per_prediction: float | None
    cpu_source: str  # "bench", "fallback" or "not_measured"
    social: SocialInputs
    accuracy: float | None = None
    bench: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "model_id": self.model_id,
            "label": self.label,
            "family": self.family,
            "accuracy": self.accuracy,
            "cpu_seconds_per_prediction": self.cpu_seconds_per_prediction,
            "cpu_source": self.cpu_source,
            "bench": self.bench,
            "n_test": self.table.n_test,
            "classes": list(self.table.classes),
            "social": self.social.to_dict(),
        }


@dataclass(frozen=True)
class DatasetInputs:
    """The measured inputs of all finished runs of one dataset."""

    dataset_id: str
    dataset_name: str
    script: str
    token_unit: str
    lengths: TextLengths
    classes: tuple[str, ...]
    prior: tuple[float, ...]
    runs: tuple[RunInputs, ...]
    skipped: tuple[tuple[int, str], ...] = ()
    has_groups: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_id": self.dataset_id,
            "dataset_name": self.dataset_name,
            "script": self.script,
            "token_unit": self.token_unit,
            "text_lengths": self.lengths.to_dict(),
            "classes": list(self.classes),
            "class_prior": list(self.prior),
            "has_groups": self.has_groups,
            "runs": [r.to_dict() for r in self.runs],
            "skipped": [list(s) for s in self.skipped],
        }


def run_label(run_id: int, model_id: str) -> str:
    """A short column name for a run, e.g. '#3 tfidf_lr'."""
    return f"#{run_id} {model_id}"


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) else None


def single_thread_p50(bench: Mapping[str, Any] | None) -> float | None:
    """Single-thread p50 latency (ms) from a bench result, whichever way it nests it."""
    if not bench:
        return None
    latency = bench.get("latency_ms") or {}
    if isinstance(latency, Mapping):
        for key in ("single_thread", "1_thread", "threads_1", "one_thread", "1", "single"):
            block = latency.get(key)
            if isinstance(block, Mapping) and block.get("p50") is not None:
                return _num(block["p50"])
        if latency.get("p50") is not None and str(bench.get("threads", "")) == "1":
            return _num(latency["p50"])
    block = bench.get("single_thread")
    if isinstance(block, Mapping):
        return single_thread_p50({**block, "threads": 1})
    return None


def _bench_figures(bench: Mapping[str, Any] | None) -> dict[str, float | None]:
    bench = bench or {}
    single = bench.get("single_thread") if isinstance(bench.get("single_thread"), Mapping) else {}

    def pick(key: str) -> float | None:
        return _num(bench.get(key, single.get(key)))

    return {
        "cpu_seconds_per_prediction": pick("cpu_seconds_per_prediction"),
        "artifact_bytes": pick("artifact_bytes"),
        "peak_rss_bytes": pick("peak_rss_bytes"),
        "energy_kwh_per_million": pick("energy_kwh_per_million"),
        "train_energy_kwh": pick("train_energy_kwh"),
        "latency_p50_ms": single_thread_p50(bench),
    }


def _load_model(store, run_id: int):
    from slm_core.models.registry import load_model

    return load_model(store.artifact_dir(run_id) / "model")


def _robustness(store, run, preds, model_loader) -> tuple[dict | None, str | None]:
    """The run's cached robustness result, computed once with its model if missing."""
    config = NoiseConfig()
    cached = store.get_result(run.id, ROBUSTNESS_KIND)
    if (
        cached
        and cached.get("version") == ROBUSTNESS_VERSION
        and cached.get("seed") == NOISE_SEED
        and cached.get("config") == config.to_dict()
    ):
        return cached, None
    if model_loader is None:
        return None, "value.note.robustness_missing"
    try:
        model = model_loader()
    except (SlmError, ImportError, OSError) as exc:
        log.warning("run %s: cannot load the model for robustness: %s", run.id, exc)
        return None, "value.note.model_unavailable"
    result = robustness_check(model, preds.texts, preds.y_true, config, seed=NOISE_SEED)
    data = result.to_dict()
    store.put_result(run.id, ROBUSTNESS_KIND, data)
    return data, None


def _faithfulness(store, run, preds, family, token_unit, model_loader):
    """(result, method, note): explain.faithfulness on a sample of test texts, cached."""
    method = "linear" if family == "linear" else "occlusion"
    try:
        from slm_core import explain
    except ImportError:
        return None, None, "value.note.explain_module_missing"
    cached = store.get_result(run.id, FAITHFULNESS_KIND)
    if (
        cached
        and cached.get("gain") is not None
        and cached.get("value_version") == FAITHFULNESS_VERSION
    ):
        return cached, cached.get("method", method), None
    if model_loader is None:
        return None, method, "value.note.explain_missing"
    try:
        model = model_loader()
    except (SlmError, ImportError, OSError):
        return None, method, "value.note.model_unavailable"
    limit = FAITHFULNESS_TEXTS.get(family, 30)
    texts = [t for t in preds.texts if t.strip()][:limit]
    result = dict(explain.faithfulness(model, texts, k=3, seed=0, token_unit=token_unit))
    result["value_version"] = FAITHFULNESS_VERSION
    store.put_result(run.id, FAITHFULNESS_KIND, result)
    return result, result.get("method", method), None


def _card(store, run, dataset, bench, robustness, faith) -> dict[str, bool]:
    """Which model-card items the stored data can fill for this run."""
    from slm_core.models.registry import MODEL_IDS

    m = run.metrics or {}
    card = store.get_result(run.id, "model_card") or {}
    return {
        "description": run.model_id in MODEL_IDS,
        "training_data": bool(dataset.report.get("classes")) and dataset.rows > 0,
        "split": "split_sizes" in m and "split_seed" in m,
        "parameters": bool(run.params) or bool(run.preset),
        "test_metrics": "accuracy" in m and "macro_f1" in m,
        "baseline": "majority_rate" in m,
        "evaluation_ci": store.get_result(run.id, "evaluation") is not None,
        "size_and_time": m.get("model_size_bytes") is not None and run.train_seconds is not None,
        "cost_measured": bench is not None,
        "robustness": robustness is not None,
        "explanation": faith is not None and faith.get("gain") is not None,
        "intended_use": bool(card.get("intended_use")),
    }


def _model_token_unit(store, run) -> str | None:
    try:
        from slm_core.models.registry import read_meta

        return read_meta(store.artifact_dir(run.id) / "model").get("token_unit")
    except (SlmError, OSError, ValueError):
        return None


def collect_inputs(store, dataset_id: str, *, measure: bool = True, progress=None) -> DatasetInputs:
    """Gather the measured inputs of every finished run of ``dataset_id``.

    With ``measure``, robustness and faithfulness missing from the store are computed now (the
    model is loaded once per run) and stored; without it they stay 'not measured'.
    ``progress(i, n, label)`` is called before each run.
    """
    from slm_core.models.registry import LINEAR_IDS
    from slm_core.train import load_test_predictions

    dataset = store.get_dataset(dataset_id)
    report = dataset.report or {}
    frame = store.load_frame(dataset_id)
    lengths = text_lengths(frame["text"].astype(str).tolist())
    counts = report.get("classes") or frame["label"].astype(str).value_counts().to_dict()
    classes = tuple(str(c) for c in counts)
    total = sum(counts.values()) or 1
    prior = tuple(float(counts[c]) / total for c in counts)
    script = report.get("script", "latin")
    token_unit = report.get("token_unit", "word")
    feedback = store.feedback_summary(dataset_id)
    runs = sorted(
        store.list_runs(dataset_id=dataset_id, statuses=("succeeded",)), key=lambda r: r.id
    )
    out: list[RunInputs] = []
    skipped: list[tuple[int, str]] = []
    has_groups = False
    for i, run in enumerate(runs):
        label = run_label(run.id, run.model_id)
        if progress is not None:
            progress(i, len(runs), label)
        try:
            preds = load_test_predictions(store, run.id)
        except NotFoundError as exc:
            skipped.append((run.id, str(exc)))
            continue
        family = "linear" if run.model_id in LINEAR_IDS else "neural"
        loaded: dict[str, Any] = {}

        def loader(run_id: int = run.id, loaded: dict = loaded):
            if "model" not in loaded:
                loaded["model"] = _load_model(store, run_id)
            return loaded["model"]

        model_loader = loader if measure else None
        bench = store.get_result(run.id, BENCH_KIND)
        figures = _bench_figures(bench)
        robustness, rob_note = _robustness(store, run, preds, model_loader)
        model_unit = _model_token_unit(store, run) or token_unit
        faith, method, explain_note = _faithfulness(
            store, run, preds, family, model_unit, model_loader
        )
        loaded.clear()
        cpu = figures["cpu_seconds_per_prediction"]
        cpu_source = "bench" if cpu is not None else "not_measured"
        if cpu is None and robustness and robustness.get("cpu_seconds_per_prediction"):
            cpu, cpu_source = float(robustness["cpu_seconds_per_prediction"]), "fallback"
        size = figures["artifact_bytes"]
        size_source = "bench" if size is not None else None
        if size is None and (run.metrics or {}).get("model_size_bytes") is not None:
            size, size_source = float(run.metrics["model_size_bytes"]), "training"
        metrics = run.metrics or {}
        train_energy = figures["train_energy_kwh"]
        train_energy_source = "bench" if train_energy is not None else None
        if train_energy is None and _num(metrics.get("train_energy_kwh")) is not None:
            train_energy, train_energy_source = float(metrics["train_energy_kwh"]), "training"
        has_groups = has_groups or preds.groups is not None
        fb = feedback.get(run.id, {})
        social = SocialInputs(
            run_id=run.id,
            family=family,
            size_bytes=int(size) if size is not None else None,
            size_source=size_source,
            peak_rss_bytes=int(figures["peak_rss_bytes"]) if figures["peak_rss_bytes"] else None,
            latency_p50_ms=figures["latency_p50_ms"],
            latency_source="bench" if figures["latency_p50_ms"] is not None else None,
            cpu_seconds_per_prediction=cpu,
            cpu_source=cpu_source,
            energy_kwh_per_million=figures["energy_kwh_per_million"],
            train_energy_kwh=train_energy,
            train_energy_source=train_energy_source,
            train_seconds=run.train_seconds,
            # Linear models train on one thread; Keras uses every core.
            train_threads=1 if family == "linear" else (os.cpu_count() or 1),
            script=script,
            dataset_token_unit=token_unit,
            model_token_unit=model_unit,
            fairness=fairness(preds.y_true, preds.y_pred, preds.groups),
            robustness=robustness,
            robustness_note=rob_note,
            faithfulness=faith,
            explain_method=method,
            explain_note=explain_note,
            card=_card(store, run, dataset, bench, robustness, faith),
            feedback_rated=int(fb.get("rated", 0)),
            feedback_right=int(fb.get("right", 0)),
        )
        out.append(
            RunInputs(
                run_id=run.id,
                model_id=run.model_id,
                label=label,
                family=family,
                table=threshold_table(preds.y_true, preds.proba, preds.classes),
                cpu_seconds_per_prediction=cpu,
                cpu_source=cpu_source,
                social=social,
                accuracy=_num(metrics.get("accuracy")),
                bench=bench,
            )
        )
    return DatasetInputs(
        dataset_id=dataset.id,
        dataset_name=dataset.name,
        script=script,
        token_unit=token_unit,
        lengths=lengths,
        classes=classes,
        prior=prior,
        runs=tuple(out),
        skipped=tuple(skipped),
        has_groups=has_groups,
    )
