"""Evaluation metrics against scikit-learn, intervals against references, McNemar, calibration."""

from __future__ import annotations

import json
import math
import types

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest, bootstrap, chi2
from scipy.stats import norm as normal
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
    EVALUATION_VERSION,
    EvalResult,
    _f1_from_confusions,
    bootstrap_macro_f1,
    confusion_counts,
    evaluate_predictions,
    evaluate_run,
    format_evaluation,
    macro_f1_jackknife,
    metric_intervals,
    roc_auc_note,
)
from slm_core.mcnemar import compare_runs, mcnemar, mcnemar_verdict, paired_predictions
from slm_core.resample import bca_interval, wilson_interval


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


def test_intervals_contain_estimate_and_narrow_with_more_data():
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


def test_macro_f1_interval_is_reproducible_per_seed():
    y, proba, classes = _synthetic(300, 3, 1.0, seed=4)
    a = evaluate_predictions(y, proba, classes, n_boot=300, seed=5)
    b = evaluate_predictions(y, proba, classes, n_boot=300, seed=5)
    c = evaluate_predictions(y, proba, classes, n_boot=300, seed=6)
    assert a.macro_f1_ci == b.macro_f1_ci and a.macro_f1_ci != c.macro_f1_ci
    assert a.accuracy_ci == c.accuracy_ci  # Wilson's interval draws nothing at random


Z95 = normal.ppf(0.975)


def _wilson_closed_form(x: int, n: int) -> tuple[float, float]:
    """Newcombe (1998), method 3, written as in the paper (not as in slm_core.resample)."""
    root = Z95 * math.sqrt(Z95**2 + 4 * x * (1 - x / n))
    den = 2 * (n + Z95**2)
    return (2 * x + Z95**2 - root) / den, (2 * x + Z95**2 + root) / den


# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I, method 3
# (score interval without continuity correction), to the 4 digits printed there.
NEWCOMBE_1998 = {
    (81, 263): (0.2553, 0.3662),
    (15, 148): (0.0624, 0.1605),
    (0, 20): (0.0000, 0.1611),
    (1, 29): (0.0061, 0.1718),
}


@pytest.mark.parametrize(("x", "n"), [*NEWCOMBE_1998, (0, 10), (18, 18), (5, 7), (199, 200)])
def test_wilson_interval_matches_published_and_closed_form_values(x, n):
    lo, hi = wilson_interval(x, n, 0.95)
    ref_lo, ref_hi = _wilson_closed_form(x, n)
    assert (lo, hi) == pytest.approx((max(ref_lo, 0.0), min(ref_hi, 1.0)), abs=1e-12)
    if (x, n) in NEWCOMBE_1998:
        assert (lo, hi) == pytest.approx(NEWCOMBE_1998[x, n], abs=5e-5)


def test_wilson_interval_at_the_boundaries():
    # 0 of 10: the upper end is 0.2775 (Brown, Cai & DasGupta 2001 report the same for n = 10).
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-5)
    # n of n: the lower end is n / (n + z²), below 1 however large n is.
    assert wilson_interval(18, 18) == pytest.approx((18 / (18 + Z95**2), 1.0))
    assert wilson_interval(18, 18)[0] == pytest.approx(0.8241, abs=1e-4)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_eighteen_of_eighteen_right_is_not_certainty():
    """The issue's case: the percentile bootstrap gave [1.0, 1.0] here."""
    y = ["pos"] * 9 + ["neg"] * 9
    proba = np.array([[0.1, 0.9]] * 9 + [[0.8, 0.2]] * 9)
    r = evaluate_predictions(y, proba, ["neg", "pos"], n_boot=500)
    assert r.accuracy == 1.0
    lo, hi = r.accuracy_ci
    assert lo < 1.0 and hi == 1.0
    assert lo == pytest.approx(18 / (18 + Z95**2))
    # Every resample of perfect answers is perfect: no bootstrap can size the macro-F1 interval,
    # so it is left undefined instead of claiming [1, 1].
    assert all(math.isnan(v) for v in r.macro_f1_ci)
    assert "[0.8241, 1.0000]" in format_evaluation(r)
    assert "n/a  (BCa bootstrap: every resample gives the same F1)" in format_evaluation(r)
    restored = EvalResult.from_dict(json.loads(json.dumps(r.to_dict(), allow_nan=False)))
    assert restored.accuracy_ci == r.accuracy_ci


