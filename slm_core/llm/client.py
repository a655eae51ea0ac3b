"""One question to the LLM: the official ``openai`` client, retries with backoff, timeouts.

Retried (up to ``Endpoint.max_retries`` times, waiting ``retry_base_s × 2^attempt`` with a little
jitter, or the server's ``Retry-After`` when it sends one): rate limits (429), server errors (5xx),
408/409, time-outs and dropped connections. Not retried, and fatal to the whole measurement: a
rejected key (401/403) and an unknown model or address (404) — every other text would fail the
same way. An endpoint that refuses the JSON-schema answer format (400 naming ``response_format``)
is asked again without it, and from then on answers are held to the label set by the strict
parser alone; the measurement records which of the two was used.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from slm_core.errors import SlmError
from slm_core.llm.endpoints import Endpoint, insecure_transport, redact
from slm_core.llm.prompt import PromptSpec, parse_answer, response_format

OK, UNPARSEABLE, ERROR = "ok", "unparseable", "error"
# A call given up because the measurement was stopping (budget, cancel): not an answer, and not
# stored, so a resume asks that text again and the accuracy never counts it.
STOPPED = "stopped"
MAX_CONTENT_CHARS = 300
MAX_RETRY_AFTER_S = 30.0
MAX_BACKOFF_S = 20.0
# A local server wants *some* bearer token; none of them checks it.
PLACEHOLDER_KEY = "not-needed"


class LLMError(SlmError):
    """The endpoint cannot answer at all (bad key, unknown model or address)."""


@dataclass(frozen=True)
class CallResult:
    """What one text got back: its label (or why none), tokens, latency and attempts."""

    status: str  # OK, UNPARSEABLE or ERROR
    label: str | None
    content: str | None  # the answer as returned (cut to MAX_CONTENT_CHARS)
    input_tokens: float
    output_tokens: float
    usage_reported: bool
    latency_ms: float | None  # of the attempt that answered
    attempts: int
    error: str | None = None
    structured: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _status(exc: Exception) -> int | None:
    return getattr(exc, "status_code", None)


def _retryable(exc: Exception) -> bool:
    # openai is imported where it is used, not at the top: it takes ~1 s, and the pages that
    # import this module for its constants (Train, Results, the report) never call an LLM.
    import openai

    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    status = _status(exc)
    return status is not None and (status in (408, 409, 429) or status >= 500)


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return min(MAX_RETRY_AFTER_S, max(0.0, float(value))) if value is not None else None
    except ValueError:
        return None


def _about_response_format(exc: Exception) -> bool:
    if _status(exc) not in (400, 422):
        return False
    body = getattr(exc, "body", None)
    text = f"{getattr(exc, 'message', '')} {body}".lower()
    return "response_format" in text or "json_schema" in text or "response format" in text


class Caller:
    """Sends one text at a time to ``endpoint``; safe to use from several threads."""

    def __init__(
        self,
        endpoint: Endpoint,
        api_key: str | None,
        labels: Sequence[str],
        spec: PromptSpec,
        *,
        structured: bool = True,
        estimate_tokens: Callable[[str], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.endpoint = endpoint
        self.labels = [str(x) for x in labels]
        self.spec = spec
        self._key = api_key or None
        if insecure_transport(endpoint.base_url, self._key):
            raise LLMError("errors.llm.key_over_http", url=endpoint.base_url)
        import openai

        self._client = openai.OpenAI(
            base_url=endpoint.base_url,
            api_key=api_key or PLACEHOLDER_KEY,
            max_retries=0,  # retries are ours: counted, cancellable, and honour Retry-After
            timeout=float(endpoint.timeout_s),
        )
        self._structured = structured
        self._lock = threading.Lock()
        self._estimate = estimate_tokens or (lambda text: len(text) / 4.0)
        self._sleep = sleep

    @property
    def structured(self) -> bool:
        with self._lock:
            return self._structured

    def _request(self, messages: list[dict[str, str]], structured: bool):
        import openai

        kwargs: dict[str, Any] = {
            "model": self.endpoint.model,
            "messages": messages,
            "temperature": 0,
            "max_tokens": int(self.spec.max_answer_tokens),
        }
        if structured:
            kwargs["response_format"] = response_format(self.labels)
        # The client's timeout bounds each wait for bytes; a server that drips its answer a
        # byte at a time never trips it. The body is read here against one deadline per call.
        deadline = time.monotonic() + float(self.endpoint.timeout_s)
        create = self._client.chat.completions.with_streaming_response.create
        with create(**kwargs) as response:
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if time.monotonic() > deadline:
                    raise openai.APITimeoutError(request=response.http_request)
        try:
            return json.loads(bytes(body))
        except ValueError:
            return {}

    def _fatal(self, exc: Exception) -> LLMError | None:
        status = _status(exc)
        if status in (401, 403):
            return LLMError("errors.llm.key_rejected", status=status, url=self.endpoint.base_url)
        if status == 404:
            return LLMError(
                "errors.llm.not_found", model=self.endpoint.model, url=self.endpoint.base_url
            )
        return None

    def _wait(self, attempt: int, exc: Exception, should_stop: Callable[[], bool]) -> bool:
        """Sleep before the next attempt; False when a stop was asked for meanwhile."""
        delay = _retry_after(exc)
        if delay is None:
            base = float(self.endpoint.retry_base_s) * (2**attempt)
            delay = min(MAX_BACKOFF_S, base * (1.0 + 0.25 * random.random()))
        end = time.monotonic() + delay
        while (left := end - time.monotonic()) > 0:
            if should_stop():
                return False
            self._sleep(min(0.1, left))
        return not should_stop()

    def call(
        self, messages: list[dict[str, str]], should_stop: Callable[[], bool] = lambda: False
    ) -> CallResult:
        """Ask once (with retries); raises :class:`LLMError` only for an endpoint-wide fault."""
        import openai

        attempts = 0
        last: Exception | None = None
        while attempts <= int(self.endpoint.max_retries):
            structured = self.structured
            attempts += 1
            started = time.perf_counter()
            try:
                response = self._request(messages, structured)
            except openai.APIError as exc:
                fatal = self._fatal(exc)
                if fatal is not None:
                    raise fatal from None
                if structured and _about_response_format(exc):
                    with self._lock:
                        self._structured = False
                    attempts -= 1  # a format probe, not a failure of this text
                    continue
                last = exc
                if not _retryable(exc) or attempts > int(self.endpoint.max_retries):
                    break
                if not self._wait(attempts - 1, exc, should_stop):
                    return CallResult(STOPPED, None, None, 0.0, 0.0, False, None, attempts)
                continue
            latency_ms = (time.perf_counter() - started) * 1000.0
            return self._result(messages, response, latency_ms, attempts, structured)
        return CallResult(
            status=ERROR,
            label=None,
            content=None,
            input_tokens=0.0,
            output_tokens=0.0,
            usage_reported=False,
            latency_ms=None,
            attempts=attempts,
            error=self._describe(last),
            structured=structured,
        )

    def _describe(self, exc: Exception | None) -> str:
        import openai

        if exc is None:
            return "stopped"
        if isinstance(exc, openai.APITimeoutError):
            text = f"timed out after {self.endpoint.timeout_s:g} s"
        elif isinstance(exc, openai.APIConnectionError):
            text = "could not connect"
        else:
            text = f"HTTP {_status(exc)}: {getattr(exc, 'message', type(exc).__name__)}"
        return redact(" ".join(text.split())[:200], self._key)

    def _result(self, messages, response, latency_ms: float, attempts: int, structured: bool):
        choices = response.get("choices") if isinstance(response, dict) else None
        first = choices[0] if isinstance(choices, list) and choices else {}
        message = first.get("message") if isinstance(first, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        content = content if isinstance(content, str) else None
        label = parse_answer(content, self.labels)
        usage = response.get("usage") if isinstance(response, dict) else None
        if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int | float):
            tokens_in = float(usage["prompt_tokens"])
            tokens_out = float(usage.get("completion_tokens") or 0)
            reported = True
        else:  # some local servers send no usage block: the estimate stands in, flagged
            tokens_in = float(sum(self._estimate(m["content"]) for m in messages))
            tokens_out = float(self._estimate(content or ""))
            reported = False
        return CallResult(
            status=OK if label is not None else UNPARSEABLE,
            label=label,
            content=None if content is None else content[:MAX_CONTENT_CHARS],
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            usage_reported=reported,
            latency_ms=latency_ms,
            attempts=attempts,
            structured=structured,
        )
