"""Who may use a shared deployment: the decisions behind the login screen (no Streamlit here).

Three modes, read from Streamlit's secrets (``.streamlit/secrets.toml``) and the environment:

- ``open`` (the default, nothing configured): anyone who reaches the app uses it, as on a laptop.
- ``oidc``: an ``[auth]`` section is present. Streamlit's own OpenID Connect login
  (``st.login``) proves who the user is; ``[access] allowed_emails`` / ``allowed_domains``
  optionally say which of those users may come in.
- ``password``: ``[access] password`` (or ``password_sha256``), or the environment variable
  ``SLM_ACCESS_PASSWORD``: one shared password.

When both a login and a password are configured the login wins and the password is ignored.
A configuration that cannot be used raises ``AccessError`` (the interface then shows why and lets
nobody in), so a typo never opens a deployment that was meant to be closed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from slm_core.errors import SlmError

PASSWORD_ENV = "SLM_ACCESS_PASSWORD"
# Settings Streamlit reads for one identity provider, in ``[auth]`` (the default provider) or in
# an ``[auth.NAME]`` table (a named one).
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
SHARED_AUTH_KEYS = ("redirect_uri", "cookie_secret")
CALLBACK_PATH = "/oauth2callback"
# A wrong password waits this long (doubling per wrong try in the session, up to the cap), so
# guessing from one browser is slow; the wait never tells whether the password was close.
FIRST_DELAY_S = 0.5
MAX_DELAY_S = 8.0
_GRANT_CONTEXT = b"slm-value-lab access granted"

Mode = Literal["open", "oidc", "password"]


class AccessError(SlmError):
    """The access settings in secrets.toml or the environment cannot be used."""


@dataclass(frozen=True)
class OidcSettings:
    """Log in with an identity provider; optionally only some of its users may come in.

    ``providers`` holds ``None`` for the provider configured directly in ``[auth]`` and the
    names of ``[auth.NAME]`` tables. The allow-lists are lower case; ``restricted`` is true when
    either list is given (an empty list then admits nobody).
    """

    providers: tuple[str | None, ...]
    allowed_emails: frozenset[str] = frozenset()
    allowed_domains: frozenset[str] = frozenset()
    restricted: bool = False
    # A provider that sends no ``email_verified`` claim (Entra ID) lets users set their own
    # e-mail, so a missing claim does not match unless the operator says the provider verifies.
    trust_unverified_email: bool = False


@dataclass(frozen=True)
class PasswordSettings:
    """One shared password, kept only as its SHA-256 digest."""

    digest: bytes = field(repr=False)
    source: Literal["secrets", "env"] = "secrets"


@dataclass(frozen=True)
class AccessPolicy:
    """Which mode is in force and its settings; ``password_ignored`` when a login overrides a
    password that is also configured."""

    mode: Mode = "open"
    oidc: OidcSettings | None = None
    password: PasswordSettings | None = None
    password_ignored: bool = False


@dataclass(frozen=True)
class Identity:
    """The logged-in user as the identity provider describes them (``st.user``)."""

    email: str | None
    name: str | None
    subject: str | None
    email_verified: bool | None

    @property
    def label(self) -> str:
        """What the interface calls this user: the e-mail, else the name, else the subject."""
        return self.email or self.name or self.subject or "?"


# ------------------------------------------------------------------------ reading settings


def _table(secrets: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = secrets.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise AccessError("errors.access.not_a_table", name=name)
    return value


def _text_list(access: Mapping[str, Any], name: str) -> frozenset[str] | None:
    """A list of strings from ``[access]`` in lower case; None when the key is absent."""
    if name not in access:
        return None
    value = access[name]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise AccessError("errors.access.not_a_list", name=name)
    return frozenset(v.strip().lower() for v in value if v.strip())


def _providers(auth: Mapping[str, Any]) -> tuple[str | None, ...]:
    """The identity providers ``[auth]`` configures, checked for the settings Streamlit needs."""
    missing = [f"[auth] {key}" for key in SHARED_AUTH_KEYS if not auth.get(key)]
    providers: list[str | None] = []
    if any(key in auth for key in PROVIDER_KEYS):
        providers.append(None)
        missing += [f"[auth] {key}" for key in PROVIDER_KEYS if not auth.get(key)]
    for name, value in auth.items():
        if not isinstance(value, Mapping) or name == "client_kwargs":
            continue
        if "_" in name:  # Streamlit cannot route a provider name with an underscore
            raise AccessError("errors.access.provider_underscore", name=name)
        providers.append(name)
        missing += [f"[auth.{name}] {key}" for key in PROVIDER_KEYS if not value.get(key)]
    if missing:
        raise AccessError("errors.access.auth_incomplete", keys=", ".join(missing))
    if not providers:
        raise AccessError("errors.access.no_provider")
    redirect = str(auth["redirect_uri"])
    if not redirect.startswith(("http://", "https://")) or not redirect.endswith(CALLBACK_PATH):
        raise AccessError("errors.access.redirect_uri", uri=redirect)
    return tuple(providers)


def _password(access: Mapping[str, Any], environ: Mapping[str, str]) -> PasswordSettings | None:
    plain, hashed = access.get("password"), access.get("password_sha256")
    if plain is not None and hashed is not None:
        raise AccessError("errors.access.two_passwords")
    if hashed is not None:
        text = str(hashed).strip().lower()
        if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
            raise AccessError("errors.access.bad_sha256")
        return PasswordSettings(bytes.fromhex(text), "secrets")
    if plain is not None:
        if not isinstance(plain, str) or not plain:
            raise AccessError("errors.access.empty_password")
        return PasswordSettings(_digest(plain), "secrets")
    from_env = environ.get(PASSWORD_ENV, "")
    if from_env:  # set but empty means off, as for any environment switch
        return PasswordSettings(_digest(from_env), "env")
    return None


def policy(secrets: Mapping[str, Any], environ: Mapping[str, str]) -> AccessPolicy:
    """The access policy that ``secrets`` (Streamlit's secrets as a mapping) and ``environ``
    configure.

    Raises
    ------
    AccessError
        A section is malformed or incomplete; the message names the setting and the fix.
    """
    auth = _table(secrets, "auth")
    access = _table(secrets, "access")
    password = _password(access, environ)
    emails = _text_list(access, "allowed_emails")
    domains = _text_list(access, "allowed_domains")
    if not auth:
        if emails is not None or domains is not None:
            raise AccessError("errors.access.allow_list_without_login")
        if password is None:
            return AccessPolicy()
        return AccessPolicy("password", password=password)
    oidc = OidcSettings(
        providers=_providers(auth),
        allowed_emails=emails or frozenset(),
        allowed_domains=frozenset(d.lstrip("@") for d in domains or ()),
        restricted=emails is not None or domains is not None,
        trust_unverified_email=access.get("trust_unverified_email") is True,
    )
    return AccessPolicy("oidc", oidc=oidc, password_ignored=password is not None)


# ------------------------------------------------------------------------ the decisions


def _digest(password: str) -> bytes:
    return hashlib.sha256(password.encode("utf-8")).digest()


def check_password(given: str, settings: PasswordSettings) -> bool:
    """Whether ``given`` is the shared password (a constant-time comparison of digests)."""
    return bool(given) and hmac.compare_digest(_digest(given), settings.digest)


def grant_token(settings: PasswordSettings) -> str:
    """What a session keeps after the right password: it changes when the password changes, so
    a new password logs everyone out, and it reveals nothing about the password."""
    return hmac.new(settings.digest, _GRANT_CONTEXT, hashlib.sha256).hexdigest()


def wrong_password_delay(failures: int) -> float:
    """Seconds to wait after the ``failures``-th recent wrong password (all sessions)."""
    if failures <= 0:
        return 0.0
    return min(FIRST_DELAY_S * 2 ** (failures - 1), MAX_DELAY_S)


def identity(user: Mapping[str, Any]) -> Identity | None:
    """The logged-in user from ``st.user``'s fields, or None when nobody is logged in."""
    if user.get("is_logged_in") is not True:
        return None

    def text(key: str) -> str | None:
        value = user.get(key)
        return (str(value).strip() or None) if value is not None else None

    verified = user.get("email_verified")
    return Identity(
        email=text("email"),
        name=text("name"),
        subject=text("sub"),
        email_verified=verified if isinstance(verified, bool) else None,
    )


def is_allowed(who: Identity, settings: OidcSettings) -> bool:
    """Whether a logged-in user may use the app.

    Without an allow-list everyone the provider logs in may. With one, the provider's e-mail
    claim must be on ``allowed_emails`` or end in ``@`` one of ``allowed_domains`` exactly (a
    sub-domain is another domain). The provider must mark the e-mail verified; without that
    claim it matches only with ``trust_unverified_email`` (a provider that verifies every
    address but does not say so), and one marked unverified never matches.
    """
    if not settings.restricted:
        return True
    verified = who.email_verified is True or (
        who.email_verified is None and settings.trust_unverified_email
    )
    if not who.email or not verified or "@" not in who.email:
        return False
    email = who.email.lower()
    return email in settings.allowed_emails or email.rsplit("@", 1)[1] in settings.allowed_domains
