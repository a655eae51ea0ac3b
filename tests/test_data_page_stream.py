"""A large upload on the Data page is read in chunks (ui/data_stream.py, slm_core/data/
upload_stream.py): previewed from its first rows, stored on request with the dataset id the
whole-file path gives; a bad file gives one error box; no copy of the upload is left behind.

``SLM_STREAM_MB`` is lowered so that a small generated file counts as large.
"""

from __future__ import annotations

import errno
import html
import random
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from slm_core.data import upload_stream
from slm_core.data.stream import StreamProgress, stream_choice, stream_dataset
from slm_core.data.types import ColumnMapping
from slm_core.i18n import match_key
from tests.conftest import ROOT

LOW_MB = "0.01"  # 10 KiB: the generated files are larger
STREAM_NOTICE = "Large file: read in chunks"
STREAM_BUTTON = "Read the whole file and use it"


def _csv(rows: int = 1500, seed: int = 3) -> bytes:
    """Texts with repeats, a conflict, Chinese, quoted commas and odd spacing; two labels."""
    rng = random.Random(seed)
    words = ["good", "bad", "film", "plot", "很好", "电影", "meh", "ＧＲＥＡＴ", "fun", "dull"]
    lines = ["text,label,region"]
    for i in range(rows):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(2, 7))) + f" {i % 700}"
        if i % 9 == 0:
            text = f'"{text}, with a comma"'
        if i % 13 == 0:
            text = "  " + text.upper() if not text.startswith('"') else text
        label = "pos" if rng.random() < 0.5 else "neg"
        lines.append(f"{text},{label},{rng.choice(['north', 'south', ''])}")
    lines.append("conflict text,pos,north")
    lines.append("conflict text,neg,south")
    return ("\n".join(lines) + "\n").encode("utf-8")


def _shown(markdown: str) -> str:
    return html.unescape(re.sub(r"\\(.)", r"\1", markdown))


def _error_keys(at: AppTest) -> set[str]:
    return {found[0] for e in at.error if (found := match_key(_shown(e.value), "errors."))}


def _leftovers(home: Path) -> list[str]:
    """Copies of an upload or frames being written, in the store's staging folder."""
    folder = home / "datasets"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name.startswith((".upload-", ".incoming")))


