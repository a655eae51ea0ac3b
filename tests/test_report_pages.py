"""AppTest of the Report and Present pages through the real router (``app.py``) and its sidebar.

The pages are added to the router's page list for these tests if ``ui.navigation.PAGES`` does
not list them yet, so the sidebar's language selectbox (key "lang") and the active dataset work
exactly as in the app. Both pages read the value report from ``ui.decision`` — the scenario and
per-run choices of the session — so they state the Value page's decision word for word.
"""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import ui.navigation
from slm_core.escape import md_text
from slm_core.i18n import t
from slm_core.report import read_card_text
from slm_core.value.text import decision_text, option_label
from tests.conftest import ROOT
from tests.test_report import DATASET_NAME, make_store

TIMEOUT = 120
OUR_PAGES = [
    ("pages/report.py", "nav.report", ":material/summarize:"),
    ("pages/present.py", "nav.present", ":material/slideshow:"),
]


@pytest.fixture
def routed(monkeypatch):
    """The router's page list with the Report and Present pages in it."""
    listed = {p[0] for p in ui.navigation.PAGES}
    pages = list(ui.navigation.PAGES) + [p for p in OUR_PAGES if p[0] not in listed]
    monkeypatch.setattr(ui.navigation, "PAGES", pages)
    return pages


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A store with two trained runs (one benchmarked), shared by the page tests."""
    path = tmp_path_factory.mktemp("report_pages_home")
    store, dataset, run_ids = make_store(path)
    store.close()
    return path, dataset, run_ids


@pytest.fixture
def app_home(home, monkeypatch, routed):
    from ui.state import get_store

    path, dataset, run_ids = home
    monkeypatch.setenv("SLM_HOME", str(path))
    monkeypatch.delenv("SLM_DATABASE_URL", raising=False)
    get_store.clear()  # the cached store of an earlier test points at another SLM_HOME
    st.cache_data.clear()
    yield dataset, run_ids
    get_store.clear()
    st.cache_data.clear()


def _open(page: str, dataset_id: str | None, lang: str = "en", **state) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    if dataset_id is not None:
        at.session_state["dataset_id"] = dataset_id
    at.session_state["lang"] = lang
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _downloads(at: AppTest) -> list[str]:
    return [b.proto.label for b in at.get("download_button")]


def _session(dataset_id: str, run_ids: list[int]) -> tuple[dict, object]:
    """A Value-page session (an edited scenario, a threshold and a serving mode chosen for run
    1) and the value report the Value page computes from it (``ui.decision.value_report``)."""
    from slm_core.value.assumptions import PRESET_IDS, load_preset
    from slm_core.value.inputs import Measurement, collect_inputs
    from slm_core.value.option import Overrides
    from slm_core.value.scorecard import evaluate_value
    from ui.decision import CURRENT_KEY, SERVING_KEY, THRESHOLDS_KEY
    from ui.state import get_store

    a = load_preset(PRESET_IDS[0]).edit(annual_volume=2_000_000.0)
    state = {
        CURRENT_KEY: a.to_dict(),
        THRESHOLDS_KEY: {run_ids[0]: 0.5},
        SERVING_KEY: {run_ids[0]: "serverless"},
    }
    inputs = collect_inputs(get_store(), dataset_id, measure=True, settings=Measurement.of(a))
    overrides = Overrides(thresholds={run_ids[0]: 0.5}, serving={run_ids[0]: "serverless"})
    return state, evaluate_value(inputs, a, overrides)


def _decision_shown(at: AppTest) -> list[str]:
    return [e.value for e in (*at.success, *at.warning)]


def test_report_page_offers_every_download(app_home):
    dataset, run_ids = app_home
    at = _open("pages/report.py", dataset.id)
    assert at.title[0].value == "Report & export"
    assert _downloads(at) == [
        "Download the HTML report",
        "Download all model cards (zip)",
        "Download this card",
        "Download all tables (CSV, zip)",
        "Download everything (JSON)",
        "Download this table (CSV)",
    ]
    # The previewed table is the decision first; pick the leaderboard.
    at.selectbox(key="report.table").set_value("leaderboard").run()
    assert not at.exception, [e.value for e in at.exception]
    board = at.dataframe[0].value
    assert "Accuracy" in board.columns and len(board) == 2
    assert set(board["Run"]) == {str(r) for r in run_ids}
    # The card preview is the stored-data card with its draft intended use.
    card = next(m.value for m in at.markdown if m.value.startswith("# Model card"))
    assert "## Intended use" in card and "draft derived from the data" in card
    # Every run's card was stored for the Value page's transparency checklist.
    from ui.state import get_store

    for run_id in run_ids:
        assert get_store().get_result(run_id, "model_card")["run_id"] == run_id


def test_intended_use_written_on_the_page_is_stored_and_shown(app_home):
    dataset, run_ids = app_home
    at = _open("pages/report.py", dataset.id)
    run_id = run_ids[1]  # the first run's card stays a draft for the test above
    at.selectbox(key="report.card_run").set_value(run_id).run()
    at.text_area(key=f"report.card.{run_id}.intended_use").input("Route support tickets")
    at.text_area(key=f"report.card.{run_id}.intended_users").input("Support leads")
    at.button[0].click()  # the form's submit button (the downloads are not st.button)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    from ui.state import get_store

    assert read_card_text(get_store(), run_id).intended_use == "Route support tickets"
    assert any("Saved" in s.value for s in at.success)
    card = next(m.value for m in at.markdown if m.value.startswith("# Model card"))
    assert "Route support tickets" in card


def test_present_page_shows_the_decision_tiles_scores_and_cost_chart(app_home):
    dataset, run_ids = app_home
    state, report = _session(dataset.id, run_ids)
    at = _open("pages/present.py", dataset.id, **state)
    assert md_text(DATASET_NAME) in at.title[0].value  # named, as text (no live <script>)
    # The decision paragraph, exactly as the Value page states it for this session.
    assert decision_text(report, "en") in _decision_shown(at)
    metrics = {m.label: m.value for m in at.metric}
    assert list(metrics) == [
        "The decision",
        "Net value per year",
        "Accuracy",
        "Cost per 1M texts",
        "Social score",
    ]
    assert metrics["The decision"] == option_label(report.best, "en")
    assert metrics["Social score"].endswith("/ 100")
    # The session's serving choice reaches the figures: run 1 is served serverless.
    assert report.card(run_ids[0]).serving_mode == "serverless"
    scores = at.dataframe[0].value
    assert "Overall score" in scores.index
    shown = " ".join(scores.columns)
    assert all(f"#{r} " in shown for r in run_ids) and "API" in shown
    for dim in report.left_out:  # dimensions left out for every option are not shown
        assert t(f"value.dim.{dim}", "en") not in scores.index
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    assert "Yearly cost against yearly volume" in charts[0].proto.spec
    # No widgets in the way: only the router's sidebar ones (hidden by the page's CSS) and,
    # beside the way out, the language switch the hidden sidebar would otherwise hold.
    assert [b.label for b in at.main.button] == ["简体中文"]
    assert not at.main.selectbox and not at.main.text_input
    at.main.button[0].click().run()
    assert not at.exception and at.session_state["lang"] == "zh"
    assert [b.label for b in at.main.button] == ["English"]
    assert "自有小模型、付费使用 API，还是继续人工处理？" in at.title[0].value
    css = " ".join(h.proto.body for h in at.get("html"))
    assert '[data-testid="stSidebar"]' in css and "display: none" in css


def test_report_page_states_the_same_decision_in_chinese(app_home):
    dataset, run_ids = app_home
    state, report = _session(dataset.id, run_ids)
    at = _open("pages/report.py", dataset.id, "zh", **state)
    assert decision_text(report, "zh") in _decision_shown(at)
    at.switch_page("pages/present.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert decision_text(report, "zh") in _decision_shown(at)


@pytest.mark.parametrize("page", [p[0] for p in OUR_PAGES])
def test_switching_the_language_in_the_sidebar(app_home, page):
    dataset, _ = app_home
    at = _open(page, dataset.id)
    english = at.title[0].value
    at.sidebar.selectbox(key="lang").set_value("zh").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    chinese = at.title[0].value
    assert chinese != english
    if page == "pages/report.py":
        assert chinese == "报告与导出"
        assert "下载 HTML 报告" in [b.proto.label for b in at.get("download_button")]
    else:
        assert "继续人工处理" in chinese
        assert [m.label for m in at.metric][:3] == ["决策", "每年净值", "准确率"]
    # The choice is remembered on the next page visited.
    at.switch_page("pages/home.py").run()
    assert at.sidebar.selectbox(key="lang").value == "zh"


@pytest.mark.parametrize("page", [p[0] for p in OUR_PAGES])
def test_pages_without_finished_runs_say_so(page, fresh_home, routed):
    from ui.state import get_store

    get_store.clear()
    st.cache_data.clear()
    at = _open(page, None)
    infos = " ".join(i.value for i in at.info)
    assert "No finished training run" in infos or "No dataset yet" in infos
    get_store.clear()
