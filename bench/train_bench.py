"""Training throughput and peak memory of each Keras model, next to a seed-style reference.

The reference is what a first Keras tutorial does: ``TextVectorization`` (20k tokens, default
standardisation) padding every text to 200 steps, Embedding 128 -> LSTM 64 -> softmax, Adam
1e-3, no masking. It is measured in the same run, on the same split of the tweets demo
(70/15/15 stratified, seed 42, duplicates and conflicting labels removed), so the ratios hold
on whatever machine runs this. Each model trains in its own process: peak RSS is that
process's own.

Usage::

    python bench/train_bench.py                          # 8000 training tweets, ~5 min
    python bench/train_bench.py --rows 0 --ref-epochs 5  # the full split, as issue 3 measured

samples/s = training texts x epochs run / wall seconds of ``fit`` (vocabulary, tracing and the
validation passes included, so the figure is conservative for the app's models).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workers import print_result, run_worker  # noqa: E402  (bench/ is this script's folder)

from slm_core.models.registry import NEURAL_IDS as MODELS  # noqa: E402

TARGET_RATIO = 5.0


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _steady_rate(stamps: list[tuple[int, int, float]], n_train: int) -> float:
    """Training texts per second inside epochs, from (epoch, batch, end time) of every batch.

    Counts from the end of each epoch's first batch to the end of its last one, so graph
    tracing (first batch), validation passes and set-up are excluded alike for every model.
    """
    texts = seconds = 0.0
    for epoch in sorted({e for e, _, _ in stamps}):
        rows = [(b, t) for e, b, t in stamps if e == epoch]
        if len(rows) < 2:
            continue
        per_batch = n_train / (max(b for b, _ in rows) + 1)
        texts += (len(rows) - 1) * per_batch
        seconds += rows[-1][1] - rows[0][1]
    return texts / seconds if seconds else float("nan")


def _accuracy(predicted, expected) -> float:
    return sum(p == e for p, e in zip(predicted, expected, strict=True)) / max(len(expected), 1)


def _prepare(rows: int | None, seed: int, path: Path) -> dict:
    from slm_core.data.split import make_splits
    from slm_core.data.types import SplitConfig
    from slm_core.dataset import load_demo_dataset

    splits = make_splits(load_demo_dataset("tweets").frame, SplitConfig(seed=seed))
    train = splits.train
    if rows and rows < len(train):
        train = train.sample(rows, random_state=seed)
    data = {
        name: {"text": list(frame["text"]), "label": list(frame["label"])}
        for name, frame in (("train", train), ("val", splits.val), ("test", splits.test))
    }
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    majority = splits.test["label"].value_counts(normalize=True).iloc[0]
    return {name: len(v["text"]) for name, v in data.items()} | {"majority": float(majority)}


def _work_reference(data: dict, epochs: int) -> dict:
    """The seed-style LSTM, written the way the issue measured it."""
    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(42)
    classes = sorted(set(data["train"]["label"]))
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[v] for v in data["train"]["label"]])
    start = time.perf_counter()
    vectorize = keras.layers.TextVectorization(max_tokens=20000, output_sequence_length=200)
    vectorize.adapt(tf.constant(data["train"]["text"]))
    x = vectorize(tf.constant(data["train"]["text"]))
    model = keras.Sequential(
        [
            keras.Input(shape=(200,), dtype="int64"),
            keras.layers.Embedding(20000, 128),
            keras.layers.LSTM(64),
            keras.layers.Dense(len(classes), activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    stamps: list[tuple[int, int, float]] = []

    class Stamp(keras.callbacks.Callback):
        epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            stamps.append((self.epoch, batch, time.perf_counter()))

    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0, callbacks=[Stamp()])
    seconds = time.perf_counter() - start
    test_x = vectorize(tf.constant(data["test"]["text"]))
    proba = model.predict(test_x, batch_size=256, verbose=0)
    predicted = [classes[i] for i in proba.argmax(axis=1)]
    return {
        "epochs_run": epochs,
        "fit_seconds": seconds,
        "accuracy": _accuracy(predicted, data["test"]["label"]),
        "n_params": int(model.count_params()),
        "max_len": 200,
        "steady_samples_per_s": _steady_rate(stamps, len(y)),
    }


def _work_model(data: dict, model_id: str, preset: str, epochs: int | None) -> dict:
    from slm_core.models.base import TrainCallbacks
    from slm_core.models.registry import build

    overrides = {"epochs": epochs} if epochs else {}
    model = build(model_id, preset, overrides, seed=42)
    stamps: list[tuple[int, int, float]] = []
    hooks = TrainCallbacks(on_batch=lambda e, b, n: stamps.append((e, b, time.perf_counter())))
    start = time.perf_counter()
    model.fit(
        data["train"]["text"],
        data["train"]["label"],
        data["val"]["text"],
        data["val"]["label"],
        callbacks=hooks,
    )
    seconds = time.perf_counter() - start
    predicted = model.predict(data["test"]["text"])
    return {
        "epochs_run": len(model.history_.get("loss", [])),
        "fit_seconds": seconds,
        "accuracy": _accuracy(predicted, data["test"]["label"]),
        "n_params": int(model.n_params_),
        "max_len": int(model.max_len_),
        "steady_samples_per_s": _steady_rate(stamps, len(data["train"]["text"])),
    }


def worker(args: argparse.Namespace) -> None:
    data = json.loads(Path(args.data).read_text(encoding="utf-8"))
    if args.worker == "reference":
        result = _work_reference(data, args.ref_epochs)
    else:
        result = _work_model(data, args.worker, args.preset, args.epochs)
    n = len(data["train"]["text"])
    result["samples_per_s"] = n * result["epochs_run"] / result["fit_seconds"]
    result["peak_rss_mb"] = _peak_rss_mb()
    print_result(result)


def _run_worker(name: str, args: argparse.Namespace, data_path: Path) -> dict:
    command = [
        sys.executable,
        __file__,
        "--worker",
        name,
        "--data",
        str(data_path),
        "--preset",
        args.preset,
        "--ref-epochs",
        str(args.ref_epochs),
    ]
    if args.epochs:
        command += ["--epochs", str(args.epochs)]
    return run_worker(command)


def _markdown(report: dict) -> str:
    ref = report["reference"]
    lines = [
        "# Training benchmark (tweets demo)",
        "",
        f"{report['sizes']['train']} training texts, {report['sizes']['test']} test texts; "
        f"preset `{report['preset']}`; {report['machine']}; "
        f"majority-class accuracy {report['sizes']['majority']:.3f}. "
        f"Target: >= {TARGET_RATIO:g}x the reference's samples/s at equal or better accuracy.",
        "",
        "| model | epochs | seq len | params | training samples/s | x reference "
        "| fit s (all in) | samples/s all in | x reference all in "
        "| test accuracy | peak RSS MB | target met |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in [("reference (seed-style LSTM)", ref), *report["models"].items()]:
        if "error" in r:
            lines.append(f"| {name} | failed: {r['error'].splitlines()[-1][:80]} |")
            continue
        ratio, ratio_all = r.get("ratio"), r.get("ratio_end_to_end")
        met = "" if ratio is None else ("yes" if r.get("target_met") else "no")
        lines.append(
            f"| {name} | {r['epochs_run']} | {r['max_len']} | {r['n_params']:,} "
            f"| {r['steady_samples_per_s']:.0f} | {'' if ratio is None else f'{ratio:.1f}x'} "
            f"| {r['fit_seconds']:.1f} | {r['samples_per_s']:.0f} "
            f"| {'' if ratio_all is None else f'{ratio_all:.1f}x'} | {r['accuracy']:.3f} "
            f"| {r['peak_rss_mb']:.0f} | {met} |"
        )
    lines += [
        "",
        "*Training samples/s* (the target's measure): texts per second inside training epochs, "
        "timed from the end of each epoch's first batch to the end of its last, identically for "
        "every model (graph tracing, validation passes and set-up excluded). *All in*: training "
        "texts x epochs run / wall seconds of the whole `fit`, including building the vocabulary "
        "and word vectors, tracing and a validation pass over "
        f"{report['sizes']['val']} texts after every epoch (the reference has none). "
        "Each model ran in its own process.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=8000, help="training texts sampled (default 8000; 0 = all)"
    )
    parser.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    parser.add_argument("--ref-epochs", type=int, default=2, help="reference epochs (default 2)")
    parser.add_argument("--preset", default="balanced")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return 0

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data_path = Path(tmp) / "tweets.json"
        sizes = _prepare(args.rows, args.seed, data_path)
        print(f"data: {sizes}", file=sys.stderr)
        reference = _run_worker("reference", args, data_path)
        print(f"reference: {reference}", file=sys.stderr)
        models = {}
        for model_id in [m.strip() for m in args.models.split(",") if m.strip()]:
            result = _run_worker(model_id, args, data_path)
            if "error" not in result and "error" not in reference:
                result["ratio"] = result["steady_samples_per_s"] / reference["steady_samples_per_s"]
                result["ratio_end_to_end"] = result["samples_per_s"] / reference["samples_per_s"]
                result["target_met"] = bool(
                    result["ratio"] >= TARGET_RATIO and result["accuracy"] >= reference["accuracy"]
                )
            models[model_id] = result
            print(f"{model_id}: {result}", file=sys.stderr)
    report = {
        "benchmark": "train",
        "dataset": "tweets",
        "preset": args.preset,
        "sizes": sizes,
        "seed": args.seed,
        "ref_epochs": args.ref_epochs,
        "epochs_override": args.epochs,
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        ),
        "tf_threads": os.environ.get("SLM_TF_THREADS"),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "reference": reference,
        "models": models,
        "target_ratio": TARGET_RATIO,
    }
    (out / "train.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (out / "train.md").write_text(_markdown(report), encoding="utf-8")
    print(_markdown(report))
    failed = [name for name, r in [("reference", reference), *models.items()] if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
