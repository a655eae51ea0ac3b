"""AppTest of the LLM page: it renders in both languages with the estimate, an invalid template
says why, a measurement against the fake OpenAI-compatible server runs in the background and
its result is shown, a stopped one resumes, and the typed API key never leaves the session.

The page runs under a minimal router (``st.navigation`` over the real ``pages/``, with the pages
it links to), with the active dataset and the language set as the sidebar would.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from slm_core.data.split import content_hash
from slm_core.errors import render
from slm_core.i18n import t
from slm_core.llm import llm_runs
from slm_core.llm.endpoints import Endpoint
from slm_core.llm.job import create_measurement, prepare_plan
from slm_core.llm.plan import Estimate
from slm_core.llm.prompt import PromptSpec
from slm_core.store import RunStore
from tests.conftest import make_topic_texts, page_under_router
from tests.llm_server import FakeChatServer, label_answerer
from ui import llm_widgets as w

TIMEOUT = 120
FINISH_S = 90  # the measuring process imports the core (~4 s) and asks a dozen texts
KEY = "sk-test-page-7f3a9c2e1b5d"
ROUTER = """
import streamlit as st
PAGES = ["pages/llm.py", "pages/results.py", "pages/value.py", "pages/train.py", "pages/data.py"]
st.navigation([st.Page(p, default=(p == "pages/llm.py")) for p in PAGES]).run()
"""


@pytest.fixture
def stored(fresh_home, monkeypatch):
    """A small 3-topic dataset (no runs) in a fresh SLM_HOME, and no key in the environment."""
    from ui.state import get_store

    for name in ("SLM_LLM_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    get_store.clear()  # the cached store of an earlier test points at another SLM_HOME
    store = RunStore()
    texts, labels = make_topic_texts()
    frame = pd.DataFrame({"text": texts, "label": labels})
    dataset = store.add_dataset(
        "topics", "cli", "topics.csv", content_hash(frame), frame, report={}, split_config={}
    )
    yield store, dataset, dict(zip(texts, labels, strict=True))
    get_store.clear()


def _answerer(truth: dict[str, str]):
    """The fake server sees the filled text template ("Text:\n..."), not the bare text."""
    user = PromptSpec.default("en").user
    return label_answerer({user.replace("{text}", x): y for x, y in truth.items()})


def _page(dataset_id: str, tmp_path: Path, lang: str = "en") -> AppTest:
    return page_under_router(ROUTER, tmp_path / "router_llm", dataset_id, lang, TIMEOUT)


def _texts(at: AppTest) -> str:
    parts = [m.value for m in (*at.markdown, *at.caption, *at.info, *at.warning, *at.success)]
    return "\n".join(parts)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _button(at: AppTest, label: str):
    (button,) = [b for b in at.button if b.label == label]
    return button


def _wait_finished(store: RunStore, run_id: int) -> str:
    deadline = time.monotonic() + FINISH_S
    while time.monotonic() < deadline:
        run = store.get_run(run_id)
        if run.is_finished:
            return run.status
        time.sleep(0.5)
    raise AssertionError(f"measurement #{run_id} did not finish: {store.get_run(run_id)}")


def _connect(at: AppTest, base_url: str, key: str | None) -> None:
    at.text_input(key=w.BASE_URL).set_value(base_url)
    at.text_input(key=w.MODEL).set_value("fake-model")
    if key is not None:
        at.text_input(key=w.KEY_INPUT).set_value(key)
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def _files_hold(home: Path, secret: bytes) -> list[str]:
    found = []
    for path in home.rglob("*"):
        if path.is_file() and secret in path.read_bytes():
            found.append(str(path))
    return found


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_renders_with_the_estimate_and_the_exact_prompt(stored, tmp_path, lang):
    store, dataset, _ = stored
    at = _page(dataset.id, tmp_path, lang)
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == t("llm_page.title", lang)

    plan = prepare_plan(store, dataset.id, PromptSpec.default(lang), 200)
    metrics = _metrics(at)
    assert metrics[t("llm_page.est_texts", lang)] == str(plan.n) == str(plan.test_size)
    assert at.number_input(key=w.SAMPLE).value == plan.test_size  # fewer than 200 test texts
    assert metrics[t("llm_page.est_cost", lang)].startswith("$")
    text = _texts(at)
    assert t("value.figure_kind.modelled", lang) in text
    assert t("llm.method.estimate", lang) in text
    # The default preset is a hosted API and no key is anywhere: say so, and do not start.
    assert t("llm_page.key_missing", lang) in text
    assert _button(at, t("llm_page.start", lang)).disabled
    # The exact prompt of the first sampled text, in the language of the interface.
    (prompt,) = at.code
    assert plan.texts[0] in prompt.value
    assert PromptSpec.default(lang).system.split("{labels}")[0] in prompt.value
    assert t("llm_page.no_runs", lang) in text


def test_few_shot_template_edits_reset_and_an_invalid_template(stored, tmp_path):
    store, dataset, _ = stored
    at = _page(dataset.id, tmp_path)
    zero = float(_metrics(at)[t("llm_page.est_in")].replace(",", ""))
    at.radio(key="llm_mode_en").set_value("few").run()
    at.number_input(key=w.SHOTS).set_value(2).run()
    assert not at.exception and not at.error
    few = float(_metrics(at)[t("llm_page.est_in")].replace(",", ""))
    assert few > zero  # worked examples ride on every call
    plan = prepare_plan(store, dataset.id, PromptSpec.default("en", "few", 2), 200)
    assert len(plan.examples) == 6 and plan.examples[0].text in at.code[0].value

    at.text_area(key=w.USER).set_value("no slot here").run()
    assert not at.exception
    assert [e.value for e in at.error] == [render("errors.llm.user_template_needs_text")]
    assert t("llm_page.prompt_invalid") in _texts(at)
    assert _button(at, t("llm_page.start")).disabled

    _button(at, t("llm_page.reset")).click().run()
    assert not at.error
    assert at.text_area(key=w.USER).value == PromptSpec.default("en").user


def test_switching_the_language_switches_a_default_template_and_keeps_the_mode(stored, tmp_path):
    _, dataset, _ = stored
    at = _page(dataset.id, tmp_path)
    assert at.text_area(key=w.SYSTEM).value == PromptSpec.default("en").system
    at.radio(key="llm_mode_en").set_value("few").run()
    at.session_state["lang"] = "zh"
    at.run()
    assert at.text_area(key=w.SYSTEM).value == PromptSpec.default("zh").system
    # The choice survives the switch (the radio's labels are the new language's).
    assert at.radio(key="llm_mode_zh").value == "few"
    assert at.radio(key="llm_mode_zh").options == [
        t("llm_page.mode_zero", "zh"),
        t("llm_page.mode_few", "zh"),
    ]


def test_measure_against_the_fake_server_shows_the_result_and_keeps_the_key_secret(
    stored, tmp_path, fresh_home
):
    store, dataset, truth = stored
    with FakeChatServer(answer=_answerer(truth), api_key=KEY) as srv:
        at = _page(dataset.id, tmp_path)
        _connect(at, srv.base_url, KEY)
        text = _texts(at)
        assert t("llm_page.key_from_typed") in text and KEY not in text
        at.number_input(key=w.SAMPLE).set_value(12).run()
        _button(at, t("llm_page.start")).click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        (run,) = llm_runs(store.list_runs(dataset_id=dataset.id))
        assert _wait_finished(store, run.id) == "succeeded", store.get_run(run.id).error
        assert srv.count == 12 and all(r["auth_ok"] for r in srv.chat_requests)
    at.run()
    assert not at.exception and not at.error
    text = _texts(at)
    assert "measured on 12 test texts: **100.0%**" in text
    assert t("value.figure_kind.measured") in text and t("llm.method.measured") in text
    (answers,) = [d.value for d in at.dataframe if t("llm_page.col_answer") in d.value.columns]
    assert len(answers) == 12
    assert (answers[t("llm_page.col_answer")] == answers[t("llm_page.col_truth")]).all()
    assert set(answers[t("llm_page.col_text")]) <= set(truth)
    metrics = _metrics(at)
    assert metrics[t("llm_page.unparseable")] == "0" and metrics[t("llm_page.failed")] == "0"
    links = [p.proto.page for p in at.get("page_link")]
    assert {Path(p).stem for p in links} >= {"results", "value"}

    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception and "在 12 条测试文本上实测" in _texts(at)

    # The key was typed for this session only: in no file under SLM_HOME, not in the address.
    assert not _files_hold(fresh_home, KEY.encode()), "the API key was written to disk"
    assert not _files_hold(fresh_home, KEY[-8:].encode())
    assert KEY not in repr(dict(at.query_params))


def _auto_reruns(monkeypatch) -> list[float]:
    """The intervals of every fragment auto-rerun the page asks the browser for, as sent."""
    from streamlit.runtime.forward_msg_queue import ForwardMsgQueue

    seen: list[float] = []
    enqueue = ForwardMsgQueue.enqueue

    def record(self, msg):
        if msg.HasField("auto_rerun"):
            seen.append(msg.auto_rerun.interval)
        return enqueue(self, msg)

    monkeypatch.setattr(ForwardMsgQueue, "enqueue", record)
    return seen


def test_the_board_polls_the_store_only_while_a_measurement_is_under_way(
    stored, tmp_path, monkeypatch
):
    """With nothing to measure the page draws once and stays still; a queued or running
    measurement makes its board reread the store every second, until it stops."""
    store, dataset, _ = stored
    reruns = _auto_reruns(monkeypatch)
    at = _page(dataset.id, tmp_path)
    assert not at.exception
    assert reruns == []  # idle: no fragment asks to be rerun

    endpoint = Endpoint(base_url="http://127.0.0.1:9/v1", model="fake-model")
    run_id = create_measurement(store, dataset.id, endpoint, PromptSpec.default("en"), 5, None)
    at.run()  # queued (not started here): it is under way as far as the board knows
    assert not at.exception
    assert reruns == [1.0]
    assert f"#{run_id}" in _texts(at)

    store.request_cancel(run_id)
    reruns.clear()
    at.run()
    assert not at.exception
    assert reruns == []  # stopped: the board is drawn once again, with its Resume button
    assert _button(at, t("llm_page.resume", "en"))


def test_a_local_server_needs_no_key_and_a_stopped_measurement_resumes(stored, tmp_path):
    store, dataset, truth = stored
    with FakeChatServer(answer=_answerer(truth)) as srv:
        endpoint = Endpoint(base_url=srv.base_url, model="fake-model")
        run_id = create_measurement(store, dataset.id, endpoint, PromptSpec(), 6, None)
        store.request_cancel(run_id)  # a queued measurement stops at once, nothing asked
        at = _page(dataset.id, tmp_path)
        text = _texts(at)
        assert t("llm_page.key_missing") in text  # the default preset is a hosted API
        resume = _button(at, t("llm_page.resume"))
        assert not resume.disabled  # the stopped run's endpoint is on this machine
        resume.click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert _wait_finished(store, run_id) == "succeeded", store.get_run(run_id).error
        assert srv.count == 6
    at.run()
    assert "measured on 6 test texts" in _texts(at)


def test_the_catalogued_method_texts_are_the_cores():
    """The page shows the core's method sentences translated by matching them: keep them equal."""
    from slm_core.llm.measurement import LLMMeasurement

    empty = LLMMeasurement(
        run_id=1,
        status="succeeded",
        dataset_id="d",
        endpoint=Endpoint(base_url="http://127.0.0.1:1/v1", model="m"),
        prompt=PromptSpec(),
        labels=(),
        n_planned=0,
        test_size=0,
        positions=(),
        texts=(),
        y_true=(),
        y_pred=(),
        statuses=(),
        contents=(),
        latencies_ms=(),
        input_tokens=0.0,
        output_tokens=0.0,
        usage_reported=True,
        cost_usd=0.0,
        structured=True,
    )
    assert t("llm.method.measured") == empty.summary()["method"]
    assert t("llm.method.estimate") == Estimate.__dataclass_fields__["method"].default_factory()
    assert t("llm.method.measured", "zh") != t("llm.method.measured")


