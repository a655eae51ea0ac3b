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
vectorisation is <= 20% of the app path's time.

Linear models (issue 12): tfidf_lr, tfidf_svm and nb are trained on three demos (tweets,
English words; Chinese reviews, character n-grams; BBC News, long English articles) and, in one
process pinned to one CPU, the app's single-text path in the compiled NumPy form is timed
against the scikit-learn path on the same held-out texts, alternating rounds so that load on
the machine falls on both: p50/p95 per text, their ratio, agreement and max |dp| over every
held-out text. Target: <= 0.1 ms p50 on tweets-length text, agreement 100%, max |dp| <= 1e-6.

Writes ``bench/results/inference.json`` and ``bench/results/inference.md``; ``--part linear``
runs only the linear part and keeps the stored LSTM part.

    python bench/inference_bench.py [--rows 8000] [--epochs 2] [--seconds 2] [--part all]
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
LINEAR_MODELS = ("tfidf_lr", "tfidf_svm", "nb")
# (demo, rows sampled; 0 = all): tweets-length English, short Chinese, BBC-length English.
LINEAR_DEMOS = (("tweets", 8000), ("reviews_zh", 8000), ("bbc_news", 0))
LINEAR_TARGET_P50_MS = 0.1  # on tweets-length text, one thread
LINEAR_TARGET_MAX_DIFF = 1e-6
LINEAR_TEST_SHARE = 0.2
LINEAR_TIMED_TEXTS = 1000
LINEAR_ROUNDS = 4  # alternating timing rounds per path


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
    p.add_argument(
        "--linear-preset",
        default="balanced",
        help="preset of the linear models (balanced: word 1-2-grams, char 1-4-grams)",
    )
    p.add_argument(
        "--part",
        choices=("all", "linear"),
        default="all",
        help="'linear' runs only the linear models and keeps the stored LSTM results",
    )
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


# ------------------------------------------------------------------ linear models


def _linear_split(demo: str, rows: int, seed: int):
    """(train texts, train labels, held-out texts, held-out labels, token unit) of a demo."""
    import numpy as np

    from slm_core.dataset import load_demo_dataset

    prepared = load_demo_dataset(demo)
    frame = prepared.frame
    if rows and rows < len(frame):
        frame = frame.sample(n=rows, random_state=seed)
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    held = np.zeros(len(frame), dtype=bool)
    held[: int(len(frame) * LINEAR_TEST_SHARE)] = True
    texts, labels = frame["text"].astype(str).tolist(), frame["label"].astype(str).tolist()
    pick = lambda mask: [v for v, m in zip(texts, mask, strict=True) if m]  # noqa: E731
    pick_y = lambda mask: [v for v, m in zip(labels, mask, strict=True) if m]  # noqa: E731
    unit = prepared.report.token_unit
    return pick(~held), pick_y(~held), pick(held), pick_y(held), unit


def _alternating(paths: dict, texts: list[str], config, rounds: int) -> dict[str, dict]:
    """Time every path on the same texts in alternating rounds; statistics over all rounds."""
    from slm_core.runtime.latency import summarize, time_calls

    samples: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, fn in paths.items():
            _, raw = time_calls(fn, texts, config)
            samples[name].extend(raw)
    return {name: summarize(raw).to_dict() for name, raw in samples.items()}


