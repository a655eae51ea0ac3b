"""Both demo datasets load through the real reader with every row, checked by independent counts."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter

import pytest

from slm_core.data.columns import guess_mapping
from slm_core.data.demo import demo_path, load_demo
from slm_core.data.split import make_splits
from slm_core.data.validate import canonical_frame, validate

# C0/C1 controls and the separators str.splitlines() breaks on: none may survive normalisation.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


@pytest.fixture(scope="module")
def bbc():
    return load_demo("bbc_news")


@pytest.fixture(scope="module")
def tweets():
    return load_demo("tweets")


def _field(value: str) -> str:
    """Independent decoding of one latin-1-read field: UTF-8 if valid, else cp1252, else latin-1."""
    raw = value.encode("latin-1")
    for codec in ("utf-8", "cp1252"):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            pass
    return value


def test_bbc_has_every_article(bbc):
    read, mapping = bbc
    root = demo_path("bbc_news")
    on_disk = {d.name: len(list(d.glob("*.txt"))) for d in root.iterdir() if d.is_dir()}
    assert sum(on_disk.values()) == 2225
    frame = read.frame
    assert len(frame) == 2225
    assert dict(Counter(frame["label"])) == on_disk
    assert len(on_disk) == 5
    # sports/199.txt is cp1252, not UTF-8: its pound sign must survive.
    article = frame.loc[frame["file"] == "sports/199.txt", "text"].item()
    assert "£15.8m" in article


def test_bbc_report(bbc):
    read, mapping = bbc
    report = validate(read.frame, mapping, read.detected)
    assert report.trainable
    assert report.rows == 2225
    assert report.classes == {
        "sports": 511, "business": 510, "politics": 417, "tech": 401, "entertainment": 386,
    }  # fmt: skip
    assert (report.script, report.token_unit) == ("latin", "word")
    assert report.empty_texts == 0
    assert report.duplicate_rows == 104  # repeated articles; the key folds punctuation (issue 12)
    assert report.conflicting_texts == 0
    assert not CONTROL.search("".join(canonical_frame(read.frame, mapping)["text"]))


def test_tweets_lose_no_row(tweets):
    read, mapping = tweets
    raw = demo_path("tweets").read_bytes()
    # Independent count: the csv module over a latin-1 decode (latin-1 never fails).
    records = list(csv.reader(io.StringIO(raw.decode("latin-1"), newline="")))
    header, body = records[0], records[1:]
    assert header == ["sentiment", "confidence", "text"]
    assert all(len(r) == 3 for r in body)
    frame = read.frame
    assert list(frame.columns) == header
    assert len(frame) == len(body) == 38158
    assert dict(Counter(frame["sentiment"])) == dict(Counter(r[0] for r in body))
    assert dict(Counter(frame["sentiment"])) == {
        "negative": 16186, "neutral": 15018, "positive": 6954,
    }  # fmt: skip
    # Row by row, cell by cell: the same text (embedded \r kept) in the same order.
    assert frame.values.tolist() == [[_field(v) for v in r] for r in body]
    assert sum("\r" in t for t in frame["text"]) > 0


def test_tweets_detection_and_guess(tweets):
    read, mapping = tweets
    d = read.detected
    assert (d.format, d.delimiter, d.header) == ("csv", ",", True)
    assert d.encoding == "utf-8 (2,874 lines cp1252, 2,060 lines latin-1)"
    assert any("mixes encodings" in n for n in d.notes)
    assert guess_mapping(read.frame) == mapping


def test_tweets_report_and_canonical_text(tweets):
    read, mapping = tweets
    report = validate(read.frame, mapping, read.detected)
    assert report.trainable
    assert report.rows == 38158
    assert report.classes == {"negative": 16186, "neutral": 15018, "positive": 6954}
    assert report.duplicate_rows == 1058  # folding punctuation, width and repeats (issue 12)
    assert report.conflicting_texts == 56
    assert report.empty_texts == 0
    canon = canonical_frame(read.frame, mapping)
    assert len(canon) == 38158
    bad = [t for t in canon["text"] if CONTROL.search(t)]
    assert bad == []
    splits = make_splits(canon)
    total = sum(splits.sizes().values())
    assert total + splits.removed_duplicates + splits.removed_conflicts == 38158


def test_chinese_reviews_have_every_nonblank_line_with_its_files_label():
    read, mapping = load_demo("reviews_zh")
    root = demo_path("reviews_zh")
    expected = {
        label: [line.strip() for line in (root / name).read_text("utf-8").splitlines()]
        for label, name in (("negative", "neg.txt"), ("positive", "pos.txt"))
    }
    counts = {label: sum(1 for line in lines if line) for label, lines in expected.items()}
    assert dict(Counter(read.frame["label"])) == counts
    assert sum(counts.values()) > 30_000
    first_negative = next(line for line in expected["negative"] if line)
    row = read.frame.iloc[0]
    assert (row["text"], row["label"], row["file"]) == (first_negative, "negative", "neg.txt:1")
    report = validate(read.frame, mapping, read.detected)
    assert report.trainable and report.script == "cjk" and report.token_unit == "char"
    # A real corpus of 10,000+ distinct texts once duplicates are removed (issue 12).
    splits = make_splits(canonical_frame(read.frame, mapping))
    assert sum(splits.sizes().values()) > 10_000
