"""The pretrained family around the model: Cost's wording, the Train page's warning, the value
checks' cost, fine-tuning and its CPU-time gate."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from slm_core.models import registry
from tests.conftest import ROOT


def test_every_family_but_the_linear_one_is_keras():
    assert registry.is_keras("neural") and registry.is_keras("pretrained")
    assert not registry.is_keras("linear") and not registry.is_keras(None)
    assert set(registry.KERAS_FAMILIES) | {"linear"} == set(registry.FAMILIES)


def _report(family: str):
    from slm_core.runtime.record import BenchReport

    return BenchReport(
        run_id=1,
        model_id="minilm_head" if family == "pretrained" else "tfidf_lr",
        family=family,
        form="keras",
        parity={"n": 50, "agreement": 1.0, "accuracy_delta": 0.0, "passed": True},
        forms={},
        settings={},
        artifact_bytes=None,
        artifact_files={},
        n_params=None,
        cpu={},
        energy={},
        train_energy={},
        measured_at="2026-12-03T00:00:00+00:00",
    )


def test_cost_names_keras_as_the_parity_reference_of_a_pretrained_model():
    from slm_core.runtime.bench import _parity_lines

    assert "Parity with Keras" in _parity_lines(_report("pretrained"))[0]
    assert "Parity with scikit-learn" in _parity_lines(_report("linear"))[0]


@pytest.mark.parametrize(
    ("family", "step", "keras_note"),
    [("pretrained", "exporting to LiteRT", True), ("linear", "compiling", False)],
)
def test_a_pretrained_model_is_exported_and_noted_as_served_by_keras(
    family, step, keras_note, monkeypatch, tmp_path
):
    from slm_core.errors import render
    from slm_core.runtime import bench, export, measure

    monkeypatch.setattr(export, "manifest_is_current", lambda manifest, model_dir: False)
    monkeypatch.setattr(
        measure, "export_in_subprocess", lambda *args, **kwargs: {"served": "keras", "forms": {}}
    )
    preds = SimpleNamespace(texts=["a"], y_true=["x"], classes=["x"], proba=[[1.0]])
    target = bench._Target(None, tmp_path, {"family": family, "classes": ["x"]}, preds, ["a"])
    said: list[str] = []
    notes: list[str] = []
    bench._exported_forms(target, tmp_path, False, lambda f, m: said.append(m), notes)
    assert said[0].startswith(step)
    assert (render("errors.note.keras_serves") in notes) is keras_note


# ------------------------------------------------------------------ the Train page


def _train_page(dataset_id: str, lang: str, models: list[str]):
    from streamlit.testing.v1 import AppTest

    from ui.state import get_store

    get_store.clear()  # a store cached by an earlier test points at another SLM_HOME
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["dataset_id"] = dataset_id
    at.session_state["lang"] = lang
    at.session_state[f"train_models_{lang}"] = models
    at.run()
    at.switch_page("pages/train.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _stored(store, texts: list[str], script: str):
    import pandas as pd

    from slm_core.data.split import content_hash

    frame = pd.DataFrame({"text": texts, "label": ["a", "b"] * (len(texts) // 2)})
    report = {"rows": len(frame), "script": script, "token_unit": "character"}
    return store.add_dataset(
        script, "cli", f"{script}.csv", content_hash(frame), frame, report=report, split_config={}
    )


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_train_page_warns_when_the_english_encoder_is_picked_on_chinese_text(fresh_home, lang):
    from slm_core.i18n import t
    from slm_core.models.minilm.language import CJK_WARNING
    from slm_core.store import RunStore

    store = RunStore()
    chinese = _stored(store, ["我的快递还没有到", "请问怎么申请退款"] * 10, "cjk")
    english = _stored(store, ["the parcel is late", "how do I get a refund"] * 10, "latin")
    warning = t(CJK_WARNING, lang)

    def warned(at) -> bool:
        return any(warning in w.value for w in at.warning)

    assert warned(_train_page(chinese.id, lang, ["tfidf_lr", "minilm_head"]))
    assert not warned(_train_page(chinese.id, lang, ["tfidf_lr", "cnn"]))
    assert not warned(_train_page(english.id, lang, ["minilm_head"]))
    store.close()


def test_a_job_reading_texts_with_the_encoder_says_so_in_words(fresh_home):
    from slm_core.i18n import t
    from slm_core.store import RunStore
    from slm_core.store.records import RunProgress
    from slm_core.train import StoreCallbacks

    store = RunStore()
    dataset = _stored(store, ["the parcel is late", "how do I get a refund"] * 10, "latin")
    run = store.create_run(dataset.id, "minilm_head", "quick", {})
    assert store.claim_run(run.id, os.getpid())  # running in a live process: no runner starts
    StoreCallbacks(store, run.id, epochs=30).on_stage("embedding", 3, 14)
    for lang, words in (("en", "batch 3 of 14"), ("zh", "第 3/14 批")):
        at = _train_page(dataset.id, lang, ["minilm_head"])
        live = store.get_run(run.id).live
        assert live == RunProgress(0, 30, 3, 14, 3 / 14, "embedding")
        shown = " ".join(str(p.proto.text) for p in at.get("progress"))
        assert words in shown and "?" not in shown, shown
        assert t("pretrained_page.embedding_progress", lang, batch=3, batches=14, size=64) in shown
    store.close()


# ------------------------------------------------------------------ the value checks' cost


class CountingModel:
    """A stand-in for an expensive model: counts the texts it is asked to predict."""

    classes_ = ["bad", "good"]

    def __init__(self) -> None:
        self.texts = 0

    def predict_proba(self, texts):
        import numpy as np

        self.texts += len(texts)
        return np.array([[0.2, 0.8] if "good" in t else [0.7, 0.3] for t in texts])


def _check_run(store, n: int):
    import pandas as pd

    from slm_core.data.split import content_hash

    texts = [f"{'good' if i % 2 else 'poor'} service number {i} today" for i in range(n)]
    labels = ["good" if i % 2 else "bad" for i in range(n)]
    frame = pd.DataFrame({"text": texts, "label": labels})
    dataset = store.add_dataset(
        "checks", "cli", "c.csv", content_hash(frame), frame, report={}, split_config={}
    )
    run = store.create_run(dataset.id, "minilm_head", "quick", {})
    return run, SimpleNamespace(texts=texts, y_true=labels)


def test_the_checks_of_an_expensive_model_fit_the_time_its_cost_affords(fresh_home):
    from slm_core.i18n import t
    from slm_core.store import RunStore
    from slm_core.value import checks, social
    from slm_core.value.check_budget import CheckBudget, measure_budget
    from slm_core.value.robustness import NoiseConfig

    store = RunStore()
    run, preds = _check_run(store, 1500)
    model = CountingModel()
    # The per-text cost is measured: a clock that advances 10 ms per predicted text.
    budget = measure_budget(model, preds.texts, 20.0, clock=lambda: model.texts * 0.01)
    assert budget.seconds_per_text == pytest.approx(0.01) and budget.probe_texts == 16
    assert budget.seconds == 30.0  # at least a minute for both checks, half each
    budget = CheckBudget(10.0, 0.0125, 16, 20.0)  # 800 model calls per check
    affordable = budget.seconds / budget.seconds_per_text

    model.texts = 0
    rob, _ = checks.robustness_result(
        store, run, preds, lambda: model, NoiseConfig(), lambda: budget
    )
    assert rob["n"] == 400 and model.texts == 800 <= affordable  # clean + noisy, 400 each
    low, high = rob["extra"]["drop_ci"]
    assert low <= rob["clean_accuracy"] - rob["noisy_accuracy"] <= high
    assert rob["extra"]["budget"]["wanted"] == 1000

    model.texts = 0
    faith, _ = checks.faithfulness_result(
        store, run, preds, "word", lambda: model, (0.1, 0.2, 0.5), lambda: budget
    )
    calls = faith["budget"]["calls_per_text"]  # 2 + 5 tokens + 3 bins x 12
    assert calls == 43 and faith["n_texts"] == int(affordable // calls) == 18
    assert model.texts <= affordable
    assert sum(faith["sample_per_class"].values()) == 18 and len(faith["sample_per_class"]) == 2
    assert len(faith["comprehensiveness_gain_ci"]) == 2

    # The page says on how many texts, and why.
    for result, check in ((rob, "robustness"), (faith, "faithfulness")):
        (note,) = social._sample_notes(result, check)
        assert note.key == f"value.note.{check}_sampled"
        text = t(note.key, **note.params)
        sized = result.get("budget") or result["extra"]["budget"]
        assert f"Measured on {sized['n']} of {sized['wanted']} test texts" in text
        assert "12.5 ms a text" in text
    store.close()


def test_only_expensive_families_are_budgeted_and_a_floor_keeps_the_figures_meaningful(
    fresh_home,
):
    from slm_core.store import RunStore
    from slm_core.value import checks, social
    from slm_core.value.check_budget import (
        MIN_FAITHFULNESS_TEXTS,
        MIN_ROBUSTNESS_TEXTS,
        CheckBudget,
    )
    from slm_core.value.robustness import NoiseConfig

    store = RunStore()
    run, preds = _check_run(store, 1500)
    loads: list[int] = []

    def loader():
        loads.append(1)
        return CountingModel()

    assert checks.cost_budget(SimpleNamespace(model_id="lstm"), preds, loader)() is None
    assert not loads  # a fixed-sample family is not even timed
    budget = checks.cost_budget(
        SimpleNamespace(model_id="minilm_head", train_seconds=5), preds, loader
    )
    assert budget() is budget() and len(loads) == 1  # timed once
    # A linear/Keras model keeps the usual samples: 1,000 noisy texts, 100 for faithfulness.
    rob, _ = checks.robustness_result(store, run, preds, loader, NoiseConfig())
    assert (
        rob["n"] == 1000
        and "budget" not in rob["extra"]
        and not social._sample_notes(rob, "robustness")
    )
    # However slow, never fewer than the floors.
    slow = CheckBudget(1.0, 10.0, 16, 1.0)
    assert slow.sample_size(1000, 2, MIN_ROBUSTNESS_TEXTS) == MIN_ROBUSTNESS_TEXTS
    assert slow.sample_size(8, 44, MIN_FAITHFULNESS_TEXTS) == 8
    store.close()


# ------------------------------------------------------------------ fine-tuning

TUNE_TEXTS = [
    "the striker scored a goal",
    "our team won the match",
    "the coach praised the keeper",
    "fans cheered the late winner",
    "a penalty decided the derby",
    "she won the tennis final",
    "simmer the tomato sauce",
    "bake the bread until golden",
    "chop onions and fry them",
    "whisk eggs with some salt",
    "roast the chicken with thyme",
    "knead the dough for pizza",
]
TUNE_LABELS = ["sport"] * 6 + ["cooking"] * 6


# ~30-55 s here (two encoder builds, a traced training step): tests/test_models.py already trains
# and reloads minilm_finetune in the fast suite; this one checks what is saved, in depth.
@pytest.mark.slow
def test_a_tiny_fine_tune_trains_saves_its_layers_and_reloads_to_the_same_predictions(tmp_path):
    import json

    import numpy as np
    from safetensors.numpy import load_file

    from slm_core.models.minilm.files import encoder_files

    settings = {"epochs": 1, "batch_size": 4, "unfrozen_layers": 1, "max_tokens": 16}
    model = registry.build("minilm_finetune", "quick", settings, seed=1)
    steps: list[tuple[int, int, int]] = []
    from slm_core.models.base import TrainCallbacks

    model.fit(
        TUNE_TEXTS,
        TUNE_LABELS,
        TUNE_TEXTS[:2] + TUNE_TEXTS[-2:],
        TUNE_LABELS[:2] + TUNE_LABELS[-2:],
        callbacks=TrainCallbacks(on_batch=lambda *a: steps.append(a)),
    )
    assert steps == [(0, 0, 3), (0, 1, 3), (0, 2, 3)]  # a few steps, reported
    assert set(model.history_) == {"loss", "val_loss", "val_accuracy"}
    # The top layer moved away from the package's weights; the ones below did not.
    package = load_file(str(encoder_files().weights))
    query = "encoder.layer.{}.attention.self.query.weight"
    prefix = "bert." if "bert." + query.format(5) in package else ""
    top = model.encoder_.get_layer("layer5").query.get_weights()[0]
    below = model.encoder_.get_layer("layer4").query.get_weights()[0]
    assert not np.allclose(top, package[prefix + query.format(5)].T)
    assert np.array_equal(below, package[prefix + query.format(4)].T)

    directory = tmp_path / "tuned"
    model.save(directory)
    meta = json.loads((directory / "model.json").read_text(encoding="utf-8"))
    assert meta["model_id"] == "minilm_finetune" and meta["tuned_layers"] == ["layer5"]
    assert (directory / "encoder_layers.safetensors").is_file() and meta["max_len"] == 16
    loaded = registry.load_model(directory)
    probe = ["a goal in the final minute", "fry the garlic in butter", "x " * 50]
    expected = model.predict_proba(probe)
    assert np.allclose(loaded.predict_proba(probe), expected, atol=1e-6)
    # The served view (ids through the fine-tuned encoder + head) answers the same.
    assert np.allclose(loaded.predict_proba_ids(loaded.encode(probe)), expected, atol=1e-5)
    # Served in the Keras form: the same answers; its size counts the fine-tuned layers too.
    from slm_core.runtime.serve import load_predictor

    predictor = load_predictor(directory, threads=1, form="keras")
    assert np.allclose(predictor.predict_proba(probe), expected, atol=1e-5)
    layers = (directory / "encoder_layers.safetensors").stat().st_size
    assert predictor.artifact_bytes > encoder_files().weights.stat().st_size + layers
    # A changed layers file is refused, never half-loaded.
    (directory / "encoder_layers.safetensors").write_bytes(b"not the layers")
    from slm_core.errors import TrainError

    with pytest.raises(TrainError, match="do not match"):
        registry.load_model(directory)


def test_the_train_page_refuses_to_fine_tune_on_the_cpu_without_consent(fresh_home, monkeypatch):
    from slm_core.i18n import t
    from slm_core.models.minilm import estimate_job, finetune
    from slm_core.store import RunStore

    assert not finetune.gpu_visible()  # this machine: no GPU (the page asks)
    measured: list[dict] = []

    def fake_estimate(texts, labels, params, n_train, n_val=0, **_):
        measured.append(params)  # one measured step would take ~10 s here
        return finetune.FinetuneEstimate(False, 1.5, 400, 630.0, params["batch_size"])

    started: list[tuple] = []

    def start_here(store, dataset_id, params, n_train):
        # The page starts a detached process (tested below); here it measures in-process,
        # leaving what that process leaves: the stored estimate.
        started.append((dataset_id, n_train))
        estimate_job.run(store, dataset_id, params, n_train)
        return True

    monkeypatch.setattr(finetune, "estimate", fake_estimate)
    monkeypatch.setattr(estimate_job, "start", start_here)
    store = RunStore()
    english = _stored(store, ["the parcel is late", "how do I get a refund"] * 10, "latin")
    at = _train_page(english.id, "en", ["minilm_finetune"])

    def submit():
        next(b for b in at.button if b.label == t("train.start")).click()
        at.run()
        assert not at.exception, [e.value for e in at.exception]

    submit()
    assert any(t("finetune.needs_estimate") in e.value for e in at.error)
    next(b for b in at.button if b.label == t("finetune.measure")).click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(started) == 1 and started[0][0] == english.id
    assert len(measured) == 1 and measured[0]["unfrozen_layers"] == 1  # the quick preset
    assert any("about 11 minutes" in i.value and "1.50 s" in i.value for i in at.info)
    assert any(b.label == t("finetune.measure_again") for b in at.button)
    (box,) = [c for c in at.checkbox if c.label == t("finetune.accept", minutes=11)]
    submit()
    assert any(t("finetune.needs_accept", minutes=11) in e.value for e in at.error)
    assert store.list_runs() == []  # nothing was queued
    store.close()


def test_the_estimate_is_measured_in_a_background_process_once(fresh_home):
    """The real path: a detached process loads the encoder, times real steps and stores the
    estimate; a second start while it measures starts nothing."""
    import time

    from slm_core.models.minilm import estimate_job, finetune
    from slm_core.models.registry import resolve_params
    from slm_core.store import RunStore

    store = RunStore()
    english = _stored(store, ["the parcel is late", "how do I get a refund"] * 10, "latin")
    params = resolve_params("minilm_finetune", "quick", None, 14)
    assert estimate_job.start(store, english.id, params, 14)
    assert not estimate_job.start(store, english.id, params, 14)  # already measuring
    assert estimate_job.measuring(store, english.id, params, 14)
    deadline = time.monotonic() + 240
    while estimate_job.measuring(store, english.id, params, 14) and time.monotonic() < deadline:
        time.sleep(0.5)
    found = estimate_job.read(store, english.id, params, 14)
    assert isinstance(found, finetune.FinetuneEstimate), found
    assert found.seconds_per_step > 0 and found.steps >= 1 and found.kind == "measured"
    # Other settings are another measurement, not this one.
    assert estimate_job.read(store, english.id, {**params, "epochs": 9}, 14) is None
    store.close()


def test_a_failed_estimate_is_stored_as_a_reason_and_frees_the_claim(fresh_home):
    from slm_core.models.minilm import estimate_job
    from slm_core.store import RunStore

    store = RunStore()
    assert estimate_job.run(store, "no-such-dataset", {"batch_size": 16}, 10) == 1
    failed = estimate_job.read(store, "no-such-dataset", {"batch_size": 16}, 10)
    assert isinstance(failed, estimate_job.EstimateFailure) and "no-such-dataset" in failed.reason
    assert not estimate_job.measuring(store, "no-such-dataset", {"batch_size": 16}, 10)
    store.close()


def test_the_cli_refuses_to_fine_tune_on_the_cpu_in_one_line_unless_accepted(fresh_home):
    from tests.conftest import SAMPLE_ZH, run_cli

    args = ("train", str(SAMPLE_ZH), "--text-col", "0", "--label-col", "1")
    done = run_cli(*args, "--models", "tfidf_lr,minilm_finetune", "--preset", "quick")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().count("\n") == 0 and "--accept-cpu-time" in done.stderr
    assert not list((fresh_home / "runs").glob("*")) if (fresh_home / "runs").exists() else True
    helped = run_cli("train", "--help")
    assert "--accept-cpu-time" in helped.stdout
