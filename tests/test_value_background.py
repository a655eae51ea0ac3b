"""The value checks (validation predictions, robustness, faithfulness) are measured in the
background, never while a page renders: right after training, and by a detached job that a
page starts for runs that lack them; the Value page renders from what is stored meanwhile.
"""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
import streamlit as st

from slm_core import jobs
from slm_core.data.split import content_hash
from slm_core.i18n import t
from slm_core.store import RunStore
from slm_core.train import PREDICTION_FILES
from slm_core.value import checks_job
from slm_core.value.assumptions import PRESET_IDS, load_preset
from slm_core.value.checks import (
    CHECKS,
    CHECKS_KIND,
    FAITHFULNESS_KIND,
    FAITHFULNESS_VERSION,
    STAGE_DONE,
    Measurement,
    measure_run,
    missing_checks,
    pending_runs,
)
from slm_core.value.inputs import collect_inputs
from slm_core.value.robustness import ROBUSTNESS_KIND
from tests.conftest import TOPIC_WORDS, page_under_router, planted_gap_frame
from ui.decision import CURRENT_KEY, field_key

TIMEOUT = 180


def _open_parts() -> dict:
    """The Value page's editor and its social tab (each drawn only while open)."""
    from ui.decision import EDITOR_OPEN_KEY, VALUE_TABS_KEY

    return {EDITOR_OPEN_KEY: True, VALUE_TABS_KEY.format(lang="en"): t("value.tab_social")}


OPEN = _open_parts()
ROUTER = """
import streamlit as st
PAGES = ["pages/value.py", "pages/train.py", "pages/data.py"]
st.navigation([st.Page(p, default=(p == "pages/value.py")) for p in PAGES]).run()
"""
# A scenario whose noise rates differ from the defaults the training job measured under.
NOISY = {"noise_typo_rate": 0.2}


def _store_dataset(store: RunStore):
    frame = planted_gap_frame(TOPIC_WORDS, 24)
    report = {
        "token_unit": "word",
        "script": "latin",
        "classes": {k: int(v) for k, v in frame["label"].value_counts().items()},
    }
    return store.add_dataset(
        "topics", "cli", "t.csv", content_hash(frame), frame, report=report, split_config={}
    )


def _train(store: RunStore, dataset_id: str, models=("tfidf_lr", "nb")) -> list[int]:
    """Train each model with the real job target (``train.execute_run``), in this process."""
    ids = []
    for model_id in models:
        run = store.create_run(dataset_id, model_id, "quick", {})
        assert jobs.run_inline(store, run.id).status == "succeeded"
        ids.append(run.id)
    return ids


@pytest.fixture
def home(fresh_home):
    from ui.state import get_store

    get_store.clear()  # the cached store of an earlier test points at another SLM_HOME
    st.cache_data.clear()
    yield fresh_home
    get_store.clear()
    st.cache_data.clear()


@pytest.fixture
def bare_runs(home, monkeypatch):
    """Two trained linear runs without their checks, as runs stored before the checks were."""
    store = RunStore()
    dataset = _store_dataset(store)
    with monkeypatch.context() as patch:
        patch.setattr(checks_job, "measure_after_training", lambda store, run_id: None)
        run_ids = _train(store, dataset.id)
    for run_id in run_ids:
        (store.artifact_dir(run_id) / PREDICTION_FILES["validation"]).unlink()
    return store, dataset, run_ids


def _no_model_loads(monkeypatch) -> None:
    import slm_core.models.registry as registry

    def refuse(*args, **kwargs):
        raise AssertionError("a page loaded a model")

    monkeypatch.setattr(registry, "load_model", refuse)


def _robustness_scores(at) -> pd.Series:
    name = t("value.figure_of.robustness")
    frame = next(d.value for d in at.dataframe if name in d.value.columns)
    return frame.set_index(t("value.col_option"))[t("value.col_score")]


