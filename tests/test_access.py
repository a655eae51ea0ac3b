"""Access control for a shared deployment: the decisions (slm_core.access) and the login screen
that app.py draws with them (ui.access), driven through Streamlit's AppTest.

conftest keeps Streamlit's legacy ``pages/`` router off in AppTest, as it is in a real server
once a run has called ``st.navigation`` (ui.access's login screen does, from the first one), so
these runs go through app.py as a browser session's do. The first request of a freshly started
server, which that router still serves, is tested apart
(``test_a_page_asked_for_first_on_a_fresh_server_is_gated``).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from slm_core import access
from slm_core.access import AccessError, Identity, OidcSettings
from slm_core.i18n import t
from tests.conftest import ROOT
from ui.navigation import PAGES

TIMEOUT = 60
PASSWORD = "correct horse battery staple"
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a-long-random-string-for-tests",
    "client_id": "id",
    "client_secret": "secret",
    "server_metadata_url": "https://accounts.google.com/.well-known/openid-configuration",
}
PROVIDER = {k: AUTH[k] for k in access.PROVIDER_KEYS}
SHARED = {k: AUTH[k] for k in access.SHARED_AUTH_KEYS}
_CJK = re.compile(r"[\u3400-\u9fff]")


def _policy(secrets: dict, env: dict | None = None) -> access.AccessPolicy:
    return access.policy(secrets, env or {})


# ------------------------------------------------------------------ the decisions


def test_nothing_configured_leaves_the_app_open():
    assert _policy({}).mode == "open"
    assert _policy({"SLM_LLM_API_KEY": "sk-x", "access": {}}).mode == "open"
    # An environment switch set but empty is off, as any other.
    assert _policy({}, {access.PASSWORD_ENV: ""}).mode == "open"


def test_the_shared_password_comes_from_secrets_its_digest_or_the_environment():
    digest = hashlib.sha256(PASSWORD.encode()).hexdigest()
    for secrets, env in (
        ({"access": {"password": PASSWORD}}, {}),
        ({"access": {"password_sha256": digest.upper()}}, {}),
        ({}, {access.PASSWORD_ENV: PASSWORD}),
    ):
        policy = _policy(secrets, env)
        assert policy.mode == "password"
        assert access.check_password(PASSWORD, policy.password)
        for wrong in ("", "correct horse", PASSWORD + " ", PASSWORD.upper()):
            assert not access.check_password(wrong, policy.password)
    # The secrets file wins over the environment.
    policy = _policy({"access": {"password": "from-file"}}, {access.PASSWORD_ENV: "from-env"})
    assert access.check_password("from-file", policy.password)
    assert policy.password.source == "secrets"
    assert PASSWORD not in repr(_policy({"access": {"password": PASSWORD}}))


def test_a_session_grant_changes_with_the_password_and_does_not_reveal_it():
    one = access.grant_token(_policy({"access": {"password": PASSWORD}}).password)
    two = access.grant_token(_policy({"access": {"password": PASSWORD + "!"}}).password)
    assert one != two and PASSWORD not in one
    assert one != hashlib.sha256(PASSWORD.encode()).hexdigest()


def test_wrong_passwords_wait_longer_each_time_up_to_a_cap():
    delays = [access.wrong_password_delay(n) for n in range(8)]
    assert delays[0] == 0 and delays[1] == access.FIRST_DELAY_S
    assert delays[2] == 2 * delays[1] and delays == sorted(delays)
    assert delays[-1] == access.MAX_DELAY_S


def test_a_login_in_auth_wins_over_a_password():
    policy = _policy({"auth": AUTH, "access": {"password": PASSWORD}}, {})
    assert policy.mode == "oidc" and policy.password is None and policy.password_ignored
    assert policy.oidc.providers == (None,) and not policy.oidc.restricted


def test_named_providers_are_listed_after_the_default_one():
    policy = _policy({"auth": {**AUTH, "google": PROVIDER, "microsoft": PROVIDER}})
    assert policy.oidc.providers == (None, "google", "microsoft")
    named = _policy({"auth": {**SHARED, "auth0": PROVIDER, "client_kwargs": {"prompt": "login"}}})
    assert named.oidc.providers == ("auth0",)


@pytest.mark.parametrize(
    ("secrets", "key", "in_message"),
    [
        ({"auth": {**AUTH, "client_secret": ""}}, "auth_incomplete", "[auth] client_secret"),
        (
            {"auth": {**SHARED, "google": {"client_id": "x"}}},
            "auth_incomplete",
            "[auth.google] client_secret, [auth.google] server_metadata_url",
        ),
        ({"auth": {"client_id": "x", **PROVIDER}}, "auth_incomplete", "[auth] redirect_uri"),
        ({"auth": SHARED}, "no_provider", "names no identity provider"),
        ({"auth": {**SHARED, "my_idp": PROVIDER}}, "provider_underscore", "'my_idp'"),
        ({"auth": {**AUTH, "redirect_uri": "http://h:8501/"}}, "redirect_uri", "http://h:8501/"),
        ({"auth": "google"}, "not_a_table", "'auth'"),
        ({"access": ["x"]}, "not_a_table", "'access'"),
        ({"auth": AUTH, "access": {"allowed_emails": [1]}}, "not_a_list", "allowed_emails"),
        ({"access": {"password": "a", "password_sha256": "b" * 64}}, "two_passwords", "both"),
        ({"access": {"password_sha256": "not hex"}}, "bad_sha256", "64 hexadecimal"),
        ({"access": {"password": ""}}, "empty_password", "is empty"),
        ({"access": {"allowed_domains": ["a.com"]}}, "allow_list_without_login", "[auth]"),
    ],
)
def test_unusable_settings_say_what_to_fix_and_let_nobody_in(secrets, key, in_message):
    with pytest.raises(AccessError) as raised:
        _policy(secrets)
    assert raised.value.key == f"errors.access.{key}"
    assert in_message in str(raised.value)
    assert _CJK.search(raised.value.localized("zh"))


def _who(email: str | None, verified: bool | None = True) -> Identity:
    return Identity(email=email, name="Ann", subject="sub-1", email_verified=verified)


def test_the_allow_list_matches_whole_addresses_and_whole_domains():
    settings = _policy(
        {
            "auth": AUTH,
            "access": {"allowed_emails": ["Ann@Partner.org"], "allowed_domains": ["@example.com"]},
        }
    ).oidc
    assert settings.restricted
    allowed = ["ann@partner.org", "ANN@PARTNER.ORG", "bob@example.com", "Bob@Example.COM"]
    for email in allowed:
        assert access.is_allowed(_who(email), settings), email
    refused = [
        "bob@partner.org",  # another address at a listed address's domain
        "bob@evil-example.com",  # a domain that merely ends like a listed one
        "bob@sub.example.com",  # a sub-domain is another domain
        "bob@example.com.evil.net",
        "example.com",
        None,
    ]
    for email in refused:
        assert not access.is_allowed(_who(email), settings), email
    # An address the provider marks unverified never matches; without the claim (Entra ID lets
    # users set their own e-mail) only when the operator trusts the provider's addresses.
    assert not access.is_allowed(_who("bob@example.com", verified=False), settings)
    assert not access.is_allowed(_who("bob@example.com", verified=None), settings)
    trusting = _policy(
        {
            "auth": AUTH,
            "access": {"allowed_domains": ["example.com"], "trust_unverified_email": True},
        }
    ).oidc
    assert access.is_allowed(_who("bob@example.com", verified=None), trusting)
    assert not access.is_allowed(_who("bob@example.com", verified=False), trusting)


def test_without_an_allow_list_everyone_the_provider_logs_in_may_come_in():
    assert access.is_allowed(_who(None), OidcSettings(providers=(None,)))
    nobody = _policy({"auth": AUTH, "access": {"allowed_emails": []}}).oidc
    assert nobody.restricted and not access.is_allowed(_who("ann@example.com"), nobody)


def test_the_identity_comes_from_st_user_only_when_logged_in():
    assert access.identity({"email": "test@example.com"}) is None  # AppTest's default user
    assert access.identity({"is_logged_in": False, "email": "a@b.c"}) is None
    who = access.identity(
        {"is_logged_in": True, "email": " a@b.c ", "email_verified": True, "sub": "1"}
    )
    assert who == Identity(email="a@b.c", name=None, subject="1", email_verified=True)
    assert who.label == "a@b.c"
    assert access.identity({"is_logged_in": True, "name": "Ann"}).label == "Ann"


# ------------------------------------------------------------------ the login screen


@pytest.fixture(autouse=True)
def _no_earlier_wrong_passwords():
    import ui.access

    ui.access._FAILURES.clear()
    yield
    ui.access._FAILURES.clear()


@pytest.fixture(autouse=True)
def _no_password_from_the_environment(monkeypatch):
    monkeypatch.delenv(access.PASSWORD_ENV, raising=False)


def _app(secrets: dict | None = None, user: dict | None = None, **query) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.secrets.update(secrets or {})
    if user is not None:
        at.user = user
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [e.value for e in at.title]
    return " ".join(parts + [c.value for c in at.caption])


def _shows_the_app(at: AppTest) -> bool:
    """The sidebar's dataset switch and the Home page's dataset are there."""
    labels = [s.label for s in at.sidebar.selectbox]
    return t("sidebar.active_dataset") in labels and "BBC News" in _texts(at)


def _submit(at: AppTest) -> None:
    next(b for b in at.button if b.label == t("access.password_submit")).click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_with_nothing_configured_home_renders():
    at = _app({"unrelated": {"setting": 1}})  # secrets of other parts of the app
    assert _shows_the_app(at)
    assert not at.text_input and t("access.log_out") not in [b.label for b in at.button]


def test_the_shared_password_guards_the_app():
    at = _app({"access": {"password": PASSWORD}})
    assert [x.value for x in at.title] == [t("home.title")]
    assert t("access.intro_password") in _texts(at)
    assert not _shows_the_app(at) and not at.sidebar.selectbox

    at.text_input(key="_access_password").input("guess")
    _submit(at)
    assert [e.value for e in at.error] == [t("access.wrong_password")]
    assert not _shows_the_app(at)
    assert "guess" not in _texts(at) + " ".join(e.value for e in at.error)
    import ui.access

    # Counted for the whole server, not the session: a guesser opens a new session per try.
    assert len(ui.access._FAILURES) == 1

    at.text_input(key="_access_password").input(PASSWORD)
    _submit(at)
    assert not at.exception and not at.error
    assert _shows_the_app(at)
    assert t("access.logged_in_password") in [c.value for c in at.sidebar.caption]
    assert "_access_failures" not in at.session_state
    assert "_access_password" not in at.session_state  # the form is gone, and its value with it

    at.switch_page("pages/value.py")
    at.run()
    assert not at.exception and [x.value for x in at.title] != [t("home.title")]

    at.button(key="_access_log_out").click()
    at.run()
    assert not _shows_the_app(at) and at.text_input(key="_access_password")


def test_the_password_can_come_from_the_environment(monkeypatch):
    monkeypatch.setenv(access.PASSWORD_ENV, PASSWORD)
    at = _app()
    assert at.text_input(key="_access_password") and not _shows_the_app(at)


def test_the_login_screen_speaks_the_language_of_the_address_and_can_switch():
    at = _app({"access": {"password": PASSWORD}}, lang="zh")
    assert t("access.intro_password", "zh") in _texts(at)
    at.selectbox(key="_access_lang").set_value("en")
    at.run()
    assert t("access.intro_password") in _texts(at)
    assert at.session_state["lang"] == "en"


def test_a_login_screen_offers_each_provider_and_shows_nothing_else():
    at = _app({"auth": AUTH}, user={"is_logged_in": False})
    assert [b.label for b in at.button] == [t("access.log_in")]
    assert t("access.intro_oidc") in _texts(at)
    assert not _shows_the_app(at) and not at.sidebar.selectbox

    at = _app({"auth": {**SHARED, "google": PROVIDER, "microsoft": PROVIDER}})
    labels = [t("access.log_in_with", provider=p) for p in ("google", "microsoft")]
    assert [b.label for b in at.button] == labels
    assert not _shows_the_app(at)


def test_a_logged_in_user_on_the_allow_list_uses_the_app_and_can_log_out():
    secrets = {"auth": AUTH, "access": {"allowed_domains": ["example.com"]}}
    user = {"is_logged_in": True, "email": "ann@example.com", "email_verified": True}
    at = _app(secrets, user=user)
    assert _shows_the_app(at)
    who = t("access.logged_in_as", who="ann@example.com")
    assert who in [c.value for c in at.sidebar.caption]

    at.button(key="_access_log_out").click()
    at.run()
    assert not _shows_the_app(at)
    assert [b.label for b in at.button] == [t("access.log_in")]


def test_a_logged_in_user_off_the_allow_list_is_refused():
    secrets = {"auth": AUTH, "access": {"allowed_emails": ["ann@example.com"]}}
    user = {"is_logged_in": True, "email": "eve@evil-example.com", "email_verified": True}
    at = _app(secrets, user=user)
    assert [e.value for e in at.error] == [t("access.not_allowed", who="eve@evil-example.com")]
    assert [b.label for b in at.button] == [t("access.log_out")]
    assert not _shows_the_app(at)


def test_unusable_settings_show_the_fix_and_no_page():
    at = _app({"access": {"password": ""}})
    assert [e.value for e in at.error] == [str(AccessError("errors.access.empty_password"))]
    assert not _shows_the_app(at) and not at.text_input


@pytest.mark.parametrize(
    ("content", "gate"),
    [
        (None, "open"),  # no secrets file at all: the local default
        ("[access]\npassword = 'x'\n", "password"),
        ("[access\npassword = 'x'\n", "error"),  # a file that does not parse
    ],
)
def test_the_secrets_file_is_read_where_streamlit_reads_it(tmp_path, monkeypatch, content, gate):
    import streamlit
    from streamlit.runtime.secrets import Secrets
    from streamlit.testing.v1.util import patch_config_options

    path = tmp_path / "secrets.toml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    monkeypatch.setattr(streamlit, "secrets", Secrets())  # a fresh store, reading only ``path``
    with patch_config_options({"secrets.files": [str(path)]}):
        at = _app()
    assert _shows_the_app(at) == (gate == "open")
    assert bool(at.text_input) == (gate == "password")
    errors = [e.value for e in at.error]
    assert bool(errors) == (gate == "error")
    if errors:
        assert errors[0].startswith(".streamlit/secrets.toml could not be read")


def test_a_page_asked_for_first_on_a_fresh_server_is_gated(monkeypatch):
    """Every run here starts as a fresh server's first (the legacy router on, as Streamlit sets
    it when a ``pages/`` folder exists), so switching to a page asks for it as a browser
    opening /value on a server that has just started."""
    served = PagesManager.__init__

    def fresh(self, *args, **kwargs):
        served(self, *args, **kwargs)
        PagesManager.uses_pages_directory = (Path(self.main_script_parent) / "pages").exists()

    monkeypatch.setattr(PagesManager, "__init__", fresh)
    at = _app({"access": {"password": PASSWORD}})
    for entry in PAGES:
        at.switch_page(entry.path)
        at.run()
        assert not at.exception, entry.path
        assert at.text_input(key="_access_password"), entry.path
        assert [x.value for x in at.title] == [t("home.title")], entry.path
