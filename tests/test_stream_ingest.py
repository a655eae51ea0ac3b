"""Streaming ingestion (slm_core.data.stream): the same report, rows and hash as the in-memory
path, in chunks; the store's pre-written frames; the CLI's ``ingest``."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from slm_core.data.columns import guess_mapping
from slm_core.data.io import read_table
from slm_core.data.split import content_hash, make_splits
from slm_core.data.stream import read_head, register_streamed, stream_dataset
from slm_core.data.types import ColumnMapping, ReadOptions
from slm_core.data.validate import validate_canonical
from slm_core.errors import DataError

_WORDS = [
    "good",
    "bad",
    "great",
    "awful",
    "movie",
    "film",
    "plot",
    "actor",
    "loved",
    "hated",
    "boring",
    "fun",
    "好",
    "坏",
    "电影",
    "很好",
    "LOVED",
    "soooo",
    "meh",
    "ok",
    "fine",
    "ＧＲＥＡＴ",
]
_LABELS = ("pos", "neg", "neu", "", "1.0", "1", " pos ")
FULL = ColumnMapping("text", "label", "group", "split")


def _rows(n: int, seed: int = 1, rare: bool = True) -> list[tuple[str, str, str, str]]:
    """Texts with repeats, conflicts, empties, odd spacing; labels that normalise together."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(0, 6)))
        if rng.random() < 0.1:
            text = "  " + text.upper() + "!!\t"
        if rng.random() < 0.05 and rows:
            text = rng.choice(rows)[0]
        label = rng.choice(_LABELS) if not rare or rng.random() < 0.95 else f"rare{i % 7}"
        group = rng.choice(["a", "b", "", "c"])
        split = rng.choice(["train", "test", "val", "TRAIN", "dev"])
        rows.append((text, label, group, split))
    return rows


def _write(path: Path, rows, **to_csv) -> Path:
    frame = pd.DataFrame(rows, columns=["text", "label", "group", "split"])
    if path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_csv(path, index=False, **to_csv)
    return path


def _in_memory(path: Path, mapping: ColumnMapping | None = None, options=ReadOptions()):  # noqa: B008
    read = read_table(path.read_bytes(), path.name, options)
    mapping = mapping or guess_mapping(read.frame)
    report, canon = validate_canonical(read.frame, mapping, read.detected)
    return mapping, report, canon


def _assert_same(path: Path, tmp_path: Path, mapping=None, chunk_rows=333, options=ReadOptions()):  # noqa: B008
    mapping, report, canon = _in_memory(path, mapping, options)
    if mapping is None:
        assert guess_mapping(read_head(path, options).frame) == mapping
    out = tmp_path / "frame.parquet"
    streamed = stream_dataset(path, mapping, options=options, out=out, chunk_rows=chunk_rows)
    assert streamed.report.to_dict() == report.to_dict()
    assert streamed.content_hash == content_hash(canon)
    pd.testing.assert_frame_equal(pd.read_parquet(out), canon.reset_index(drop=True))
    return streamed


@pytest.mark.parametrize("mapping", [None, FULL, ColumnMapping("text", "label", group="group")])
def test_csv_streams_to_the_in_memory_report_rows_and_hash(tmp_path, mapping):
    path = _write(tmp_path / "f.csv", _rows(3000))
    streamed = _assert_same(path, tmp_path, mapping)
    report = streamed.report
    assert report.duplicate_rows > 0 and report.conflicting_texts > 0 and report.empty_texts > 0
    assert streamed.chunks == 10 and streamed.max_chunk_rows == 333


def test_findings_match_for_split_values_groups_and_tiny_classes(tmp_path):
    rows = [(f"text number {i}", "big" if i % 50 else "tiny", "g" if i % 3 else "", "")
            for i in range(600)]  # fmt: skip
    rows += [("odd split", "big", "g", "holdout"), ("another odd", "big", "g", "later")]
    path = _write(tmp_path / "s.csv", rows)
    streamed = _assert_same(path, tmp_path, FULL, chunk_rows=100)
    codes = {p.code for p in streamed.report.errors + streamed.report.warnings}
    assert {"bad_split_values", "missing_groups"} <= codes


