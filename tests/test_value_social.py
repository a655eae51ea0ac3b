"""Social dimensions: fairness with a planted gap, seeded robustness noise, and the formulas on
one basis for models and the hosted API."""

from __future__ import annotations

import pytest

from slm_core.value.assumptions import Assumptions
from slm_core.value.robustness import NoiseConfig, add_noise, robustness_check
from slm_core.value.social import (
    TRANSPARENCY_ITEMS,
    SocialBasis,
    fairness,
    fairness_by_class,
    fairness_by_group,
    language_ok,
    mixed_dimensions,
    social_dimensions,
    transparency_items,
)

# ----------------------------------------------------------------- fairness


def _planted(n: int = 40):
    """Group 'north' is always right; group 'south' is right 60% of the time."""
    y_true, y_pred, groups = [], [], []
    for i in range(n):
        label = "a" if i % 2 else "b"
        y_true += [label, label]
        y_pred += [label, label if i % 5 < 3 else ("b" if label == "a" else "a")]
        groups += ["north", "south"]
    return y_true, y_pred, groups


def test_fairness_finds_the_planted_group_gap_with_metricframe():
    y_true, y_pred, groups = _planted()
    f = fairness(y_true, y_pred, groups)
    assert f.method == "groups"
    assert f.worst_name == "south" and f.best_name == "north"
    assert f.worst == pytest.approx(0.6)
    assert f.gap == pytest.approx(0.4)


def test_fairness_leaves_out_tiny_groups():
    y_true, y_pred, groups = _planted()
    f = fairness_by_group(y_true + ["a"] * 3, y_pred + ["b"] * 3, groups + ["tiny"] * 3)
    assert f.left_out == ("tiny",)
    assert "tiny" not in f.by and f.gap == pytest.approx(0.4)


def test_without_groups_fairness_is_per_class_recall():
    y_true = ["a"] * 10 + ["b"] * 10
    y_pred = ["a"] * 10 + ["b"] * 5 + ["a"] * 5
    f = fairness(y_true, y_pred, None)
    assert f.method == "per_class_recall"
    assert f.by == {"a": 1.0, "b": 0.5}
    assert f.gap == pytest.approx(0.5)
    assert fairness_by_class(["a", "b"], ["a", "b"]).gap is None  # too few per class


# --------------------------------------------------------------- robustness

TEXTS = [
    "The match ended with a late goal, and the coach was happy!",
    "Bank shares fell sharply; investors worry about interest rates.",
    "商品和描述不符，请给我退款。谢谢！",
    "mixed 中文 text, with punctuation?",
] * 5


def test_noise_is_seeded_and_reproducible():
    assert add_noise(TEXTS, seed=7) == add_noise(TEXTS, seed=7)
    assert add_noise(TEXTS, seed=7) != add_noise(TEXTS, seed=8)
    # Each text's noise depends on its position and the seed only, not on the other texts.
    assert add_noise(TEXTS[:3], seed=7) == add_noise(TEXTS, seed=7)[:3]


def test_noise_changes_texts_at_the_stated_kinds():
    heavy = NoiseConfig(
        typo_rate=1.0,
        case_rate=0.0,
        punct_drop_rate=1.0,
        extra_space_rate=1.0,
        cjk_drop_rate=0.0,
        cjk_dup_rate=1.0,
        width_swap_rate=1.0,
    )
    latin, chinese = add_noise([TEXTS[0], TEXTS[2]], heavy, seed=1)
    assert "," not in latin and "!" not in latin  # every punctuation mark dropped
    assert "  " in latin  # every space doubled
    assert chinese.count("商") == 2  # every CJK character doubled
    assert "，" not in chinese and "," in chinese  # full-width comma swapped to half-width
    none = NoiseConfig(0, 0, 0, 0, 0, 0, 0)
    assert add_noise(TEXTS, none, seed=3) == TEXTS


def test_default_noise_is_mild_but_present():
    noisy = add_noise(TEXTS, seed=0)
    changed = sum(a != b for a, b in zip(TEXTS, noisy, strict=True))
    assert 0 < changed <= len(TEXTS)


def test_robustness_check_with_a_real_model(topic_texts):
    from slm_core.models.linear import LINEAR_CLASSES

    texts, labels = topic_texts
    model = LINEAR_CLASSES["tfidf_lr"](min_df=1).fit(texts, labels)
    result = robustness_check(model, texts, labels, seed=3)
    again = robustness_check(model, texts, labels, seed=3)
    assert result.clean_accuracy == pytest.approx(1.0)
    assert 0.0 <= result.noisy_accuracy <= 1.0
    assert result.drop == pytest.approx(max(0.0, result.clean_accuracy - result.noisy_accuracy))
    assert (result.noisy_accuracy, result.examples) == (again.noisy_accuracy, again.examples)
    assert result.n == len(texts) and result.cpu_seconds_per_prediction > 0
    wrecked = robustness_check(
        model, texts, labels, NoiseConfig(typo_rate=1.0, cjk_drop_rate=1.0), seed=3
    )
    assert wrecked.noisy_accuracy < result.clean_accuracy  # every word mistyped hurts
    assert type(result).from_dict(result.to_dict()) == result


