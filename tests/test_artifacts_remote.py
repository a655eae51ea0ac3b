"""Runs' files shared between machines through ``SLM_ARTIFACTS`` (slm_core/store/artifacts.py).

Two run stores on one database stand for two machines: a worker (its own ``SLM_HOME``) that
publishes a run's folder, and the app (another ``SLM_HOME``) that reads it. The shared location
is a local folder, the same as a ``file://`` URL, and fsspec's in-memory file system (one per
process, so everything runs in this process).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from pathlib import Path

import pandas as pd
import pytest

from slm_core.data.split import content_hash
from slm_core.errors import SlmError
from slm_core.store import RunStore
from slm_core.store.artifacts import MARKER, RemoteArtifacts, fetch_frame, push_frame
from tests.conftest import make_topic_texts

_PIP = "pip install s3fs"


@pytest.fixture(params=["path", "file_url", "memory"])
def shared(request, tmp_path, monkeypatch) -> str:
    """``SLM_ARTIFACTS`` for one test: a folder, the same as a file:// URL, or memory://."""
    if request.param == "path":
        url = str(tmp_path / "shared")
    elif request.param == "file_url":
        url = (tmp_path / "shared").as_uri()
    else:
        url = f"memory://slm-test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("SLM_ARTIFACTS", url)
    yield url
    if request.param == "memory":
        remote = RemoteArtifacts(url)
        with contextlib.suppress(FileNotFoundError):
            remote.fs.rm(remote.root, recursive=True)


@pytest.fixture
def machines(tmp_path):
    """(app, worker): two run stores on one database, each with its own SLM_HOME."""
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    app = RunStore(url, tmp_path / "app")
    worker = RunStore(url, tmp_path / "worker")
    yield app, worker
    app.close()
    worker.close()


def _dataset(store: RunStore):
    texts, labels = make_topic_texts()
    frame = pd.DataFrame({"text": texts, "label": labels})
    return store.add_dataset(
        "topics", "cli", "topics.csv", content_hash(frame), frame, report={}, split_config={}
    )


def _publish(store: RunStore, run_id: int, files: dict[str, str]) -> Path:
    staging = store.staging_dir(run_id)
    for rel, text in files.items():
        (staging / rel).parent.mkdir(parents=True, exist_ok=True)
        (staging / rel).write_text(text)
    return store.publish_artifacts(run_id, staging)


def _contents(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): p.read_text()
        for p in folder.rglob("*")
        if p.is_file() and p.name != MARKER
    }


def _run(machines):
    app, _worker = machines
    return app.create_run(_dataset(app).id, "tfidf_lr", "quick", {})


FILES = {"model/weights.bin": "w1", "model/model.json": "{}", "history.json": "[1]"}


# ------------------------------------------------------------------ publish and read


def test_a_published_run_is_read_whole_on_another_machine(shared, machines):
    app, worker = machines
    run = _run(machines)
    kept = _publish(worker, run.id, FILES)
    assert _contents(kept) == FILES  # the worker keeps its copy
    remote = app.remote_artifacts()
    assert remote.read_manifest(run.id) is not None
    assert _contents(app.artifact_dir(run.id)) == FILES
    shutil.rmtree(app.home / "runs" / str(run.id))  # the local copy is only a cache
    assert _contents(app.artifact_dir(run.id)) == FILES
    assert list((app.home / "runs").glob(f".{run.id}.*")) == []  # no download left behind


def test_plain_path_and_file_url_share_one_folder(tmp_path, machines, monkeypatch):
    app, worker = machines
    run = _run(machines)
    monkeypatch.setenv("SLM_ARTIFACTS", str(tmp_path / "shared"))
    _publish(worker, run.id, FILES)
    monkeypatch.setenv("SLM_ARTIFACTS", (tmp_path / "shared").as_uri())
    assert _contents(app.artifact_dir(run.id)) == FILES
    assert (tmp_path / "shared" / "runs" / str(run.id) / MARKER).is_file()