def _box(at) -> str | None:
    prefix = t("value_checks.box", n="2").split("{")[0][:40]
    return next((i.value for i in at.info if i.value.startswith(prefix)), None)


# ------------------------------------------------------------------ after training


def test_a_training_job_stores_the_checks_and_the_run_shows_finished_first(home, monkeypatch):
    store = RunStore()
    dataset = _store_dataset(store)
    seen = []
    real = checks_job.measure_after_training

    def watched(store_, run_id):
        seen.append(store_.get_run(run_id).status)  # the run is already stored as finished
        return real(store_, run_id)

    monkeypatch.setattr(checks_job, "measure_after_training", watched)
    (run_id,) = _train(store, dataset.id, ("tfidf_lr",))
    assert seen == ["succeeded"]
    settings = Measurement()
    rob = store.get_result(run_id, ROBUSTNESS_KIND)
    assert rob["config"] == settings.noise.to_dict() and rob["n"] > 0
    faith = store.get_result(run_id, FAITHFULNESS_KIND)
    assert faith["value_version"] == FAITHFULNESS_VERSION and faith["n_texts"] > 0
    assert missing_checks(store, run_id, settings) == ()
    assert store.get_run(run_id).live.message == STAGE_DONE
    # Read back without a model, they are the figures the value report uses.
    _no_model_loads(monkeypatch)
    inputs = collect_inputs(store, dataset.id, measure=False, settings=settings)
    assert inputs.runs[0].robustness["clean_accuracy"] == rob["clean_accuracy"]
    assert inputs.runs[0].faithfulness["value_version"] == FAITHFULNESS_VERSION


def test_the_training_job_counts_the_text_lengths_once_and_pages_read_them(home, monkeypatch):
    """Counting a dataset's text lengths reads every text (~0.4 s for a million): the job
    counts them once, a page's value figures read them back, and they go with the dataset."""
    import slm_core.value.inputs as inputs_module
    from slm_core.value.serving import text_lengths

    store = RunStore()
    dataset = _store_dataset(store)
    path = store.home / inputs_module.LENGTHS_FILE.format(dataset_id=dataset.id)
    assert not path.exists()
    _train(store, dataset.id, ("nb",))
    assert path.exists()
    expected = text_lengths(store.load_frame(dataset.id)["text"].tolist())

    def counted(*args, **kwargs):
        raise AssertionError("the lengths were counted again")

    with monkeypatch.context() as patch:
        patch.setattr(inputs_module, "text_lengths", counted)
        assert collect_inputs(store, dataset.id, measure=False).lengths == expected
    # An unreadable file is counted again, the same figures; an unwritable one is only logged.
    path.write_text("{not json", encoding="utf-8")
    assert inputs_module.dataset_lengths(store, dataset.id) == expected
    assert json.loads(path.read_text(encoding="utf-8"))["n_texts"] == expected.n_texts
    path.unlink()
    with monkeypatch.context() as patch:
        patch.setattr(inputs_module, "write_text_atomic", _refuse_writes)
        assert inputs_module.dataset_lengths(store, dataset.id) == expected
    assert not path.exists()
    inputs_module.dataset_lengths(store, dataset.id)
    store.delete_dataset(dataset.id)
    assert not path.exists()


def _refuse_writes(*args, **kwargs):
    raise PermissionError(13, "Permission denied")


