"""The pretrained benchmark's verdict (issue 15's goal): the mean accuracy over seeds decides,
and the median, the paired gap and the seeds won are reported beside it, each able to fail."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "pretrained_bench.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("pretrained_bench_under_test", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
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