def test_a_folder_without_its_marker_is_not_trusted(shared, machines):
    app, _worker = machines
    run = _run(machines)
    remote = app.remote_artifacts()
    base = f"{remote.run_root(run.id)}/20260101T000000-abc"
    remote.fs.makedirs(base, exist_ok=True)
    remote.fs.pipe_file(f"{base}/model.bin", b"half")  # uploaded, but the marker never was
    assert _contents(app.artifact_dir(run.id)) == {}
    for marker in (b"{not json", json.dumps({"format": 1, "version": "x", "files": {}}).encode()):
        remote.fs.pipe_file(f"{remote.run_root(run.id)}/{MARKER}", marker)
        assert remote.read_manifest(run.id) is None
        assert _contents(app.artifact_dir(run.id)) == {}
    escaping = {
        "format": 1,
        "version": "20260101T000000-abc",
        "revision": "r",
        "files": {"../../escape.txt": {"size": 4, "rev": "r"}},
    }
    remote.fs.pipe_file(f"{remote.run_root(run.id)}/{MARKER}", json.dumps(escaping).encode())
    assert remote.read_manifest(run.id) is None
    assert _contents(app.artifact_dir(run.id)) == {}
    assert not (app.home / "escape.txt").exists()


def test_a_new_version_replaces_the_old_one_whole(shared, machines):
    app, worker = machines
    run = _run(machines)
    _publish(worker, run.id, FILES)
    assert _contents(app.artifact_dir(run.id)) == FILES
    second = {"model/weights.bin": "w2 longer", "other.txt": "new"}
    _publish(worker, run.id, second)
    assert _contents(app.artifact_dir(run.id)) == second  # never a mix of the two
    remote = app.remote_artifacts()
    entries = remote.fs.ls(remote.run_root(run.id), detail=False)
    assert len(entries) == 2  # the marker and the one version it names


def test_files_added_after_publishing_reach_the_other_machine(shared, machines):
    app, worker = machines
    run = _run(machines)
    _publish(worker, run.id, FILES)
    mine = app.artifact_dir(run.id)
    untouched = (mine / "history.json").stat().st_mtime_ns
    folder = worker.artifact_dir(run.id)
    (folder / "val_predictions.parquet").write_text("added")
    (folder / "model" / "weights.bin").write_text("replaced")
    worker.sync_artifacts(run.id)
    expected = {**FILES, "val_predictions.parquet": "added", "model/weights.bin": "replaced"}
    assert _contents(app.artifact_dir(run.id)) == expected
    assert (mine / "history.json").stat().st_mtime_ns == untouched  # only what changed moved
    # finish_run shares what the folder holds before the outcome is recorded.
    (folder / "plan.json").write_text("plan")
    assert worker.finish_run(run.id, "succeeded").status == "succeeded"
    assert _contents(app.artifact_dir(run.id)) == {**expected, "plan.json": "plan"}
    # Nothing changed: nothing is pushed again.
    before = app.remote_artifacts().read_manifest(run.id)
    worker.sync_artifacts(run.id)
    assert app.remote_artifacts().read_manifest(run.id) == before


def test_a_run_with_nothing_published_keeps_its_local_folder(shared, machines):
    app, _worker = machines
    run = _run(machines)
    (app.artifact_dir(run.id) / "plan.json").write_text("planned here")  # an LLM measurement
    assert _contents(app.artifact_dir(run.id)) == {"plan.json": "planned here"}
    app.finish_run(run.id, "failed", error="boom")  # a failed run's files are shared too
    assert app.remote_artifacts().read_manifest(run.id) is not None


def test_delete_and_restart_remove_the_shared_copy(shared, machines):
    app, worker = machines
    run = _run(machines)
    _publish(worker, run.id, FILES)
    remote = app.remote_artifacts()
    app.finish_run(run.id, "failed", error="boom")
    app.restart_run(run.id)  # nothing of the earlier attempt may pass for the next one's
    assert not remote.fs.exists(remote.run_root(run.id))
    # The worker's copy of the earlier attempt goes too, when it next looks.
    assert _contents(worker.artifact_dir(run.id)) == {}
    _publish(worker, run.id, FILES)
    app.finish_run(run.id, "failed", error="boom")
    app.delete_run(run.id)
    assert not remote.fs.exists(remote.run_root(run.id))
    assert not (app.home / "runs" / str(run.id)).exists()


def test_a_run_whose_files_cannot_be_shared_does_not_succeed(shared, machines, monkeypatch):
    app, worker = machines
    run = _run(machines)
    (worker.artifact_dir(run.id) / "model.bin").write_text("trained")

    def refused(*args, **kwargs):
        raise PermissionError(13, "Access Denied")

    monkeypatch.setattr(type(worker.remote_artifacts().fs), "put_file", refused)
    with pytest.raises(SlmError, match="refused access"):
        worker.sync_artifacts(run.id)
    other = app.create_run(run.dataset_id, "tfidf_lr", "quick", {})
    with pytest.raises(SlmError, match="refused access"):
        _publish(worker, other.id, FILES)
    assert not (worker.home / "runs" / str(other.id)).exists()  # not published here either
    done = worker.finish_run(run.id, "succeeded", metrics={"accuracy": 1.0})
    assert done.status == "failed"
    assert "refused access" in done.error and "Access Denied" in done.error


