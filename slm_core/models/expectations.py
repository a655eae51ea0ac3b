"""What the small-data benchmark measured, as the Train page needs it before training.

``bench/small_data_bench.py`` trains every model on 500-, 1,000- and 3,000-row subsamples and the
full sets of three real corpora, three seeds each, and commits ``bench/results/small_data.json``.
This module holds the benchmark's design (corpora, sizes, seeds, goals: one home for both the
benchmark and the warning) and turns its table into warnings for a dataset of a given size:
"on data this small, expect the LSTM to trail the linear models by about N points".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CORPORA: tuple[str, ...] = ("bbc_news", "tweets", "reviews_zh")
FULL = "full"
SIZES: tuple[str, ...] = ("500", "1000", "3000", FULL)
SEEDS: tuple[int, ...] = (1, 2, 3)
# Issue 12: a Keras model's median gap to the best linear model, in accuracy (0-1).
SMALL_GOAL = 0.03
LARGE_GOAL = 0.02

# A full set counts as "large data" from this many training texts (about 6,000 rows).
LARGE_MIN_TRAIN = 4_200

RESULTS_FILE = Path(__file__).resolve().parents[2] / "bench" / "results" / "small_data.json"


def goal_for(size: str) -> float:
    """The allowed median gap for a benchmark size: 3 points on subsamples, 2 on full sets."""
    return LARGE_GOAL if size == FULL else SMALL_GOAL


@dataclass(frozen=True)
class Shortfall:
    """A Keras model that missed the goal on at least one benchmark corpus at a similar size."""

    model_id: str
    size: str  # the benchmark size compared with ("500", "1000", "3000" or "full")
    median_gap: float  # the largest median gap over the corpora that missed, in accuracy (0-1)
    corpora_missed: int
    corpora: int
    goal: float = SMALL_GOAL  # the gap allowed at that size
    n_train: int = 0  # the fewest training texts among the corpora compared
    seeds: int = len(SEEDS)  # the fewest seeds behind a median that missed

    @property
    def large(self) -> bool:
        return self.size == FULL


def size_bucket(n_rows: int) -> str:
    """The benchmark size closest (on a log scale) to a dataset of ``n_rows`` usable rows."""
    if n_rows <= 700:
        return "500"
    if n_rows <= 1_700:
        return "1000"
    if n_rows <= 6_000:
        return "3000"
    return FULL


@lru_cache(maxsize=4)
def _table(path: str) -> dict:
    file = Path(path)
    if not file.exists():
        return {}
    return json.loads(file.read_text(encoding="utf-8")).get("table", {})


def shortfalls(n_rows: int, path: Path = RESULTS_FILE) -> list[Shortfall]:
    """Keras models that trailed the best linear model by more than the goal at this data size.

    Above about 6,000 rows a dataset is compared with the full sets that are that large (the
    tweets and the Chinese reviews, not BBC News' 2,225 articles).
    """
    size = size_bucket(n_rows)
    rows = [by_size[size] for by_size in _table(str(path)).values() if size in by_size]
    if size == FULL:
        rows = [row for row in rows if row["n_train"] >= LARGE_MIN_TRAIN]
    found: list[Shortfall] = []
    model_ids = sorted({m for row in rows for m in row["models"]})
    for model_id in model_ids:
        cells = [row["models"][model_id] for row in rows if model_id in row["models"]]
        missed = [c for c in cells if not c["meets_goal"]]
        if missed:
            found.append(
                Shortfall(
                    model_id=model_id,
                    size=size,
                    median_gap=max(c["median_gap"] for c in missed),
                    corpora_missed=len(missed),
                    corpora=len(cells),
                    goal=goal_for(size),
                    n_train=int(min(row["n_train"] for row in rows)),
                    seeds=int(min(c.get("seeds", len(SEEDS)) for c in missed)),
                )
            )
    return found
