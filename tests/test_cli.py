"""The headless CLI, driven in a subprocess as a pipeline would."""

from __future__ import annotations

import json

from tests.conftest import SAMPLE_ZH, run_cli


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
    for key in ("duplicate_rows", "conflicting_texts", "errors", "warnings", "cjk_share"):
        assert key in report


def test_inspect_columns_by_index_and_human_table():
    result = run_cli("inspect", str(SAMPLE_ZH), "--text-col", "0", "--label-col", "1")
    assert result.returncode == 0, result.stderr
    assert "40" in result.stdout and "退款" in result.stdout


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
    for run in out["runs"]:
        for key in ("run_id", "model", "accuracy", "macro_f1", "train_seconds", "artifact_path"):
            assert run[key] is not None, key
        assert 0.0 <= run["accuracy"] <= 1.0

    from slm_core.store import RunStore

    store = RunStore(f"sqlite:///{home / 'runs.sqlite'}", home)
    runs = store.list_runs(dataset_id=out["dataset_id"])
    assert {r.status for r in runs} == {"succeeded"}


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
    assert 0.0 <= json.loads(evaluated.stdout)["accuracy"] <= 1.0

    from slm_core.store import RunStore

    store = RunStore(pg_url, tmp_path / "home")
    assert store.engine.dialect.name == "postgresql"
    assert store.get_run(run_id).status == "succeeded"
    assert store.get_result(run_id, "evaluation") is not None
    missing = run_cli("evaluate", "--run", "99999999999", "--json", env=env)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