# ------------------------------------------------------------------ frames


def test_dataset_frames_travel_to_the_worker(shared, machines):
    app, worker = machines
    dataset = _dataset(app)
    push_frame(app, dataset.id)
    assert not worker.frame_path(dataset.id).exists()
    assert fetch_frame(worker, dataset.id)
    pd.testing.assert_frame_equal(worker.load_frame(dataset.id), app.load_frame(dataset.id))
    assert not fetch_frame(worker, "0123456789ab")  # a frame that was never shared


def test_without_the_setting_nothing_is_shared(machines, monkeypatch):
    monkeypatch.delenv("SLM_ARTIFACTS", raising=False)
    app, worker = machines
    run = _run(machines)
    assert app.remote_artifacts() is None
    folder = _publish(worker, run.id, FILES)
    assert not (folder / MARKER).exists()
    assert _contents(app.artifact_dir(run.id)) == {}
    assert not fetch_frame(worker, run.dataset_id)


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("url", "english", "chinese"),
    [
        ("s3://bucket/lab", _PIP, _PIP),
        ("nosuchproto://bucket/lab", "not a folder or an address", "不是本实验室可用"),
    ],
)
def test_an_unusable_setting_says_why_in_both_languages(
    machines, monkeypatch, url, english, chinese
):
    app, _worker = machines
    monkeypatch.setenv("SLM_ARTIFACTS", url)
    with pytest.raises(SlmError) as info:
        app.artifact_dir(1)
    assert english in str(info.value) and "\n" not in str(info.value)
    assert chinese in info.value.localized("zh")


def test_unreachable_and_same_as_home_are_errors(machines, monkeypatch, tmp_path):
    app, _worker = machines
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("SLM_ARTIFACTS", str(tmp_path / "a-file" / "below"))
    with pytest.raises(SlmError, match="Could not reach the shared artifact store") as info:
        app.artifact_dir(1)
    assert "NotADirectoryError" in str(info.value) and "无法连接" in info.value.localized("zh")
    monkeypatch.setenv("SLM_ARTIFACTS", str(app.home))
    with pytest.raises(SlmError, match="names the data folder itself"):
        app.artifact_dir(1)


def test_credentials_never_appear_in_messages(machines, monkeypatch):
    app, _worker = machines
    monkeypatch.setenv("SLM_ARTIFACTS", "s3://key:secret@bucket/lab")
    with pytest.raises(SlmError) as info:
        app.artifact_dir(1)
    assert "s3://bucket/lab" in str(info.value) and "secret" not in str(info.value)


# ------------------------------------------------------------------ end to end


def test_a_model_trained_by_a_worker_loads_in_the_app(machines, monkeypatch):
    """A worker with its own SLM_HOME trains a real model; the app, which never had its files,
    loads it and its predictions through artifact_dir."""
    from slm_core import train
    from slm_core.models.registry import load_model

    url = f"memory://slm-test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("SLM_ARTIFACTS", url)
    app, worker = machines
    dataset = _dataset(app)
    push_frame(app, dataset.id)  # where the dataset is stored (the lead wires it in)
    run = app.create_run(dataset.id, "tfidf_lr", "quick", {})
    assert app.claim_run(run.id, os.getpid())
    assert fetch_frame(worker, dataset.id)  # where the worker loads it
    train.execute_run(worker.url, str(worker.home), run.id)
    done = app.get_run(run.id)
    assert done.status == "succeeded", done.error
    shutil.rmtree(worker.home / "runs" / str(run.id))  # the worker's copy is not needed
    assert not (app.home / "runs" / str(run.id)).exists()
    model = load_model(app.artifact_dir(run.id) / train.MODEL_SUBDIR)
    predictions = train.load_predictions(app, run.id)
    assert list(model.predict(predictions.texts)) == predictions.y_pred
    assert done.metrics["accuracy"] == pytest.approx(
        sum(a == b for a, b in zip(predictions.y_true, predictions.y_pred, strict=True))
        / len(predictions.y_true)
    )
    remote = app.remote_artifacts()
    remote.fs.rm(remote.root, recursive=True)
