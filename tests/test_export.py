"""Keras -> LiteRT (float32, int8) and ONNX round trips with prediction parity on tiny data."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from slm_core.runtime.export import (  # noqa: E402
    EXPORT_FORMS,
    export_litert,
    export_model,
    export_onnx,
    manifest_is_current,
    parity,
)
from slm_core.runtime.serve import (  # noqa: E402
    LiteRTRuntime,
    OnnxRuntime,
    load_predictor,
    read_manifest,
)
from tests.conftest import TOPIC_WORDS  # noqa: E402

WORDS = TOPIC_WORDS


def _corpus(n_per_class: int = 40) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(0)
    texts, labels = [], []
    for label, vocab in WORDS.items():
        words = vocab.split()
        for _ in range(n_per_class):
            length = int(rng.integers(2, 9))  # varied lengths: padding matters
            texts.append(" ".join(rng.choice(words, length)))
            labels.append(label)
    return texts, labels


@pytest.fixture(scope="module")
def corpus():
    return _corpus()


def _train(arch: str, texts, labels, directory):
    from slm_core.models.neural import KerasTextClassifier

    model = KerasTextClassifier(
        arch=arch, epochs=1, embedding_dim=32, units=16, batch_size=16, max_len_cap=12, seed=1
    )
    model.fit(texts, labels)
    model.save(directory)
    return model


@pytest.fixture(scope="module")
def lstm(tmp_path_factory, corpus):
    directory = tmp_path_factory.mktemp("lstm") / "model"
    return _train("lstm", *corpus, directory), directory


@pytest.fixture(scope="module")
def cnn(tmp_path_factory, corpus):
    directory = tmp_path_factory.mktemp("cnn") / "model"
    return _train("cnn", *corpus, directory), directory


def test_parity_compares_labels_accuracy_and_probabilities():
    ref = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    same = parity(ref + 1e-6, ref, ["a", "b"], ["a", "b", "a", "b"])
    assert same.passed and same.agreement == 1.0 and same.accuracy_delta == 0.0
    flipped = ref.copy()
    flipped[2] = [0.4, 0.6]  # one of four labels changes: accuracy drops 25 points
    worse = parity(flipped, ref, ["a", "b"], ["a", "b", "a", "b"])
    assert worse.agreement == 0.75 and worse.accuracy_delta == pytest.approx(-0.25)
    assert not worse.passed
    assert worse.to_dict()["passed"] is False
    unlabelled = parity(flipped, ref, ["a", "b"])
    assert unlabelled.accuracy is None and not unlabelled.passed


@pytest.mark.parametrize("quantize", [False, True], ids=["float32", "int8"])
def test_litert_round_trip_matches_keras(lstm, corpus, tmp_path, quantize):
    model, _ = lstm
    texts, labels = corpus
    path = tmp_path / "model.tflite"
    size = export_litert(model.model_, model.max_len_, path, quantize=quantize)
    assert size == path.stat().st_size > 0
    ids = model.encode(texts)
    reference = model.predict_proba_ids(ids)
    runtime = LiteRTRuntime(path, threads=1)
    assert runtime.max_len == model.max_len_
    # 120 texts: three full batches of 32 and a padded partial batch of 24.
    out = runtime.run(ids)
    out = out / out.sum(axis=1, keepdims=True)
    assert out.shape == reference.shape
    # Batch of one (the single-text path) and a small remainder served one by one.
    np.testing.assert_allclose(runtime.run(ids[:1]), out[:1], atol=1e-5)
    np.testing.assert_allclose(runtime.run(ids[:35])[32:], out[32:35], atol=1e-5)
    check = parity(out, reference, model.classes_, labels)
    assert check.passed
    if quantize:
        assert check.agreement >= 0.95
    else:
        assert check.max_abs_diff < 1e-4 and check.agreement == 1.0


def test_int8_is_smaller_than_float32(lstm, tmp_path):
    """Dynamic-range quantisation stores weight tensors of 1,024+ values in int8."""
    model, _ = lstm
    f32 = export_litert(model.model_, model.max_len_, tmp_path / "f.tflite")
    int8 = export_litert(model.model_, model.max_len_, tmp_path / "i.tflite", quantize=True)
    assert int8 < f32


def test_onnx_round_trip_matches_keras_at_any_length(lstm, corpus, tmp_path):
    model, _ = lstm
    texts, labels = corpus
    path = tmp_path / "model.onnx"
    assert export_onnx(model.model_, path) > 0
    ids = model.encode(texts)
    runtime = OnnxRuntime(path, threads=1)
    out = runtime.run(ids)  # trailing padding columns are dropped first
    reference = model.predict_proba_ids(ids)
    np.testing.assert_allclose(out / out.sum(axis=1, keepdims=True), reference, atol=1e-4)
    assert parity(out, reference, model.classes_, labels).passed


def test_export_model_serves_the_fastest_passing_form(cnn, corpus, tmp_path):
    model, model_dir = cnn
    texts, labels = corpus
    serving = tmp_path / "serving"
    manifest = export_model(model_dir, serving, texts, labels, timing_calls=20, timing_seconds=0.05)
    assert set(manifest.forms) == set(EXPORT_FORMS)
    passing = {name: f for name, f in manifest.forms.items() if f.passed}
    assert passing, {n: f.error for n, f in manifest.forms.items()}
    assert manifest.served == min(passing.values(), key=lambda f: f.p50_ms).name
    stored = read_manifest(serving)
    assert stored["served"] == manifest.served
    assert manifest_is_current(stored, model_dir)
    for form in passing.values():
        assert (serving / form.file).stat().st_size == form.bytes
        assert form.parity.n == len(texts)

    predictor = load_predictor(model_dir, serving_dir=serving, threads=1)
    assert predictor.form == manifest.served and predictor.parity["passed"]
    np.testing.assert_array_equal(predictor.vectorize(texts), model.encode(texts))
    served = predictor.predict_proba(texts)
    assert (served.argmax(axis=1) == model.predict_proba(texts).argmax(axis=1)).mean() >= 0.95
    one = predictor.predict_one("goal team coach")
    assert one.label in model.classes_
    assert sum(one.probabilities.values()) == pytest.approx(1.0)
    assert predictor.artifact_bytes == sum(f.stat().st_size for f in predictor.files)
    assert not any(f.name.endswith(".keras") for f in predictor.files)


@pytest.mark.slow
def test_every_architecture_exports_and_passes(tmp_path, corpus):
    texts, labels = corpus
    for arch in ("bigru", "transformer"):
        directory = tmp_path / arch / "model"
        _train(arch, texts, labels, directory)
        manifest = export_model(
            directory, tmp_path / arch / "serving", texts, labels, timing_calls=20
        )
        errors = {n: f.error for n, f in manifest.forms.items() if not f.passed}
        assert not errors, (arch, errors)
