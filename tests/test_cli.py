"""The headless CLI, driven in a subprocess as a pipeline would."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from sklearn.metrics import f1_score

from slm_core.resample import wilson_interval
from tests.conftest import SAMPLE_ZH, run_cli


def _sample_texts() -> list[str]:
    with SAMPLE_ZH.open(encoding="utf-8") as handle:
        return [row[0] for row in list(csv.reader(handle))[1:]]


def _stored_test_answers(store, run_id: int) -> tuple[float, float, int, int]:
    """Accuracy, macro-F1, right answers and test size recomputed from the stored predictions."""
    from slm_core.train import load_test_predictions

    preds = load_test_predictions(store, run_id)
    right = sum(t == p for t, p in zip(preds.y_true, preds.y_pred, strict=True))
    n = len(preds.y_true)
    f1 = f1_score(preds.y_true, preds.y_pred, average="macro", zero_division=0)
    return right / n, float(f1), right, n


def test_inspect_json_on_chinese_sample():
    result = run_cli("inspect", str(SAMPLE_ZH), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["rows"] == 40
    assert set(report["classes"]) == {"退款", "物流", "账户"}
    assert report["script"] == "cjk"
    assert report["token_unit"] == "char"
    assert report["encoding"].lower().startswith("utf")
    assert report["delimiter"] == ","
    assert report["header"] is True
    # The sample's 40 texts are distinct, each with one label, and written in Chinese characters
    # (the rest is full-width punctuation).
    assert len(set(_sample_texts())) == 40
    assert (report["duplicate_rows"], report["conflicting_texts"]) == (0, 0)
    assert report["errors"] == [] and report["warnings"] == []
    chars = "".join(_sample_texts()).replace(" ", "")
    cjk = sum("\u4e00" <= ch <= "\u9fff" for ch in chars)
    assert report["cjk_share"] == pytest.approx(cjk / len(chars))


def test_inspect_columns_by_index_and_human_table():
    result = run_cli("inspect", str(SAMPLE_ZH), "--text-col", "0", "--label-col", "1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"^Rows\s+40$", out, re.M)
    for label, count, share in (
        ("退款", 14, "35.0%"),
        ("物流", 13, "32.5%"),
        ("账户", 13, "32.5%"),
    ):
        assert re.search(rf"^\s+{label}\s+{count}\s+{re.escape(share)}$", out, re.M), label


def test_inspect_one_class_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "one.csv"
    bad.write_text("text,label\nhello there friend,a\nanother text here,a\nmore text here,a\n")
    result = run_cli("inspect", str(bad), "--text-col", "text", "--label-col", "label")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr + result.stdout


def test_inspect_missing_file_and_bad_column(tmp_path):
    missing = run_cli("inspect", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2 and "not found" in missing.stderr
    bad_col = run_cli("inspect", str(SAMPLE_ZH), "--text-col", "nope", "--label-col", "类别")
    assert bad_col.returncode == 2
    assert "nope" in bad_col.stderr and "Traceback" not in bad_col.stderr


def test_inspect_empty_file(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    result = run_cli("inspect", str(empty))
    assert result.returncode == 2
    assert "empty" in result.stderr.lower()


def test_inspect_demo_bbc_counts():
    result = run_cli("inspect", "--demo", "bbc_news", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["rows"] == 2225
    assert len(report["classes"]) == 5


def test_train_json_and_run_store(tmp_path):
    home = tmp_path / "home"
    result = run_cli(
        "train",
        str(SAMPLE_ZH),
        "--text-col",
        "工单内容",
        "--label-col",
        "类别",
        "--models",
        "tfidf_lr,nb",
        "--preset",
        "quick",
        "--json",
        env={"SLM_HOME": str(home)},
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert len(out["dataset_id"]) == 12
    assert [r["model"] for r in out["runs"]] == ["tfidf_lr", "nb"]

    from slm_core.store import RunStore

    store = RunStore(f"sqlite:///{home / 'runs.sqlite'}", home)
    runs = store.list_runs(dataset_id=out["dataset_id"])
    assert {r.status for r in runs} == {"succeeded"}
    assert sorted(r["run_id"] for r in out["runs"]) == sorted(r.id for r in runs)
    for run in out["runs"]:
        # The printed scores are those of the predictions stored for the run's test texts.
        accuracy, macro_f1, _, n = _stored_test_answers(store, run["run_id"])
        assert n >= 6  # a real test split of the 40 texts, not an empty one
        assert run["accuracy"] == pytest.approx(accuracy)
        assert run["macro_f1"] == pytest.approx(macro_f1)
        assert run["train_seconds"] > 0
        assert Path(run["artifact_path"]) == store.artifact_dir(run["run_id"])
        assert any(Path(run["artifact_path"]).iterdir())


def test_train_unknown_model_exits_2():
    result = run_cli("train", str(SAMPLE_ZH), "--models", "gpt5", "--json")
    assert result.returncode == 2
    assert "gpt5" in result.stderr and "Traceback" not in result.stderr


def test_train_and_evaluate_on_postgresql(tmp_path, pg_url):
    # The shared-deployment setup: the README's plain postgresql:// URL, files in SLM_HOME.
    env = {"SLM_HOME": str(tmp_path / "home"), "SLM_DATABASE_URL": pg_url}
    trained = run_cli(
        *("train", str(SAMPLE_ZH), "--text-col", "工单内容", "--label-col", "类别"),
        *("--models", "tfidf_lr", "--preset", "quick", "--json"),
        env=env,
    )
    assert trained.returncode == 0, trained.stderr
    run_id = json.loads(trained.stdout)["runs"][0]["run_id"]
    evaluated = run_cli("evaluate", "--run", str(run_id), "--json", env=env)
    assert evaluated.returncode == 0, evaluated.stderr
    evaluation = json.loads(evaluated.stdout)

    from slm_core.store import RunStore

    store = RunStore(pg_url, tmp_path / "home")
    assert store.engine.dialect.name == "postgresql"
    assert store.get_run(run_id).status == "succeeded"
    accuracy, macro_f1, right, n = _stored_test_answers(store, run_id)
    assert evaluation["n"] == n
    assert evaluation["accuracy"] == pytest.approx(accuracy)
    assert evaluation["macro_f1"] == pytest.approx(macro_f1)
    assert evaluation["accuracy_ci"] == pytest.approx(list(wilson_interval(right, n)))
    assert store.get_result(run_id, "evaluation") == evaluation  # cached in PostgreSQL
    missing = run_cli("evaluate", "--run", "99999999999", "--json", env=env)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        ([], "(see `python -m slm_core -h`)"),
        (["fly"], "(see `python -m slm_core -h`)"),
        (["train", "--bogus"], "(see `python -m slm_core train -h`)"),
        (["llm", "--no-such-flag"], "(see `python -m slm_core llm -h`)"),
    ],
)
def test_usage_errors_name_the_help_command_once(argv, hint, capsys):
    from slm_core.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2
    assert len(err) == 1 and err[0].startswith("error: ") and err[0].endswith(hint)
    assert "slm_core slm_core" not in err[0]
