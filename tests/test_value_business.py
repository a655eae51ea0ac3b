"""Business value formulas on fixed inputs, threshold optimisation, and scenario files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slm_core.value.assumptions import (
    FIELD_UNITS,
    NUMERIC_FIELDS,
    PRESET_IDS,
    AssumptionError,
    Assumptions,
    load_assumptions,
    load_preset,
    parse_scenario,
    save_assumptions,
    source_kind,
)
from slm_core.value.business import (
    cost_matrix,
    error_cost,
    input_tokens_per_item,
    llm_business,
    mean_error_cost,
    model_business,
    net_value_curve,
    payback_months,
    roi,
    text_lengths,
    threshold_table,
)

CLASSES = ["a", "b"]


def _plain(**changes) -> Assumptions:
    """Round numbers so every expected figure can be worked out by hand."""
    base = dict(
        annual_volume=1000.0,
        minutes_per_item=6.0,
        hourly_labour_cost=10.0,
        value_per_correct=0.0,
        cost_false_positive=2.0,
        cost_false_negative=3.0,
        cost_other_error=1.0,
        setup_cost=100.0,
        yearly_maintenance=50.0,
        price_per_vcpu_hour=3.6,
    )
    return Assumptions(**{**base, **changes})


# ------------------------------------------------------------------ payoff


def test_cost_matrix_simple_mode_without_positive_class_uses_other_cost():
    m = cost_matrix(_plain(), ["a", "b", "c"])
    assert m.tolist() == [[0, 1, 1], [1, 0, 1], [1, 1, 0]]


def test_cost_matrix_positive_class_gives_false_positive_and_negative_costs():
    m = cost_matrix(_plain(positive_class="b"), CLASSES)
    # true a, predicted b = false positive; true b, predicted a = false negative
    assert m.tolist() == [[0, 2], [3, 0]]


def test_cost_matrix_matrix_mode_overrides_given_pairs_only():
    a = _plain(payoff_mode="matrix", payoff_matrix={"a": {"c": 7.5}, "zzz": {"a": 9.0}})
    m = cost_matrix(a, ["a", "b", "c"])
    assert m[0, 2] == 7.5
    assert m[0, 1] == 1.0 and m[2, 0] == 1.0  # untouched pairs keep the simple cost
    assert np.all(np.diag(m) == 0)


def test_error_cost_is_confusion_times_cost_scaled_to_volume():
    confusion = np.array([[5, 2], [1, 4]])  # 2 false positives, 1 false negative of 12 items
    costs = cost_matrix(_plain(positive_class="b"), CLASSES)
    # (2 × 2 + 1 × 3) / 12 per item × 1200 items = 700
    assert error_cost(confusion, costs, n_test=12, volume=1200) == pytest.approx(700.0)


# --------------------------------------------------------------- ROI etc.


def test_roi_and_payback_formulas():
    assert roi(net_value=500.0, setup=100.0, running_cost=300.0) == pytest.approx(1.0)
    assert roi(net_value=0.0, setup=0.0, running_cost=0.0) is None
    assert payback_months(setup=1200.0, net_value=2400.0) == pytest.approx(6.0)
    assert payback_months(setup=1200.0, net_value=-1.0) is None
    assert payback_months(setup=0.0, net_value=10.0) == 0.0


def _table():
    """Four test items: confidences 0.9 (right), 0.8 (right), 0.6 (wrong), 0.55 (wrong)."""
    y_true = ["a", "b", "a", "b"]
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.55, 0.45]])
    return threshold_table(y_true, proba, CLASSES)


def test_threshold_table_matches_evaluate_coverage_and_restricts_confusion():
    table = _table()
    i = table.index_of(0.7)
    assert table.coverage[i] == pytest.approx(0.5)
    assert table.accuracy[i] == pytest.approx(1.0)
    assert table.confusion[i].tolist() == [[1, 0], [0, 1]]
    j = table.index_of(0.0)
    assert table.confusion[j].tolist() == [[1, 1], [1, 1]]


def test_model_business_at_fixed_threshold_by_hand():
    a = _plain(positive_class="b")
    b = model_business(
        "m", _table(), a, cpu_seconds_per_prediction=0.01, inference_source="bench", threshold=0.0
    )
    # all 4 automated: labour 1000 × 6/60 × 10 = 1000
    assert b.labour_saved == pytest.approx(1000.0)
    # errors: a→b (false positive, 2) and b→a (false negative, 3) over 4 items × 1000 = 1250
    assert b.error_cost == pytest.approx(1250.0)
    # inference: 1000 × 0.01 s / 3600 × 3.6 = 0.01
    assert b.inference_cost == pytest.approx(0.01)
    assert b.net_value == pytest.approx(1000 - 1250 - 0.01 - 50)
    assert b.roi == pytest.approx((b.net_value - 100) / (100 + 1250 + 0.01 + 50))
    assert b.payback_months is None


def test_threshold_optimisation_picks_the_best_net_value():
    a = _plain(positive_class="b")
    table = _table()
    b = model_business("m", table, a, 0.0, "bench")
    curve = net_value_curve(table, a, 0.0)
    assert b.threshold_source == "optimised"
    assert b.net_value == pytest.approx(curve.max())
    # Automating only the two confident right answers: labour 500, no errors.
    assert b.coverage == pytest.approx(0.5)
    assert b.net_value == pytest.approx(500 - 50)
    assert b.payback_months == pytest.approx(12 * 100 / 450)
    # With free errors, automating everything is best (lowest threshold on ties).
    free = model_business(
        "m",
        table,
        _plain(cost_false_positive=0, cost_false_negative=0, cost_other_error=0),
        0.0,
        "bench",
    )
    assert free.coverage == pytest.approx(1.0) and free.threshold == 0.0


def test_override_threshold_is_used():
    b = model_business("m", _table(), _plain(), 0.0, "bench", threshold=0.85)
    assert b.threshold_source == "override"
    assert b.threshold == pytest.approx(0.85)
    assert b.coverage == pytest.approx(0.25)


def test_unmeasured_inference_cost_is_left_out_and_flagged():
    b = model_business("m", _table(), _plain(), None, "bench", threshold=0.0)
    assert b.inference_cost is None
    assert b.inference_source == "not_measured"


@settings(max_examples=60, deadline=None)
@given(
    which=st.sampled_from(["cost_false_positive", "cost_false_negative", "cost_other_error"]),
    start=st.floats(0, 50),
    extra=st.floats(0, 50),
    positive=st.sampled_from(["", "b"]),
    threshold=st.one_of(st.none(), st.floats(0, 1)),
)
def test_raising_an_error_cost_never_raises_net_value(which, start, extra, positive, threshold):
    table = _table()
    low = _plain(positive_class=positive, **{which: start})
    high = _plain(positive_class=positive, **{which: start + extra})
    net_low = model_business("m", table, low, 0.001, "bench", threshold).net_value
    net_high = model_business("m", table, high, 0.001, "bench", threshold).net_value
    assert net_high <= net_low + 1e-9
    lengths = text_lengths(["some text here", "more"])
    assert (
        llm_business(high, lengths, CLASSES, [0.5, 0.5]).net_value
        <= llm_business(low, lengths, CLASSES, [0.5, 0.5]).net_value + 1e-9
    )


# ------------------------------------------------------------------- LLM API


def test_llm_tokens_from_real_text_lengths_latin_and_chinese():
    lengths = text_lengths(["abcdefgh", "商品退款"])  # 8 Latin chars, 4 CJK chars over 2 texts
    assert lengths.mean_other_chars == pytest.approx(4.0)
    assert lengths.mean_cjk_chars == pytest.approx(2.0)
    a = _plain(llm_prompt_tokens=10.0, tokens_per_char_latin=0.25, tokens_per_char_cjk=0.6)
    assert input_tokens_per_item(lengths, a) == pytest.approx(10 + 4 * 0.25 + 2 * 0.6)


def test_llm_alternative_by_hand():
    a = _plain(
        llm_accuracy=0.9,
        llm_input_price_per_m=1.0,
        llm_output_price_per_m=2.0,
        llm_prompt_tokens=100.0,
        llm_output_tokens=10.0,
        tokens_per_char_latin=0.25,
        llm_setup_cost=0.0,
    )
    lengths = text_lengths(["x" * 400])  # 100 tokens of text
    b = llm_business(a, lengths, CLASSES, [0.5, 0.5])
    # (200 input × 1 + 10 output × 2) / 1e6 per item × 1000 = 0.22
    assert b.inference_cost == pytest.approx(0.22)
    # errors: 100 of 1000, mean cost 1 (other-error cost, no positive class)
    assert b.error_cost == pytest.approx(100.0)
    assert b.net_value == pytest.approx(1000 - 100 - 0.22 - 50)
    assert b.details["accuracy_is_assumed"] is True
    assert b.payback_months == 0.0


def test_mean_error_cost_weights_true_classes_by_prior():
    a = _plain(positive_class="b")
    # true a errs as a false positive (2), true b as a false negative (3)
    assert mean_error_cost(a, CLASSES, [0.75, 0.25]) == pytest.approx(0.75 * 2 + 0.25 * 3)


# ------------------------------------------------------------- assumptions


def test_assumptions_toml_and_json_round_trip(tmp_path):
    a = Assumptions().edit(
        annual_volume=12345.0,
        currency="CNY",
        positive_class="spam",
        payoff_mode="matrix",
        payoff_matrix={"ham": {"spam": 4.0}},
        social_weights={"privacy": 3.0},
    )
    for suffix in (".toml", ".json"):
        path = save_assumptions(a, tmp_path / f"s{suffix}")
        back = load_assumptions(path)
        assert back == a
        assert back.source("annual_volume").source == "your input"
    assert parse_scenario(a.to_toml().encode(), "x.toml") == a
    assert parse_scenario(a.to_json().encode(), "x.json") == a


def test_partial_scenario_file_keeps_other_defaults():
    a = Assumptions.from_toml("annual_volume = 5\nminutes_per_item = 1.5\n")
    assert a.annual_volume == 5.0
    assert a.hourly_labour_cost == Assumptions().hourly_labour_cost
    assert a.source("annual_volume").source == "scenario file"
    assert a.source("hourly_labour_cost") == Assumptions().source("hourly_labour_cost")


@pytest.mark.parametrize(
    "text",
    [
        "annual_volume = -1",
        "llm_accuracy = 1.5",
        "pue = 0.5",
        "anual_volume = 3",
        "payoff_mode = 'fancy'",
        "annual_volume = 'many'",
        "social_weights = {beauty = 1.0}",
        "not toml [",
    ],
)
def test_bad_scenarios_raise_one_clear_error(text):
    with pytest.raises(AssumptionError):
        Assumptions.from_toml(text)


def test_bad_json_scenario_raises():
    with pytest.raises(AssumptionError):
        parse_scenario(b"[1, 2]", "x.json")


@pytest.mark.parametrize("preset", PRESET_IDS)
def test_every_preset_value_has_a_source_and_a_unit(preset):
    a = load_preset(preset)
    assert a.preset == preset
    for name in NUMERIC_FIELDS:
        src = a.source(name)
        assert src.source not in ("not stated", "scenario file"), (preset, name)
        assert name in FIELD_UNITS
    # Second-hand figures are marked, and the unmeasured LLM accuracy is an assumption.
    assert source_kind(a.source("hourly_labour_cost")) == "second_hand"
    assert source_kind(a.source("llm_accuracy")) == "assumption"
    assert a.source("price_per_vcpu_hour").date


def test_defaults_match_the_sourced_reference_figures():
    a = Assumptions()
    assert a.hourly_labour_cost == 20.59
    assert (a.grid_gco2_per_kwh, a.pue) == (471.0, 1.56)
    assert (a.device_disk_budget_mb, a.device_memory_budget_mb) == (15.0, 100.0)
    assert (a.llm_input_price_per_m, a.llm_output_price_per_m) == (0.15, 0.60)
    assert a.tokens_per_char_latin == 0.25 and a.tokens_per_char_cjk == 0.6


def test_scenario_saved_in_the_store_comes_back(fresh_home):
    from slm_core.store import RunStore
    from slm_core.value.assumptions import from_store, to_store

    store = RunStore()
    a = load_preset("content_moderation").edit(positive_class="toxic")
    record = to_store(store, a, "moderation v2")
    assert from_store(store, record.id) == a
    assert json.loads(json.dumps(record.data))["positive_class"] == "toxic"
