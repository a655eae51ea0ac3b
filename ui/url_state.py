"""What the URL keeps, so that a reload, a bookmark and a shared link land on the same view.

A browser reload starts a new Streamlit session with empty session state; only the URL's
query string survives it. This module is the one home of what goes there:

- on every page: ``lang`` (the interface language), ``dataset`` (the active dataset's id) and,
  once one was loaded on the Value page, ``scenario`` (the loaded preset or saved scenario;
  Cost, Report and Present state the decision under it);
- on some pages, the one choice that defines the page's view (``PAGE_PARAMS``): the Results
  page's model, the models picked on Train, the LLM page's endpoint preset (never a key or an
  address), the report's language, the Data page's source.

On a session's first run the URL seeds session state (:func:`restore` in app.py before the
sidebar, :func:`keep_choice` in a page before its widget), each value only when it is valid:
an unknown one is ignored, so the app falls back as it would without it and the next write
replaces it. On every run the URL is written back from session state (:func:`sync`,
:func:`keep_choice`), only when it changed; other pages' choices are dropped from it and
parameters that are not ours are left alone. Values are strings: a page's options are matched
by ``str(option)``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import streamlit as st

from slm_core.errors import SlmError
from slm_core.i18n import LANGUAGES
from ui.state import DATASET_KEY, LANG_KEY, active_dataset_id, lang

LANG_PARAM, DATASET_PARAM, SCENARIO_PARAM = "lang", "dataset", "scenario"
GLOBAL_PARAMS = (LANG_PARAM, DATASET_PARAM, SCENARIO_PARAM)
# Page (its short name in ui.navigation.PAGES) -> the parameters of its main choice.
PAGE_PARAMS: dict[str, tuple[str, ...]] = {
    "data": ("source",),
    "train": ("models",),
    "results": ("run",),
    "llm": ("preset",),
    "report": ("report_lang",),
}
OURS = frozenset(GLOBAL_PARAMS).union(*PAGE_PARAMS.values())

INITIAL_KEY = "_url_initial"  # the session's first URL, minus the values already used
SCENARIO_KEY = "_url_scenario"  # the choice id of the scenario loaded last (None: a file)
UPLOAD_SEEN_KEY = "_url_upload_digest"  # the scenario upload last seen by _track_scenario
SEP = ","  # between the values of a many-valued choice: models=tfidf_lr,lstm


def restore() -> None:
    """On a session's first run, take the language and the active dataset from the URL.

    Call before the sidebar draws its widgets. A language that is not one of ``LANGUAGES`` is
    ignored; an unknown dataset id is left for the sidebar to replace by its default, as it
    replaces a dataset that was deleted. Page choices and the scenario wait for :func:`sync`
    and :func:`keep_choice`.
    """
    state = st.session_state
    if INITIAL_KEY in state:
        return
    params = {k: st.query_params[k] for k in st.query_params if k in OURS}
    state[INITIAL_KEY] = params
    language = params.get(LANG_PARAM, "").strip().lower()
    if language in LANGUAGES:
        state[LANG_KEY] = language
    dataset = params.get(DATASET_PARAM, "").strip()
    if dataset:
        state[DATASET_KEY] = dataset


def sync(page: str) -> None:
    """Write the URL for this run of ``page`` (a short name: ``"cost"``): the language, the
    active dataset and the loaded scenario; the page's own choices stay as they are (its
    widgets keep them, :func:`keep_choice`), other pages' are dropped.

    Call after the sidebar settled the language and the dataset, before the page runs.
    """
    initial = st.session_state.setdefault(INITIAL_KEY, {})
    own = PAGE_PARAMS.get(page, ())
    for name in list(initial):  # a link's choices are for the page it opens
        if name not in GLOBAL_PARAMS and name not in own:
            del initial[name]
    _restore_scenario(initial.pop(SCENARIO_PARAM, None))
    _track_scenario()
    wanted = {
        LANG_PARAM: lang(),
        DATASET_PARAM: active_dataset_id(),
        SCENARIO_PARAM: _scenario_param(st.session_state.get(SCENARIO_KEY)),
    }
    current = st.query_params.to_dict()
    new = {k: v for k, v in current.items() if k not in OURS or k in own}
    new.update({k: v for k, v in wanted.items() if v})
    _write(current, new)


def keep_choice(param: str, key: str, options: Sequence, default: Any = None) -> None:
    """Keep the widget ``key`` (about to be drawn with ``options``) in the URL as ``param``.

    Call right before the widget. On the session's first run a valid URL value seeds the
    widget; then the URL follows the widget's value (``default`` until it has one: the
    widget's own default, the first option when None; also when its value is not an option,
    since the widget then shows that).
    """
    _check(param)
    by_text = {str(o): o for o in options}
    state = st.session_state
    raw = state.get(INITIAL_KEY, {}).pop(param, None)
    if raw is not None and raw in by_text:
        state[key] = by_text[raw]
    fallback = options[0] if default is None and options else default
    value = state.get(key, fallback)
    if value is None or str(value) not in by_text:  # what the widget shows instead
        value = fallback
    _set_param(param, None if value is None else str(value))


def keep_choices(param: str, key: str, options: Sequence, default: Sequence = ()) -> None:
    """:func:`keep_choice` for a many-valued widget (a multiselect): ``param=a,b``.

    Unknown values in the URL are left out; when none is left the widget keeps its default.
    """
    _check(param)
    by_text = {str(o): o for o in options}
    state = st.session_state
    raw = state.get(INITIAL_KEY, {}).pop(param, None)
    if raw is not None:
        picked = [by_text[v] for v in dict.fromkeys(raw.split(SEP)) if v in by_text]
        if picked:
            state[key] = picked
    values = [str(v) for v in state.get(key, default) if str(v) in by_text]
    _set_param(param, SEP.join(values) or None)


def _track_scenario() -> None:
    """Note which scenario the Value page loaded (its Load button, or a file: no name).

    Runs before the page: in the run that follows a click, the button's state and the
    picked choice are already in session state; an uploaded file shows as a new digest.
    """
    decision = sys.modules.get("ui.decision")
    if decision is None:  # no page of this server drew the Value page's scenario widgets yet,
        return  # and importing it (NumPy, the value model) would slow Home's first run
    state = st.session_state
    if state.get(decision.LOAD_KEY) and state.get(decision.SCENARIO_CHOICE_KEY):
        state[SCENARIO_KEY] = state[decision.SCENARIO_CHOICE_KEY]
    digest = state.get(decision.UPLOAD_DIGEST_KEY)
    if digest != state.get(UPLOAD_SEEN_KEY):
        state[UPLOAD_SEEN_KEY] = digest
        if digest is not None:
            state[SCENARIO_KEY] = None


def _restore_scenario(raw: str | None) -> None:
    """Load the URL's scenario (``preset.<id>`` or ``saved.<id>``) as the Value page would."""
    dataset_id = active_dataset_id()
    if not raw or not dataset_id:
        return
    from ui.decision import SCENARIO_CHOICE_KEY
    from ui.state import get_store
    from ui.value_scenario import load_into_state, scenario_choices

    option = raw.replace(".", ":", 1)
    available = scenario_choices(get_store(), dataset_id)
    if option not in available:
        return
    try:
        loaded = available[option][1]()
    except SlmError:  # a saved scenario that no longer reads: the default scenario stays
        return
    load_into_state(loaded)
    st.session_state[SCENARIO_CHOICE_KEY] = option
    st.session_state[SCENARIO_KEY] = option


def _scenario_param(option: str | None) -> str | None:
    """``preset:retail`` -> ``preset.retail`` (no escaped colon in the address bar)."""
    return option.replace(":", ".", 1) if option else None


def _check(param: str) -> None:
    """A page's parameter must be listed in ``PAGE_PARAMS`` (else no page would drop it)."""
    if param not in OURS or param in GLOBAL_PARAMS:
        raise KeyError(f"{param!r} is not a page's parameter in ui.url_state.PAGE_PARAMS")


def _set_param(param: str, value: str | None) -> None:
    current = st.query_params.to_dict()
    new = {k: v for k, v in current.items() if k != param}
    if value is not None:
        new[param] = value
    _write(current, new)


def _write(current: dict[str, str], new: dict[str, str]) -> None:
    """Replace the query parameters by ``new`` when they differ (no message otherwise)."""
    if new != current:
        st.query_params.from_dict(new)
