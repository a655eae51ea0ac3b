"""The pretrained family on the Train page: the language warning, the embedding progress and
the fine-tuning gate (a GPU, or the user's consent to the CPU time measured here)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import streamlit as st

from slm_core.models.minilm.encoder import EMBED_BATCH
from slm_core.models.minilm.language import script_warning
from slm_core.models.names import model_name
from slm_core.models.registry import PRETRAINED_IDS
from slm_core.store.records import RunProgress
from ui.state import error_text, lang, t


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
_MINUTES_KEY = "_finetune_minutes"  # the estimate last shown, for the refusal's sentence
POLL = "1s"


def finetune_gate(store, dataset, params: dict[str, Any], n_train: int) -> str | None:
    """Under the form when the fine-tuned model is picked: on a GPU, say so; on a CPU, a button
    that measures the training time in the background (:mod:`slm_core.models.minilm.
    estimate_job`) and, once measured, the consent checkbox. Returns None when fine-tuning may
    start, else the catalogue key of why not."""
    from slm_core.models.minilm import estimate_job
    from slm_core.models.minilm.finetune import gpu_visible

    if gpu_visible():
        st.caption(t("finetune.gpu"))
        return None
    st.caption(t("finetune.cpu"))
    if estimate_job.measuring(store, dataset.id, params, n_train):
        _measuring_box(store, dataset.id, params, n_train)
        return "finetune.needs_estimate"
    estimate = estimate_job.read(store, dataset.id, params, n_train)
    label = t("finetune.measure" if estimate is None else "finetune.measure_again")
    if st.button(label, help=t("finetune.measure_help"), key="finetune_measure"):
        try:
            estimate_job.start(store, dataset.id, params, n_train)
        except OSError as exc:  # e.g. a full disk: the page says so and keeps working
            st.error(t("finetune.failed", reason=error_text(str(exc))), icon=":material/error:")
            return "finetune.needs_estimate"
        st.rerun()  # drawn again as measuring
    if estimate is None:
        return "finetune.needs_estimate"
    if isinstance(estimate, estimate_job.EstimateFailure):
        st.error(t("finetune.failed", reason=error_text(estimate.reason)), icon=":material/error:")
        return "finetune.needs_estimate"
    st.session_state[_MINUTES_KEY] = estimate.minutes
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


@st.fragment(run_every=POLL)
def _measuring_box(store, dataset_id: str, params: dict[str, Any], n_train: int) -> None:
    from slm_core.models.minilm import estimate_job

    if not estimate_job.measuring(store, dataset_id, params, n_train):
        st.rerun()  # measured (or its process died): the whole page again, with the result
    st.info(t("finetune.measuring"), icon=":material/hourglass_top:")


def finetune_refusal(reason: str) -> str:
    """The sentence the page shows when fine-tuning was not started."""
    return t(reason, minutes=st.session_state.get(_MINUTES_KEY, 0))