def _data_page(name: str, data: bytes) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/data.py")
    at.run()
    at.file_uploader[0].set_value((name, data, "text/csv"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _click(at: AppTest, label: str) -> None:
    next(b for b in at.button if b.label == label).click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def _stored_ids(home: Path) -> set[str]:
    from slm_core.store import RunStore

    return {d.id for d in RunStore(home=home).list_datasets()}


@pytest.fixture
def stream_home(fresh_home, monkeypatch) -> Path:
    monkeypatch.setenv("SLM_STREAM_MB", LOW_MB)
    return fresh_home


def test_upload_choice_follows_size_and_format(monkeypatch):
    monkeypatch.setenv("SLM_STREAM_MB", "1")
    assert stream_choice("big.CSV", 3 * 1024 * 1024)[0]
    assert stream_choice("big.jsonl", 3 * 1024 * 1024)[0]
    assert not stream_choice("small.csv", 1024)[0]
    assert not stream_choice("big.xlsx", 3 * 1024 * 1024)[0]  # read whole, whatever its size


def test_progress_is_reported_per_chunk_up_to_the_whole_file(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(_csv(3000))
    seen: list[StreamProgress] = []
    mapping = ColumnMapping("text", "label")
    streamed = stream_dataset(path, mapping, chunk_rows=500, progress=seen.append)
    assert [p.chunks for p in seen] == list(range(1, streamed.chunks + 1))
    assert [p.rows for p in seen] == sorted({p.rows for p in seen})
    assert seen[-1].rows == streamed.report.rows and seen[-1].fraction == 1.0
    assert all(p.total_bytes == path.stat().st_size for p in seen)
    again = stream_dataset(path, mapping, chunk_rows=500)
    assert again.content_hash == streamed.content_hash  # the callback changes nothing


def test_large_upload_is_streamed_and_stored_with_the_whole_file_id(monkeypatch, tmp_path):
    import streamlit as st

    from slm_core.store import RunStore

    data = _csv()
    # The whole-file path, through the page: the report before storing, then "Use this dataset".
    monkeypatch.setenv("SLM_HOME", str(tmp_path / "whole"))
    at = _data_page("reviews.csv", data)
    assert not any(STREAM_NOTICE in i.value for i in at.info)
    _click(at, "Use this dataset")
    whole_id = at.session_state["dataset_id"]

    # The same file over SLM_STREAM_MB, in another data folder.
    st.cache_resource.clear()
    st.cache_data.clear()
    home = tmp_path / "streamed"
    monkeypatch.setenv("SLM_HOME", str(home))
    monkeypatch.setenv("SLM_STREAM_MB", LOW_MB)
    at = _data_page("reviews.csv", data)
    assert any(STREAM_NOTICE in i.value for i in at.info)
    assert not at.metric  # no report before the whole file is read
    assert next(s for s in at.selectbox if s.label == "Text column").value == "text"
    next(s for s in at.selectbox if s.label == "Group column (optional)").set_value("region")
    at.number_input[0].set_value(7)  # the seed: kept with the dataset
    at.run()
    assert not _leftovers(home)  # the preview's copy is gone already
    before = _stored_ids(home)
    _click(at, STREAM_BUTTON)

    stored = _stored_ids(home) - before
    assert len(stored) == 1
    (dataset_id,) = stored
    assert at.session_state["dataset_id"] == dataset_id  # made active
    assert any(dataset_id in s.value for s in at.success)  # "Saved as dataset …"
    metrics = {m.label: m.value for m in at.metric}  # the report, kept after the rerun
    assert metrics["Rows"] == "1,502" and metrics["Classes"] == "2"
    assert not _leftovers(home)

    record = RunStore(home=home).get_dataset(dataset_id)
    assert record.source == "upload" and record.filename == "reviews.csv"
    assert record.mapping["group"] == "region" and record.split_config["seed"] == 7
    # The whole-file path with the same mapping gives the same id (the group column is kept).
    from slm_core.data.io import read_table
    from slm_core.dataset import prepare_dataset

    read = read_table(data, "reviews.csv")
    mapping = ColumnMapping("text", "label", group="region")
    prepared = prepare_dataset(read, mapping, "reviews.csv", "reviews.csv")
    assert dataset_id == prepared.dataset_id
    frame = RunStore(home=home).load_frame(dataset_id)
    pd.testing.assert_frame_equal(frame, prepared.frame.reset_index(drop=True))
    # Without the group column it is the whole-file page's dataset.
    plain = prepare_dataset(read, ColumnMapping("text", "label"), "reviews.csv")
    assert plain.dataset_id == whole_id


def test_stream_mode_says_why_in_chinese(stream_home):
    at = _data_page("评论.csv", _csv(400))
    # The language last: AppTest formats a widget's value outside the script, in English, so
    # it can send the page's widgets only once more after the switch.
    at.selectbox(key="lang").set_value("zh")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    notice = next(i.value for i in at.info if "分块读取" in i.value)
    assert "SLM_STREAM_MB" in notice and "0.01 MB" in notice
    assert any(b.label == "读取整个文件并使用" for b in at.button)


def _ragged() -> bytes:
    return _csv(600) + b"one row,pos,north,too many\n"


def _one_class() -> bytes:
    return b"text,label\n" + b"".join(b"a text number %d,pos\n" % i for i in range(900))


@pytest.mark.parametrize(
    ("name", "data", "when", "key"),
    [
        ("junk.csv", bytes(range(256)) * 200, "preview", "errors.decode.binary_data"),
        ("ragged.csv", _ragged(), "store", "errors.delimited.ragged_rows"),
        ("one_class.csv", _one_class(), "store", "errors.problem.one_class"),
    ],
    ids=["binary", "ragged", "one_class"],
)
def test_bad_file_in_stream_mode_gives_one_error_box(stream_home, name, data, when, key):
    at = _data_page(name, data)
    assert any(STREAM_NOTICE in i.value for i in at.info)
    before = _stored_ids(stream_home)
    if when == "store":
        assert not at.error
        _click(at, STREAM_BUTTON)
    assert len(at.error) == 1, [e.value for e in at.error]
    assert key in _error_keys(at), [e.value for e in at.error]
    assert _stored_ids(stream_home) == before  # nothing stored
    assert "dataset_id" not in at.session_state or at.session_state["dataset_id"] in before
    assert not _leftovers(stream_home)


def test_full_disk_while_storing_gives_one_error_box(stream_home, monkeypatch):
    at = _data_page("reviews.csv", _csv(600))  # the preview is read (and cached) before

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(upload_stream.shutil, "copyfileobj", full)
    before = _stored_ids(stream_home)
    _click(at, STREAM_BUTTON)
    assert len(at.error) == 1 and _error_keys(at) == {"errors.storage.disk_full"}
    assert _stored_ids(stream_home) == before
    assert not _leftovers(stream_home)


def test_the_preview_reads_the_first_bytes_when_they_hold_the_head(tmp_path, monkeypatch):
    """A large upload's preview copies only its first HEAD_BYTES when they hold HEAD_ROWS whole
    rows; a quoted text cut where they end, or too few rows, reads the whole upload instead.
    Either way the preview is what the whole file's head is."""
    import io

    from slm_core.data.stream import read_head

    monkeypatch.setattr(upload_stream, "HEAD_ROWS", 50)
    monkeypatch.setattr(upload_stream, "HEAD_BYTES", 4000)
    copied = []
    staged = upload_stream.staged_upload

    def spy(fileobj, filename, folder, limit=None):
        copied.append(limit)
        return staged(fileobj, filename, folder, limit)

    monkeypatch.setattr(upload_stream, "staged_upload", spy)
    short = "text,label\n" + "".join(f"row number {i} 你好,{'ab'[i % 2]}\n" for i in range(400))
    quoted = "text,label\n" + "".join(
        f'"a long text {i}\n{"word " * 200}",{"ab"[i % 2]}\n' for i in range(60)
    )
    for content, limits in ((short, [4000]), (quoted, [4000, None])):
        copied.clear()
        whole = tmp_path / "whole.csv"
        whole.write_text(content, encoding="utf-8")
        expected = read_head(whole, rows=50)
        upload = io.BytesIO(content.encode("utf-8"))
        read = upload_stream.read_upload_head(upload, "big.csv", tmp_path)
        assert copied == limits
        pd.testing.assert_frame_equal(read.frame, expected.frame)
        assert read.detected == expected.detected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["whole.csv"]  # no copy left
