"""Home and Data never import TensorFlow: they are what a user sees right after the server starts.

``import tensorflow`` alone takes ~5 s here, so the pages a server opens on must not pull it in
(issue 14); nor scikit-learn, SciPy, openai or pandas, which Home and the Data page's first
view do not need either. Each check runs the pages with AppTest in a fresh Python process, where
nothing else has imported TensorFlow first, and reads that process's ``sys.modules`` afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import ROOT, make_topic_texts, store_trained_runs

HEAVY = ("tensorflow", "keras")
# Not needed to draw Home or the Data page's first view (the uploader) either (~0.4-2 s each
# to import here); pandas and pyarrow come once a file or a demo is read.
SLOW = ("sklearn", "scipy", "openai", "pandas", "pyarrow")

# Runs app.py (Home), then the Data page's first view and its demo view, in one fresh process.
PROBE = """
import json, sys
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

original = PagesManager.__init__
def init(self, *args, **kwargs):  # as tests/conftest.py: AppTest keeps running the router
    original(self, *args, **kwargs)
    PagesManager.uses_pages_directory = False
PagesManager.__init__ = init

HEAVY = {heavy!r}
seen = {{}}
at = AppTest.from_file({app!r}, default_timeout=120)
at.session_state["dataset_id"] = {dataset_id!r}
at.run()
assert not at.exception, [e.value for e in at.exception]
seen["home"] = [m for m in HEAVY if m in sys.modules]
seen["home_text"] = " ".join(c.value for c in at.caption)
at.switch_page("pages/data.py")
at.run()
assert not at.exception, [e.value for e in at.exception]
seen["data"] = [m for m in HEAVY if m in sys.modules]
at.radio[0].set_value("demo")
at.run()
assert not at.exception, [e.value for e in at.exception]
seen["data_demo"] = [m for m in HEAVY if m in sys.modules]
seen["data_demo_text"] = " ".join(c.value for c in at.caption)
print("SEEN " + json.dumps(seen))
"""


def test_home_and_data_do_not_import_tensorflow(fresh_home):
    from slm_core.data.demo import DEFAULT_DEMO
    from slm_core.dataset import demo_dataset
    from slm_core.store import RunStore

    # A used store: the sidebar's demo stored at an earlier start (the first start ever reads
    # it, with pandas) and a stored run, so Home lists runs.
    demo_dataset(RunStore(), DEFAULT_DEMO)
    texts, labels = make_topic_texts()
    dataset, _ = store_trained_runs(
        RunStore(),
        pd.DataFrame({"text": texts, "label": labels}),
        {},
        models=("tfidf_lr",),
    )
    code = PROBE.format(heavy=HEAVY + SLOW, app=str(ROOT / "app.py"), dataset_id=dataset.id)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SLM_HOME": str(fresh_home)},
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("SEEN ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    seen = json.loads(lines[-1][len("SEEN ") :])
    # The pages really drew what they draw on a used store: the run count, the demo's split.
    from slm_core.i18n import t

    assert t("home.runs_line", "en", total=1, done=1) in seen["home_text"], seen["home_text"]
    blanks = dict.fromkeys(("val", "test", "removed_dup", "removed_conf"), "")
    split_head = t("data.split_sizes", "en", seed=42, train="\x00", **blanks).split("\x00")[0]
    assert split_head in seen["data_demo_text"], seen["data_demo_text"]
    assert seen["home"] == [], f"Home imported {seen['home']}"
    assert seen["data"] == [], f"Data imported {seen['data']}"
    # Choosing a demo splits it (scikit-learn), but still needs no TensorFlow.
    demo = [m for m in seen["data_demo"] if m in HEAVY]
    assert demo == [], f"Data (a demo chosen) imported {demo}"


def test_a_stored_demo_is_reused_at_the_next_start_without_reading_it(fresh_home, monkeypatch):
    """The sidebar's demo (app start) is read and validated once per store, not per server."""
    from slm_core import dataset as dataset_module
    from slm_core.data.demo import DEFAULT_DEMO
    from slm_core.dataset import demo_dataset
    from slm_core.store import RunStore

    store = RunStore()
    first = demo_dataset(store, DEFAULT_DEMO)
    assert first.source == "demo" and first.rows > 0

    def must_not_read(*args, **kwargs):
        raise AssertionError("the stored demo was read and validated again")

    monkeypatch.setattr(dataset_module, "load_demo_dataset", must_not_read)
    again = demo_dataset(RunStore(), DEFAULT_DEMO)  # a new server process: a new store object
    assert again.id == first.id
    # Another demo is not mistaken for it: it is read and stored now.
    with pytest.raises(AssertionError, match="read and validated again"):
        demo_dataset(store, "tweets")
