"""Background jobs for real: a detached runner process, one child process per run.

Targets live in tests/job_targets.py; ``by_model`` picks the behaviour from the run's model id,
so one runner meets successes, crashes and stubborn runs in queue order.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pandas as pd
import pytest

from slm_core import jobs
from slm_core.errors import SlmError
from slm_core.store import INTERRUPTED_MESSAGE, RunStore, pid_alive

TARGET = "tests.job_targets:by_model"
# The runner and its children reach the store through SLM_DATABASE_URL=store.url, so the
# PostgreSQL variants below prove a detached worker works against a shared server too.


def wait_for(predicate: Callable[[], object], timeout: float = 20.0, what: str = "") -> object:
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")


def _kill(pid: int | None) -> None:
    if pid and pid != os.getpid() and pid_alive(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def store(request, fresh_home, monkeypatch):
    """SQLite by default; tests marked ``parametrize("store", ..., indirect=True)`` get both."""
    monkeypatch.setenv("SLM_JOB_TARGET", TARGET)
    backend = getattr(request, "param", "sqlite")
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else None
    store = RunStore(url, home=fresh_home)
    yield store
    # Leave no process of ours behind: cancel what is left, give the runner a moment, then
    # kill the runner and any training child we started.
    for run in store.list_runs(statuses=["queued", "running"]):
        store.request_cancel(run.id)
    deadline = time.monotonic() + 10
    while jobs.runner_alive(store.home) and time.monotonic() < deadline:
        time.sleep(0.1)
    if jobs.runner_alive(store.home):
        _kill(jobs.runner_pid(store.home))
    for run in store.list_runs(statuses=["running"]):
        _kill(run.pid)


@pytest.fixture
def dataset(store):
    frame = pd.DataFrame({"text": ["a", "b"], "label": ["x", "y"]})
    return store.add_dataset("tiny", "cli", None, "0" * 64, frame)


def _status(store: RunStore, run_id: int, *statuses: str) -> Callable[[], bool]:
    return lambda: store.get_run(run_id).status in statuses


def _done(store: RunStore, run_id: int) -> Callable[[], bool]:
    return lambda: store.get_run(run_id).is_finished


@pytest.mark.parametrize("store", ["sqlite", "postgresql"], indirect=True)
def test_two_queued_runs_succeed_in_order(store, dataset):
    first = jobs.submit(store, dataset.id, "steps", "quick", {"steps": 3})
    second = jobs.submit(store, dataset.id, "steps", "quick", {"steps": 4})
    assert first.status == second.status == "queued"
    wait_for(_done(store, second.id), what="second run")
    a, b = store.get_run(first.id), store.get_run(second.id)
    assert a.status == b.status == "succeeded", (a.error, b.error)
    assert a.finished_at <= b.started_at  # one at a time, oldest first
    assert a.history["loss"] == [1.0, 0.5, 1 / 3] and len(b.history["loss"]) == 4
    assert b.progress["fraction"] == 1.0 and b.metrics == {"accuracy": 1.0}
    assert (store.artifact_dir(b.id) / "model.txt").read_text() == "trained"
    # Each run trained in its own child process, not in the runner or here.
    assert len({a.pid, b.pid, jobs.runner_pid(store.home), os.getpid()}) == 4
    wait_for(lambda: not pid_alive(b.pid), what="child to exit")
    assert store.log_path(a.id).exists()
    wait_for(lambda: not jobs.runner_alive(store.home), what="runner to exit on empty queue")


def test_cancel_running_job_stops_within_seconds(store, dataset):
    run = jobs.submit(store, dataset.id, "steps", "quick", {"steps": 400, "delay": 0.05})
    wait_for(lambda: store.get_run(run.id).history.get("loss"), what="progress")
    assert store.get_run(run.id).status == "running"
    assert jobs.cancel(store, run.id).cancel_requested
    wait_for(_done(store, run.id), timeout=10, what="cancel")
    done = store.get_run(run.id)
    assert done.status == "cancelled" and done.error
    assert len(done.history["loss"]) < 400


def test_cancel_queued_job_never_starts(store, dataset):
    running = jobs.submit(store, dataset.id, "steps", "quick", {"steps": 400, "delay": 0.05})
    queued = jobs.submit(store, dataset.id, "steps", "quick", {"steps": 1})
    wait_for(_status(store, running.id, "running"), what="first run to start")
    assert jobs.cancel(store, queued.id).status == "cancelled"  # at once, no worker involved
    jobs.cancel(store, running.id)
    wait_for(lambda: not jobs.runner_alive(store.home), what="runner to exit")
    assert store.get_run(running.id).status == "cancelled"
    assert store.get_run(queued.id).started_at is None


def test_job_that_ignores_cancel_is_killed_after_grace(store, dataset):
    run = jobs.submit(store, dataset.id, "stubborn", "quick", {}, grace_s=0.5)
    wait_for(lambda: store.get_run(run.id).progress.get("message"), what="stubborn start")
    child = store.get_run(run.id).pid
    jobs.cancel(store, run.id)
    wait_for(_done(store, run.id), timeout=10, what="kill after grace")
    assert store.get_run(run.id).status == "cancelled"
    wait_for(lambda: not pid_alive(child), timeout=5, what="child to be gone")


@pytest.mark.parametrize("store", ["sqlite", "postgresql"], indirect=True)
def test_crashes_fail_only_their_run(store, dataset):
    ids = {
        model: jobs.submit(store, dataset.id, model, "quick", {}).id
        for model in ("killed", "boom", "hard_exit", "steps")
    }
    wait_for(_done(store, ids["steps"]), timeout=30, what="the run queued after the crashes")
    runs = {model: store.get_run(run_id) for model, run_id in ids.items()}
    assert [r.status for r in runs.values()] == ["failed", "failed", "failed", "succeeded"]
    assert "killed (out of memory?)" in runs["killed"].error
    assert runs["boom"].error == "Training failed: ValueError: units must be positive, got -1"
    assert "exited with code 3" in runs["hard_exit"].error
    assert all("\n" not in r.error for r in list(runs.values())[:3])
    log = jobs.log_tail(store, ids["boom"])
    assert "about to fail" in log and "Traceback" in log  # enough to diagnose from the log


def test_only_one_runner_per_home(store, dataset):
    busy = jobs.submit(store, dataset.id, "steps", "quick", {"steps": 400, "delay": 0.05})
    wait_for(_status(store, busy.id, "running"), what="first run to start")
    runner = jobs.runner_pid(store.home)
    assert runner and jobs.runner_alive(store.home)
    waiting = store.create_run(dataset.id, "steps", "quick", {"steps": 1})
    assert jobs.ensure_runner(store) is False
    # A runner started by hand sees the lock, leaves the queue alone and exits.
    second = subprocess.run(
        [sys.executable, "-m", "slm_core.jobs", "--url", store.url, "--home", str(store.home)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 0 and "another runner" in second.stderr
    assert store.get_run(waiting.id).status == "queued"
    assert jobs.runner_pid(store.home) == runner
    jobs.cancel(store, busy.id)
    wait_for(_done(store, waiting.id), what="queued run after cancel")
    assert store.get_run(waiting.id).status == "succeeded"


def test_runner_stopped_by_sigterm_interrupts_its_run(store, dataset):
    run = jobs.submit(store, dataset.id, "stubborn", "quick", {})
    wait_for(lambda: store.get_run(run.id).progress.get("message"), what="stubborn start")
    child = store.get_run(run.id).pid
    os.kill(jobs.runner_pid(store.home), signal.SIGTERM)
    wait_for(_done(store, run.id), timeout=10, what="interrupted")
    assert store.get_run(run.id).status == "interrupted"
    wait_for(lambda: not pid_alive(child), timeout=5, what="child to be killed with the runner")


@pytest.mark.parametrize("store", ["sqlite", "postgresql"], indirect=True)
def test_app_restart_marks_orphaned_run_interrupted(store, dataset):
    run = jobs.submit(store, dataset.id, "stubborn", "quick", {})
    wait_for(lambda: store.get_run(run.id).progress.get("message"), what="stubborn start")
    assert store.mark_interrupted() == 0  # a live worker is left alone
    # Power cut: runner and child die without a chance to record anything.
    _kill(jobs.runner_pid(store.home))
    child = store.get_run(run.id).pid
    _kill(child)
    wait_for(lambda: not pid_alive(child), timeout=5, what="child to die")
    assert store.mark_interrupted() == 1
    assert store.get_run(run.id).error == INTERRUPTED_MESSAGE


def test_run_inline_trains_in_this_process(store, dataset):
    run = store.create_run(dataset.id, "steps", "quick", {"steps": 2})
    done = jobs.run_inline(store, run.id)
    assert done.status == "succeeded" and done.pid == os.getpid()
    assert len(done.history["loss"]) == 2
    failing = store.create_run(dataset.id, "boom", "quick", {})
    assert jobs.run_inline(store, failing.id).error.startswith("Training failed: ValueError")
    with pytest.raises(SlmError, match="not queued"):
        jobs.run_inline(store, run.id)
    silent = store.create_run(dataset.id, "m", "quick", {})
    result = jobs.run_inline(store, silent.id, target="builtins:print")
    assert result.status == "failed" and "without recording a result" in result.error
    bad = store.create_run(dataset.id, "m", "quick", {})
    assert "ModuleNotFoundError" in jobs.run_inline(store, bad.id, target="no_such:fn").error


def test_store_callbacks_write_progress_history_and_see_cancel(store, dataset):
    from slm_core.train import StoreCallbacks

    run = store.create_run(dataset.id, "lstm", "quick", {})
    store.claim_run(run.id, os.getpid())
    cb = StoreCallbacks(store, run.id, epochs=2, min_interval_s=0.0)
    cb.on_batch(0, 4, 10)
    progress = store.get_run(run.id).progress
    assert progress["epoch"] == 1 and progress["batch"] == 5 and progress["fraction"] == 0.25
    assert progress["message"] == "training"  # a stage key the interface translates
    throttled = StoreCallbacks(store, run.id, epochs=2, min_interval_s=3600.0)
    throttled.on_batch(0, 0, 10)
    throttled.on_batch(0, 5, 10)  # within the interval: not written
    assert store.get_run(run.id).progress["batch"] == 1
    throttled.on_batch(0, 9, 10)  # an epoch's last batch is always written
    assert store.get_run(run.id).progress["batch"] == 10
    cb.on_epoch(0, 2, {"loss": 0.7, "accuracy": 0.6, "val_loss": 0.8, "val_accuracy": 0.5})
    run_now = store.get_run(run.id)
    assert run_now.history["val_accuracy"] == [0.5] and run_now.progress["fraction"] == 0.5
    assert cb.should_stop() is False
    jobs.cancel(store, run.id)
    assert cb.should_stop() is True
    store.finish_run(run.id, "cancelled")


def test_submit_with_empty_queue_starts_nothing(store, dataset):
    assert jobs.ensure_runner(store) is False
    assert not jobs.runner_alive(store.home)
    assert jobs.resolve_target() == TARGET
    assert jobs.resolve_target("a:b") == "a:b"
    with pytest.raises(ValueError, match="module:function"):
        jobs.load_target("nocolon")


def test_runner_outlasts_a_brief_lock_probe(store, dataset):
    run = store.create_run(dataset.id, "steps", "quick", {"steps": 1})
    log = store.home / "probe-runner.log"
    with jobs._try_lock(store.home) as probe, open(log, "wb") as out:
        assert probe is not None  # stands in for a UI's runner_alive() check
        proc = subprocess.Popen(
            [sys.executable, "-m", "slm_core.jobs", "--url", store.url, "--home", str(store.home)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: "started" in log.read_text(), what="runner start")
        time.sleep(0.2)  # the runner now finds the lock taken
    assert proc.wait(timeout=60) == 0
    assert store.get_run(run.id).status == "succeeded", log.read_text()
