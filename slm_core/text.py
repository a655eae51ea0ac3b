"""Text normalisation and script detection shared by data validation and every model.

Why normalise: Keras ``TextVectorization`` stores its vocabulary one term per line; a term that
contains U+0085, U+2028 or a control character is split by ``str.splitlines()`` on reload and the
saved model no longer loads ("repeated term"). NFKC also folds full-width Latin and digits that
Chinese keyboards produce into their ASCII forms, so "ＡＢＣ" and "ABC" are one token.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Characters str.splitlines() treats as line boundaries, plus all other C0/C1 controls.
_LINE_BREAKERS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\u200b]")
_SPACE_RE = re.compile(r"\s+")
_SPACE_CHAR_RE = re.compile(r"\s")  # the characters str.isspace() accepts


def normalize_text(text: object) -> str:
    """NFKC, control/line-separator characters replaced by spaces, whitespace collapsed."""
    if text is None:
        return ""
    s = unicodedata.normalize("NFKC", str(text))
    s = _CONTROL_RE.sub(" ", s)
    return _SPACE_RE.sub(" ", s).strip()


# Han ideographs (unified, extension A, extensions B+ and the compatibility supplement,
# compatibility ideographs), hiragana and katakana, Hangul syllables and CJK punctuation: the
# one definition of a CJK character, as a regex character class (every user imports it).
CJK_CLASS = (
    "\u4e00-\u9fff\u3400-\u4dbf\U00020000-\U0002fa1f\uf900-\ufaff"
    "\u3040-\u30ff\uac00-\ud7af\u3000-\u303f"
)
CJK_RE = re.compile(f"[{CJK_CLASS}]")


def is_cjk_char(ch: str) -> bool:
    """True for Han ideographs, kana, Hangul and CJK punctuation/full-width forms."""
    return CJK_RE.fullmatch(ch) is not None


def cjk_share(texts: Iterable[str]) -> float:
    """Share of non-space characters that are CJK, over all texts (0.0 for no characters).

    Counted by the regex engine: a Python loop over a 30 MB text took 20 s.
    """
    cjk = total = 0
    for t in texts:
        total += len(t) - _SPACE_CHAR_RE.subn("", t)[1]
        # The ideographic space (U+3000) is in the CJK punctuation block but is a space.
        cjk += CJK_RE.subn("", t)[1] - t.count("\u3000")
    return cjk / total if total else 0.0


def script_of(share: float) -> str:
    """Name the script mix from a CJK share: 'cjk', 'mixed' or 'latin' (space-delimited)."""
    if share >= 0.5:
        return "cjk"
    if share >= 0.05:
        return "mixed"
    return "latin"


def token_unit(script: str) -> str:
    """Tokenisation the models must use: 'char' for CJK or mixed text, else 'word'."""
    return "char" if script in ("cjk", "mixed") else "word"


def token_count(text: str, unit: str) -> int:
    """Tokens in one text under the given unit (characters without spaces, or words)."""
    if unit == "char":
        return sum(1 for ch in text if not ch.isspace())
    return len(text.split())
