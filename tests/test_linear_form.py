"""The compiled NumPy form of the linear models answers exactly as scikit-learn does.

Every model (tfidf_lr, tfidf_svm, nb) and both token units, with two and three classes, is
trained on one part of a small corpus and compared on texts it did not train on, plus texts
with unseen words, empty text, repeated words and Chinese text. No timing is asserted here:
speed is the inference benchmark's job (bench/inference_bench.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from slm_core.models.linear import LINEAR_CLASSES
from slm_core.runtime.linear_form import FORM_FILE, LinearForm, compile_linear
from slm_core.runtime.parity import MIN_AGREEMENT
from tests.conftest import ROOT

TOPICS = {
    "word": {
        "sport": "match goal team coach league score player season win",
        "money": "bank price market profit shares tax budget loan interest",
        "tech": "phone software chip internet app data cloud robot code",
    },
    "char": {
        "sport": "球队比赛进球教练联赛得分球员赛季胜利",
        "money": "银行价格市场利润股票税收预算贷款利息",
        "tech": "手机软件芯片网络应用数据云端机器人代码",
    },
}
SHARED = {
    "word": ["the", "a", "today", "report", "says", "new", "some", "more"],
    "char": list("的了是在有和"),
}
EDGE_TEXTS = [
    "",
    "   ",
    "zzqx blorft unseen-words-only",
    "完全没见过的字龘靐齉",
    "Mixed 中文 and English text!! 球队 bank",
    "goal goal goal goal market market",  # repeated terms: sublinear tf matters
    "球球球球 银行银行",
    "line\u2028separator\ttab  spaces",
    "ＦＵＬＬ－ＷＩＤＴＨ ｃｈｉｐ",
]


def _corpus(unit: str, n_classes: int, n_per_class: int, seed: int):
    """Topic texts: topic words mixed with shared filler words, of varied length."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for label, vocab in list(TOPICS[unit].items())[:n_classes]:
        own = vocab.split() if unit == "word" else list(vocab)
        for _ in range(n_per_class):
            picks = list(rng.choice(own, int(rng.integers(2, 9))))
            picks += list(rng.choice(SHARED[unit], int(rng.integers(0, 4))))
            rng.shuffle(picks)
            sep = " " if unit == "word" else ("" if rng.random() < 0.7 else " ")
            texts.append(sep.join(picks) + ("!" if rng.random() < 0.3 else ""))
            labels.append(label)
    return texts, labels


def _held_out(unit: str, n_classes: int):
    """(train texts, train labels, held-out texts, held-out labels): different draws."""
    train = _corpus(unit, n_classes, 30, seed=1)
    test_texts, test_labels = _corpus(unit, n_classes, 15, seed=2)
    return *train, test_texts + EDGE_TEXTS, test_labels + [test_labels[0]] * len(EDGE_TEXTS)


CASES = [
    (model_id, unit, n_classes)
    for model_id in ("tfidf_lr", "tfidf_svm", "nb")
    for unit in ("word", "char")
    for n_classes in (2, 3)
]


def _fit(model_id: str, unit: str, n_classes: int, **params):
    texts, labels, held_texts, held_labels = _held_out(unit, n_classes)
    model = LINEAR_CLASSES[model_id](token_unit=unit, min_df=1, **params)
    model.fit(texts, labels)
    return model, held_texts, held_labels


@pytest.mark.parametrize(("model_id", "unit", "n_classes"), CASES)
def test_compiled_form_equals_scikit_learn_on_held_out_texts(model_id, unit, n_classes):
    model, texts, _ = _fit(model_id, unit, n_classes)
    form = compile_linear(model)
    # The same terms, in the same order, as the fitted vectorizer's own analyzer.
    analyzer = model.vectorizer_.build_analyzer()
    for text in texts:
        assert form.terms_of(text) == analyzer(text), text
    reference = model.predict_proba(texts)
    served = form.predict_proba(texts)
    assert served.shape == reference.shape == (len(texts), n_classes)
    assert np.abs(served - reference).max() <= 1e-6
    assert (served.argmax(axis=1) == reference.argmax(axis=1)).all()  # 100% agreement
    # One text at a time (the serving path) gives the same rows as the batch.
    one_by_one = np.vstack([form.predict_proba([t]) for t in texts])
    assert np.abs(one_by_one - reference).max() <= 1e-6
    # Unseen-only and empty texts have no features: the intercept decides, as in scikit-learn.
    assert form.vectorize([""]).values.size == 0
    assert form.predict(texts) == model.predict(texts)