def _errorful_three_class(n: int = 60, seed: int = 1):
    """Three unbalanced classes with about 5% of answers wrong: a skewed macro-F1."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(3, n, p=[0.2, 0.4, 0.4])
    pred = truth.copy()
    wrong = rng.random(n) < 0.05
    pred[wrong] = (truth[wrong] + rng.integers(1, 3, wrong.sum())) % 3
    return truth, pred


def _scipy_macro_f1(truth, pred, k):
    """Macro-F1 of the items indexed along the last axis, as scipy's bootstrap calls it."""

    def statistic(index, axis=-1):
        one = lambda i: _f1_from_confusions(confusion_counts(truth[i], pred[i], k))  # noqa: E731
        return np.apply_along_axis(one, axis, index)

    return statistic


def test_macro_f1_jackknife_is_leave_one_out():
    truth, pred = _errorful_three_class()
    expected = [
        _f1_from_confusions(confusion_counts(np.delete(truth, i), np.delete(pred, i), 3))
        for i in range(len(truth))
    ]
    np.testing.assert_allclose(macro_f1_jackknife(truth, pred, 3), expected, atol=1e-12)


def test_bca_equals_scipy_on_the_same_resamples():
    truth, pred = _errorful_three_class()
    boot = bootstrap_macro_f1(truth, pred, 3, n_boot=2000, seed=0)
    # n_resamples=0 with a previous result: scipy computes BCa on exactly our resamples.
    ref = bootstrap(
        (np.arange(len(truth)),),
        _scipy_macro_f1(truth, pred, 3),
        vectorized=True,
        n_resamples=0,
        bootstrap_result=types.SimpleNamespace(bootstrap_distribution=boot),
        method="BCa",
    ).confidence_interval
    estimate = _f1_from_confusions(confusion_counts(truth, pred, 3))
    mine = bca_interval(boot, estimate, macro_f1_jackknife(truth, pred, 3), 0.95)
    assert mine == pytest.approx((ref.low, ref.high), abs=1e-12)
    assert metric_intervals(truth, pred, 3, n_boot=2000, seed=0)["macro_f1"] == pytest.approx(mine)


def test_macro_f1_interval_agrees_with_scipy_bca_within_resampling_noise():
    truth, pred = _errorful_three_class()
    ref = bootstrap(
        (np.arange(len(truth)),),
        _scipy_macro_f1(truth, pred, 3),
        vectorized=True,
        n_resamples=4000,
        method="BCa",
        rng=np.random.default_rng(1),
    ).confidence_interval
    lo, hi = metric_intervals(truth, pred, 3, n_boot=4000, seed=0)["macro_f1"]
    # Independent resamples: across seeds the ends move by under 0.009 here, while the percentile
    # bootstrap is 0.025 off at the low end and stops at 1.0 (this skewed case is why BCa is used).
    assert lo == pytest.approx(ref.low, abs=0.012)
    assert hi == pytest.approx(ref.high, abs=0.012)
    assert hi < 1.0


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


def test_mcnemar_verdict_names_the_better_model_only_when_the_test_supports_it():
    y = ["x"] * 30
    better = mcnemar(y, ["x"] * 30, ["y"] * 10 + ["x"] * 20)  # 10 vs 0 discordant: p = 0.002
    worse = mcnemar(y, ["y"] * 10 + ["x"] * 20, ["x"] * 30)
    assert mcnemar_verdict(better, "LSTM", "TF-IDF+LR").startswith(
        "LSTM is better than TF-IDF+LR (p = 0.002). LSTM is right where TF-IDF+LR is wrong on 10"
    )
    assert mcnemar_verdict(worse, "LSTM", "TF-IDF+LR").startswith(
        "TF-IDF+LR is better than LSTM (p = 0.002). TF-IDF+LR is right where LSTM is wrong on 10"
    )
    assert mcnemar_verdict(better, "A", "B", "zh").startswith("A 比 B 更好（p = 0.002）")
    assert mcnemar_verdict(worse, "A", "B", "zh").startswith("B 比 A 更好（p = 0.002）")


