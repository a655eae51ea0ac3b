"""Session state and cached resources shared by every page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NoReturn

import streamlit as st

from slm_core.escape import md_text
from slm_core.i18n import DEFAULT_LANGUAGE
from slm_core.i18n import t as _translate
from slm_core.llm import model_runs
from ui.navigation import page_link

LANG_KEY = "lang"
DATASET_KEY = "dataset_id"
PENDING_DATASET_KEY = "_pending_dataset_id"
FLASH_KEY = "flash"  # the one pending flash message (flash / show_flash)


def lang() -> str:
    return st.session_state.get(LANG_KEY, DEFAULT_LANGUAGE)


def t(key: str, **values: object) -> str:
    """Translate ``key`` into the language chosen in the sidebar."""
    return _translate(key, lang(), **values)


def switch_language(code: str) -> None:
    """Widget callback: show the interface in ``code`` from the next run (a page without the
    sidebar's language select, e.g. Present, offers it as a button)."""
    st.session_state[LANG_KEY] = code


def dataset_name(dataset) -> str:
    """A dataset's name; a bundled demo's English name is shown in the interface language."""
    from slm_core.i18n import localize_known

    return localize_known(dataset.name, lang(), "demos.")


def error_text(error: BaseException | str) -> str:
    """An error (or a run's stored English error sentence) in the interface language, as
    Markdown: a file, column or label name quoted in it shows as text, never as markup."""
    from slm_core.errors import error_text as _error_text

    return md_text(_error_text(error, lang()), one_line=False, exact=False)


@st.cache_resource(show_spinner=False)
def get_store():
    """One run store per server process.

    Runs left 'running' by a dead worker are marked interrupted, runs still queued after a
    restart get a worker again, and files a killed process was writing are removed.
    """
    from slm_core import jobs
    from slm_core.store import RunStore

    store = RunStore()
    store.mark_interrupted()
    store.sweep_staging()  # a frame or an upload a killed process was writing
    jobs.ensure_runner(store)
    return store


@st.cache_resource(show_spinner=False)
def demo_dataset_id(demo_id: str) -> str:
    """Register a bundled demo dataset in the store once per server process (a demo stored
    by an earlier server process is reused without reading its files again)."""
    from slm_core.dataset import demo_dataset

    return demo_dataset(get_store(), demo_id).id


def activate_dataset(dataset_id: str) -> None:
    """Make ``dataset_id`` active; the sidebar widget picks it up on the next rerun."""
    st.session_state[PENDING_DATASET_KEY] = dataset_id


def active_dataset_id() -> str | None:
    return st.session_state.get(DATASET_KEY)


def active_dataset():
    """The active DatasetRecord, or None when nothing is stored yet."""
    dataset_id = active_dataset_id()
    if not dataset_id:
        return None
    from slm_core.errors import NotFoundError

    try:
        return get_store().get_dataset(dataset_id)
    except NotFoundError:
        return None


def _stop(
    message: str | None, page: str, label: str, before_stop: Callable[[], None] | None
) -> NoReturn:
    """Say what is missing, link to the page that makes it, and stop the page."""
    if message:
        st.info(message)
    page_link(page, label=label)
    if before_stop is not None:
        before_stop()
    st.stop()


def require_dataset(message: str | None = None, *, before_stop: Callable[[], None] | None = None):
    """The active DatasetRecord; without one, say so (``message``, by default that there is
    no dataset yet), link to the Data page and stop the page.

    ``before_stop`` draws what the page still needs then (Present's way out).
    """
    dataset = active_dataset()
    if dataset is None:
        _stop(message or t("home.no_dataset"), "data", t("home.step_data"), before_stop)
    return dataset


def require_runs(
    dataset,
    message: str | None,
    *,
    runs: Sequence | None = None,
    before_stop: Callable[[], None] | None = None,
) -> list:
    """The dataset's finished runs (newest first, as the store lists them); without any, say
    so (``message``, or nothing when the page says it itself), link to Train and stop.

    ``runs``: the page's own selection of finished runs (e.g. those that could be evaluated).
    """
    if runs is None:
        runs = model_runs(get_store().list_runs(dataset_id=dataset.id, statuses=("succeeded",)))
    if not runs:
        _stop(message, "train", t("home.step_train"), before_stop)
    return list(runs)


def flash(message: str) -> None:
    """Show ``message`` once, where the page next calls :func:`show_flash` (it survives the
    ``st.rerun()`` that usually follows a saved change)."""
    st.session_state[FLASH_KEY] = message


def show_flash() -> bool:
    """Draw the pending flash message, if any, as a success box; True when there was one."""
    message = st.session_state.pop(FLASH_KEY, None)
    if message is None:
        return False
    st.success(message, icon=":material/check_circle:")
    return True
