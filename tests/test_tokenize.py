"""Tokenisation inside every text: CJK by character, other words whole, whatever the unit."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from slm_core.models.linear import word_tokens
from slm_core.models.tokenize import TOKEN_UNITS, standardize, tokenize
from slm_core.text import is_cjk_char

# The word pattern every model saved before mixed-script tokenisation was trained with.
_FORMER_WORD_RE = re.compile(r"\w+|[^\w\s]")


def test_a_chinese_row_in_an_english_file_is_split_into_characters():
    # An English file chooses the "word" unit; its few Chinese rows used to be one token each.
    text = "我想退款，iPhone 15坏了 but the café said NO!"
    expected = ["我", "想", "退", "款", ",", "iphone", "15", "坏", "了",
                "but", "the", "café", "said", "no", "!"]  # fmt: skip
    for unit in TOKEN_UNITS:
        assert tokenize(text, unit) == expected, unit
    assert word_tokens("好好学习English") == ["好", "好", "学", "习", "english"]
    assert tokenize("東京に行きます", "word") == ["東", "京", "に", "行", "き", "ま", "す"]


def test_latin_texts_tokenise_exactly_as_before():
    examples = [
        "Don't  STOP!\u2028Now\x85",
        "ＡＢＣ１２３ full-width",
        "naïve café — 3.5 stars, 100% 😀",
        "Привет, мир! مرحبا ١٢٣ नमस्ते",
        "snake_case and e-mail@example.com",
    ]
    for text in examples:
        assert tokenize(text, "word") == _FORMER_WORD_RE.findall(standardize(text)), text


_NON_CJK = st.characters(
    blacklist_categories=("Cs",), blacklist_characters="\u3000\u3001\u3002"
).filter(lambda ch: not any(is_cjk_char(c) for c in standardize(ch)))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_NON_CJK, max_size=40))
def test_property_texts_without_cjk_keep_their_former_tokens(text):
    if any(is_cjk_char(c) for c in standardize(text)):
        return  # NFKC of a pair can still compose a CJK form; those texts may change
    assert tokenize(text, "word") == _FORMER_WORD_RE.findall(standardize(text))
