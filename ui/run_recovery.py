"""Nothing lost: opening the run store or saying why not, noticing dead workers, re-queueing.

The app opens the run store through :func:`store_or_stop`, so an ``SLM_HOME`` that cannot be
written (or a full disk) is one clear message with what to do, never a traceback. The Train
page's job board calls :func:`watch_workers` (a worker that died while the page was open shows
as interrupted at once, and queued runs always get a runner) and :func:`requeue_button` for
runs that stopped before the end.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from slm_core import jobs
from slm_core.errors import SlmError
from slm_core.store.runs import REOPENABLE
from ui.state import error_text, get_store, t


def store_or_stop():
    """The run store; when it cannot be opened (an unwritable or full ``SLM_HOME``), say why
    and what to do, and stop the page (the next reload tries again: failures are not cached)."""
    try:
        return get_store()
    except SlmError as exc:
        st.error(error_text(exc), icon=":material/folder_off:")
        st.stop()


def watch_workers(store, runs: Sequence) -> bool:
    """Settle what dead workers left: a run still 'running' whose process is gone becomes
    'interrupted' (its partial history kept), and queued runs get a runner if none is alive.

    The server does this once when it starts; the board does it while it is watched, so a
    runner killed under a running server is noticed too. True when a run was interrupted.
    """
    interrupted = any(r.status == "running" for r in runs) and store.mark_interrupted() > 0
    if any(r.status == "queued" for r in runs):
        try:
            jobs.ensure_runner(store)
        except SlmError as exc:  # e.g. the disk filled up: the board still shows every run
            st.error(error_text(exc), icon=":material/error:")
    return interrupted


def requeue_button(store, run, where) -> None:
    """A 'Re-queue' button in ``where`` for a run that stopped before the end (interrupted,
    failed or cancelled): it is trained again from the start with the same settings."""
    problem = st.session_state.pop(_problem_key(run.id), None)
    if problem:  # the click's callback could not queue it (e.g. another tab did first)
        st.error(problem, icon=":material/error:")
    if run.status not in REOPENABLE:
        return
    where.button(
        t("requeue.button"),
        key=f"requeue_{run.id}",
        icon=":material/replay:",
        help=t("requeue.help"),
        on_click=_requeue,
        args=(store, run.id),
    )


def _problem_key(run_id: int) -> str:
    return f"_requeue_problem_{run_id}"


def _requeue(store, run_id: int) -> None:
    # A callback runs before the rerun, so the board it draws already shows the run queued.
    try:
        jobs.requeue(store, run_id)
    except SlmError as exc:
        st.session_state[_problem_key(run_id)] = error_text(exc)
        return
    st.toast(t("requeue.done", id=run_id))
