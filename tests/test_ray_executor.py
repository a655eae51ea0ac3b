"""The Ray executor for real: the queue runner starts a local Ray with 2 CPUs and trains
through it, with progress, cancel, crashes and the runner's stop settled as on local workers.

Each runner started here starts its own local Ray (~5 s); the tests queue several runs per
runner to keep that to a few starts.
"""

from __future__ import annotations

import json
import os
import signal

import pandas as pd
import pytest

from slm_core import executors, jobs
from slm_core.errors import SlmError, render
from slm_core.store import RunStore
from tests.conftest import SAMPLE_ZH, make_topic_texts, run_cli
from tests.test_jobs import _done, _kill, wait_for

RAY_TIMEOUT = 120.0  # a local Ray's start and its workers' first imports, on a busy machine


@pytest.fixture
def ray_env(monkeypatch):
    monkeypatch.setenv("SLM_EXECUTOR", "ray")
    monkeypatch.setenv("SLM_RAY_CPUS", "2")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("SLM_JOB_TARGET", raising=False)


@pytest.fixture
def store(fresh_home, ray_env):
    store = RunStore(home=fresh_home)
    yield store
    for run in store.list_runs(statuses=["queued", "running"]):
        store.request_cancel(run.id)
    try:
        wait_for(lambda: not jobs.runner_alive(store.home), timeout=30, what="runner to exit")
    except AssertionError:
        _kill(jobs.runner_pid(store.home))


def _topics(store: RunStore):
    texts, labels = make_topic_texts()
    frame = pd.DataFrame({"text": texts, "label": labels})
    return store.add_dataset("topics", "cli", None, "1" * 64, frame)


def test_executor_is_chosen_by_environment(monkeypatch):
    monkeypatch.delenv("SLM_EXECUTOR", raising=False)
    assert executors.executor_name() == "local"
    monkeypatch.setenv("SLM_EXECUTOR", " Ray ")
    assert executors.executor_name() == "ray"
    monkeypatch.setenv("SLM_EXECUTOR", "slurm")
    with pytest.raises(SlmError, match="SLM_EXECUTOR.*local, ray"):
        executors.executor_name()


def test_cancel_kill_and_crash_are_settled_as_on_local_workers(store, monkeypatch):
    monkeypatch.setenv("SLM_JOB_TARGET", "tests.job_targets:by_model")
    frame = pd.DataFrame({"text": ["a", "b"], "label": ["x", "y"]})
    dataset = store.add_dataset("tiny", "cli", None, "0" * 64, frame)
    steps = jobs.submit(store, dataset.id, "steps", "quick", {"steps": 400, "delay": 0.05})
    stubborn = jobs.submit(store, dataset.id, "stubborn", "quick", {}, grace_s=0.5)
    killed = jobs.submit(store, dataset.id, "killed", "quick", {})
    wait_for(lambda: store.get_run(steps.id).history.get("loss"), RAY_TIMEOUT, "progress")
    wait_for(lambda: store.get_run(stubborn.id).progress.get("message"), RAY_TIMEOUT, "stubborn")
    jobs.cancel(store, steps.id)  # honoured by the target within a step
    jobs.cancel(store, stubborn.id)  # ignored: the task is cancelled by force after the grace
    for run in (steps, stubborn, killed):
        wait_for(_done(store, run.id), timeout=RAY_TIMEOUT, what=f"run {run.id}")
    assert store.get_run(steps.id).status == "cancelled"
    assert len(store.get_run(steps.id).history["loss"]) < 400
    assert store.get_run(stubborn.id).status == "cancelled"
    crashed = store.get_run(killed.id)
    assert crashed.status == "failed"
    assert crashed.error.startswith("The Ray worker training this run died"), crashed.error


def test_runner_stopped_interrupts_its_ray_runs(store, monkeypatch):
    monkeypatch.setenv("SLM_JOB_TARGET", "tests.job_targets:by_model")
    frame = pd.DataFrame({"text": ["a", "b"], "label": ["x", "y"]})
    dataset = store.add_dataset("tiny", "cli", None, "0" * 64, frame)
    run = jobs.submit(store, dataset.id, "stubborn", "quick", {})
    wait_for(lambda: store.get_run(run.id).progress.get("message"), RAY_TIMEOUT, "stubborn")
    # The runner is the Ray driver: the run is recorded as its work, not a worker's pid.
    assert store.get_run(run.id).pid == jobs.runner_pid(store.home)
    os.kill(jobs.runner_pid(store.home), signal.SIGTERM)
    wait_for(_done(store, run.id), timeout=30, what="interrupted")
    assert store.get_run(run.id).status == "interrupted"
    assert jobs.requeue(store, run.id).status == "queued"  # and it can be queued again
    jobs.cancel(store, run.id)