def test_mcnemar_verdict_without_a_reliable_difference_names_no_winner():
    y = ["x"] * 30
    # A is right on 4 texts B gets wrong, B on 2 the other way: A is more accurate, p = 0.688.
    pred_a = ["x"] * 4 + ["y"] * 2 + ["x"] * 24
    pred_b = ["y"] * 4 + ["x"] * 2 + ["x"] * 24
    test = mcnemar(y, pred_a, pred_b)
    assert test.accuracy_a > test.accuracy_b and test.p_value == pytest.approx(0.6875)
    text = mcnemar_verdict(test, "#1 tfidf_lr · quick", "#2 tfidf_svm · quick")
    assert text.startswith(
        "No reliable difference between #1 tfidf_lr · quick and #2 tfidf_svm · quick (p = 0.688)."
    )
    assert "better" not in text
    zh = mcnemar_verdict(test, "A", "B", "zh")
    assert zh.startswith("A 与 B 之间没有可靠的差别（p = 0.688）") and "更好" not in zh
    # Just above the 5% line is still no reliable difference; just below it names the winner.
    assert mcnemar_verdict(test, "A", "B", alpha=0.69).startswith("A is better than B")


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


def test_macro_roc_auc_leaves_out_labels_the_model_never_saw():
    y = ["a", "a", "b", "b", "a", "zzz", "b", "zzz"]
    proba = np.array(
        [
            [0.9, 0.1],
            [0.4, 0.6],
            [0.3, 0.7],
            [0.2, 0.8],
            [0.7, 0.3],
            [0.6, 0.4],
            [0.55, 0.45],
            [0.1, 0.9],
        ]
    )
    r = evaluate_predictions(y, proba, ["a", "b"], n_boot=20)
    seen = [roc_auc_score([v == c for v in y], proba[:, j]) for j, c in enumerate(["a", "b"])]
    assert r.roc["zzz"]["auc"] == pytest.approx(0.5)  # no probability column: chance
    assert r.roc_auc_macro == pytest.approx(np.mean(seen))  # today's code averaged in the 0.5
    ap = [average_precision_score([v == c for v in y], proba[:, j]) for j, c in enumerate("ab")]
    assert r.average_precision_macro == pytest.approx(np.mean(ap))
    assert r.roc_auc_excluded == ["zzz"]
    assert "zzz" in roc_auc_note(r, "en") and "not trained on" in roc_auc_note(r, "en")
    assert "zzz" in roc_auc_note(r, "zh") and "没有见过" in roc_auc_note(r, "zh")
    assert roc_auc_note(r, "en") in format_evaluation(r)
    assert EvalResult.from_dict(json.loads(json.dumps(r.to_dict()))).roc_auc_excluded == ["zzz"]
    full = evaluate_predictions(y, np.hstack([proba, np.zeros((8, 1))]), ["a", "b", "zzz"])
    assert full.roc_auc_excluded == [] and roc_auc_note(full) is None


def test_evaluations_stored_before_version_2_load_and_are_recomputed(tmp_path):
    y, proba, classes = _synthetic(100, 3, 1.0, seed=3)
    old = evaluate_predictions(y, proba, classes, n_boot=50).to_dict()
    del old["roc_auc_excluded"]
    old["version"] = 1
    assert EvalResult.from_dict(old).roc_auc_excluded == []
    store, _, (lr,) = _stored_runs(tmp_path, models=("tfidf_lr",))
    fresh = evaluate_run(store, lr)
    stale = {**store.get_result(lr, EVALUATION_KIND), "version": 1, "accuracy_ci": [1.0, 1.0]}
    store.put_result(lr, EVALUATION_KIND, stale)
    assert evaluate_run(store, lr).accuracy_ci == pytest.approx(fresh.accuracy_ci)
    assert store.get_result(lr, EVALUATION_KIND)["version"] == EVALUATION_VERSION


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


