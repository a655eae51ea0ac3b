"""Token attributions: exact linear decomposition, occlusion, faithfulness, safe highlighting."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from slm_core.explain import (
    Answer,
    AnsweredText,
    Explained,
    answer,
    explain_texts,
    faithfulness,
    model_family,
    rationale_size,
    stratified_indices,
    token_attributions,
    token_spans,
)
from slm_core.models.registry import build
from tests.conftest import SAMPLE_ZH, make_topic_texts


@pytest.fixture(scope="module")
def linear_models():
    texts, labels = make_topic_texts()
    return {
        model_id: build(model_id, "balanced", token_unit="word", seed=0).fit(texts, labels)
        for model_id in ("tfidf_lr", "tfidf_svm", "nb")
    }


@pytest.mark.parametrize("model_id", ["tfidf_lr", "tfidf_svm", "nb"])
def test_linear_attributions_are_exact_and_point_at_the_defining_word(linear_models, model_id):
    model = linear_models[model_id]
    text = "Yesterday the COACH said, with a smile, that it was closed."
    assert model_family(model) == "linear"
    assert model.predict([text]) == ["sport"]
    attributions = token_attributions(model, text, "word")
    assert [a.token for a in attributions] == [text[s:e] for s, e in token_spans(text, "word")]
    weights = {a.token: a.weight for a in attributions}
    # The only sport word carries the decision.
    assert max(weights, key=weights.get) == "COACH" and weights["COACH"] > 0
    assert weights["Yesterday"] == 0.0  # unseen words contribute nothing
    # Exact: token weights add up to the sum of per-feature contributions (the centred score).
    total = sum(v for _, v in model.token_contributions(text))
    assert sum(a.weight for a in attributions) == pytest.approx(total, rel=1e-9, abs=1e-12)
    # A word of another topic argues against the predicted one.
    mixed = "the coach and the team met at the bank"
    assert model.predict([mixed]) == ["sport"]
    signs = {a.token: a.weight for a in token_attributions(model, mixed, "word")}
    assert signs["coach"] > 0 and signs["team"] > 0 and signs["bank"] < 0


def test_bigram_contribution_is_shared_between_its_two_words(linear_models):
    model = linear_models["tfidf_lr"]  # balanced preset: word 1-2-grams
    text = "match goal"
    contributions = dict(model.token_contributions(text))
    assert "match goal" in contributions
    a = {x.token: x.weight for x in token_attributions(model, text, "word")}
    assert a["match"] == pytest.approx(contributions["match"] + contributions["match goal"] / 2)
    assert a["goal"] == pytest.approx(contributions["goal"] + contributions["match goal"] / 2)


def test_chinese_attributions_by_character():
    frame = pd.read_csv(SAMPLE_ZH)
    texts, labels = frame.iloc[:, 0].astype(str).tolist(), frame.iloc[:, 1].astype(str).tolist()
    model = build("tfidf_lr", "quick", token_unit="char", seed=0).fit(texts, labels)
    text = "我要退款"
    predicted = model.predict([text])[0]
    attributions = token_attributions(model, text, "char")
    assert [a.token for a in attributions] == list("我要退款")
    top = max(attributions, key=lambda a: a.weight)
    assert predicted == "退款" and top.token in "退款"
    total = sum(v for _, v in model.token_contributions(text))
    # Only the padding-space n-grams of char_wb belong to no character.
    assert sum(a.weight for a in attributions) == pytest.approx(total, abs=0.05)
    mixed = "APP登录不了"
    spans = [mixed[s:e] for s, e in token_spans(mixed, "char")]
    assert spans == ["APP", "登", "录", "不", "了"]


class _OpaqueModel:
    """A real trained model seen only through predict_proba, as a neural network is."""

    def __init__(self, model):
        self._model = model
        self.classes_ = model.classes_

    def predict_proba(self, texts):
        return self._model.predict_proba(texts)


def test_occlusion_measures_the_probability_drop(linear_models):
    model = _OpaqueModel(linear_models["tfidf_lr"])
    assert model_family(model) == "neural"
    text = "the coach and the team at the bank"
    attributions = token_attributions(model, text, "word")
    full = model.predict_proba([text])[0]
    k = int(full.argmax())
    for a in attributions:
        blanked = text[: a.start] + " " + text[a.end :]
        assert a.weight == pytest.approx(full[k] - model.predict_proba([blanked])[0][k])
    weights = {a.token: a.weight for a in attributions}
    assert weights["coach"] > 0 and weights["team"] > 0 and weights["bank"] < 0
    capped = token_attributions(model, text, "word", max_tokens=2)
    assert [a.weight for a in capped][2:] == [0.0] * 6


def _keyword_task(n_per_class: int = 60, length: int = 12, seed: int = 0):
    """Texts of neutral filler words where one keyword alone decides the label."""
    rng = np.random.default_rng(seed)
    filler = [f"w{i}" for i in range(40)]
    texts, labels = [], []
    for label, keyword in (("pos", "splendid"), ("neg", "dreadful")):
        for _ in range(n_per_class):
            words = list(rng.choice(filler, size=length - 1))
            words.insert(int(rng.integers(0, length)), keyword)
            texts.append(" ".join(words))
            labels.append(label)
    return texts, labels


@pytest.fixture(scope="module")
def keyword_model():
    texts, labels = _keyword_task()
    return build("tfidf_lr", "balanced", token_unit="word", seed=0).fit(texts, labels)


@pytest.mark.parametrize("opaque", [False, True])
def test_keyword_rationale_is_comprehensive_and_random_tokens_are_not(keyword_model, opaque):
    model = _OpaqueModel(keyword_model) if opaque else keyword_model
    texts, _ = _keyword_task(n_per_class=15, seed=1)  # texts the model never saw
    score = faithfulness(model, texts, token_unit="word", seed=0)
    assert score.method == ("occlusion" if opaque else "linear")
    assert score.n_texts == 30 and score.n_skipped == 0
    smallest = score.by_bin["comprehensiveness"][0]  # 1% of 12 tokens: two tokens removed
    assert smallest > 0.25  # the keyword is among them: confidence falls towards 0.5
    assert score.by_bin["random_comprehensiveness"][0] < smallest / 3  # 2 of 12 rarely hit it
    # Keeping only the top tokens keeps the keyword; keeping random ones rarely does.
    assert score.by_bin["sufficiency"][0] < score.by_bin["random_sufficiency"][0] - 0.1
    low, high = score.comprehensiveness_gain_ci
    assert 0 < low <= score.comprehensiveness_gain <= high and score.above_random
    assert score.sufficiency_gain_ci[0] > 0
    assert score.to_dict()["above_random"] is True


def test_a_scrambled_ranking_gains_nothing_over_random(keyword_model):
    texts, _ = _keyword_task(n_per_class=30, seed=2)
    rng = np.random.default_rng(5)
    scrambled = []
    for ex in explain_texts(keyword_model, texts, "word"):
        scrambled.append(Explained(ex.spans, rng.permutation(ex.weights), ex.read))
    score = faithfulness(keyword_model, texts, explained=scrambled, seed=0)
    low, high = score.comprehensiveness_gain_ci
    assert low < 0 < high and not score.above_random
    assert abs(score.comprehensiveness_gain) < 0.05
    honest = faithfulness(keyword_model, texts, seed=0)
    assert honest.comprehensiveness_gain > score.comprehensiveness_gain + 0.1


class _HashModel:
    """Probabilities from a hash of the whole text: no token means anything on its own, yet
    each deletion moves the output, so the single largest drop beats a random one."""

    classes_ = np.array(["a", "b"])

    def predict_proba(self, texts):
        import hashlib

        out = []
        for text in texts:
            digest = hashlib.sha256(" ".join(text.split()).encode()).digest()
            p = 0.1 + 0.8 * int.from_bytes(digest[:4], "big") / 2**32
            out.append([p, 1 - p])
        return np.array(out)


def test_occlusion_is_not_tested_against_itself():
    """Ranking by single deletions and removing the top one 'wins' by construction; no bin may
    do that, so a model with nothing to explain is not judged above random."""
    texts = [" ".join(f"t{i}_{j}" for j in range(8)) for i in range(60)]
    score = faithfulness(_HashModel(), texts, seed=0)
    assert score.method == "occlusion" and score.n_texts == 60
    assert not score.above_random
    assert all(rationale_size(share, 8) >= 2 for share in score.bins)
    assert rationale_size(0.2, 100) == 20 and rationale_size(0.5, 3) == 2
    assert faithfulness(_HashModel(), ["one two"]).n_texts == 0  # too short for two of three


def test_the_measure_is_on_the_predicted_class_probability_for_linear_models(keyword_model):
    text = "w1 w2 w3 splendid w4 w5 w6 w7 w8 w9"
    score = faithfulness(keyword_model, [text], bins=(0.2,), n_boot=50)
    (ex,) = explain_texts(keyword_model, [text], "word")
    top = ex.read[np.argsort(-ex.weights[ex.read], kind="stable")][:2]
    full = keyword_model.predict_proba([text])[0]
    k = int(full.argmax())
    removed = keyword_model.predict_proba(
        [
            text[: ex.spans[0][0]]
            + " ".join(text[s:e] for i, (s, e) in enumerate(ex.spans) if i not in top)
        ]
    )[0]
    assert score.comprehensiveness == pytest.approx(full[k] - removed[k])
    assert score.full_confidence == pytest.approx(full[k])


class _ShortReader:
    """A neural-like model that reads only its first ``max_len_`` tokens (real vocabulary)."""

    def __init__(self, max_len: int):
        from slm_core.models.tokenize import Vocabulary

        self.max_len_ = max_len
        self.vocabulary_ = Vocabulary(["", "[UNK]", "good"], "word")
        self.classes_ = np.array(["neg", "pos"])
        self.seen: list[str] = []

    def predict_proba(self, texts):
        self.seen.extend(texts)
        ids = self.vocabulary_.encode(texts, self.max_len_)
        p = np.where((ids == 2).any(axis=1), 0.9, 0.3)
        return np.column_stack([1 - p, p])


def test_random_baseline_draws_only_tokens_the_model_reads():
    model = _ShortReader(max_len=4)
    words = [f"x{i}" for i in range(20)]
    texts = [" ".join(words[:1] + ["good"] + words[1:]) for _ in range(10)]
    (ex,) = explain_texts(model, texts[:1], "word")
    assert list(ex.read) == [0, 1, 2, 3] and ex.weights[4:].tolist() == [0.0] * 17
    model.seen.clear()
    faithfulness(model, texts, seed=0)
    read = {"x0", "good", "x1", "x2"}
    full = set(texts[0].split())
    for variant in model.seen:
        tokens = set(variant.split())
        if tokens < full and len(tokens) >= len(full) // 2:  # a removal
            assert full - tokens <= read, full - tokens
        elif tokens < full:  # only the rationale or random tokens kept
            assert tokens <= read, tokens


def test_read_tokens_follow_the_models_own_tokenisation():
    from slm_core.explain import read_token_count

    model = _ShortReader(max_len=3)
    text = "ＡＢ good x y"  # full-width letters: the model normalises them, one token still
    assert read_token_count(model, text, token_spans(text)) == 3
    # NFKC turns "½" into "1⁄2", three model tokens: the model reads "½" and nothing after it.
    assert read_token_count(model, "½ good x y", token_spans("½ good x y")) == 1
    assert read_token_count(object(), text, token_spans(text)) == 4  # no max_len_: all


def test_stratified_sample_covers_every_class_of_a_sorted_file():
    labels = ["a"] * 600 + ["b"] * 300 + ["c"] * 8
    keep = stratified_indices(labels, limit=100, seed=0)
    assert len(keep) == 100 and list(keep) == sorted(set(keep.tolist()))
    drawn = Counter(labels[i] for i in keep)
    assert drawn["c"] == 5 and drawn["a"] > drawn["b"] > drawn["c"]
    assert drawn["a"] == pytest.approx(95 * 600 / 900, abs=1)
    assert list(stratified_indices(labels, limit=100, seed=0)) == list(keep)  # seeded
    assert list(stratified_indices(["a", "b"], limit=100)) == [0, 1]
    many = stratified_indices([str(i % 7) for i in range(70)], limit=4, seed=1)
    assert len({i % 7 for i in many}) == 4  # more classes than places: one each


class _Store:
    def __init__(self, results):
        self.results = dict(results)

    def get_result(self, run_id, kind):
        return self.results.get((run_id, kind))

    def put_result(self, run_id, kind, data):
        self.results[(run_id, kind)] = data


def test_value_check_samples_every_class_and_remeasures_older_results(keyword_model):
    from types import SimpleNamespace

    from slm_core.value.checks import FAITHFULNESS_VERSION, Measurement, faithfulness_result

    pos, _ = _keyword_task(n_per_class=280, seed=3)
    texts = pos[:280] + pos[-20:]  # a test file sorted by label: 280 'pos', then 20 'neg'
    preds = SimpleNamespace(texts=texts, y_true=["pos"] * 280 + ["neg"] * 20)
    run = SimpleNamespace(id=4)
    bins = Measurement().faithfulness_bins
    older = {"value_version": 2, "k": 3, "gain": 0.3, "n_texts": 100}
    store = _Store({(4, "faithfulness"): older})
    # Without the model an older result is not passed off as the new measure.
    assert faithfulness_result(store, run, preds, "word", None, bins) == (
        None,
        "value.note.explain_missing",
    )
    result, note = faithfulness_result(store, run, preds, "word", lambda: keyword_model, bins)
    assert note is None and result["value_version"] == FAITHFULNESS_VERSION
    assert result["sample_per_class"] == {"pos": 93, "neg": 7}
    assert result["n_texts"] == 100 and result["comprehensiveness_gain_ci"][0] > 0
    assert store.get_result(4, "faithfulness") == result
    cached, _ = faithfulness_result(store, run, preds, "word", None, bins)
    assert cached == result
    assert Measurement.from_key(Measurement().key()) == Measurement()
    assert Measurement.from_key('{"noise": {}, "k": 3}').faithfulness_bins == bins


def test_an_answer_is_typed_and_survives_a_round_trip(linear_models):
    model = linear_models["tfidf_lr"]
    text = "the coach and the team"
    ans = answer(model, text, "word", run_id=7)
    assert ans.run_id == 7 and ans.error is None and ans.family == "linear"
    assert ans.classes == tuple(str(c) for c in model.classes_)
    assert sum(ans.proba) == pytest.approx(1.0) and ans.ms >= 0
    assert ans.predicted == model.predict([text])[0] == "sport"
    assert [a.token for a in ans.attributions] == [text[s:e] for s, e in token_spans(text)]
    asked = AnsweredText(text, "d1", (ans, Answer(8, error="model file missing")))
    assert AnsweredText.from_dict(asked.to_dict()) == asked
    assert asked.answers[1].classes == () and asked.answers[1].error == "model file missing"


def test_highlight_html_escapes_user_text():
    from slm_core.explain import TokenAttribution
    from ui.results_widgets import highlight_html

    text = '<script>alert("x")</script> & coach'
    attributions = [
        TokenAttribution(text[s:e], 1.0 if text[s:e] == "coach" else -0.5, s, e)
        for s, e in token_spans(text, "word")
    ]
    out = highlight_html(text, attributions)
    assert "<script" not in out and "&lt;" in out and "&amp;" in out
    assert "coach</span>" in out


@pytest.mark.slow
def test_occlusion_on_a_trained_keras_model(linear_models):
    """A real (quick) Keras CNN goes through the occlusion path in one batched call."""
    words = {
        "sport": "match goal team coach league score player season win",
        "money": "bank price market profit shares tax budget loan interest",
    }
    rng = np.random.default_rng(0)
    texts, labels = [], []
    for label, vocab in words.items():
        v = vocab.split()
        for _ in range(150):
            texts.append(" ".join(rng.choice(v, 6)))
            labels.append(label)
    model = build("cnn", "quick", {"epochs": 4}, token_unit="word", seed=0).fit(texts, labels)
    text = "the coach watched"
    assert model_family(model) == "neural"
    attributions = token_attributions(model, text, "word")
    weights = {a.token: a.weight for a in attributions}
    assert model.predict([text]) == ["sport"]
    assert max(weights, key=weights.get) == "coach" and weights["coach"] > 0
    texts = [" ".join(rng.choice(v.split(), 8)) for v in words.values() for _ in range(10)]
    score = faithfulness(model, texts, seed=0)
    assert score.method == "occlusion" and score.n_texts == 20
    assert score.comprehensiveness > score.random_comprehensiveness


def test_removals_never_pull_unread_tokens_into_a_neural_models_window():
    """ "good" sits just past max_len: blanking read tokens of the full text used to slide it into
    the window, so 'comprehensiveness' measured adding a token, not removing one."""
    model = _ShortReader(max_len=4)
    texts = [
        " ".join([f"x{i}" for i in range(4)] + ["good"] + [f"y{j}" for j in range(n)])
        for n in range(6)
    ]
    model.seen.clear()
    score = faithfulness(model, texts, seed=0)
    assert score.n_texts == len(texts)
    assert not [v for v in model.seen if "good" in v.split()]
    assert score.comprehensiveness == pytest.approx(0.0)