def test_jsonl_tsv_without_header_and_cp1252_stream_the_same(tmp_path):
    rows = _rows(1500, seed=2)
    _assert_same(_write(tmp_path / "f.jsonl", rows), tmp_path, None)
    tsv = _write(tmp_path / "f.tsv", rows, sep="\t", header=False)
    _assert_same(tsv, tmp_path, ColumnMapping("col_0", "col_1"))
    legacy = tmp_path / "l.csv"
    body = "".join(f"caf\u00e9 {i} na\u00efve r\u00e9sum\u00e9,{'xy'[i % 2]}\n" for i in range(300))
    legacy.write_bytes(("text,label\n" + body).encode("cp1252"))
    streamed = _assert_same(legacy, tmp_path)
    assert streamed.report.detected.encoding == "cp1252"


def test_sep_line_crlf_quoted_newlines_and_blank_lines_stream_the_same(tmp_path):
    path = tmp_path / "h.csv"
    head = b'sep=;\r\ntext;label\r\n"two\r\nlines";a\r\nhello there;b\r\n\r\n;a\r\n'
    body = b"".join(b"t%d x y;%s\r\n" % (i, b"ab"[i % 2 : i % 2 + 1]) for i in range(200))
    path.write_bytes(head + body)
    streamed = _assert_same(path, tmp_path, chunk_rows=7)
    assert streamed.report.detected.delimiter == ";"


def _error(fn) -> str:
    with pytest.raises(DataError) as caught:
        fn()
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_bad_files_raise_the_in_memory_paths_one_sentence(tmp_path):
    mapping = ColumnMapping("text", "label")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("text,label\n" + "fine text,a\n" * 50 + "one,too,many\nnot,enough,x,y\n")
    unclosed = tmp_path / "unclosed.csv"
    unclosed.write_text("text,label\n" + "fine text,a\n" * 50 + '"never closed,b\nmore,a\n')
    for path in (ragged, unclosed):
        expected = _error(lambda p=path: read_table(p.read_bytes(), p.name))
        out = tmp_path / "never.parquet"
        assert _error(lambda p=path, o=out: stream_dataset(p, mapping, out=o)) == expected
        assert not out.exists()  # no partial frame left behind
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert "empty" in _error(lambda: stream_dataset(empty, mapping)).lower()
    assert "chunks" in _error(lambda: stream_dataset(tmp_path / "x.xlsx", mapping))
    sparse = tmp_path / "sparse.csv"  # a header, then NUL bytes past the sampled first MiB
    with sparse.open("wb") as handle:
        handle.write(b"text,label\n")
        handle.truncate(3 * 1024 * 1024)
    assert "NUL bytes" in _error(lambda: stream_dataset(sparse, mapping))


def test_a_file_that_changes_encoding_after_its_start_is_refused(tmp_path):
    path = tmp_path / "late.csv"
    ok = "".join(f"plain text number {i},{'ab'[i % 2]}\n" for i in range(60_000))
    path.write_bytes(b"text,label\n" + ok.encode() + "caf\u00e9 au lait,a\n".encode("cp1252"))
    message = _error(lambda: stream_dataset(path, ColumnMapping("text", "label")))
    assert "not valid utf-8 on line 60,002" in message


def test_missing_column_gives_the_in_memory_report(tmp_path):
    path = _write(tmp_path / "f.csv", _rows(200))
    mapping = ColumnMapping("text", "nope")
    _, report, canon = _in_memory(path, mapping)
    streamed = stream_dataset(path, mapping, out=tmp_path / "o.parquet")
    assert canon is None and streamed.report.to_dict() == report.to_dict()
    assert not streamed.report.trainable and streamed.frame_file is None


def test_chunks_bound_what_is_held_and_become_row_groups(tmp_path):
    path = _write(tmp_path / "f.csv", _rows(2500))
    out = tmp_path / "o.parquet"
    streamed = stream_dataset(path, ColumnMapping("text", "label"), out=out, chunk_rows=400)
    meta = pq.ParquetFile(out).metadata
    assert streamed.chunks == 7 and streamed.max_chunk_rows == 400
    assert meta.num_row_groups == 7
    assert max(meta.row_group(i).num_rows for i in range(7)) == 400
    assert meta.num_rows == streamed.rows_written == 2500


def test_dedupe_leaves_out_what_clean_rows_drops_and_keeps_the_splits(tmp_path):
    path = _write(tmp_path / "f.csv", _rows(3000))
    mapping = ColumnMapping("text", "label")
    full = stream_dataset(path, mapping, out=tmp_path / "all.parquet", chunk_rows=500)
    kept = stream_dataset(path, mapping, out=tmp_path / "kept.parquet", chunk_rows=500, dedupe=True)
    frame_all = pd.read_parquet(tmp_path / "all.parquet")
    frame_kept = pd.read_parquet(tmp_path / "kept.parquet")
    assert kept.report.to_dict() == full.report.to_dict()  # the report describes the file
    assert kept.removed_duplicates > 0
    assert len(frame_kept) == kept.rows_written == 3000 - kept.removed_duplicates
    assert kept.content_hash == content_hash(frame_kept) != full.content_hash
    a, b = make_splits(frame_all), make_splits(frame_kept)
    for part in ("train", "val", "test"):
        pd.testing.assert_frame_equal(getattr(a, part), getattr(b, part))


