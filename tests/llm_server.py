"""A fake OpenAI-compatible chat-completions server for tests: real HTTP on 127.0.0.1.

Tests of the LLM baseline need a server that answers like OpenAI (or a local vLLM / Ollama /
llama.cpp server) but deterministically, offline and fast, and that can misbehave on cue: rate
limits, server errors, slow answers, a body that trickles in, a wrong key, an unsupported
``response_format``. Real sockets (not a mocked transport) so the real ``openai`` client, its
timeouts and its error mapping are what the tests exercise.

Usage::

    from llm_server import FakeChatServer, Reply, label_answerer

    with FakeChatServer(answer=label_answerer({"good film": "pos"}), api_key="sk-test-1") as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="sk-test-1", max_retries=0)
        ...
        assert srv.count == 1

The server never stores or echoes the API key: a request record keeps only ``auth_ok``.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

UNPARSEABLE_ANSWER = "I think it might be positive or negative"

# Messages and types as OpenAI sends them, so client code that inspects errors sees real shapes.
_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("Invalid request", "invalid_request_error", None),
    401: ("Incorrect API key provided", "invalid_request_error", "invalid_api_key"),
    403: ("You are not allowed to access this resource", "invalid_request_error", None),
    404: ("The requested resource does not exist", "invalid_request_error", None),
    429: ("Rate limit reached for requests", "requests", "rate_limit_exceeded"),
    500: (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    502: ("Bad gateway", "server_error", None),
    503: ("The engine is currently overloaded, please try again later", "server_error", None),
}

# A client that hangs up (its timeout fired) makes writes fail; that is expected, not an error.
_HANGUP = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


@dataclass(frozen=True)
class Reply:
    """What the fake server should do for one text, when a plain string is not enough.

    Parameters
    ----------
    content : the assistant message content (``None`` sends ``"content": null``).
    status : a non-200 status makes every request for this text fail with it.
    fail_times, fail_status : the first ``fail_times`` requests for this text fail with
        ``fail_status``; later ones succeed with ``content``.
    retry_after : sent as the ``Retry-After`` header (seconds) on those failures.
    delay_s : sleep this long before answering (to provoke a client timeout).
    drip_s : send headers with a Content-Length at once, then the body one byte every
        ``drip_s`` seconds (a stalled stream; a client read timeout below ``drip_s`` fires).
    usage : ``False`` omits the ``usage`` block.
    finish_reason : the choice's ``finish_reason`` ("stop", "length", "content_filter").
    """

    content: str | None = None
    status: int = 200
    fail_times: int = 0
    fail_status: int = 429
    retry_after: float | None = None
    delay_s: float = 0.0
    drip_s: float = 0.0
    usage: bool = True
    finish_reason: str = "stop"


Answer = Callable[[str, dict], "str | Reply"]


def label_answerer(
    truth: dict[str, str],
    wrong: Iterable[str] = (),
    unparseable: Iterable[str] = (),
    as_json: bool = True,
) -> Answer:
    """An ``answer`` callable for a labelling prompt: right, wrong or unparseable on cue.

    Texts in ``unparseable`` get free text with no label; texts in ``wrong`` get the first label
    (in sorted order of ``truth``'s values) other than their true one; other texts get
    ``truth[text]``. With ``as_json`` the answer is ``{"label": ...}``, else the bare label.
    A text in none of these raises ``KeyError``: the server answers 500 and keeps the error in
    ``srv.errors``, so a test that forgot a text fails loudly.
    """
    labels = sorted(set(truth.values()))
    wrong, unparseable = set(wrong), set(unparseable)

    def answer(text: str, request: dict) -> str:
        if text in unparseable:
            return UNPARSEABLE_ANSWER
        label = truth[text]
        if text in wrong:
            others = [x for x in labels if x != label]
            if not others:
                raise ValueError("label_answerer needs two labels to answer wrongly")
            label = others[0]
        return json.dumps({"label": label}, ensure_ascii=False) if as_json else label

    return answer


def content_text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a content-part list."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p
        )
    return str(content)


def prompt_tokens(messages: list[dict]) -> int:
    """Deterministic stand-in for a tokenizer: characters // 4 plus 4 per message."""
    chars = sum(len(content_text(m.get("content"))) for m in messages if isinstance(m, dict))
    return chars // 4 + 4 * len(messages)


def completion_tokens(content: str | None) -> int:
    return max(1, len(content or "") // 4)


class FakeChatServer:
    """An OpenAI chat-completions server on 127.0.0.1, an ephemeral port, a daemon thread.

    Parameters
    ----------
    answer : ``answer(text, request) -> str | Reply`` where ``text`` is the content of the last
        user message and ``request`` the whole JSON body. A plain ``str`` or ``Reply`` is used
        for every text.
    api_key : when set, requests without ``Authorization: Bearer <api_key>`` get 401.
    usage : ``False`` omits the usage block from every answer.
    json_schema : ``False`` rejects ``response_format={"type": "json_schema", ...}`` with 400,
        as some local servers do.
    latency_s : extra sleep before every chat answer.
    models : the model ids that exist; any other gets 404 ``model_not_found``.

    Attributes
    ----------
    base_url : ``"http://127.0.0.1:PORT/v1"``, for ``openai.OpenAI(base_url=...)``.
    requests : one dict per request received (path, method, headers without Authorization,
        auth_ok, body, text, time (``time.monotonic()``), status); read under ``lock``.
    attempts : ``Counter`` of chat requests per text (those that reached the answerer).
    errors : exceptions raised by ``answer`` (each answered with 500).
    max_concurrent : the peak number of requests being handled at once.
    """

    def __init__(
        self,
        answer: Answer | str | Reply = "ok",
        *,
        api_key: str | None = None,
        usage: bool = True,
        json_schema: bool = True,
        latency_s: float = 0.0,
        models: Iterable[str] = ("fake-model",),
    ) -> None:
        self.answer = answer
        self._api_key = api_key  # kept in memory only; never logged, recorded or echoed
        self.usage = usage
        self.json_schema = json_schema
        self.latency_s = latency_s
        self.models = tuple(models)
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.attempts: Counter[str] = Counter()
        self.errors: list[BaseException] = []
        self.max_concurrent = 0
        self._active = 0
        # Set on close so requests stuck in a delay or a drip end at once.
        self._closing = threading.Event()
        self._closed = False

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self  # type: ignore[attr-defined]
        self._httpd.handle_error = _quiet_handle_error  # type: ignore[method-assign]
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.url}/v1"
        # A short poll interval keeps shutdown() quick.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeChatServer:{self.port}",
            daemon=True,
        )
        self._thread.start()

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> FakeChatServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving; requests stuck in a delay or drip end at once. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=2)

    # -- what tests read -------------------------------------------------------------------

    @property
    def count(self) -> int:
        """How many requests arrived (any path, any outcome)."""
        with self.lock:
            return len(self.requests)

    @property
    def chat_requests(self) -> list[dict]:
        """The records of POST /v1/chat/completions requests, in arrival order."""
        with self.lock:
            return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    def texts(self) -> list[str]:
        """The texts (last user messages) of the chat requests, in arrival order."""
        return [r["text"] for r in self.chat_requests if r["text"] is not None]

    # -- used by the handler ---------------------------------------------------------------

    def _auth_ok(self, header: str | None) -> bool:
        if self._api_key is None:
            return True
        expected = f"Bearer {self._api_key}"
        return header is not None and hmac.compare_digest(header.encode(), expected.encode())

    def _enter(self) -> None:
        with self.lock:
            self._active += 1
            self.max_concurrent = max(self.max_concurrent, self._active)

    def _leave(self) -> None:
        with self.lock:
            self._active -= 1

    def _sleep(self, seconds: float) -> bool:
        """Sleep ``seconds``; ``False`` if the server closed meanwhile."""
        return seconds <= 0 or not self._closing.wait(seconds)


