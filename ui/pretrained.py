"""The pretrained family on the Train page: the language warning, the embedding progress and
the fine-tuning gate (a GPU, or the user's consent to the CPU time measured here)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import streamlit as st

from slm_core.models.minilm.encoder import EMBED_BATCH
from slm_core.models.minilm.language import script_warning
from slm_core.models.names import model_name
from slm_core.models.registry import PRETRAINED_IDS
from slm_core.store.records import RunProgress
from ui.state import lang, t


def warn_if_script_unsuited(report: dict, chosen: Iterable[str]) -> None:
    """Under the model picker: when a pretrained (English) model is picked on a dataset that
    is mostly CJK, say so and name the character-level models instead."""
    picked = [m for m in chosen if m in PRETRAINED_IDS]
    key = script_warning(script=str(report.get("script", "latin"))) if picked else None
    if key is not None:
        names = ", ".join(model_name(m, lang()) for m in picked)
        st.warning(f"**{names}** — {t(key)}", icon=":material/translate:")


def progress_label(progress: RunProgress) -> str:
    """The text under a job's progress bar: epochs and batches while a model trains; the
    encoder's batches, in words, while a pretrained model reads the texts first."""
    if progress.message == "embedding":
        return t(
            "pretrained_page.embedding_progress",
            batch=progress.batch,
            batches="?" if progress.batches is None else progress.batches,
            size=EMBED_BATCH,
        )
    return t(
        "train.progress",
        epoch=progress.epoch,
        epochs="?" if progress.epochs is None else progress.epochs,
        batch=progress.batch,
        batches="?" if progress.batches is None else progress.batches,
        message=t("stage." + progress.message),
    )


FINETUNE = "minilm_finetune"
ACCEPT_KEY = "finetune_accept_cpu"
_ESTIMATES_KEY = "_finetune_estimates"


def _estimate_key(dataset_id: str, params: dict[str, Any]) -> str:
    return json.dumps([dataset_id, params], sort_keys=True, default=str)


def finetune_gate(store, dataset, params: dict[str, Any], n_train: int) -> str | None:
    """Under the form when the fine-tuned model is picked: on a GPU, say so; on a CPU, a button
    that measures the training time here and, once measured, the consent checkbox. Returns
    None when fine-tuning may start, else the catalogue key of why not."""
    from slm_core.models.minilm.finetune import gpu_visible

    if gpu_visible():
        st.caption(t("finetune.gpu"))
        return None
    estimates = st.session_state.setdefault(_ESTIMATES_KEY, {})
    key = _estimate_key(dataset.id, params)
    st.caption(t("finetune.cpu"))
    if st.button(t("finetune.measure"), help=t("finetune.measure_help"), key="finetune_measure"):
        with st.spinner(t("finetune.measure")):
            estimates[key] = _measure(store, dataset, params, n_train)
    estimate = estimates.get(key)
    if estimate is None:
        return "finetune.needs_estimate"
    st.info(
        t(
            "finetune.estimate",
            minutes=estimate.minutes,
            batch=estimate.batch_size,
            step=f"{estimate.seconds_per_step:.2f}",
            steps=estimate.steps,
            n_train=n_train,
        ),
        icon=":material/timer:",
    )
    accepted = st.checkbox(t("finetune.accept", minutes=estimate.minutes), key=ACCEPT_KEY)
    return None if accepted else "finetune.needs_accept"


def finetune_refusal(reason: str) -> str:
    """The sentence the page shows when fine-tuning was not started."""
    estimates = st.session_state.get(_ESTIMATES_KEY, {})
    minutes = max((e.minutes for e in estimates.values()), default=0)
    return t(reason, minutes=minutes)


def _measure(store, dataset, params: dict[str, Any], n_train: int):
    from slm_core.data.types import SplitConfig
    from slm_core.dataset import usable_rows
    from slm_core.models.minilm.finetune import estimate

    frame = store.load_frame(dataset.id)
    sample = frame.sample(min(len(frame), 64), random_state=0)
    share = float((dataset.split_config or {}).get("val", SplitConfig().val))
    n_val = round(usable_rows(dataset.report) * share)
    return estimate(
        sample["text"].astype(str).tolist(),
        sample["label"].astype(str).tolist(),
        params,
        n_train,
        n_val,
    )