def test_store_adds_a_written_frame_once_with_the_in_memory_id(tmp_path):
    from slm_core.dataset import prepare_dataset, register_dataset
    from slm_core.store import RunStore

    path = _write(tmp_path / "f.csv", _rows(800, rare=False))
    store = RunStore(f"sqlite:///{tmp_path / 'runs.sqlite'}", tmp_path / "home")
    read = read_table(path.read_bytes(), path.name)
    mapping = guess_mapping(read.frame)
    first_path = store.staging_path()
    streamed = stream_dataset(path, mapping, out=first_path, name="f")
    record = register_streamed(store, streamed, source="cli")
    assert not first_path.exists() and store.frame_path(record.id).exists()
    assert record.rows == 800 and record.id == streamed.dataset_id
    again_path = store.staging_path()
    again = register_streamed(store, stream_dataset(path, mapping, out=again_path), "cli")
    assert again.id == record.id and not again_path.exists()
    prepared = prepare_dataset(read, mapping, "f", path.name)
    assert register_dataset(store, prepared, source="cli").id == record.id
    assert len(store.list_datasets()) == 1
    pd.testing.assert_frame_equal(store.load_frame(record.id), prepared.frame)


def test_untrainable_streamed_file_is_not_stored(tmp_path):
    from slm_core.store import RunStore

    path = tmp_path / "one.csv"
    path.write_text("text,label\n" + "".join(f"text {i} here,a\n" for i in range(30)))
    store = RunStore(f"sqlite:///{tmp_path / 'runs.sqlite'}", tmp_path / "home")
    staged = store.staging_path()
    streamed = stream_dataset(path, ColumnMapping("text", "label"), out=staged)
    assert [p.code for p in streamed.report.errors] == ["one_class"]
    message = _error(lambda: register_streamed(store, streamed, source="cli"))
    assert "one" in message.lower() and not staged.exists() and store.list_datasets() == []


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    from slm_core.cli import main

    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_ingest_streams_above_the_size_and_says_so(tmp_path, fresh_home, monkeypatch, capsys):
    path = _write(tmp_path / "f.csv", _rows(1200, rare=False))
    monkeypatch.setenv("SLM_STREAM_MB", "0.01")  # the file is ~40 KB
    code, out, err = _cli(capsys, "ingest", str(path), "--chunk-rows", "500", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert (
        data["read_mode"]["mode"] == "stream"
        and "SLM_STREAM_MB=0.01" in data["read_mode"]["reason"]
    )
    monkeypatch.setenv("SLM_STREAM_MB", "50")
    code, out, err = _cli(capsys, "ingest", str(path))
    assert code == 0, err
    assert "read in memory (0.0 MB is within SLM_STREAM_MB=50)" in out
    assert f"dataset_id: {data['dataset_id']}" in out  # same rows, same dataset
    code, out, err = _cli(capsys, "inspect", str(path), "--stream")
    assert code == 0 and "streamed in chunks of 50,000 rows (--stream)" in out


def test_cli_ingest_bad_file_exits_2_with_one_line(tmp_path, fresh_home, capsys):
    ragged = tmp_path / "ragged.csv"
    with ragged.open("w", newline="") as fh:
        csv.writer(fh).writerows([["text", "label"], *[["fine", "a"]] * 20, ["x", "y", "z"]])
    code, out, err = _cli(capsys, "ingest", str(ragged), "--stream")
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    assert "line 22 has 3" in err
    code, out, err = _cli(capsys, "ingest", str(tmp_path / "x.xlsx"), "--stream")
    assert code == 2 and "not found" in err
    one_class = tmp_path / "one.csv"
    one_class.write_text("text,label\n" + "".join(f"text {i} here,a\n" for i in range(30)))
    code, out, err = _cli(capsys, "ingest", str(one_class), "--stream")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "only one class" in err
    assert not [p.name for p in (fresh_home / "datasets").iterdir()]  # nothing left behind


# ----------------------------------------------------------------------------- out of core


@pytest.mark.parametrize("model_id", ["tfidf_lr", "tfidf_svm", "nb"])
def test_linear_models_train_out_of_core_above_the_limit(model_id, monkeypatch, tmp_path):
    from slm_core.models import linear
    from slm_core.models.registry import build, load_model
    from tests.conftest import make_topic_texts

    texts, labels = make_topic_texts()
    texts, labels = texts * 4, labels * 4  # 360 texts: several chunks of 50
    monkeypatch.setattr(linear, "OUT_OF_CORE_CHUNK", 50)
    monkeypatch.setattr(linear, "HASH_FEATURES", 2**14)  # small weights: a fast test
    monkeypatch.setenv("SLM_OUT_OF_CORE_ROWS", "100")
    model = build(model_id, "quick", {}, token_unit="word", seed=3)
    model.fit(texts, labels, texts[:30], labels[:30])
    mode = model.training_mode_
    assert mode["mode"] == "out_of_core" and mode["rows"] == 360 and mode["threshold"] == 100
    assert "SLM_OUT_OF_CORE_ROWS=100" in mode["reason"]
    assert isinstance(model.vectorizer_, linear.HashedTfidf)
    assert model.predict(["bank price market profit", "phone software chip app"]) == [
        "money",
        "tech",
    ]
    names = [name for name, _ in model.token_contributions("bank price market")]
    assert set(names) <= {"bank", "price", "market", "bank price", "price market"}
    model.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["training"]["mode"] == "out_of_core" and meta["served"]["form"] == "sklearn"
    loaded = load_model(tmp_path / "m")
    assert loaded.predict(["match goal team coach"]) == ["sport"]
    monkeypatch.setenv("SLM_OUT_OF_CORE_ROWS", "100000")
    in_memory = build(model_id, "quick", {}, token_unit="word", seed=3).fit(texts, labels)
    assert in_memory.training_mode_["mode"] == "in_memory"


def test_a_run_records_its_training_mode(fresh_home, monkeypatch):
    from slm_core.store import RunStore
    from tests.conftest import make_topic_texts, store_trained_runs

    texts, labels = make_topic_texts()
    frame = pd.DataFrame({"text": texts * 3, "label": labels * 3})
    frame["text"] = frame["text"] + pd.Series([f" copy {i // 90}" for i in range(270)])
    from slm_core.models import linear

    monkeypatch.setenv("SLM_OUT_OF_CORE_ROWS", "50")
    monkeypatch.setattr(linear, "HASH_FEATURES", 2**14)
    store = RunStore()
    _, (run_id,) = store_trained_runs(store, frame, {}, models=("tfidf_lr",))
    mode = store.get_run(run_id).metrics["training_mode"]
    assert mode["mode"] == "out_of_core" and mode["threshold"] == 50


def test_the_training_mode_is_said_with_its_reason_in_both_languages():
    from slm_core.models.names import training_mode_text

    mode = {"mode": "out_of_core", "rows": 250_000, "threshold": 200_000, "chunk": 20_000}
    assert training_mode_text(mode) == (
        "Trained out of core (hashed n-grams, 20,000 texts at a time): 250,000 training texts"
        " are more than SLM_OUT_OF_CORE_ROWS = 200000."
    )
    assert training_mode_text(mode, "zh").startswith("核外训练")
    small = {"mode": "in_memory", "rows": 1_484, "threshold": 200_000}
    assert training_mode_text(small).startswith("Trained in memory: 1,484 training texts")


def test_a_large_file_is_ingested_streamed_then_trained_by_dataset_id(tmp_path):
    from tests.conftest import make_topic_texts, run_cli

    texts, labels = make_topic_texts()
    path = tmp_path / "topics.csv"
    pd.DataFrame({"text": texts, "label": labels}).to_csv(path, index=False)
    env = {"SLM_HOME": str(tmp_path / "home"), "SLM_STREAM_MB": "0"}  # stream even this file
    ingested = run_cli("ingest", str(path), "--json", env=env)
    assert ingested.returncode == 0, ingested.stderr
    added = json.loads(ingested.stdout)
    assert added["read_mode"]["mode"] == "stream"
    trained = run_cli(
        "train", "--dataset", added["dataset_id"], "--preset", "quick", "--json", env=env
    )
    assert trained.returncode == 0, trained.stderr
    out = json.loads(trained.stdout)
    assert out["dataset_id"] == added["dataset_id"] and out["runs"][0]["status"] == "succeeded"
    both = run_cli("train", str(path), "--dataset", added["dataset_id"], env=env)
    assert both.returncode == 2 and "not both" in both.stderr
