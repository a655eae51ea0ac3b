"""The fine-tuning time estimate as background work, never inside a page's script run.

Measuring it loads TensorFlow and the encoder and times real training steps (10-20 s here):
the Train page starts ``python -m slm_core.models.minilm.estimate_job`` detached, shows that
it is measuring, and reads the result when it lands. The result, or the reason it failed, is
one JSON file per dataset and fine-tuning settings (``SLM_HOME/estimates/<dataset>.<hash>.json``,
removed with the dataset), written atomically; a start claims ``<dataset>.<hash>.start``
exclusively, so two clicks (or two tabs) measure once, and a claim whose process died is taken
over after ``STALE_START_S``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slm_core.atomic import write_text_atomic
from slm_core.errors import SlmError
from slm_core.locks import claim_file
from slm_core.store.processes import pid_alive, spawn_detached

FOLDER = "estimates"
# A claim older than this belongs to a process that died (a measurement takes under a minute).
STALE_START_S = 300.0
# A claim holds 0 until the measuring process writes its pid: this young, it counts as starting.
STARTING_S = 30.0


@dataclass(frozen=True)
class EstimateFailure:
    """Why the time could not be measured, in the user's words (a catalogue key's text)."""

    reason: str


def _key(dataset_id: str, params: dict[str, Any], n_train: int) -> str:
    raw = json.dumps([dataset_id, params, int(n_train)], sort_keys=True, default=str)
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


def _paths(store, dataset_id: str, params: dict[str, Any], n_train: int) -> tuple[Path, Path]:
    folder = store.home / FOLDER
    # Named after the dataset too, so that deleting the dataset deletes them.
    key = f"{dataset_id}.{_key(dataset_id, params, n_train)}"
    return folder / f"{key}.json", folder / f"{key}.start"


def read(store, dataset_id: str, params: dict[str, Any], n_train: int):
    """The stored estimate (``FinetuneEstimate``), an :class:`EstimateFailure`, or None."""
    from slm_core.models.minilm.finetune import FinetuneEstimate

    result, _ = _paths(store, dataset_id, params, n_train)
    try:
        data = json.loads(result.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if "error" in data:
        return EstimateFailure(str(data["error"]))
    data.pop("minutes", None)
    return FinetuneEstimate(**data)


def measuring(store, dataset_id: str, params: dict[str, Any], n_train: int) -> bool:
    """Whether a measurement of these settings is under way: claimed, and its process alive
    (or just starting), and not older than ``STALE_START_S``."""
    _, claim = _paths(store, dataset_id, params, n_train)
    try:
        age = time.time() - claim.stat().st_mtime
        pid = int(claim.read_text(encoding="utf-8") or 0)
    except (OSError, ValueError):
        return False
    if age >= STALE_START_S:
        return False
    return age < STARTING_S or pid_alive(pid)


def start(store, dataset_id: str, params: dict[str, Any], n_train: int) -> bool:
    """Measure in a detached process, unless one measures these settings already; a stored
    result (or failure) is replaced. True if a process was started now."""
    from slm_core.jobs import child_env

    result, claim = _paths(store, dataset_id, params, n_train)
    if measuring(store, dataset_id, params, n_train):
        return False
    # Not measuring: a claim left there is stale (its process died), taken over at any age.
    if not claim_file(claim, "0", stale_after_s=0.0):
        return False  # another start won the race
    result.unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "slm_core.models.minilm.estimate_job", dataset_id,
        "--params", json.dumps(params, default=str), "--n-train", str(int(n_train)),
    ]  # fmt: skip
    # The store's home and database (a PostgreSQL store too) as every worker gets them.
    env = {**child_env(store), "TF_CPP_MIN_LOG_LEVEL": "2"}
    log = store.home / "logs" / "finetune-estimate.log"
    try:
        spawn_detached(command, log, env, "finetune-estimate")
    except OSError:
        claim.unlink(missing_ok=True)
        raise
    return True


def measure(store, dataset_id: str, params: dict[str, Any], n_train: int):
    """Time real training steps on a sample of the stored dataset (what the process does)."""
    from slm_core.data.types import SplitConfig
    from slm_core.dataset import usable_rows
    from slm_core.models.minilm import finetune

    dataset = store.get_dataset(dataset_id)
    frame = store.load_frame(dataset_id)
    sample = frame.sample(min(len(frame), 64), random_state=0)
    share = float((dataset.split_config or {}).get("val", SplitConfig().val))
    n_val = round(usable_rows(dataset.report) * share)
    return finetune.estimate(
        sample["text"].astype(str).tolist(),
        sample["label"].astype(str).tolist(),
        params,
        n_train,
        n_val,
    )


def run(store, dataset_id: str, params: dict[str, Any], n_train: int) -> int:
    """Measure and store the estimate or why it failed; release the claim. Exit status."""
    result, claim = _paths(store, dataset_id, params, n_train)
    claim.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(claim, str(os.getpid()))  # the claim names the process that measures
    try:
        data, status = measure(store, dataset_id, params, n_train).to_dict(), 0
    except SlmError as exc:
        data, status = {"error": str(exc)}, 1
    except Exception as exc:  # noqa: BLE001 - any crash is a reason on the page, not a hang
        reason = SlmError("errors.minilm.estimate_failed", error=str(exc) or type(exc).__name__)
        data, status = {"error": str(reason)}, 1
    write_text_atomic(result, json.dumps(data))
    claim.unlink(missing_ok=True)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset_id")
    parser.add_argument("--params", required=True, help="the fine-tuning settings, as JSON")
    parser.add_argument("--n-train", type=int, required=True)
    args = parser.parse_args(argv)
    from slm_core.store import RunStore

    store = RunStore()
    try:
        return run(store, args.dataset_id, json.loads(args.params), args.n_train)
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
