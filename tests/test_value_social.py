"""Social dimensions: fairness with a planted gap, seeded robustness noise, and the formulas."""

from __future__ import annotations

import pytest

from slm_core.value.assumptions import Assumptions
from slm_core.value.robustness import NoiseConfig, add_noise, robustness_check
from slm_core.value.social import (
    CARD_ITEMS,
    SocialInputs,
    fairness,
    fairness_by_class,
    fairness_by_group,
    language_ok,
    social_dimensions,
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


def test_privacy_uses_size_and_memory_against_the_budgets():
    x = SocialInputs(size_bytes=30_000_000, size_source="bench", peak_rss_bytes=50_000_000)
    d = social_dimensions(x, Assumptions())["privacy"]
    assert d.value == pytest.approx(30.0)  # MB
    assert d.score == pytest.approx((50.0 + 100.0) / 2)  # 15/30 of the disk budget; memory fits
    assert d.details["fits_disk"] is False and d.details["fits_memory"] is True
    assert d.details["offline"] is True


def test_missing_benchmark_says_not_measured_with_the_command():
    x = SocialInputs(run_id=12, size_bytes=1000, size_source="training")
    dims = social_dimensions(x, Assumptions())
    assert dims["access"].score is None and dims["access"].status == "not_measured"
    keys = {n.key for d in dims.values() for n in d.notes}
    assert {
        "value.note.latency_missing",
        "value.note.memory_missing",
        "value.note.energy_missing",
        "value.note.size_from_training",
    } <= keys
    note = next(n for n in dims["access"].notes if n.key == "value.note.latency_missing")
    assert note.params == {"run": 12}
    from slm_core.value.text import note_text

    assert "python -m slm_core bench --run 12" in note_text(note)


def test_environment_co2_from_measured_energy():
    a = Assumptions(annual_volume=2_000_000.0, pue=1.5, grid_gco2_per_kwh=500.0)
    x = SocialInputs(energy_kwh_per_million=0.1, train_energy_kwh=0.3, train_energy_source="bench")
    d = social_dimensions(x, a)["environment"]
    # (0.3 + 2 × 0.1) kWh × 1.5 × 500 g = 375 g
    assert d.value == pytest.approx(0.375)
    assert d.status == "measured"
    assert d.score == pytest.approx(100 - 20 * 0.5740312677, abs=1e-6)  # log10(3.75)


def test_environment_estimate_from_cpu_time_is_labelled():
    a = Assumptions(
        annual_volume=1_000_000.0, pue=1.0, grid_gco2_per_kwh=1000.0, cpu_watts_per_thread=4.0
    )
    x = SocialInputs(cpu_seconds_per_prediction=0.0009, train_seconds=900.0, train_threads=1)
    d = social_dimensions(x, a)["environment"]
    # inference: 0.0009 s × 1e6 × 4 W = 3600 J = 0.001 kWh; training 900 s × 4 W = 0.001 kWh
    assert d.details["inference_kwh_per_million"] == pytest.approx(0.001)
    assert d.details["train_kwh"] == pytest.approx(0.001)
    assert d.value == pytest.approx(0.002)
    assert d.status == "estimate"


def test_access_latency_and_language():
    a = Assumptions(latency_budget_ms=100.0)
    fast_wrong = SocialInputs(latency_p50_ms=1.0, script="cjk", model_token_unit="word")
    assert social_dimensions(fast_wrong, a)["access"].score == pytest.approx(50.0)
    slow = SocialInputs(latency_p50_ms=400.0, script="latin", model_token_unit="word")
    assert social_dimensions(slow, a)["access"].score == pytest.approx(25.0)
    assert language_ok("mixed", "char") and not language_ok("mixed", "word")


def test_feedback_never_makes_up_a_score():
    none = social_dimensions(SocialInputs(), Assumptions())["feedback"]
    assert none.score is None and none.notes[0].key == "value.note.no_feedback"
    some = social_dimensions(SocialInputs(feedback_rated=10, feedback_right=8), Assumptions())
    assert some["feedback"].value == pytest.approx(80.0)
    assert some["feedback"].score == pytest.approx(49.0, abs=0.1)


def test_transparency_is_the_share_of_the_checklist():
    card = dict.fromkeys(CARD_ITEMS[:6], True)
    d = social_dimensions(SocialInputs(card=card), Assumptions())["transparency"]
    assert d.score == pytest.approx(100.0 * 6 / len(CARD_ITEMS))
    assert d.details["missing"] == list(CARD_ITEMS[6:])


def test_robustness_and_explainability_dimensions_from_stored_results():
    x = SocialInputs(
        robustness={
            "clean_accuracy": 0.9,
            "noisy_accuracy": 0.85,
            "config": NoiseConfig().to_dict(),
        },
        faithfulness={"top_k_drop": 0.4, "random_drop": 0.1, "gain": 0.3, "k": 3, "n_texts": 50},
        explain_method="linear",
    )
    dims = social_dimensions(x, Assumptions())
    assert dims["robustness"].value == pytest.approx(5.0)  # points
    assert dims["robustness"].score == pytest.approx(75.0)
    assert dims["explainability"].score == pytest.approx(75.0)
    missing = social_dimensions(
        SocialInputs(explain_note="value.note.explain_module_missing"), Assumptions()
    )["explainability"]
    assert missing.score is None and missing.notes[0].key == "value.note.explain_module_missing"