def test_the_value_figures_read_no_texts_unless_they_measure_or_align_an_llm(home, monkeypatch):
    """Texts are most of a predictions file: the page's figures read the labels and
    probabilities alone, and the same figures come out."""
    import slm_core.train as train

    store = RunStore()
    dataset = _store_dataset(store)
    (run_id,) = _train(store, dataset.id, ("tfidf_lr",))
    full = train.load_predictions(store, run_id, "validation")
    bare = train.load_predictions(store, run_id, "validation", with_texts=False)
    assert bare.texts == [] and len(full.texts) == len(bare.y_true) > 0
    assert (bare.y_true, bare.y_pred, bare.classes) == (full.y_true, full.y_pred, full.classes)
    assert (bare.proba == full.proba).all()
    asked = []
    real = train.load_predictions

    def read_texts(store_, run_id_, split="test", *, with_texts=True):
        return real(store_, run_id_, split, with_texts=True)

    def watched(store_, run_id_, split="test", *, with_texts=True):
        asked.append((split, with_texts))
        return real(store_, run_id_, split, with_texts=with_texts)

    with monkeypatch.context() as patch:
        patch.setattr(train, "load_predictions", read_texts)
        with_texts = collect_inputs(store, dataset.id, measure=False).runs[0].to_dict()
    monkeypatch.setattr(train, "load_predictions", watched)
    assert collect_inputs(store, dataset.id, measure=False).runs[0].to_dict() == with_texts
    assert asked == [("test", False), ("validation", False)]


def test_a_failing_check_never_fails_the_run_and_is_noted(home, monkeypatch):
    import slm_core.value.checks as checks

    def broken(*args, **kwargs):
        raise RuntimeError("noise went wrong")

    monkeypatch.setattr(checks, "robustness_check", broken)
    store = RunStore()
    dataset = _store_dataset(store)
    (run_id,) = _train(store, dataset.id, ("nb",))
    assert store.get_run(run_id).status == "succeeded"
    record = store.get_result(run_id, CHECKS_KIND)
    assert record["robustness"]["note"] == "value.note.check_failed"
    assert store.get_result(run_id, FAITHFULNESS_KIND) is not None  # the others still ran
    # Noted, so no page waits for it or starts it again under the same settings...
    assert missing_checks(store, run_id, Measurement()) == ()
    inputs = collect_inputs(store, dataset.id, measure=False)
    assert inputs.runs[0].robustness_note == "value.note.check_failed"
    # The figure says it could not be measured, not that it is still to come.
    from slm_core.value import Assumptions, evaluate_value
    from slm_core.value.text import format_figure

    report = evaluate_value(inputs, Assumptions(), with_sensitivity=False)
    own = next(o for o in report.options if o.kind == "model")
    assert format_figure(own.social_dims["robustness"]) == t("value.not_measurable")
    assert format_figure(own.social_dims["robustness"], lang="zh") == t(
        "value.not_measurable", "zh"
    )
    # ...but other noise rates are tried afresh.
    noisy = Measurement.of(load_preset(PRESET_IDS[0]).edit(**NOISY))
    assert missing_checks(store, run_id, noisy) == ("robustness",)

    def crash(*args, **kwargs):
        raise RuntimeError("store went away")

    monkeypatch.setattr(checks_job, "measure_run", crash)
    (other,) = _train(store, dataset.id, ("tfidf_lr",))
    assert store.get_run(other).status == "succeeded"
    noted = store.get_result(other, CHECKS_KIND)  # training stored the validation predictions
    assert {c: v["note"] for c, v in noted.items()} == {
        "robustness": "value.note.check_failed",
        "faithfulness": "value.note.check_failed",
    }


# ------------------------------------------------------------------ measured directly


