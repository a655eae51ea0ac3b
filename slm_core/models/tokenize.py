"""Pure-Python tokenisation and vocabulary lookup shared by training and serving.

Why in Python: the serving path (LiteRT / ONNX, issue 5) must turn text into ids without
TensorFlow, and an eager ``TextVectorization`` call costs ~4 ms per string. Training gives
``TextVectorization`` the already-tokenised text joined by single spaces with
``standardize=None, split="whitespace"``, so the ids it produces are exactly what
:meth:`Vocabulary.encode` produces here (a test checks this).

The vocabulary is stored as a JSON list, never one term per line: terms containing U+0085 or
U+2028 broke line-based vocabulary files (``str.splitlines`` splits on them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from slm_core.errors import TrainError
from slm_core.text import CJK_CLASS, normalize_text

TOKEN_UNITS = ("word", "char")
PAD, OOV = "", "[UNK]"  # ids 0 and 1, as in TextVectorization


# One CJK character, a run of other word characters (Latin words inside Chinese text stay
# whole), or a single punctuation/symbol character. Both units use it: the unit is chosen once
# per dataset, but scripts mix inside texts (an English file with a few Chinese rows), and
# a Chinese sentence must not become one word. On a text without CJK characters it finds
# exactly what the former word pattern ``\w+|[^\w\s]`` found, so saved models keep their
# answers on such texts.
_TOKEN_RE = re.compile(rf"[{CJK_CLASS}]|(?:(?![{CJK_CLASS}])\w)+|[^\w\s]")


def standardize(text: object) -> str:
    """Normalise (NFKC, no control/line-separator characters) and lowercase one text."""
    return normalize_text(text).lower()


def tokenize(text: object, unit: str = "word") -> list[str]:
    """Split one raw text into tokens: each CJK character, each other word, each punctuation mark.

    Both units tokenise alike (see ``_TOKEN_RE``); ``unit`` is still checked because it is
    saved with every model and still chooses the linear models' features (word or character
    n-grams).
    """
    if unit not in TOKEN_UNITS:
        raise TrainError(
            "errors.tokenize.unknown_token_unit", choices=", ".join(TOKEN_UNITS), unit=unit
        )
    return _TOKEN_RE.findall(standardize(text))


def joined_tokens(texts: Iterable[object], unit: str = "word") -> list[str]:
    """Tokens of each text joined by single spaces: the input ``TextVectorization`` adapts on."""
    return [" ".join(tokenize(t, unit)) for t in texts]


def token_counts(joined: Sequence[str]) -> list[int]:
    """Tokens of each whitespace-joined text (what ``max_len`` is derived from)."""
    return [j.count(" ") + 1 if j else 0 for j in joined]


def derive_max_len(token_counts: Sequence[int], cap: int, percentile: float = 95.0) -> int:
    """Sequence length covering ``percentile`` % of texts, between 4 and ``cap`` tokens."""
    if len(token_counts) == 0:
        return max(4, min(cap, 16))
    value = int(np.ceil(np.percentile(np.asarray(token_counts), percentile)))
    return int(max(4, min(cap, value)))


class Vocabulary:
    """Term list in id order (0 = padding, 1 = out-of-vocabulary) with fast encoding."""

    def __init__(self, terms: Sequence[str], unit: str = "word"):
        terms = [str(t) for t in terms]  # TextVectorization returns numpy strings
        if len(terms) < 2 or terms[0] != PAD or terms[1] != OOV:
            raise TrainError("errors.tokenize.vocabulary_no_special_tokens")
        self.terms = terms
        self.unit = unit
        self._index = {t: i for i, t in enumerate(terms)}
        if len(self._index) != len(terms):
            raise TrainError("errors.tokenize.vocabulary_repeated_term")

    def __len__(self) -> int:
        return len(self.terms)

    def ids(self, text: object, max_len: int) -> list[int]:
        """Token ids of one text, truncated to ``max_len`` (no padding)."""
        get = self._index.get
        return [get(t, 1) for t in tokenize(text, self.unit)[:max_len]]

    def encode(self, texts: Iterable[object], max_len: int) -> np.ndarray:
        """Ids of many texts as an ``int32`` array ``(n, max_len)``, zero-padded at the end."""
        rows = [self.ids(t, max_len) for t in texts]
        out = np.zeros((len(rows), max_len), dtype=np.int32)
        for i, row in enumerate(rows):
            out[i, : len(row)] = row
        return out

    def to_json(self) -> str:
        return json.dumps({"unit": self.unit, "terms": self.terms}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        data = json.loads(text)
        return cls(data["terms"], data["unit"])

    def save(self, path: Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))
