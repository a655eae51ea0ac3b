"""Evaluation metrics against scikit-learn, bootstrap intervals, McNemar, calibration, coverage."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest, chi2
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
    roc_auc_score,
)

from slm_core.curves import calibration, coverage_curve
from slm_core.evaluate import (
    EVALUATION_KIND,
    EvalResult,
    evaluate_predictions,
    evaluate_run,
    format_evaluation,
)
from slm_core.mcnemar import compare_runs, mcnemar, mcnemar_verdict, paired_predictions


def _synthetic(n: int, k: int, signal: float, seed: int):
    """Labels and softmax probabilities whose argmax is right more often with more signal."""
    rng = np.random.default_rng(seed)
    classes = [f"class_{i:02d}" for i in range(k)]
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += signal
    proba = np.exp(logits)
    proba /= proba.sum(axis=1, keepdims=True)
    return [classes[i] for i in y], proba, classes


# A fixed 5-class case where one class is never predicted and another never occurs in truth.
FIXED_CLASSES = ["a", "b", "c", "d", "e"]
FIXED_TRUE = list("aaaabbbcccddda") + ["b", "c"]
FIXED_PRED = list("aabababcccdaac") + ["e", "e"]


def _fixed_proba():
    rng = np.random.default_rng(3)
    proba = rng.uniform(0.0, 0.5, size=(len(FIXED_PRED), 5))
    for i, p in enumerate(FIXED_PRED):
        proba[i, FIXED_CLASSES.index(p)] = 1.5 + 0.1 * i  # unique argmax = FIXED_PRED
    return proba / proba.sum(axis=1, keepdims=True)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
@pytest.mark.parametrize("case", ["fixed5", "binary", "many"])
def test_headline_metrics_match_scikit_learn(case):
    if case == "fixed5":
        y, proba, classes = FIXED_TRUE, _fixed_proba(), FIXED_CLASSES
    elif case == "binary":
        y, proba, classes = _synthetic(400, 2, 1.0, seed=1)
    else:
        y, proba, classes = _synthetic(600, 7, 1.2, seed=2)
    pred = [classes[i] for i in proba.argmax(axis=1)]
    r = evaluate_predictions(y, proba, classes, n_boot=200, seed=0)

    assert r.accuracy == pytest.approx(accuracy_score(y, pred))
    assert r.balanced_accuracy == pytest.approx(balanced_accuracy_score(y, pred))
    for avg in ("macro", "weighted"):
        kw = dict(average=avg, zero_division=0)
        assert getattr(r, f"{avg}_precision") == pytest.approx(precision_score(y, pred, **kw))
        assert getattr(r, f"{avg}_recall") == pytest.approx(recall_score(y, pred, **kw))
        assert getattr(r, f"{avg}_f1") == pytest.approx(f1_score(y, pred, **kw))
    assert r.confusion_matrix == confusion_matrix(y, pred, labels=classes).tolist()
    p, rec, f, s = precision_recall_fscore_support(y, pred, labels=classes, zero_division=0)
    assert [c.label for c in r.per_class] == classes
    np.testing.assert_allclose([c.precision for c in r.per_class], p)
    np.testing.assert_allclose([c.recall for c in r.per_class], rec)
    np.testing.assert_allclose([c.f1 for c in r.per_class], f)
    assert [c.support for c in r.per_class] == s.tolist()
    for row, norm in zip(r.confusion_matrix, r.confusion_normalized, strict=True):
        total = sum(row)
        assert norm == pytest.approx([v / total for v in row] if total else [0.0] * len(row))
    for j, cls in enumerate(classes):
        positive = np.array([v == cls for v in y])
        if positive.all() or not positive.any():
            assert cls not in r.roc
            continue
        assert r.roc[cls]["auc"] == pytest.approx(roc_auc_score(positive, proba[:, j]))
        assert r.pr[cls]["average_precision"] == pytest.approx(
            average_precision_score(positive, proba[:, j])
        )


def test_bootstrap_ci_contains_estimate_and_narrows_with_more_data():
    widths = []
    for n in (120, 3000):
        y, proba, classes = _synthetic(n, 4, 1.5, seed=7)
        r = evaluate_predictions(y, proba, classes, n_boot=500, seed=0)
        for value, (lo, hi) in ((r.accuracy, r.accuracy_ci), (r.macro_f1, r.macro_f1_ci)):
            assert lo <= value <= hi
            assert 0.0 <= lo < hi <= 1.0
        widths.append((r.accuracy_ci[1] - r.accuracy_ci[0], r.macro_f1_ci[1] - r.macro_f1_ci[0]))
    (acc_small, f1_small), (acc_large, f1_large) = widths
    # Width shrinks like 1/sqrt(n): 25x the data should give about a fifth of the width.
    assert acc_large < acc_small / 2.5
    assert f1_large < f1_small / 2.5


def test_bootstrap_is_reproducible_per_seed():
    y, proba, classes = _synthetic(300, 3, 1.0, seed=4)
    a = evaluate_predictions(y, proba, classes, n_boot=300, seed=5)
    b = evaluate_predictions(y, proba, classes, n_boot=300, seed=5)
    c = evaluate_predictions(y, proba, classes, n_boot=300, seed=6)
    assert a.accuracy_ci == b.accuracy_ci
    assert a.macro_f1_ci != c.macro_f1_ci


def test_mcnemar_exact_case_is_significant():
    y = ["x"] * 30
    pred_a = ["x"] * 30
    pred_b = ["y"] * 10 + ["x"] * 20  # b = 10 items only A gets right, c = 0
    result = mcnemar(y, pred_a, pred_b)
    assert (result.only_a, result.only_b, result.method) == (10, 0, "exact")
    assert result.p_value == pytest.approx(binomtest(0, 10, 0.5).pvalue)
    assert result.p_value < 0.01
    assert result.better() == "a"
    assert mcnemar(y, pred_b, pred_a).better() == "b"


def test_mcnemar_equal_discordance_is_not_significant():
    y = ["x"] * 40
    pred_a = ["y"] * 15 + ["x"] * 25
    pred_b = ["x"] * 15 + ["y"] * 15 + ["x"] * 10  # only_a = 15, only_b = 15
    result = mcnemar(y, pred_a, pred_b)
    assert (result.only_a, result.only_b, result.method) == (15, 15, "chi2")
    assert result.p_value > 0.5
    assert result.better() is None
    assert mcnemar(y, pred_a, pred_a).p_value == 1.0


def test_mcnemar_chi_square_with_continuity_correction():
    y = ["x"] * 100
    pred_a = ["x"] * 30 + ["y"] * 10 + ["x"] * 60  # wrong on 10
    pred_b = ["y"] * 30 + ["x"] * 10 + ["x"] * 60  # wrong on 30
    result = mcnemar(y, pred_a, pred_b)
    assert (result.only_a, result.only_b, result.method) == (30, 10, "chi2")
    assert result.statistic == pytest.approx((20 - 1) ** 2 / 40)
    assert result.p_value == pytest.approx(chi2.sf((20 - 1) ** 2 / 40, 1))


def test_mcnemar_verdict_in_both_languages():
    y = ["x"] * 30
    better = mcnemar(y, ["x"] * 30, ["y"] * 10 + ["x"] * 20)
    tie = mcnemar(y, ["y"] * 3 + ["x"] * 27, ["x"] * 3 + ["y"] * 3 + ["x"] * 24)
    assert "LSTM is better than TF-IDF+LR: yes" in mcnemar_verdict(better, "LSTM", "TF-IDF+LR")
    worse = mcnemar(y, ["y"] * 10 + ["x"] * 20, ["x"] * 30)
    assert "LSTM is better than TF-IDF+LR: no, TF-IDF+LR is better" in mcnemar_verdict(
        worse, "LSTM", "TF-IDF+LR"
    )
    text = mcnemar_verdict(tie, "A", "B", "en")
    assert "not distinguishable" in text and "p = 1.000" in text
    assert "是" in mcnemar_verdict(better, "A", "B", "zh")
    assert "无法区分" in mcnemar_verdict(tie, "A", "B", "zh")


def test_coverage_curve_is_monotonic_and_exact():
    y, proba, classes = _synthetic(500, 5, 1.5, seed=9)
    curve = coverage_curve(y, proba, classes)
    assert np.all(np.diff(curve.coverage) <= 0)
    assert curve.coverage[0] == 1.0 and curve.n[0] == 500
    conf = proba.max(axis=1)
    right = np.array([classes[i] == t for i, t in zip(proba.argmax(axis=1), y, strict=True)])
    for threshold in (0.3, 0.5, 0.7):
        point = curve.at(threshold)
        mask = conf >= threshold
        assert point.n == mask.sum()
        assert point.coverage == pytest.approx(mask.mean())
        assert point.accuracy == pytest.approx(right[mask].mean())
    best = curve.best_threshold(0.9)
    assert best is not None and best.accuracy >= 0.9
    assert curve.at(1.0).accuracy is None or curve.at(1.0).n > 0
    restored = type(curve).from_dict(json.loads(json.dumps(curve.to_dict())))
    np.testing.assert_array_equal(restored.n, curve.n)


def test_ece_of_perfectly_calibrated_case_is_zero_and_detects_overconfidence():
    # 100 items at each confidence 0.55, 0.65, ..., 0.95, exactly that share of them right.
    confidence, correct = [], []
    for c in (0.55, 0.65, 0.75, 0.85, 0.95):
        k = round(c * 100)
        confidence += [c] * 100
        correct += [True] * k + [False] * (100 - k)
    cal = calibration(np.array(confidence), np.array(correct), 10)
    assert cal.ece == pytest.approx(0.0, abs=1e-12)
    assert sum(cal.count) == 500
    over = calibration(np.array(confidence), np.array([True] * 250 + [False] * 250), 10)
    assert over.ece > 0.2

    # The same through evaluate_predictions with two-class probabilities.
    y = ["pos" if ok else "neg" for ok in correct]
    proba = np.array([[1 - c, c] for c in confidence])
    r = evaluate_predictions(y, proba, ["neg", "pos"], n_boot=50)
    assert r.ece == pytest.approx(0.0, abs=1e-12)
    assert r.ece_15 < 0.06


def test_twenty_five_classes_and_serialisation():
    y, proba, classes = _synthetic(1500, 25, 2.0, seed=11)
    r = evaluate_predictions(y, proba, classes, n_boot=200)
    assert len(r.per_class) == 25 and len(r.confusion_matrix) == 25
    assert len(r.roc) == 25 and all(len(c["fpr"]) <= 200 for c in r.roc.values())
    data = json.loads(json.dumps(r.to_dict(), allow_nan=False))  # strict JSON for the CLI
    for key in (
        "accuracy",
        "accuracy_ci",
        "macro_f1",
        "macro_f1_ci",
        "per_class",
        "confusion_matrix",
        "ece",
        "coverage",
        "calibration",
        "roc",
        "pr",
    ):
        assert key in data
    assert EvalResult.from_dict(data).to_dict() == r.to_dict()
    text = format_evaluation(r)
    assert all(c in text for c in classes) and "95% CI" in text


def test_unseen_test_label_counts_as_error():
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    r = evaluate_predictions(["a", "b", "zzz"], proba, ["a", "b"], n_boot=20)
    assert r.classes == ["a", "b", "zzz"]
    assert r.accuracy == pytest.approx(2 / 3)
    assert r.per_class[2].support == 1 and r.per_class[2].recall == 0.0


def test_paired_predictions_align_by_text():
    from slm_core.train import TestPredictions

    def preds(texts, truth, pred):
        return TestPredictions(texts, truth, pred, np.zeros((len(texts), 2)), ["x", "y"])

    a = preds(["t1", "t2", "t3"], ["x", "y", "x"], ["x", "x", "x"])
    b = preds(["t3", "t1", "t9"], ["x", "x", "y"], ["y", "x", "y"])
    assert paired_predictions(a, b) == (["x", "x"], ["x", "x"], ["x", "y"])
    assert paired_predictions(a, a) == (a.y_true, a.y_pred, a.y_pred)


# ----------------------------------------------------------------- with a run store


def _stored_runs(home, models=("tfidf_lr", "nb")):
    from slm_core.store import RunStore
    from tests.conftest import TOPIC_WORDS, store_trained_runs

    store = RunStore(f"sqlite:///{home / 'runs.db'}", home)
    words = TOPIC_WORDS
    texts, labels = [], []
    for label, vocab in words.items():
        v = vocab.split()
        for i in range(40):
            # Every third text borrows a word of another topic so that models make mistakes.
            other = words[list(words)[(list(words).index(label) + 1) % 3]].split()
            extra = f" {other[i % len(other)]} {other[(i + 4) % len(other)]}" if i % 3 == 0 else ""
            texts.append(" ".join(v[(i * 3 + k) % len(v)] for k in range(3)) + extra + f" n{i}")
            labels.append(label)
    frame = pd.DataFrame({"text": texts, "label": labels})
    dataset, run_ids = store_trained_runs(store, frame, {"token_unit": "word"}, models=models)
    return store, dataset, run_ids


def test_evaluate_run_caches_result_and_adds_learning_curves(tmp_path):
    store, _, (lr, nb) = _stored_runs(tmp_path)
    assert store.get_result(lr, EVALUATION_KIND) is None
    result = evaluate_run(store, lr)
    run = store.get_run(lr)
    assert result.run_id == lr
    assert result.accuracy == pytest.approx(run.metrics["accuracy"])
    assert result.macro_f1 == pytest.approx(run.metrics["macro_f1"])
    assert result.learning_curves == run.history and "accuracy" in result.learning_curves
    cached = store.get_result(lr, EVALUATION_KIND)
    assert cached == json.loads(json.dumps(result.to_dict()))
    # A second call reads the cache: mark it and see the mark come back.
    store.put_result(lr, EVALUATION_KIND, {**cached, "accuracy": 0.123})
    assert evaluate_run(store, lr).accuracy == 0.123
    assert evaluate_run(store, lr, refresh=True).accuracy == pytest.approx(result.accuracy)
    comparison = compare_runs(store, lr, nb)
    assert comparison.n == result.n
    assert "accuracy" in format_evaluation(result) and not math.isnan(result.accuracy_ci[0])