@pytest.mark.parametrize("ngram_max", [1, 3])
def test_other_ngram_sizes_and_plain_tf_are_reproduced(ngram_max):
    for unit in ("word", "char"):
        model, texts, _ = _fit("tfidf_lr", unit, 3, ngram_max=ngram_max, sublinear_tf=False)
        form = compile_linear(model)
        assert np.abs(form.predict_proba(texts) - model.predict_proba(texts)).max() <= 1e-6


def test_saved_form_round_trips_without_pickle(tmp_path):
    model, texts, _ = _fit("tfidf_svm", "char", 3)
    form = compile_linear(model)
    path = tmp_path / FORM_FILE
    assert form.save(path) == path.stat().st_size > 0
    with np.load(path, allow_pickle=False) as data:  # plain arrays only
        assert {"weights", "idf", "intercept", "header"} <= set(data.files)
    loaded = LinearForm.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(texts), form.predict_proba(texts))
    assert loaded.classes_ == model.classes_


def test_saved_model_serves_the_compiled_form_checked_on_validation_texts(tmp_path):
    from slm_core.runtime.serve import load_predictor

    texts, labels, val_texts, val_labels = _held_out("word", 3)
    model = LINEAR_CLASSES["tfidf_lr"](token_unit="word", min_df=1).fit(
        texts, labels, val_texts, val_labels
    )
    model.save(tmp_path / "model")
    meta = json.loads((tmp_path / "model" / "model.json").read_text(encoding="utf-8"))
    served = meta["served"]
    assert served["form"] == "numpy" and meta["files"]["served_form"] == FORM_FILE
    # Checked on the validation texts (not the training texts) and passed.
    assert served["parity"]["n"] == len(val_texts) and served["parity"]["passed"]
    assert served["parity"]["agreement"] == 1.0 and served["parity"]["max_abs_diff"] <= 1e-6
    predictor = load_predictor(tmp_path / "model", threads=1)
    assert predictor.form == "numpy" and predictor.parity == served["parity"]
    assert [f.name for f in predictor.files] == [FORM_FILE, "model.json"]
    np.testing.assert_allclose(
        predictor.predict_proba(val_texts), model.predict_proba(val_texts), atol=1e-6
    )
    reference = load_predictor(tmp_path / "model", threads=1, form="sklearn")
    assert reference.form == "sklearn"
    np.testing.assert_allclose(
        reference.predict_proba(val_texts), model.predict_proba(val_texts), atol=1e-12
    )


