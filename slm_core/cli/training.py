"""``train`` (a file or demo into stored runs) and ``retrain`` (a stopped run again)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from slm_core.cli.common import (
    EXIT_OK,
    EXIT_USER,
    add_command,
    add_json_arg,
    add_run_arg,
    open_store,
)
from slm_core.cli.data import add_source_args, read_source
from slm_core.errors import SlmError


def cmd_train(args: argparse.Namespace) -> int:
    from slm_core import jobs
    from slm_core.data.types import SplitConfig
    from slm_core.dataset import expected_train_rows, prepare_dataset, register_dataset
    from slm_core.models.registry import MODEL_IDS, PRESETS, resolve_params

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODEL_IDS]
    if unknown or not models:
        raise SlmError(
            "errors.cli.unknown_models",
            models=", ".join(unknown) or "(none)",
            choices=", ".join(MODEL_IDS),
        )
    if args.preset not in PRESETS:
        raise SlmError("errors.cli.unknown_preset", preset=args.preset, choices=", ".join(PRESETS))
    overrides = {"epochs": args.epochs} if args.epochs is not None else {}
    # Validate every model's parameters before anything is stored or trained.
    params = {m: resolve_params(m, args.preset, overrides) for m in models}
    if "minilm_finetune" in models:  # hours on a CPU: only on a GPU or when accepted
        from slm_core.models.minilm.finetune import require_consent

        require_consent(bool(getattr(args, "accept_cpu_time", False)))

    sweep = None
    if getattr(args, "sweep", None):
        from slm_core.sweeps import SWEEP_KEY, search_space

        if args.preset != "thorough":
            raise SlmError("errors.sweep.not_for_preset")
        for model_id in models:
            search_space(model_id)  # a model without a settings search: one line, exit 2
        sweep = {SWEEP_KEY: {"trials": int(args.sweep)}}

    if getattr(args, "dataset", None):  # stored already, e.g. a large file added by `ingest`
        if args.file or args.demo:
            raise SlmError("errors.cli.dataset_and_file")
        store = open_store()
        dataset = store.find_dataset(args.dataset)
        n_train = expected_train_rows(dataset.report, dataset.split_config)
    else:
        read, mapping, name, filename = read_source(args)
        prepared = prepare_dataset(read, mapping, name, filename, SplitConfig(seed=args.seed))
        n_train = expected_train_rows(prepared.report.to_dict(), asdict(prepared.split_config))
        store = open_store()
        dataset = register_dataset(store, prepared, source="cli")
    # Presets may depend on the training split's size: resolve again now that it is known.
    params = {m: resolve_params(m, args.preset, overrides, n_train) for m in models}
    run_ids = []
    for model_id in models:
        run_params = dict(params[model_id], seed=args.seed, split_seed=args.seed, **(sweep or {}))
        run = store.create_run(dataset.id, model_id, args.preset, run_params)
        if not args.json:
            print(f"training {model_id} (run {run.id}) ...", file=sys.stderr)
        run_ids.append(run.id)
    # One after another here, or as Ray tasks at once with SLM_EXECUTOR=ray.
    results = [_run_result(run) for run in jobs.run_batch(store, run_ids)]
    if args.json:
        print(json.dumps({"dataset_id": dataset.id, "runs": results}, indent=2))
    else:
        print(f"dataset_id: {dataset.id}  ({dataset.name}, {dataset.rows} rows)")
        print(
            f"{'run':>5}  {'model':<12} {'status':<10} {'accuracy':>8} {'macro_f1':>8} "
            f"{'train_s':>8}  artifact"
        )
        for r in results:
            acc = f"{r['accuracy']:.4f}" if r["accuracy"] is not None else "-"
            f1 = f"{r['macro_f1']:.4f}" if r["macro_f1"] is not None else "-"
            secs = f"{r['train_seconds']:.1f}" if r["train_seconds"] is not None else "-"
            print(
                f"{r['run_id']:>5}  {r['model']:<12} {r['status']:<10} {acc:>8} {f1:>8} "
                f"{secs:>8}  {r['artifact_path'] or r['error'] or ''}"
            )
    failed = [r for r in results if r["status"] != "succeeded"]
    if failed:
        print(
            f"error: {len(failed)} run(s) did not succeed: "
            f"{failed[0]['model']}: {failed[0]['error']}",
            file=sys.stderr,
        )
        return EXIT_USER
    return EXIT_OK


def _run_result(run) -> dict:
    """What `train` and `retrain` print about one finished run."""
    metrics = run.metrics or {}
    return {
        "run_id": run.id,
        "model": run.model_id,
        "status": run.status,
        "error": run.error,
        "accuracy": metrics.get("accuracy"),
        "macro_f1": metrics.get("macro_f1"),
        "train_seconds": run.train_seconds,
        "artifact_path": run.artifact_path,
        "params": run.params,  # a sweep's promoted settings among them
    }


def cmd_retrain(args: argparse.Namespace) -> int:
    from slm_core import jobs

    store = open_store()
    store.restart_run(args.run)  # SlmError unless it is an interrupted, failed or cancelled run
    if not args.json:
        print(f"training run {args.run} again ...", file=sys.stderr)
    (run,) = jobs.run_batch(store, [args.run])
    result = _run_result(run)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"run {run.id} ({run.model_id}): {run.status}  {run.artifact_path or ''}")
    if run.status != "succeeded":
        print(f"error: run {run.id} did not succeed: {run.error}", file=sys.stderr)
        return EXIT_USER
    return EXIT_OK


def add_commands(sub) -> None:
    p = add_command(sub, "train", cmd_train, "train models on a data file and store the runs")
    add_source_args(p)
    p.add_argument(
        "--dataset",
        help="train on a stored dataset (id, id prefix or name; e.g. one added by `ingest`) "
        "instead of a file",
    )
    p.add_argument("--models", default="tfidf_lr", help="comma-separated model ids")
    p.add_argument("--preset", default="balanced", help="quick, balanced or thorough")
    p.add_argument("--epochs", type=int, help="override the preset's epochs (neural models)")
    p.add_argument("--seed", type=int, default=42, help="split and model seed")
    p.add_argument(
        "--sweep",
        type=int,
        metavar="N",
        help="with --preset thorough: try N settings on the validation split first, train the best",
    )
    p.add_argument(
        "--accept-cpu-time",
        action="store_true",
        help="fine-tune minilm_finetune on the CPU when no GPU is visible (minutes to hours)",
    )
    p = add_command(
        sub,
        "retrain",
        cmd_retrain,
        "train an interrupted, failed or cancelled run again, same settings",
    )
    add_run_arg(p)
    add_json_arg(p)
