"""The fake chat-completions server, driven by the real ``openai`` client.

These pin down what the LLM-baseline tests rely on: the server answers in the shape the client
parses, and each scripted failure reaches the client as the exception a real provider causes.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import openai
import pytest
from llm_server import (
    UNPARSEABLE_ANSWER,
    FakeChatServer,
    Reply,
    label_answerer,
    prompt_tokens,
)

KEY = "sk-test-fake-0123456789"
MODEL = "fake-model"
TRUTH = {"great film": "pos", "awful plot": "neg", "so-so acting": "neg"}


def client(srv: FakeChatServer, *, key: str = KEY, timeout: float = 2.0) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.base_url, api_key=key, max_retries=0, timeout=timeout)


def ask(c: openai.OpenAI, text: str, **kwargs):
    messages = [
        {"role": "system", "content": "Label the review as pos or neg. Answer JSON."},
        {"role": "user", "content": text},
    ]
    return c.chat.completions.create(model=MODEL, messages=messages, **kwargs)


def test_correct_answer_with_usage_and_a_record_without_the_key():
    with FakeChatServer(answer=label_answerer(TRUTH), api_key=KEY) as srv:
        resp = ask(client(srv), "great film", temperature=0, max_tokens=20)
        assert srv.base_url == f"http://127.0.0.1:{srv.port}/v1"
        assert srv.count == 1
        record = srv.requests[0]

    assert json.loads(resp.choices[0].message.content) == {"label": "pos"}
    assert resp.choices[0].finish_reason == "stop"
    assert resp.object == "chat.completion" and resp.model == MODEL
    system = "Label the review as pos or neg. Answer JSON."
    expected_prompt = (len(system) + len("great film")) // 4 + 4 * 2
    assert resp.usage.prompt_tokens == expected_prompt
    assert resp.usage.completion_tokens == len('{"label": "pos"}') // 4
    assert resp.usage.total_tokens == expected_prompt + resp.usage.completion_tokens

    assert record["path"] == "/v1/chat/completions" and record["status"] == 200
    assert record["auth_ok"] is True and record["text"] == "great film"
    assert record["body"]["temperature"] == 0 and record["body"]["max_tokens"] == 20
    assert "authorization" not in record["headers"]
    assert KEY not in repr(srv.requests)


def test_label_answerer_wrong_unparseable_plain_and_unknown():
    answer = label_answerer(TRUTH, wrong={"awful plot"}, unparseable={"so-so acting"})
    assert json.loads(answer("great film", {})) == {"label": "pos"}
    assert json.loads(answer("awful plot", {})) == {"label": "pos"}  # first other, sorted
    assert answer("so-so acting", {}) == UNPARSEABLE_ANSWER
    assert label_answerer(TRUTH, as_json=False)("awful plot", {}) == "neg"

    # A text the answerer does not know is a test bug: 500 for the client, kept in srv.errors.
    with FakeChatServer(answer=answer) as srv:
        with pytest.raises(openai.InternalServerError):
            ask(client(srv), "never seen")
        assert len(srv.errors) == 1 and isinstance(srv.errors[0], KeyError)


def test_no_usage_block():
    with FakeChatServer(answer="pos", usage=False) as srv:
        assert ask(client(srv), "great film").usage is None
    with FakeChatServer(answer=lambda text, req: Reply(content="pos", usage=False)) as srv:
        resp = ask(client(srv), "great film")
        assert resp.usage is None and resp.choices[0].message.content == "pos"


def test_rate_limited_once_then_success_with_retry_after():
    reply = Reply(content='{"label": "neg"}', fail_times=1, fail_status=429, retry_after=2)
    with FakeChatServer(answer=lambda text, req: reply, api_key=KEY) as srv:
        c = client(srv)
        with pytest.raises(openai.RateLimitError) as info:
            ask(c, "awful plot")
        assert info.value.response.headers["retry-after"] == "2"
        assert info.value.body["code"] == "rate_limit_exceeded"
        resp = ask(c, "awful plot")
        assert json.loads(resp.choices[0].message.content) == {"label": "neg"}
        assert srv.attempts["awful plot"] == 2
        assert [r["status"] for r in srv.requests] == [429, 200]


def test_server_errors_always_and_transient():
    with FakeChatServer(answer=Reply(status=500)) as srv:
        c = client(srv)
        for _ in range(2):
            with pytest.raises(openai.InternalServerError) as info:
                ask(c, "great film")
        assert info.value.status_code == 500 and info.value.body["type"] == "server_error"
    with FakeChatServer(answer=Reply(content="pos", fail_times=1, fail_status=503)) as srv:
        with pytest.raises(openai.InternalServerError) as info:
            ask(client(srv), "great film")
        assert info.value.status_code == 503
        assert ask(client(srv), "great film").choices[0].message.content == "pos"


def test_delay_past_the_timeout_raises_api_timeout_error():
    with FakeChatServer(answer=Reply(content="pos", delay_s=1.0)) as srv:
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            ask(client(srv, timeout=0.3), "great film")
        assert time.monotonic() - started < 0.9


def test_drip_past_the_read_timeout_raises_api_timeout_error():
    # Headers arrive at once; the body stalls longer than the read timeout between bytes.
    with FakeChatServer(answer=Reply(content="pos", drip_s=0.6)) as srv:
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            ask(client(srv, timeout=0.3), "great film")
        assert time.monotonic() - started < 0.9


def test_slow_drip_within_the_read_timeout_completes():
    with FakeChatServer(answer=Reply(content="p", drip_s=0.002)) as srv:
        resp = ask(client(srv, timeout=0.3), "great film")
        assert resp.choices[0].message.content == "p"


def test_wrong_or_missing_key_is_401_without_echoing_the_key():
    with FakeChatServer(answer="pos", api_key=KEY) as srv:
        wrong = "sk-wrong-key-9876543210"
        with pytest.raises(openai.AuthenticationError) as info:
            ask(client(srv, key=wrong), "great film")
        assert info.value.body["code"] == "invalid_api_key"
        for secret in (KEY, wrong):
            assert secret not in str(info.value) and secret not in json.dumps(info.value.body)
        request = urllib.request.Request(f"{srv.base_url}/models")  # no Authorization at all
        with pytest.raises(urllib.error.HTTPError) as http:
            urllib.request.urlopen(request, timeout=2)
        assert http.value.code == 401
        assert [r["auth_ok"] for r in srv.requests] == [False, False]
        assert wrong not in repr(srv.requests)


def test_json_schema_rejected_or_accepted():
    schema = {
        "type": "json_schema",
        "json_schema": {
            "name": "label",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {"label": {"type": "string", "enum": ["pos", "neg"]}},
                "required": ["label"],
                "additionalProperties": False,
            },
        },
    }
    with FakeChatServer(answer=label_answerer(TRUTH), json_schema=False) as srv:
        with pytest.raises(openai.BadRequestError) as info:
            ask(client(srv), "great film", response_format=schema)
        assert info.value.body["param"] == "response_format"
        assert "json_schema is not supported" in info.value.body["message"]
        # json_object mode is still fine on such a server.
        ask(client(srv), "great film", response_format={"type": "json_object"})
    with FakeChatServer(answer=label_answerer(TRUTH), json_schema=True) as srv:
        resp = ask(client(srv), "great film", response_format=schema)
        assert json.loads(resp.choices[0].message.content) == {"label": "pos"}
        assert srv.requests[0]["body"]["response_format"] == schema


def test_unknown_model_is_404_and_models_are_listed():
    with FakeChatServer(answer="pos", models=("fake-model", "fake-small")) as srv:
        c = client(srv)
        with pytest.raises(openai.NotFoundError) as info:
            c.chat.completions.create(
                model="gpt-nope", messages=[{"role": "user", "content": "great film"}]
            )
        assert info.value.body["code"] == "model_not_found"
        assert "`gpt-nope`" in info.value.body["message"]
        assert [m.id for m in c.models.list()] == ["fake-model", "fake-small"]
        assert c.models.retrieve("fake-small").owned_by == "fake"


def test_max_concurrent_counts_overlapping_requests():
    with FakeChatServer(answer=Reply(content="pos", delay_s=0.2)) as srv:
        c = client(srv)
        threads = [threading.Thread(target=ask, args=(c, f"text {i}")) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=2)
        assert srv.count == 4
        assert srv.max_concurrent >= 2
        assert sorted(srv.texts()) == [f"text {i}" for i in range(4)]


def test_close_is_quick_with_a_request_stuck_in_a_delay():
    srv = FakeChatServer(answer=Reply(content="pos", delay_s=30))
    errors = []

    def stuck():
        try:
            ask(client(srv, timeout=5), "great film")
        except openai.APIError as exc:
            errors.append(exc)

    thread = threading.Thread(target=stuck)
    thread.start()
    while srv.count == 0:
        time.sleep(0.01)
    started = time.monotonic()
    srv.close()
    srv.close()  # idempotent
    assert time.monotonic() - started < 1.0
    thread.join(timeout=2)
    assert not thread.is_alive() and len(errors) == 1


def test_streaming_with_usage():
    with FakeChatServer(answer='{"label": "pos"}') as srv:
        stream = ask(client(srv), "great film", stream=True, stream_options={"include_usage": True})
        chunks = list(stream)
    content = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert content == '{"label": "pos"}'
    assert chunks[-1].usage.completion_tokens == len(content) // 4


def test_prompt_tokens_counts_content_parts():
    messages = [
        {"role": "system", "content": "x" * 8},
        {"role": "user", "content": [{"type": "text", "text": "y" * 4}]},
    ]
    assert prompt_tokens(messages) == 12 // 4 + 8