def test_an_unreachable_cluster_fails_the_queued_runs_with_a_reason(store, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:9")  # the discard port: nothing answers
    dataset = _topics(store)
    run = jobs.submit(store, dataset.id, "tfidf_lr", "quick", {})
    wait_for(_done(store, run.id), timeout=60, what="the run to fail")
    failed = store.get_run(run.id)
    assert failed.status == "failed"
    assert failed.error.startswith("Ray could not be started or reached at 127.0.0.1:9"), (
        failed.error
    )
    assert "unset SLM_EXECUTOR" in failed.error
    assert render("errors.executor.ray_unreachable", "zh", address="x", reason="y") != (
        render("errors.executor.ray_unreachable", address="x", reason="y")
    )


def test_cli_trains_its_models_as_ray_tasks(tmp_path):
    home = tmp_path / "home"
    env = {"SLM_HOME": str(home), "SLM_EXECUTOR": "ray", "SLM_RAY_CPUS": "2"}
    args = ("train", str(SAMPLE_ZH), "--text-col", "工单内容", "--label-col", "类别")
    result = run_cli(*args, "--models", "tfidf_lr,nb", "--preset", "quick", "--json", env=env)
    assert result.returncode == 0, result.stderr
    runs = json.loads(result.stdout)["runs"]
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"]
    store = RunStore(f"sqlite:///{home / 'runs.sqlite'}", home)
    for run in runs:
        assert "in a Ray task on" in store.log_path(run["run_id"]).read_text()
    # A cluster that does not answer: one line, exit 2, no traceback.
    env["RAY_ADDRESS"] = "127.0.0.1:9"
    bad = run_cli(*args, "--models", "tfidf_lr", "--preset", "quick", env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "Ray could not be started or reached at 127.0.0.1:9" in bad.stderr


def test_two_models_train_at_once_on_workers_that_share_through_slm_artifacts(
    tmp_path, ray_env, monkeypatch
):
    """As on a cluster: two runs train at once as Ray tasks (2 CPUs, one each), the workers
    keep their files in another data folder than the app's, and the dataset's frame and the
    trained models travel through SLM_ARTIFACTS."""
    from slm_core.models.registry import load_model

    app_home, worker_home, shared = tmp_path / "app", tmp_path / "worker", tmp_path / "shared"
    monkeypatch.setenv("SLM_HOME", str(app_home))
    monkeypatch.setenv("SLM_RAY_WORKER_HOME", str(worker_home))
    monkeypatch.setenv("SLM_ARTIFACTS", f"file://{shared}")
    store = RunStore(home=app_home)
    dataset = _topics(store)
    first = jobs.submit(store, dataset.id, "tfidf_lr", "quick", {})
    second = jobs.submit(store, dataset.id, "nb", "quick", {})
    try:
        for run in (first, second):
            wait_for(_done(store, run.id), timeout=RAY_TIMEOUT, what=f"run {run.id}")
    finally:
        if jobs.runner_alive(store.home):
            _kill(jobs.runner_pid(store.home))
    a, b = store.get_run(first.id), store.get_run(second.id)
    assert a.status == b.status == "succeeded", (a.error, b.error)
    assert a.metrics["accuracy"] > 0.5 and b.metrics["accuracy"] > 0.5
    # Two CPUs, one per run: both were claimed before either ended.
    assert max(a.started_at, b.started_at) < min(a.finished_at, b.finished_at)
    runner_log = (app_home / "logs" / "runner.log").read_text()
    assert "working on Ray (a local Ray), 2 run(s) at once" in runner_log
    # Trained where the workers keep their files, from the frame fetched from the shared store.
    assert (worker_home / "datasets" / f"{dataset.id}.parquet").exists()
    for run in (a, b):
        assert (worker_home / "runs" / str(run.id) / "model").is_dir()
        assert "in a Ray task on" in (worker_home / "logs" / f"run-{run.id}.log").read_text()
        # The app had none of it until it opened the run: its copy comes from the shared store.
        assert not (app_home / "runs" / str(run.id) / "model").exists()
    model = load_model(store.artifact_dir(a.id) / "model")
    assert model.predict(["match goal team coach league"]) == ["sport"]
