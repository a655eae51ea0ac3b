"""Token attributions: exact linear decomposition, occlusion, faithfulness, safe highlighting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from slm_core.explain import (
    Answer,
    AnsweredText,
    answer,
    faithfulness,
    model_family,
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


@pytest.mark.parametrize("opaque", [False, True])
def test_faithfulness_top_tokens_matter_more_than_random(linear_models, opaque):
    model = linear_models["tfidf_lr"]
    model = _OpaqueModel(model) if opaque else model
    texts = [
        "after the match the coach thanked the fans in the city",
        "the bank raised its price for a loan this week in the city",
        "a new phone app keeps your data in the cloud at home",
    ]
    score = faithfulness(model, texts, k=1, seed=0)
    assert score["n_texts"] == 3
    assert score["method"] == ("occlusion" if opaque else "linear")
    assert score["top_k_drop"] > score["random_drop"]
    assert score["gain"] == pytest.approx(score["top_k_drop"] - score["random_drop"])
    assert faithfulness(model, ["one"], k=1)["n_texts"] == 0


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
    score = faithfulness(model, ["the coach watched the goal", "the bank loan price"], k=1)
    assert score["method"] == "occlusion" and score["top_k_drop"] > score["random_drop"]
