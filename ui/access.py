"""The login screen of a shared deployment (slm_core.access decides, this module draws).

``require_access()`` runs at the top of ``app.py``, before the sidebar and the page: with nothing
configured it does nothing; otherwise it lets the run go on only for a logged-in (and allowed)
user or a session that gave the shared password, and stops every other run after drawing the
login screen. It also puts who is logged in and a "Log out" button at the top of the sidebar.

``guard_page()`` is the same gate for a page file, silent when access is granted. It is needed
because Streamlit runs a file of ``pages/`` directly, without ``app.py``, while no script run of
the server process has called ``st.navigation`` yet (its legacy ``pages/`` router: the first
request after a start, or every request while nobody has got past the login screen, when that
screen did not register the page list). The login screen registers the page list, hidden, so
the legacy router is off from the first screen on; the guard closes the first request and,
with access open, runs it again through ``app.py``.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn

import streamlit as st

from slm_core import access
from slm_core.errors import SlmError
from slm_core.escape import md_text
from slm_core.i18n import DEFAULT_LANGUAGE, LANGUAGES
from slm_core.i18n import t as _translate
from ui.state import LANG_KEY

GRANT_KEY = "_access_grant"  # the grant token of a session that gave the right password
# Wrong passwords in this server process, from every session: a guesser opens a new session
# per try, so a per-session count would never slow it down.
_FAILURES: list[float] = []
_FAILURES_LOCK = threading.Lock()
FAILURE_WINDOW_S = 600.0
PASSWORD_KEY = "_access_password"
_LOGIN_LANG_KEY = "_access_lang"
# The error id Streamlit gives when no secrets file exists (the local default: access is open);
# any other failure to read the secrets keeps everyone out.
_NO_SECRETS = "no-secrets-found"


def _lang() -> str:
    """The session's language, else the URL's (``?lang=zh``, as ui.url_state reads it), else
    English: the login screen comes before the sidebar's switch and url_state.restore()."""
    chosen = st.session_state.get(LANG_KEY)
    if chosen in LANGUAGES:
        return chosen
    from_url = str(st.query_params.get(LANG_KEY, "")).strip().lower()
    return from_url if from_url in LANGUAGES else DEFAULT_LANGUAGE


def _t(key: str, **values: object) -> str:
    return _translate(key, _lang(), **values)


def _secrets() -> dict[str, Any]:
    """Streamlit's secrets as a dict; empty when there is no secrets file at all.

    A file that exists but cannot be read raises, so a broken file never opens a deployment
    that it was meant to close.
    """
    try:
        return dict(st.secrets.to_dict())
    except Exception as exc:
        if getattr(exc, "error_id", None) == _NO_SECRETS:
            return {}
        raise access.AccessError("errors.access.unreadable_secrets", reason=str(exc)) from None


def require_access() -> None:
    """Return when this session may use the app; otherwise draw the login screen and stop.

    Called once at the top of ``app.py``; with access granted it shows who is logged in, with a
    "Log out" button, at the top of the sidebar.
    """
    _gate(show_user=True)


def guard_page() -> None:
    """Stop a page that Streamlit runs without ``app.py`` unless access is granted (see the
    module's docstring); draws nothing when it is.

    With access open, a page that Streamlit's legacy router runs alone (the first request
    after a server start asked for /cost, not /: a reload or a bookmark) is run again through
    ``app.py``: else it would come without the sidebar, the language and the dataset of its
    address, and every later request of the process would too. (``make run`` turns the legacy
    router off before the server starts: ``ui.launch``.)
    """
    _gate(show_user=False)
    if _register_pages():
        st.rerun()


def _gate(*, show_user: bool) -> None:
    try:
        policy = access.policy(_secrets(), os.environ)
    except SlmError as exc:
        st.error(exc.localized(_lang()))
        _stop()
    if policy.mode == "oidc" and policy.oidc is not None:
        _require_login(policy.oidc, show_user)
    elif policy.mode == "password" and policy.password is not None:
        _require_password(policy.password, show_user)