def test_a_measurement_stopped_by_its_budget_goes_on_with_a_larger_one(stored, tmp_path):
    from slm_core.llm.job import measure

    store, dataset, truth = stored
    with FakeChatServer(answer=_answerer(truth)) as srv:
        # A dear price makes a few cents of budget last three or four calls.
        endpoint = Endpoint(base_url=srv.base_url, model="fake-model", input_price_per_m=1000.0)
        run_id = create_measurement(store, dataset.id, endpoint, PromptSpec(), 10, 0.1)
        measure(store, run_id, None)
        run = store.get_run(run_id)
        assert run.status == "succeeded" and run.metrics["llm"]["stopped"] == "budget"
        answered = run.metrics["llm"]["n"]
        assert 0 < answered < 10

        at = _page(dataset.id, tmp_path)
        assert not at.exception and not at.error, [e.value for e in at.error]
        text = _texts(at)
        assert t("llm_page.budget_stopped", n=answered, planned=10) in text
        assert f"measured on {answered} test texts" in text
        at.number_input(key=f"llm_budget_{run_id}").set_value(50.0)
        _button(at, t("llm_page.continue_budget")).click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert _wait_finished(store, run_id) == "succeeded"
        assert srv.count == 10
    run = store.get_run(run_id)
    assert run.params["budget_usd"] == 50.0 and run.metrics["llm"]["stopped"] is None
    at.run()
    assert "measured on 10 test texts" in _texts(at)
