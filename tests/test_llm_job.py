"""The LLM measurement end to end: the real ``openai`` client against the fake server on 127.0.0.1.

Each test registers a small synthetic dataset (12 test texts, 4 per label) in a fresh store,
creates a measurement and carries it out with :func:`slm_core.llm.job.measure` in this process,
or in a real detached process (crash and resume). Servers are fast; timeouts and retry waits are
cut to fractions of a second, so the file runs in seconds.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import psutil
import pytest
from llm_server import (
    UNPARSEABLE_ANSWER,
    FakeChatServer,
    Reply,
    completion_tokens,
    label_answerer,
    prompt_tokens,
)
from test_jobs import _kill, wait_for

from slm_core.data.split import content_hash
from slm_core.errors import SlmError
from slm_core.llm import LLM_MODEL_ID, job
from slm_core.llm.client import ERROR, OK, UNPARSEABLE
from slm_core.llm.endpoints import Endpoint
from slm_core.llm.job import (
    ANSWERS_FILE,
    MAX_FAILURES_BEFORE_ANY_ANSWER,
    create_measurement,
    measure,
    read_answers,
)
from slm_core.llm.measurement import (
    NO_ANSWER_LABEL,
    UNPARSEABLE_LABEL,
    compare_on_sample,
    latest_measurement,
    load_measurement,
)
from slm_core.llm.plan import Plan, estimated_tokens
from slm_core.llm.prompt import PromptSpec
from slm_core.resample import wilson_interval
from slm_core.store import RunStore, pid_alive
from slm_core.train import TestPredictions as SmallModelPredictions

KEY = "sk-llmtest-Qw7Zr2Xv9Lp4Tn6Kd"
MODEL = "fake-model"
LABELS = ("alpha", "bravo", "delta")  # same length, so every text of the dataset is too
PER_LABEL_TEST, PER_LABEL_TRAIN = 4, 8
# The server sees the bare text: no template prefix to strip in the answerers.
BARE = PromptSpec(system="Label the text as one of {labels}. Reply as JSON.", user="{text}")


def _text(label: str, i: int, split: str) -> str:
    return f"{label} {split} text number {i:03d}"


TEST_TRUTH = {_text(lab, i, "test"): lab for lab in LABELS for i in range(PER_LABEL_TEST)}
N_TEST = len(TEST_TRUTH)


@pytest.fixture
def store(fresh_home):
    store = RunStore(home=fresh_home)
    yield store
    # Leave no measurement process of ours behind.
    for run in store.list_runs(statuses=["running"]):
        _kill(run.pid)
    store.close()


@pytest.fixture
def dataset_id(store) -> str:
    rows = [(t, lab, "test") for t, lab in TEST_TRUTH.items()]
    rows += [
        (_text(lab, i, "train"), lab, "train") for lab in LABELS for i in range(PER_LABEL_TRAIN)
    ]
    frame = pd.DataFrame(rows, columns=["text", "label", "split"])
    record = store.add_dataset("abd", "cli", "abd.csv", content_hash(frame), frame, split_config={})
    return record.id


def endpoint(srv_or_url, **changes) -> Endpoint:
    url = srv_or_url if isinstance(srv_or_url, str) else srv_or_url.base_url
    settings = {"timeout_s": 2.0, "max_retries": 2, "retry_base_s": 0.01, "concurrency": 4}
    return Endpoint(url, **{"model": MODEL, **settings, **changes})


def run_measurement(
    store, dataset_id, ep: Endpoint, *, spec=BARE, n=N_TEST, budget=None, key=KEY
) -> int:
    run_id = create_measurement(store, dataset_id, ep, spec, n, budget)
    measure(store, run_id, key)
    return run_id


def answer_lines(store, run_id: int) -> list[dict]:
    path = store.artifact_dir(run_id) / ANSWERS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def assert_key_stored_nowhere(store, key: str = KEY) -> None:
    """Neither the key nor its last 6 characters in any file under SLM_HOME or any run field."""
    needles = [key.encode(), key[-6:].encode()]
    files = [p for p in Path(store.home).rglob("*") if p.is_file()]
    assert any(p.name.startswith("runs.sqlite") for p in files)
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"the API key is in {path}"
    for run in store.list_runs():
        stored = json.dumps([run.params, run.metrics, run.error, run.progress], default=str)
        for needle in needles:
            assert needle.decode() not in stored, f"the API key is in run {run.id}"


def assert_each_text_answered_once(store, run_id: int) -> None:
    lines = answer_lines(store, run_id)
    assert Counter(row["i"] for row in lines) == Counter(range(N_TEST)), "a text answered twice"
    m = load_measurement(store, run_id)
    assert m.n == m.n_planned == N_TEST
    assert sorted(m.texts) == sorted(TEST_TRUTH)


# ------------------------------------------------------------------------------ answers


def test_right_wrong_and_unparseable_answers(store, dataset_id):
    wrong = [_text("alpha", 0, "test"), _text("delta", 1, "test")]
    bad = [_text("bravo", 2, "test")]
    answer = label_answerer(TEST_TRUTH, wrong=wrong, unparseable=bad)
    with FakeChatServer(answer, api_key=KEY) as srv:
        run_id = run_measurement(store, dataset_id, endpoint(srv))
    assert not srv.errors
    run = store.get_run(run_id)
    assert run.status == "succeeded", run.error
    assert run.model_id == LLM_MODEL_ID and run.preset is None

    m = load_measurement(store, run_id)
    assert (m.n, m.n_planned, m.test_size) == (N_TEST, N_TEST, N_TEST)
    assert m.n_right == N_TEST - 3
    assert m.accuracy == pytest.approx((N_TEST - 3) / N_TEST)
    assert m.accuracy_ci == pytest.approx(wilson_interval(N_TEST - 3, N_TEST))
    assert m.unparseable == 1 and m.failed_calls == 0
    assert m.structured and m.usage_reported
    by_text = dict(zip(m.texts, m.y_pred, strict=True))
    assert by_text[bad[0]] == UNPARSEABLE_LABEL  # never mapped to a label
    assert by_text[wrong[0]] == "bravo" and by_text[wrong[1]] == "alpha"
    statuses = dict(zip(m.texts, m.statuses, strict=True))
    assert statuses[bad[0]] == UNPARSEABLE and statuses[wrong[0]] == OK
    assert m.contents[m.texts.index(bad[0])] == UNPARSEABLE_ANSWER
    assert len(m.latencies_ms) == N_TEST and m.latency_p50_ms > 0
    assert m.label == f"LLM · {MODEL}"

    # What was stored with the run: headline metrics on the sample + the summary.
    assert run.metrics["accuracy"] == pytest.approx(m.accuracy)
    assert run.metrics["sample_size"] == N_TEST
    llm = run.metrics["llm"]
    assert llm["unparseable"] == 1 and llm["n"] == N_TEST and llm["kind"] == "measured"
    assert llm["stopped"] is None and llm["structured_output"] is True
    assert run.live.batch == run.live.batches == N_TEST and run.live.message == "llm_asking"
    assert latest_measurement(store, dataset_id).run_id == run_id

    # Each text asked once, with the label set as a JSON-schema enum, deterministic settings.
    assert sorted(srv.texts()) == sorted(TEST_TRUTH)
    body = srv.chat_requests[0]["body"]
    assert body["model"] == MODEL and body["temperature"] == 0 and body["max_tokens"] == 32
    enum = body["response_format"]["json_schema"]["schema"]["properties"]["label"]["enum"]
    assert enum == list(LABELS)
    assert all(r["auth_ok"] for r in srv.chat_requests)

    # A small model's stored test predictions, paired on the LLM's texts.
    texts = [*TEST_TRUTH, "a text the LLM never saw"]
    truth = [*TEST_TRUTH.values(), "alpha"]
    small = [*truth]
    small[0] = "delta"  # the small model gets alpha/test/0 wrong too, and only that one
    preds = SmallModelPredictions(texts, truth, small, proba=None, classes=list(LABELS))
    comparison = compare_on_sample(m, 99, "tfidf_lr", preds)
    assert comparison.n == N_TEST and comparison.missing == 0
    assert comparison.llm_accuracy == pytest.approx(m.accuracy)
    assert comparison.accuracy == pytest.approx((N_TEST - 1) / N_TEST)
    # small right where the LLM is not: delta/test/1 and bravo/test/2; the reverse: none
    assert (comparison.test.only_a, comparison.test.only_b) == (2, 0)

    assert_key_stored_nowhere(store)


def test_macro_f1_is_averaged_over_the_labels_not_the_no_label_stand_ins(store, dataset_id):
    from sklearn.metrics import f1_score

    bad = [_text("bravo", 2, "test")]
    with FakeChatServer(label_answerer(TEST_TRUTH, unparseable=bad)) as srv:
        run_id = run_measurement(store, dataset_id, endpoint(srv))
    m = load_measurement(store, run_id)
    assert UNPARSEABLE_LABEL in m.y_pred
    expected = f1_score(m.y_true, m.y_pred, labels=list(LABELS), average="macro", zero_division=0)
    # "<unparseable>" is no class: one such answer must not add a fourth class scored 0.
    assert store.get_run(run_id).metrics["macro_f1"] == pytest.approx(expected)


def test_default_prompt_and_bare_labels(store, dataset_id):
    truth = label_answerer(TEST_TRUTH, as_json=False)

    def answer(text: str, request: dict) -> str:
        assert text.startswith("Text:\n")  # the default English user template
        return truth(text.removeprefix("Text:\n"), request)

    with FakeChatServer(answer) as srv:
        run_id = run_measurement(store, dataset_id, endpoint(srv), spec=PromptSpec.default("en"))
    assert not srv.errors
    m = load_measurement(store, run_id)
    assert m.accuracy == 1.0 and m.n == N_TEST
    assert m.example_prompt.startswith("[system]") and "Text:\n" in m.example_prompt


def test_few_shot_examples_are_sent_before_each_text(store, dataset_id):
    with FakeChatServer(label_answerer(TEST_TRUTH)) as srv:
        spec = PromptSpec(mode="few", k=2, system=BARE.system, user=BARE.user)
        run_id = run_measurement(store, dataset_id, endpoint(srv), spec=spec, n=3)
    m = load_measurement(store, run_id)
    assert m.accuracy == 1.0 and m.n == 3 and m.examples == 2 * len(LABELS)
    for request in srv.chat_requests:
        messages = request["body"]["messages"]
        assert [x["role"] for x in messages[:3]] == ["system", "user", "assistant"]
        assert len(messages) == 2 + 2 * 2 * len(LABELS)
        shown = [x["content"] for x in messages[1:-1] if x["role"] == "user"]
        assert all(" train text " in t for t in shown)  # examples from the training split only


# ------------------------------------------------------------------------- failures and retries


def test_rate_limits_are_retried_with_and_without_retry_after(store, dataset_id):
    truth = label_answerer(TEST_TRUTH)
    texts = list(TEST_TRUTH)

    def answer(text: str, request: dict) -> Reply:
        after = 0.05 if texts.index(text) % 2 else None
        return Reply(truth(text, request), fail_times=1, fail_status=429, retry_after=after)

    with FakeChatServer(answer) as srv:
        run_id = run_measurement(store, dataset_id, endpoint(srv))
    m = load_measurement(store, run_id)
    assert m.accuracy == 1.0 and m.failed_calls == 0
    assert set(srv.attempts.values()) == {2}
    assert {row["attempts"] for row in answer_lines(store, run_id)} == {2}
    assert [r["status"] for r in srv.chat_requests].count(429) == N_TEST
    for text in texts[1::2]:  # those told to come back after 0.05 s did not come back sooner
        first, second = (r["time"] for r in srv.chat_requests if r["text"] == text)
        assert second - first >= 0.05


def test_server_errors_are_retried_up_to_max_retries_then_count_as_wrong(store, dataset_id):
    broken = {_text("alpha", 1, "test"), _text("bravo", 3, "test")}
    truth = label_answerer(TEST_TRUTH)

    def answer(text: str, request: dict):
        return Reply(status=500) if text in broken else truth(text, request)

    with FakeChatServer(answer) as srv:
        run_id = run_measurement(store, dataset_id, endpoint(srv, max_retries=2))
    run = store.get_run(run_id)
    assert run.status == "succeeded"
    m = load_measurement(store, run_id)
    assert m.n == N_TEST and m.failed_calls == 2
    assert m.n_right == N_TEST - 2
    by_text = dict(zip(m.texts, m.y_pred, strict=True))
    assert {by_text[t] for t in broken} == {NO_ANSWER_LABEL}
    assert all(srv.attempts[t] == 3 for t in broken)  # 1 + max_retries, no more
    assert all(srv.attempts[t] == 1 for t in TEST_TRUTH if t not in broken)
    rows = {row["i"]: row for row in answer_lines(store, run_id)}
    errors = [row for row in rows.values() if row["status"] == ERROR]
    assert len(errors) == 2
    assert all(row["attempts"] == 3 and "HTTP 500" in row["error"] for row in errors)
    assert all(row["cost_usd"] == 0 and row["input_tokens"] == 0 for row in errors)
    assert run.metrics["llm"]["failed_calls"] == 2


def test_a_slow_answer_and_a_dripping_body_time_out(store, dataset_id):
    slow, drip = _text("alpha", 2, "test"), _text("delta", 0, "test")
    truth = label_answerer(TEST_TRUTH)

    def answer(text: str, request: dict):
        if text == slow:
            return Reply(truth(text, request), delay_s=3.0)
        if text == drip:
            # Each byte comes well within the read timeout; the whole body never does.
            return Reply(json.dumps({"label": "delta", "pad": "x" * 120}), drip_s=0.05)
        return truth(text, request)

    started = time.monotonic()
    with FakeChatServer(answer) as srv:
        ep = endpoint(srv, timeout_s=0.3, max_retries=1)
        run_id = run_measurement(store, dataset_id, ep)
    assert time.monotonic() - started < 20  # loose: a drip of the whole body would take minutes
    m = load_measurement(store, run_id)
    assert store.get_run(run_id).status == "succeeded"
    assert m.failed_calls == 2 and m.n_right == N_TEST - 2
    rows = {row["position"]: row for row in answer_lines(store, run_id)}
    plan = Plan.load(store.artifact_dir(run_id))
    for text in (slow, drip):
        row = rows[plan.positions[plan.texts.index(text)]]
        assert row["status"] == ERROR and row["error"] == "timed out after 0.3 s"
        assert row["attempts"] == 2
        assert srv.attempts[text] == 2


def test_failed_calls_before_any_answer_stop_an_unreachable_endpoint(store, dataset_id):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ep = endpoint(f"http://127.0.0.1:{port}/v1", max_retries=0, timeout_s=0.5, concurrency=2)
    run_id = run_measurement(store, dataset_id, ep)
    run = store.get_run(run_id)
    assert run.status == "failed"
    assert "did not answer any request" in run.error and "\n" not in run.error
    lines = answer_lines(store, run_id)
    assert MAX_FAILURES_BEFORE_ANY_ANSWER <= len(lines) < N_TEST
    assert all(row["status"] == ERROR for row in lines)


def test_wrong_key_and_unknown_model_fail_the_measurement(store, dataset_id):
    right = "sk-the-right-one-000000"
    with FakeChatServer(label_answerer(TEST_TRUTH), api_key=right) as srv:
        refused = run_measurement(store, dataset_id, endpoint(srv))
        assert srv.count <= 4  # at most the calls already in flight: no retries of a 401
        ep = endpoint(srv, model="no-such-model")
        unknown = run_measurement(store, dataset_id, ep, key=right)
    run = store.get_run(refused)
    assert run.status == "failed"
    assert "refused the API key" in run.error and "\n" not in run.error
    run = store.get_run(unknown)
    assert run.status == "failed" and "no model" in run.error
    assert answer_lines(store, refused) == []
    assert_key_stored_nowhere(store)


def test_structured_output_falls_back_to_the_parser(store, dataset_id):
    with FakeChatServer(label_answerer(TEST_TRUTH), json_schema=False) as srv:
        run_id = run_measurement(store, dataset_id, endpoint(srv))
    m = load_measurement(store, run_id)
    assert m.accuracy == 1.0 and m.n == N_TEST and not m.structured
    assert store.get_run(run_id).metrics["llm"]["structured_output"] is False
    statuses = [r["status"] for r in srv.chat_requests]
    assert statuses.count(200) == N_TEST
    # the probe with the schema is refused at most once per call in flight, then never sent
    refused = [r for r in srv.chat_requests if r["status"] == 400]
    assert 1 <= len(refused) <= 4
    assert all("response_format" in r["body"] for r in refused)
    assert all("response_format" not in r["body"] for r in srv.chat_requests if r["status"] == 200)
    assert {row["attempts"] for row in answer_lines(store, run_id)} == {1}


def test_concurrency_is_bounded(store, dataset_id):
    with FakeChatServer(label_answerer(TEST_TRUTH), latency_s=0.05) as srv:
        run_id = run_measurement(store, dataset_id, endpoint(srv, concurrency=2), n=8)
    assert load_measurement(store, run_id).n == 8
    assert 1 <= srv.max_concurrent <= 2


# ------------------------------------------------------------------------------ tokens and money


def test_tokens_come_from_the_usage_block_and_cost_is_tokens_times_prices(store, dataset_id):
    with FakeChatServer(label_answerer(TEST_TRUTH)) as srv:
        ep = endpoint(srv, input_price_per_m=3.0, output_price_per_m=15.0)
        run_id = run_measurement(store, dataset_id, ep)
    m = load_measurement(store, run_id)
    requests = srv.chat_requests
    assert len(requests) == N_TEST
    tokens_in = sum(prompt_tokens(r["body"]["messages"]) for r in requests)
    content = json.dumps({"label": "alpha"})  # every label has 5 letters: one answer length
    tokens_out = N_TEST * completion_tokens(content)
    assert m.usage_reported
    assert m.input_tokens == tokens_in and m.output_tokens == tokens_out
    assert m.cost_usd == pytest.approx((tokens_in * 3.0 + tokens_out * 15.0) / 1e6)
    assert m.cost_per_text_usd == pytest.approx(m.cost_usd / N_TEST)
    llm = store.get_run(run_id).metrics["llm"]
    assert llm["input_tokens"] == tokens_in and llm["cost_usd"] == pytest.approx(m.cost_usd)
    assert llm["estimate_usd"] > 0


def test_without_a_usage_block_tokens_are_estimated_and_flagged(store, dataset_id):
    with FakeChatServer(label_answerer(TEST_TRUTH), usage=False) as srv:
        ep = endpoint(srv, input_price_per_m=3.0, output_price_per_m=15.0)
        run_id = run_measurement(store, dataset_id, ep)
    m = load_measurement(store, run_id)
    assert not m.usage_reported and m.accuracy == 1.0
    assert m.input_tokens > 0 and m.output_tokens > 0 and m.cost_usd > 0
    expected = sum(
        estimated_tokens(x["content"]) for r in srv.chat_requests for x in r["body"]["messages"]
    )
    assert m.input_tokens == pytest.approx(expected)
    assert store.get_run(run_id).metrics["llm"]["usage_reported"] is False


def test_budget_stops_the_measurement_and_a_larger_budget_finishes_it(
    store, dataset_id, monkeypatch
):
    # job.resume's own logic (budget check, reopening a finished run) runs as it is; the
    # measurement it starts runs in this process (the detached path: the crash test below).
    started = []

    def start_here(store_, run_id_, api_key):
        started.append(run_id_)
        measure(store_, run_id_, api_key)
        return os.getpid()

    monkeypatch.setattr(job, "start", start_here)
    with FakeChatServer(label_answerer(TEST_TRUTH)) as srv:
        # $1 per 1M input tokens × 1e6: one dollar per prompt token; answers are free.
        ep = endpoint(srv, input_price_per_m=1e6, output_price_per_m=0.0, concurrency=1)
        probe = run_measurement(store, dataset_id, ep, n=1)  # what one call costs here
        per_call = load_measurement(store, probe).cost_usd
        assert per_call > 0
        srv.attempts.clear()

        budget = 5.5 * per_call
        run_id = run_measurement(store, dataset_id, ep, budget=budget)
        run = store.get_run(run_id)
        assert run.status == "succeeded", run.error
        m = load_measurement(store, run_id)
        assert m.stopped == "budget" and run.metrics["llm"]["stopped"] == "budget"
        assert m.n == 5 < m.n_planned == N_TEST
        assert m.cost_usd == pytest.approx(5 * per_call) and m.cost_usd <= budget
        assert sum(srv.attempts.values()) == 5

        with pytest.raises(SlmError):  # finished: going on needs a budget ...
            job.resume(store, run_id, KEY)
        with pytest.raises(SlmError):  # ... above the old one
            job.resume(store, run_id, KEY, budget_usd=budget)
        assert store.get_run(run_id).status == "succeeded"
        assert started == []
        job.resume(store, run_id, KEY, budget_usd=100 * per_call)
        assert started == [run_id]
    run = store.get_run(run_id)
    assert run.status == "succeeded", run.error
    assert run.params["budget_usd"] == 100 * per_call
    m = load_measurement(store, run_id)
    assert m.stopped is None and m.budget_usd == 100 * per_call
    assert m.cost_usd == pytest.approx(N_TEST * per_call)
    assert set(srv.attempts.values()) == {1} and len(srv.attempts) == N_TEST
    assert_each_text_answered_once(store, run_id)
    assert_key_stored_nowhere(store)


def test_a_budget_below_one_call_is_refused_before_anything_is_stored(store, dataset_id):
    with FakeChatServer(label_answerer(TEST_TRUTH)) as srv:
        ep = endpoint(srv, input_price_per_m=1e6, output_price_per_m=0.0)  # ~$20 a call
        before = len(store.list_runs())
        with pytest.raises(SlmError, match="does not cover one call"):
            create_measurement(store, dataset_id, ep, BARE, N_TEST, 0.5)
    assert srv.count == 0
    assert len(store.list_runs()) == before


def test_a_budget_that_covers_no_call_at_run_time_sends_nothing_and_says_so(store, dataset_id):
    with FakeChatServer(label_answerer(TEST_TRUTH)) as srv:
        run_id = create_measurement(store, dataset_id, endpoint(srv), BARE, N_TEST, 0.5)
        # The prices were raised after the estimate (e.g. edited): the loop's own check stops it.
        run = store.get_run(run_id)
        dear = {**run.params["endpoint"], "input_price_per_m": 1e6}
        store.update_params(run_id, {**run.params, "endpoint": dear, "estimate": {}})
        measure(store, run_id, KEY)
    run = store.get_run(run_id)
    assert run.status == "failed"
    # The reason is the budget, not an endpoint that gave no answer.
    assert "budget" in run.error.lower(), run.error


# ------------------------------------------------------------------------------ cancel and resume


def test_cancel_keeps_the_answers_and_a_reopened_run_finishes_the_rest(store, dataset_id):
    with FakeChatServer(label_answerer(TEST_TRUTH), latency_s=0.2) as srv:
        ep = endpoint(srv, concurrency=1)
        run_id = create_measurement(store, dataset_id, ep, BARE, N_TEST, None)
        folder = store.artifact_dir(run_id)

        def cancel_after_two_answers() -> None:
            wait_for(lambda: len(read_answers(folder)) >= 2, 20, "two answers")
            store.request_cancel(run_id)

        canceller = threading.Thread(target=cancel_after_two_answers, daemon=True)
        canceller.start()
        measure(store, run_id, KEY)
        canceller.join(timeout=5)
        run = store.get_run(run_id)
        assert run.status == "cancelled"
        assert run.error.startswith("Cancelled after")
        kept = len(read_answers(folder))
        assert 2 <= kept < N_TEST
        assert load_measurement(store, run_id).n == kept
        assert_key_stored_nowhere(store)

        store.reopen_run(run_id)
        measure(store, run_id, KEY)
    run = store.get_run(run_id)
    assert run.status == "succeeded", run.error
    assert N_TEST <= len(srv.chat_requests) <= N_TEST + 1  # + the call in flight at the cancel
    assert set(srv.attempts.values()) == {1}
    assert_each_text_answered_once(store, run_id)
    assert load_measurement(store, run_id).accuracy == 1.0


def test_a_killed_measurement_is_interrupted_and_resumes_where_it_stopped(store, dataset_id):
    with FakeChatServer(label_answerer(TEST_TRUTH), api_key=KEY, latency_s=0.2) as srv:
        ep = endpoint(srv, concurrency=1)
        run_id = create_measurement(store, dataset_id, ep, BARE, N_TEST, None)
        job.start(store, run_id, KEY)
        folder = store.artifact_dir(run_id)
        wait_for(lambda: len(read_answers(folder)) >= 3, 20, "a few answers")
        pid = store.get_run(run_id).pid
        assert pid and pid_alive(pid)
        assert not any(KEY in arg for arg in psutil.Process(pid).cmdline())
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not pid_alive(pid), 10, "the killed process to go")
        assert store.mark_interrupted() == 1
        assert store.get_run(run_id).status == "interrupted"
        kept = len(read_answers(folder))
        assert kept < N_TEST

        job.resume(store, run_id, KEY)
        run = wait_for(
            lambda: (r := store.get_run(run_id)).is_finished and r, 30, "the resumed measurement"
        )
    assert run.status == "succeeded", (run.error, store.log_path(run_id).read_text())
    assert all(r["auth_ok"] for r in srv.chat_requests)  # the key reached the new process too
    assert N_TEST <= len(srv.chat_requests) <= N_TEST + 1  # + the call cut by the kill
    assert_each_text_answered_once(store, run_id)
    assert load_measurement(store, run_id).accuracy == 1.0
    assert_key_stored_nowhere(store)


def test_the_training_queue_never_claims_a_measurement(store, dataset_id):
    ep = Endpoint("http://127.0.0.1:9/v1", MODEL)
    run_id = create_measurement(store, dataset_id, ep, BARE, 4, 1.0)
    run = store.get_run(run_id)
    assert run.status == "queued" and run.model_id == LLM_MODEL_ID
    assert set(run.params) >= {"endpoint", "prompt", "sample_size", "budget_usd", "estimate"}
    assert Plan.load(store.artifact_dir(run_id)).n == 4
    assert store.next_queued_run() is None
    training = store.create_run(dataset_id, "tfidf_lr", "quick", {})
    assert store.next_queued_run().id == training.id
    with pytest.raises(SlmError):
        create_measurement(store, dataset_id, ep, BARE, 4, 0.0)  # a budget of nothing
    with pytest.raises(SlmError):
        create_measurement(store, dataset_id, Endpoint("", MODEL), BARE, 4, None)
