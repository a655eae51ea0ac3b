"""String catalogues for the interface and reports (English and Simplified Chinese).

Strings live in ``slm_core/locales/<lang>/*.toml`` (one file per area of the product, sections
become dotted keys), never in code, so a translator edits plain files and a test can check both
languages hold the same keys.
"""

from __future__ import annotations

import re
import string
import tomllib
from functools import cache
from pathlib import Path

LANGUAGES: dict[str, str] = {"en": "English", "zh": "简体中文"}
DEFAULT_LANGUAGE = "en"
_LOCALE_DIR = Path(__file__).parent / "locales"


def _flatten(table: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in table.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, full + "."))
        else:
            out[full] = str(value)
    return out


@cache
def catalogue(lang: str) -> dict[str, str]:
    """All strings of one language, keyed ``section.key``."""
    merged: dict[str, str] = {}
    for path in sorted((_LOCALE_DIR / lang).glob("*.toml")):
        with path.open("rb") as fh:
            strings = _flatten(tomllib.load(fh))
        clash = merged.keys() & strings.keys()
        if clash:
            raise ValueError(f"{path.name} redefines {sorted(clash)[:5]}")
        merged.update(strings)
    return merged


def t(key: str, lang: str = DEFAULT_LANGUAGE, /, **values: object) -> str:
    """Translate ``key`` into ``lang``; falls back to English, then to the key itself."""
    if lang not in LANGUAGES:
        lang = DEFAULT_LANGUAGE
    text = catalogue(lang).get(key) or catalogue(DEFAULT_LANGUAGE).get(key) or key
    return text.format(**values) if values else text


@cache
def _patterns(prefix: str) -> tuple[tuple[re.Pattern[str], str], ...]:
    """Every English string under ``prefix`` as a regex whose groups are its placeholders.

    Longest first, so a specific sentence wins over a general one ("Training failed: {x}").
    """
    english = catalogue(DEFAULT_LANGUAGE)
    out = []
    for key in sorted((k for k in english if k.startswith(prefix)), key=lambda k: -len(english[k])):
        pattern, seen = "", set()
        for literal, name, _spec, _conv in string.Formatter().parse(english[key]):
            pattern += re.escape(literal)
            if name is not None:
                pattern += f"(?P={name})" if name in seen else f"(?P<{name}>.+?)"
                seen.add(name)
        out.append((re.compile(pattern, re.DOTALL), key))
    return tuple(out)


def match_key(text: str, prefix: str) -> tuple[str, dict[str, str]] | None:
    """The catalogue key under ``prefix`` whose English string produced ``text``, and its values.

    Some English text is stored, not rendered on demand (a run's error, a scenario's sources);
    matching it back to its key lets the interface show it in another language.
    """
    for pattern, key in _patterns(prefix):
        match = pattern.fullmatch(text)
        if match:
            return key, match.groupdict()
    return None


def localize_known(text: str, lang: str, prefix: str) -> str:
    """Stored English ``text`` in ``lang`` when it is a catalogue string under ``prefix``.

    Placeholder values that are themselves such strings are translated too; text that matches
    nothing is returned as it is.
    """
    if lang == DEFAULT_LANGUAGE or not text:
        return text
    found = match_key(text, prefix)
    if found is None:
        return text
    key, values = found
    values = {name: localize_known(value, lang, prefix) for name, value in values.items()}
    return t(key, lang, **values) if values else t(key, lang)


def format_number(value: float, lang: str = DEFAULT_LANGUAGE, digits: int = 0) -> str:
    """Group thousands; Chinese readers get 万 / 亿 for large round figures."""
    if lang == "zh" and abs(value) >= 100_000_000:
        return f"{value / 100_000_000:,.{max(digits, 2)}f} 亿"
    if lang == "zh" and abs(value) >= 100_000:
        return f"{value / 10_000:,.{max(digits, 1)}f} 万"
    return f"{value:,.{digits}f}"


CURRENCY_SYMBOLS = {"USD": "$", "CNY": "¥", "EUR": "€", "GBP": "£"}


def format_money(
    value: float, currency: str = "USD", lang: str = DEFAULT_LANGUAGE, digits: int = 0
) -> str:
    """Money with the currency's symbol, negative amounts with a leading minus."""
    symbol = CURRENCY_SYMBOLS.get(currency, currency + " ")
    sign = "-" if value < 0 else ""
    return f"{sign}{symbol}{format_number(abs(value), lang, digits)}"
