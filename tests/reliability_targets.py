"""Code that tests/test_reliability.py runs in other processes.

``dies_while_saving`` is a job target (``fn(store_url, home, run_id)``, like
``slm_core.train:execute_run``); ``python -m tests.reliability_targets claim URL HOME N GO``
is one of several processes that queue and claim runs in one store at the same time.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path


def dies_while_saving(store_url: str, home: str, run_id: int) -> None:
    """The real trainer; when ``SLM_TEST_DIE_RUN`` names this run, it is SIGKILLed half-way
    through saving (the model and the test predictions written, the rest not), after printing
    what it had written to the run's log."""
    import slm_core.train as train

    if os.environ.get("SLM_TEST_DIE_RUN") == str(run_id):
        save = train.save_predictions

        def save_then_die(out: Path, split: str, *args, **kwargs):
            save(out, split, *args, **kwargs)
            written = sorted(p.name for p in Path(out).iterdir())
            print(f"written before the kill: {written}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

        train.save_predictions = save_then_die
    train.execute_run(store_url, home, run_id)


def claim(url: str, home: str, n_create: int, go: str) -> None:
    """Wait for the file ``go``, queue ``n_create`` runs of the store's first dataset, then claim
    queued runs (as a queue runner does) until none is left; print what it created and claimed.
    """
    from slm_core.store import RunStore

    store = RunStore(url, home)
    dataset_id = store.list_datasets()[0].id
    while not Path(go).exists():
        time.sleep(0.01)
    created = [store.create_run(dataset_id, "m", "quick", {"n": i}).id for i in range(n_create)]
    claimed = []
    while (run := store.next_queued_run()) is not None:
        if store.claim_run(run.id, os.getpid()):
            claimed.append(run.id)
            store.append_history(run.id, {"loss": 1.0})  # a write from the claimer, as in training
    print(json.dumps({"pid": os.getpid(), "created": created, "claimed": claimed}))


if __name__ == "__main__":
    if sys.argv[1] == "claim":
        claim(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
