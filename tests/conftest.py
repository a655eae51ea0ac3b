"""Shared fixtures: an isolated SLM_HOME for the whole session and small in-memory corpora."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

from tests.pg_fixture import pg_cluster, pg_url  # noqa: F401  (fixtures for every test module)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_ZH = ROOT / "data" / "samples" / "support_tickets_zh.csv"

# Set before any test module is imported, so nothing can open the user's real store.
os.environ["SLM_HOME"] = tempfile.mkdtemp(prefix="slm_test_home_")
os.environ.pop("SLM_DATABASE_URL", None)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session", autouse=True)
def _models_load_from_test_folders(tmp_path_factory):
    """Tests save models in their own tmp_path, outside any run store: trust that folder tree
    (and only it) for loading, as a benchmark trusts its work folder (tests/test_safety.py
    checks the refusal without it)."""
    from slm_core.models.saved import trust_model_root

    trust_model_root(tmp_path_factory.getbasetemp())


@pytest.fixture
def fresh_home(tmp_path, monkeypatch) -> Path:
    """A fresh, empty SLM_HOME for one test."""
    monkeypatch.setenv("SLM_HOME", str(tmp_path))
    return tmp_path


def run_cli(*args: str, env: dict | None = None, timeout: int = 600):
    """Run ``python -m slm_core`` in a subprocess, as a user or a pipeline would."""
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", "slm_core", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


# Three topics whose words never overlap.
TOPIC_WORDS = {
    "sport": "match goal team coach league score player season win",
    "money": "bank price market profit shares tax budget loan interest",
    "tech": "phone software chip internet app data cloud robot code",
}


def make_topic_texts() -> tuple[list[str], list[str]]:
    """90 short English texts in 3 clearly separable topics."""
    texts, labels = [], []
    for label, vocab in TOPIC_WORDS.items():
        v = vocab.split()
        for i in range(30):
            texts.append(" ".join(v[(i + k) % len(v)] for k in range(5)) + f" item {i}")
            labels.append(label)
    return texts, labels


@pytest.fixture
def topic_texts() -> tuple[list[str], list[str]]:
    return make_topic_texts()


FILLER = ["the", "a", "today", "report", "says", "note", "about", "new", "some", "more"]


def planted_gap_frame(words: dict[str, str], per_class: int):
    """Topic texts with a group column; 'south' texts mix in a word of the next topic."""
    import random

    import pandas as pd

    rng = random.Random(0)
    texts, labels, groups = [], [], []
    names = list(words)
    for j, (label, vocab) in enumerate(words.items()):
        own, other = vocab.split(), words[names[(j + 1) % len(names)]].split()
        for i in range(per_class):
            if i % 2:  # the planted gap: south texts mix in a word of another topic
                words_of_text = [rng.choice(own), rng.choice(other), *rng.sample(FILLER, 2)]
            else:
                words_of_text = rng.sample(own, 4)
            texts.append(" ".join(words_of_text) + f" {i}")
            labels.append(label)
            groups.append("south" if i % 2 else "north")
    return pd.DataFrame({"text": texts, "label": labels, "group": groups})


def store_trained_runs(
    store,
    frame,
    report: dict,
    *,
    name: str = "topics",
    filename: str = "topics.csv",
    models: tuple[str, ...] = ("tfidf_lr", "nb"),
):
    """Store ``frame`` as a dataset and train each of ``models`` on it inline, in order."""
    from slm_core import jobs
    from slm_core.data.split import content_hash

    dataset = store.add_dataset(
        name, "cli", filename, content_hash(frame), frame, report=report, split_config={}
    )
    run_ids = []
    for model_id in models:
        run = store.create_run(dataset.id, model_id, "quick", {})
        assert jobs.run_inline(store, run.id).status == "succeeded"
        run_ids.append(run.id)
    return dataset, run_ids


def page_under_router(
    router: str, folder: Path, dataset_id: str, lang: str, timeout: int, state: dict | None = None
):
    """Run the AppTest of ``router`` (source) from ``folder``, which links to the real pages/,
    with ``state`` in its session state before the first run."""
    from streamlit.testing.v1 import AppTest

    folder.mkdir(exist_ok=True)
    if not (folder / "pages").exists():
        (folder / "pages").symlink_to(ROOT / "pages", target_is_directory=True)
    path = folder / "router.py"
    path.write_text(router, encoding="utf-8")
    at = AppTest.from_file(str(path), default_timeout=timeout)
    at.session_state["dataset_id"] = dataset_id
    at.session_state["lang"] = lang
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture(autouse=True)
def _apptest_runs_router_every_time(monkeypatch):
    """Make AppTest rerun ``app.py`` like the real server does.

    Streamlit 1.67's AppTest resets ``PagesManager.uses_pages_directory`` before every run, so
    with a ``pages/`` folder present (our design card's layout) the second and later runs execute
    the page file alone in legacy multipage mode: the router, its sidebar and shared widgets
    vanish. The real server sets the flag to False once ``st.navigation`` is called and keeps it.
    """
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture(autouse=True)
def _fresh_streamlit_caches():
    """Every test starts without another test's cached store, demo dataset ids or tables.

    ``st.cache_resource`` outlives a test: a store cached under one SLM_HOME (and the demo
    dataset registered in it) would otherwise leak into the next test that uses another.
    """
    yield
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()