def linear_part(args: argparse.Namespace) -> dict:
    """The compiled NumPy form against scikit-learn for every linear model on three demos."""
    import numpy as np

    from slm_core.models.registry import build
    from slm_core.runtime.latency import LatencyConfig
    from slm_core.runtime.serve import load_predictor

    try:  # one CPU for this process: one thread for both paths, as a one-vCPU server
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})
    except (AttributeError, OSError):
        cpus = []
    config = LatencyConfig(
        min_calls=args.calls, min_seconds=args.seconds / LINEAR_ROUNDS, warmup_calls=20
    )
    workdir = Path(tempfile.mkdtemp(prefix="slm_linear_bench_"))
    from slm_core.models.saved import trust_model_root

    trust_model_root(workdir)  # its models are saved here, outside any run store
    load_start = os.getloadavg()[0]  # other work on the machine slows both paths alike
    rows = []
    for demo, n_rows in LINEAR_DEMOS:
        train, train_y, held, held_y, unit = _linear_split(demo, n_rows, args.seed)
        timed = [t for t in held if t.strip()][:LINEAR_TIMED_TEXTS]
        chars = float(np.median([len(t) for t in timed]))
        for model_id in LINEAR_MODELS:
            started = time.perf_counter()
            model = build(model_id, args.linear_preset, token_unit=unit, seed=args.seed)
            model.fit(train, train_y)
            fit_s = time.perf_counter() - started
            model_dir = workdir / demo / model_id
            model.save(model_dir)
            fast = load_predictor(model_dir, threads=1, form="numpy")
            reference = load_predictor(model_dir, threads=1, form="sklearn")
            proba_fast = fast.predict_proba(held)
            proba_ref = reference.predict_proba(held)
            names = np.array(reference.classes_, dtype=object)
            truth = np.array(held_y, dtype=object)
            latency = _alternating(
                {"numpy": fast.predict_one, "sklearn": reference.predict_one},
                timed,
                config,
                LINEAR_ROUNDS,
            )
            row = {
                "demo": demo,
                "token_unit": unit,
                "model_id": model_id,
                "n_train": len(train),
                "n_held_out": len(held),
                "median_chars": chars,
                "fit_seconds": fit_s,
                "n_terms": len(model.vectorizer_.vocabulary_),
                "accuracy_sklearn": float(np.mean(names[proba_ref.argmax(axis=1)] == truth)),
                "accuracy_numpy": float(np.mean(names[proba_fast.argmax(axis=1)] == truth)),
                "agreement": float(np.mean(proba_fast.argmax(axis=1) == proba_ref.argmax(axis=1))),
                "max_abs_diff": float(np.abs(proba_fast - proba_ref).max()),
                "latency_ms": latency,
                "ratio_p50": latency["sklearn"]["p50"] / latency["numpy"]["p50"],
                "bytes": {
                    "numpy": fast.artifact_bytes,
                    "sklearn": reference.artifact_bytes,
                },
            }
            rows.append(row)
            print(
                f"{demo:<11} {model_id:<10} numpy p50 {latency['numpy']['p50']:.4f} ms, "
                f"sklearn {latency['sklearn']['p50']:.4f} ms ({row['ratio_p50']:.1f}x), "
                f"agreement {row['agreement']:.2%}, max |dp| {row['max_abs_diff']:.1e}",
                flush=True,
            )
    if cpus:
        os.sched_setaffinity(0, set(cpus))
    tweets = [r for r in rows if r["demo"] == "tweets"]
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "logical_cpus": len(cpus) or None,
            "load_average_1min": [load_start, os.getloadavg()[0]],
        },
        "settings": {
            "preset": args.linear_preset,
            "seed": args.seed,
            "min_calls_per_round": args.calls,
            "rounds": LINEAR_ROUNDS,
            "min_seconds_per_round": config.min_seconds,
            "threads": 1,
            "held_out_share": LINEAR_TEST_SHARE,
            "timed_texts": LINEAR_TIMED_TEXTS,
        },
        "rows": rows,
        "targets": {
            "p50_ms_at_most": LINEAR_TARGET_P50_MS,
            "p50_met_on_tweets": all(
                r["latency_ms"]["numpy"]["p50"] <= LINEAR_TARGET_P50_MS for r in tweets
            ),
            "max_abs_diff_at_most": LINEAR_TARGET_MAX_DIFF,
            "exact": all(
                r["agreement"] == 1.0 and r["max_abs_diff"] <= LINEAR_TARGET_MAX_DIFF for r in rows
            ),
        },
    }


