"""Inference benchmark: the app's single-text path against ``model.predict`` in the same run.

Trains an LSTM on (a sample of) the tweets demo in a throw-away store, benchmarks the run as
the app does (export to LiteRT float32/int8 and ONNX with parity on the test split, then
separate measuring processes at 1 thread and all cores), and then, in this one process and
with the same threads, times per text:

* the app's end-to-end path: raw text -> label + probabilities (``Predictor.predict_one``) in
  the served form, and in every exported form;
* the Keras model through a traced ``tf.function`` (what the model class does);
* ``model.predict`` on one text at a time (the reference the issue names).

Targets (issue 5): the app path is >= 50x faster than ``model.predict`` per text, and text
vectorisation is <= 20% of the app path's time. Writes ``bench/results/inference.json`` and
``bench/results/inference.md``.

    python bench/inference_bench.py [--rows 8000] [--epochs 2] [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results"
TARGET_RATIO = 50.0
TARGET_VECTORIZE_SHARE = 0.20


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=8000, help="tweets sampled (0 = all ~38k)")
    p.add_argument("--epochs", type=int, default=2, help="training epochs of the LSTM")
    p.add_argument("--preset", default="quick", help="model preset (quick/balanced/thorough)")
    p.add_argument("--seconds", type=float, default=2.0, help="minimum seconds per timing")
    p.add_argument("--calls", type=int, default=200, help="minimum calls per timing")
    p.add_argument("--predict-calls", type=int, default=40, help="calls of model.predict")
    p.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    p.add_argument("--home", type=Path, help="SLM_HOME to use (default: a temporary one)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def _train(store, rows: int, epochs: int, preset: str, seed: int) -> int:
    """Register (a sample of) the tweets demo and train one LSTM run; returns the run id."""
    from slm_core import jobs
    from slm_core.data.split import content_hash
    from slm_core.dataset import load_demo_dataset

    prepared = load_demo_dataset("tweets")
    frame = prepared.frame
    if rows and rows < len(frame):
        frame = frame.sample(n=rows, random_state=seed).reset_index(drop=True)
    dataset = store.add_dataset(
        f"tweets sample {len(frame)}",
        "cli",
        "tweets",
        content_hash(frame),
        frame,
        report=prepared.report.to_dict(),
        mapping=prepared.report.mapping.to_dict(),
        split_config={},
    )
    run = store.create_run(dataset.id, "lstm", preset, {"epochs": epochs})
    finished = jobs.run_inline(store, run.id)
    if finished.status != "succeeded":
        raise SystemExit(f"training failed: {finished.error}")
    return run.id


def _time(fn, texts, config) -> dict:
    from slm_core.runtime.latency import time_calls

    stats, _ = time_calls(fn, texts, config)
    return stats.to_dict()


def run(args: argparse.Namespace) -> dict:
    """Run the benchmark and return the results (also written to ``args.out``)."""
    home = args.home or Path(tempfile.mkdtemp(prefix="slm_bench_"))
    os.environ["SLM_HOME"] = str(home)
    os.environ.pop("SLM_DATABASE_URL", None)
    from slm_core.runtime import bench_run, format_bench, load_predictor
    from slm_core.runtime.latency import LatencyConfig, measure_predictor
    from slm_core.runtime.serve import thread_count
    from slm_core.store import RunStore
    from slm_core.train import load_test_predictions

    store = RunStore()
    started = time.perf_counter()
    run_id = _train(store, args.rows, args.epochs, args.preset, args.seed)
    train_s = time.perf_counter() - started
    run = store.get_run(run_id)
    print(f"trained run {run_id} in {train_s:.0f} s, accuracy {run.metrics['accuracy']:.3f}")

    config = LatencyConfig(min_calls=args.calls, min_seconds=args.seconds)
    report = bench_run(store, run_id, config=config, progress=lambda f, m: print(f"  {m}"))
    print(format_bench(report))

    # Same process, same threads, same texts for every contender below.
    threads = thread_count(None)
    os.environ.setdefault("SLM_TF_THREADS", str(threads))
    model_dir = store.artifact_dir(run_id) / "model"
    texts = [t for t in load_test_predictions(store, run_id).texts if t.strip()][:1000]
    served = load_predictor(model_dir, threads=threads)
    path = measure_predictor(served, texts, config)
    forms = {}
    for name, info in report.forms.items():
        if info.error:
            forms[name] = {"error": info.error}
            continue
        predictor = load_predictor(model_dir, threads=threads, form=name)
        forms[name] = {
            "latency_ms": _time(predictor.predict_one, texts, config),
            "bytes": info.bytes,
            "parity": None if info.parity is None else info.parity.to_dict(),
        }
    keras = load_predictor(model_dir, threads=threads, form="keras")
    forms["keras_tf_function"] = {"latency_ms": _time(keras.predict_one, texts, config)}
    from slm_core.models.registry import load_model

    clf = load_model(model_dir)

    def predict_per_text(text: str):
        row = clf.model_.predict(clf.encode([text]), verbose=0)[0]
        return clf.classes_[int(row.argmax())], row

    predict_cfg = replace(
        config, min_calls=args.predict_calls, min_seconds=min(args.seconds, 2.0), warmup_calls=3
    )
    predict = _time(predict_per_text, texts, predict_cfg)
    ratio = predict["p50"] / path.latency.p50
    results = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or report.cpu.get("model"),
            "logical_cpus": threads,
        },
        "settings": {
            "rows": args.rows,
            "epochs": args.epochs,
            "preset": args.preset,
            "min_calls": args.calls,
            "min_seconds": args.seconds,
            "predict_calls": args.predict_calls,
            "threads_in_process": threads,
        },
        "run": {
            "id": run_id,
            "accuracy": run.metrics.get("accuracy"),
            "n_test": run.metrics.get("n_test"),
            "max_len": json.loads((model_dir / "model.json").read_text())["max_len"],
            "n_params": report.n_params,
            "train_seconds": train_s,
        },
        "served_form": served.form,
        "app_path": path.to_dict(),
        "forms": forms,
        "model_predict_per_text_ms": predict,
        "ratio_predict_over_app_p50": ratio,
        "vectorize_share": path.vectorize_share,
        "targets": {
            "ratio_at_least": TARGET_RATIO,
            "ratio_met": ratio >= TARGET_RATIO,
            "vectorize_share_at_most": TARGET_VECTORIZE_SHARE,
            "vectorize_share_met": path.vectorize_share <= TARGET_VECTORIZE_SHARE,
        },
        "bench_result": report.to_dict(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "inference.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    (args.out / "inference.md").write_text(markdown(results), encoding="utf-8")
    return results


def _ms(value) -> str:
    return "—" if value is None else f"{value:.3f}"


def markdown(r: dict) -> str:
    """The results as a short Markdown report."""
    from slm_core.runtime.record import BenchReport

    t = r["targets"]
    app = r["app_path"]["latency_ms"]
    lines = [
        "# Inference benchmark (LSTM, tweets demo)",
        "",
        f"Generated {r['generated_at']} on {r['machine']['platform']}, "
        f"{r['machine']['logical_cpus']} logical CPUs. Run {r['run']['id']}: "
        f"{r['settings']['rows'] or 'all'} tweets, {r['settings']['epochs']} epochs "
        f"({r['settings']['preset']} preset), sequence length {r['run']['max_len']}, "
        f"{r['run']['n_params']:,} parameters, test accuracy {r['run']['accuracy']:.3f}.",
        "",
        "## Targets (measured in the same process, same threads, same texts)",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        f"| app path ≥ {t['ratio_at_least']:.0f}× faster than `model.predict` per text (p50) "
        f"| {r['ratio_predict_over_app_p50']:.0f}× | {'yes' if t['ratio_met'] else 'NO'} |",
        f"| vectorisation ≤ {t['vectorize_share_at_most']:.0%} of the app path "
        f"| {r['vectorize_share']:.1%} | {'yes' if t['vectorize_share_met'] else 'NO'} |",
        "",
        f"## Single text, raw text in → label + probabilities out "
        f"({r['settings']['threads_in_process']} threads, ms)",
        "",
        "| path | p50 | p90 | p95 | p99 | calls | parity (agreement, Δ accuracy) |",
        "|---|---|---|---|---|---|---|",
        f"| **app path ({r['served_form']})** | {_ms(app['p50'])} | {_ms(app['p90'])} | "
        f"{_ms(app['p95'])} | {_ms(app['p99'])} | {app['n_calls']} | served |",
    ]
    for name, info in r["forms"].items():
        if "error" in info:
            lines.append(f"| {name} | failed: {info['error']} | | | | | |")
            continue
        lat = info["latency_ms"]
        parity = info.get("parity") or {}
        par = (
            f"{parity['agreement']:.2%}, {parity['accuracy_delta'] * 100:+.2f} pt"
            if parity.get("accuracy_delta") is not None
            else "reference"
        )
        lines.append(
            f"| {name} | {_ms(lat['p50'])} | {_ms(lat['p90'])} | {_ms(lat['p95'])} | "
            f"{_ms(lat['p99'])} | {lat['n_calls']} | {par} |"
        )
    p = r["model_predict_per_text_ms"]
    lines += [
        f"| `model.predict` per text | {_ms(p['p50'])} | {_ms(p['p90'])} | {_ms(p['p95'])} | "
        f"{_ms(p['p99'])} | {p['n_calls']} | reference |",
        "",
        f"Vectorisation (pure Python, saved vocabulary): "
        f"{r['app_path']['vectorize_ms_mean']:.3f} ms mean per text.",
        "",
        "## Served form in its own measuring process (as the Cost page shows it)",
        "",
        "| threads | load ms | first call ms | p50 | p90 | p95 | p99 | texts/s @32 | "
        "texts/s @256 | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, s in BenchReport.from_dict(r["bench_result"]).settings.items():
        lat = s.latency_ms
        lines.append(
            f"| {key} | {s.load_ms:.1f} | {s.first_call_ms:.2f} | {_ms(lat('p50'))} | "
            f"{_ms(lat('p90'))} | {_ms(lat('p95'))} | {_ms(lat('p99'))} | "
            f"{s.texts_per_second(32):,.0f} | {s.texts_per_second(256):,.0f} | "
            f"{s.peak_rss_bytes / 1e6:.1f} |"
        )
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    results = run(_parse(argv))
    print(markdown(results))
    met = results["targets"]["ratio_met"] and results["targets"]["vectorize_share_met"]
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
