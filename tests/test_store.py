"""Run store on SQLite and on a real PostgreSQL server: CRUD, atomic claims, cancel, interruption.

Every test that takes ``store`` runs once per backend; the PostgreSQL one gets a fresh database
in the throw-away cluster of ``tests/pg_fixture.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import update
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateTable

from slm_core.errors import NotFoundError, SlmError
from slm_core.store import INTERRUPTED_MESSAGE, RunStore, metadata, runs
from slm_core.store.engine import normalise_url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, fresh_home):
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    store = RunStore(url, home=fresh_home)
    assert store.engine.dialect.name == request.param
    yield store
    store.close()


def _frame(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame(
        {"text": [f"text {i} 你好" for i in range(n)], "label": ["a", "b"] * (n // 2)}
    )


def _dataset(store: RunStore, content_hash: str = "ab" * 32, name: str = "tickets", **kw):
    return store.add_dataset(
        name,
        "upload",
        "tickets.csv",
        content_hash,
        _frame(),
        report={"rows": 6, "cjk_share": np.float64(0.4), "bad": float("nan")},
        mapping={"text": "body", "label": "topic"},
        split_config={"train": 0.7, "val": 0.15, "test": 0.15, "seed": 42},
        **kw,
    )


def test_default_location_follows_slm_home(fresh_home):
    store = RunStore()
    assert store.home == fresh_home.resolve()
    assert (fresh_home / "runs.sqlite").exists()


def test_add_dataset_is_idempotent_and_frame_round_trips(store):
    first = _dataset(store)
    again = _dataset(store, name="other name")
    assert again == first
    assert first.id == ("ab" * 32)[:12]
    assert first.rows == 6 and first.source == "upload" and first.filename == "tickets.csv"
    assert first.report == {"rows": 6, "cjk_share": 0.4, "bad": None}  # numpy and NaN made JSON
    assert first.mapping == {"text": "body", "label": "topic"}
    assert first.split_config["seed"] == 42
    assert first.created_at.tzinfo is not None
    pd.testing.assert_frame_equal(store.load_frame(first.id), _frame(), check_dtype=False)
    d = first.to_dict()
    assert isinstance(d["created_at"], str) and d["id"] == first.id
    assert len(store.list_datasets()) == 1


def test_dataset_lookup_by_id_prefix_and_name(store):
    a = _dataset(store, "aa11" + "0" * 60, name="bbc")
    b = _dataset(store, "aa22" + "0" * 60, name="tweets")
    child = _dataset(store, "cc33" + "0" * 60, name="tweets", parent_id=b.id)
    assert child.parent_id == b.id
    assert [d.id for d in store.list_datasets()] == [child.id, b.id, a.id]
    assert store.find_dataset(a.id) == a
    assert store.find_dataset("aa1") == a
    assert store.find_dataset("bbc") == a
    assert store.find_dataset("tweets") == child  # the newest version of that name
    with pytest.raises(NotFoundError, match="more characters"):
        store.find_dataset("aa")
    with pytest.raises(NotFoundError, match="zzz"):
        store.find_dataset("zzz")
    with pytest.raises(NotFoundError, match="nope123"):
        store.get_dataset("nope123")
    with pytest.raises(NotFoundError, match="nope123"):
        store.load_frame("nope123")
    with pytest.raises(ValueError):
        store.add_dataset("x", "somewhere", None, "f" * 64, _frame())


def test_run_lifecycle(store):
    ds = _dataset(store)
    run = store.create_run(ds.id, "lstm", "quick", {"epochs": np.int64(2), "lr": 1e-3})
    assert run.status == "queued" and run.is_active and not run.is_finished
    assert run.params == {"epochs": 2, "lr": 0.001}
    assert run.history == {} and run.progress == {} and run.cancel_requested is False
    with pytest.raises(NotFoundError):
        store.create_run("missing", "lstm", "quick", {})

    assert store.next_queued_run() == run
    assert store.claim_run(run.id, os.getpid())
    running = store.get_run(run.id)
    assert running.status == "running" and running.pid == os.getpid()
    assert running.started_at is not None and running.worker_host
    assert store.next_queued_run() is None

    progress = {"epoch": 1, "epochs": 2, "batch": 3, "batches": 10, "fraction": 0.15}
    store.set_progress(run.id, {**progress, "message": "Epoch 1"})
    store.append_history(run.id, {"loss": 0.9, "accuracy": np.float32(0.5)})
    store.append_history(run.id, {"loss": 0.5, "accuracy": 0.75, "val_loss": 0.6})
    running = store.get_run(run.id)
    assert running.progress["batch"] == 3 and running.progress["message"] == "Epoch 1"
    assert running.history == {
        "loss": [0.9, 0.5],
        "accuracy": [0.5, 0.75],
        "val_loss": [None, 0.6],  # one entry per epoch, even for a key that came late
    }

    artifacts = store.artifact_dir(run.id)
    assert artifacts.is_dir() and artifacts == store.home / "runs" / str(run.id)
    done = store.finish_run(
        run.id, "succeeded", metrics={"accuracy": 0.8}, train_seconds=1.5, artifact_path=artifacts
    )
    assert done.status == "succeeded" and done.metrics == {"accuracy": 0.8}
    assert done.train_seconds == 1.5 and done.artifact_path == str(artifacts)
    assert done.finished_at >= done.started_at
    # A late report (e.g. a fallback "failed") never overwrites the first outcome.
    assert store.finish_run(run.id, "failed", error="late").status == "succeeded"
    with pytest.raises(ValueError):
        store.finish_run(run.id, "running")

    other = store.create_run(ds.id, "cnn", "balanced", {})
    assert [r.id for r in store.list_runs()] == [other.id, run.id]
    assert [r.id for r in store.list_runs(statuses=["queued"])] == [other.id]
    assert store.list_runs(dataset_id="zzz") == []
    assert store.get_run(run.id).to_dict()["status"] == "succeeded"
    with pytest.raises(NotFoundError, match="999"):
        store.get_run(999)


def test_claim_is_atomic_across_connections(store):
    ds = _dataset(store)
    run = store.create_run(ds.id, "lstm", "quick", {})
    # Separate stores = separate connection pools, as separate processes would have.
    stores = [RunStore(store.url, store.home) for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    wins: list[bool] = []

    def claim(s: RunStore) -> None:
        barrier.wait()
        wins.append(s.claim_run(run.id, os.getpid()))

    threads = [threading.Thread(target=claim, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 5 + [True]
    assert store.claim_run(run.id, os.getpid()) is False


def test_cancel_queued_and_running(store):
    ds = _dataset(store)
    queued = store.create_run(ds.id, "lstm", "quick", {})
    running = store.create_run(ds.id, "cnn", "quick", {})
    assert store.claim_run(running.id, os.getpid())

    cancelled = store.request_cancel(queued.id)
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    assert cancelled.error
    assert store.claim_run(queued.id, os.getpid()) is False  # a cancelled run is never started

    asked = store.request_cancel(running.id)
    assert asked.status == "running" and asked.cancel_requested
    assert store.is_cancel_requested(running.id)
    assert not store.is_cancel_requested(store.create_run(ds.id, "nb", "quick", {}).id)
    assert store.is_cancel_requested(12345)  # a deleted run tells its worker to stop


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_mark_interrupted_only_touches_dead_workers(store):
    ds = _dataset(store)
    dead, alive, recycled, foreign_stale, foreign_fresh, queued = (
        store.create_run(ds.id, "lstm", "quick", {}) for _ in range(6)
    )
    assert store.claim_run(dead.id, _dead_pid())
    assert store.claim_run(alive.id, os.getpid())
    assert store.claim_run(recycled.id, os.getpid())
    assert store.claim_run(foreign_stale.id, 1)
    assert store.claim_run(foreign_fresh.id, 1)
    old = datetime.now(UTC) - timedelta(hours=3)
    with store.engine.begin() as conn:
        # Our pid, but a different process start time: the pid was reused by someone else.
        conn.execute(update(runs).where(runs.c.id == recycled.id).values(pid_started=1.0))
        conn.execute(
            update(runs)
            .where(runs.c.id.in_([foreign_stale.id, foreign_fresh.id]))
            .values(worker_host="another-host")
        )
        conn.execute(update(runs).where(runs.c.id == foreign_stale.id).values(updated_at=old))

    assert store.mark_interrupted() == 3
    status = {r.id: r.status for r in store.list_runs()}
    assert status[dead.id] == status[recycled.id] == status[foreign_stale.id] == "interrupted"
    assert status[alive.id] == status[foreign_fresh.id] == "running"
    assert status[queued.id] == "queued"
    assert store.get_run(dead.id).error == INTERRUPTED_MESSAGE
    assert store.mark_interrupted() == 0


def test_results_put_get_replace(store):
    ds = _dataset(store)
    run = store.create_run(ds.id, "tfidf_lr", "quick", {})
    assert store.get_result(run.id, "evaluation") is None
    store.put_result(run.id, "evaluation", {"accuracy": 0.9, "per_class": {"a": [1, 2]}})
    store.put_result(run.id, "benchmark", {"p50_ms": 1.2})
    store.put_result(run.id, "evaluation", {"accuracy": 0.95})
    assert store.get_result(run.id, "evaluation") == {"accuracy": 0.95}
    assert store.get_result(run.id, "benchmark") == {"p50_ms": 1.2}
    with pytest.raises(NotFoundError):
        store.put_result(999, "evaluation", {})


def test_feedback_and_summary(store):
    ds = _dataset(store)
    r1 = store.create_run(ds.id, "tfidf_lr", "quick", {})
    r2 = store.create_run(ds.id, "lstm", "quick", {})
    store.add_feedback(r1.id, "good one", "a", True)
    store.add_feedback(r1.id, "bad one", "a", False, corrected_label="b")
    store.add_feedback(r1.id, "another good", "b", True)
    fb = store.add_feedback(r2.id, "短文本", "b", False)
    assert fb.dataset_id == ds.id and fb.is_correct is False and fb.corrected_label is None
    assert fb.to_dict()["text"] == "短文本"
    assert store.feedback_summary(ds.id) == {
        r1.id: {"rated": 3, "right": 2},
        r2.id: {"rated": 1, "right": 0},
    }
    assert [f.text for f in store.list_feedback(run_id=r1.id)] == [
        "good one",
        "bad one",
        "another good",
    ]
    corrected = store.list_feedback(dataset_id=ds.id, corrected_only=True)
    assert [(f.text, f.corrected_label) for f in corrected] == [("bad one", "b")]

    store.delete_run(r1.id)  # corrected examples outlive the run
    assert len(store.list_feedback(dataset_id=ds.id)) == 4
    assert store.feedback_summary(ds.id) == {r2.id: {"rated": 1, "right": 0}}


def test_scenarios(store):
    ds = _dataset(store)
    general = store.save_scenario("default", {"hourly_cost": 30, "volume": 1000})
    specific = store.save_scenario("support", {"hourly_cost": 45}, dataset_id=ds.id)
    assert store.get_scenario(general.id).data == {"hourly_cost": 30, "volume": 1000}
    updated = store.save_scenario("support v2", {"hourly_cost": 50}, ds.id, specific.id)
    assert updated.id == specific.id and updated.name == "support v2"
    assert [s.id for s in store.list_scenarios(ds.id)] == [specific.id, general.id]
    store.delete_scenario(general.id)
    with pytest.raises(NotFoundError):
        store.get_scenario(general.id)
    with pytest.raises(NotFoundError):
        store.save_scenario("x", {}, scenario_id=999)


def test_delete_run_and_dataset(store):
    ds = _dataset(store)
    run = store.create_run(ds.id, "lstm", "quick", {})
    store.claim_run(run.id, os.getpid())
    (store.artifact_dir(run.id) / "model.keras").write_bytes(b"x")
    with pytest.raises(SlmError, match="cancel"):
        store.delete_run(run.id)
    with pytest.raises(SlmError, match="cancel"):
        store.delete_dataset(ds.id)
    store.finish_run(run.id, "succeeded")
    store.put_result(run.id, "evaluation", {"accuracy": 1.0})
    store.delete_run(run.id)
    assert not (store.home / "runs" / str(run.id)).exists()
    with pytest.raises(NotFoundError):
        store.get_run(run.id)

    child = _dataset(store, "cd" * 32, parent_id=ds.id)
    run2 = store.create_run(ds.id, "cnn", "quick", {})
    store.add_feedback(run2.id, "t", "a", True)
    background = [  # what background work leaves named after the dataset
        store.home / "estimates" / f"{ds.id}.0123abcd.json",
        store.home / "value_checks" / f"{ds.id}.last",
        store.home / "logs" / f"value-checks-{ds.id}.1.log",
    ]
    kept = store.home / "estimates" / f"{child.id}.0123abcd.json"
    for path in [*background, kept]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    store.delete_dataset(ds.id)
    assert not any(path.exists() for path in background) and kept.exists()
    assert [d.id for d in store.list_datasets()] == [child.id]
    assert store.get_dataset(child.id).parent_id is None
    assert store.list_runs() == [] and store.list_feedback() == []
    assert not store.frame_path(ds.id).exists()


def test_two_stores_and_another_process_share_writes(store):
    ds = _dataset(store)
    other = RunStore(store.url, store.home)
    run = other.create_run(ds.id, "lstm", "quick", {})
    assert store.get_run(run.id).status == "queued"
    store.request_cancel(run.id)
    assert other.get_run(run.id).status == "cancelled"

    code = (
        "import sys; from slm_core.store import RunStore; "
        "s = RunStore(sys.argv[1], sys.argv[2]); "
        "r = s.create_run(sys.argv[3], 'cnn', 'quick', {'from': 'child'}); "
        "s.append_history(r.id, {'loss': 1.0}); print(r.id)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, store.url, str(store.home), ds.id],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    child_run = store.get_run(int(out.stdout.strip()))
    assert child_run.params == {"from": "child"} and child_run.history == {"loss": [1.0]}


def test_sqlite_uses_wal_and_foreign_keys(fresh_home):
    with RunStore(home=fresh_home).engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10000


def test_schema_compiles_for_postgresql():
    dialect = postgresql.dialect()
    ddl = "\n".join(str(CreateTable(t).compile(dialect=dialect)) for t in metadata.sorted_tables)
    assert "SERIAL" in ddl and "TIMESTAMP WITH TIME ZONE" in ddl and "JSON" in ddl
    assert "BOOLEAN" in ddl


def test_plain_postgresql_urls_use_psycopg3():
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://u:pw@h:5433/db").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://u:pw@h:5433/db").password == "pw"
    assert normalise_url("postgresql+psycopg2://u@h/db").drivername == "postgresql+psycopg2"
    assert normalise_url("sqlite:////tmp/x.sqlite").drivername == "sqlite"


def test_non_finite_numbers_are_stored_as_null(store):
    ds = _dataset(store)
    run = store.create_run(ds.id, "lstm", "quick", {"lr": float("inf"), "w": [np.nan, 1.0]})
    assert run.params == {"lr": None, "w": [None, 1.0]}
    store.claim_run(run.id, os.getpid())
    store.set_progress(run.id, {"fraction": float("nan")})
    store.append_history(run.id, {"loss": float("nan"), "accuracy": np.float32("inf")})
    store.append_history(run.id, {"loss": 0.5, "accuracy": -np.inf})
    assert store.get_run(run.id).history == {"loss": [None, 0.5], "accuracy": [None, None]}
    done = store.finish_run(
        run.id,
        "succeeded",
        metrics={"accuracy": np.float64("nan"), "per_class": np.array([np.inf, 0.5])},
        train_seconds=float("inf"),
    )
    assert done.metrics == {"accuracy": None, "per_class": [None, 0.5]}
    assert done.progress == {"fraction": None}
    # The same on every backend: SQLite would turn NaN into NULL but keep infinity.
    assert done.train_seconds is None
    store.put_result(run.id, "evaluation", {"roc_auc": float("nan")})
    assert store.get_result(run.id, "evaluation") == {"roc_auc": None}


def test_nul_characters_and_huge_ids(store):
    # PostgreSQL text cannot hold NUL; a pasted text or an odd error message must still save.
    ds = _dataset(store, name="bad\x00name")
    assert ds.name == "badname"
    run = store.create_run(ds.id, "lstm", "quick", {"note": "a\x00b"})
    assert run.params == {"note": "a\x00b"}  # JSON escapes it, so it round-trips unchanged
    fb = store.add_feedback(run.id, "te\x00xt", "a\x00", False, corrected_label="b\x00")
    assert (fb.text, fb.predicted_label, fb.corrected_label) == ("text", "a", "b")
    store.claim_run(run.id, os.getpid())
    assert store.finish_run(run.id, "failed", error="boom\x00").error == "boom"
    # An id beyond a 32-bit integer column is simply not there (not a database error).
    for huge in (2**31, 10**12, 10**20):
        with pytest.raises(NotFoundError):
            store.get_run(huge)
        with pytest.raises(NotFoundError):
            store.get_scenario(huge)
        assert store.is_cancel_requested(huge)
        assert store.get_result(huge, "evaluation") is None


def test_processes_creating_the_schema_at_once(store):
    # An empty database: several processes (app, runner, CLI) may create the tables together.
    url = store.url
    code = "import sys; from slm_core.store import RunStore; RunStore(sys.argv[1], sys.argv[2])"
    metadata.drop_all(store.engine)
    store.close()
    procs = [
        subprocess.Popen([sys.executable, "-c", code, url, str(store.home)], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=60)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    assert store.list_runs() == []


def test_progress_reads_back_as_a_typed_record(fresh_home):
    from slm_core.store import RunStore
    from slm_core.store.records import RunProgress

    store = RunStore()
    frame = pd.DataFrame({"text": ["a", "b"], "label": ["x", "y"]})
    dataset = store.add_dataset("d", "upload", "d.csv", "h", frame)
    run = store.create_run(dataset.id, "tfidf_lr", "quick", {})
    assert store.get_run(run.id).live == RunProgress()  # queued, nothing written yet
    store.set_progress(run.id, RunProgress(2, 5, 3, 10, 0.46, "training"))
    live = store.get_run(run.id).live
    assert (live.epoch, live.epochs, live.batch, live.batches) == (2, 5, 3, 10)
    assert live.share == pytest.approx(0.46) and live.message == "training"
    store.set_progress(run.id, {"fraction": 7.0})  # out of range or missing values
    assert store.get_run(run.id).live.share == 1.0


def test_metrics_read_back_as_a_typed_record(fresh_home):
    from slm_core.store import RunStore

    store = RunStore()
    frame = pd.DataFrame({"text": ["a", "b"], "label": ["x", "y"]})
    dataset = store.add_dataset("d", "upload", "d.csv", "h", frame)
    run = store.create_run(dataset.id, "tfidf_lr", "quick", {})
    metrics = {
        "accuracy": 0.9,
        "macro_f1": 0.85,
        "n_params": 120.0,
        "train_energy_kwh": 0.002,
        "train_energy": {"estimate": False},
        "split_sizes": {"train": 7, "validation": 2, "test": 2},
        "model_size_bytes": float("nan"),
    }
    store.finish_run(run.id, "succeeded", metrics=metrics, train_seconds=1.0)
    m = store.get_run(run.id).measured
    assert (m.accuracy, m.macro_f1, m.n_params) == (0.9, 0.85, 120)
    assert m.train_energy_kwh == 0.002 and m.train_energy_estimate is False  # metered
    assert m.split_sizes == {"train": 7, "validation": 2, "test": 2}
    assert m.model_size_bytes is None and m.majority_rate is None  # stored NaN, missing


def test_sweep_removes_only_stale_leftovers_of_gone_processes(tmp_path):
    """A killed ingest or upload leaves ``.incoming-<pid>-*`` / ``.upload-<pid>-*`` behind;
    a start removes those of gone processes, untouched for a while, and nothing else."""
    store = RunStore(home=tmp_path)
    folder = tmp_path / "datasets"
    folder.mkdir(exist_ok=True)
    gone = 2**22 + 12345  # above Linux's default pid_max: no such process
    old = (datetime.now() - timedelta(hours=2)).timestamp()
    stale_frame = folder / f".incoming-{gone}-abc.parquet"
    stale_upload = folder / f".upload-{gone}-xyz"
    # atomic_path's temporary files: of a streamed frame, and of a frame read whole
    stale_streaming = folder / f"..incoming-{gone}-abc.{gone}-140.tmp.parquet"
    stale_whole = folder / f".0123456789ab.{gone}-140.tmp.parquet"
    fresh_frame = folder / f".incoming-{gone}-new.parquet"
    live_frame = folder / f".incoming-{os.getpid()}-mine.parquet"
    dataset = folder / "0123456789ab.parquet"
    stale_upload.mkdir()
    (stale_upload / "big.csv").write_text("text,label\n")
    stale = (stale_frame, stale_streaming, stale_whole)
    for path in (*stale, fresh_frame, live_frame, dataset):
        path.write_bytes(b"PAR1")
    for path in (*stale, stale_upload, live_frame, dataset):
        os.utime(path, (old, old))
    assert sorted(p.name for p in store.sweep_staging()) == sorted(
        [*(p.name for p in stale), stale_upload.name]
    )
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [fresh_frame.name, live_frame.name, dataset.name]
    )


def test_a_sweeps_trials_are_child_runs_of_its_run(store):
    """Stored with their settings and scores, replaced by a later sweep of the same run, and
    gone with the run when it restarts or is deleted (SQLite and PostgreSQL)."""
    ds = _dataset(store)
    run = store.create_run(ds.id, "tfidf_lr", "thorough", {"sweep": {"trials": 2}})
    other = store.create_run(ds.id, "nb", "thorough", {"sweep": {"trials": 2}})
    trials = [
        {"number": 1, "settings": {"C": 3.0}, "train_rows": 40, "val_accuracy": 0.8, "rung": 1},
        {"number": 0, "settings": {"C": np.float64(0.5)}, "train_rows": 20, "val_accuracy": None},
    ]
    store.put_trial_runs(run.id, "successive_halving", trials)
    store.put_trial_runs(other.id, "ray_tune", trials[:1])
    children = store.list_trial_runs(run.id)
    assert [(c.number, c.rung, c.settings, c.train_rows, c.val_accuracy) for c in children] == [
        (0, 0, {"C": 0.5}, 20, None),
        (1, 1, {"C": 3.0}, 40, 0.8),
    ]
    assert {c.parent_run_id for c in children} == {run.id}
    store.put_trial_runs(run.id, "ray_tune", trials[:1])  # swept again: only the last sweep
    assert [(c.number, c.engine) for c in store.list_trial_runs(run.id)] == [(1, "ray_tune")]
    store.finish_run(run.id, "failed", error="boom")
    store.restart_run(run.id)
    assert store.list_trial_runs(run.id) == []
    store.delete_run(other.id)
    assert store.list_trial_runs(other.id) == []
