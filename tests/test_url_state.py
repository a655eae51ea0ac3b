"""The URL keeps the user's place (ui/url_state.py): AppTest of app.py with query parameters.

A browser reload is a new session with the same URL; here that is a new ``AppTest`` given the
``query_params`` the previous one ended with.
"""

from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from slm_core.llm.endpoints import PRESETS
from slm_core.store import RunStore
from tests.conftest import ROOT, TOPIC_WORDS, store_trained_runs
from ui.decision import EDITOR_OPEN_KEY

TIMEOUT = 120


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """Two datasets besides the demo in one SLM_HOME for the module: 'topics' with two trained
    runs, 'pets' without runs. (Tests only add to it: a scenario, their own sessions.)"""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLM_HOME", str(tmp_path_factory.mktemp("url_home")))
        yield _store_two_datasets()


def _store_two_datasets():
    from slm_core.data.split import content_hash

    store = RunStore()
    texts, labels = [], []
    for label, vocab in TOPIC_WORDS.items():
        words = vocab.split()
        for i in range(30):
            texts.append(" ".join(words[(i + k) % len(words)] for k in range(3)) + f" n{i}")
            labels.append(label)
    frame = pd.DataFrame({"text": texts, "label": labels})
    topics, run_ids = store_trained_runs(store, frame, {"token_unit": "word"})
    pets_frame = pd.DataFrame(
        {"text": [f"cat {i}" for i in range(20)] + [f"dog {i}" for i in range(20)]}
        | {"label": ["cat"] * 20 + ["dog"] * 20}
    )
    pets = store.add_dataset(
        "pets", "cli", "pets.csv", content_hash(pets_frame), pets_frame, report={}, split_config={}
    )
    return store, topics, pets, run_ids


def test_every_page_choice_is_listed_for_its_page():
    """A page's ``keep_choice("x", ...)`` needs "x" in PAGE_PARAMS[page]: sync drops the
    parameters of the other pages by that table."""
    import re

    from ui.navigation import PAGES
    from ui.url_state import PAGE_PARAMS

    used = {}
    for entry in PAGES:
        source = (ROOT / entry.path).read_text(encoding="utf-8")
        found = re.findall(r'keep_choices?\(\s*"([a-z_]+)"', source)
        if found:
            used[entry.name] = tuple(found)
    assert used == PAGE_PARAMS


