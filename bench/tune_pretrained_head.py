"""Tune ``minilm_head``'s presets on validation splits only (issue 15); a one-off tuning record.

The encoder is frozen, so each text's sentence vector is computed once and every head candidate
is a few seconds of Keras on cached vectors:

1. **Embed** (``--stage embed``): a pool of ``POOL_ROWS`` de-duplicated English tweets (drawn
   stratified with ``POOL_SEED``, which no benchmark uses) and every de-duplicated BBC News row,
   through ``MiniLMEncoder``; saved to ``<cache>/<corpus>.npz`` and reused by later runs.
2. **Score** (by default after embedding; ``--stage report`` only rebuilds the tables from the
   stored results): per corpus, size and seed, a stratified subsample of the pool
   drawn with that seed (as ``small_data_bench._subsample`` draws from the whole corpus; a size
   at or above the pool takes it all), the app's 70/15/15 split with that seed, and every
   candidate head (``CANDIDATES``) trained with that seed by ``MiniLMHeadClassifier``'s own
   training code on the training vectors, stopping early on the validation loss as in the app.
   Each candidate is scored on the **validation** split: accuracy and macro-F1. The test split
   is never predicted, read or stored.

Seeds 11-20 (``pretrained_bench.py`` uses 1-5), sizes 500, 1,000 and 3,000 rows, corpora
``tweets`` and ``bbc_news`` (2,121 distinct articles, so its "3000" is all of them, split by
each seed).
The chosen presets are in ``slm_core.models.registry._pretrained_presets``.

A second round (``ENSEMBLES``) scores ensembles of 3 and 5 heads with the chosen balanced
settings, each member with its own seed, their probabilities averaged, against that single
head on the same draws; once with every member stopping early on the validation split (as
above and in the app), once on an inner hold-out of the training split, so that the
validation split only scores.

Writes ``bench/results/pretrained_head_tuning.json`` and ``.md``; it is not part of
``make bench``.

    python bench/tune_pretrained_head.py                   # embed (once, ~5 min), then score
    python bench/tune_pretrained_head.py --seeds 11,12 --sizes 1000   # a quick look
    python bench/tune_pretrained_head.py --seeds 11,12,13,14,15,16 --candidates ensembles
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

RESULTS = ROOT / "bench" / "results"
NAME = "pretrained_head_tuning"
CORPORA: tuple[str, ...] = ("tweets", "bbc_news")
SIZES: tuple[int, ...] = (500, 1000, 3000)
SEEDS: tuple[int, ...] = tuple(range(11, 21))
# Enough tweets that a 3,000-row draw is still a sample of it; BBC News is embedded whole.
POOL_ROWS = 8000
POOL_SEED = 0


# --------------------------------------------------------------------------- embeddings


def _rows(corpus: str):
    """The de-duplicated rows the benchmarks draw from (``text``, ``label``)."""
    from slm_core.data.split import clean_rows
    from slm_core.dataset import load_demo_dataset

    frame = load_demo_dataset(corpus).frame
    return clean_rows(frame).frame[["text", "label"]].reset_index(drop=True)


def _pool(corpus: str):
    from sklearn.model_selection import train_test_split

    rows = _rows(corpus)
    if len(rows) <= POOL_ROWS:
        return rows
    pool, _ = train_test_split(
        rows, train_size=POOL_ROWS, stratify=rows["label"], random_state=POOL_SEED
    )
    return pool.reset_index(drop=True)


def embed(corpus: str, cache: Path, pooled_layers: int = 1) -> Path:
    """Embed the corpus's pool once; ``<cache>/<corpus>.npz`` holds texts, labels, vectors
    (``<corpus>_top<n>.npz`` with the top ``pooled_layers`` layers' vectors side by side)."""
    suffix = f"_top{pooled_layers}" if pooled_layers > 1 else ""
    path = cache / f"{corpus}{suffix}.npz"
    if path.exists():
        return path
    from slm_core.models.minilm.encoder import MiniLMEncoder

    pool = _pool(corpus)
    texts = pool["text"].astype(str).tolist()
    start = time.perf_counter()
    vectors = MiniLMEncoder().embed(
        texts,
        pooled_layers=pooled_layers,
        progress=lambda done, total: print(f"\r{corpus}: {done}/{total}", end="", flush=True),
    )
    print(f"\n{corpus}: {len(texts)} texts in {time.perf_counter() - start:.0f} s", flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        texts=np.array(texts, dtype=object),
        labels=np.array(pool["label"].astype(str).tolist(), dtype=object),
        vectors=vectors,
    )
    return path


# --------------------------------------------------------------------------- candidates

REFERENCE = "old balanced"
# Each candidate is a complete set of head settings (the ``minilm_head`` constructor's).
# The first three are the presets as they were before this tuning.
_BASE: dict[str, Any] = dict(
    epochs=100, batch_size=32, units=256, dropout=0.2, learning_rate=1e-3, patience=8,
    class_weight=False,
)  # fmt: skip
CANDIDATES: dict[str, dict[str, Any]] = {
    "old quick": {**_BASE, "epochs": 30, "units": 128, "dropout": 0.1, "learning_rate": 3e-3,
                  "patience": 3},
    "old balanced": dict(_BASE),
    "old thorough": {**_BASE, "epochs": 200, "units": 512, "dropout": 0.3,
                     "learning_rate": 5e-4, "patience": 15},
    "256 d0.5": {**_BASE, "dropout": 0.5},
    "256 d0.5 p20": {**_BASE, "dropout": 0.5, "patience": 20, "epochs": 200},
    "256 d0.5 lr3e-3 p10": {**_BASE, "dropout": 0.5, "learning_rate": 3e-3, "patience": 10},
    "512 d0.5 p15": {**_BASE, "epochs": 200, "units": 512, "dropout": 0.5, "patience": 15},
    "256 d0.3 lr3e-3 p5": {**_BASE, "dropout": 0.3, "learning_rate": 3e-3, "patience": 5},
    "128 d0.3 lr3e-3 p10": {**_BASE, "units": 128, "dropout": 0.3, "learning_rate": 3e-3,
                            "patience": 10},
    "64 d0.2 lr3e-3 p10": {**_BASE, "units": 64, "learning_rate": 3e-3, "patience": 10},
    # Heads the product does not offer (``l2`` and ``units=0`` are outside its settings): kept
    # to see whether adding such a setting would be worth it.
    "linear lr1e-2 p20": {**_BASE, "epochs": 300, "units": 0, "dropout": 0.0,
                          "learning_rate": 1e-2, "patience": 20},
    "256 d0.5 l2=1e-4": {**_BASE, "dropout": 0.5, "l2": 1e-4},
}  # fmt: skip
# Scored on the first draws only (tweets 500 and 1,000, seeds 11-12; the old thorough also on
# tweets 3,000): behind the old balanced preset there, or the same result more slowly.
DROPPED: tuple[str, ...] = ("old thorough", "256 d0.5 p20", "512 d0.5 p15", "linear lr1e-2 p20")

# Second round: ensembles of heads with the balanced preset chosen above (its settings are
# "256 d0.5 lr3e-3 p10"), compared with that single head. Member i is trained with seed
# ``seed + i`` (its own initial weights, dropout masks and shuffling) on the same vectors, with
# early stopping of its own; the ensemble's probabilities are the members' mean. Member 0 is
# the single head itself, and an ensemble of 3 is the first 3 members of the ensemble of 5.
# "val": each member stops early on the validation split, as every candidate above and the
# app do (so the split that is scored also chose each member's epoch). "inner": each member
# stops on an inner hold-out (``INNER_SHARE`` of the training split, stratified, drawn with
# the draw's seed) and trains on the rest, so the validation split only scores.
BALANCED = "256 d0.5 lr3e-3 p10"
INNER_SHARE = 0.15
ENSEMBLES: dict[str, dict[str, Any]] = {
    "balanced x3": {**CANDIDATES[BALANCED], "ensemble": 3, "stop_on": "val"},
    "balanced x5": {**CANDIDATES[BALANCED], "ensemble": 5, "stop_on": "val"},
    "balanced inner": {**CANDIDATES[BALANCED], "ensemble": 1, "stop_on": "inner"},
    "balanced x3 inner": {**CANDIDATES[BALANCED], "ensemble": 3, "stop_on": "inner"},
    "balanced x5 inner": {**CANDIDATES[BALANCED], "ensemble": 5, "stop_on": "inner"},
}
CANDIDATES.update(ENSEMBLES)
# Not trained on their own: the members of the ensembles of 5, each scored alone and averaged
# per draw: what a single head gives for a seed nobody chose. The balanced preset's own single
# head (member 0) won the first round on these very draws and seeds, so its figure carries
# some of that luck; these references do not.
SEED_MEANS: dict[str, str] = {
    "balanced, 5 seeds each": "balanced x5",
    "balanced inner, 5 seeds each": "balanced x5 inner",
}
# What the second round decided (written once its results were in).
VERDICT = (
    "**Not adopted; the app's head stays a single head.** Rule, set before the last draws were "
    "in: adopt only with a gap to the balanced head well above its SE (about 2 SE or more), no "
    "corpus/size group worse by more than its noise, and seconds to tens of seconds at 3,000 "
    "rows. On the 36 draws the ensembles of 3 and 5 are -0.1 ± 0.2 points from the balanced "
    "head (validation stopping); against a single head averaged over the same 5 seeds, which "
    "carries none of the first round's luck, they gain +0.1 ± 0.1, and only on tweets 1,000 "
    "(+0.7/+0.8 ± 0.3-0.4) while losing on tweets 500. With the fairer inner stopping the "
    "averaging gains +0.2 ± 0.1 over its single heads, and the tweets 1,000 gain is gone "
    "(-0.1/-0.2 ± 0.2-0.5), so that one is most likely noise the validation split chose; but "
    "stopping on an inner hold-out trains on 15% fewer texts and costs more (-0.7 ± 0.2) than "
    "averaging wins, so the inner ensembles end -0.5 ± 0.2 behind the balanced head. Training "
    "takes 3 and 5 times as long (mean 37 s and 63 s at tweets 3,000 on 2 shared CPUs, "
    "against 15 s). Member 0 reproduced the balanced head's validation result on every draw "
    "(same seed, same code), so the comparison is paired exactly."
)
FIRST_ROUND: tuple[str, ...] = tuple(
    n for n in CANDIDATES if n not in DROPPED and n not in ENSEMBLES
)


# --------------------------------------------------------------------------- scoring


def _draw(texts: np.ndarray, labels: np.ndarray, size: int, seed: int):
    """The ``size``-row stratified subsample drawn with ``seed`` and its 70/15/15 split."""
    import pandas as pd
    from sklearn.model_selection import train_test_split

    from slm_core.data.split import make_splits
    from slm_core.data.types import SplitConfig

    rows = pd.DataFrame({"text": texts, "label": labels})
    if size < len(rows):
        rows, _ = train_test_split(rows, train_size=size, stratify=rows["label"], random_state=seed)
        rows = rows.reset_index(drop=True)
    return make_splits(rows, SplitConfig(seed=seed))


def _vectors(frame, vectors: np.ndarray, row_of: dict[str, int], index: dict[str, int]):
    """A split's cached sentence vectors and its labels as class numbers."""
    rows = [row_of[t] for t in frame["text"]]
    return vectors[rows], np.array([index[v] for v in frame["label"]], dtype=np.int32)


def _explore_class():
    """``MiniLMHeadClassifier`` with an L2 penalty on its dense layers and ``units=0`` for
    no hidden layer (a softmax regression on the vectors)."""
    from slm_core.models.minilm.head import MiniLMHeadClassifier

    class Explore(MiniLMHeadClassifier):
        l2 = 0.0

        def _build_head(self, keras, dim: int, n_classes: int):
            penalty = keras.regularizers.L2(self.l2) if self.l2 else None
            x = vectors = keras.Input(shape=(dim,), dtype="float32", name="vectors")
            if int(self.units):
                x = keras.layers.Dense(
                    int(self.units), activation="relu", kernel_regularizer=penalty
                )(x)
            x = keras.layers.Dropout(float(self.dropout))(x)
            out = keras.layers.Dense(n_classes, activation="softmax", kernel_regularizer=penalty)(x)
            return keras.Model(vectors, out, name="head")

    return Explore


def _member(params: dict[str, Any], seed: int, train, stop, x_val, classes):
    """One head trained by the app's code on ``train`` (vectors, classes), stopping early on
    ``stop``: its probabilities for ``x_val``, its epochs and its training seconds."""
    from slm_core.models.base import TrainCallbacks
    from slm_core.models.minilm.head import MiniLMHeadClassifier

    head = MiniLMHeadClassifier(**params, seed=seed)
    head.classes_ = list(classes)
    start = time.perf_counter()
    history = head._train_head(*train, *stop, TrainCallbacks())
    seconds = time.perf_counter() - start
    return head.predict_vectors(x_val), len(history.get("loss", [])), seconds


def _score_ensemble(
    params: dict[str, Any], seed: int, x, y, x_val, y_val, classes, members: dict
) -> dict[str, float]:
    """An ``ENSEMBLES`` candidate: ``params["ensemble"]`` heads (seeds ``seed``, ``seed + 1``,
    ...), their probabilities averaged, scored on the validation split. ``members`` keeps this
    draw's trained members, so the ensembles of 3 and 5 share theirs."""
    from sklearn.metrics import f1_score
    from sklearn.model_selection import train_test_split

    single = {k: v for k, v in params.items() if k not in ("ensemble", "stop_on")}
    mode, k = params["stop_on"], int(params["ensemble"])
    train, stop = (x, y), (x_val, y_val)
    if mode == "inner":
        fit, held = train_test_split(
            np.arange(len(y)), test_size=INNER_SHARE, stratify=y, random_state=seed
        )
        train, stop = (x[fit], y[fit]), (x[held], y[held])
    for i in range(k):
        if (mode, i) not in members:
            members[mode, i] = _member(single, seed + i, train, stop, x_val, classes)
    chosen = [members[mode, i] for i in range(k)]
    predicted = np.mean([m[0] for m in chosen], axis=0).argmax(axis=1)
    alone = [m[0].argmax(axis=1) for m in chosen]
    return {
        "val_accuracy": float(np.mean(predicted == y_val)),
        "val_macro_f1": float(f1_score(y_val, predicted, average="macro")),
        "epochs": float(np.mean([m[1] for m in chosen])),
        "seconds": float(sum(m[2] for m in chosen)),
        # Each member on its own: a single head's result for other seeds than the draw's.
        "member_val_accuracy": [float(np.mean(a == y_val)) for a in alone],
        "member_val_macro_f1": [float(f1_score(y_val, a, average="macro")) for a in alone],
        "member_epochs": [m[1] for m in chosen],
        "member_seconds": [m[2] for m in chosen],
    }


def _score(params: dict[str, Any], seed: int, x, y, x_val, y_val, classes) -> dict[str, float]:
    """Train one head with the app's own training code; its validation accuracy and macro-F1."""
    from sklearn.metrics import f1_score

    from slm_core.models.base import TrainCallbacks
    from slm_core.models.minilm.head import MiniLMHeadClassifier

    extra = {k: params[k] for k in ("l2",) if k in params}
    if extra or params["units"] == 0:
        head = _explore_class()(**{k: v for k, v in params.items() if k not in extra}, seed=seed)
        head.l2 = float(extra.get("l2", 0.0))
    else:
        head = MiniLMHeadClassifier(**params, seed=seed)
    head.classes_ = list(classes)
    start = time.perf_counter()
    history = head._train_head(x, y, x_val, y_val, TrainCallbacks())
    seconds = time.perf_counter() - start
    predicted = head.predict_vectors(x_val).argmax(axis=1)
    return {
        "val_accuracy": float(np.mean(predicted == y_val)),
        "val_macro_f1": float(f1_score(y_val, predicted, average="macro")),
        "epochs": len(history.get("loss", [])),
        "seconds": seconds,
    }


def score(args, cache: Path) -> dict:
    """Every candidate on every draw. Each seed's results are kept in ``<cache>/raw/`` as they
    come, so a rerun resumes and several processes can take different seeds."""
    raw: dict = {}
    pools = {c: np.load(cache / f"{c}.npz", allow_pickle=True) for c in args.corpora}
    for seed in args.seeds:  # seeds outermost: a run cut short still covers every corpus/size
        for corpus in args.corpora:
            raw_path = cache / "raw" / f"{corpus}_seed{seed}.json"
            seen: dict = json.loads(raw_path.read_text()) if raw_path.exists() else {}
            pool = pools[corpus]
            vector_of = {t: i for i, t in enumerate(pool["texts"])}
            for size in args.sizes:
                key = f"{corpus}|{size}|{seed}"
                done = raw[key] = seen.setdefault(key, {})
                todo = [n for n in args.candidates if n not in done]
                if not todo or args.stage == "report":
                    continue
                splits = _draw(pool["texts"], pool["labels"], size, seed)
                classes = sorted(set(splits.train["label"]))
                index = {c: i for i, c in enumerate(classes)}
                x, y = _vectors(splits.train, pool["vectors"], vector_of, index)
                x_val, y_val = _vectors(splits.val, pool["vectors"], vector_of, index)
                members: dict = {}  # the ensembles' members, shared within this draw
                for name in todo:
                    params = CANDIDATES[name]
                    if "ensemble" in params:
                        done[name] = _score_ensemble(
                            params, seed, x, y, x_val, y_val, classes, members
                        )
                    else:
                        done[name] = _score(params, seed, x, y, x_val, y_val, classes)
                    r = done[name]
                    print(
                        f"{key} {name}: acc {r['val_accuracy']:.3f} f1 {r['val_macro_f1']:.3f}"
                        f" ({r['epochs']} ep, {r['seconds']:.1f} s)",
                        flush=True,
                    )
                    raw_path.parent.mkdir(parents=True, exist_ok=True)
                    raw_path.write_text(json.dumps(seen), encoding="utf-8")
    return raw


# --------------------------------------------------------------------------- report


def _cell(key: str) -> tuple[str, int]:
    corpus, size, _ = key.split("|")
    return corpus, int(size)


def _gap(gaps: list[float]) -> tuple[float, float]:
    """Mean paired gap and its standard error."""
    sem = statistics.stdev(gaps) / len(gaps) ** 0.5 if len(gaps) > 1 else 0.0
    return statistics.mean(gaps), sem


def _stats(draws: dict, name: str, reference: str = REFERENCE, params: dict | None = None) -> dict:
    """One candidate over ``draws``: means, spread, the paired gap to ``reference`` (the old
    balanced preset unless said), and the same per corpus and size. ``params``: its settings,
    when it is not one of this script's candidates."""
    keys = list(draws)
    accs = [draws[k][name]["val_accuracy"] for k in keys]
    gaps = [accs[i] - draws[k][reference]["val_accuracy"] for i, k in enumerate(keys)]
    per_cell = {}
    for cell in sorted({_cell(k) for k in keys}):
        mine = [k for k in keys if _cell(k) == cell]
        gap, sem = _gap([draws[k][name]["val_accuracy"] - draws[k][reference]["val_accuracy"]
                         for k in mine])  # fmt: skip
        per_cell[f"{cell[0]} {cell[1]}"] = {
            "draws": len(mine),
            "val_accuracy": statistics.mean(draws[k][name]["val_accuracy"] for k in mine),
            "val_macro_f1": statistics.mean(draws[k][name]["val_macro_f1"] for k in mine),
            "gap": gap,
            "gap_sem": sem,
            "seconds": statistics.mean(draws[k][name]["seconds"] for k in mine),
        }
    gap, sem = _gap(gaps)
    return {
        "params": params or CANDIDATES.get(name) or {"members of": SEED_MEANS[name]},
        "draws": len(keys),
        "reference": reference,
        "val_accuracy": statistics.mean(accs),
        "val_macro_f1": statistics.mean(draws[k][name]["val_macro_f1"] for k in keys),
        "val_accuracy_sd": statistics.stdev(accs) if len(accs) > 1 else 0.0,
        # The key keeps its first-round name; ``reference`` says which preset it is to.
        "gap_to_old_balanced": gap,
        "gap_sem": sem,
        "mean_epochs": statistics.mean(draws[k][name]["epochs"] for k in keys),
        "cells": per_cell,
    }


def _seed_means(draw: dict) -> dict:
    """``SEED_MEANS``' entries of one draw, from its ensembles' members scored alone."""
    out = {}
    for name, source in SEED_MEANS.items():
        r = draw[source]
        out[name] = {
            "val_accuracy": statistics.mean(r["member_val_accuracy"]),
            "val_macro_f1": statistics.mean(r["member_val_macro_f1"]),
            "epochs": statistics.mean(r["member_epochs"]),
            "seconds": statistics.mean(r["member_seconds"]),
        }
    return out


def _fair_reference(name: str) -> str:
    return "balanced inner, 5 seeds each" if "inner" in name else "balanced, 5 seeds each"


def _cells(draws: dict) -> list[str]:
    return sorted({f"{c} {n}" for c, n in map(_cell, draws)},
                  key=lambda c: (c.split()[0], int(c.split()[1])))  # fmt: skip


def summarise(raw: dict) -> dict:
    """The first round's candidates compared on the draws where every one of them was scored;
    candidates dropped early (scored on fewer draws) compared with the old balanced preset on
    theirs; the ensembles (second round) compared with the balanced preset's single head on
    the draws where all of them were scored."""
    complete = {k: v for k, v in raw.items() if all(n in v for n in FIRST_ROUND)}
    table = {name: _stats(complete, name) for name in FIRST_ROUND if complete}
    dropped = {}
    for name in DROPPED:
        mine = {k: v for k, v in raw.items() if name in v and REFERENCE in v}
        if mine:
            dropped[name] = _stats(mine, name)
    second = {
        k: {**v, **_seed_means(v)}
        for k, v in raw.items()
        if all(n in v for n in (BALANCED, *ENSEMBLES))
    }
    ensembles = {}
    for name in (BALANCED, *SEED_MEANS, *ENSEMBLES) if second else ():
        ensembles[name] = _stats(second, name, BALANCED)
        # The same gap to the single head stopped the same way, averaged over 5 seeds.
        fair = _stats(second, name, _fair_reference(name))
        ensembles[name]["fair_reference"] = _fair_reference(name)
        ensembles[name]["gap_to_seed_mean"] = fair["gap_to_old_balanced"]
        ensembles[name]["gap_to_seed_mean_sem"] = fair["gap_sem"]
        for cell, values in fair["cells"].items():
            ensembles[name]["cells"][cell]["gap_to_seed_mean"] = values["gap"]
            ensembles[name]["cells"][cell]["gap_to_seed_mean_sem"] = values["gap_sem"]
    return {
        "draws": len(complete),
        "seeds": sorted({int(k.split("|")[2]) for k in complete}),
        "cells": _cells(complete),
        "candidates": table,
        "dropped": dropped,
        "ensembles": {
            "reference": BALANCED,
            "draws": len(second),
            "seeds": sorted({int(k.split("|")[2]) for k in second}),
            "cells": _cells(second),
            "candidates": ensembles,
        },
    }


def _rows_md(ranked: list[tuple[str, dict]], cells: list[str]) -> list[str]:
    lines = []
    for name, c in ranked:
        per = " | ".join(
            f"{c['cells'][cell]['val_accuracy']:.3f} / {c['cells'][cell]['val_macro_f1']:.3f}"
            if cell in c["cells"]
            else ""
            for cell in cells
        )
        lines.append(
            f"| {name} | {c['draws']} | {c['val_accuracy']:.3f} | {c['val_macro_f1']:.3f} "
            f"| {c['val_accuracy_sd']:.3f} | {c['gap_to_old_balanced'] * 100:+.1f} "
            f"± {c['gap_sem'] * 100:.1f} | {c['mean_epochs']:.0f} | {per} |"
        )
    return lines


def _ensemble_md(second: dict) -> list[str]:
    """The second round's tables: overall, then the paired gaps per corpus and size."""
    cells = second["cells"]
    pts = lambda gap, sem: f"{gap * 100:+.1f} ± {sem * 100:.1f}"  # noqa: E731
    label = {BALANCED: f"balanced (`{BALANCED}`)"}
    lines = [
        "| config | draws | val accuracy | macro-F1 | gap to balanced (pts) | gap to a single "
        "head, 5 seeds (pts) | epochs per head | training s, " + cells[-1] + " |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, c in second["candidates"].items():
        lines.append(
            f"| {label.get(name, name)} | {c['draws']} | {c['val_accuracy']:.3f} "
            f"| {c['val_macro_f1']:.3f} | {pts(c['gap_to_old_balanced'], c['gap_sem'])} "
            f"| {pts(c['gap_to_seed_mean'], c['gap_to_seed_mean_sem'])} "
            f"| {c['mean_epochs']:.0f} | {c['cells'][cells[-1]]['seconds']:.0f} |"
        )
    for title, gap in (
        ("Per corpus and size: mean validation accuracy (paired gap to balanced ± SE, pts)", "gap"),
        (
            "Per corpus and size: paired gap to a single head stopped the same way, averaged "
            "over the 5 seeds (± SE, pts)",
            "gap_to_seed_mean",
        ),
    ):
        lines += ["", title + ":", "", "| config | " + " | ".join(cells) + " |",
                  "|---|" + "---|" * len(cells)]  # fmt: skip
        for name, c in second["candidates"].items():
            per = []
            for cell in cells:
                v = c["cells"][cell]
                text = pts(v[gap], v[gap + "_sem"])
                per.append(f"{v['val_accuracy']:.3f} ({text})" if gap == "gap" else text)
            lines.append(f"| {label.get(name, name)} | " + " | ".join(per) + " |")
    return lines


def markdown(report: dict) -> str:
    summary = report["summary"]
    cells = summary["cells"]
    header = [
        "| config | draws | val accuracy | macro-F1 | sd | gap to old balanced (pts) | epochs | "
        + " | ".join(cells)
        + " |",
        "|---|---|---|---|---|---|---|" + "---|" * len(cells),
    ]
    lines = [
        "# minilm_head: head settings tuned on validation splits (issue 15)",
        "",
        f"{report['machine']}; {report['created']}. Validation accuracy / macro-F1 only (the "
        "test splits are never predicted). Corpora "
        f"{', '.join(report['corpora'])}; sizes {', '.join(map(str, report['sizes']))}; "
        f"{summary['draws']} draws (corpus, size, seed) scored for every candidate, from seeds "
        f"{', '.join(map(str, summary['seeds']))}, each drawn from its corpus's pool of "
        "de-duplicated rows ("
        + ", ".join(f"{c} {n:,}" for c, n in report["pool_sizes"].items())
        + "); a size at or above a pool is all of it, split by each seed.",
        "",
        "Means over the draws, sorted by validation accuracy; gap = mean paired difference to "
        "the old balanced preset on the same draws (± its standard error); sd = spread of the "
        "candidate's accuracy over the draws; epochs = epochs run before early stopping "
        "(the weights kept are the best epoch's). Per corpus and size: mean validation accuracy "
        "/ macro-F1 over the seeds.",
        "",
        *header,
        *_rows_md(
            sorted(summary["candidates"].items(), key=lambda kv: -kv[1]["val_accuracy"]), cells
        ),
        "",
    ]
    if summary["dropped"]:
        lines += [
            "Dropped after the first draws (behind the old balanced preset there, or slower "
            "with the same result); compared with it on those draws only:",
            "",
            *header,
            *_rows_md(list(summary["dropped"].items()), cells),
            "",
        ]
    lines += [
        "`l2` (an L2 penalty on the dense layers' weights) and `units: 0` (no hidden layer: a "
        "softmax regression on the vectors) are not settings of the app's head; this script "
        "builds them (`_explore_class`) only to see whether adding them would pay.",
        "",
    ]
    second = summary.get("ensembles") or {}
    if second.get("candidates"):
        lines += [
            "## Second round: ensembles of balanced heads",
            "",
            f"{second['draws']} draws, seeds {', '.join(map(str, second['seeds']))}, the same "
            "subsamples and splits as above. Each ensemble averages the class probabilities of "
            "k heads with the balanced preset's settings (`"
            + BALANCED
            + "`), member i trained with seed + i on the same cached vectors with early "
            "stopping of its own; member 0 is the single balanced head, the ensemble of 3 the "
            "first 3 members of the ensemble of 5. Gap = mean paired difference to the single "
            "balanced head on the same draws (± its standard error), overall and per corpus and "
            "size, where each cell reads: mean validation accuracy (gap ± SE; training seconds "
            "of all members, on this machine with 2 CPUs).",
            "",
            "Rows without *inner* stop each member early on the validation split, as every "
            "candidate of the first round and the app do, so the split that is scored also chose "
            "each member's epoch (the single head it is compared with chose its epoch the same "
            "way). Rows with *inner* are the fairer check: each member stops on an inner "
            f"hold-out ({INNER_SHARE:.0%} of the training split, stratified, drawn with the "
            "draw's seed) and trains on the rest, so the validation split only scores; "
            "*balanced inner* is the single head trained that way.",
            "",
            "The balanced preset's single head won the first round on these very draws and "
            "seeds, so its figure holds some of that luck, and a gap to it is biased against "
            "any newcomer. *5 seeds each* rows are not trained on their own: they are the "
            "members of the ensemble of 5 scored alone and averaged per draw, i.e. what a "
            "single head gives for seeds nobody chose; the second gap column compares each row "
            "with the one stopped the same way.",
            "",
            *_ensemble_md(second),
            "",
            *([VERDICT, ""] if VERDICT else []),
        ]
    lines += ["Settings of each config:", ""]
    names = [*summary["candidates"], *summary["dropped"], *second.get("candidates", {})]
    for name in dict.fromkeys(names):
        if name in CANDIDATES:
            lines.append(f"- **{name}**: `{json.dumps(CANDIDATES[name])}`")
    lines.append("")
    return "\n".join(lines)


def draw_options(parser: argparse.ArgumentParser, seeds: tuple[int, ...]) -> None:
    """The options that choose the draws and where vectors and the record go (this script's
    and ``tune_pretrained_layers.py``'s)."""
    parser.add_argument("--corpora", default=",".join(CORPORA))
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--seeds", default=",".join(map(str, seeds)))
    parser.add_argument("--cache", default="/tmp/tune15", help="where the vectors are kept")
    parser.add_argument("--out", default=str(RESULTS))


def parse_draws(args: argparse.Namespace) -> None:
    """``draw_options``' comma lists as lists (sizes and seeds as numbers)."""
    args.corpora = [c for c in args.corpora.split(",") if c]
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.seeds = [int(s) for s in args.seeds.split(",") if s]


def record_header(name: str, args: argparse.Namespace) -> dict:
    """What every tuning record starts with: the script, the machine, when, and the draws."""
    return {
        "benchmark": name,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "corpora": args.corpora,
        "sizes": args.sizes,
        "seeds_requested": args.seeds,
    }


def write_record(out: Path, name: str, report: dict, text: str) -> None:
    """``<out>/<name>.json`` and ``.md``; the Markdown printed too."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (out / f"{name}.md").write_text(text, encoding="utf-8")
    print(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=["all", "embed", "report"], default="all")
    draw_options(parser, SEEDS)
    parser.add_argument(
        "--candidates",
        default=",".join(n for n in CANDIDATES if n not in DROPPED),
        help="the candidates to score where a draw lacks them (the report shows every round); "
        "'ensembles': the second round's and the balanced head they are compared with",
    )
    args = parser.parse_args(argv)
    parse_draws(args)
    args.candidates = [c for c in args.candidates.split(",") if c]
    if args.candidates == ["ensembles"]:
        args.candidates = [BALANCED, *ENSEMBLES]
    unknown = [c for c in args.candidates if c not in CANDIDATES]
    if unknown:
        parser.error(f"unknown candidates: {', '.join(unknown)}")
    cache = Path(args.cache)
    for corpus in args.corpora:
        embed(corpus, cache)
    if args.stage == "embed":
        return 0
    raw = score(args, cache)
    report = {
        **record_header(NAME, args),
        "pool_rows": POOL_ROWS,
        "pool_sizes": {
            c: int(len(np.load(cache / f"{c}.npz", allow_pickle=True)["labels"]))
            for c in args.corpora
        },
        "pool_seed": POOL_SEED,
        "draws": raw,
    }
    report["summary"] = summarise(report["draws"])
    write_record(Path(args.out), NAME, report, markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