def _quiet_handle_error(request: Any, client_address: Any) -> None:
    """Swallow errors from a client that hung up; a test's assertion says what went wrong."""


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so no thread lingers on an idle keep-alive socket.
    protocol_version = "HTTP/1.0"
    server_version = "FakeChat/1.0"

    @property
    def fake(self) -> FakeChatServer:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (stdlib signature)
        pass  # keep test output clean

    def do_GET(self) -> None:  # noqa: N802  (stdlib name)
        self._serve(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._serve(self._post)

    # -- plumbing --------------------------------------------------------------------------

    def _serve(self, route: Callable[[dict], None]) -> None:
        fake = self.fake
        fake._enter()
        try:
            headers = {k.lower(): v for k, v in self.headers.items()}
            auth_ok = fake._auth_ok(headers.pop("authorization", None))
            headers.pop("api-key", None)  # Azure-style key header: never recorded either
            record = {
                "path": self.path.split("?", 1)[0],
                "method": self.command,
                "headers": headers,
                "auth_ok": auth_ok,
                "body": None,
                "text": None,
                "time": time.monotonic(),
                "status": None,
            }
            with fake.lock:
                fake.requests.append(record)
            if not auth_ok:
                self._error(record, 401)
                return
            route(record)
        except _HANGUP:
            pass
        finally:
            fake._leave()

    def _send(
        self,
        record: dict,
        status: int,
        payload: dict,
        *,
        headers: dict[str, str] | None = None,
        drip_s: float = 0.0,
    ) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        record["status"] = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-request-id", f"req_{uuid.uuid4().hex[:16]}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if drip_s <= 0:
            self.wfile.write(body)
            return
        self.wfile.flush()
        for i in range(len(body)):
            if not self.fake._sleep(drip_s):
                return
            self.wfile.write(body[i : i + 1])
            self.wfile.flush()

    def _error(
        self,
        record: dict,
        status: int,
        message: str | None = None,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        default_message, kind, default_code = _ERRORS.get(
            status,
            (f"HTTP {status}", "server_error" if status >= 500 else "invalid_request_error", None),
        )
        error: dict[str, Any] = {
            "message": message or default_message,
            "type": kind,
            "param": param,
            "code": code or default_code,
        }
        self._send(record, status, {"error": error}, headers=headers)

    # -- routes ----------------------------------------------------------------------------

    def _get(self, record: dict) -> None:
        path, models = record["path"].rstrip("/"), self.fake.models
        if path == "/v1/models":
            data = [_model(m) for m in models]
            self._send(record, 200, {"object": "list", "data": data})
        elif path.startswith("/v1/models/") and path.removeprefix("/v1/models/") in models:
            self._send(record, 200, _model(path.removeprefix("/v1/models/")))
        elif path.startswith("/v1/models/"):
            model = path.removeprefix("/v1/models/")
            self._error(record, 404, f"The model `{model}` does not exist", code="model_not_found")
        else:
            self._error(record, 404, f"Unknown request URL: GET {path}", code="unknown_url")

    def _post(self, record: dict) -> None:
        fake = self.fake
        path = record["path"].rstrip("/")
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if path != "/v1/chat/completions":
            self._error(record, 404, f"Unknown request URL: POST {path}", code="unknown_url")
            return
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            self._error(record, 400, "We could not parse the JSON body of your request.")
            return
        record["body"] = body
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._error(record, 400, "'messages' is a required property", param="messages")
            return
        model = body.get("model")
        if model not in fake.models:
            self._error(record, 404, f"The model `{model}` does not exist", code="model_not_found")
            return
        response_format = body.get("response_format") or {}
        if response_format.get("type") == "json_schema" and not fake.json_schema:
            self._error(
                record,
                400,
                "response_format json_schema is not supported by this model",
                param="response_format",
            )
            return

        messages = body["messages"]
        users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        text = content_text(users[-1].get("content")) if users else ""
        record["text"] = text
        with fake.lock:
            fake.attempts[text] += 1
            attempt = fake.attempts[text]

        answer = fake.answer
        try:
            reply = answer(text, body) if callable(answer) else answer
        except Exception as exc:  # a bug in the test's answerer: report it, answer 500
            with fake.lock:
                fake.errors.append(exc)
            self._error(record, 500, f"answer() raised {type(exc).__name__}")
            return
        if not isinstance(reply, Reply):
            reply = Reply(content=reply)

        if not fake._sleep(fake.latency_s + reply.delay_s):
            return
        if reply.status != 200:
            self._error(record, reply.status)
            return
        if attempt <= reply.fail_times:
            headers = {}
            if reply.retry_after is not None:
                seconds = reply.retry_after
                headers["Retry-After"] = str(int(seconds) if seconds == int(seconds) else seconds)
            self._error(record, reply.fail_status, headers=headers)
            return

        if body.get("stream"):
            self._stream(record, body, reply)
            return
        payload = _completion(body, reply, with_usage=fake.usage and reply.usage)
        self._send(record, 200, payload, drip_s=reply.drip_s)

    def _stream(self, record: dict, body: dict, reply: Reply) -> None:
        """Server-sent events as OpenAI streams them; usage only if the client asked for it."""
        record["status"] = 200
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        base = _completion(body, reply, with_usage=True)
        chunk = {k: base[k] for k in ("id", "created", "model")}
        chunk["object"] = "chat.completion.chunk"
        content = reply.content or ""
        deltas = [{"role": "assistant", "content": ""}]
        deltas += [{"content": content[i : i + 8]} for i in range(0, len(content), 8)]
        events = [
            {**chunk, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas
        ]
        events.append(
            {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": reply.finish_reason}]}
        )
        wants_usage = (body.get("stream_options") or {}).get("include_usage")
        if wants_usage and self.fake.usage and reply.usage:
            events.append({**chunk, "choices": [], "usage": base["usage"]})
        for event in events:
            if not self.fake._sleep(reply.drip_s):
                return
            line = "data: " + json.dumps(event, ensure_ascii=False) + "\n\n"
            self.wfile.write(line.encode("utf-8"))
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")


def _model(model_id: str) -> dict:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "fake"}


def _completion(body: dict, reply: Reply, *, with_usage: bool) -> dict:
    payload: dict[str, Any] = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content},
                "finish_reason": reply.finish_reason,
            }
        ],
    }
    if with_usage:
        p, c = prompt_tokens(body["messages"]), completion_tokens(reply.content)
        payload["usage"] = {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
    return payload