def _stop() -> NoReturn:
    """End a run that may not go on, with the app's pages registered but hidden.

    Registering them turns Streamlit's legacy ``pages/`` router off for the server process (it
    would list every page in the sidebar and run one directly), and keeps the address of the
    page asked for, so the user lands there after logging in.
    """
    legacy = _register_pages(always=True)
    if legacy:
        # Widgets drawn under the legacy router get other ids than in every later run, so the
        # first click (the password form, "Log in") would be lost: draw the screen again now.
        st.rerun()
    st.stop()


def _register_pages(*, always: bool = False) -> bool:
    """Register the app's pages, hidden, when Streamlit's legacy ``pages/`` router is on (or
    ``always``): that turns it off for the server process. True when it was on."""
    from streamlit.runtime.pages_manager import PagesManager

    from ui.navigation import PAGES

    legacy = bool(getattr(PagesManager, "uses_pages_directory", False))
    if legacy or always:
        pages = [st.Page(p.path, default=i == 0) for i, p in enumerate(PAGES)]
        st.navigation(pages, position="hidden")
    return legacy


# ------------------------------------------------------------------------ the screens


def _set_language() -> None:
    chosen = st.session_state[_LOGIN_LANG_KEY]
    st.session_state[LANG_KEY] = chosen
    if LANG_KEY in st.query_params:
        st.query_params[LANG_KEY] = chosen


def _screen(intro_key: str) -> None:
    st.title(_t("home.title"))
    st.write(_t(intro_key))


def _language_choice() -> None:
    """The sidebar's language switch is not drawn before login; the screen offers its own."""
    st.selectbox(
        "Language / 语言",
        list(LANGUAGES),
        index=list(LANGUAGES).index(_lang()),
        format_func=LANGUAGES.get,
        key=_LOGIN_LANG_KEY,
        on_change=_set_language,
        width=220,
    )


def _require_login(settings: access.OidcSettings, show_user: bool) -> None:
    who = access.identity(st.user.to_dict())
    if who is None:
        _screen("access.intro_oidc")
        if importlib.util.find_spec("authlib") is None:
            st.error(access.AccessError("errors.access.authlib_missing").localized(_lang()))
        else:
            for provider in settings.providers:
                label = (
                    _t("access.log_in_with", provider=provider)
                    if provider and len(settings.providers) > 1
                    else _t("access.log_in")
                )
                if st.button(label, type="primary", key=f"_access_login_{provider or ''}"):
                    st.login(provider)
        _language_choice()
        _stop()
    if not access.is_allowed(who, settings):
        st.title(_t("home.title"))
        st.error(_t("access.not_allowed", who=md_text(who.label)))  # a provider's name: text
        _log_out_button(st.logout)
        _stop()
    if not show_user:
        return
    with st.sidebar:
        st.caption(_t("access.logged_in_as", who=md_text(who.label)))
        _log_out_button(st.logout)


def _forget_password() -> None:
    st.session_state.pop(GRANT_KEY, None)


def _log_out_button(log_out: Callable[[], object]) -> None:
    if st.button(_t("access.log_out"), key="_access_log_out", icon=":material/logout:"):
        log_out()
        st.rerun()


def _require_password(settings: access.PasswordSettings, show_user: bool) -> None:
    token = access.grant_token(settings)
    if st.session_state.get(GRANT_KEY) == token:
        if not show_user:
            return
        with st.sidebar:
            st.caption(_t("access.logged_in_password"))
            _log_out_button(_forget_password)
        return
    _screen("access.intro_password")
    _password_form(settings, token)


def _recent_failures() -> int:
    """Record a wrong password; how many this process saw in the last ``FAILURE_WINDOW_S``."""
    now = time.monotonic()
    with _FAILURES_LOCK:
        _FAILURES[:] = [t for t in _FAILURES if now - t < FAILURE_WINDOW_S] + [now]
        return len(_FAILURES)


def _password_form(settings: access.PasswordSettings, token: str) -> NoReturn:
    with st.form("_access_form", clear_on_submit=True, width=420):
        given = st.text_input(_t("access.password_label"), type="password", key=PASSWORD_KEY)
        submitted = st.form_submit_button(_t("access.password_submit"), type="primary")
    if submitted:
        if access.check_password(given, settings):
            st.session_state[GRANT_KEY] = token
            st.rerun()
        time.sleep(access.wrong_password_delay(_recent_failures()))
        st.error(_t("access.wrong_password"))
    _language_choice()
    _stop()