# ----------------------------------------------------------------- formulas

OWN = {"device": 0.0, "own_server": 1.0, "outside": 0.0}


def _basis(**kw) -> SocialBasis:
    return SocialBasis(**{"option": "#1 m", "family": "linear", "where": OWN, **kw})


def test_privacy_follows_where_the_text_goes():
    a = Assumptions(privacy_own_server=60.0)
    device = social_dimensions(_basis(where={"device": 1.0}), a)["privacy"]
    server = social_dimensions(_basis(), a)["privacy"]
    api = social_dimensions(_basis(family="api", where={"outside": 1.0}), a)["privacy"]
    assert (device.score, server.score, api.score) == (100.0, 60.0, 0.0)
    assert api.value == 100.0 and api.kind == "assumed"  # % of texts sent outside


def test_access_size_memory_latency_and_language():
    a = Assumptions(
        device_disk_budget_mb=15.0, device_memory_budget_mb=100.0, latency_budget_ms=100.0
    )
    d = social_dimensions(_basis(artifact_mb=30.0, memory_mb=50.0, latency_ms=400.0), a)["access"]
    assert d.score == pytest.approx((50.0 + 100.0 + 25.0) / 3)
    wrong_script = _basis(artifact_mb=1.0, memory_mb=50.0, latency_ms=1.0, language_ok=False)
    assert social_dimensions(wrong_script, a)["access"].score == pytest.approx(50.0)
    api = social_dimensions(_basis(family="api", latency_ms=1000.0), a)["access"]
    assert api.score == pytest.approx((0.0 + 0.0 + 10.0) / 3)  # cannot run on a device
    missing = social_dimensions(_basis(), a)["access"]
    assert missing.score is None and missing.kind == "not_measured"
    assert language_ok("mixed", "char") and not language_ok("mixed", "word")


def test_environment_is_energy_per_text_against_the_hosted_llm_on_a_log_scale():
    a = Assumptions(llm_wh_per_query=0.24, energy_score_decades=2.0)
    score = lambda wh: social_dimensions(_basis(wh_per_text=wh), a)["environment"].score  # noqa: E731
    assert score(0.24) == pytest.approx(50.0)
    assert score(0.0024) == pytest.approx(100.0) and score(24.0) == pytest.approx(0.0)
    assert score(0.024) == pytest.approx(75.0) and score(0.0) == 100.0
    d = social_dimensions(_basis(wh_per_text=0.8), a)["environment"]
    assert d.kind == "modelled" and d.score < 50  # an idle always-on server at low volume
    assert social_dimensions(_basis(), a)["environment"].score is None


def _faith(gain: float, low: float, high: float, full: float = 0.9, chance: float = 0.5) -> dict:
    """A stored ERASER result (the fields ``slm_core.explain.Faithfulness.to_dict`` writes)."""
    return {
        "method": "linear",
        "n_texts": 50,
        "comprehensiveness": 0.3,
        "random_comprehensiveness": 0.3 - gain,
        "sufficiency": 0.05,
        "random_sufficiency": 0.2,
        "comprehensiveness_gain": gain,
        "comprehensiveness_gain_ci": [low, high],
        "level": 0.95,
        "full_confidence": full,
        "chance": chance,
    }


def test_robustness_and_explainability_are_judged_above_chance():
    x = _basis(
        robustness={"clean_accuracy": 0.9, "noisy_accuracy": 0.8, "chance": 0.5, "config": {}},
        faithfulness=_faith(0.2, 0.12, 0.28),
    )
    dims = social_dimensions(x, Assumptions())
    assert dims["robustness"].value == pytest.approx(10.0)  # points lost
    assert dims["robustness"].score == pytest.approx(75.0)  # keeps 0.3 of 0.4 above chance
    assert dims["explainability"].score == pytest.approx(50.0)  # 0.2 of 0.4 above chance
    assert dims["explainability"].value == pytest.approx(20.0)
    keys = [n.key for n in dims["explainability"].notes]
    assert keys == ["value.note.faithfulness", "value.note.faithfulness_linear"]
    ignores_input = _basis(
        robustness={"clean_accuracy": 0.5, "noisy_accuracy": 0.5, "chance": 0.5, "config": {}},
        faithfulness=_faith(0.0, 0.0, 0.0, full=0.5),
    )
    dims = social_dimensions(ignores_input, Assumptions())
    assert dims["robustness"].score == 0.0 and dims["explainability"].score == 0.0
    api = social_dimensions(_basis(family="api"), Assumptions())
    assert api["robustness"].score is None
    assert api["robustness"].notes[0].key == "value.note.not_measured_api"


