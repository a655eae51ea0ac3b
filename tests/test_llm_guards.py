"""The guards added after review: which key goes where, no secret in an address, money per
answered call, calls given up at a stop, symmetric pairing, unstated prices, torn answer lines."""

from __future__ import annotations

import json

import pytest
from llm_server import FakeChatServer, Reply, label_answerer
from test_llm_job import BARE, KEY, N_TEST, TEST_TRUTH, dataset_id, endpoint, store  # noqa: F401

from slm_core.errors import SlmError
from slm_core.llm.client import STOPPED, Caller
from slm_core.llm.endpoints import Endpoint, has_credentials, insecure_transport, key_for
from slm_core.llm.job import ANSWERS_FILE, create_measurement, measure, read_answers
from slm_core.llm.measurement import load_measurement
from slm_core.llm.plan import Plan
from slm_core.llm.prompt import build_messages
from slm_core.mcnemar import match_rows, paired_predictions
from slm_core.value.assumptions import Assumptions
from slm_core.value.hosted import measured_basis

ENV = {"SLM_LLM_API_KEY": "sk-tool", "OPENAI_API_KEY": "sk-openai"}
FROM_ENV = (("env", ENV.get),)


def test_an_openai_key_goes_to_openai_only_and_a_typed_key_wins():
    openai_only = (("env", {"OPENAI_API_KEY": "o"}.get),)
    assert key_for("https://api.openai.com/v1", None, openai_only) == ("o", "env", "OPENAI_API_KEY")
    assert key_for("https://api.deepseek.com/v1", None, openai_only) == (None, None, None)
    assert key_for("https://api.deepseek.com/v1", None, FROM_ENV)[0] == "sk-tool"
    typed = key_for("https://api.deepseek.com/v1", "typed-key", FROM_ENV)
    assert typed == ("typed-key", "typed", None)


def test_no_key_in_clear_text_and_no_secret_in_an_address():
    assert insecure_transport("http://llm.example.com/v1", "k")
    assert not insecure_transport("http://127.0.0.1:8000/v1", "k")
    assert not insecure_transport("https://llm.example.com/v1", "k")
    assert not insecure_transport("http://llm.example.com/v1", None)
    assert has_credentials("https://user:pw@llm.example.com/v1")
    assert has_credentials("https://llm.example.com/v1?api_key=abc")
    assert not has_credentials("https://x.openai.azure.com/openai/v1?api-version=2025-01-01")


def test_a_key_is_never_sent_over_plain_http_to_another_machine(store, dataset_id):  # noqa: F811
    # Nothing listens there and nothing is sent: the measurement fails before the first call.
    ep = endpoint("http://llm.invalid/v1")
    run_id = create_measurement(store, dataset_id, ep, BARE, N_TEST, None)
    measure(store, run_id, KEY)
    run = store.get_run(run_id)
    assert run.status == "failed" and "plain http" in run.error
    assert KEY not in run.error


def test_an_address_with_a_key_in_it_is_refused(store, dataset_id):  # noqa: F811
    with pytest.raises(SlmError, match="key-like query parameter"):
        create_measurement(
            store, dataset_id, endpoint("https://llm.example.com/v1?key=abc"), BARE, N_TEST, None
        )


def test_money_and_tokens_per_text_count_only_the_calls_that_came_back(store, dataset_id):  # noqa: F811
    texts = sorted(TEST_TRUTH)
    broken = set(texts[:4])

    def answer(text, request):
        if text in broken:
            return Reply(status=500)
        return json.dumps({"label": TEST_TRUTH[text]})

    with FakeChatServer(answer) as srv:
        ep = endpoint(srv, max_retries=0, input_price_per_m=1.0, output_price_per_m=1.0)
        run_id = create_measurement(store, dataset_id, ep, BARE, N_TEST, None)
        measure(store, run_id, None)
    m = load_measurement(store, run_id)
    assert m.failed_calls == 4 and m.answered_calls == N_TEST - 4
    assert m.cost_per_text_usd == pytest.approx(m.cost_usd / (N_TEST - 4))
    assert m.input_tokens_per_text == pytest.approx(m.input_tokens / (N_TEST - 4))


def test_a_call_given_up_at_a_stop_is_not_an_answer():
    with FakeChatServer(Reply(content="{}", fail_times=5, fail_status=429)) as srv:
        ep = Endpoint(srv.base_url, "fake-model", max_retries=3, retry_base_s=5.0, timeout_s=2)
        caller = Caller(ep, None, ["a", "b"], BARE)
        result = caller.call(build_messages(BARE, ["a", "b"], "x"), should_stop=lambda: True)
    assert result.status == STOPPED and result.attempts == 1


def test_pairing_is_the_same_both_ways_with_repeated_texts():
    class Answers:
        def __init__(self, texts, truth, pred):
            self.texts, self.y_true, self.y_pred = texts, truth, pred

    a = Answers(["x", "x", "y"], ["p", "p", "q"], ["p", "q", "q"])
    b = Answers(["x", "y", "x", "x"], ["p", "q", "p", "p"], ["p", "q", "p", "q"])
    assert match_rows(a.texts, a.y_true, b.texts, b.y_true) == [0, 2, 1]
    ab, ba = paired_predictions(a, b), paired_predictions(b, a)
    assert len(ab[0]) == len(ba[0]) == 3


def test_an_endpoint_without_a_price_is_priced_at_the_scenarios_prices(store, dataset_id):  # noqa: F811
    with FakeChatServer(label_answerer(TEST_TRUTH)) as srv:
        run_id = create_measurement(store, dataset_id, endpoint(srv), BARE, N_TEST, None)
        measure(store, run_id, None)
    m = load_measurement(store, run_id)
    a = Assumptions()
    basis = measured_basis(m, a)
    assert not basis.prices_stated and basis.price_kind == "modelled"
    expected = (
        m.input_tokens_per_text * a.llm_input_price_per_m
        + m.output_tokens_per_text * a.llm_output_price_per_m
    ) / 1e6
    assert basis.price_per_text == pytest.approx(a.usd(expected))
    assert basis.price_per_text > 0


def test_an_answer_line_cut_by_a_crash_does_not_swallow_the_next_answer(store, dataset_id):  # noqa: F811
    with FakeChatServer(label_answerer(TEST_TRUTH)) as srv:
        run_id = create_measurement(store, dataset_id, endpoint(srv), BARE, N_TEST, None)
        folder = store.artifact_dir(run_id)
        (folder / ANSWERS_FILE).write_text('{"i": 0, "status": "ok", "lab', encoding="utf-8")
        measure(store, run_id, None)
    assert sorted(read_answers(folder)) == list(range(N_TEST))
    assert store.get_run(run_id).status == "succeeded"


def test_an_unreadable_plan_is_a_clear_error(tmp_path):
    (tmp_path / "llm_plan.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(SlmError, match="cannot be read"):
        Plan.load(tmp_path)
