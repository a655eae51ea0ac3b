"""Synthetic runs for the value tests: calibrated classifiers, hand-made serving figures.

A calibrated model's top-class confidence equals its chance of being right, so a threshold
chosen on one sample earns on another what it earned there — the property the value figures'
honesty rests on.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from slm_core.evaluate import accuracy_interval
from slm_core.value.inputs import DatasetInputs, RunInputs
from slm_core.value.payoff import SplitScores, split_scores
from slm_core.value.serving import ServingMeasure, TextLengths

CLASSES = ("a", "b", "c", "d")

# One benchmarked served model: 1 ms a text, 2 MB, 150 MB serving process (40 MB above Python).
FAST = ServingMeasure(
    cpu_seconds=0.001,
    wall_seconds=0.001,
    batch_seconds=0.0002,
    batch_cpu_seconds=0.0002,
    load_seconds=0.5,
    first_call_seconds=0.01,
    p50_ms=1.0,
    artifact_mb=2.0,
    peak_rss_mb=150.0,
    model_memory_mb=40.0,
    source="bench",
)


def calibrated(
    n: int, rng: np.random.Generator, *, sharpness: float = 1.0, classes=CLASSES
) -> tuple[list[str], np.ndarray]:
    """Labels and probabilities of a calibrated k-class model (uniform classes).

    Each text's top confidence is drawn between chance and 1 (higher ``sharpness``: more
    confident); the model is right with exactly that probability.
    """
    k = len(classes)
    y = rng.integers(0, k, n)
    conf = 1.0 / k + (1.0 - 1.0 / k) * rng.random(n) ** (1.0 / sharpness)
    right = rng.random(n) < conf
    pred = np.where(right, y, (y + rng.integers(1, k, n)) % k)
    proba = np.repeat(((1.0 - conf) / (k - 1))[:, None], k, axis=1)
    proba[np.arange(n), pred] = conf
    return [classes[i] for i in y], proba


def constant(n: int, rng: np.random.Generator, classes=CLASSES) -> tuple[list[str], np.ndarray]:
    """A model that ignores its input: always the same probabilities (the first class top)."""
    k = len(classes)
    y = rng.integers(0, k, n)
    proba = np.tile(np.linspace(0.4, 0.1, k) / np.linspace(0.4, 0.1, k).sum(), (n, 1))
    return [classes[i] for i in y], proba


def scores(split: str, y, proba, classes=CLASSES) -> SplitScores:
    return split_scores(split, y, proba, classes, {c: 1.0 / len(classes) for c in classes})


def faith(gain: float, full: float, chance: float = 1.0 / len(CLASSES)) -> dict:
    """A stored ERASER faithfulness result (what ``explain.Faithfulness.to_dict`` writes);
    a model that ignores its input gains nothing over random tokens (interval around 0)."""
    return {
        "method": "linear",
        "n_texts": 100,
        "comprehensiveness": 0.3,
        "random_comprehensiveness": 0.3 - gain,
        "sufficiency": 0.05,
        "random_sufficiency": 0.2,
        "comprehensiveness_gain": gain,
        "comprehensiveness_gain_ci": [gain - 0.02, gain + 0.02],
        "level": 0.95,
        "full_confidence": full,
        "chance": chance,
    }


def run(
    run_id: int,
    model_id: str = "tfidf_lr",
    *,
    n_test: int = 400,
    n_val: int = 400,
    sharpness: float = 1.0,
    seed: int = 0,
    serving: ServingMeasure = FAST,
    family: str = "linear",
    model=calibrated,
    robustness: dict | None = None,
    faithfulness: dict | None = None,
) -> RunInputs:
    rng = np.random.default_rng(seed)
    kwargs = {"sharpness": sharpness} if model is calibrated else {}
    test = scores("test", *model(n_test, rng, **kwargs))
    val = scores("validation", *model(n_val, rng, **kwargs))
    ci = accuracy_interval(test.true_idx, test.pred_idx)
    accuracy = float(test.correct.mean())
    chance = test.majority_rate()
    return RunInputs(
        run_id=run_id,
        model_id=model_id,
        label=f"#{run_id} {model_id}",
        family=family,
        test=test,
        val=val,
        val_source="stored",
        accuracy=accuracy,
        accuracy_ci=(float(ci[0]), float(ci[1])),
        majority_rate=chance,
        serving=serving,
        robustness=robustness
        or {
            "clean_accuracy": accuracy,
            # each run keeps a different share of what it achieves above chance under noise
            "noisy_accuracy": chance + (0.5 + 0.1 * (run_id % 5)) * (accuracy - chance),
            "chance": chance,
            "config": {},
        },
        faithfulness=faithfulness
        or faith(
            0.0 if model is constant else 0.05 * (run_id % 5 + 1), float(test.confidence.mean())
        ),
        card_written=run_id % 2 == 0,
    )


def dataset(runs, *, mean_chars: float = 400.0, script: str = "latin") -> DatasetInputs:
    first = runs[0].test
    return DatasetInputs(
        dataset_id="d1",
        dataset_name="synthetic",
        script=script,
        token_unit="word",
        lengths=TextLengths(0.0, mean_chars, 1000),
        classes=CLASSES,
        prior=(1.0 / len(CLASSES),) * len(CLASSES),
        runs=tuple(runs),
        reference_test=tuple(first.classes[i] for i in first.true_idx),
    )


def five_models(seed: int = 0) -> DatasetInputs:
    """Five served models of different quality and cost, as on a 1,000-row upload."""
    slow = replace(FAST, wall_seconds=0.02, cpu_seconds=0.02, p50_ms=20.0, artifact_mb=40.0)
    return dataset(
        [
            run(1, "tfidf_lr", n_test=150, n_val=150, sharpness=2.0, seed=seed + 1),
            run(2, "tfidf_svm", n_test=150, n_val=150, sharpness=1.5, seed=seed + 2),
            run(
                3,
                "lstm",
                n_test=150,
                n_val=150,
                sharpness=1.0,
                seed=seed + 3,
                serving=slow,
                family="neural",
            ),
            run(
                4,
                "cnn",
                n_test=150,
                n_val=150,
                sharpness=3.0,
                seed=seed + 4,
                serving=slow,
                family="neural",
            ),
            run(5, "nb", n_test=150, n_val=150, sharpness=0.7, seed=seed + 5),
        ]
    )
