"""Test accuracy of every model on both demo datasets, next to the best linear baseline.

Issue 3's goal for the "balanced" preset: on both demos every Keras model within 2 accuracy
points of the best linear baseline trained in the same run, and none at the majority-class rate.
Splits are the app's default (70/15/15 stratified, seed 42, duplicates and conflicting labels
removed); the Keras models stop early on the validation split, and accuracy is measured once on
the test split. Each model trains in its own process.

Usage::

    python bench/accuracy_bench.py                       # both demos, all models, ~10 min
    python bench/accuracy_bench.py --demos tweets --models tfidf_svm,cnn --seeds 1,2,3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workers import print_result, run_worker  # noqa: E402  (bench/ is this script's folder)

from slm_core.models.registry import LINEAR_IDS as LINEAR  # noqa: E402
from slm_core.models.registry import NEURAL_IDS as NEURAL  # noqa: E402

DEMOS = ("bbc_news", "tweets")
MAX_GAP = 0.02


def _work(demo: str, model_id: str, preset: str, seed: int) -> dict:
    import numpy as np

    from slm_core.data.split import make_splits
    from slm_core.data.types import SplitConfig
    from slm_core.dataset import load_demo_dataset
    from slm_core.models.registry import build

    splits = make_splits(load_demo_dataset(demo).frame, SplitConfig(seed=42))
    model = build(model_id, preset, seed=seed)
    start = time.perf_counter()
    model.fit(
        list(splits.train["text"]),
        list(splits.train["label"]),
        list(splits.val["text"]),
        list(splits.val["label"]),
    )
    seconds = time.perf_counter() - start
    predicted = np.array(model.predict(list(splits.test["text"])))
    expected = splits.test["label"].to_numpy()
    return {
        "accuracy": float(np.mean(predicted == expected)),
        "fit_seconds": seconds,
        "epochs_run": len(getattr(model, "history_", {}).get("loss", [])),
        "classes_predicted": int(len(set(predicted))),
        "majority": float(splits.test["label"].value_counts(normalize=True).iloc[0]),
        "n_train": len(splits.train),
        "n_test": len(splits.test),
    }


def _run(demo: str, model_id: str, preset: str, seed: int) -> dict:
    return run_worker([sys.executable, __file__, "--worker", f"{demo}:{model_id}:{preset}:{seed}"])


def _judge(results: dict[str, dict]) -> dict:
    """Per demo: the best linear model and, per Keras model, its gap and whether it passes."""
    ok = {k: r for k, r in results.items() if "error" not in r}
    linear = {k: r["accuracy"] for k, r in ok.items() if k in LINEAR}
    if not linear:
        return {}
    best = max(linear, key=linear.get)
    verdicts = {}
    for model_id, r in ok.items():
        if model_id in LINEAR:
            continue
        gap = linear[best] - r["accuracy"]
        above_majority = r["accuracy"] > r["majority"] + 0.05 and r["classes_predicted"] > 1
        verdicts[model_id] = {
            "gap": gap,
            "within": gap <= MAX_GAP + 1e-12,
            "above_majority": above_majority,
        }
    return {"best_linear": best, "best_linear_accuracy": linear[best], "models": verdicts}


def _markdown(report: dict) -> str:
    lines = [
        "# Accuracy benchmark (both demo datasets)",
        "",
        f"Preset `{report['preset']}`, seeds {report['seeds']}; {report['machine']}. Goal (issue "
        f"3): every Keras model within {MAX_GAP * 100:g} accuracy points of the best linear "
        "baseline of the same run, and above the majority-class rate.",
        "",
    ]
    for demo, per_seed in report["demos"].items():
        for seed, block in per_seed.items():
            results, judged = block["results"], block["judged"]
            any_result = next((r for r in results.values() if "error" not in r), None)
            sizes = (
                f"{any_result['n_train']} training / {any_result['n_test']} test texts, "
                f"majority class {any_result['majority']:.3f}"
                if any_result
                else ""
            )
            lines += [
                f"## {demo}, seed {seed}",
                "",
                sizes,
                "",
                "| model | test accuracy | gap to best linear | epochs | fit s | goal met |",
                "|---|---|---|---|---|---|",
            ]
            for model_id, r in results.items():
                if "error" in r:
                    lines.append(f"| {model_id} | failed: {r['error'].splitlines()[-1][:80]} |")
                    continue
                verdict = judged.get("models", {}).get(model_id)
                if verdict is None:
                    best = "(best linear)" if model_id == judged.get("best_linear") else ""
                    gap, met = best, ""
                else:
                    gap = f"{verdict['gap'] * 100:+.1f} points"
                    met = "yes" if verdict["within"] and verdict["above_majority"] else "no"
                lines.append(
                    f"| {model_id} | {r['accuracy']:.4f} | {gap} | {r['epochs_run'] or ''} "
                    f"| {r['fit_seconds']:.0f} | {met} |"
                )
            lines.append("")
    lines += [
        "Gap = best linear accuracy minus the model's (positive: the model is behind). Each "
        "model trained in its own process on the app's default split; the Keras models stop "
        "early on the validation split and restore their best epoch.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demos", default=",".join(DEMOS))
    parser.add_argument("--models", default=",".join(LINEAR + NEURAL))
    parser.add_argument("--preset", default="balanced")
    parser.add_argument("--seeds", default="42", help="model seeds, comma-separated")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        demo, model_id, preset, seed = args.worker.split(":")
        print_result(_work(demo, model_id, preset, int(seed)))
        return 0

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    demos: dict[str, dict] = {}
    for demo in [d.strip() for d in args.demos.split(",") if d.strip()]:
        demos[demo] = {}
        for seed in seeds:
            results = {}
            for model_id in models:
                results[model_id] = _run(demo, model_id, args.preset, seed)
                print(f"{demo} seed {seed} {model_id}: {results[model_id]}", file=sys.stderr)
            demos[demo][str(seed)] = {"results": results, "judged": _judge(results)}
    report = {
        "benchmark": "accuracy",
        "preset": args.preset,
        "seeds": seeds,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "max_gap": MAX_GAP,
        "demos": demos,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "accuracy.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (out / "accuracy.md").write_text(_markdown(report), encoding="utf-8")
    print(_markdown(report))
    failed = any(
        "error" in r for d in demos.values() for b in d.values() for r in b["results"].values()
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