def _open(params: dict | None = None, page: str | None = None) -> AppTest:
    """A new session of app.py at ``page`` whose URL holds ``params`` (a reload, a link)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params.update(params or {})
    if page:
        at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _reload(at: AppTest) -> AppTest:
    """What F5 does: a new session on the URL the old one ended with."""
    return _open(dict(at.query_params))


def test_url_lands_on_its_dataset_and_language_and_choosing_them_writes_it(stored):
    _, topics, pets, _ = stored
    at = _open({"lang": "zh", "dataset": topics.id}, page="pages/train.py")
    assert at.session_state["lang"] == "zh" and at.session_state["dataset_id"] == topics.id
    assert at.title[0].value == "训练"
    assert at.selectbox(key="dataset_id").value == topics.id
    assert at.query_params["lang"] == "zh" and at.query_params["dataset"] == topics.id

    at.selectbox(key="lang").set_value("en").run()
    at.selectbox(key="dataset_id").set_value(pets.id).run()
    assert not at.exception
    assert at.query_params["lang"] == "en" and at.query_params["dataset"] == pets.id

    again = _reload(at)  # the Train page's address (path) is the browser's, not a parameter
    assert again.session_state["lang"] == "en" and again.session_state["dataset_id"] == pets.id


def test_plain_url_gets_the_defaults_written(stored):
    at = _open()
    demo = at.session_state["dataset_id"]
    assert demo not in (stored[1].id, stored[2].id)  # the default is the bundled demo
    assert at.query_params == {"lang": "en", "dataset": demo}


def test_bad_values_in_the_url_fall_back_without_an_error(stored):
    params = {
        "lang": "klingon",
        "dataset": "no-such-dataset",
        "scenario": "preset.no_such_scenario",
        "run": "3",  # the Results page's choice, on the Home page
        "foo": "kept",  # not ours (another feature's): left alone
    }
    at = _open(params)
    assert not at.error, [e.value for e in at.error]
    demo = at.session_state["dataset_id"]
    assert at.session_state["lang"] == "en"
    assert at.query_params == {"lang": "en", "dataset": demo, "foo": "kept"}

    _, topics, _, run_ids = stored
    at = _open({"lang": "ZH", "dataset": topics.id, "run": "no-run"}, page="pages/results.py")
    assert not at.error, [e.value for e in at.error]
    assert at.session_state["lang"] == "zh"
    shown = at.selectbox(key="results_run").value
    assert shown in run_ids and at.query_params["run"] == str(shown)


def test_results_model_round_trips_and_leaves_the_url_with_the_page(stored):
    _, topics, _, run_ids = stored
    at = _open({"dataset": topics.id}, page="pages/results.py")
    first = at.selectbox(key="results_run").value
    assert at.query_params["run"] == str(first)
    other = next(r for r in run_ids if r != first)
    at.selectbox(key="results_run").set_value(other).run()
    assert at.query_params["run"] == str(other)

    again = _open(dict(at.query_params), page="pages/results.py")
    assert again.selectbox(key="results_run").value == other

    at.switch_page("pages/cost.py").run()  # another page: its URL has no 'run'
    assert not at.exception
    assert "run" not in at.query_params and at.query_params["dataset"] == topics.id
    # A link to one page with another page's choice: the choice is not used there, nor later.
    linked = _open({"dataset": topics.id, "run": str(other)}, page="pages/cost.py")
    assert "run" not in linked.query_params
    linked.switch_page("pages/results.py").run()
    assert linked.selectbox(key="results_run").value == first


def test_train_models_llm_preset_report_language_and_data_source_round_trip(stored):
    _, topics, _, _ = stored
    at = _open({"dataset": topics.id, "models": "nb,nonsense,tfidf_lr"}, page="pages/train.py")
    assert at.multiselect(key="train_models_en").value == ["nb", "tfidf_lr"]
    assert at.query_params["models"] == "nb,tfidf_lr"

    preset = PRESETS[2]
    at = _open({"dataset": topics.id, "preset": preset.key}, page="pages/llm.py")
    assert at.selectbox(key="llm_preset").value == preset.key
    assert at.text_input(key="llm_base_url").value == preset.base_url  # the form follows it
    assert at.query_params["preset"] == preset.key
    assert preset.base_url not in at.query_params.values()  # no address, no key in the URL
    at.selectbox(key="llm_preset").set_value(PRESETS[0].key).run()
    assert at.query_params["preset"] == PRESETS[0].key

    at = _open({"dataset": topics.id, "report_lang": "zh"}, page="pages/report.py")
    assert not at.exception
    assert at.button_group(key="report.lang.en").value == "zh"
    assert at.query_params["report_lang"] == "zh"

    at = _open({"source": "demo"}, page="pages/data.py")
    assert at.radio(key="data_source").value == "demo"
    at.radio(key="data_source").set_value("upload").run()
    assert at.query_params["source"] == "upload"


def test_loaded_scenario_survives_a_reload_on_the_cost_page(stored):
    _, topics, _, _ = stored
    at = _open({"dataset": topics.id}, page="pages/value.py")
    assert "scenario" not in at.query_params  # the default scenario: nothing to name
    at.session_state[EDITOR_OPEN_KEY] = True  # the scenario bar is in the editor
    at.run()
    at.selectbox(key="value.scenario_choice").set_value("preset:content_moderation")
    at.button(key="value.load").click().run()
    assert at.query_params["scenario"] == "preset.content_moderation"
    at.switch_page("pages/cost.py").run()
    assert at.query_params["scenario"] == "preset.content_moderation"

    again = _open(dict(at.query_params), page="pages/cost.py")
    assert again.session_state["value.base"]["name"] == "Content moderation"
    assert again.session_state["value.scenario_choice"] == "preset:content_moderation"


def test_two_sessions_on_one_store_each_keep_their_own_dataset_and_language(stored):
    _, topics, pets, _ = stored
    one = _open({"dataset": topics.id, "lang": "zh"}, page="pages/train.py")
    two = _open({"dataset": pets.id, "lang": "en"}, page="pages/train.py")
    one.selectbox(key="lang").set_value("en").run()  # a change in one session only
    one.run()
    two.run()
    assert (one.session_state["dataset_id"], one.session_state["lang"]) == (topics.id, "en")
    assert (two.session_state["dataset_id"], two.session_state["lang"]) == (pets.id, "en")
    two.selectbox(key="lang").set_value("zh").run()
    one.run()
    assert one.title[0].value == "Train" and two.title[0].value == "训练"
    assert one.query_params["dataset"] == topics.id and two.query_params["dataset"] == pets.id


def test_value_report_cache_keeps_datasets_without_runs_apart(stored):
    """What two sessions on two run-less datasets get from the process-wide cache (the Value
    page draws its payoff matrix and positive-class choices from ``report.inputs.classes``)."""
    from slm_core.data.split import content_hash
    from slm_core.value.assumptions import PRESET_IDS, load_preset
    from slm_core.value.inputs import Measurement
    from ui.decision import cached_inputs, cached_report, fingerprint

    store, _, pets, _ = stored
    frame = pd.DataFrame(
        {"text": [f"red {i}" for i in range(20)] + [f"blue {i}" for i in range(20)]}
        | {"label": ["red"] * 20 + ["blue"] * 20}
    )
    colours = store.add_dataset(
        "colours", "cli", "colours.csv", content_hash(frame), frame, report={}, split_config={}
    )
    a = load_preset(PRESET_IDS[0])
    classes = {}
    for dataset in (pets, colours):  # as ui.decision.value_report calls them
        key = fingerprint(store, dataset.id)
        inputs = cached_inputs(store, dataset.id, key, Measurement.of(a).key())
        report = cached_report(inputs, key, a.to_json(), ((), ()))
        classes[dataset.name] = set(report.inputs.classes)
    assert classes == {"pets": {"cat", "dog"}, "colours": {"red", "blue"}}


def test_a_page_opened_first_on_a_fresh_server_runs_through_the_app(stored, monkeypatch):
    """A reload or a bookmark of /cost right after a server start: Streamlit's legacy
    ``pages/`` router runs the page file alone (no sidebar, the URL's language and dataset
    ignored, and so for every later request). The page must run again through app.py."""
    from pathlib import Path

    from streamlit.runtime.pages_manager import PagesManager

    from ui.navigation import PAGES

    _, topics, _, _ = stored
    served = PagesManager.__init__

    def fresh(self, *args, **kwargs):  # every run here is a fresh server's first request
        served(self, *args, **kwargs)
        PagesManager.uses_pages_directory = (Path(self.main_script_parent) / "pages").exists()

    monkeypatch.setattr(PagesManager, "__init__", fresh)
    for entry in PAGES:
        at = _open({"lang": "zh", "dataset": topics.id}, page=entry.path)
        assert at.selectbox(key="lang").value == "zh", entry.path  # app.py's sidebar ran
        assert at.selectbox(key="dataset_id").value == topics.id, entry.path
        assert at.query_params["dataset"] == topics.id, entry.path
        assert PagesManager.uses_pages_directory is False, entry.path
