"""Where a hosted LLM is reached: presets for common OpenAI-compatible endpoints, the settings of
one connection, and where its API key comes from.

Prices are USD per 1M tokens (input / output, standard tier) from
``shared/reference/value-defaults.md``; a preset without a published figure there leaves the
price at 0 for the user to fill in (a local server costs no per-token money, its hardware is not
counted here). The key is never part of :class:`Endpoint`: it is read from the environment, from
Streamlit secrets by the UI, or typed for one session, and passed to the client only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlparse

KEY_ENV_VARS = ("SLM_LLM_API_KEY", "OPENAI_API_KEY")


@dataclass(frozen=True)
class Preset:
    """A starting point for the connection form: base URL, model and its list prices."""

    key: str
    name: str
    base_url: str
    model: str
    input_price_per_m: float
    output_price_per_m: float
    price_source: str
    price_date: str
    needs_key: bool = True
    note: str = ""


PRESETS: tuple[Preset, ...] = (
    Preset(
        "openai_gpt4o_mini",
        "OpenAI gpt-4o-mini",
        "https://api.openai.com/v1",
        "gpt-4o-mini",
        0.15,
        0.60,
        "simonwillison.net/2025/Apr/14/gpt-4-1",
        "Apr 2025, rechecked May 2026",
    ),
    Preset(
        "openai_gpt41_mini",
        "OpenAI gpt-4.1-mini",
        "https://api.openai.com/v1",
        "gpt-4.1-mini",
        0.40,
        1.60,
        "community price list",
        "May 2026",
    ),
    Preset(
        "deepseek_chat",
        "DeepSeek deepseek-chat (V3.2)",
        "https://api.deepseek.com/v1",
        "deepseek-chat",
        0.28,
        0.42,
        "api-docs.deepseek.com pricing (via reprints)",
        "Dec 2025 – Apr 2026",
    ),
    Preset(
        "gemini_flash_lite",
        "Google Gemini 2.5 Flash-Lite (OpenAI-compatible)",
        "https://generativelanguage.googleapis.com/v1beta/openai",
        "gemini-2.5-flash-lite",
        0.10,
        0.40,
        "simonw/llm-prices data",
        "2025–2026",
    ),
    Preset(
        "qwen_dashscope",
        "Qwen (DashScope compatible mode)",
        "https://dashscope.aliyuncs.com/compatible-mode/v1",
        "qwen-plus",
        0.0,
        0.0,
        "",
        "",
        note="llm.preset_note_price",
    ),
    Preset(
        "azure_openai",
        "Azure OpenAI",
        "https://YOUR-RESOURCE.openai.azure.com/openai/v1",
        "YOUR-DEPLOYMENT",
        0.0,
        0.0,
        "",
        "",
        note="llm.preset_note_azure",
    ),
    Preset(
        "vllm_local",
        "Local vLLM server",
        "http://127.0.0.1:8000/v1",
        "YOUR-MODEL",
        0.0,
        0.0,
        "",
        "",
        needs_key=False,
        note="llm.preset_note_local",
    ),
    Preset(
        "ollama_local",
        "Local Ollama server",
        "http://127.0.0.1:11434/v1",
        "llama3.2",
        0.0,
        0.0,
        "",
        "",
        needs_key=False,
        note="llm.preset_note_local",
    ),
)
PRESETS_BY_KEY: dict[str, Preset] = {p.key: p for p in PRESETS}


@dataclass(frozen=True)
class Endpoint:
    """One connection's settings, as stored with a measurement run (no key, by design)."""

    base_url: str
    model: str
    input_price_per_m: float = 0.0
    output_price_per_m: float = 0.0
    price_source: str = ""
    price_date: str = ""
    timeout_s: float = 30.0
    max_retries: int = 3
    retry_base_s: float = 0.5
    concurrency: int = 4
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Endpoint:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def from_preset(cls, preset: Preset, **changes: Any) -> Endpoint:
        base = cls(
            base_url=preset.base_url,
            model=preset.model,
            input_price_per_m=preset.input_price_per_m,
            output_price_per_m=preset.output_price_per_m,
            price_source=preset.price_source,
            price_date=preset.price_date,
        )
        return cls(**{**base.to_dict(), **changes})

    def price(self, input_tokens: float, output_tokens: float) -> float:
        """USD for these tokens at this endpoint's stated prices."""
        return (
            input_tokens * self.input_price_per_m + output_tokens * self.output_price_per_m
        ) / 1e6


LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")


def is_local(base_url: str) -> bool:
    """Whether the endpoint is on this machine (a local server needs no API key)."""
    try:
        host = urlparse(str(base_url).strip()).hostname
    except ValueError:
        return False
    return host in LOCAL_HOSTS


# Query parameters whose names say they carry a secret (api-version and the like are fine).
SECRET_WORDS = ("key", "token", "secret", "password", "sig", "auth")


def has_credentials(base_url: str) -> bool:
    """Whether the address itself carries a secret (user:password@, or a key in the query):
    the base URL is stored and shown with every measurement, so it must hold none."""
    try:
        parts = urlparse(str(base_url).strip())
    except ValueError:
        return False
    if parts.username or parts.password:
        return True
    names = [name.lower() for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    return any(word in name for name in names for word in SECRET_WORDS)


def key_from_env(env: Mapping[str, str] | None = None) -> tuple[str | None, str | None]:
    """The API key from the environment and the variable it came from, or (None, None)."""
    env = os.environ if env is None else env
    for name in KEY_ENV_VARS:
        value = (env.get(name) or "").strip()
        if value:
            return value, name
    return None, None


OPENAI_HOSTS = ("api.openai.com",)


def key_for(
    base_url: str,
    typed: str | None = None,
    sources: Sequence[tuple[str, Callable[[str], Any]]] = (),
) -> tuple[str | None, str | None, str | None]:
    """The key to send to ``base_url``: (key, where it came from, the variable's name).

    A key typed for this endpoint wins. Keys kept on the server (``sources``: e.g. Streamlit
    secrets, then the environment): ``SLM_LLM_API_KEY``, set for this tool, goes to the endpoint
    measured (a local vLLM may want one too); ``OPENAI_API_KEY`` only to OpenAI itself, so an
    OpenAI key never reaches another company's server because its address was typed in the form.
    """
    typed = (typed or "").strip()
    if typed:
        return typed, "typed", None
    host = (urlparse(str(base_url).strip()).hostname or "").lower()
    for source, get in sources:
        for name in KEY_ENV_VARS:
            if name == "OPENAI_API_KEY" and host not in OPENAI_HOSTS:
                continue
            try:
                value = str(get(name) or "").strip()
            except Exception:  # a secrets store that cannot be read holds no key for us
                value = ""
            if value:
                return value, source, name
    return None, None, None


def insecure_transport(base_url: str, key: str | None) -> bool:
    """Whether sending ``key`` to ``base_url`` would put it on the wire in clear text."""
    parts = urlparse(str(base_url).strip())
    return bool(key) and parts.scheme == "http" and not is_local(base_url)


def redact(text: str, key: str | None) -> str:
    """``text`` with every occurrence of ``key`` (and of its long tail) replaced by '***'."""
    if not key:
        return text
    out = text.replace(key, "***")
    # Some servers echo a masked key ("sk-abc...wxyz"): its last characters alone identify it.
    tail = key[-6:]
    if len(key) >= 12 and tail in out:
        out = out.replace(tail, "***")
    return out
