"""Stand-ins for ``slm_core.train:execute_run`` used by the job tests.

Each is called as ``fn(store_url, home, run_id)`` in the runner's child process, exactly like
the real trainer. Run params choose the pace: ``steps`` and ``delay`` (seconds per step).
"""

from __future__ import annotations

import os
import signal
import time

from slm_core.errors import CancelledError
from slm_core.store import RunStore


def _store(store_url: str, home: str) -> RunStore:
    return RunStore(store_url, home)


def steps(store_url: str, home: str, run_id: int) -> None:
    """Report progress and history step by step, stop when cancelled, then succeed."""
    store = _store(store_url, home)
    params = store.get_run(run_id).params
    total = int(params.get("steps", 3))
    delay = float(params.get("delay", 0.01))
    for step in range(total):
        if store.is_cancel_requested(run_id):
            raise CancelledError("Cancelled by the user.")
        store.set_progress(
            run_id,
            {
                "epoch": step + 1,
                "epochs": total,
                "batch": None,
                "batches": None,
                "fraction": (step + 1) / total,
                "message": f"step {step + 1}",
            },
        )
        store.append_history(run_id, {"loss": 1.0 / (step + 1), "accuracy": step / total})
        time.sleep(delay)
    path = store.artifact_dir(run_id)
    (path / "model.txt").write_text("trained")
    store.finish_run(
        run_id,
        "succeeded",
        metrics={"accuracy": 1.0},
        train_seconds=total * delay,
        artifact_path=str(path),
    )


def boom(store_url: str, home: str, run_id: int) -> None:
    """Fail the way a bad hyper-parameter would."""
    print("about to fail", flush=True)
    raise ValueError("units must be positive, got -1\n(a second line that must not show)")


def killed(store_url: str, home: str, run_id: int) -> None:
    """Die by SIGKILL without recording anything, as the kernel's OOM killer does."""
    os.kill(os.getpid(), signal.SIGKILL)


def hard_exit(store_url: str, home: str, run_id: int) -> None:
    """Leave through os._exit, skipping every handler."""
    os._exit(3)


def stubborn(store_url: str, home: str, run_id: int) -> None:
    """Never look at the cancel flag, like a long native op; only a kill stops it."""
    store = _store(store_url, home)
    store.set_progress(run_id, {"message": "stuck in a long op"})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.05)
    store.finish_run(run_id, "succeeded")


def by_model(store_url: str, home: str, run_id: int) -> None:
    """Dispatch on the run's model id, so one runner can meet several behaviours in order."""
    model_id = _store(store_url, home).get_run(run_id).model_id
    behaviours = {
        "steps": steps,
        "boom": boom,
        "killed": killed,
        "hard_exit": hard_exit,
        "stubborn": stubborn,
    }
    behaviours[model_id](store_url, home, run_id)
