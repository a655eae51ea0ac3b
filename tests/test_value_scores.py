"""0–100 score mappings, weighting, the recommendation and the sensitivity search."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from slm_core.i18n import catalogue
from slm_core.value.assumptions import BUSINESS_DIMENSIONS, SOCIAL_DIMENSIONS, Assumptions
from slm_core.value.scores import (
    overall_score,
    score_above_chance,
    score_budget,
    score_energy,
    score_gap,
    score_net_value,
    score_payback,
    score_roi,
    score_share,
    sensitivity,
    weighted_score,
)


def test_business_score_mappings():
    assert score_net_value(50.0, 100.0) == pytest.approx(50.0)
    assert score_net_value(-5.0, 100.0) == 0.0
    assert score_net_value(500.0, 100.0) == 100.0
    assert score_roi(1.0) == pytest.approx(50.0)
    assert score_roi(3.0) == pytest.approx(75.0)
    assert score_roi(-0.5) == 0.0 and score_roi(None) == 0.0
    assert score_payback(6.0, 24.0) == pytest.approx(75.0)
    assert score_payback(6.0, 12.0) == pytest.approx(50.0)  # the horizon is an assumption
    assert score_payback(30.0, 24.0) == 0.0 and score_payback(None, 24.0) == 0.0
    assert score_share(0.42) == pytest.approx(42.0) and score_share(None) is None


def test_social_score_mappings():
    assert score_budget(10.0, 15.0) == 100.0
    assert score_budget(30.0, 15.0) == pytest.approx(50.0)
    assert score_budget(None, 15.0) is None
    assert score_energy(0.24, 0.24, 2.0) == pytest.approx(50.0)
    assert score_energy(0.0024, 0.24, 2.0) == pytest.approx(100.0)
    assert score_energy(0.024, 0.24, 1.0) == pytest.approx(100.0)
    assert score_energy(2.4, 0.24, 2.0) == pytest.approx(25.0)
    assert score_energy(None, 0.24, 2.0) is None
    assert score_gap(0.0, 0.5) == 100.0 and score_gap(0.25, 0.5) == pytest.approx(50.0)
    assert score_gap(0.8, 0.5) == 0.0 and score_gap(0.25, 1.0) == pytest.approx(75.0)
    assert score_above_chance(0.3, 0.4) == pytest.approx(75.0)
    assert score_above_chance(0.5, 0.4) == 100.0 and score_above_chance(-0.1, 0.4) == 0.0
    assert score_above_chance(0.0, 0.0) == 0.0  # at chance: nothing to keep
    assert score_above_chance(None, 0.4) is None


def test_weighted_score_skips_unmeasured_dimensions_and_reports_weight_used():
    w = weighted_score({"a": 80.0, "b": None, "c": 20.0}, {"a": 1.0, "b": 2.0, "c": 3.0})
    assert w.score == pytest.approx((80 + 60) / 4)
    assert w.weight_used == pytest.approx(4 / 6)
    assert weighted_score({"a": None}, {"a": 1.0}).score is None


def test_overall_score_blends_business_and_social():
    assert overall_score(80.0, 40.0, 0.25) == pytest.approx(50.0)
    assert overall_score(None, 40.0, 0.5) == 40.0
    assert overall_score(None, None, 0.5) is None


def _winner(scores):
    def winner_of(a: Assumptions) -> str:
        table = scores(a)
        return max(table, key=lambda k: (table[k], -list(table).index(k)))

    return winner_of


def test_sensitivity_finds_the_crossing_by_bisection():
    # B's score grows with the volume, A's is fixed: B wins now (200k) and loses below 50k.
    winner_of = _winner(lambda a: {"A": 50.0, "B": a.annual_volume / 1000.0})
    a = Assumptions(annual_volume=200_000.0)
    s = sensitivity(winner_of, a, fields=("annual_volume", "setup_cost"))
    assert s.winner == "B"
    assert s.field == "annual_volume"
    assert s.new_winner == "A"
    assert s.value == pytest.approx(50_000.0, rel=1e-3)
    assert s.value < s.current


def test_sensitivity_reports_the_nearest_of_two_assumptions():
    # A wins unless the volume rises ×4, or the labour cost rises ×1.5.
    winner_of = _winner(
        lambda a: {
            "A": 100.0,
            "B": 25.0 * a.annual_volume / 1e5 + 0.0,
            "C": 100.0 * a.hourly_labour_cost / 30.0,
        }
    )
    a = Assumptions(annual_volume=100_000.0, hourly_labour_cost=20.0)
    s = sensitivity(winner_of, a, fields=("annual_volume", "hourly_labour_cost"))
    assert s.field == "hourly_labour_cost" and s.new_winner == "C"
    assert s.value == pytest.approx(30.0, rel=1e-3)


def test_sensitivity_says_when_nothing_in_range_changes_the_winner():
    s = sensitivity(
        _winner(lambda a: {"A": 90.0, "B": 10.0}), Assumptions(), fields=("annual_volume",)
    )
    assert s.field is None and s.winner == "A"
    s = sensitivity(
        _winner(lambda a: {"A": 1.0, "B": 0.0}),
        Assumptions(value_per_correct=0.0),
        fields=("value_per_correct",),
    )
    assert s.skipped_zero == ("value_per_correct",)


def test_sensitivity_respects_bounds_of_shares():
    # B wins only above business_share 1.2, which a share can never reach.
    winner_of = _winner(lambda a: {"A": 60.0, "B": 50.0 * a.business_share})
    s = sensitivity(winner_of, Assumptions(business_share=0.5), fields=("business_share",))
    assert s.field is None
    assert not math.isnan(s.factor)


def _exhaustive(winner_of, a: Assumptions, fields, factor=10.0, steps=12):
    """The sensitivity search written plainly: every direction of every field walked to its
    first change; the nearest change wins (the earlier field, then upwards, on ties)."""
    from slm_core.value.scores import bounds, search_change

    winner = winner_of(a)
    best = None
    for name in fields:
        current = float(getattr(a, name))
        low, high = bounds(name)
        for limit in (min(current * factor, high), max(current / factor, low)):
            if limit == current:
                continue
            value = search_change(
                lambda v, name=name: replace(a, **{name: v}),
                current,
                limit,
                lambda x: winner_of(x) != winner,
                steps,
            )
            if value is not None:
                d = abs(math.log(value / current))
                if best is None or d < best[0]:
                    best = (d, name, value)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_sensitivity_finds_what_an_exhaustive_walk_finds_with_fewer_rebuilds(seed):
    # Random linear scores over five assumptions: some cross near, some far, some never.
    rng = np.random.default_rng(seed)
    fields = (
        "annual_volume",
        "hourly_labour_cost",
        "setup_cost",
        "yearly_maintenance",
        "minutes_per_item",
    )
    base = Assumptions()
    weights = rng.normal(size=(4, len(fields))) * rng.uniform(0, 3, size=(4, 1))
    offsets = rng.normal(size=4)

    def scores(a: Assumptions) -> dict[str, float]:
        logs = np.array([math.log(getattr(a, f) / getattr(base, f)) for f in fields])
        return {k: float(v) for k, v in zip("ABCD", weights @ logs + offsets, strict=True)}

    calls = [0]

    def counted(a: Assumptions) -> str:
        calls[0] += 1
        return _winner(scores)(a)

    s = sensitivity(counted, base, fields=fields)
    fast = calls[0]
    calls[0] = 0
    want = _exhaustive(counted, base, fields)
    if want is None:
        assert s.field is None
    else:
        assert (s.field, s.value) == (want[1], pytest.approx(want[2], rel=1e-5))
        assert fast < calls[0]  # it stops walking where nothing nearer can be found


def test_every_dimension_has_a_name_and_a_formula_in_both_languages():
    for lang in ("en", "zh"):
        strings = catalogue(lang)
        for dim in (*BUSINESS_DIMENSIONS, *SOCIAL_DIMENSIONS):
            assert strings.get(f"value.dim.{dim}"), (lang, dim)
            assert strings.get(f"value.formula.{dim}"), (lang, dim)
    assert set(k for k in catalogue("en") if k.startswith("value.")) == set(
        k for k in catalogue("zh") if k.startswith("value.")
    )