def linear_markdown(r: dict) -> list[str]:
    """The linear part as Markdown lines."""
    t = r["targets"]
    lines = [
        "## Linear models: compiled NumPy form vs scikit-learn (issue 12)",
        "",
        f"Generated {r['generated_at']}. One process pinned to one CPU, the app's single-text "
        f"path (`Predictor.predict_one`: raw text in, label and probabilities out) of both "
        f"forms on the same held-out texts ({r['settings']['held_out_share']:.0%} of each "
        f"demo, never trained on), {r['settings']['rounds']} alternating rounds each. "
        f"`{r['settings']['preset']}` preset. Machine load (1-minute average) "
        f"{' → '.join(f'{v:.1f}' for v in r['machine'].get('load_average_1min', []))} on "
        f"{r['machine'].get('logical_cpus')} CPUs: other work slows both paths alike, so "
        f"compare ratios across machines.",
        "",
        f"Targets: p50 ≤ {t['p50_ms_at_most']} ms on tweets-length text — "
        f"**{'met' if t['p50_met_on_tweets'] else 'NOT met'}**; agreement 100% and max |Δp| ≤ "
        f"{t['max_abs_diff_at_most']:g} on every model — "
        f"**{'met' if t['exact'] else 'NOT met'}**.",
        "",
        "| demo (median chars) | model | NumPy p50 | NumPy p95 | scikit-learn p50 | "
        "scikit-learn p95 | speed-up (p50) | agreement | max \\|Δp\\| | accuracy | "
        "size NumPy / sklearn |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        fast, ref = row["latency_ms"]["numpy"], row["latency_ms"]["sklearn"]
        lines.append(
            f"| {row['demo']} ({row['median_chars']:.0f}) | {row['model_id']} | "
            f"{fast['p50']:.4f} | {fast['p95']:.4f} | {ref['p50']:.4f} | {ref['p95']:.4f} | "
            f"{row['ratio_p50']:.1f}× | {row['agreement']:.2%} | {row['max_abs_diff']:.1e} | "
            f"{row['accuracy_numpy']:.3f} | {row['bytes']['numpy'] / 1e6:.2f} / "
            f"{row['bytes']['sklearn'] / 1e6:.2f} MB |"
        )
    lines += [
        "",
        "Latency in ms per text. Accuracy is the NumPy form's own on the held-out texts "
        "(scikit-learn's is identical where agreement is 100%). Size: the served file "
        "(`linear_form.npz` + `model.json` vs `model.joblib` + `model.json`).",
        "",
    ]
    return lines


def run(args: argparse.Namespace) -> dict:
    """Run the benchmark and return the results (also written to ``args.out``)."""
    if args.part == "linear":
        return _linear_only(args)
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
    results["linear"] = linear_part(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "inference.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    (args.out / "inference.md").write_text(markdown(results), encoding="utf-8")
    return results


def _linear_only(args: argparse.Namespace) -> dict:
    """Only the linear part, merged into the stored results (the LSTM part is kept)."""
    path = args.out / "inference.json"
    results = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    results["linear"] = linear_part(args)
    args.out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2), encoding="utf-8")
    (args.out / "inference.md").write_text(markdown(results), encoding="utf-8")
    return results


def _ms(value) -> str:
    return "—" if value is None else f"{value:.3f}"


def markdown(r: dict) -> str:
    """The results as a short Markdown report."""
    if "app_path" not in r:  # only the linear part has been run
        return "\n".join(["# Inference benchmark", "", *linear_markdown(r["linear"])])
    lines = _lstm_markdown(r)
    if "linear" in r:
        lines += linear_markdown(r["linear"])
    return "\n".join(lines)


def _lstm_markdown(r: dict) -> list[str]:
    """The LSTM part (issue 5) as Markdown lines."""
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
    return lines


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    results = run(args)
    print(markdown(results))
    linear = results["linear"]["targets"]
    met = linear["exact"] and linear["p50_met_on_tweets"]
    if args.part == "all":
        met = met and results["targets"]["ratio_met"] and results["targets"]["vectorize_share_met"]
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
