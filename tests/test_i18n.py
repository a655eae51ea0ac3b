"""The string catalogues: both languages complete, translated, with matching placeholders, and
every key the interface asks for defined.

The key check reads the source with ``ast`` (no page is run): every ``t("literal")`` call in
``pages/``, ``ui/`` and ``slm_core/`` must name a key of the catalogue, and every
``t(f"prefix.{x}")`` must match at least one key that starts with its literal prefix.
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from slm_core.i18n import LANGUAGES, catalogue, format_money, format_number, t
from tests.conftest import ROOT

# English text a translation may legitimately keep: units, metric names, product names.
MIN_WORDS_FOR_SENTENCE = 3
_WORD = re.compile(r"[A-Za-z]{3,}")
_CJK = re.compile(r"[\u3400-\u9fff]")


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_both_languages_have_the_same_keys():
    en, zh = set(catalogue("en")), set(catalogue("zh"))
    assert set(LANGUAGES) == {"en", "zh"}
    assert not en - zh, f"missing in zh: {sorted(en - zh)[:20]}"
    assert not zh - en, f"missing in en: {sorted(zh - en)[:20]}"


def test_placeholders_match_between_languages():
    en, zh = catalogue("en"), catalogue("zh")
    different = {
        key: (sorted(_placeholders(en[key])), sorted(_placeholders(zh[key])))
        for key in en.keys() & zh.keys()
        if _placeholders(en[key]) != _placeholders(zh[key])
    }
    assert not different, different


def test_every_string_formats():
    for lang in LANGUAGES:
        for key, text in catalogue(lang).items():
            names = _placeholders(text)
            # Positional or attribute placeholders would break t(key, **values).
            assert all(n and n.isidentifier() for n in names), (lang, key, text)
            # A placeholder with a numeric format spec ({rate:.0%}) is given a number.
            values = {
                name: 0.5 if spec and spec[-1] in "%bcdeEfFgGnoxX" else "x"
                for _, name, spec, _ in string.Formatter().parse(text)
                if name is not None
            }
            text.format(**values)


def test_chinese_sentences_are_translated():
    """A Chinese value identical to the English one is untranslated, unless it is a short
    technical token ("F1", "ROC AUC", "p50 (ms)"); a Chinese sentence must contain Chinese."""
    en, zh = catalogue("en"), catalogue("zh")
    untranslated = []
    for key in sorted(en.keys() & zh.keys()):
        words = _WORD.findall(en[key])
        if len(words) < MIN_WORDS_FOR_SENTENCE:
            continue
        if zh[key] == en[key] or not _CJK.search(zh[key]):
            untranslated.append(key)
    assert not untranslated, untranslated


def test_no_empty_strings():
    for lang in LANGUAGES:
        empty = [k for k, v in catalogue(lang).items() if not v.strip()]
        assert not empty, (lang, empty)


# ------------------------------------------------------------- keys in use


def _calls(path: Path, names: tuple[str, ...]):
    """Every call of a function (or method) in ``names`` that has an argument."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name in names:
            yield node


def _t_calls(path: Path):
    """(line, literal key or None, f-string prefix or None) of every t(...) call in a file."""
    for node in _calls(path, ("t", "_translate")):
        arg = node.args[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            yield node.lineno, arg.value, None
        elif isinstance(arg, ast.JoinedStr):
            prefix = ""
            for part in arg.values:
                if isinstance(part, ast.Constant):
                    prefix += part.value
                else:
                    break
            yield node.lineno, None, prefix
        elif (
            isinstance(arg, ast.BinOp)
            and isinstance(arg.op, ast.Add)
            and isinstance(arg.left, ast.Constant)
            and isinstance(arg.left.value, str)
        ):
            yield node.lineno, None, arg.left.value


def _sources() -> list[Path]:
    files = sorted((ROOT / "pages").glob("*.py")) + sorted((ROOT / "ui").glob("*.py"))
    files += sorted((ROOT / "slm_core").rglob("*.py"))
    files.append(ROOT / "app.py")
    return files


def test_every_key_used_in_the_code_exists():
    keys = set(catalogue("en"))
    missing, prefixes = [], []
    for path in _sources():
        rel = path.relative_to(ROOT)
        for line, key, prefix in _t_calls(path):
            if key is not None and key not in keys and "." in key:
                missing.append(f"{rel}:{line} {key}")
            if prefix and not any(k.startswith(prefix) for k in keys):
                prefixes.append(f"{rel}:{line} {prefix}…")
    assert not missing, missing
    assert not prefixes, prefixes


def _literal_calls_with_values(path: Path):
    """(line, key, keyword names, has **values) of every t("literal", ...) call."""
    for node in _calls(path, ("t",)):
        arg = node.args[0]
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            continue
        names = {k.arg for k in node.keywords if k.arg is not None}
        splat = any(k.arg is None for k in node.keywords)
        yield node.lineno, arg.value, names, splat


def test_every_placeholder_gets_a_value():
    """t("key") on a string with {placeholders} would show the braces to the user."""
    strings = catalogue("en")
    unfilled = []
    for path in _sources():
        for line, key, names, splat in _literal_calls_with_values(path):
            if key not in strings or splat:
                continue
            missing = _placeholders(strings[key]) - names
            if missing:
                unfilled.append(f"{path.relative_to(ROOT)}:{line} {key} needs {sorted(missing)}")
    assert not unfilled, unfilled


def test_the_key_check_finds_calls(tmp_path):
    """The AST scan sees literal, f-string and concatenated keys (so the test above can fail)."""
    sample = tmp_path / "page.py"
    sample.write_text(
        'st.title(t("a.b"))\nx = t(f"value.dim.{d}")\ny = t("family." + f)\nz = ui.t("c.d")\n',
        encoding="utf-8",
    )
    found = list(_t_calls(sample))
    assert (1, "a.b", None) in found and (4, "c.d", None) in found
    assert (2, None, "value.dim.") in found and (3, None, "family.") in found


# -------------------------------------------------------------- formatting


def test_translation_falls_back_to_english_then_to_the_key():
    assert t("nav.report", "zh") == "报告"
    assert t("nav.report", "fr") == "Report"
    assert t("no.such.key", "zh") == "no.such.key"


@pytest.mark.parametrize(
    ("value", "lang", "digits", "expected"),
    [
        (1234.5, "en", 0, "1,234"),
        (1234.5, "zh", 0, "1,234"),
        (250_000, "en", 0, "250,000"),
        (250_000, "zh", 0, "25.0 万"),
        (320_000_000, "zh", 0, "3.20 亿"),
    ],
)
def test_numbers_follow_the_language(value, lang, digits, expected):
    assert format_number(value, lang, digits) == expected


def test_money_follows_the_language():
    assert format_money(-1500, "USD", "en") == "-$1,500"
    assert format_money(250_000, "CNY", "zh") == "¥25.0 万"
    assert format_money(3.5, "EUR", "en", 2) == "€3.50"
