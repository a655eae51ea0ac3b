"""Session state and cached resources shared by every page."""

from __future__ import annotations

import streamlit as st

from slm_core.i18n import DEFAULT_LANGUAGE
from slm_core.i18n import t as _translate

LANG_KEY = "lang"
DATASET_KEY = "dataset_id"
PENDING_DATASET_KEY = "_pending_dataset_id"


def lang() -> str:
    return st.session_state.get(LANG_KEY, DEFAULT_LANGUAGE)


def t(key: str, **values: object) -> str:
    """Translate ``key`` into the language chosen in the sidebar."""
    return _translate(key, lang(), **values)


def dataset_name(dataset) -> str:
    """A dataset's name; a bundled demo's English name is shown in the interface language."""
    from slm_core.i18n import localize_known

    return localize_known(dataset.name, lang(), "demos.")


def error_text(error: BaseException | str) -> str:
    """An error (or a run's stored English error sentence) in the interface language."""
    from slm_core.errors import error_text as _error_text

    return _error_text(error, lang())


@st.cache_resource(show_spinner=False)
def get_store():
    """One run store per server process.

    Runs left 'running' by a dead worker are marked interrupted, and runs still queued after a
    restart get a worker again.
    """
    from slm_core import jobs
    from slm_core.store import RunStore

    store = RunStore()
    store.mark_interrupted()
    jobs.ensure_runner(store)
    return store


@st.cache_resource(show_spinner=False)
def demo_dataset_id(demo_id: str) -> str:
    """Register a bundled demo dataset in the store once per server process."""
    from slm_core.dataset import load_demo_dataset, register_dataset

    return register_dataset(get_store(), load_demo_dataset(demo_id), source="demo").id


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


def require_dataset():
    """The active DatasetRecord; without one, say where to add it and stop the page."""
    dataset = active_dataset()
    if dataset is None:
        st.info(t("home.no_dataset"))
        st.page_link("pages/data.py", label=t("home.step_data"), icon=":material/table:")
        st.stop()
    return dataset
