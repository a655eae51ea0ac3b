"""The pretrained benchmark (bench/pretrained_bench.py): its verdict on issue 15's goal (the mean
accuracy over seeds decides; the median, the paired gap and the seeds won are reported beside it,
each able to fail) and ``--resume``, which measures only what a stored run lacks."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "pretrained_bench.py"


@pytest.fixture(scope="module")
def bench():
    path = list(sys.path)  # the script puts bench/ first; no other test should see that
    try:
        spec = importlib.util.spec_from_file_location("pretrained_bench_under_test", BENCH)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = path
    return module


def _cells(per_seed: dict[str, list[float]]) -> dict:
    seeds = len(next(iter(per_seed.values())))
    return {
        "tweets": {
            "1000": {
                str(i + 1): {
                    "n_train": 700,
                    "majority": 0.43,
                    "models": {
                        m: {"accuracy": accs[i], "macro_f1": accs[i], "fit_seconds": 1.0}
                        for m, accs in per_seed.items()
                    },
                }
                for i in range(seeds)
            }
        }
    }


def test_ahead_on_the_mean_behind_on_the_median_is_reported_as_both(bench):
    row = bench.summarise(
        _cells(
            {
                "cnn": [0.72, 0.63, 0.72],
                "lstm": [0.60, 0.60, 0.60],
                "minilm_head": [0.81, 0.71, 0.71],
            }
        )  # fmt: skip
    )["tweets"]["1000"]
    assert row["minilm_ahead_of_keras"] is True  # mean 0.743 against 0.690
    assert row["minilm_ahead_on_median"] is False  # 0.71 against 0.72
    gap = row["minilm_gap_to_closest_keras"]
    assert gap["model"] == "cnn" and math.isclose(gap["gap"], (0.09 + 0.08 - 0.01) / 3)
    assert gap["sem"] > 0 and gap["seeds"] == 3
    assert row["minilm_wins_seeds"] == 2
    text = bench.markdown(
        {
            "machine": "m",
            "created": "c",
            "seeds": [1, 2, 3],
            "throughput": {},
            "table": {"tweets": {"1000": row}},
        }  # fmt: skip
    )
    assert "(mean accuracy): **yes** (on the median: no)" in text
    assert "paired gap to the closest (cnn) +5.3 ±" in text and "**met**" in text


def test_behind_a_keras_model_on_the_mean_misses_the_goal(bench):
    row = bench.summarise(_cells({"cnn": [0.70, 0.70], "minilm_head": [0.72, 0.66]}))["tweets"][
        "1000"
    ]
    assert row["minilm_ahead_of_keras"] is False
    assert row["minilm_gap_to_closest_keras"]["gap"] < 0
    text = bench.markdown(
        {
            "machine": "m",
            "created": "c",
            "seeds": [1, 2],
            "throughput": {},
            "table": {"tweets": {"1000": row}},
        }  # fmt: skip
    )
    assert "**missed**" in text


def test_a_single_seed_or_no_common_seed_gives_no_error_bar_and_no_crash(bench):
    one = bench.summarise(_cells({"cnn": [0.70], "minilm_head": [0.75]}))["tweets"]["1000"]
    assert one["minilm_gap_to_closest_keras"]["sem"] is None
    text = bench.markdown(
        {
            "machine": "m",
            "created": "c",
            "seeds": [1],
            "throughput": {},
            "table": {"tweets": {"1000": one}},
        }  # fmt: skip
    )
    assert "(cnn) +5.0 points" in text and "nan" not in text
    cells = _cells({"cnn": [0.70, 0.60], "minilm_head": [0.75, 0.65]})
    del cells["tweets"]["1000"]["1"]["models"]["minilm_head"]["accuracy"]
    del cells["tweets"]["1000"]["2"]["models"]["cnn"]["accuracy"]
    apart = bench.summarise(cells)["tweets"]["1000"]
    assert apart["minilm_gap_to_closest_keras"] is None


def test_resume_measures_only_what_the_stored_run_lacks_or_measured_otherwise(
    bench, tmp_path, monkeypatch
):
    from slm_core.models.registry import resolve_params

    def result(model_id: str, params: dict | None = None) -> dict:
        wanted = resolve_params(model_id, "balanced", None, 700)
        return {"accuracy": 0.7, "macro_f1": 0.7, "fit_seconds": 1.0, "params": params or wanted}

    models = ["tfidf_lr", "minilm_head"]
    complete = {"n_train": 700, "majority": 0.4, "models": {m: result(m) for m in models}}
    stale = json.loads(json.dumps(complete))
    stale["models"]["minilm_head"]["params"]["pooled_layers"] = 1  # measured before the change
    partial = {"n_train": 700, "majority": 0.4, "models": {"tfidf_lr": result("tfidf_lr")}}
    stored = {
        "benchmark": "pretrained", "seeds": [1, 2, 3], "full_seeds": [1], "machine": "m",
        "created": "before", "table": {},
        "throughput": {"1": {"encoder_texts_per_s": 9.0, "tfidf_lr_texts_per_s": 99.0,
                             "ratio": 11.0, "pooled_layers": bench._head_layers()}},
        "cells": {"tweets": {"1000": {"1": complete, "2": stale, "3": partial}}},
    }  # fmt: skip
    (tmp_path / "pretrained.json").write_text(json.dumps(stored), encoding="utf-8")
    ran: list[str] = []

    def fake_worker(command: list[str]) -> dict:
        ran.append(command[command.index("--worker") + 1])
        return {"n_train": 700, "majority": 0.4, "models": {m: result(m) for m in models}}

    monkeypatch.setattr(bench, "run_worker", fake_worker)
    code = bench.main(
        [
            "--resume",
            "--out",
            str(tmp_path),
            "--corpora",
            "tweets",
            "--sizes",
            "1000",
            "--seeds",
            "1,2,3,4",
            "--threads",
            "1",
            "--models",
            ",".join(models),
        ]  # fmt: skip
    )
    assert code == 0
    # Seed 1 is kept; 2 (other settings), 3 (a model missing) and 4 (new) are measured.
    assert ran == ["accuracy:tweets:1000:2", "accuracy:tweets:1000:3", "accuracy:tweets:1000:4"]
    report = json.loads((tmp_path / "pretrained.json").read_text(encoding="utf-8"))
    assert report["seeds"] == [1, 2, 3, 4] and report["resumed"]
    assert report["throughput"]["1"]["ratio"] == 11.0  # measured as the encoder reads now
