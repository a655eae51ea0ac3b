"""Column mapping, canonical frames and every validation rule of the DataReport."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from data_fixtures import chinese_rows, english_rows

from slm_core.data.columns import guess_mapping, resolve_column
from slm_core.data.io import read_table
from slm_core.data.types import ColumnMapping, Detected
from slm_core.data.validate import PROBLEM_CODES, canonical_frame, format_report, validate
from slm_core.errors import DataError

CSV = Detected(format="csv", encoding="utf-8", delimiter=",", header=True)
MAP = ColumnMapping(text="text", label="label")


def frame_of(rows, columns=("text", "label")) -> pd.DataFrame:
    return pd.DataFrame([list(r) for r in rows], columns=list(columns), dtype=str)


def check(rows, mapping=MAP, columns=("text", "label")):
    report = validate(frame_of(rows, columns), mapping, CSV)
    for problem in report.errors + report.warnings:
        assert PROBLEM_CODES[problem.code][0] == problem.severity
    return report


def codes(problems) -> set[str]:
    return {p.code for p in problems}


# --- resolve_column / guess_mapping -----------------------------------------------------------


def test_resolve_column_by_name_index_and_digits():
    frame = pd.DataFrame(columns=["Text", "label", "2021"])
    assert resolve_column(frame, "label") == "label"
    assert resolve_column(frame, "text") == "Text"  # case-insensitive when unambiguous
    assert resolve_column(frame, 0) == "Text"
    assert resolve_column(frame, "1") == "label"
    assert resolve_column(frame, "2021") == "2021"  # a digit string that is a column name
    assert resolve_column(frame, None) is None


def test_resolve_column_errors_list_the_columns():
    frame = pd.DataFrame(columns=["text", "label"])
    with pytest.raises(DataError, match=r"Column 'body' is not in the file; .*0: text, 1: label"):
        resolve_column(frame, "body")
    with pytest.raises(DataError, match=r"position 5 is out of range; the file has 2 columns"):
        resolve_column(frame, "5")


def test_guess_mapping_text_is_longest_label_is_low_cardinality():
    rows = [(f"id{i}", lab, "0.5" if i % 2 else "0.75", text) for i, (text, lab) in
            enumerate(english_rows())]  # fmt: skip
    frame = frame_of(rows, ("id", "topic", "confidence", "body"))
    assert guess_mapping(frame) == ColumnMapping(text="body", label="topic")


def test_guess_mapping_prefers_a_named_label_and_finds_group_and_split():
    rows = [
        (text, lab, "yes" if i % 2 else "no", ["train", "VAL", "test"][i % 3], f"g{i % 2}")
        for i, (text, lab) in enumerate(english_rows())
    ]
    frame = frame_of(rows, ("review", "sentiment", "flag", "Split", "Group"))
    mapping = guess_mapping(frame)
    assert mapping == ColumnMapping(text="review", label="sentiment", group="Group", split="Split")


def test_guess_mapping_ignores_a_split_column_with_other_values():
    frame = frame_of([(t, lab, "fold1") for t, lab in english_rows()], ("text", "label", "split"))
    assert guess_mapping(frame).split is None


def test_guess_mapping_headerless_and_one_column():
    frame = read_table(b"great movie\tpos\nterrible\tneg\nfine\tpos\n", "r.tsv").frame
    assert guess_mapping(frame) == ColumnMapping(text="col_0", label="col_1")
    with pytest.raises(DataError, match="only one column"):
        guess_mapping(pd.DataFrame({"text": ["a", "b"]}))


# --- canonical_frame --------------------------------------------------------------------------


def test_canonical_frame_normalises_text_and_labels():
    frame = pd.DataFrame(
        {
            "t": ["  Ｈｅｌｌｏ\u00a0 world\r\n", "line\u2028sep\x85x", None, 7],
            "l": [" pos ", 1.0, 1, "1.0"],
            "g": ["a", None, "b", "b"],
        }
    )
    out = canonical_frame(frame, ColumnMapping(text="t", label="l", group="g"))
    assert list(out.columns) == ["text", "label", "group"]
    assert out["text"].tolist() == ["Hello world", "line sep x", "", "7"]
    assert out["label"].tolist() == ["pos", "1", "1", "1"]
    assert out["group"].tolist() == ["a", "", "b", "b"]


def test_canonical_frame_missing_column_raises():
    with pytest.raises(DataError, match="The text column 'body' is not in the file"):
        canonical_frame(frame_of([("a", "b")]), ColumnMapping(text="body", label="label"))


# --- validate: a clean file -------------------------------------------------------------------


def test_clean_file_is_trainable_and_counted():
    rows = english_rows(12) + [(f"extra sport text {i} here", "sport") for i in range(6)]
    report = check(rows)
    assert report.trainable and report.errors == () and report.warnings == ()
    assert report.rows == 42
    assert report.classes == {"sport": 18, "money": 12, "tech": 12}
    assert list(report.classes) == ["sport", "money", "tech"]
    assert report.imbalance_ratio == pytest.approx(1.5)
    assert (report.script, report.token_unit, report.cjk_share) == ("latin", "word", 0.0)
    assert report.empty_texts == report.duplicate_rows == report.conflicting_texts == 0
    assert report.tiny_classes == ()
    json.dumps(report.to_dict(), ensure_ascii=False)  # the CLI's --json


def test_chinese_file_is_cjk_and_char_tokenised():
    report = check(chinese_rows(repeat=4) + [("好", "退款"), ("退款", "退款")])
    assert report.script == "cjk" and report.token_unit == "char"
    assert report.cjk_share > 0.8
    assert report.short_texts == 2  # under 3 characters, not under 3 words
    assert "short_texts" in codes(report.warnings)



def test_cjk_share_counts_characters_not_spaces():
    from slm_core.text import cjk_share, is_cjk_char

    # Spaces of every kind are left out, the ideographic space included; full-width Latin,
    # punctuation and kana count as CJK where is_cjk_char says so.
    texts = ["中文 text", "\u3000退款\u00a0\u2028", "。ｈ、カ", "", "   "]
    chars = [c for t in texts for c in t if not c.isspace()]
    want = sum(map(is_cjk_char, chars)) / len(chars)
    assert cjk_share(texts) == pytest.approx(want)
    assert cjk_share(["中文 text"]) == pytest.approx(2 / 6)
    assert cjk_share([]) == cjk_share(["  \u3000 "]) == 0.0

# --- validate: errors -------------------------------------------------------------------------


def test_missing_text_and_label_columns():
    report = check(english_rows(), ColumnMapping(text="body", label="topic"))
    assert not report.trainable
    assert codes(report.errors) == {"missing_text_column", "missing_label_column"}
    assert "text, label" in report.errors[0].message


def test_same_column_for_text_and_label():
    report = check(english_rows(), ColumnMapping(text="text", label="text"))
    assert codes(report.errors) == {"same_column"}


def test_all_texts_empty():
    report = check([("", "a"), ("  ", "b"), ("\n", "a")])
    assert "all_texts_empty" in codes(report.errors)
    assert report.empty_texts == 3


def test_mostly_empty_texts_block_and_few_empty_texts_warn():
    rows = english_rows(4)
    mostly = check(rows + [("", "sport")] * 13)
    assert "mostly_empty" in codes(mostly.errors)
    few = check(english_rows() + [("", "sport")] * 2)
    assert few.trainable and "empty_texts" in codes(few.warnings)
    assert few.empty_texts == 2


def test_label_column_all_empty_and_some_empty():
    report = check([(t, "") for t, _ in english_rows()])
    assert "labels_empty" in codes(report.errors)
    some = check(english_rows() + [("a text without a label here", "")])
    assert some.trainable and "empty_labels" in codes(some.warnings)
    assert sum(some.classes.values()) == 36


def test_one_class():
    report = check([(f"text number {i} is here", "spam") for i in range(20)])
    assert codes(report.errors) == {"one_class"}
    assert "only one class 'spam' — a classifier needs at least two labels" in (
        report.errors[0].message
    )


def test_class_with_a_single_example():
    report = check(english_rows() + [("the only weather text here", "weather")])
    assert "single_example_class" in codes(report.errors)
    assert "'weather'" in report.errors[0].message
    assert "weather" in report.tiny_classes


def test_class_too_small_after_removing_duplicates():
    rows = english_rows() + [("Same Text  here", "weather"), ("same text here", "weather")] * 2
    report = check(rows)
    assert report.classes["weather"] == 4
    assert "class_too_small" in codes(report.errors)
    assert "weather (1)" in next(p for p in report.errors if p.code == "class_too_small").message


def test_tiny_classes_warn():
    rows = english_rows() + [(f"weather report {i} today", "weather") for i in range(5)]
    report = check(rows)
    assert report.trainable
    assert report.tiny_classes == ("weather",)
    assert "tiny_classes" in codes(report.warnings)


def test_split_column_values_are_checked():
    rows = [(t, lab, ["train", "Validation", "TEST", "dev"][i % 4])
            for i, (t, lab) in enumerate(english_rows())]  # fmt: skip
    mapping = ColumnMapping(text="text", label="label", split="s")
    assert check(rows, mapping, ("text", "label", "s")).trainable
    bad = check(rows[:-1] + [("x y z", "tech", "holdout")], mapping, ("text", "label", "s"))
    assert codes(bad.errors) == {"bad_split_values"}
    assert "'holdout'" in bad.errors[0].message
    no_test = check(
        [(t, lab, "train") for t, lab in english_rows()], mapping, ("text", "label", "s")
    )
    assert codes(no_test.errors) == {"split_missing_part"}


# --- validate: warnings -----------------------------------------------------------------------


def test_imbalance_warning():
    rows = [(f"common text {i} here", "big") for i in range(110)]
    rows += [(f"rare text {i} here", "small") for i in range(10)]
    report = check(rows)
    assert report.imbalance_ratio == pytest.approx(11.0)
    assert "imbalanced" in codes(report.warnings) and report.trainable


def test_duplicates_and_conflicts_are_counted():
    rows = english_rows() + [
        (english_rows()[0][0].upper(), "sport"),  # duplicate by case
        ("  " + english_rows()[1][0].replace(" ", "   ") + " ", "sport"),  # by spacing
        (english_rows()[2][0], "tech"),  # conflicting label
        (english_rows()[2][0], "money"),  # same text, a third label: still one conflict
        ("brand new money text", "money"),
    ]
    report = check(rows)
    assert report.duplicate_rows == 4
    assert report.conflicting_texts == 1
    assert {"duplicates", "conflicts"} <= codes(report.warnings)


def test_short_and_long_texts():
    rows = english_rows() + [("too short", "tech"), ("word " * 1200, "money")]
    report = check(rows)
    assert report.short_texts == 1
    assert report.long_texts == 1
    assert {"short_texts", "long_texts"} <= codes(report.warnings)
    assert report.mean_length > 0


def test_groups_are_counted_and_tiny_groups_warn():
    rows = [(t, lab, "north" if i < 30 else ("south" if i < 35 else "")) for i, (t, lab) in
            enumerate(english_rows())]  # fmt: skip
    mapping = ColumnMapping(text="text", label="label", group="region")
    report = check(rows, mapping, ("text", "label", "region"))
    assert report.groups == {"north": 30, "south": 5}
    assert {"tiny_groups", "missing_groups"} <= codes(report.warnings)


def test_problem_codes_cover_severity_and_title():
    assert all(sev in ("error", "warning") and title for sev, title in PROBLEM_CODES.values())


# --- format_report ----------------------------------------------------------------------------


def test_format_report_shows_counts_detection_and_problems():
    rows = english_rows() + [(english_rows()[0][0], "tech")]
    text = format_report(check(rows))
    assert "Rows        37" in text
    assert "encoding utf-8 · delimiter ',' · header yes" in text
    assert "sport" in text and "12" in text
    assert "conflicting texts 1" in text
    assert "[conflicts]" in text
    assert text.splitlines()[-1] == "Trainable   yes"
    blocked = format_report(check([("only this", "x"), ("and that", "x")]))
    assert "ERROR       [one_class]" in blocked and blocked.endswith("Trainable   no")
