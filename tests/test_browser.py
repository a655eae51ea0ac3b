"""One real-browser journey: Debian Chromium driven by Playwright against `streamlit run`."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest

from bench.browser import CHROMIUM, IDLE, free_port, launch
from tests.conftest import ROOT, SAMPLE_ZH

SHOTS = ROOT / "tests" / "artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app as `make run` starts it (`python -m ui.launch`: `streamlit run app.py`, warmed
    up) on 127.0.0.1 with its own SLM_HOME; stopped after the module."""
    port = free_port()
    home = tmp_path_factory.mktemp("browser_home")
    log = (home / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ui.launch",
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
        browser = launch(p)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        pg = context.new_page()
        pg.set_default_timeout(60_000)
        yield pg
        browser.close()


def _settle(pg) -> None:
    pg.wait_for_selector(IDLE, timeout=120_000)
    time.sleep(0.5)


def _nav(pg, label: str, path: str | None = None) -> None:
    """Open the page titled ``label`` in the sidebar (``path``: its URL path when the label is
    not English) and wait for its run."""
    pg.locator("[data-testid='stSidebarNav'] a", has_text=label).first.click()
    path = path or label.lower()
    pg.wait_for_url(re.compile(rf"/{path}(\?|$)"))  # the URL keeps the view's state
    _settle(pg)


def _no_error_shown(pg, step: str) -> str:
    """The main area's text, after checking it shows no exception box and no traceback."""
    main = pg.locator("[data-testid='stMain']").inner_text()
    assert pg.locator("[data-testid='stException']").count() == 0, step
    errors = pg.locator("[data-testid='stAlertContentError']").all_inner_texts()
    assert errors == [], (step, errors)
    assert "Traceback" not in main, step
    pg.screenshot(path=str(SHOTS / f"{step}.png"), full_page=True)
    return main


def _headerless_tsv(folder: Path) -> Path:
    """The Chinese sample as a user might export it: no header, a channel column before the
    label, the text last — so the label column has to be picked by hand."""
    frame = pd.read_csv(SAMPLE_ZH)
    path = folder / "tickets_export.tsv"
    rows = [
        f"{'email' if i % 3 else 'phone'}\t{label}\t{text}"
        for i, (text, label) in enumerate(zip(frame["工单内容"], frame["类别"], strict=True))
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _bar_colours(pg) -> list[str]:
    """The fill colours of the bars of every Plotly chart drawn on ``pg``."""
    return pg.evaluate(
        """() => Array.from(document.querySelectorAll('.js-plotly-plot .bars .point path'))
            .map(p => getComputedStyle(p).fill)"""
    )


def _near_black(rgb: str) -> bool:
    channels = [int(c) for c in re.findall(r"\d+", rgb)[:3]]
    return len(channels) == 3 and max(channels) < 40


def test_the_whole_journey_in_a_real_browser(server, page, tmp_path):
    """Fresh store → demo on Home → headerless TSV uploaded and its columns fixed → two quick
    models → Results with intervals → Cost measured → Value's decision → the HTML report
    downloaded and opened offline → Present → 中文, reload: the same dataset and page."""
    page.goto(server)
    _settle(page)
    assert page.get_by_text("SLM Value Lab").first.is_visible()
    assert "BBC News" in _no_error_shown(page, "01_home")

    _nav(page, "Data")
    with page.expect_file_chooser() as chooser:
        page.locator("[data-testid='stFileUploaderDropzone'] button").first.click()
    chooser.value.set_files(str(_headerless_tsv(tmp_path)))
    page.get_by_role("combobox", name="Text column").wait_for()
    _settle(page)
    _no_error_shown(page, "02_data_guessed")
    for label, column in (("Text column", "col_2"), ("Label column", "col_1")):
        page.get_by_role("combobox", name=label).click()
        page.get_by_role("option", name=column, exact=True).click()
        _settle(page)
    page.get_by_text("Validation report").wait_for()
    body = _no_error_shown(page, "03_data_fixed")
    assert "header no" in body and "40" in body and "No problems found" in body
    page.get_by_role("button", name="Use this dataset").click()
    page.get_by_text("made active").wait_for()
    _settle(page)

    _nav(page, "Train")
    page.locator("[data-testid='stMain']").get_by_text("tickets_export").first.wait_for()
    page.get_by_role("combobox", name=re.compile("Models")).click()
    page.get_by_role("option", name=re.compile(r"naive Bayes \(nb\)")).click()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("test accuracy").nth(1).wait_for(timeout=180_000)
    _settle(page)
    main = _no_error_shown(page, "04_trained")
    assert main.count("finished") >= 2

    _nav(page, "Results")
    page.get_by_text("95%").first.wait_for()
    main = _no_error_shown(page, "05_results")
    grid = " ".join(page.locator("[role='gridcell']").all_inner_texts())
    assert "tfidf_lr" in grid + main and "nb" in grid + main
    assert re.search(r"\d\.\d+%?\s*–\s*\d\.\d+", grid)  # an interval, not a point

    _nav(page, "Cost")
    page.get_by_role("button", name="Measure all not yet measured").click()
    page.get_by_text(re.compile("measured .* UTC")).nth(1).wait_for(timeout=240_000)
    _settle(page)
    main = _no_error_shown(page, "06_cost")
    # Both measured (latency, throughput, size). The latency grid is a lazily drawn canvas
    # whose headers are not reliably in the DOM, so this checks each run is marked measured.
    assert main.count("✓ measured") >= 2, main
    assert "$" in main and "a year" in main  # and the money of serving them

    _nav(page, "Value")
    decision = page.locator("[data-testid='stAlert']").first.inner_text()
    # The decision is one of the four, naming this dataset's models where it picks one.
    owned = r"#\d (tfidf_lr|nb)"
    assert re.search(
        rf"^(Own {owned}|Pay the .*API|Combine them — {owned}|Keep it manual for now)",
        decision,
        re.M,  # the alert's text starts with its icon's name
    ), decision
    _no_error_shown(page, "07_value")

    _nav(page, "Report")
    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile("Download the HTML report")).click()
    report = tmp_path / "report.html"
    download.value.save_as(report)
    _no_error_shown(page, "08_report")

    # The report offline: every request that is not the file itself is refused and recorded.
    offline = page.context.browser.new_context(viewport={"width": 1300, "height": 900})
    asked: list[str] = []

    def refuse(route):
        asked.append(route.request.url)
        route.abort()

    offline.route(re.compile(r"^(?!file:).*"), refuse)
    sheet = offline.new_page()
    sheet.goto(report.as_uri())
    sheet.wait_for_selector(".js-plotly-plot .main-svg")
    sheet.wait_for_timeout(1000)
    sheet.screenshot(path=str(SHOTS / "09_report_offline.png"), full_page=True)
    assert asked == []
    assert sheet.locator(".js-plotly-plot").count() >= 3
    colours = _bar_colours(sheet)
    assert colours and not any(_near_black(c) for c in colours), colours
    offline.close()

    _nav(page, "Present")
    _no_error_shown(page, "10_present")

    page.get_by_role("button", name="简体中文").click()  # the sidebar is hidden when presenting
    page.get_by_text("退出演示模式").first.wait_for()
    _settle(page)
    page.reload()
    _settle(page)
    assert page.url.split("?")[0].endswith("/present") and "lang=zh" in page.url
    page.get_by_text("退出演示模式").first.wait_for()
    main = _no_error_shown(page, "11_present_zh_reloaded")
    assert main.startswith("tickets_export.tsv")  # the same dataset, titled in Chinese
    assert "自有小模型、付费使用 API，还是继续人工处理？" in main, main[:200]


def test_llm_measured_from_the_llm_page_lands_on_the_leaderboard(server, page):
    """Connect to an OpenAI-compatible server on 127.0.0.1 from the LLM page, measure it on the
    dataset uploaded in the journey above, and find it on the Results leaderboard."""
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
        page.get_by_text("退出演示模式").first.click()  # the journey ended on Present, in Chinese
        page.wait_for_url(re.compile(r"/report(\?|$)"))
        _settle(page)
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


# ------------------------------------------- the user's place in the URL, one session each


UPLOADED = "tickets_part.csv"  # the second session's dataset is named after its file


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


def _main(pg) -> str:
    return pg.locator("[data-testid='stMain']").inner_text()


def test_reload_keeps_dataset_language_and_page_and_sessions_keep_their_own(server, page, tmp_path):
    browser = page.context.browser  # one Playwright per thread: the module's own
    a = _tab(browser)
    a.goto(server)
    _settle(a)
    demo = _params(a)["dataset"]  # the URL names the view from the first run on
    assert _params(a) == {"lang": "en", "dataset": demo}

    _nav(a, "Data", "data")
    with a.expect_file_chooser() as chooser:
        a.locator("[data-testid='stFileUploaderDropzone'] button").first.click()
    # Not the journey's tickets (the same rows would be the same, trained, dataset): a part.
    upload = tmp_path / UPLOADED
    pd.read_csv(SAMPLE_ZH).head(30).to_csv(upload, index=False)
    chooser.value.set_files(str(upload))
    a.get_by_role("button", name="Use this dataset").click()
    a.get_by_text("made active").wait_for()
    _settle(a)
    uploaded = _params(a)["dataset"]
    assert uploaded != demo and UPLOADED in _shown(a)[1]

    _sidebar_select(a, 0).click()
    a.get_by_role("option", name="简体中文").click()
    a.get_by_role("heading", name="数据").first.wait_for()
    _settle(a)
    _nav(a, "成本", "cost")
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
