"""Sweeps of the thorough preset: settings chosen on the validation split, the best promoted.

Locally by scikit-learn's successive halving in the run's own process; on Ray by Ray Tune, in a
local Ray with 2 CPUs started by the queue runner.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from slm_core import jobs, sweeps
from slm_core.data.split import make_splits
from slm_core.errors import TrainError, render
from slm_core.store import RunStore
from slm_core.train import split_config_for
from tests.conftest import ROOT, SAMPLE_ZH, make_topic_texts, run_cli
from tests.test_jobs import _done, _kill, wait_for


def _topics(store: RunStore, copies: int = 2):
    texts, labels = make_topic_texts()
    # Twice the 90 texts, told apart, so that halving has room for more than one rung.
    rows = [(f"{t} copy{c}", y) for c in range(copies) for t, y in zip(texts, labels, strict=True)]
    frame = pd.DataFrame(rows, columns=["text", "label"])
    return store.add_dataset("topics", "cli", None, f"{copies}" * 64, frame)


def test_search_spaces_centre_on_the_thorough_preset():
    assert sweeps.search_space("tfidf_lr") == {"C": [1.0, 3.0, 10.0, 30.0, 100.0]}
    assert set(sweeps.search_space("cnn")) == {"learning_rate", "dropout", "units"}
    drawn = sweeps.draw_settings("tfidf_lr", 10, seed=3)
    assert len(drawn) == 5 and len({d["C"] for d in drawn}) == 5  # all of a small space, once
    assert sweeps.draw_settings("cnn", 4, seed=3) == sweeps.draw_settings("cnn", 4, seed=3)
    with pytest.raises(TrainError, match="no settings search"):
        sweeps.search_space("minilm_finetune")
    assert sweeps.trials_requested({"sweep": {"trials": 100}}) == sweeps.MAX_TRIALS
    assert sweeps.trials_requested({"C": 1.0}) is None


def test_a_local_sweep_halves_on_validation_and_promotes_the_best(fresh_home, monkeypatch):
    monkeypatch.delenv("SLM_EXECUTOR", raising=False)
    store = RunStore(home=fresh_home)
    dataset = _topics(store)
    seen: list[str] = []  # every text a trial was fitted on or scored on
    make_class = sweeps._candidate_class

    def recording_class():
        base = make_class()

        class Recording(base):
            def fit(self, X, y):
                seen.extend(X)
                return super().fit(X, y)

            def predict(self, X):
                seen.extend(X)
                return super().predict(X)

        return Recording

    monkeypatch.setattr(sweeps, "_candidate_class", recording_class)
    run = store.create_run(dataset.id, "tfidf_lr", "thorough", {"sweep": {"trials": 5}})
    done = jobs.run_inline(store, run.id)
    assert done.status == "succeeded", done.error

    sweep = sweeps.stored_sweep(store, run.id)
    assert sweep["engine"] == "successive_halving"
    trials = sweep["trials"]
    assert len(trials) == 5 and {t["number"] for t in trials} == set(range(5))
    # Each trial is a child run of the run, with its own settings and score.
    children = store.list_trial_runs(run.id)
    assert {c.parent_run_id for c in children} == {run.id}
    assert {c.engine for c in children} == {"successive_halving"}
    assert [c.settings for c in children] == [t["settings"] for t in trials]
    assert all(0.0 <= t["val_accuracy"] <= 1.0 for t in trials)
    # Halving: the weaker settings stopped on fewer training texts than the one promoted.
    top = max(t["rung"] for t in trials)
    assert top >= 1 and min(t["train_rows"] for t in trials) < max(t["train_rows"] for t in trials)
    best = next(t for t in trials if t["settings"] == sweep["best"])
    assert best["rung"] == top
    assert best["val_accuracy"] == max(t["val_accuracy"] for t in trials if t["rung"] == top)
    # The promoted settings are the run's: stored with it, and the model it saved.
    assert done.params["C"] == sweep["best"]["C"] and done.params["sweep"] == {"trials": 5}
    # Chosen without the test split: no trial was fitted or scored on a test text.
    splits = make_splits(store.load_frame(dataset.id), split_config_for(dataset.split_config, {}))
    assert seen and not set(seen) & set(splits.test["text"])


def test_a_cancelled_sweep_stops_between_trials(fresh_home, monkeypatch):
    store = RunStore(home=fresh_home)
    dataset = _topics(store)
    run = store.create_run(dataset.id, "tfidf_lr", "thorough", {"sweep": {"trials": 5}})
    fits = []

    def fit_then_cancel(*args, **kwargs):
        fits.append(1)
        if len(fits) == 2:
            store.request_cancel(run.id)
        return original(*args, **kwargs)

    original = sweeps.fit_candidate
    monkeypatch.setattr(sweeps, "fit_candidate", fit_then_cancel)
    done = jobs.run_inline(store, run.id)
    assert done.status == "cancelled"
    assert len(fits) == 2 and sweeps.stored_sweep(store, run.id) is None


def test_a_tiny_sweep_runs_as_ray_tune_trials(fresh_home, monkeypatch):
    monkeypatch.setenv("SLM_EXECUTOR", "ray")
    monkeypatch.setenv("SLM_RAY_CPUS", "2")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv("SLM_JOB_TARGET", raising=False)
    store = RunStore(home=fresh_home)
    dataset = _topics(store, copies=1)
    run = jobs.submit(store, dataset.id, "nb", "thorough", {"sweep": {"trials": 3}})
    try:
        wait_for(_done(store, run.id), timeout=180, what="the sweep")
    finally:
        if jobs.runner_alive(store.home):
            store.request_cancel(run.id)
            try:
                wait_for(lambda: not jobs.runner_alive(store.home), timeout=30)
            except AssertionError:
                _kill(jobs.runner_pid(store.home))
    done = store.get_run(run.id)
    assert done.status == "succeeded", done.error
    sweep = sweeps.stored_sweep(store, run.id)
    assert sweep["engine"] == "ray_tune"
    assert len(sweep["trials"]) == 3
    assert all(t["train_rows"] > 0 and t["val_accuracy"] is not None for t in sweep["trials"])
    assert done.params["alpha"] == sweep["best"]["alpha"]


def test_cli_sweeps_with_the_thorough_preset_only(tmp_path):
    env = {"SLM_HOME": str(tmp_path / "home")}
    args = ("train", str(SAMPLE_ZH), "--text-col", "工单内容", "--label-col", "类别")
    swept = ("--models", "nb", "--preset", "thorough", "--sweep", "3", "--json")
    result = run_cli(*args, *swept, env=env)
    assert result.returncode == 0, result.stderr
    (run,) = json.loads(result.stdout)["runs"]
    assert run["status"] == "succeeded" and run["params"]["sweep"] == {"trials": 3}
    refused = run_cli(*args, "--models", "nb", "--preset", "quick", "--sweep", "3", env=env)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "thorough preset only" in refused.stderr


def test_train_page_refuses_a_search_outside_thorough_and_charts_a_stored_one():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/train.py")
    at.run()
    assert not at.exception
    (search,) = [c for c in at.checkbox if c.label == render("sweep.toggle")]
    search.check()
    at.button[0].click()  # submit, with the default preset (quick)
    at.run()
    assert render("sweep.not_for_preset") in [e.value for e in at.error]

    # A finished sweep of the demo dataset: its trials are charted on the job board.
    store = RunStore()
    dataset_id = at.session_state["dataset_id"]
    run = store.create_run(dataset_id, "tfidf_lr", "thorough", {"C": 3.0, "sweep": {"trials": 2}})
    trials = [
        {"number": 0, "settings": {"C": 1.0}, "val_accuracy": 0.9, "train_rows": 50, "rung": 0},
        {"number": 1, "settings": {"C": 3.0}, "val_accuracy": 0.95, "train_rows": 150, "rung": 1},
    ]
    sweep = {
        "engine": "successive_halving",
        "trials": trials,
        "best": {"C": 3.0},
        "best_val_accuracy": 0.95,
        "space": {"C": [1.0, 3.0]},
    }
    try:
        sweeps.store_sweep(store, run.id, sweep)
        store.finish_run(run.id, "succeeded", metrics={"accuracy": 0.9})
        at.run()
        assert not at.exception
        assert sweeps.summary_text(sweep) in [c.value for c in at.caption]
        assert "Successive halving: 2 settings tried, best validation accuracy 95.0%" in (
            sweeps.summary_text(sweep)
        )
    finally:  # a run without a model folder must not meet the other tests of this session
        store.delete_run(run.id)
