"""One real-browser journey: Debian Chromium driven by Playwright against `streamlit run`."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE_ZH

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = ROOT / "tests" / "artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`streamlit run app.py` on 127.0.0.1 with its own SLM_HOME; stopped after the module."""
    port = _free_port()
    home = tmp_path_factory.mktemp("browser_home")
    log = (home / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
        ],
        cwd=ROOT,
        env={**os.environ, "SLM_HOME": str(home)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("streamlit did not start")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        pg = context.new_page()
        pg.set_default_timeout(60_000)
        yield pg
        browser.close()


def _settle(pg) -> None:
    pg.wait_for_selector(
        "[data-testid='stApp'][data-test-script-state='notRunning']", timeout=120_000
    )
    time.sleep(0.5)


def _nav(pg, label: str) -> None:
    pg.locator("[data-testid='stSidebarNav'] a", has_text=label).first.click()
    pg.wait_for_url(f"**/{label.lower()}")
    _settle(pg)


def test_journey_upload_train_and_switch_language(server, page):
    page.goto(server)
    _settle(page)
    assert page.get_by_text("SLM Value Lab").first.is_visible()
    assert page.get_by_text("BBC News").first.is_visible()
    page.screenshot(path=str(SHOTS / "01_home.png"), full_page=True)

    _nav(page, "Data")
    with page.expect_file_chooser() as chooser:
        page.locator("[data-testid='stFileUploaderDropzone'] button").first.click()
    chooser.value.set_files(str(SAMPLE_ZH))
    page.get_by_text("Validation report").wait_for()
    _settle(page)
    page.screenshot(path=str(SHOTS / "02_data_report.png"), full_page=True)
    body = page.locator("[data-testid='stMain']").inner_text()
    assert "Rows" in body and "40" in body
    assert "encoding utf-8" in body
    assert "No problems found" in body
    page.get_by_role("button", name="Use this dataset").click()
    page.get_by_text("made active").wait_for()
    _settle(page)

    _nav(page, "Train")
    # The script state can read "notRunning" for a moment before the new page's run starts.
    page.locator("[data-testid='stMain']").get_by_text("support_tickets_zh").first.wait_for()
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("test accuracy").first.wait_for(timeout=180_000)
    _settle(page)
    page.screenshot(path=str(SHOTS / "03_train_done.png"), full_page=True)
    assert "finished" in page.locator("[data-testid='stMain']").inner_text()

    page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").first.click()
    page.get_by_role("option", name="简体中文").click()
    page.get_by_role("button", name="开始训练").wait_for()
    _settle(page)
    main = page.locator("[data-testid='stMain']").inner_text()
    assert "训练任务" in main and "已完成" in main
    assert "Start training" not in main
    assert "Word statistics" not in main  # the picked model's chip follows the language too
    page.screenshot(path=str(SHOTS / "04_train_zh.png"), full_page=True)

    # The decision, stated once, in the chosen language: every option, the interval, the split.
    page.locator("[data-testid='stSidebarNav'] a", has_text="价值").first.click()
    page.get_by_text("决策方法").first.wait_for(timeout=180_000)
    _settle(page)
    main = page.locator("[data-testid='stMain']").inner_text()
    assert "阈值在验证集上选定" in main and "所有选项并排比较" in main
    assert "继续人工处理" in main  # the manual baseline is one of the options
    page.screenshot(path=str(SHOTS / "05_value_zh.png"), full_page=True)


def test_llm_measured_from_the_llm_page_lands_on_the_leaderboard(server, page):
    """Connect to an OpenAI-compatible server on 127.0.0.1 from the LLM page, measure it on the
    uploaded dataset (trained in the journey above), and find it on the Results leaderboard."""
    import json
    import unicodedata

    import pandas as pd

    from tests.llm_server import FakeChatServer

    frame = pd.read_csv(SAMPLE_ZH)
    # Stored texts are NFKC-normalised on upload (a full-width comma becomes ","), as sent.
    truth = {
        unicodedata.normalize("NFKC", text).strip(): label
        for text, label in zip(
            frame["工单内容"].astype(str), frame["类别"].astype(str), strict=True
        )
    }

    def answer(text: str, _request: dict) -> str:
        body = text.split("\n", 1)[-1]  # the default templates put "Text:"/"文本：" first
        label = truth.get(unicodedata.normalize("NFKC", body).strip(), "?")
        return json.dumps({"label": label}, ensure_ascii=False)

    with FakeChatServer(answer) as srv:
        page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").first.click()
        page.get_by_role("option", name="English").click()
        _settle(page)
        _nav(page, "LLM")
        base = page.get_by_role("textbox", name="Base URL")
        base.fill(srv.base_url)
        base.press("Enter")
        _settle(page)
        model = page.get_by_role("textbox", name="Model", exact=True)
        model.fill("fake-model")
        model.press("Enter")
        _settle(page)
        page.get_by_role("button", name="Start measuring").click()
        # The result's headline, not the page's intro (which also says "measured on").
        page.get_by_text(re.compile(r"measured on \d+ test texts")).first.wait_for(timeout=120_000)
        _settle(page)
        page.screenshot(path=str(SHOTS / "06_llm_measured.png"), full_page=True)
        assert srv.chat_requests, "the page sent nothing to the local server"

    _nav(page, "Results")
    page.get_by_text("is measured on a stratified sample").first.wait_for(timeout=60_000)
    _settle(page)
    main = page.locator("[data-testid='stMain']").inner_text()
    assert "LLM · fake-model" in main and "same texts" in main
    assert "100.0%" in main  # it answered every sampled text right, as the server was told to
    # Its row on the leaderboard (the grid's cells are read from its accessible table).
    assert page.locator("[role='gridcell']", has_text="LLM · fake-model").count() >= 1
    page.screenshot(path=str(SHOTS / "07_results_with_llm.png"), full_page=True)
