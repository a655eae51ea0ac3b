"""Keras models above ``SLM_KERAS_STREAM_ROWS`` training texts learn from Parquet shards read a
chunk at a time (issue 16); below it they train in memory exactly as before."""

from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd
import pytest

from slm_core.data import shards
from slm_core.errors import CancelledError
from slm_core.models import keras_shards, neural
from slm_core.models.base import TrainCallbacks

TOPICS = {
    "sport": "match goal team coach league score player season win",
    "money": "bank price market profit shares tax budget loan interest",
    "tech": "phone software chip internet app data cloud robot code",
}
FILLER = ["the", "a", "today", "report", "says", "note", "about", "new", "some", "more"]
# Small enough for seconds on two cores, large enough for several shards and chunks.
TINY = {
    "epochs": 2,
    "embedding_dim": 16,
    "units": 16,
    "vocab_size": 300,
    "batch_size": 16,
    "learning_rate": 1e-2,
}


def topic_frame(per_topic: int = 150, seed: int = 0) -> pd.DataFrame:
    """Distinct easy texts (three topics whose words never overlap), sorted by label as files
    often are: a reader that did not shuffle would see one label per chunk."""
    rng = random.Random(seed)
    rows = []
    for label, words in TOPICS.items():
        for i in range(per_topic):
            tokens = rng.sample(words.split(), 3) + rng.sample(FILLER, rng.randint(1, 6))
            rng.shuffle(tokens)
            rows.append((" ".join(tokens) + f" n{label[0]}{i}", label))
    return pd.DataFrame(rows, columns=["text", "label"])


@pytest.fixture
def small_shards(monkeypatch):
    """Shards of 100 rows in chunks of 40, so a few hundred texts make several of each."""
    monkeypatch.setattr(shards, "SHARD_ROWS", 100)
    monkeypatch.setattr(shards, "CHUNK_ROWS", 40)


def _train_run(store, dataset_id: str, params: dict) -> tuple[int, dict]:
    """Train a run as the worker does (without the value checks that follow)."""
    from slm_core.train import train_stored_run

    run = store.create_run(dataset_id, "cnn", "quick", params)
    assert store.claim_run(run.id, 1)
    return run.id, train_stored_run(store, run.id)


def test_a_large_split_trains_streamed_and_a_small_one_as_before(
    fresh_home, monkeypatch, small_shards
):
    from slm_core.data.split import content_hash
    from slm_core.models.registry import build
    from slm_core.store import RunStore
    from slm_core.train import run_splits

    store = RunStore()
    frame = topic_frame()
    dataset = store.add_dataset("topics", "cli", "t.csv", content_hash(frame), frame, report={})
    reads: list[int] = []
    read = shards.ShardSet.read

    def counted(self, chunk, columns):
        out = read(self, chunk, columns)
        reads.append(len(out[columns[0]]))
        return out

    monkeypatch.setattr(shards.ShardSet, "read", counted)
    monkeypatch.setenv("SLM_KERAS_STREAM_ROWS", "100")

    def no_lists(*args, **kwargs):
        raise AssertionError("a streamed run must not hand the model lists")

    with monkeypatch.context() as patch:
        patch.setattr(neural.KerasTextClassifier, "fit", no_lists)
        streamed_id, metrics = _train_run(store, dataset.id, TINY)
    mode = metrics["training_mode"]
    n_train = metrics["split_sizes"]["train"]
    assert mode["mode"] == "streamed" and mode["family"] == "neural"
    assert mode["rows"] == n_train > 100 and mode["threshold"] == 100
    assert mode["variable"] == "SLM_KERAS_STREAM_ROWS" and mode["shards"] == 4
    assert metrics["accuracy"] >= 0.9  # three topics that share no word
    # Every read is one chunk; the training split is read once for the vocabulary and once
    # per epoch, never whole.
    assert max(reads) <= 40 and sum(reads) >= n_train * (1 + TINY["epochs"])
    runs = fresh_home / "runs"
    assert not [p.name for p in runs.iterdir() if p.name.startswith(".")]  # shards removed
    saved = store.artifact_dir(streamed_id)
    assert (
        len(pd.read_parquet(saved / "test_predictions.parquet")) == metrics["split_sizes"]["test"]
    )
    assert len(pd.read_parquet(saved / "val_predictions.parquet")) == metrics["split_sizes"]["val"]

    monkeypatch.setenv("SLM_KERAS_STREAM_ROWS", str(n_train))  # at the limit: in memory
    reads.clear()
    quick = {**TINY, "epochs": 1}  # what is compared below does not depend on epochs
    memory_id, metrics = _train_run(store, dataset.id, quick)
    mode = metrics["training_mode"]
    assert mode["mode"] == "in_memory" and not reads
    # Both derive the same vocabulary and sequence length from the same training texts.
    meta = {
        run_id: json.loads((store.artifact_dir(run_id) / "model" / "model.json").read_text())
        for run_id in (streamed_id, memory_id)
    }
    assert meta[streamed_id]["max_len"] == meta[memory_id]["max_len"]
    assert meta[streamed_id]["training"]["mode"] == "streamed"
    vocab = [
        json.loads((store.artifact_dir(r) / "model" / "vocab.json").read_text())
        for r in (streamed_id, memory_id)
    ]
    assert vocab[0] == vocab[1]
    # Below the limit a run is the model's in-memory fit on the split's lists, as before.
    splits = run_splits(store, store.get_run(memory_id))
    model = build("cnn", "quick", quick, token_unit="word", seed=42)
    model.fit(
        splits.train["text"].tolist(),
        splits.train["label"].tolist(),
        splits.val["text"].tolist(),
        splits.val["label"].tolist(),
    )
    stored = pd.read_parquet(store.artifact_dir(memory_id) / "test_predictions.parquet")
    proba = model.predict_proba(splits.test["text"].tolist())
    columns = [f"p:{c}" for c in model.classes_]
    np.testing.assert_allclose(stored[columns].to_numpy(), proba, atol=1e-6)