def test_measure_run_measures_what_is_missing_once(bare_runs, monkeypatch):
    store, dataset, run_ids = bare_runs
    settings = Measurement()
    assert [r.id for r, _ in pending_runs(store, dataset.id, settings)] == run_ids
    done = measure_run(store, run_ids[0], settings)
    assert done.measured == CHECKS and done.failed == ()
    assert (store.artifact_dir(run_ids[0]) / PREDICTION_FILES["validation"]).exists()
    assert measure_run(store, run_ids[0], settings).measured == ()  # nothing left
    noisy = Measurement.of(load_preset(PRESET_IDS[0]).edit(**NOISY))
    again = measure_run(store, run_ids[0], noisy)
    assert again.measured == ("robustness",)
    assert store.get_result(run_ids[0], ROBUSTNESS_KIND)["config"]["typo_rate"] == 0.2

    import slm_core.models.registry as registry

    def unreadable(*args, **kwargs):
        raise OSError("model file missing")

    monkeypatch.setattr(registry, "load_model", unreadable)
    failed = dict(measure_run(store, run_ids[1], settings).failed)
    assert failed == {
        "validation": "value.note.validation_unavailable",
        "robustness": "value.note.model_unavailable",
        "faithfulness": "value.note.model_unavailable",
    }
    # The second run is not pending (its failures are noted); the first is again under the
    # default noise rates, since a run keeps one robustness result: the last measured.
    assert pending_runs(store, dataset.id, settings)[0][1] == ("robustness",)
    assert [r.id for r, _ in pending_runs(store, dataset.id, settings)] == run_ids[:1]
    inputs = collect_inputs(store, dataset.id, measure=False, settings=settings)
    second = inputs.runs[1]
    assert (second.robustness_note, second.explain_note) == ("value.note.model_unavailable",) * 2


# --------------------------------------------------------------------- the page


def test_the_value_page_renders_from_the_store_and_queues_the_checks(bare_runs, monkeypatch):
    store, dataset, run_ids = bare_runs
    labels = [f"#{i} {m}" for i, m in zip(run_ids, ("tfidf_lr", "nb"), strict=True)]
    spawned = []
    with monkeypatch.context() as patch:
        _no_model_loads(patch)
        patch.setattr(
            checks_job, "spawn_detached", lambda command, *args: spawned.append(command) or 1
        )
        at = page_under_router(ROUTER, store.home / "router", dataset.id, "en", TIMEOUT, OPEN)
        assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
        box = _box(at)
        assert box is not None, [i.value for i in at.info]
        assert all(label in box for label in labels)
        assert t("value_checks.check.robustness") in box
        assert all(_robustness_scores(at)[label] == "–" for label in labels)  # not yet
        assert len(spawned) == 1 and "slm_core.value.checks_job" in spawned[0]
        assert dataset.id in spawned[0]
        at.run()  # the job is starting: not started a second time
        assert len(spawned) == 1

    # The job's work (here in this process; the detached process is tested below).
    done = checks_job.run_job(store, dataset.id, Measurement())
    assert [r.run_id for r in done] == run_ids
    _no_model_loads(monkeypatch)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert _box(at) is None
    assert all(_robustness_scores(at)[label].isdigit() for label in labels)


def test_edited_noise_rates_are_measured_in_the_background_not_on_the_page(home, monkeypatch):
    store = RunStore()
    dataset = _store_dataset(store)
    (run_id,) = _train(store, dataset.id, ("tfidf_lr",))
    _no_model_loads(monkeypatch)
    spawned = []
    monkeypatch.setattr(
        checks_job, "spawn_detached", lambda command, *args: spawned.append(command) or 1
    )
    at = page_under_router(ROUTER, store.home / "router", dataset.id, "en", TIMEOUT, OPEN)
    assert _box(at) is None and not spawned  # measured after training: nothing to do
    at.number_input(key=field_key("noise_typo_rate")).set_value(0.2).run()  # as a user would
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state[CURRENT_KEY]["noise_typo_rate"] == 0.2
    assert _box(at) is not None and len(spawned) == 1
    assert json.loads(spawned[0][-1])["noise"]["typo_rate"] == 0.2


# ------------------------------------------------------------- the detached job


