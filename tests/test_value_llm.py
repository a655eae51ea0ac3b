"""The Value figures use the hosted LLM as measured on the user's data, not as assumed.

Most tests build ``DatasetInputs`` (two synthetic calibrated runs, :mod:`tests.value_fixtures`)
and an ``LLMMeasurement`` by hand, so every expected figure is known; one test goes through a
real store: two quick linear runs, a measurement against the fake OpenAI-compatible server, and
``collect_inputs`` reading it back.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from slm_core.i18n import t
from slm_core.llm.endpoints import Endpoint
from slm_core.llm.measurement import LLMMeasurement
from slm_core.llm.prompt import PromptSpec
from slm_core.resample import wilson_interval
from slm_core.value.assumptions import Assumptions
from slm_core.value.business import cascade_components, summarise
from slm_core.value.decision import best_of
from slm_core.value.hosted import MIN_DEFERRED, REPLACED_FIELDS
from slm_core.value.option import API, CASCADE
from slm_core.value.options import build_options
from slm_core.value.payoff import Payoff
from slm_core.value.scorecard import evaluate_value
from slm_core.value.text import decision_text, llm_figures_text, llm_notes_text, option_label
from tests import value_fixtures as vf

N_SAMPLE = 200
COST_USD = 0.03  # for the whole sample: 0.00015 USD a text


def _plain(**changes) -> Assumptions:
    """A scenario where automation clearly pays, and the API's own set-up is small."""
    base = dict(
        annual_volume=100_000.0,
        minutes_per_item=2.0,
        hourly_labour_cost=30.0,
        setup_cost=1_000.0,
        llm_setup_cost=500.0,
        yearly_maintenance=100.0,
    )
    return Assumptions(**{**base, **changes})


def _inputs(n_test: int = 400) -> vf.DatasetInputs:
    """Two calibrated linear runs on the same test split (same labels), sharper and blunter."""
    runs = [
        vf.run(1, "tfidf_lr", n_test=n_test, n_val=400, sharpness=2.0, seed=1),
        vf.run(2, "nb", n_test=n_test, n_val=400, sharpness=1.2, seed=1),
    ]
    return vf.dataset(runs)


def measurement(
    y_true,
    correct,
    *,
    run_id: int = 9,
    cost_usd: float = COST_USD,
    latencies=(400.0, 500.0, 600.0, 900.0, 2000.0),
    usage_reported: bool = True,
) -> LLMMeasurement:
    """A finished measurement that answered ``y_true`` right where ``correct`` is true (wrong
    answers: the next class)."""
    y_true = [str(y) for y in y_true]
    classes = sorted(set(vf.CLASSES) | set(y_true))
    y_pred = [
        y if ok else classes[(classes.index(y) + 1) % len(classes)]
        for y, ok in zip(y_true, correct, strict=True)
    ]
    n = len(y_true)
    return LLMMeasurement(
        run_id=run_id,
        status="succeeded",
        dataset_id="d1",
        endpoint=Endpoint(
            "http://127.0.0.1:9/v1",
            "fake-model",
            input_price_per_m=0.5,
            output_price_per_m=1.5,
            price_source="test",
            price_date="2026-12",
        ),
        prompt=PromptSpec(),
        labels=tuple(classes),
        n_planned=n,
        test_size=400,
        positions=tuple(range(n)),
        texts=tuple(f"text {i}" for i in range(n)),
        y_true=tuple(y_true),
        y_pred=tuple(y_pred),
        statuses=("ok",) * n,
        contents=(None,) * n,
        latencies_ms=tuple(latencies),
        input_tokens=120.0 * n,
        output_tokens=5.0 * n,
        usage_reported=usage_reported,
        cost_usd=cost_usd,
        structured=True,
    )


def _test_labels(inputs, run_index: int = 0) -> list[str]:
    test = inputs.runs[run_index].test
    return [test.classes[i] for i in test.true_idx]


def with_llm(inputs, m: LLMMeasurement, rows=None):
    """``inputs`` holding ``m``, each run's test rows aligned with the sample (default: the
    sample is the first ``m.n`` test texts)."""
    rows = np.arange(m.n) if rows is None else np.asarray(rows)
    runs = tuple(replace(r, llm_rows=rows) for r in inputs.runs)
    return replace(inputs, runs=runs, llm=m)


