"""A reload keeps the user's place, and two browsers keep their own: Chromium against
`streamlit run` (the server and helpers of test_browser.py)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import test_browser
from test_browser import CHROMIUM, CHROMIUM_FLAGS, SHOTS, _settle

from tests.conftest import SAMPLE_ZH

server = test_browser.server  # `streamlit run app.py` with a fresh SLM_HOME, for this module

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]

UPLOADED = SAMPLE_ZH.name  # the dataset's name is its file's


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def _tab(browser):
    """A page in a context of its own: its own cookies and its own Streamlit session."""
    pg = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    pg.set_default_timeout(60_000)
    return pg


def _params(pg) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlparse(pg.url).query).items()}


def _sidebar_select(pg, n: int):
    return pg.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").nth(n)


def _shown(pg) -> tuple[str, str]:
    """The sidebar's language and active dataset, as shown."""
    return tuple(_sidebar_select(pg, n).locator("input").input_value() for n in (0, 1))


def _go(pg, label: str, path: str) -> None:
    """Open the page titled ``label`` in the sidebar (any language) and wait for its run."""
    pg.locator("[data-testid='stSidebarNav'] a", has_text=label).first.click()
    pg.wait_for_url(re.compile(rf"/{path}(\?|$)"))
    _settle(pg)


def _main(pg) -> str:
    return pg.locator("[data-testid='stMain']").inner_text()


def test_reload_keeps_dataset_language_and_page_and_sessions_keep_their_own(server, browser):
    a = _tab(browser)
    a.goto(server)
    _settle(a)
    demo = _params(a)["dataset"]  # the URL names the view from the first run on
    assert _params(a) == {"lang": "en", "dataset": demo}

    _go(a, "Data", "data")
    with a.expect_file_chooser() as chooser:
        a.locator("[data-testid='stFileUploaderDropzone'] button").first.click()
    chooser.value.set_files(str(SAMPLE_ZH))
    a.get_by_role("button", name="Use this dataset").click()
    a.get_by_text("made active").wait_for()
    _settle(a)
    uploaded = _params(a)["dataset"]
    assert uploaded != demo and UPLOADED in _shown(a)[1]

    _sidebar_select(a, 0).click()
    a.get_by_role("option", name="简体中文").click()
    a.get_by_role("heading", name="数据").first.wait_for()
    _settle(a)
    _go(a, "成本", "cost")
    assert _params(a) == {"lang": "zh", "dataset": uploaded}

    # Another browser on the same server: its own session, the default dataset, English.
    b = _tab(browser)
    b.goto(server + "/cost")
    _settle(b)
    assert _params(b) == {"lang": "en", "dataset": demo}
    assert "BBC News" in _shown(b)[1]

    for pg in (a, b):  # F5 on the Cost page, both (a new session each, as a bookmark opens)
        pg.reload()
        _settle(pg)
    assert urlparse(a.url).path == "/cost" and _params(a) == {"lang": "zh", "dataset": uploaded}
    a.get_by_role("heading", name="成本").first.wait_for()
    assert _shown(a)[0] == "简体中文" and UPLOADED in _shown(a)[1]
    assert "此数据集还没有训练完成的模型" in _main(a)  # the uploaded dataset's view, in Chinese
    a.screenshot(path=str(SHOTS / "state_01_cost_zh_reloaded.png"), full_page=True)

    assert urlparse(b.url).path == "/cost" and _params(b) == {"lang": "en", "dataset": demo}
    b.get_by_role("heading", name="Cost").first.wait_for()
    assert "BBC News" in _shown(b)[1]

    for pg in (a, b):
        pg.context.close()