def test_the_detached_job_measures_and_starting_it_twice_starts_it_once(bare_runs, monkeypatch):
    store, dataset, run_ids = bare_runs
    settings = Measurement()
    started = []
    real = checks_job.spawn_detached

    def counted(*args, **kwargs):
        started.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(checks_job, "spawn_detached", counted)
    assert checks_job.start(store, dataset.id, settings)
    assert not checks_job.start(store, dataset.id, settings)  # starting, or running
    assert checks_job.job_state(store, dataset.id, settings).running
    deadline = time.monotonic() + 120
    while checks_job.job_state(store, dataset.id, settings).running:
        assert time.monotonic() < deadline, checks_job.log_path(store, dataset.id).read_text()
        assert not checks_job.start(store, dataset.id, settings)
        time.sleep(0.2)
    assert len(started) == 1
    assert pending_runs(store, dataset.id, settings) == []
    for run_id in run_ids:
        assert store.get_result(run_id, ROBUSTNESS_KIND) is not None
        assert store.get_result(run_id, FAITHFULNESS_KIND) is not None
    # A job that ended leaves no lock, claim or note; every check landed, so no log either.
    assert list((store.home / checks_job.FOLDER).iterdir()) == []
    assert not any(p.exists() for p in checks_job.kept_logs(store, dataset.id))
    assert not checks_job.start(store, dataset.id, settings)  # nothing left to measure


def test_a_job_killed_before_it_ended_is_not_restarted_at_once(bare_runs):
    store, dataset, _ = bare_runs
    settings = Measurement()
    folder = store.home / checks_job.FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    last = {"settings": settings.key(), "started_at": time.time() - 5}
    (folder / f"{dataset.id}.last").write_text(json.dumps(last))
    state = checks_job.job_state(store, dataset.id, settings)
    assert state.stalled and not state.running
    assert not checks_job.start(store, dataset.id, settings)
    # Other settings, or once RETRY_AFTER_S has passed, are started again.
    noisy = Measurement.of(load_preset(PRESET_IDS[0]).edit(**NOISY))
    assert not checks_job.job_state(store, dataset.id, noisy).stalled
    last["started_at"] = time.time() - checks_job.RETRY_AFTER_S - 1
    (folder / f"{dataset.id}.last").write_text(json.dumps(last))
    assert not checks_job.job_state(store, dataset.id, settings).stalled


def test_a_job_keeps_its_log_only_when_something_failed_and_a_few_at_most(bare_runs, monkeypatch):
    import sys

    store, dataset, run_ids = bare_runs
    logs = checks_job.kept_logs(store, dataset.id)
    logs[0].parent.mkdir(parents=True, exist_ok=True)

    def job(n: int, typo_rate: float) -> list:
        """As ``start`` and then the detached job would: make room, write to the log, run."""
        settings = Measurement.of(load_preset(PRESET_IDS[0]).edit(noise_typo_rate=typo_rate))
        checks_job._make_room_for_a_log(store, dataset.id)
        with logs[0].open("a", encoding="utf-8") as out, monkeypatch.context() as patch:
            out.write(f"job {n}\n")
            out.flush()
            patch.setattr(sys, "stdout", out)  # the detached job's output is its log
            return checks_job.run_job(store, dataset.id, settings)

    def crash(*args, **kwargs):
        raise RuntimeError("store went away")

    with monkeypatch.context() as patch:
        patch.setattr(checks_job, "measure_run", crash)
        for n in range(1, 5):  # other noise rates each time, so each job has work that fails
            done = job(n, n / 10)
            assert [r.run_id for r in done] == run_ids and all(r.failed for r in done)
    # The failed jobs' logs are kept for their tracebacks, the latest first, KEPT_LOGS at most.
    assert [p.read_text() for p in logs] == ["job 4\n", "job 3\n", "job 2\n"]
    assert len(list(logs[0].parent.glob(f"value-checks-{dataset.id}*"))) == checks_job.KEPT_LOGS
    # A job where every check landed removes its own log; the failed ones before stay.
    done = job(5, 0.5)
    assert all(r.measured == ("robustness",) and not r.failed for r in done)
    assert not logs[0].exists()
    assert [p.read_text() for p in logs[1:]] == ["job 4\n", "job 3\n"]
    # Every job ended: no lock, claim or note is left behind.
    assert list((store.home / checks_job.FOLDER).iterdir()) == []