def _option(options, key):
    return next(o for o in options if o.key == key)


def _right_share(n: int, share: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    correct = np.zeros(n, dtype=bool)
    correct[rng.permutation(n)[: int(round(share * n))]] = True
    return correct


# ------------------------------------------------------------------ the API option


def test_without_a_measurement_the_api_rests_on_the_assumed_accuracy():
    inputs = _inputs()
    a = _plain(llm_accuracy=0.8)
    api = _option(build_options(inputs, a), API)
    assert api.business.automated_accuracy == pytest.approx(0.8)
    assert api.business.kinds["automated_accuracy"] == "assumed"
    assert api.business.kinds["net_value"] == "assumed"
    assert api.business.details["accuracy_is_assumed"] is True
    assert api.label == a.llm_name and not api.llm.measured
    assert api.better_than_guessing is None  # nothing measured to check
    assert api.business.net_value_ci is None
    assert [n.key for n in api.llm_notes] == ["value.llm.assumed"]
    assert api.serving.kind == "modelled"
    assert api.social_dims["access"].kind == "assumed"
    assert api.social_dims["access"].value == pytest.approx(a.llm_latency_ms)


def test_with_a_measurement_the_api_uses_the_measured_accuracy_price_and_latency():
    inputs = _inputs()
    labels = _test_labels(inputs)[:N_SAMPLE]
    m = measurement(labels, _right_share(N_SAMPLE, 0.875))
    a = _plain(llm_accuracy=0.5, currency="CNY", fx_rate=7.2)  # the assumption is not used
    api = _option(build_options(with_llm(inputs, m), a), API)
    b = api.business
    assert m.accuracy == pytest.approx(0.875)
    assert b.automated_accuracy == pytest.approx(m.accuracy)
    assert b.kinds["automated_accuracy"] == "measured"
    assert b.kinds["net_value"] == "modelled" and b.kinds["coverage"] == "assumed"
    assert b.details["accuracy_is_assumed"] is False
    # price per text = measured tokens × stated prices, converted at the scenario's rate
    assert b.details["price_per_text"] == pytest.approx(7.2 * COST_USD / N_SAMPLE)
    assert b.api_cost == pytest.approx(a.annual_volume * 7.2 * COST_USD / N_SAMPLE)
    assert api.serving.kind == "measured" and b.details["price_kind"] == "measured"
    assert api.serving.per_million == pytest.approx(7.2 * COST_USD / N_SAMPLE * 1e6)
    assert api.llm.latency_ms == pytest.approx(m.latency_p50_ms) == pytest.approx(600.0)
    assert api.llm.latency_p95_ms == pytest.approx(m.latency_p95_ms)
    assert api.social_dims["access"].value == pytest.approx(600.0)
    assert api.social_dims["access"].kind == "measured"
    assert api.label == "LLM · fake-model" == option_label(api, "zh")
    assert api.better_than_guessing is True
    assert api.llm.accuracy_ci == pytest.approx(m.accuracy_ci)
    # net value is linear in the accuracy: its interval is the ends of the accuracy's interval
    low, high = b.net_value_ci
    assert low < b.net_value < high


def test_the_measured_sentence_in_both_languages():
    inputs = _inputs()
    labels = _test_labels(inputs)[:N_SAMPLE]
    m = measurement(labels, _right_share(N_SAMPLE, 0.875))
    api = _option(build_options(with_llm(inputs, m), _plain()), API)
    low, high = wilson_interval(175, 200)
    en = llm_notes_text(api, "en")
    assert en == f"measured on 200 test texts: 87.5% ({100 * low:.1f}–{100 * high:.1f}%)"
    assert en == "measured on 200 test texts: 87.5% (82.2–91.4%)"
    assert llm_notes_text(api, "zh") == "在 200 条测试文本上实测：87.5%（82.2–91.4%）"
    report = evaluate_value(with_llm(inputs, m), _plain(), with_sensitivity=False)
    figures = llm_figures_text(report.api, report, "en")
    assert "$150.00 per 1M texts" in figures and "p50 600 ms" in figures
    assert "measured" in figures and "#9" in figures


def test_a_measured_llm_no_better_than_the_majority_class_is_never_recommended():
    inputs = _inputs()
    labels = _test_labels(inputs)[:N_SAMPLE]
    m = measurement(labels, _right_share(N_SAMPLE, 0.27))
    assert m.accuracy <= m.majority_rate + 0.03  # about as good as always saying one class
    # free and instant: without the guard the API would pay for itself
    a = _plain(llm_setup_cost=0.0, cost_other_error=0.0, human_accuracy=1.0)
    api = _option(build_options(with_llm(inputs, m), a), API)
    assert api.better_than_guessing is False
    assert not api.eligible
    assert "value.reason.guessing" in [n.key for n in api.reasons]
    assert api.business.net_value > 0  # it is the guard that keeps it out, not the money
    assert best_of(build_options(with_llm(inputs, m), a))[0] != API


def test_a_measurement_replaces_the_assumptions_it_measures():
    inputs = _inputs()
    m = measurement(_test_labels(inputs)[:N_SAMPLE], _right_share(N_SAMPLE, 0.875))
    measured = with_llm(inputs, m)
    base = _option(build_options(measured, _plain()), API)
    changed = _plain(
        llm_accuracy=0.3,
        llm_input_price_per_m=50.0,
        llm_output_price_per_m=50.0,
        llm_latency_ms=9000.0,
        llm_name="Other",
    )
    other = _option(build_options(measured, changed), API)
    assert other.business.net_value == pytest.approx(base.business.net_value)
    assert other.label == base.label
    assert other.social_dims["access"].value == pytest.approx(base.social_dims["access"].value)
    assert {"llm_accuracy", "llm_input_price_per_m", "llm_latency_ms"} <= set(REPLACED_FIELDS)


# --------------------------------------------------------------------- the cascade


def _cascade_setup(accuracy: float):
    """The inputs, scenario, and the cascade's run and threshold under a measurement with
    overall ``accuracy`` (the threshold is chosen on validation with that accuracy alone)."""
    inputs = _inputs()
    a = _plain(cost_other_error=5.0)
    probe = measurement(_test_labels(inputs)[:N_SAMPLE], _right_share(N_SAMPLE, accuracy))
    cascade = _option(build_options(with_llm(inputs, probe), a), CASCADE)
    r = next(r for r in inputs.runs if r.run_id == cascade.run_id)
    threshold = cascade.business.threshold
    kept = np.flatnonzero(r.test.confidence >= threshold - 1e-12)
    sent = np.flatnonzero(r.test.confidence < threshold - 1e-12)
    return inputs, a, r, threshold, kept, sent


def _sample(r, rows):
    """The true labels of the run's test texts at ``rows`` (what a sample of them holds)."""
    return [r.test.classes[i] for i in r.test.true_idx[rows]]


def test_the_cascade_uses_the_llms_accuracy_on_the_texts_it_defers():
    d, n = 60, N_SAMPLE
    inputs, a, r, threshold, kept, sent = _cascade_setup((n - d) / n)
    assert len(sent) >= d and len(kept) >= n - d
    rows = np.concatenate([sent[:d], kept[: n - d]])  # 60 of the sampled texts are deferred
    deferred = np.arange(n) < d
    labels = _sample(r, rows)
    # Same overall accuracy (so the same threshold on validation), right on different texts:
    hard_wrong = ~deferred  # right on every text the small model keeps, wrong on all it defers
    hard_right = deferred.copy()  # right on every deferred text and on some of the others
    hard_right[d : n - d] = True
    assert hard_wrong.sum() == hard_right.sum()

    def cascade_with(correct):
        inputs_m = with_llm(inputs, measurement(labels, correct), rows)
        return _option(build_options(inputs_m, a), CASCADE)

    worse, better = cascade_with(hard_wrong), cascade_with(hard_right)
    for c in (worse, better):
        assert c.run_id == r.run_id and c.business.threshold == pytest.approx(threshold)
        assert c.business.details["n_deferred_in_sample"] == d
        assert c.business.details["llm_accuracy_source"] == "deferred"
        assert (
            c.business.kinds["automated_accuracy"] == "modelled"
        )  # measured share × measured LLM accuracy
        assert c.business.kinds["net_value"] == "modelled"
        method = c.business.details["threshold_method"]
        assert "validation, with one input from the test sample" in method
    assert worse.business.details["q_deferred"] == 0.0
    assert better.business.details["q_deferred"] == 1.0
    assert worse.business.net_value < better.business.net_value
    # by hand: the test figures with accuracy 0 on the deferred texts
    p = Payoff.of(a, r.test.classes, r.test.prior or None)
    comp = cascade_components(r.test.answers(threshold), p, a, worse.llm.price_per_text, 0.0)
    manual_per_text = Payoff.of(a, inputs.classes, inputs.prior).manual_cost_per_text(
        np.asarray(inputs.prior)
    )
    fig = summarise(
        CASCADE,
        comp,
        p,
        a,
        serving=worse.serving.yearly_cost,
        setup=a.setup_cost + a.llm_setup_cost,
        manual_per_text=manual_per_text,
        intervals=False,
    )
    assert worse.business.net_value == pytest.approx(fig["net_value"])
    # the sentence the page shows beside the cascade
    low, _ = wilson_interval(d, d)
    text = llm_notes_text(better, "en")
    assert f"the LLM was right on 100.0% ({100 * low:.1f}–100.0%) of the {d} sampled" in text


def test_with_too_few_deferred_sampled_texts_the_overall_accuracy_is_used():
    inputs, a, r, threshold, kept, sent = _cascade_setup(0.75)
    n = 100
    rows = np.concatenate([sent[:5], kept[: n - 5]])  # only 5 sampled texts are deferred
    correct = np.ones(n, dtype=bool)
    correct[:5] = False  # wrong on every deferred one: too few to trust alone
    correct[5:25] = False
    m = measurement(_sample(r, rows), correct)
    cascade = _option(build_options(with_llm(inputs, m, rows), a), CASCADE)
    assert cascade.business.threshold == pytest.approx(threshold)
    d = cascade.business.details
    assert d["n_deferred_in_sample"] == 5 < MIN_DEFERRED
    assert d["llm_accuracy_source"] == "overall"
    assert d["llm_accuracy_used"] == pytest.approx(m.accuracy) == pytest.approx(0.75)
    assert d["q_deferred"] == 0.0
    # A formula over the measured share, the measured LLM accuracy and the assumed answer share.
    assert cascade.business.kinds["automated_accuracy"] == "modelled"
    assert cascade.business.kinds["net_value"] == "modelled"
    assert "value.llm.deferred_few" in [note.key for note in cascade.llm_notes]
    assert "overall measured accuracy used" in llm_notes_text(cascade, "en")


# ------------------------------------------------------------------ decision


def test_the_break_even_moves_the_measured_accuracy_and_says_so():
    inputs = _inputs()
    labels = _test_labels(inputs)[:N_SAMPLE]
    m = measurement(labels, _right_share(N_SAMPLE, 0.6))
    a = _plain()
    measured = with_llm(inputs, m)
    report = evaluate_value(measured, a)
    be = report.decision.llm_break_even
    assert be is not None and be.measured and be.field == "llm_accuracy"
    assert be.current == pytest.approx(m.accuracy)
    best = report.decision.best
    at = build_options(measured, a, intervals=False, llm_shift=be.value - be.current)
    assert best_of(at)[0] != best
    text = decision_text(report, "en")
    assert f"(measured: {m.accuracy:.1%})" in text
    assert f"（实测：{m.accuracy:.1%}）" in decision_text(report, "zh")
    # the measurement replaces the assumed accuracy: the sensitivity does not search it
    assert "llm_accuracy" not in report.sensitivity.searched


def test_the_report_json_holds_the_measurement():
    inputs = _inputs()
    m = measurement(_test_labels(inputs)[:N_SAMPLE], _right_share(N_SAMPLE, 0.875))
    report = evaluate_value(with_llm(inputs, m), _plain(), with_sensitivity=False)
    data = report.to_dict()
    assert data["inputs"]["llm"]["run_id"] == 9 and data["inputs"]["llm"]["kind"] == "measured"
    api = next(o for o in data["options"] if o["key"] == API)
    assert api["llm"]["kind"] == "measured" and api["llm"]["n"] == N_SAMPLE
    assert api["llm_notes"][0]["key"] == "value.llm.measured"
    assert t("value.llm.measured", "en", **api["llm_notes"][0]["params"]).startswith("measured")


# ------------------------------------------------------------- through the store

SPEC = PromptSpec(system="Label the text as one of {labels}. Reply as JSON.", user="{text}")
ROUTER = """
import streamlit as st
PAGES = ["pages/value.py", "pages/train.py", "pages/data.py"]
st.navigation([st.Page(p, default=(p == "pages/value.py")) for p in PAGES]).run()
"""


@pytest.fixture
def trained(fresh_home):
    """A store with two quick linear runs on a small topic dataset (no measurement yet)."""
    import streamlit as st

    from slm_core.store import RunStore
    from tests.conftest import TOPIC_WORDS, planted_gap_frame, store_trained_runs
    from ui.state import get_store

    get_store.clear()
    st.cache_data.clear()
    store = RunStore()
    frame = planted_gap_frame(TOPIC_WORDS, 40)
    dataset, run_ids = store_trained_runs(store, frame, {"token_unit": "word", "script": "latin"})
    yield store, dataset, run_ids
    get_store.clear()
    st.cache_data.clear()
    store.close()


def _measure(store, dataset_id: str, run_id: int, wrong: int = 3) -> int:
    """Measure the fake LLM on every test text (wrong on the first ``wrong``); its run id."""
    from llm_server import FakeChatServer, label_answerer

    from slm_core.llm.job import create_measurement, measure
    from slm_core.train import load_test_predictions

    preds = load_test_predictions(store, run_id)
    truth = dict(zip(preds.texts, preds.y_true, strict=True))
    with FakeChatServer(label_answerer(truth, wrong=list(truth)[:wrong])) as srv:
        ep = Endpoint(srv.base_url, "fake-model", 0.5, 1.5, timeout_s=2.0, retry_base_s=0.01)
        llm_run = create_measurement(store, dataset_id, ep, SPEC, len(truth), None)
        measure(store, llm_run, "sk-test")
    return llm_run


def test_collect_inputs_reads_the_newest_measurement_and_aligns_it(trained):
    from slm_core.train import load_test_predictions
    from slm_core.value.inputs import collect_inputs
    from ui.decision import fingerprint

    store, dataset, run_ids = trained
    before = collect_inputs(store, dataset.id, measure=False)
    assert before.llm is None and all(r.llm_rows is None for r in before.runs)
    key_before = fingerprint(store, dataset.id)
    llm_run = _measure(store, dataset.id, run_ids[0])
    assert fingerprint(store, dataset.id) != key_before  # the page's cached inputs refresh

    inputs = collect_inputs(store, dataset.id, measure=False)
    n = len(load_test_predictions(store, run_ids[0]).texts)
    assert inputs.llm is not None and inputs.llm.run_id == llm_run
    assert [r.run_id for r in inputs.runs] == run_ids  # the measurement is no small model
    assert inputs.llm.n == n and inputs.llm.n_right == n - 3
    for r in inputs.runs:  # same split: every sampled text is in every run's test split
        assert (r.llm_rows >= 0).all()
        test = load_test_predictions(store, r.run_id)
        assert [test.texts[i] for i in r.llm_rows] == list(inputs.llm.texts)
    api = _option(build_options(inputs, Assumptions()), API)
    assert api.business.automated_accuracy == pytest.approx(inputs.llm.accuracy)
    assert api.business.kinds["automated_accuracy"] == "measured"


def test_the_value_page_says_assumed_then_measured(trained, tmp_path):
    from tests.conftest import page_under_router
    from ui.decision import EDITOR_OPEN_KEY

    store, dataset, run_ids = trained
    at = page_under_router(ROUTER, tmp_path / "router", dataset.id, "en", 180)
    assert any("never measured on your data" in w.value for w in at.warning)
    assert not any("measured on" in i.value for i in at.info)

    llm_run = _measure(store, dataset.id, run_ids[0])
    editor_open = {EDITOR_OPEN_KEY: True}  # the replaced fields' captions are in the editor
    at = page_under_router(ROUTER, tmp_path / "router", dataset.id, "en", 180, editor_open)
    assert not at.error, [e.value for e in at.error]
    assert not any("never measured on your data" in w.value for w in at.warning)
    n = store.get_run(llm_run).metrics["llm"]["n"]
    boxes = [i.value for i in at.info]
    assert any(f"LLM · fake-model** — measured on {n} test texts" in b for b in boxes), boxes
    assert any("per 1M texts (measured tokens × stated prices)" in b for b in boxes)
    replaced = t("value.llm.replaced", "en", run=llm_run)
    assert sum(c.value == replaced for c in at.caption) == len(REPLACED_FIELDS)
