"""The hosted LLM measured on the user's own data (issue 13).

A measurement is a run of family ``llm_api``: an OpenAI-compatible chat-completions endpoint
answers a stratified sample of the test split, one text per call, its answers constrained to the
label set. The run keeps the endpoint, the model name, the prompt, the sample, every answer with
its token usage and latency, and the money spent at the stated prices; never the API key.

Modules: :mod:`.endpoints` (presets and where the key comes from), :mod:`.prompt` (messages,
answer schema, the strict parser), :mod:`.plan` (sample, few-shot examples, the estimate shown
before anything is sent), :mod:`.client` (one call with retries and timeouts), :mod:`.job` (the
background measurement: budget, cancel, resume) and :mod:`.measurement` (the stored answers read
back as figures, and the small models scored on the same texts).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

LLM_MODEL_ID = "llm_api"
LLM_FAMILY = "llm_api"

R = TypeVar("R")


def is_llm_run(run) -> bool:
    """Whether a run record is an LLM measurement rather than a trained small model."""
    return getattr(run, "model_id", None) == LLM_MODEL_ID


def model_runs(runs: Iterable[R]) -> list[R]:
    """The trained small models among ``runs`` (LLM measurements left out), in the same order."""
    return [r for r in runs if not is_llm_run(r)]


def llm_runs(runs: Iterable[R]) -> list[R]:
    """The LLM measurements among ``runs``, in the same order."""
    return [r for r in runs if is_llm_run(r)]
