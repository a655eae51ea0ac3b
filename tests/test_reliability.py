"""Nothing lost: a killed server or worker, a full disk, an unwritable SLM_HOME, concurrent writers.

Builds on tests/test_jobs.py (its store and dataset fixtures, ``wait_for`` and ``_kill``): a
real detached runner with one child process per run and the stand-in targets of
tests/job_targets.py, and the real trainer where the files it writes matter.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import test_jobs
from sqlalchemy import event
from streamlit.testing.v1 import AppTest
from test_jobs import _kill, wait_for

from slm_core import jobs
from slm_core.data.split import content_hash
from slm_core.errors import SlmError, localize_text, render
from slm_core.store import INTERRUPTED_MESSAGE, RunStore, pid_alive
from slm_core.train import PREDICTION_FILES, load_predictions
from tests.conftest import ROOT, SAMPLE_ZH, make_topic_texts, page_under_router, run_cli

# test_jobs' fixtures: a fresh store whose runner uses the stand-in targets (SLM_JOB_TARGET),
# cleaned of every process a test started, and a tiny dataset in it.
store = test_jobs.store
dataset = test_jobs.dataset

TRAINER = "slm_core.train:execute_run"
DIES_WHILE_SAVING = "tests.reliability_targets:dies_while_saving"
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _done(store: RunStore, run_id: int):
    return lambda: store.get_run(run_id).is_finished


def _epochs(store: RunStore, run_id: int) -> int:
    return len(store.get_run(run_id).history.get("loss") or [])


def _leftovers(store: RunStore, run_id: int) -> list[Path]:
    """Staging folders of unfinished attempts (runs/.<id>.partial-<pid>, .old-<pid>)."""
    return list((store.home / "runs").glob(f".{run_id}.*"))


def _topics(store: RunStore):
    texts, labels = make_topic_texts()
    frame = pd.DataFrame({"text": texts, "label": labels})
    return store.add_dataset(
        "topics", "cli", "topics.csv", content_hash(frame), frame, report={}, split_config={}
    )


# ------------------------------------------------------------------ kills


def test_server_killed_mid_training_loses_nothing_and_the_run_can_be_requeued(store, dataset):
    finished = jobs.submit(store, dataset.id, "steps", "quick", {"steps": 2})
    wait_for(_done(store, finished.id), what="the first run")
    killed = jobs.submit(store, dataset.id, "steps", "quick", {"steps": 400, "delay": 0.05})
    wait_for(lambda: _epochs(store, killed.id) >= 2, what="two epochs of history")
    waiting = store.create_run(dataset.id, "steps", "quick", {"steps": 1})
    runner, child = jobs.runner_pid(store.home), store.get_run(killed.id).pid
    # kill -9 of the server together with its runner and the training child: nobody records.
    _kill(runner)
    _kill(child)
    wait_for(lambda: not pid_alive(runner) and not pid_alive(child), 10, "both to be gone")
    assert store.get_run(killed.id).status == "running"  # what the dead processes left

    # The server starts again and opens the store as ui.state.get_store does.
    restarted = RunStore(store.url, store.home)
    assert restarted.mark_interrupted() == 1  # at once: its worker is dead, no hour's wait
    jobs.ensure_runner(restarted)
    run = restarted.get_run(killed.id)
    assert run.status == "interrupted" and run.error == INTERRUPTED_MESSAGE
    assert 2 <= len(run.history["loss"]) < 400  # the partial history is kept
    assert len(run.history["accuracy"]) == len(run.history["loss"])
    wait_for(_done(restarted, waiting.id), what="the run that was queued behind it")
    assert restarted.get_run(waiting.id).status == "succeeded"
    intact = restarted.get_run(finished.id)
    assert intact.status == "succeeded" and intact.metrics == {"accuracy": 1.0}
    assert len(intact.history["loss"]) == 2
    assert (restarted.artifact_dir(finished.id) / "model.txt").read_text() == "trained"

    restarted.update_params(killed.id, {"steps": 3})  # fewer steps, so the test is quick
    queued = jobs.requeue(restarted, killed.id)
    assert queued.history == {} and queued.error is None and queued.started_at is None
    wait_for(_done(restarted, killed.id), what="the re-queued run")
    again = restarted.get_run(killed.id)
    assert again.status == "succeeded", again.error
    assert len(again.history["loss"]) == 3  # trained from the start, not appended to
    with pytest.raises(SlmError, match="only an interrupted, failed or cancelled run"):
        jobs.requeue(restarted, killed.id)


def test_worker_killed_mid_job_fails_its_run_and_the_runner_goes_on(store, dataset):
    victim = jobs.submit(store, dataset.id, "steps", "quick", {"steps": 400, "delay": 0.05})
    after = jobs.submit(store, dataset.id, "steps", "quick", {"steps": 2})
    wait_for(lambda: _epochs(store, victim.id) >= 1, what="an epoch of history")
    runner = jobs.runner_pid(store.home)
    _kill(store.get_run(victim.id).pid)  # the child only: the runner is in another group
    wait_for(_done(store, after.id), what="the next queued run")
    failed = store.get_run(victim.id)
    assert failed.status == "failed" and failed.error == render("errors.run.killed")
    assert 1 <= len(failed.history["loss"]) < 400
    assert _CJK.search(localize_text(failed.error, "zh"))
    assert store.get_run(after.id).status == "succeeded"
    assert store.get_run(after.id).pid != failed.pid
    assert jobs.runner_pid(store.home) == runner  # the same runner went on to the next run


def test_trainer_killed_while_saving_leaves_no_artifact_folder(store, monkeypatch):
    topics = _topics(store)
    run = store.create_run(topics.id, "tfidf_lr", "quick", {})
    monkeypatch.setenv("SLM_TEST_DIE_RUN", str(run.id))
    assert jobs.ensure_runner(store, target=DIES_WHILE_SAVING)
    wait_for(_done(store, run.id), timeout=60, what="the killed training")
    failed = store.get_run(run.id)
    assert failed.status == "failed" and failed.error == render("errors.run.killed")
    # The model and the test predictions were on disk when it died, in the staging folder ...
    assert re.search(
        r"written before the kill: .*'model'.*'test_predictions", jobs.log_tail(store, run.id)
    )
    # ... which never became the run's folder and was removed when the runner saw the death.
    assert not (store.home / "runs" / str(run.id)).exists()
    assert _leftovers(store, run.id) == []


def test_a_worker_of_another_host_is_interrupted_only_when_silent(store, dataset):
    """Two containers can share one SQLite volume, each with its own pid namespace: a pid that
    looks dead here may be alive there. Another host's run is interrupted only once it has been
    silent for the stale period, and its files are left to it."""
    from sqlalchemy import update

    from slm_core.store import runs

    gone = subprocess.Popen(["true"])
    gone.wait()
    run = store.create_run(dataset.id, "steps", "quick", {})
    assert store.claim_run(run.id, gone.pid)
    with store.engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run.id).values(worker_host="other-container"))
    store.append_history(run.id, {"loss": 0.5})  # it reported a moment ago
    staging = store.home / "runs" / f".{run.id}.partial-{gone.pid}"
    staging.mkdir(parents=True)
    assert store.mark_interrupted() == 0  # reporting: alive as far as we can tell
    assert store.get_run(run.id).status == "running"
    assert store.mark_interrupted(stale_after_s=0.0) == 1  # silent too long
    assert store.get_run(run.id).history == {"loss": [0.5]}
    assert staging.exists()  # another host's worker may still be writing it


def test_publish_swaps_whole_folders(store, dataset):
    run = store.create_run(dataset.id, "steps", "quick", {})
    for attempt in ("first", "second"):
        staging = store.staging_dir(run.id)
        assert staging.parent == store.home / "runs" and staging.name.startswith(f".{run.id}.")
        (staging / f"{attempt}.txt").write_text(attempt)
        assert not (store.home / "runs" / str(run.id) / f"{attempt}.txt").exists()
        folder = store.publish_artifacts(run.id, staging)
        assert [p.name for p in folder.iterdir()] == [f"{attempt}.txt"]  # never a mix
    assert _leftovers(store, run.id) == []


# ------------------------------------------------------------------ full or unwritable disk


def test_full_disk_while_saving_fails_the_run_and_keeps_nothing(fresh_home, monkeypatch):
    store = RunStore(None, fresh_home)
    topics = _topics(store)
    run = store.create_run(topics.id, "tfidf_lr", "quick", {})
    write_parquet = pd.DataFrame.to_parquet
    written: list[Path] = []

    def fills_up(frame, path, *args, **kwargs):
        written.append(Path(path))
        if len(written) == 2:  # the model and the test predictions are written: the disk fills
            Path(path).write_bytes(b"PAR1 half a file")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return write_parquet(frame, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", fills_up)
    failed = jobs.run_inline(store, run.id, target=TRAINER)
    monkeypatch.setattr(pd.DataFrame, "to_parquet", write_parquet)
    assert failed.status == "failed"
    assert failed.error == render("errors.storage.run_disk_full", path=store.home)
    assert "nothing half-written was kept" in failed.error
    assert str(store.home) in localize_text(failed.error, "zh")
    assert _CJK.search(localize_text(failed.error, "zh"))
    assert written[1].parent.name.startswith(f".{run.id}.partial-")  # it wrote to staging
    assert not (store.home / "runs" / str(run.id)).exists() and _leftovers(store, run.id) == []

    # The store goes on: the same run, queued again, trains into a whole folder.
    store.restart_run(run.id)
    again = jobs.run_inline(store, run.id, target=TRAINER)
    assert again.status == "succeeded", again.error
    folder = Path(again.artifact_path)
    assert folder == store.home / "runs" / str(run.id)
    files = {p.name for p in folder.iterdir()}
    assert {"model", "history.json", *PREDICTION_FILES.values()} <= files
    assert len(load_predictions(store, run.id, "validation").texts) > 0
    assert _leftovers(store, run.id) == [] and not list(folder.glob(".*"))


def test_full_database_disk_is_a_clear_error_and_the_store_goes_on(store, dataset):
    def capped(dbapi_connection, _record):  # SQLite's own "database or disk is full"
        dbapi_connection.execute("PRAGMA max_page_count=1")

    store.engine.dispose()
    event.listen(store.engine, "connect", capped)
    try:
        with pytest.raises(SlmError) as info:
            store.create_run(dataset.id, "steps", "quick", {"blob": "x" * 200_000})
    finally:
        event.remove(store.engine, "connect", capped)
        store.engine.dispose()
    assert info.value.key == "errors.storage.disk_full"
    assert str(store.home) in str(info.value) and "Free some space" in str(info.value)
    assert store.list_runs() == []  # nothing half-recorded
    assert store.create_run(dataset.id, "steps", "quick", {}).status == "queued"


def _not_a_folder(tmp_path: Path) -> Path:
    """An SLM_HOME that cannot be created, even by root: its parent is a file."""
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder", encoding="utf-8")
    return blocker / "home"


def test_unwritable_slm_home_is_one_clear_message(tmp_path, monkeypatch):
    from ui.state import get_store

    bad = _not_a_folder(tmp_path)
    monkeypatch.setenv("SLM_HOME", str(bad))
    with pytest.raises(SlmError) as info:
        RunStore()
    assert info.value.key == "errors.storage.not_writable"
    assert str(bad) in str(info.value) and "Set SLM_HOME to a folder you can write to" in str(
        info.value
    )
    assert str(bad) in info.value.localized("zh") and _CJK.search(info.value.localized("zh"))

    cli = run_cli("evaluate", "--run", "1", env={"SLM_HOME": str(bad)}, timeout=120)
    assert cli.returncode == 2
    assert cli.stderr.count("\n") == 1 and "Traceback" not in cli.stderr
    assert cli.stderr == f"error: {info.value}\n"

    get_store.clear()  # a store cached by an earlier test points at another SLM_HOME
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert [e.value for e in app.error] == [str(info.value)]
    assert not bad.parent.is_dir()  # nothing was half-created


@contextlib.contextmanager
def _read_only(folder: Path):
    """``folder`` made read-only for this process: by its mode, or, for root (who writes
    through any mode), by the ext4/xfs immutable flag."""
    if os.geteuid() != 0:
        folder.chmod(0o500)
        try:
            yield
        finally:
            folder.chmod(0o700)
        return
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: no way to make a folder read-only")
    made = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"running as root and chattr +i is refused here: {made.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_read_only_slm_home_is_a_clear_message(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with _read_only(home):
        with pytest.raises(SlmError) as info:
            RunStore(None, home)
        cli = run_cli("evaluate", "--run", "1", env={"SLM_HOME": str(home)}, timeout=120)
    assert info.value.key == "errors.storage.not_writable" and str(home) in str(info.value)
    assert cli.returncode == 2 and "Traceback" not in cli.stderr
    assert cli.stderr == f"error: {info.value}\n"
    assert list(home.iterdir()) == []  # nothing was half-created


# ------------------------------------------------------------------ concurrent writers


@pytest.mark.parametrize("store", ["sqlite", "postgresql"], indirect=True)
def test_many_processes_queue_and_claim_runs_each_exactly_once(store, dataset, tmp_path):
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.reliability_targets", "claim"]
            + [store.url, str(store.home), "12", str(go)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    go.touch()  # all start writing at once
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert all(w.returncode == 0 for w in workers), [err for _, err in outputs]
    assert not any("locked" in err for _, err in outputs)
    reports = [json.loads(out) for out, _ in outputs]
    created = [run_id for r in reports for run_id in r["created"]]
    claimed = [run_id for r in reports for run_id in r["claimed"]]
    assert len(created) == len(set(created)) == 36
    assert sorted(claimed) == sorted(created)  # every run claimed, none twice
    runs = {r.id: r for r in store.list_runs()}
    assert sorted(runs) == sorted(created)
    for report in reports:
        for run_id in report["claimed"]:
            assert runs[run_id].status == "running" and runs[run_id].pid == report["pid"]
            assert runs[run_id].history == {"loss": [1.0]}
    for run_id in created:  # leave no 'running' run to the fixture's clean-up
        store.finish_run(run_id, "cancelled")


def test_two_cli_trainings_and_the_app_share_one_store(tmp_path):
    home = tmp_path / "home"
    command = [sys.executable, "-m", "slm_core", "train", str(SAMPLE_ZH)]
    command += ["--text-col", "工单内容", "--label-col", "类别", "--models", "tfidf_lr"]
    command += ["--preset", "quick", "--json"]
    env = {**os.environ, "SLM_HOME": str(home)}
    clis = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    # Meanwhile the app writes to the same store: datasets, runs, outcomes, results.
    app = RunStore(f"sqlite:///{home / 'runs.sqlite'}", home)
    mine = _topics(app)
    app_runs = []
    while any(cli.poll() is None for cli in clis) or len(app_runs) < 5:
        run = app.create_run(mine.id, "tfidf_lr", "quick", {})
        assert app.claim_run(run.id, os.getpid())
        app.put_result(run.id, "note", {"n": len(app_runs)})
        app.finish_run(run.id, "cancelled")
        app_runs.append(run.id)
        time.sleep(0.05)  # a user's pace, not a busy loop that starves the two trainings
    outputs = [cli.communicate(timeout=300) for cli in clis]
    assert [cli.returncode for cli in clis] == [0, 0], [err for _, err in outputs]
    assert not any("locked" in err for _, err in outputs)
    reported = [json.loads(out) for out, _ in outputs]
    dataset_id = reported[0]["dataset_id"]
    assert reported[1]["dataset_id"] == dataset_id  # one dataset, stored once
    cli_runs = [r["run_id"] for report in reported for r in report["runs"]]
    stored = app.list_runs(dataset_id=dataset_id)
    assert sorted(r.id for r in stored) == sorted(cli_runs) and len(set(cli_runs)) == 2
    assert {r.status for r in stored} == {"succeeded"}
    assert all((Path(r.artifact_path) / "model").is_dir() for r in stored)
    theirs = app.list_runs(dataset_id=mine.id)
    assert sorted(r.id for r in theirs) == sorted(app_runs)
    assert all(app.get_result(run_id, "note") is not None for run_id in app_runs)
    assert len(app.list_datasets()) == 2


# ------------------------------------------------------------------ re-queue in the app and CLI

ROUTER = """
import streamlit as st
st.navigation([st.Page("pages/train.py", default=True)]).run()
"""


def test_train_page_requeues_a_stopped_run(store, dataset, tmp_path):
    from ui.state import get_store

    full = store.create_run(dataset.id, "steps", "quick", {"steps": 1})
    store.claim_run(full.id, os.getpid())
    error = render("errors.storage.run_disk_full", path=store.home)
    store.finish_run(full.id, "failed", error=error)
    done = store.create_run(dataset.id, "steps", "quick", {"steps": 1})
    store.claim_run(done.id, os.getpid())
    store.finish_run(done.id, "succeeded", metrics={"accuracy": 1.0})

    get_store.clear()
    zh = page_under_router(ROUTER, tmp_path / "router_zh", dataset.id, "zh", 60)
    assert localize_text(error, "zh") in [e.value for e in zh.error]
    assert {b.label for b in zh.button if b.key == f"requeue_{full.id}"} == {"重新排队"}

    at = page_under_router(ROUTER, tmp_path / "router", dataset.id, "en", 60)
    assert error in [e.value for e in at.error]
    labels = {b.key: b.label for b in at.button}
    assert labels.get(f"requeue_{full.id}") == "Re-queue"
    assert f"requeue_{done.id}" not in labels  # a finished run has nothing to re-queue
    at.button(key=f"requeue_{full.id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(f"#{full.id}" in toast.value for toast in at.toast)
    wait_for(_done(store, full.id), what="the re-queued run")
    again = store.get_run(full.id)
    assert again.status == "succeeded" and again.error is None


def test_cli_retrain_trains_a_stopped_run_again(fresh_home, capsys):
    from slm_core import cli

    store = RunStore(None, fresh_home)
    topics = _topics(store)
    run = store.create_run(topics.id, "tfidf_lr", "quick", {})
    store.claim_run(run.id, os.getpid())
    store.finish_run(run.id, "interrupted", error=INTERRUPTED_MESSAGE)
    assert cli.main(["retrain", "--run", str(run.id), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "succeeded" and out["accuracy"] is not None
    assert store.get_run(run.id).status == "succeeded"
    assert cli.main(["retrain", "--run", str(run.id)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "only an interrupted, failed or cancelled run" in err