def test_a_streamed_run_cancelled_leaves_no_shards(fresh_home, monkeypatch, small_shards):
    from slm_core.data.split import content_hash
    from slm_core.store import RunStore
    from slm_core.train import train_stored_run

    monkeypatch.setenv("SLM_KERAS_STREAM_ROWS", "100")
    store = RunStore()
    frame = topic_frame()
    dataset = store.add_dataset("topics", "cli", "t.csv", content_hash(frame), frame, report={})
    run = store.create_run(dataset.id, "cnn", "quick", TINY)
    assert store.claim_run(run.id, 1)
    store.request_cancel(run.id)  # seen at the first check, once the shards are written
    with pytest.raises(CancelledError):
        train_stored_run(store, run.id)
    assert not list((fresh_home / "runs").iterdir())


def _split_shards(tmp_path, frame: pd.DataFrame):
    train = shards.write_shards(frame, tmp_path / "train", seed=1)
    val = shards.write_shards(frame.iloc[::7], tmp_path / "val")
    return train, val


def test_streamed_fit_derives_what_the_in_memory_fit_derives(tmp_path, monkeypatch, small_shards):
    monkeypatch.setattr(keras_shards, "LSA_SAMPLE", 150)  # a sample smaller than the split
    frame = topic_frame(per_topic=80)
    train, val = _split_shards(tmp_path, frame)
    assert len(train.paths) == 3 and max(train.chunk_sizes()) == 40
    assert train.to_frame()["label"].iloc[:40].nunique() == 3  # written shuffled
    settings = {**TINY, "epochs": 1, "lsa_init": True, "class_weight": True}
    streamed = neural.build("cnn", settings, token_unit="word", seed=3)
    streamed.fit_shards(train, val)
    memory = neural.build("cnn", settings, token_unit="word", seed=3)
    texts, labels = frame["text"].tolist(), frame["label"].tolist()
    memory.fit(texts, labels, texts[::7], labels[::7])
    assert streamed.vocabulary_.terms == memory.vocabulary_.terms
    assert streamed.max_len_ == memory.max_len_
    assert streamed.classes_ == memory.classes_ and streamed.lsa_used_ and memory.lsa_used_
    assert streamed.training_mode_["mode"] == "streamed"
    assert memory.training_mode_["mode"] == "in_memory"
    assert set(streamed.history_["val_loss"]) and streamed.n_params_ == memory.n_params_


def test_a_streamed_fit_stops_when_cancelled(tmp_path, small_shards):
    train, val = _split_shards(tmp_path, topic_frame(per_topic=80))
    seen: list[tuple[int, int, int]] = []
    hooks = TrainCallbacks(
        on_batch=lambda epoch, batch, total: seen.append((epoch, batch, total)),
        should_stop=lambda: len(seen) >= 3,
    )
    model = neural.build("cnn", {**TINY, "epochs": 3}, token_unit="word", seed=0)
    with pytest.raises(CancelledError):
        model.fit_shards(train, val, callbacks=hooks)
    # Keras counted the batches: the first epoch's total is known from its first batch.
    expected = sum(np.ceil(n / 16) for n in train.chunk_sizes())
    assert len(seen) == 3 and {total for _, _, total in seen} == {expected}


def test_the_keras_training_mode_is_said_with_its_reason_in_both_languages():
    from slm_core.models.names import training_mode_text

    mode = {
        "mode": "streamed",
        "family": "neural",
        "rows": 240_000,
        "threshold": 200_000,
        "variable": "SLM_KERAS_STREAM_ROWS",
        "shards": 5,
        "chunk": 10_000,
    }
    assert training_mode_text(mode) == (
        "Trained by streaming from Parquet shards (files: 5), 10,000 texts at a time: "
        "240,000 training texts are more than SLM_KERAS_STREAM_ROWS = 200000."
    )
    assert training_mode_text(mode, "zh").startswith("从 5 个 Parquet 分片流式训练")
    small = {**mode, "mode": "in_memory", "rows": 1_484, "variable": "SLM_OUT_OF_CORE_ROWS"}
    assert training_mode_text(small) == (
        "Trained in memory: 1,484 training texts are at most SLM_OUT_OF_CORE_ROWS = 200000."
    )
    assert training_mode_text(small, "zh").startswith("内存内训练")


def test_the_limit_falls_back_to_the_linear_models_own(monkeypatch):
    monkeypatch.delenv("SLM_KERAS_STREAM_ROWS", raising=False)
    monkeypatch.delenv("SLM_OUT_OF_CORE_ROWS", raising=False)
    assert keras_shards.stream_rows() == (200_000, "SLM_KERAS_STREAM_ROWS")
    monkeypatch.setenv("SLM_OUT_OF_CORE_ROWS", "5000")
    assert keras_shards.stream_rows() == (5000, "SLM_OUT_OF_CORE_ROWS")
    monkeypatch.setenv("SLM_KERAS_STREAM_ROWS", "7000")
    assert keras_shards.stream_rows() == (7000, "SLM_KERAS_STREAM_ROWS")
