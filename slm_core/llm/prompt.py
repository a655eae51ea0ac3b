"""The prompt sent to the LLM, the answer format it is held to, and the strict parser.

Each text is one chat: a system message naming the labels, then (few-shot) k worked examples per
label from the *training* split as user/assistant turns, then the text. The answer is asked for
as JSON ``{"label": "<one of the labels>"}``; where the endpoint supports structured output the
label is also constrained by a JSON schema enum. Whatever comes back is read by
:func:`parse_answer`, which accepts exactly one of the labels and nothing else: an answer that
names no label, or several, is *unparseable* and counts as wrong. Nothing is guessed from a
sentence that mentions a label.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from slm_core.errors import SlmError

ZERO_SHOT, FEW_SHOT = "zero", "few"
TEXT_SLOT, LABELS_SLOT = "{text}", "{labels}"

DEFAULT_SYSTEM = {
    "en": (
        "You classify texts. Answer with exactly one label from this list: {labels}.\n"
        'Reply only with JSON of the form {"label": "<one label from the list>"}.'
    ),
    "zh": (
        "你是文本分类器。只能从以下标签中选择一个作答：{labels}。\n"
        '只回复 JSON，格式为 {"label": "<列表中的一个标签>"}。'
    ),
}
DEFAULT_USER = {"en": "Text:\n{text}", "zh": "文本：\n{text}"}
# Enough for {"label": "..."} with any label a user is likely to have; a longer answer is
# unparseable anyway, so a low cap also caps the money a rambling model can spend.
MAX_ANSWER_TOKENS = 32


@dataclass(frozen=True)
class PromptSpec:
    """How every text is asked: zero- or few-shot, and the two editable templates."""

    mode: str = ZERO_SHOT
    k: int = 0  # examples per label (few-shot)
    system: str = DEFAULT_SYSTEM["en"]
    user: str = DEFAULT_USER["en"]
    seed: int = 0
    max_answer_tokens: int = MAX_ANSWER_TOKENS

    def __post_init__(self) -> None:
        if self.mode not in (ZERO_SHOT, FEW_SHOT):
            raise SlmError("errors.llm.bad_prompt_mode", mode=self.mode)
        if TEXT_SLOT not in self.user:
            raise SlmError("errors.llm.user_template_needs_text")
        if self.mode == FEW_SHOT and self.k < 1:
            raise SlmError("errors.llm.few_shot_needs_k")

    @property
    def shots(self) -> int:
        return self.k if self.mode == FEW_SHOT else 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PromptSpec:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def default(cls, lang: str = "en", mode: str = ZERO_SHOT, k: int = 0) -> PromptSpec:
        lang = lang if lang in DEFAULT_SYSTEM else "en"
        return cls(mode=mode, k=k, system=DEFAULT_SYSTEM[lang], user=DEFAULT_USER[lang])


@dataclass(frozen=True)
class Example:
    """One worked example shown to the model (few-shot), from the training split."""

    text: str
    label: str


def _fill(template: str, **values: str) -> str:
    # str.format would choke on the JSON braces users put in their templates: replace slots only.
    out = template
    for name, value in values.items():
        out = out.replace("{" + name + "}", value)
    return out


def labels_text(labels: Sequence[str]) -> str:
    return ", ".join(json.dumps(str(label), ensure_ascii=False) for label in labels)


def answer_json(label: str) -> str:
    return json.dumps({"label": str(label)}, ensure_ascii=False)


def build_messages(
    spec: PromptSpec, labels: Sequence[str], text: str, examples: Sequence[Example] = ()
) -> list[dict[str, str]]:
    """The chat messages for one text: system, the worked examples, then the text."""
    system = _fill(spec.system, labels=labels_text(labels))
    messages = [{"role": "system", "content": system}]
    for ex in examples:
        messages.append({"role": "user", "content": _fill(spec.user, text=ex.text)})
        messages.append({"role": "assistant", "content": answer_json(ex.label)})
    messages.append({"role": "user", "content": _fill(spec.user, text=str(text))})
    return messages


def render_messages(messages: Sequence[Mapping[str, str]]) -> str:
    """The messages as plain text, the way the page and the report show the exact prompt."""
    return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in messages)


def response_format(labels: Sequence[str]) -> dict[str, Any]:
    """A JSON-schema response format that only admits one of ``labels``."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "classification",
            "strict": True,
            "schema": {
                "type": "object",
                "properties": {"label": {"type": "string", "enum": [str(x) for x in labels]}},
                "required": ["label"],
                "additionalProperties": False,
            },
        },
    }


_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
_TRAILING = " \t\r\n.。!！\"'`“”‘’"


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip(_TRAILING).casefold()


def parse_answer(content: str | None, labels: Sequence[str]) -> str | None:
    """The label the answer names, or None when it names none of ``labels`` unambiguously.

    Accepted: JSON ``{"label": L}`` (optionally in a code fence), or the bare label, where L
    equals one label exactly or after width, case, surrounding space, quotes and a final full
    stop are folded, and no other label folds to the same text. Everything else is None.
    """
    if content is None:
        return None
    text = content.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    candidate: Any = text
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict) or set(data) != {"label"}:
            return None
        candidate = data["label"]
    if not isinstance(candidate, str):
        return None
    exact = [str(x) for x in labels if str(x) == candidate]
    if exact:
        return exact[0]
    folded = _norm(candidate)
    if not folded:
        return None
    matches = [str(x) for x in labels if _norm(str(x)) == folded]
    return matches[0] if len(matches) == 1 else None