def test_the_training_job_stores_the_evaluation_before_the_run_shows_finished(
    tmp_path, monkeypatch
):
    """Results reads a new run's intervals from the store: the job computed them, while the
    run was still 'running', so no page waits for the bootstrap (seconds on a large split)."""
    import slm_core.evaluate as evaluate

    seen = []
    real = evaluate.store_evaluation

    def watched(store, run_id, **kwargs):
        seen.append(store.get_run(run_id).status)
        return real(store, run_id, **kwargs)

    monkeypatch.setattr(evaluate, "store_evaluation", watched)
    store, _, (lr,) = _stored_runs(tmp_path, models=("tfidf_lr",))
    assert seen == ["running"]
    stored = store.get_result(lr, EVALUATION_KIND)
    assert stored["version"] == EVALUATION_VERSION and stored["run_id"] == lr
    run = store.get_run(lr)
    assert stored["accuracy"] == pytest.approx(run.metrics["accuracy"])
    assert stored["learning_curves"] == run.history

    def computed_again(*args, **kwargs):
        raise AssertionError("evaluate_run computed what the job stored")

    monkeypatch.setattr(evaluate, "store_evaluation", computed_again)
    assert evaluate_run(store, lr).to_dict() == EvalResult.from_dict(stored).to_dict()


def test_a_run_whose_evaluation_cannot_be_stored_still_succeeds(tmp_path, monkeypatch):
    import slm_core.evaluate as evaluate

    def broken(store, run_id, **kwargs):
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(evaluate, "store_evaluation", broken)
        store, _, (lr,) = _stored_runs(tmp_path, models=("tfidf_lr",))
    assert store.get_run(lr).status == "succeeded"
    assert store.get_result(lr, EVALUATION_KIND) is None
    assert evaluate_run(store, lr).accuracy == pytest.approx(store.get_run(lr).metrics["accuracy"])
    assert store.get_result(lr, EVALUATION_KIND) is not None  # computed on the first read


def test_evaluate_run_caches_result_and_adds_learning_curves(tmp_path, monkeypatch):
    import slm_core.train as train

    with monkeypatch.context() as patch:  # runs stored before the job stored evaluations
        patch.setattr(train, "_store_evaluation", lambda store, run_id: None)
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


def test_a_large_bootstrap_of_means_is_drawn_over_distinct_columns_with_the_same_spread():
    """From COLLAPSE_FROM texts, per-text values with few distinct tuples are resampled as
    multinomial counts: the ordinary bootstrap's distribution, without n draws per resample."""
    from slm_core import resample

    rng = np.random.default_rng(1)
    n = resample.COLLAPSE_FROM * 2
    values = np.vstack(
        [rng.choice([0.0, 1.0, -5.0], size=n, p=[0.2, 0.7, 0.1]), rng.choice([0.0, 0.5], size=n)]
    )
    collapsed = resample.bootstrap_means(values, 2000, seed=3)
    assert collapsed.shape == (2000, 2)
    # Centred on the sample means, spread as the standard error of a mean.
    np.testing.assert_allclose(collapsed.mean(axis=0), values.mean(axis=1), atol=3e-3)
    np.testing.assert_allclose(collapsed.std(axis=0), values.std(axis=1) / math.sqrt(n), rtol=0.08)
    # Mostly distinct values: the ordinary draws, as for small test splits.
    spread = rng.normal(size=(1, n))
    assert resample._collapsed_means(spread, 10, 0) is None
    plain = resample.bootstrap_means(spread, 10, seed=3)
    assert plain.shape == (10, 1) and np.all(np.isfinite(plain))
