"""Whether a dataset's script suits an encoder trained on English.

all-MiniLM-L6-v2 learned from English sentence pairs; its vocabulary holds single Chinese,
Japanese and Korean characters but it never learned what they mean together, so on mostly-CJK
text the character-level models trained from scratch (or the linear ones) do better. The share
of CJK characters is the one the data report uses (:func:`slm_core.text.cjk_share`).
"""

from __future__ import annotations

from collections.abc import Iterable

from slm_core.text import cjk_share, script_of

CJK_WARNING = "minilm.warning.mostly_cjk"
# The models that read CJK text character by character (see slm_core.text.token_unit).
CHARACTER_MODELS = ("tfidf_lr", "tfidf_svm", "cnn", "bigru")


def script_warning(texts: Iterable[str] | None = None, *, script: str | None = None) -> str | None:
    """The catalogue key of the warning for this dataset, or None when its script suits the
    encoder: mostly CJK (the data report's ``script`` "cjk", i.e. at least half the characters)
    warns; mixed and space-delimited text does not. Give the texts or the report's script."""
    if script is None:
        script = script_of(cjk_share(texts or []))
    return CJK_WARNING if script == "cjk" else None
