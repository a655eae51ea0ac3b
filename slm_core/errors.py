"""User-facing error types.

Every error a user can cause (bad file, wrong column, cancelled job) is raised as an
``SlmError`` whose ``str()`` is a single readable sentence. The UI shows it as-is and the
CLI prints it on one line and exits 2, so no traceback ever reaches a user.

An error is raised with a catalogue key and its values, ``DataError("errors.io.empty_file",
filename=name)``: ``str()`` is the English sentence (the CLI, logs and the run store keep
English), and ``localized(lang)`` renders the same message in the interface language. The
sentences live in ``slm_core/locales/<lang>/errors.toml``. A plain sentence is still accepted
(it is shown as it is in every language).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from slm_core.i18n import DEFAULT_LANGUAGE, catalogue, match_key

_ERROR_PREFIX = "errors."


def render(key: str, lang: str = DEFAULT_LANGUAGE, /, **values: Any) -> str:
    """The catalogue sentence ``key`` in ``lang`` (English fallback) with ``values`` filled.

    Values that can localise themselves (an ``SlmError`` or a validation ``Problem`` quoted
    inside another message) are rendered in the same language.
    """
    text = catalogue(lang).get(key) or catalogue(DEFAULT_LANGUAGE).get(key) or key
    filled = {
        name: value.localized(lang) if hasattr(value, "localized") else value
        for name, value in values.items()
    }
    # Always format: a sentence without values may still hold escaped braces ({{...}}).
    return text.format(**filled)


class Phrase:
    """A catalogue fragment used as a value inside an error sentence ("the header has").

    ``str()`` is English, so the English sentence reads as before; ``render`` asks it for the
    interface language. A list of phrases is joined with ``sep`` in both languages.
    """

    def __init__(self, key: str, /, **values: Any) -> None:
        self.key, self.values = key, values

    def localized(self, lang: str) -> str:
        return render(self.key, lang, **self.values)

    def __str__(self) -> str:
        return self.localized(DEFAULT_LANGUAGE)

    def __repr__(self) -> str:
        return f"Phrase({self.key!r})"


class Phrases:
    """Several phrases joined into one value ("line 3 has 4, line 9 has 1").

    The separator is the language's list comma (``errors.list_sep``: ", " or "，").
    """

    def __init__(self, parts: list[Phrase]) -> None:
        self.parts = parts

    def localized(self, lang: str) -> str:
        return render("errors.list_sep", lang).join(part.localized(lang) for part in self.parts)

    def __str__(self) -> str:
        return self.localized(DEFAULT_LANGUAGE)


class SlmError(Exception):
    """Base class: the message is a one-line reason a non-engineer can act on."""

    def __init__(self, message: str = "", /, **values: Any) -> None:
        self.key = message if message in catalogue(DEFAULT_LANGUAGE) else None
        self.values = values
        super().__init__(render(message, DEFAULT_LANGUAGE, **values) if self.key else message)

    def localized(self, lang: str) -> str:
        """The message in ``lang``; errors raised with a plain sentence keep it."""
        if self.key is None:
            return localize_text(str(self), lang)
        return render(self.key, lang, **self.values)

    def __reduce__(self):
        # Keep the key across pickling (worker processes), not only the English sentence.
        return (_rebuild, (type(self), self.key or str(self), self.values))


def _rebuild(cls: type[SlmError], message: str, values: dict[str, Any]) -> SlmError:
    return cls(message, **values)


class DataError(SlmError):
    """The uploaded file or the column mapping cannot be used."""


class TrainError(SlmError):
    """A training run failed for a reason the user can act on."""


class CancelledError(SlmError):
    """The user cancelled a running job."""


class NotFoundError(SlmError):
    """A dataset, run or artifact id does not exist."""


# ------------------------------------------------------------ stored English messages


def localize_text(text: str, lang: str) -> str:
    """An English error sentence stored as text (a run's ``error``) in ``lang``.

    Runs fail in worker processes and the store keeps the English sentence; matching it
    against the catalogue recovers the key and its values, so the interface can show it in
    the chosen language. Text that matches no sentence is returned as it is.
    """
    if lang == DEFAULT_LANGUAGE or not text:
        return text
    found = match_key(text, _ERROR_PREFIX)
    if found is None:
        return text
    key, values = found
    return render(key, lang, **{name: _fragment(value) for name, value in values.items()})


@cache
def _fragments() -> dict[str, str]:
    """English run statuses and fixed error fragments ("failed", "the header has") by text."""
    return {
        text: key
        for key, text in catalogue(DEFAULT_LANGUAGE).items()
        if key.startswith(("status.", _ERROR_PREFIX)) and "{" not in text
    }


def _fragment(value: str) -> str | Phrase:
    # A stored sentence quotes a status or fragment in English; render it in the same language.
    key = _fragments().get(value)
    return Phrase(key) if key else value


def error_text(error: BaseException | str, lang: str) -> str:
    """What the interface shows for an error or a stored error sentence in ``lang``."""
    if isinstance(error, SlmError):
        return error.localized(lang)
    return localize_text(str(error), lang)


def one_line(exc: BaseException, limit: int = 300) -> str:
    """``Type: first line`` of an exception, at most ``limit`` characters: what a stored
    reason or a message quotes of an error it did not expect."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
