"""SLM Value Lab: the router. Page config, the shared sidebar, and the explicit page list."""

from __future__ import annotations

import streamlit as st

from ui.launch import wait_for_app_modules

# `make run` imports our modules in a thread while the browser loads: finish that before
# importing them here (two threads importing one module can see it half-initialised).
wait_for_app_modules()

# ruff: noqa: E402 - the imports below wait for the warm-up above
from slm_core.data.demo import DEFAULT_DEMO
from slm_core.errors import SlmError
from slm_core.i18n import LANGUAGES
from ui import url_state
from ui.access import require_access
from ui.navigation import PAGES
from ui.state import (
    DATASET_KEY,
    LANG_KEY,
    PENDING_DATASET_KEY,
    dataset_name,
    demo_dataset_id,
    error_text,
    t,
)

st.set_page_config(page_title="SLM Value Lab", page_icon=":material/science:", layout="wide")
require_access()  # a no-op unless a login or a shared password is configured
url_state.restore()  # a session's first run (a reload, a bookmark, a link): its language, dataset


def _datasets_sidebar() -> None:
    """The active-dataset picker: every stored dataset, the demo by default."""
    # Imported here, not at the top: the run store pulls in SQLAlchemy (~0.3 s on a cold
    # server), and the language picker above is sent to the browser first, so the browser
    # loads the front end's widget code while this imports.
    from ui.run_recovery import store_or_stop

    store = store_or_stop()  # an unwritable or full SLM_HOME: one clear message, no traceback
    try:
        default_id = demo_dataset_id(DEFAULT_DEMO)
    except SlmError as exc:  # demo package missing: the app still works with uploads
        default_id = None
        st.warning(error_text(exc))
    if PENDING_DATASET_KEY in st.session_state:
        st.session_state[DATASET_KEY] = st.session_state.pop(PENDING_DATASET_KEY)
    datasets = {d.id: d for d in store.list_datasets()}
    if st.session_state.get(DATASET_KEY) not in datasets:
        st.session_state[DATASET_KEY] = (
            default_id if default_id in datasets else next(iter(datasets), None)
        )
    if datasets:
        names = {i: dataset_name(d) for i, d in datasets.items()}
        st.selectbox(
            t("sidebar.active_dataset"),
            list(datasets),
            # Names resolved now: a format_func reading the language later could see another one.
            format_func=lambda i: f"{names[i]} · {datasets[i].rows:,} · {i[:6]}",
            key=DATASET_KEY,
            help=t("sidebar.active_dataset_help"),
        )


with st.sidebar:
    st.selectbox("Language / 语言", list(LANGUAGES), format_func=LANGUAGES.get, key=LANG_KEY)
    _datasets_sidebar()
    st.caption(t("sidebar.docs"))

navigation = st.navigation(
    [
        st.Page(path, title=t(title), icon=icon, default=i == 0)
        for i, (path, title, icon) in enumerate(PAGES)
    ]
)
url_state.sync(navigation.url_path or PAGES[0].name)  # the default page's url_path is ""
navigation.run()
