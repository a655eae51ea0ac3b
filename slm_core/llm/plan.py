"""What a measurement will send, fixed before the first call: the sample of the test split, the
few-shot examples from the training split, and the estimate of tokens and money shown first.

The sample is stratified by label (largest-remainder allocation, every label present when the
sample has room) and put in a seeded random order, so a measurement stopped early by its budget
or a cancel still holds a near-stratified prefix. The estimate counts tokens from the sample's
own texts with the characters-per-token rules of ``shared/reference/value-defaults.md`` (the
same rates as the Value page's API estimate), plus the prompt and the examples on every call.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from slm_core.errors import SlmError
from slm_core.i18n import t
from slm_core.llm.endpoints import Endpoint
from slm_core.llm.prompt import Example, PromptSpec, answer_json, build_messages
from slm_core.value.assumptions import Assumptions
from slm_core.value.serving import text_lengths

DEFAULT_SAMPLE = 200
# Worked examples are whole training texts; a news article ten times over would make every call
# cost ten articles. Longer ones are cut (the cut is visible in the prompt shown).
MAX_EXAMPLE_CHARS = 500
# Chat formats add a few tokens of framing per message (OpenAI's cookbook counts 3–4).
TOKENS_PER_MESSAGE = 4
PLAN_FILE = "llm_plan.json"


def stratified_positions(labels: Sequence[str], n: int, seed: int) -> list[int]:
    """Positions of a stratified sample of ``n`` of ``labels`` (all when n ≥ len), shuffled."""
    labels = [str(x) for x in labels]
    total = len(labels)
    rng = np.random.default_rng(seed)
    if n >= total:
        chosen = list(range(total))
    else:
        by_label: dict[str, list[int]] = {}
        for i, label in enumerate(labels):
            by_label.setdefault(label, []).append(i)
        names = sorted(by_label)
        exact = {c: n * len(by_label[c]) / total for c in names}
        take = {c: min(len(by_label[c]), math.floor(exact[c])) for c in names}
        if n >= len(names):  # every label gets at least one text
            for c in names:
                take[c] = max(take[c], 1)
        while sum(take.values()) > n:  # the floor of 1 overshot: trim the largest
            # never below one: the floor was what kept a rare label in the sample
            c = max((c for c in names if take[c] > 1), key=lambda c: (take[c] - exact[c], take[c]))
            take[c] -= 1
        rest = sorted(names, key=lambda c: (-(exact[c] - take[c]), c))
        while sum(take.values()) < n:
            for c in rest:
                if sum(take.values()) >= n:
                    break
                if take[c] < len(by_label[c]):
                    take[c] += 1
        chosen = []
        for c in names:
            pool = by_label[c]
            picked = rng.choice(len(pool), size=take[c], replace=False) if take[c] else []
            chosen.extend(pool[int(j)] for j in picked)
    order = rng.permutation(len(chosen))
    return [int(chosen[int(j)]) for j in order]


def few_shot_examples(train: pd.DataFrame, k: int, seed: int) -> list[Example]:
    """k training texts per label (fewer where a label has fewer), labels in sorted order."""
    if k <= 0 or train.empty:
        return []
    rng = np.random.default_rng(seed + 1)
    out: list[Example] = []
    for label in sorted(train["label"].astype(str).unique()):
        texts = train.loc[train["label"].astype(str) == label, "text"].astype(str).tolist()
        picked = rng.choice(len(texts), size=min(k, len(texts)), replace=False)
        for j in sorted(int(i) for i in picked):
            text = texts[j]
            if len(text) > MAX_EXAMPLE_CHARS:
                text = text[:MAX_EXAMPLE_CHARS] + "…"
            out.append(Example(text, label))
    return out


@dataclass(frozen=True)
class Plan:
    """The fixed content of one measurement: labels, sample and examples (texts included)."""

    labels: tuple[str, ...]
    positions: tuple[int, ...]  # rows of the test split, in the order they are sent
    texts: tuple[str, ...]
    truth: tuple[str, ...]
    examples: tuple[Example, ...]
    test_size: int

    @property
    def n(self) -> int:
        return len(self.positions)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["examples"] = [asdict(e) for e in self.examples]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        return cls(
            labels=tuple(data["labels"]),
            positions=tuple(int(p) for p in data["positions"]),
            texts=tuple(data["texts"]),
            truth=tuple(data["truth"]),
            examples=tuple(Example(**e) for e in data["examples"]),
            test_size=int(data["test_size"]),
        )

    def save(self, folder: Path) -> Path:
        path = Path(folder) / PLAN_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, folder: Path) -> Plan | None:
        path = Path(folder) / PLAN_FILE
        if not path.exists():
            return None
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:  # cut short, or edited by hand
            raise SlmError("errors.llm.plan_unreadable", path=str(path)) from exc


def make_plan(
    train: pd.DataFrame, test: pd.DataFrame, labels: Sequence[str], spec: PromptSpec, n: int
) -> Plan:
    """Draw the sample (seed ``spec.seed``) and the few-shot examples for one measurement."""
    truth = test["label"].astype(str).tolist()
    positions = stratified_positions(truth, n, spec.seed)
    texts = test["text"].astype(str).tolist()
    return Plan(
        labels=tuple(str(x) for x in labels),
        positions=tuple(positions),
        texts=tuple(texts[p] for p in positions),
        truth=tuple(truth[p] for p in positions),
        examples=tuple(few_shot_examples(train, spec.shots, spec.seed)),
        test_size=len(test),
    )


# ------------------------------------------------------------------------------ estimate


def estimated_tokens(text: str, a: Assumptions | None = None) -> float:
    """Tokens of one piece of text by the characters-per-token rules (CJK and other)."""
    a = a or Assumptions()
    lengths = text_lengths([text])
    return (
        lengths.mean_cjk_chars * a.tokens_per_char_cjk
        + lengths.mean_other_chars * a.tokens_per_char_latin
    )


@dataclass(frozen=True)
class Estimate:
    """Tokens and money a measurement is expected to use, shown before anything is sent."""

    n_texts: int
    input_tokens_per_text: float
    output_tokens_per_text: float
    input_tokens: float
    output_tokens: float
    cost_usd: float
    input_price_per_m: float
    output_price_per_m: float
    kind: str = "modelled"
    method: str = field(default_factory=lambda: t("llm.method.estimate"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def estimate(
    plan: Plan, spec: PromptSpec, endpoint: Endpoint, a: Assumptions | None = None
) -> Estimate:
    """The expected input/output tokens and USD for sending every text of ``plan`` once."""
    a = a or Assumptions()
    inputs = []
    for text in plan.texts:
        messages = build_messages(spec, plan.labels, text, plan.examples)
        inputs.append(sum(estimated_tokens(m["content"], a) + TOKENS_PER_MESSAGE for m in messages))
    answer = (
        max((estimated_tokens(answer_json(x), a) for x in plan.labels), default=0.0)
        + TOKENS_PER_MESSAGE
    )
    n = plan.n
    total_in = float(sum(inputs))
    total_out = float(answer * n)
    return Estimate(
        n_texts=n,
        input_tokens_per_text=total_in / n if n else 0.0,
        output_tokens_per_text=answer if n else 0.0,
        input_tokens=total_in,
        output_tokens=total_out,
        cost_usd=endpoint.price(total_in, total_out),
        input_price_per_m=endpoint.input_price_per_m,
        output_price_per_m=endpoint.output_price_per_m,
    )
