"""Splitting: stratified, deterministic, no text in two splits, a user's split column honoured."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from slm_core.data.split import content_hash, make_splits
from slm_core.data.types import SplitConfig
from slm_core.errors import DataError


def canonical(n_per_class=(60, 40, 20), extra=()) -> pd.DataFrame:
    rows = [
        (f"text {label} number {i} with some words", label)
        for label, n in zip(("a", "b", "c"), n_per_class, strict=False)
        for i in range(n)
    ]
    return pd.DataFrame(rows + list(extra), columns=["text", "label"], dtype=str)


def keys(frame: pd.DataFrame) -> set[str]:
    return set(frame["text"].str.casefold())


def split_of(splits) -> dict[str, str]:
    """normalised text -> the split it landed in (fails if it is in two)."""
    where: dict[str, str] = {}
    for name in ("train", "val", "test"):
        for key in getattr(splits, name)["text"].str.casefold():
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
    by_text = dict(zip(frame["text"].str.casefold(), frame["split"].str.casefold(), strict=True))
    for key, name in split_of(splits).items():
        assert roles[by_text[key]] == name


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
