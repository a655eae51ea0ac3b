"""One answer to "own a small model, pay a hosted LLM, combine them, or keep people doing it?"
and the per-run choices a user makes on the Value page. Built by
:func:`slm_core.value.options.build_options`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from slm_core.value.business import BusinessResult
from slm_core.value.hosted import LLMBasis
from slm_core.value.scores import Dimension, Note, Weighted
from slm_core.value.serving import ServingCost

MANUAL, API, CASCADE = "manual", "api", "cascade"


def run_key(run_id: int) -> str:
    return f"run:{run_id}"


@dataclass(frozen=True)
class Option:
    """One answer to the question, with its business and social scorecards."""

    key: str  # "manual", "api", "cascade" or "run:<id>"
    kind: str  # "manual", "api", "cascade" or "model"
    label: str
    business: BusinessResult
    run_id: int | None = None
    model_id: str | None = None
    serving_mode: str | None = None
    serving: ServingCost | None = None
    business_dims: dict[str, Dimension] = field(default_factory=dict)
    social_dims: dict[str, Dimension] = field(default_factory=dict)
    business_score: Weighted | None = None
    social_score: Weighted | None = None
    overall: float | None = None
    eligible: bool = False
    reasons: tuple[Note, ...] = ()
    better_than_guessing: bool | None = None
    value_per_text: float = 0.0  # mean value of one text against doing it by hand (test)
    train_kwh: float | None = None  # one-off training energy (IT, before PUE)
    train_kwh_kind: str | None = None
    llm: LLMBasis | None = None  # the hosted LLM the API and the cascade rest on
    llm_notes: tuple[Note, ...] = ()  # what the LLM's figures rest on, shown beside its column

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "label": self.label,
            "run_id": self.run_id,
            "model_id": self.model_id,
            "serving_mode": self.serving_mode,
            "serving": self.serving.to_dict() if self.serving else None,
            "business": self.business.to_dict(),
            "business_dims": {k: d.to_dict() for k, d in self.business_dims.items()},
            "social_dims": {k: d.to_dict() for k, d in self.social_dims.items()},
            "business_score": self.business_score.to_dict() if self.business_score else None,
            "social_score": self.social_score.to_dict() if self.social_score else None,
            "overall": self.overall,
            "eligible": self.eligible,
            "reasons": [n.to_dict() for n in self.reasons],
            "better_than_guessing": self.better_than_guessing,
            "value_per_text": self.value_per_text,
            "train_kwh": self.train_kwh,
            "train_kwh_kind": self.train_kwh_kind,
            "llm": self.llm.to_dict() if self.llm else None,
            "llm_notes": [n.to_dict() for n in self.llm_notes],
        }


@dataclass(frozen=True)
class Overrides:
    """Per-run choices made on the Value page: a confidence threshold, a serving mode."""

    thresholds: Mapping[int, float] = field(default_factory=dict)
    serving: Mapping[int, str] = field(default_factory=dict)
