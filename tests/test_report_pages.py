"""AppTest of the Report and Present pages through the real router (``app.py``) and its sidebar.

The pages are added to the router's page list for these tests if ``ui.navigation.PAGES`` does
not list them yet, so the sidebar's language selectbox (key "lang") and the active dataset work
exactly as in the app.
"""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import ui.navigation
from slm_core.report import collect_report, read_card_text
from slm_core.value.text import recommendation_text
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


def _open(page: str, dataset_id: str | None, lang: str = "en") -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    if dataset_id is not None:
        at.session_state["dataset_id"] = dataset_id
    at.session_state["lang"] = lang
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _downloads(at: AppTest) -> list[str]:
    return [b.proto.label for b in at.get("download_button")]


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
    # The previewed table is the recommendation first; pick the leaderboard.
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


def test_present_page_shows_kpis_scorecard_and_recommendation(app_home):
    dataset, run_ids = app_home
    at = _open("pages/present.py", dataset.id)
    from ui.state import get_store

    data = collect_report(get_store(), dataset.id)
    assert DATASET_NAME in at.title[0].value
    metrics = {m.label: m.value for m in at.metric}
    assert list(metrics) == [
        "Best model",
        "Accuracy",
        "Cost per 1M predictions",
        "Net value per year",
        "Social score",
    ]
    assert metrics["Best model"] == data.value.recommendation.winner
    assert metrics["Accuracy"] == f"{data.best.evaluation.accuracy:.1%}"
    assert metrics["Social score"].endswith("/ 100")
    assert any(s.value == recommendation_text(data.value, "en") for s in at.success)
    scores = at.dataframe[0].value
    assert "Overall score" in scores.index
    assert all(f"#{r} " in " ".join(scores.columns) for r in run_ids)
    assert len(at.get("plotly_chart")) == 1
    # No widgets in the way: only the router's sidebar ones (hidden by the page's CSS).
    assert not at.main.button and not at.main.selectbox and not at.main.text_input
    css = " ".join(h.proto.body for h in at.get("html"))
    assert '[data-testid="stSidebar"]' in css and "display: none" in css


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
        assert "我们该用哪个模型" in chinese
        assert [m.label for m in at.metric][:2] == ["最佳模型", "准确率"]
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
