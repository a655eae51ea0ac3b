"""Splitting: stratified, deterministic, no text in two splits, a user's split column honoured."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slm_core.data.split import content_hash, make_splits, one_text_key, text_key
from slm_core.data.types import SplitConfig
from slm_core.errors import DataError

ALL_CHECKBOXES = [
    SplitConfig(dedupe=dedupe, drop_conflicts=drop)
    for dedupe in (True, False)
    for drop in (True, False)
]


def canonical(n_per_class=(60, 40, 20), extra=()) -> pd.DataFrame:
    rows = [
        (f"text {label} number {i} with some words", label)
        for label, n in zip(("a", "b", "c"), n_per_class, strict=False)
        for i in range(n)
    ]
    return pd.DataFrame(rows + list(extra), columns=["text", "label"], dtype=str)


def keys(frame: pd.DataFrame) -> set[str]:
    return set(text_key(frame["text"]))


def split_of(splits) -> dict[str, str]:
    """text key -> the split it landed in (fails if it is in two)."""
    where: dict[str, str] = {}
    for name in ("train", "val", "test"):
        for key in text_key(getattr(splits, name)["text"]):
            assert where.setdefault(key, name) == name, f"{key!r} is in {where[key]} and {name}"
    return where


def test_sizes_and_stratification():
    splits = make_splits(canonical())
    assert splits.sizes() == {"train": 84, "val": 18, "test": 18}
    for name, frame in (("train", splits.train), ("val", splits.val), ("test", splits.test)):
        share = Counter(frame["label"])
        total = len(frame)
        assert share["a"] / total == pytest.approx(0.5, abs=0.06), name
        assert share["c"] / total == pytest.approx(1 / 6, abs=0.06), name
    assert splits.labels == ("a", "b", "c")
    assert list(splits.train.columns) == ["text", "label"]
    assert splits.train.attrs["split_notes"] == ()
    split_of(splits)


def test_same_seed_same_split_other_seed_other_split():
    first = make_splits(canonical(), SplitConfig(seed=7))
    again = make_splits(canonical(), SplitConfig(seed=7))
    other = make_splits(canonical(), SplitConfig(seed=8))
    for name in ("train", "val", "test"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(again, name))
    assert keys(first.test) != keys(other.test)


def test_custom_ratios_and_invalid_ratios():
    splits = make_splits(canonical(), SplitConfig(train=0.8, val=0.1, test=0.1))
    assert splits.sizes() == {"train": 96, "val": 12, "test": 12}
    no_val = make_splits(canonical(), SplitConfig(train=0.8, val=0.0, test=0.2))
    assert len(no_val.val) == 0 and len(no_val.test) == 24
    with pytest.raises(DataError, match="add up to 1"):
        make_splits(canonical(), SplitConfig(train=0.8, val=0.15, test=0.15))
    with pytest.raises(DataError, match="positive for train and test"):
        make_splits(canonical(), SplitConfig(train=1.0, val=0.0, test=0.0))


def test_duplicates_are_removed_and_never_straddle():
    # Canonical texts already have collapsed spaces (normalize_text); case still differs.
    base = canonical()
    dupes = [(base["text"][i].upper(), base["label"][i]) for i in range(0, 120, 4)]
    dupes += [(base["text"][i], base["label"][i]) for i in (1, 2)]
    frame = canonical(extra=dupes)
    splits = make_splits(frame)
    assert splits.removed_duplicates == 32
    assert sum(splits.sizes().values()) == 120
    split_of(splits)


def test_without_dedupe_copies_stay_together():
    base = canonical()
    extra = [(base["text"][i].upper(), base["label"][i]) for i in range(0, 120, 3)]
    splits = make_splits(canonical(extra=extra), SplitConfig(dedupe=False))
    assert splits.removed_duplicates == 0
    assert sum(splits.sizes().values()) == 160
    where = split_of(splits)  # asserts no text in two splits
    assert len(where) == 120


def test_conflicting_texts_are_excluded_by_default_or_kept_together():
    base = canonical()
    conflicts = [(base["text"][i], "b" if base["label"][i] == "a" else "a") for i in range(0, 30)]
    frame = canonical(extra=conflicts)
    dropped = make_splits(frame)
    assert dropped.removed_conflicts == 60
    assert not keys(base.iloc[:30]) & (keys(dropped.train) | keys(dropped.val) | keys(dropped.test))
    kept = make_splits(frame, SplitConfig(drop_conflicts=False))
    assert kept.removed_conflicts == 0
    assert sum(kept.sizes().values()) == 150
    split_of(kept)


def test_empty_texts_and_labels_are_dropped():
    frame = canonical(extra=[("", "a"), ("a text without label", ""), ("", "")])
    splits = make_splits(frame)
    assert splits.removed_empty == 3
    assert sum(splits.sizes().values()) == 120


def test_small_classes_reach_every_split_and_are_noted():
    frame = canonical(n_per_class=(60, 40, 3))
    splits = make_splits(frame)
    for name in ("train", "val", "test"):
        assert (getattr(splits, name)["label"] == "c").sum() == 1, name
    assert "split by hand" in splits.train.attrs["split_notes"][0]
    assert "'c'" in splits.train.attrs["split_notes"][0]
    two = make_splits(canonical(n_per_class=(60, 40, 2)))
    assert (two.train["label"] == "c").sum() == 1 and (two.test["label"] == "c").sum() == 1


def test_group_column_is_kept_and_split_column_dropped():
    frame = canonical().assign(group=lambda f: ["x", "y"] * 60)
    splits = make_splits(frame)
    assert list(splits.test.columns) == ["text", "label", "group"]


def test_user_split_column_is_honoured():
    frame = canonical()
    names = ["train", "Train", "VALIDATION", "dev", "val", "test", "TEST", "train"]
    frame["split"] = [names[i % len(names)] for i in range(len(frame))]
    splits = make_splits(frame)
    expected = {"train": 45, "val": 45, "test": 30}
    assert splits.sizes() == expected
    roles = {"train": "train", "validation": "val", "dev": "val", "val": "val", "test": "test"}
    by_text = dict(zip(keys_of(frame), frame["split"].str.casefold(), strict=True))
    for key, name in split_of(splits).items():
        assert roles[by_text[key]] == name


def keys_of(frame: pd.DataFrame) -> list[str]:
    return text_key(frame["text"]).tolist()


def test_user_split_without_validation_rows_carves_it_from_train():
    frame = canonical()
    frame["split"] = ["test" if i % 5 == 0 else "train" for i in range(len(frame))]
    splits = make_splits(frame)
    assert len(splits.test) == 24
    assert len(splits.val) > 0 and len(splits.train) + len(splits.val) == 96
    assert keys(splits.test) == keys(frame[frame["split"] == "test"])
    assert "validation" in splits.train.attrs["split_notes"][0]


def test_user_split_with_bad_values_or_no_test_rows():
    frame = canonical()
    frame["split"] = ["train", "holdout", "test", ""] * 30
    with pytest.raises(DataError, match=r"60 rows have a split value other than .*'holdout', ''"):
        make_splits(frame)
    frame["split"] = "train"
    with pytest.raises(DataError, match="no 'test' rows"):
        make_splits(frame)


def test_nothing_left_to_train_on():
    frame = pd.DataFrame({"text": ["same", "same"], "label": ["a", "b"]})
    with pytest.raises(DataError, match="No rows are left"):
        make_splits(frame)


def test_content_hash_is_stable_and_sensitive():
    frame = canonical()
    digest = content_hash(frame)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert content_hash(frame.copy()) == digest
    changed = frame.copy()
    changed.loc[5, "label"] = "b"
    assert content_hash(changed) != digest
    assert content_hash(frame.assign(group="g")) != digest
    assert content_hash(frame.iloc[::-1]) != digest  # order matters: it is the dataset id


def test_content_hash_is_the_same_in_another_process():
    frame = pd.DataFrame({"text": ["你好 world", "b"], "label": ["x", "y"], "group": ["", "g"]})
    code = (
        "import pandas as pd; from slm_core.data.split import content_hash; "
        "print(content_hash(pd.DataFrame({'text': ['你好 world', 'b'], 'label': ['x', 'y'], "
        "'group': ['', 'g']})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        cwd=Path(__file__).resolve().parents[1], env={"PYTHONHASHSEED": "123"},
    )  # fmt: skip
    assert out.stdout.strip() == content_hash(frame)


def test_unstratifiable_ratios_fall_back_and_say_so():
    frame = canonical(n_per_class=(10, 10, 10))
    splits = make_splits(frame, SplitConfig(train=0.7, val=0.01, test=0.29))
    assert sum(splits.sizes().values()) == 30
    assert len(splits.test) >= len(splits.val)
    assert any("could not be stratified" in n for n in splits.train.attrs["split_notes"])


# -- leak-proof text keys ------------------------------------------------------------------


def test_text_key_folds_punctuation_width_case_and_lengthening():
    same = [
        ("Great!!", "great"),
        ("ｇｒｅａｔ", "great"),
        ("GREAT ！", "great"),
        ("soooo good", "so good"),
        ("loooove it :)", "love it"),
        ("good 😀", "good"),
        ("哈哈哈哈", "哈哈"),
        ("太好了！！！", "太好了"),
        ("好 好 学 习", "好好学习"),
        ("Straße", "STRASSE"),
    ]
    for a, b in same:
        assert one_text_key(a) == one_text_key(b), (a, b)
    different = [
        ("好好学习", "好学习"),  # Chinese doubles are words, not lengthening
        ("哈哈", "哈"),
        ("1000 yuan", "10 yuan"),  # digits are never shortened
        ("100", "1000"),
        (":)", ":-)"),  # punctuation-only texts keep their raw text
        ("😀", "😡"),
        ("good", "god"),  # doubles in Latin words stay
    ]
    for a, b in different:
        assert one_text_key(a) != one_text_key(b), (a, b)
    assert one_text_key("!!!") and one_text_key("😀😀")  # never the empty key


def _variant_pairs(variant) -> tuple[pd.DataFrame, dict[str, int]]:
    """Base rows plus, per text, one variant a careless key would call a different text.

    Also text -> pair number, so the check does not depend on the key under test.
    """
    base = canonical()
    extra = [(variant(t), label) for t, label in zip(base["text"], base["label"], strict=True)]
    pair = {t: i for i, t in enumerate(base["text"])}
    pair.update({t: i for i, (t, _) in enumerate(extra)})
    assert len(pair) == 2 * len(base)
    return canonical(extra=extra), pair


def pairs_in_one_split(splits, pair: dict[str, int]) -> None:
    where: dict[int, str] = {}
    for name in ("train", "val", "test"):
        for text in getattr(splits, name)["text"]:
            got = where.setdefault(pair[text], name)
            assert got == name, f"{text!r} is in {name}, its variant in {got}"


@pytest.mark.parametrize(
    "variant",
    [
        lambda t: t.capitalize() + "!!",  # "Great!!" vs "great"
        lambda t: t.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)}),  # full width
        lambda t: t.replace("some", "soooome"),  # lengthening
    ],
    ids=["punctuation", "width", "repeats"],
)
@pytest.mark.parametrize("config", ALL_CHECKBOXES, ids=lambda c: f"{c.dedupe}-{c.drop_conflicts}")
def test_variants_of_one_text_never_straddle_splits(variant, config):
    # The old key (case folding only) split such pairs across train/val/test.
    frame, pair = _variant_pairs(variant)
    splits = make_splits(frame, config)
    pairs_in_one_split(splits, pair)
    assert len(split_of(splits)) == 120
    if not config.dedupe:
        assert sum(splits.sizes().values()) == 240  # duplicates kept, but together


def test_long_texts_are_keyed_as_short_ones_are():
    """Past _LONG_TEXT characters runs are shortened with numpy: the same key as the regex."""
    import random

    from slm_core.data import split

    rng = random.Random(7)
    pieces = ["a", "b", "哈", "好", "1", "٣", " ", "\t", "É", "x"]
    for _ in range(20):
        text = "".join(rng.choice(pieces) * rng.choice([1, 1, 2, 3, 4, 9]) for _ in range(9000))
        assert len(text) > split._LONG_TEXT
        assert split._shorten_runs(text) == split._RUN_RE.sub(split._shorten_run, text)
    assert one_text_key("Sooo " * 10_000) == "so" * 10_000
    assert one_text_key("哈" * 50_000 + "1" * 50_000) == "哈哈" + "1" * 50_000


def test_variants_stay_together_and_keys_stay_stratified_without_dedupe():
    frame, pair = _variant_pairs(lambda t: t.upper() + "!!!")
    splits = make_splits(frame, SplitConfig(dedupe=False, drop_conflicts=False))
    pairs_in_one_split(splits, pair)
    assert splits.sizes() == {"train": 168, "val": 36, "test": 36}  # 84/18/18 keys, 2 rows each
    for name in ("train", "val", "test"):
        share = Counter(getattr(splits, name)["label"])
        assert share["a"] / sum(share.values()) == pytest.approx(0.5, abs=0.06), name


def test_punctuation_only_texts_are_not_one_group():
    emoji = [chr(0x1F600 + i) * (1 + i % 3) for i in range(60)]
    frame = canonical(extra=[(e, ("a", "b", "c")[i % 3]) for i, e in enumerate(emoji)])
    splits = make_splits(frame, SplitConfig(dedupe=False, drop_conflicts=False))
    landed = {name: set(getattr(splits, name)["text"]) & set(emoji) for name in ("train", "test")}
    assert landed["train"] and landed["test"]
    assert len(split_of(splits)) == 180


def test_user_split_putting_one_text_in_two_splits_is_an_error_naming_rows():
    frame = canonical()
    frame["split"] = ["test" if i % 5 == 0 else "train" for i in range(len(frame))]
    leaked = pd.DataFrame(
        {
            "text": [
                "Text A number 1 with some words!!",
                "ｔｅｘｔ ａ ｎｕｍｂｅｒ 2 ｗｉｔｈ ｓｏｍｅ ｗｏｒｄｓ",
            ],
            "label": ["a", "a"],
            "split": ["test", "test"],  # the same texts are rows 2 and 3, train, above
        }
    )
    frame = pd.concat([frame, leaked], ignore_index=True)
    # Whatever the boxes say: with de-duplication on, the test copies used to vanish quietly
    # from the user's test set (the first, training copy was kept).
    for config in ALL_CHECKBOXES:
        with pytest.raises(DataError) as caught:
            make_splits(frame, config)
        message = str(caught.value)
        assert caught.value.key == "errors.split.key_in_two_splits"
        assert "in more than one split: 2 (4 rows)" in message
        assert "rows 2 (train), 121 (test)" in message and "rows 3 (train), 122 (test)" in message
        assert "'Text A number 1 with some words!!'" in message
        assert "【第 2 (train), 121 (test) 行" in caught.value.localized("zh")
    # Copies within one split are still de-duplicated.
    frame.loc[len(frame) - 2, "split"] = "train"
    frame.loc[len(frame) - 1, "split"] = "train"
    splits = make_splits(frame)
    assert splits.removed_duplicates == 2
    split_of(splits)


def test_user_split_conflicting_copies_in_two_splits_are_an_error():
    frame = canonical()
    frame["split"] = ["test" if i % 5 == 0 else "train" for i in range(len(frame))]
    frame.loc[len(frame)] = ["TEXT a NUMBER 1 with some words.", "b", "test"]
    with pytest.raises(DataError, match=r"rows 2 \(train\), 121 \(test\)"):
        make_splits(frame, SplitConfig(drop_conflicts=False))
    assert make_splits(frame).removed_conflicts == 2


def test_row_numbers_count_rows_removed_as_empty():
    frame = canonical(n_per_class=(20, 20, 20))
    frame.loc[0, "text"] = ""
    frame["split"] = ["train"] * 30 + ["test"] * 30
    frame.loc[len(frame)] = ["text b number 19 with some words", "b", "train"]
    with pytest.raises(DataError, match=r"rows 40 \(test\), 61 \(train\)"):
        make_splits(frame, SplitConfig(dedupe=False))


def test_many_straddling_texts_are_counted_and_a_few_shown():
    frame = canonical(n_per_class=(30, 0, 0))
    frame["split"] = "train"
    copies = frame.assign(text=frame["text"] + "!", split="test")
    with pytest.raises(DataError) as caught:
        make_splits(pd.concat([frame, copies], ignore_index=True), SplitConfig(dedupe=False))
    message = str(caught.value)
    assert "in more than one split: 30 (60 rows)" in message
    assert message.count("[rows ") == 5
    # Six training copies of one text before its test copy: the test row is still shown.
    frame = canonical(n_per_class=(30, 0, 0)).assign(split="train")
    copies = pd.DataFrame({"text": ["Text a number 0!"] * 6, "label": "a", "split": "train"})
    copies.loc[len(copies)] = ["TEXT A NUMBER 0?", "a", "test"]
    shown = r"\[rows 31 \(train\), 32 \(train\), 33 \(train\), 37 \(test\), … \(\+3\): "
    with pytest.raises(DataError, match=shown + "'Text a number 0!' / 'TEXT A NUMBER 0\\?'"):
        make_splits(pd.concat([frame, copies], ignore_index=True), SplitConfig(dedupe=False))


_WORDS = ["great", "Great!!", "ｇｒｅａｔ", "so good", "soooo good", "好好学习", "好学习", "哈哈哈",
          "bad.", "BAD", "10", "1000", ":)", ":-)", "😀", "meh", "ok ok", "OK!OK"]  # fmt: skip


@st.composite
def _rows(draw, with_split: bool):
    n = draw(st.integers(min_value=4, max_value=60))
    texts = draw(st.lists(st.sampled_from(_WORDS), min_size=n, max_size=n))
    suffix = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))
    labels = draw(st.lists(st.sampled_from("xyz"), min_size=n, max_size=n))
    frame = pd.DataFrame(
        {"text": [f"{t} {s}" if s else t for t, s in zip(texts, suffix, strict=True)],
         "label": labels}
    )  # fmt: skip
    if with_split:
        frame["split"] = draw(
            st.lists(st.sampled_from(["train", "val", "test"]), min_size=n, max_size=n)
        )
    return frame


_PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPERTY
@given(frame=_rows(with_split=False), seed=st.integers(0, 3))
def test_property_no_key_spans_two_splits(frame, seed):
    for config in ALL_CHECKBOXES:
        config = SplitConfig(dedupe=config.dedupe, drop_conflicts=config.drop_conflicts, seed=seed)
        try:
            splits = make_splits(frame, config)
        except DataError as exc:
            assert exc.key == "errors.split.no_rows_left"
            continue
        split_of(splits)


@_PROPERTY
@given(frame=_rows(with_split=True))
def test_property_user_split_never_leaks_silently(frame):
    for config in ALL_CHECKBOXES:
        try:
            splits = make_splits(frame, config)
        except DataError as exc:
            assert exc.key in {
                "errors.split.key_in_two_splits",
                "errors.split.missing_part",
                "errors.split.no_rows_left",
            }
            continue
        split_of(splits)
