"""The decision: who may be recommended, when to keep it manual, break-evens that hold when
plugged back in, social scores that can fail, and the JSON a pipeline reads."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from slm_core.value.assumptions import SOCIAL_DIMENSIONS, Assumptions, load_preset
from slm_core.value.option import API, CASCADE, MANUAL, Overrides, run_key
from slm_core.value.options import build_options
from slm_core.value.scorecard import evaluate_value
from slm_core.value.text import decision_text, option_label
from tests import value_fixtures as vf


def _report(inputs, a, overrides=None, **kw):
    return evaluate_value(inputs, a, overrides, with_sensitivity=kw.pop("sensitivity", False), **kw)


def test_options_are_manual_each_model_the_api_and_a_cascade():
    report = _report(vf.five_models(), load_preset("customer_service_triage"))
    keys = [o.key for o in report.options]
    assert keys[0] == MANUAL and API in keys and CASCADE in keys
    assert [k for k in keys if k.startswith("run:")] == [run_key(i) for i in range(1, 6)]
    manual = report.option(MANUAL)
    assert manual.business.net_value == 0.0 and manual.business.yearly_cost > 0
    cascade = report.option(CASCADE)
    assert cascade.run_id in range(1, 6) and cascade.business.chosen_on == "validation"


def test_tiny_volume_keeps_it_manual_never_a_money_losing_model():
    """1,000 texts a year with the customer-service preset: one always-on server, set-up and
    maintenance cost more than the people they would save."""
    a = replace(load_preset("customer_service_triage"), annual_volume=1000.0)
    report = _report(vf.five_models(), a, break_evens=True)
    best = report.best
    assert best.key in (MANUAL, API)
    for o in report.models:
        assert o.business.net_value < 0 and not o.eligible
        assert "value.reason.not_paying" in {n.key for n in o.reasons}
    if best.key == MANUAL:
        text = decision_text(report)
        assert text.startswith("Keep it manual for now")
        # it says what would change that: a volume, a wage or the error costs
        assert report.decision.manual_flips
        flip = report.decision.manual_flips[0]
        assert report.option(flip.new).kind != "manual"


def test_a_model_at_chance_is_never_recommended():
    """A model that ignores its input answers every text; with free errors and a cheap server it
    would earn the most — but its accuracy does not clear the majority-class rate."""
    a = replace(
        load_preset("customer_service_triage"),
        cost_other_error=0.0,
        llm_setup_cost=1e9,  # keep the API and the cascade out of the way
    )
    chance = vf.run(9, "lstm", model=vf.constant, seed=3)
    good = vf.run(1, "tfidf_lr", sharpness=2.0, seed=1)
    report = _report(vf.dataset([chance, good]), a)  # listed first: it would win a tie
    bad = report.card(9)
    assert bad.better_than_guessing is False and not bad.eligible
    assert bad.business.net_value >= report.card(1).business.net_value  # it "earns" as much
    assert "value.reason.guessing" in {n.key for n in bad.reasons}
    assert report.decision.best != bad.key and bad.key not in report.decision.ranked
    assert bad.social_dims["robustness"].score == 0.0
    assert bad.social_dims["explainability"].score == 0.0


def test_constant_output_scores_zero_on_robustness_and_explainability():
    r = vf.run(
        1,
        model=vf.constant,
        robustness={"clean_accuracy": 0.3, "noisy_accuracy": 0.3, "chance": 0.3, "config": {}},
        faithfulness=vf.faith(0.0, 0.4, 0.25),
    )
    option = _report(vf.dataset([r]), Assumptions()).card(1)
    assert option.social_dims["robustness"].score == 0.0
    assert option.social_dims["explainability"].score == 0.0


def test_always_on_at_200k_makes_the_api_cheaper_and_50m_the_reverse():
    inputs = vf.dataset([vf.run(1, sharpness=2.0, seed=1)])
    small = _report(inputs, Assumptions())
    model, api = small.card(1), small.option(API)
    assert model.serving_mode == "always_on"
    assert api.serving.per_million < model.serving.per_million
    big = _report(inputs, Assumptions(annual_volume=50_000_000.0))
    assert big.card(1).serving.per_million < big.option(API).serving.per_million


def test_the_llm_break_even_ties_the_two_options_when_plugged_back_in():
    a = replace(load_preset("customer_service_triage"), business_share=0.8)
    inputs = vf.five_models()
    report = _report(inputs, a, break_evens=True)
    be = report.decision.llm_break_even
    assert be is not None and be.field == "llm_accuracy" and be.old == report.decision.best
    at = {o.key: o for o in build_options(inputs, replace(a, llm_accuracy=be.value))}
    assert at[be.new].overall == pytest.approx(at[be.old].overall, abs=0.01)
    just_below = {o.key: o for o in build_options(inputs, replace(a, llm_accuracy=be.value - 1e-4))}
    assert just_below[be.old].overall > just_below[be.new].overall
    assert "accuracy on your data were above" in decision_text(report)


def test_below_the_manual_break_even_volume_it_is_manual():
    a = load_preset("customer_service_triage")
    inputs = vf.five_models()
    report = _report(inputs, a, break_evens=True)
    below = report.decision.manual_below
    assert below is not None and below.new == MANUAL and below.value < a.annual_volume
    under = _report(inputs, replace(a, annual_volume=below.value * 0.99))
    over = _report(inputs, replace(a, annual_volume=below.value * 1.01))
    assert under.decision.best == MANUAL and over.decision.best != MANUAL


def test_no_social_dimension_scores_every_option_alike_across_the_fixtures():
    """Over the fixtures (serving modes, volumes, models of different quality), every social
    dimension gives different options different scores."""
    seen = {d: set() for d in SOCIAL_DIMENSIONS}
    feedback = [
        replace(r, feedback_rated=30, feedback_right=20 + r.run_id) for r in vf.five_models().runs
    ]
    groups = vf.run(7, seed=7)
    groups = replace(
        groups, groups=tuple("north" if i % 2 else "south" for i in range(groups.test.n))
    )
    inputs = vf.dataset([*feedback, groups])
    for volume in (10_000.0, 200_000.0, 50_000_000.0):
        for mode in ("device", "always_on", "serverless", "batch"):
            a = Assumptions(annual_volume=volume)
            o = Overrides(serving={1: mode, 2: "device", 3: "batch"})
            for option in build_options(inputs, a, o):
                for d in SOCIAL_DIMENSIONS:
                    if option.social_dims:
                        seen[d].add(round(option.social_dims[d].score or -1, 3))
    for d, scores in seen.items():
        assert len(scores - {-1}) > 1, (d, scores)


def test_left_out_dimensions_are_those_missing_for_the_api():
    report = _report(vf.five_models(), Assumptions())
    assert set(report.left_out) == {"fairness", "robustness", "explainability", "feedback"}
    for o in report.options:
        if o.social_score is not None:
            assert o.social_score.weight_used == pytest.approx(4 / 8)


def test_feedback_never_lowers_a_score_for_being_scarce():
    few = vf.run(1, seed=1)
    few = replace(few, feedback_rated=3, feedback_right=3)
    option = _report(vf.dataset([few]), Assumptions()).card(1)
    d = option.social_dims["feedback"]
    assert d.score is None and d.value == 100.0
    assert d.notes[0].key == "value.note.feedback_scarce"
    many = replace(few, feedback_rated=40, feedback_right=30)
    assert _report(vf.dataset([many]), Assumptions()).card(1).social_dims["feedback"].score == 75.0


def test_intervals_and_chance_of_positive_value_for_every_option_but_manual():
    report = _report(vf.five_models(), load_preset("customer_service_triage"))
    for o in report.options:
        b = o.business
        if o.kind == "manual":
            assert b.net_value == 0.0 and b.net_value_ci is None and b.p_positive is None
            continue
        if o.kind == "api":  # its uncertainty is the assumed accuracy: no resample measures it
            assert b.net_value_ci is None and b.p_positive is None
            assert b.kinds["net_value"] == "assumed"
            continue
        lo, hi = b.net_value_ci
        assert lo - 1e-6 <= b.net_value <= hi + 1e-6 and 0.0 <= b.p_positive <= 1.0
        assert b.interval_level == 0.9
        if o.kind == "model":
            assert hi - lo > 0  # 150 test texts: the interval has width
            assert b.kinds["coverage"] == "measured" and b.kinds["net_value"] == "modelled"
        else:
            assert b.kinds["net_value"] == "assumed"


def test_decision_text_names_the_option_its_mode_and_interval_in_both_languages():
    a = load_preset("customer_service_triage")
    report = _report(vf.five_models(), a, break_evens=True)
    best = report.best
    for lang in ("en", "zh"):
        text = decision_text(report, lang)
        assert option_label(best, lang) in text
        lo, hi = best.business.net_value_ci
        from slm_core.i18n import format_money

        assert format_money(lo, "USD", lang) in text and format_money(hi, "USD", lang) in text
    assert "90% interval" in decision_text(report, "en")
    assert "区间" in decision_text(report, "zh")


def test_value_json_from_the_cli_holds_the_decision(fresh_home, topic_texts, capsys):
    import pandas as pd

    from slm_core.cli import main
    from slm_core.store import RunStore
    from tests.conftest import store_trained_runs

    texts, labels = topic_texts
    store = RunStore()
    dataset, _ = store_trained_runs(
        store, pd.DataFrame({"text": texts, "label": labels}), {"classes": {}}
    )
    assert main(["value", "--dataset", dataset.id, "--serving", "serverless", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    decision = data["decision"]
    assert decision["best"] in {o["key"] for o in data["options"]}
    assert {"llm_break_even", "manual_below", "crossovers", "curves"} <= set(decision)
    kinds = {o["kind"] for o in data["options"]}
    assert {"manual", "api", "model"} <= kinds
    for o in data["options"]:
        b = o["business"]
        assert "net_value_ci" in b and "p_positive" in b and b["kinds"] is not None
        if o["kind"] == "model":
            assert o["serving_mode"] == "serverless"
            assert b["chosen_on"] == "validation" and b["scored_on"] == "test"
            assert all(
                d["kind"] in ("measured", "modelled", "assumed", "not_measured")
                for d in (*o["business_dims"].values(), *o["social_dims"].values())
            )
    assert data["assumptions"]["serving_mode"] == "serverless"
    # the validation predictions were stored once, beside the test ones
    run_id = data["options"][1]["run_id"]
    assert (store.artifact_dir(run_id) / "val_predictions.parquet").exists()
    assert main(["value", "--dataset", dataset.id]) == 0
    out = capsys.readouterr().out
    assert "interval" in out and "Keep it manual" in out


def test_accuracy_interval_is_wilsons_and_value_intervals_share_one_bootstrap():
    """Accuracy (a proportion) gets Wilson's interval; net value and ROI resample texts with the
    one bootstrap of ``slm_core.resample`` (not a percentile bootstrap of accuracy, which gave
    [1, 1] for 18 of 18 right)."""
    from slm_core.evaluate import accuracy_interval
    from slm_core.resample import wilson_interval

    rng = np.random.default_rng(0)
    right = (rng.random(200) < 0.7).astype(int)
    acc = accuracy_interval(np.zeros(200, dtype=int), 1 - right)
    assert tuple(acc) == pytest.approx(wilson_interval(int(right.sum()), 200, 0.95))
    all_right = accuracy_interval(np.zeros(18, dtype=int), np.zeros(18, dtype=int))
    assert all_right[0] < 1.0


def test_runs_stored_before_validation_predictions_get_them_once(fresh_home, topic_texts):
    import pandas as pd

    from slm_core.store import RunStore
    from slm_core.train import PREDICTION_FILES
    from slm_core.value.inputs import collect_inputs
    from tests.conftest import store_trained_runs

    texts, labels = topic_texts
    store = RunStore()
    dataset, (run_id,) = store_trained_runs(
        store, pd.DataFrame({"text": texts, "label": labels}), {}, models=("tfidf_lr",)
    )
    path = store.artifact_dir(run_id) / PREDICTION_FILES["validation"]
    stored = pd.read_parquet(path)
    path.unlink()  # as a run trained before validation predictions were kept
    without = collect_inputs(store, dataset.id, measure=False)
    assert without.runs[0].val is None and without.runs[0].val_source is None
    option = evaluate_value(without, Assumptions(), with_sensitivity=False).card(run_id)
    assert option.business.threshold_source == "no_validation"  # never chosen on test
    again = collect_inputs(store, dataset.id, measure=True)
    assert again.runs[0].val_source == "computed" and path.exists()
    pd.testing.assert_frame_equal(pd.read_parquet(path), stored)  # the same split, rebuilt
    assert collect_inputs(store, dataset.id, measure=True).runs[0].val_source == "stored"


def test_a_validation_split_is_not_rebuilt_when_the_split_rules_changed(fresh_home, topic_texts):
    """A run whose stored test split differs from today's rebuilt one (its split rules changed
    since) gets no validation predictions: they could include texts it trained on."""
    import pandas as pd

    from slm_core.errors import TrainError
    from slm_core.models.registry import load_model
    from slm_core.store import RunStore
    from slm_core.train import PREDICTION_FILES, predict_validation
    from slm_core.value.inputs import collect_inputs
    from tests.conftest import store_trained_runs

    texts, labels = topic_texts
    store = RunStore()
    dataset, (run_id,) = store_trained_runs(
        store, pd.DataFrame({"text": texts, "label": labels}), {}, models=("nb",)
    )
    folder = store.artifact_dir(run_id)
    (folder / PREDICTION_FILES["validation"]).unlink()
    test_file = folder / PREDICTION_FILES["test"]
    test = pd.read_parquet(test_file)
    test.loc[0, "text"] = "a text that was in the test split under the old rules"
    test.to_parquet(test_file)
    with pytest.raises(TrainError, match="earlier split rules"):
        predict_validation(store, run_id, load_model(folder / "model"))
    assert collect_inputs(store, dataset.id, measure=True).runs[0].val is None


def test_the_sensitivity_added_later_is_the_one_a_full_report_holds():
    """The Cost page's report (no sensitivity) plus the search on the Value page: the same
    sensitivity, options and decision as a report computed whole."""
    from slm_core.value.scorecard import with_sensitivity_search

    inputs = vf.five_models(seed=3)
    whole = evaluate_value(inputs, Assumptions(), with_sensitivity=True)
    first = evaluate_value(inputs, Assumptions(), with_sensitivity=False)
    assert first.sensitivity is None and whole.sensitivity is not None
    later = with_sensitivity_search(first)
    assert later.sensitivity.to_dict() == whole.sensitivity.to_dict()
    assert later.decision.best == whole.decision.best
    assert [o.overall for o in later.options] == [o.overall for o in whole.options]
    assert with_sensitivity_search(later) is later  # searched once
