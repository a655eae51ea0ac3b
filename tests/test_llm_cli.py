"""``python -m slm_core llm``: the hosted LLM measured from the command line, in a subprocess as a
pipeline would run it, against the fake OpenAI-compatible server on 127.0.0.1.

One SLM_HOME for the module holds a small 3-topic dataset and one quick linear model; each test
measures it anew. The key travels in the environment only: it must appear in no output and in
no file under SLM_HOME.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from llm_server import FakeChatServer, label_answerer

from slm_core.llm import llm_runs
from slm_core.llm.measurement import load_measurement
from slm_core.resample import wilson_interval
from slm_core.store import RunStore
from tests.conftest import TOPIC_WORDS, planted_gap_frame, run_cli, store_trained_runs

KEY = "sk-test-cli-key-9f8e7d6c5b4a"
MODEL = "fake-model"
NAME = "cli topics"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """(SLM_HOME, dataset id, small run id, truth by prompt text) for every test here."""
    home = tmp_path_factory.mktemp("llm_cli_home")
    store = RunStore(f"sqlite:///{home / 'runs.sqlite'}", home)
    frame = planted_gap_frame(TOPIC_WORDS, 80)
    dataset, (run_id,) = store_trained_runs(
        store, frame, {"token_unit": "word"}, name=NAME, models=("tfidf_lr",)
    )
    truth = dict(zip("Text:\n" + frame["text"], frame["label"], strict=True))
    return home, dataset.id, run_id, truth


def _cli(home: Path, *args: str, key: str | None = KEY):
    env = {"SLM_HOME": str(home), "SLM_LLM_API_KEY": key or "", "OPENAI_API_KEY": ""}
    return run_cli("llm", *args, env=env, timeout=120)


def _store(home: Path) -> RunStore:
    return RunStore(f"sqlite:///{home / 'runs.sqlite'}", home)


def _no_key_anywhere(home: Path, *outputs: str) -> None:
    for text in outputs:
        assert KEY not in text
    for path in home.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_measures_and_prints_json(home):
    folder, dataset_id, small_id, truth = home
    with FakeChatServer(answer=label_answerer(truth), api_key=KEY) as srv:
        args = ("--dataset", NAME, "--base-url", srv.base_url, "--model", MODEL)
        prices = ("--input-price", "0.15", "--output-price", "0.6")
        done = _cli(folder, *args, "--sample", "40", "--budget", "1.00", *prices, "--json")
        asked = srv.count
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    out = json.loads(done.stdout)
    s = out["summary"]
    m = load_measurement(_store(folder), out["run_id"])
    assert out["status"] == "succeeded" and out["dataset_id"] == dataset_id
    assert s["n"] == m.n == asked == min(40, m.test_size)
    assert s["accuracy"] == pytest.approx(1.0)  # the fake answers every text right
    assert s["accuracy_ci"] == pytest.approx(list(wilson_interval(m.n, m.n)))
    assert s["kind"] == "measured" and s["model"] == MODEL and s["base_url"] == srv.base_url
    assert s["usd_per_million"] == pytest.approx(m.usd_per_million) and s["cost_usd"] > 0
    assert s["price_source"] == "stated on the command line"
    assert out["estimate"]["n_texts"] == m.n and out["estimate"]["kind"] == "modelled"
    (c,) = out["comparisons"]
    assert c["run_id"] == small_id and c["n"] == m.n and c["verdict"]
    _no_key_anywhere(folder, done.stdout, done.stderr)


def test_budget_stops_early_and_text_output(home):
    folder, dataset_id, _, truth = home
    with FakeChatServer(answer=label_answerer(truth), api_key=KEY) as srv:
        done = _cli(
            folder,
            *("--dataset", dataset_id, "--base-url", srv.base_url, "--model", MODEL),
            # About 0.05 USD a text at these prices: the budget allows a handful of texts.
            *("--input-price", "1000", "--output-price", "1000", "--budget", "0.2"),
            *("--sample", "30", "--concurrency", "2"),
        )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1].startswith("estimate: 30 test texts") and lines[2] == "budget: $0.20"
    run = llm_runs(_store(folder).list_runs(dataset_id=dataset_id))[0]
    m = load_measurement(_store(folder), run.id)
    assert m.stopped == "budget" and 0 < m.n < 30 and m.cost_usd <= 0.2
    assert f"{m.label}: measured on {m.n} test texts" in done.stdout
    assert f"stopped at the budget after {m.n} of 30 planned texts" in done.stdout
    low, high = m.accuracy_ci
    assert f"{m.accuracy:.1%} ({low:.1%}–{high:.1%}, Wilson 95%)" in done.stdout
    _no_key_anywhere(folder, done.stdout, done.stderr)


def test_wrong_key_exits_2_with_one_line_without_the_key(home):
    folder, dataset_id, _, truth = home
    with FakeChatServer(answer=label_answerer(truth), api_key="sk-the-right-one-1234") as srv:
        done = _cli(
            folder,
            *("--dataset", dataset_id, "--base-url", srv.base_url, "--model", MODEL),
            *("--sample", "10", "--json"),
        )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: measurement run") and "refused the API key (HTTP 401)" in line
    assert json.loads(done.stdout)["status"] == "failed"
    assert "Traceback" not in done.stderr
    _no_key_anywhere(folder, done.stdout, done.stderr)


def test_unknown_model_exits_2(home):
    folder, dataset_id, _, truth = home
    with FakeChatServer(answer=label_answerer(truth), api_key=KEY) as srv:
        done = _cli(
            folder,
            *("--dataset", dataset_id, "--base-url", srv.base_url, "--model", "no-such-model"),
            "--sample",
            "10",
        )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "has no model no-such-model (HTTP 404)" in line
    _no_key_anywhere(folder, done.stdout, done.stderr)


def test_user_errors_exit_2_before_anything_is_sent(home):
    folder, dataset_id, _, _ = home
    remote = ("--base-url", "https://api.example.invalid/v1", "--model", MODEL)
    no_key = _cli(folder, "--dataset", dataset_id, *remote, key=None)
    assert no_key.returncode == 2 and "No API key" in no_key.stderr
    bad_sample = _cli(folder, "--dataset", dataset_id, *remote, "--sample", "0")
    assert bad_sample.returncode == 2 and "--sample" in bad_sample.stderr
    no_dataset = _cli(folder, "--dataset", "nope-nope", *remote)
    assert no_dataset.returncode == 2 and len(no_dataset.stderr.strip().splitlines()) == 1
    for done in (no_key, bad_sample, no_dataset):
        assert "Traceback" not in done.stderr
    _no_key_anywhere(folder, *(d.stdout + d.stderr for d in (no_key, bad_sample, no_dataset)))
