"""Keras -> LiteRT (float32, int8) and ONNX round trips with prediction parity on tiny data.

Parity is always checked on texts the model did not train on (a second draw of the corpus),
as the benchmark checks it on the run's test split.
"""

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


def _corpus(n_per_class: int = 40, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
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
    """The training texts."""
    return _corpus()


@pytest.fixture(scope="module")
def held_out():
    """Texts the models never trained on (another draw), where parity is measured."""
    texts, labels = _corpus(seed=7)
    train = set(_corpus()[0])
    kept = [(t, y) for t, y in zip(texts, labels, strict=True) if t not in train]
    return [t for t, _ in kept], [y for _, y in kept]


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
    assert not parity(np.zeros((0, 2)), np.zeros((0, 2)), ["a", "b"], []).passed  # no texts


def test_a_form_agreeing_on_80_percent_fails_even_at_equal_accuracy():
    """The defect: parity passed on accuracy alone, so a form that flipped one answer in five
    (as many right->wrong as wrong->right) served with max |dp| = 1.0."""
    rng = np.random.default_rng(0)
    n = 200
    y = np.array(["a", "b"] * (n // 2), dtype=object)
    ref_label = np.where(rng.random(n) < 0.8, y, np.where(y == "a", "b", "a"))
    ref = np.where((ref_label == "a")[:, None], [[1.0, 0.0]], [[0.0, 1.0]])
    right = np.flatnonzero(ref_label == y)[:20]
    wrong = np.flatnonzero(ref_label != y)[:20]
    form = ref.copy()
    form[right] = form[right][:, ::-1]  # 20 right answers made wrong
    form[wrong] = form[wrong][:, ::-1]  # 20 wrong answers made right
    check = parity(form, ref, ["a", "b"], list(y))
    assert check.agreement == pytest.approx(0.8) and check.accuracy_delta == pytest.approx(0.0)
    assert check.max_abs_diff == 1.0
    assert not check.passed
    # Agreement 99.5% with accuracy within half a point passes; 99.0% does not.
    one = ref.copy()
    one[right[:1]] = one[right[:1]][:, ::-1]  # 1 of 200 flipped: 99.5%, -0.5 point
    assert parity(one, ref, ["a", "b"], list(y)).passed
    two = ref.copy()
    two[right[:2]] = two[right[:2]][:, ::-1]  # 2 of 200: 99.0%, -1.0 point
    assert not parity(two, ref, ["a", "b"], list(y)).passed


def test_a_stored_export_is_judged_by_todays_rule():
    """A manifest written under the accuracy-only rule named an 80%-agreement form as served:
    serving now picks the fastest form whose stored figures pass, else the model itself."""
    from slm_core.runtime.parity import Parity
    from slm_core.runtime.serve import _passing_form

    loose = {"n": 200, "accuracy": 0.8, "reference_accuracy": 0.8, "agreement": 0.8}
    tight = {"n": 200, "accuracy": 0.8, "reference_accuracy": 0.8, "agreement": 1.0}
    assert not Parity.from_dict({**loose, "passed": True}).passed  # the stored verdict is ignored
    forms = {
        "litert_int8": {"p50_ms": 0.1, "parity": {**loose, "passed": True}},
        "onnx": {"p50_ms": 0.3, "parity": tight},
        "litert_f32": {"p50_ms": 0.2, "parity": tight, "error": "RuntimeError: broken"},
    }
    assert _passing_form({"served": "litert_int8", "forms": forms}) == "onnx"
    forms.pop("onnx")
    assert _passing_form({"served": "litert_int8", "forms": forms}) is None  # Keras serves


@pytest.mark.parametrize("quantize", [False, True], ids=["float32", "int8"])
def test_litert_round_trip_matches_keras(lstm, held_out, tmp_path, quantize):
    model, _ = lstm
    texts, labels = held_out
    path = tmp_path / "model.tflite"
    size = export_litert(model.model_, model.max_len_, path, quantize=quantize)
    assert size == path.stat().st_size > 0
    ids = model.encode(texts)
    reference = model.predict_proba_ids(ids)
    runtime = LiteRTRuntime(path, threads=1)
    assert runtime.max_len == model.max_len_
    # Three full batches of 32 and a padded partial batch.
    assert len(ids) % 32 > 32 // 4
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


def test_onnx_round_trip_matches_keras_at_any_length(lstm, held_out, tmp_path):
    model, _ = lstm
    texts, labels = held_out
    path = tmp_path / "model.onnx"
    assert export_onnx(model.model_, path) > 0
    ids = model.encode(texts)
    runtime = OnnxRuntime(path, threads=1)
    out = runtime.run(ids)  # trailing padding columns are dropped first
    reference = model.predict_proba_ids(ids)
    np.testing.assert_allclose(out / out.sum(axis=1, keepdims=True), reference, atol=1e-4)
    assert parity(out, reference, model.classes_, labels).passed


def test_export_model_serves_the_fastest_passing_form(cnn, corpus, held_out, tmp_path):
    model, model_dir = cnn
    texts, labels = held_out
    assert not set(texts) & set(corpus[0])  # parity on texts the model did not train on
    serving = tmp_path / "serving"
    manifest = export_model(model_dir, serving, texts, labels, timing_calls=20, timing_seconds=0.05)
    assert set(manifest.forms) == set(EXPORT_FORMS)
    passing = {name: f for name, f in manifest.forms.items() if f.passed}
    assert passing, {n: f.error for n, f in manifest.forms.items()}
    assert manifest.served == min(passing.values(), key=lambda f: f.p50_ms).name
    stored = read_manifest(serving)
    assert stored["served"] == manifest.served
    assert manifest_is_current(stored, model_dir)
    # The served form's own accuracy, agreement and largest difference, on the held-out texts.
    served = manifest.forms[manifest.served].parity
    assert stored["served_accuracy"] == served.accuracy
    assert stored["served_agreement"] == served.agreement >= 0.995
    assert stored["served_max_abs_diff"] == served.max_abs_diff
    names = np.array(model.classes_, dtype=object)
    own = names[predictor_argmax(serving, model_dir, manifest.served, texts)]
    assert served.accuracy == pytest.approx(float(np.mean(own == np.array(labels))))
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


def predictor_argmax(serving, model_dir, form: str, texts) -> np.ndarray:
    """The labels (as class indices) that one served form gives ``texts``."""
    predictor = load_predictor(model_dir, serving_dir=serving, threads=1, form=form)
    return predictor.predict_proba(texts).argmax(axis=1)


@pytest.mark.slow
def test_every_architecture_exports_and_passes(tmp_path, corpus, held_out):
    texts, labels = corpus
    for arch in ("bigru", "transformer"):
        directory = tmp_path / arch / "model"
        _train(arch, texts, labels, directory)
        manifest = export_model(directory, tmp_path / arch / "serving", *held_out, timing_calls=20)
        errors = {n: f.error for n, f in manifest.forms.items() if not f.passed}
        assert not errors, (arch, errors)


def test_a_linear_forms_parity_is_exact():
    """The compiled linear form computes scikit-learn's formula: one flipped answer in 200, or a
    probability 1e-5 off, passes the Keras-export rule but not the linear one."""
    from slm_core.runtime.parity import Parity, exact_parity

    y = ["a", "b"] * 100
    ref = np.tile([[0.7, 0.3], [0.2, 0.8]], (100, 1))
    one = ref.copy()
    one[0] = one[0][::-1]
    assert parity(one, ref, ["a", "b"], y).passed
    assert not exact_parity(one, ref, ["a", "b"], y).passed
    near = ref + 1e-5 * np.array([[1.0, -1.0]])
    assert parity(near, ref, ["a", "b"], y).passed
    check = exact_parity(near, ref, ["a", "b"], y)
    assert not check.passed
    assert not Parity.from_dict(check.to_dict()).passed  # judged exactly when read back
    assert exact_parity(ref + 1e-9, ref, ["a", "b"], y).passed