def test_serving_the_compiled_form_never_imports_scikit_learn(tmp_path):
    model, texts, _ = _fit("tfidf_svm", "word", 3)
    model.save(tmp_path / "model")
    code = (
        "import sys, json\n"
        "from slm_core.runtime.serve import load_predictor\n"
        f"p = load_predictor({str(tmp_path / 'model')!r}, threads=1)\n"
        f"out = p.predict_proba({texts[:5]!r}).tolist()\n"
        "print(json.dumps({'form': p.form, 'sklearn': 'sklearn' in sys.modules, 'out': out}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["form"] == "numpy" and result["sklearn"] is False
    np.testing.assert_allclose(result["out"], model.predict_proba(texts[:5]), atol=1e-6)


def test_a_model_saved_before_the_compiled_form_still_serves(tmp_path):
    """An older run has only model.joblib and a model.json without 'served': the form is
    compiled from the pickle when it is loaded."""
    from slm_core.runtime.serve import load_predictor

    model, texts, _ = _fit("nb", "char", 2)
    directory = tmp_path / "model"
    model.save(directory)
    (directory / FORM_FILE).unlink()
    meta_path = directory / "model.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta.pop("served")
    meta["files"] = {"model": "model.joblib"}
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    predictor = load_predictor(directory, threads=1)
    assert predictor.form == "numpy" and predictor.parity is None  # not checked yet
    assert np.abs(predictor.predict_proba(texts) - model.predict_proba(texts)).max() <= 1e-6


def test_a_form_that_failed_its_check_is_not_served(tmp_path):
    from slm_core.runtime.serve import load_predictor

    model, _, _ = _fit("tfidf_lr", "word", 3)
    directory = tmp_path / "model"
    model.save(directory)
    meta_path = directory / "model.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["served"] = {"form": "sklearn", "parity": {"n": 100, "agreement": 0.8}}
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    assert load_predictor(directory, threads=1).form == "sklearn"


def test_export_checks_the_linear_form_on_held_out_texts(tmp_path):
    """The benchmark's export step: the compiled form against scikit-learn's answers on the
    test texts, the served form's own accuracy in the manifest, and the manifest obeyed."""
    from slm_core.runtime.export import export_model
    from slm_core.runtime.serve import load_predictor, manifest_is_current, read_manifest

    texts, labels, test_texts, test_labels = _held_out("char", 3)
    model = LINEAR_CLASSES["tfidf_svm"](token_unit="char", min_df=1).fit(texts, labels)
    directory, serving = tmp_path / "model", tmp_path / "serving"
    model.save(directory)
    reference = model.predict_proba(test_texts)  # what the run stored as its test answers
    manifest = export_model(
        directory,
        serving,
        test_texts,
        test_labels,
        reference,
        timing_calls=5,
        timing_seconds=0.01,
    )
    assert manifest.served == "numpy" and set(manifest.forms) == {"numpy"}
    check = manifest.forms["numpy"].parity
    assert check.n == len(test_texts) and check.passed
    assert check.agreement == 1.0 and check.max_abs_diff <= 1e-6
    names = np.array(model.classes_, dtype=object)
    expected_accuracy = float(np.mean(names[reference.argmax(axis=1)] == np.array(test_labels)))
    stored = read_manifest(serving)
    assert stored["served_accuracy"] == pytest.approx(expected_accuracy)
    assert stored["served_agreement"] == 1.0 and stored["served_max_abs_diff"] <= 1e-6
    assert stored["parity_rule"]["min_agreement"] == MIN_AGREEMENT
    assert manifest_is_current(stored, directory)
    predictor = load_predictor(directory, threads=1)
    assert predictor.form == "numpy" and predictor.parity["accuracy"] == stored["served_accuracy"]

    # A manifest whose check failed (a form agreeing on 80% of texts) leaves scikit-learn
    # serving, even with the accuracy unchanged.
    stored["served"] = "sklearn"
    stored["forms"]["numpy"]["parity"].update(agreement=0.8, passed=False)
    (serving / "manifest.json").write_text(json.dumps(stored), encoding="utf-8")
    assert load_predictor(directory, threads=1).form == "sklearn"


def test_model_saved_before_the_compiled_form_is_exported_to_the_serving_folder(tmp_path):
    from slm_core.runtime.export import export_model
    from slm_core.runtime.serve import load_predictor

    texts, labels, test_texts, test_labels = _held_out("word", 2)
    model = LINEAR_CLASSES["tfidf_lr"](token_unit="word", min_df=1).fit(texts, labels)
    directory, serving = tmp_path / "model", tmp_path / "serving"
    model.save(directory)
    (directory / FORM_FILE).unlink()
    manifest = export_model(
        directory, serving, test_texts, test_labels, timing_calls=5, timing_seconds=0.01
    )
    assert manifest.served == "numpy" and (serving / FORM_FILE).is_file()
    predictor = load_predictor(directory, threads=1)
    assert predictor.files[0] == serving / FORM_FILE
    np.testing.assert_allclose(
        predictor.predict_proba(test_texts), model.predict_proba(test_texts), atol=1e-6
    )
