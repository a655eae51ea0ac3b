"""Feedback: per-model summary, CSV export, and corrections as a new dataset version."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from slm_core import jobs
from slm_core.data.split import content_hash
from slm_core.errors import DataError
from slm_core.feedback import (
    add_corrections_as_version,
    corrections_csv,
    corrections_frame,
    feedback_stats,
    merged_frame,
)
from slm_core.store import RunStore
from slm_core.text import normalize_text
from tests.conftest import SAMPLE_ZH


@pytest.fixture
def zh_store(tmp_path):
    """A fresh store with the Chinese support-ticket sample and one trained run."""
    store = RunStore(f"sqlite:///{tmp_path / 'runs.db'}", tmp_path)
    raw = pd.read_csv(SAMPLE_ZH)
    # Stored frames are canonical: texts normalised as slm_core.data.validate does.
    texts = [normalize_text(v) for v in raw.iloc[:, 0].astype(str)]
    frame = pd.DataFrame({"text": texts, "label": raw.iloc[:, 1].astype(str)})
    dataset = store.add_dataset(
        "工单",
        "upload",
        SAMPLE_ZH.name,
        content_hash(frame),
        frame,
        report={"token_unit": "char"},
        split_config={"seed": 1},
    )
    run = store.create_run(dataset.id, "tfidf_lr", "quick", {})
    assert jobs.run_inline(store, run.id).status == "succeeded"
    return store, dataset, run.id, frame


def test_feedback_stats_and_corrections(zh_store):
    store, dataset, run_id, frame = zh_store
    assert feedback_stats(store, dataset.id) == {}
    assert corrections_frame(store, dataset.id).empty
    store.add_feedback(run_id, "快递三天了还没到", "物流", True)
    store.add_feedback(run_id, "我的账号被锁了怎么办", "物流", False, "账户")
    store.add_feedback(run_id, "我的账号被锁了怎么办", "物流", False, "退款")  # later wins
    store.add_feedback(run_id, "看不懂", "退款", False)  # wrong, but no correction
    stats = feedback_stats(store, dataset.id)[run_id]
    assert (stats.rated, stats.right) == (4, 1)
    assert stats.share_right == pytest.approx(0.25)
    assert stats.to_dict()["share_right"] == pytest.approx(0.25)

    corrections = corrections_frame(store, dataset.id)
    assert corrections[["text", "label"]].values.tolist() == [["我的账号被锁了怎么办", "退款"]]
    raw = corrections_csv(store, dataset.id)
    assert raw.startswith("\ufeff".encode())  # Excel reads UTF-8 with a BOM
    back = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig")
    assert back["text"].tolist() == ["我的账号被锁了怎么办"] and back["run_id"].tolist() == [run_id]


def test_corrections_become_a_new_version_and_the_old_one_is_unchanged(zh_store):
    store, dataset, run_id, frame = zh_store
    with pytest.raises(DataError, match="no corrected examples"):
        add_corrections_as_version(store, dataset.id)
    before = store.load_frame(dataset.id)
    existing_text, existing_label = frame["text"][0], frame["label"][0]
    new_label = next(lbl for lbl in frame["label"].unique() if lbl != existing_label)
    store.add_feedback(run_id, "我的账号被锁了怎么办", "物流", False, "账户")
    store.add_feedback(run_id, existing_text, existing_label, False, new_label)

    version = add_corrections_as_version(store, dataset.id)
    new = version.dataset
    assert (version.added, version.relabelled) == (1, 1)
    assert new.id != dataset.id and new.parent_id == dataset.id and new.source == "feedback"
    assert new.rows == dataset.rows + 1
    new_frame = store.load_frame(new.id)
    assert new_frame["label"][0] == new_label
    assert new_frame.iloc[-1].tolist() == ["我的账号被锁了怎么办", "账户"]
    assert new.report["token_unit"] == "char" and new.split_config["seed"] == 1
    # The parent is untouched: same record, same rows.
    assert store.get_dataset(dataset.id) == dataset
    pd.testing.assert_frame_equal(store.load_frame(dataset.id), before)
    # Asking again gives the same version rather than a duplicate.
    assert add_corrections_as_version(store, dataset.id).dataset.id == new.id
    # And the new version trains.
    run = store.create_run(new.id, "nb", "quick", {})
    assert jobs.run_inline(store, run.id).status == "succeeded"


def test_merged_frame_keeps_columns_and_sends_new_rows_to_training():
    parent = pd.DataFrame(
        {
            "text": ["a b", "c d"],
            "label": ["x", "y"],
            "group": ["g1", "g2"],
            "split": ["train", "test"],
        }
    )
    corrections = pd.DataFrame({"text": ["C D", "e f"], "label": ["x", "y"]})
    merged, added, relabelled = merged_frame(parent, corrections)
    assert (added, relabelled) == (1, 1)
    assert merged.values.tolist() == [
        ["a b", "x", "g1", "train"],
        ["c d", "x", "g2", "test"],
        ["e f", "y", "", "train"],
    ]
    assert parent["label"].tolist() == ["x", "y"]  # the input frame is not modified