def test_explanations_count_only_when_the_gain_interval_clears_zero():
    """A positive mean gain whose interval reaches 0 is not evidence of a faithful ranking."""
    dims = social_dimensions(_basis(faithfulness=_faith(0.2, -0.01, 0.4)), Assumptions())
    d = dims["explainability"]
    assert d.score == 0.0 and d.kind == "measured" and d.value == pytest.approx(20.0)
    assert d.notes[-1].key == "value.note.faithfulness_not_above_random"
    assert d.details["comprehensiveness_gain_ci"] == [-0.01, 0.4]
    clears = social_dimensions(_basis(faithfulness=_faith(0.2, 0.001, 0.4)), Assumptions())
    assert clears["explainability"].score == pytest.approx(50.0)


@pytest.mark.parametrize(
    "stored",
    [
        # written by the top-k check before ERASER (no comprehensiveness gain or interval)
        {"gain": 0.2, "full_confidence": 0.9, "chance": 0.5, "k": 3, "top_k_drop": 0.3},
        {**_faith(0.2, 0.1, 0.3), "comprehensiveness_gain_ci": None},  # no usable texts
        {**_faith(0.2, 0.1, 0.3), "comprehensiveness_gain": None},
        {**_faith(0.2, float("nan"), float("nan"))},
    ],
)
def test_an_older_or_empty_faithfulness_result_is_not_measured(stored):
    d = social_dimensions(_basis(faithfulness=stored), Assumptions())["explainability"]
    assert d.score is None and d.kind == "not_measured"
    assert d.notes[0].key == "value.note.explain_missing"


def test_fairness_gap_against_the_stated_zero_point():
    f = fairness_by_class(["a"] * 10 + ["b"] * 10, ["a"] * 10 + ["b"] * 5 + ["a"] * 5)
    d = social_dimensions(_basis(fairness=f), Assumptions(fairness_gap_zero=1.0))["fairness"]
    assert d.value == pytest.approx(50.0) and d.score == pytest.approx(50.0)
    assert social_dimensions(_basis(fairness=f), Assumptions())["fairness"].score == 0.0


def test_feedback_counts_only_from_the_minimum_and_never_lowers_for_scarcity():
    a = Assumptions(feedback_min_ratings=10)
    none = social_dimensions(_basis(), a)["feedback"]
    assert none.score is None and none.notes[0].key == "value.note.no_feedback"
    few = social_dimensions(_basis(feedback_rated=3, feedback_right=3), a)["feedback"]
    assert few.score is None and few.value == 100.0
    some = social_dimensions(_basis(feedback_rated=10, feedback_right=8), a)["feedback"]
    assert some.score == pytest.approx(80.0) and some.kind == "measured"


def test_transparency_items_differ_by_family():
    linear = transparency_items("linear", card_written=True, cost_source="bench")
    neural = transparency_items("neural", card_written=False, cost_source="fallback")
    api = transparency_items("api", card_written=False, cost_source=None, evaluated=False)
    assert set(linear) == set(TRANSPARENCY_ITEMS)
    score = lambda items: (
        social_dimensions(_basis(transparency=items), Assumptions())["transparency"].score
    )  # noqa: E731
    assert score(linear) == 100.0
    assert score(neural) == pytest.approx(100 * (1 + 1 + 0.5 + 1 + 0 + 0.5) / 6)
    assert score(api) == pytest.approx(100 * 1 / 6)  # only its published price is known


def test_a_cascade_mixes_its_two_parts_by_the_share_each_answers():
    a = Assumptions()
    own = social_dimensions(
        _basis(
            wh_per_text=0.0024,
            transparency=transparency_items("linear", card_written=True, cost_source="bench"),
        ),
        a,
    )
    api = social_dimensions(
        _basis(
            family="api",
            where={"outside": 1.0},
            wh_per_text=0.24,
            transparency=transparency_items("api", card_written=False, cost_source=None),
        ),
        a,
    )
    mixed = mixed_dimensions(own, api, 0.75)
    assert mixed["environment"].score == pytest.approx(0.75 * 100 + 0.25 * 50)
    assert mixed["privacy"].score == pytest.approx(0.75 * a.privacy_own_server)
    assert mixed["robustness"].score is None  # missing for the API part
