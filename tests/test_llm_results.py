"""The measured LLM on the Results page, in the HTML report, the export and its model card.

One store for the module: a small 3-topic dataset, two quick linear models, and an LLM
measurement of the whole test split (about 36 texts) against the fake chat server, which
answers some texts wrongly and a few with free text that names no label. The prompt's system
message carries an HTML payload, so every output is also checked for escaping; the API key is
checked to appear nowhere.
"""

from __future__ import annotations

import json

import pytest
import streamlit as st
from llm_server import FakeChatServer, label_answerer

from slm_core.i18n import t
from slm_core.llm.endpoints import Endpoint
from slm_core.llm.job import create_measurement, measure, prepare_plan
from slm_core.llm.measurement import compare_runs_on_sample, load_measurement
from slm_core.llm.prompt import PromptSpec
from slm_core.mcnemar import mcnemar_verdict
from slm_core.resample import wilson_interval
from slm_core.store import RunStore
from tests.conftest import TOPIC_WORDS, page_under_router, planted_gap_frame, store_trained_runs
from ui.results_sections import DETAIL_TABS, DETAIL_TABS_KEY

TIMEOUT = 120
KEY = "sk-test-llm-results-0123456789"
MODEL = "fake-model"
PAYLOAD = "<script>alert('prompt')</script>"
LLM = f"LLM · {MODEL}"
ROUTER = """
import streamlit as st
PAGES = ["pages/results.py", "pages/train.py", "pages/data.py"]
st.navigation([st.Page(p, default=(p == "pages/results.py")) for p in PAGES]).run()
"""


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """(store, dataset, small run ids, LLM run id) in a fresh SLM_HOME for this module."""
    from ui.state import get_store

    patch = pytest.MonkeyPatch()
    patch.setenv("SLM_HOME", str(tmp_path_factory.mktemp("llm_results_home")))
    get_store.clear()
    st.cache_data.clear()
    store = RunStore()
    frame = planted_gap_frame(TOPIC_WORDS, 80)
    report = {
        "token_unit": "word",
        "script": "latin",
        "classes": {k: int(v) for k, v in frame["label"].value_counts().items()},
    }
    dataset, run_ids = store_trained_runs(store, frame, report)
    spec = PromptSpec(
        system=f"Classify {PAYLOAD} texts as one of {{labels}}. Reply JSON.",
        user="Text:\n{text}",
    )
    # The server sees the user message, "Text:\n<text>"; some sampled texts get a wrong label,
    # three get free text that names none.
    truth = dict(zip("Text:\n" + frame["text"], frame["label"], strict=True))
    sample = [f"Text:\n{text}" for text in prepare_plan(store, dataset.id, spec, 60).texts]
    answer = label_answerer(truth, wrong=sample[::5], unparseable=sample[1:4])
    with FakeChatServer(answer=answer, api_key=KEY) as srv:
        endpoint = Endpoint(
            base_url=srv.base_url,
            model=MODEL,
            input_price_per_m=0.15,
            output_price_per_m=0.60,
            price_source="test price list",
            price_date="Dec 2026",
        )
        llm_id = create_measurement(store, dataset.id, endpoint, spec, 60, None)
        measure(store, llm_id, KEY)
        assert not srv.errors
    run = store.get_run(llm_id)
    assert run.status == "succeeded", run.error
    yield store, dataset, run_ids, llm_id
    get_store.clear()
    st.cache_data.clear()
    patch.undo()


def _frame(at, column: str):
    (frame,) = [d.value for d in at.dataframe if column in d.value.columns]
    return frame


def test_results_page_shows_the_llm_row_and_the_same_texts(measured, tmp_path):
    store, dataset, run_ids, llm_id = measured
    m = load_measurement(store, llm_id)
    assert 30 <= m.n <= 60 and m.unparseable == 3 and m.n == m.test_size
    at = page_under_router(ROUTER, tmp_path / "router", dataset.id, "en", TIMEOUT)
    assert not at.error

    board = _frame(at, "Accuracy 95% CI").set_index("Run")
    assert sorted(board.index) == sorted([*run_ids, llm_id])
    row = board.loc[llm_id]
    assert row["Model"] == LLM
    assert row["Accuracy"] == pytest.approx(m.n_right / m.n)
    lo, hi = wilson_interval(m.n_right, m.n)
    assert row["Accuracy 95% CI"] == f"{lo:.3f} – {hi:.3f}"
    assert row["Test texts"] == m.n
    for empty in ("Calibration error", "Training time (s)", "Model size (MB)"):
        assert row[empty] is None or row[empty] != row[empty]  # None or NaN: does not apply
    for run_id in run_ids:  # the small models on the whole test split
        assert board.loc[run_id, "Test texts"] == m.test_size
    assert board["Accuracy"].is_monotonic_decreasing
    notes = [c.value for c in at.caption]
    assert any(f"{LLM} is measured on a stratified sample of {m.n} of the" in c for c in notes)

    same = _frame(at, "Same texts").set_index("Model")
    expected = compare_runs_on_sample(store, m, [store.get_run(r) for r in run_ids])
    assert len(same) == len(run_ids) == len(expected)
    for c in expected:
        name = f"#{c.run_id} {c.model_id} · quick"
        shown = same.loc[name]
        assert shown["Same texts"] == c.n == m.n
        assert shown["Small model accuracy"] == pytest.approx(c.accuracy)
        assert shown[f"{LLM} accuracy"] == pytest.approx(m.accuracy)
        assert shown["Only the small model right"] == c.test.only_a
        assert shown["Only the LLM right"] == c.test.only_b
        assert shown["Verdict"] == mcnemar_verdict(c.test, name, LLM, "en")
    assert any(f"{m.unparseable} could not be read as a label" in c for c in notes)

    # The paired comparison may take the LLM; the per-model tabs may not (no probabilities).
    assert LLM in at.selectbox(key="results_model_b").options
    assert LLM not in at.selectbox(key="results_run").options
    at.selectbox(key="results_model_b").set_value(llm_id).run()
    assert not at.exception
    verdicts = [x.value for x in [*at.success, *at.info] if LLM in x.value]
    assert verdicts
    assert any(f"Compared on the {m.n} sampled test texts" in c.value for c in at.caption)
    for tab in DETAIL_TABS:  # each per-model tab, drawn only when open, beside the LLM
        at.session_state[DETAIL_TABS_KEY.format(lang="en")] = t(tab, "en")
        at.run()
        assert not at.exception and not at.error, (tab, [e.value for e in at.exception])


def test_results_page_in_chinese(measured, tmp_path):
    _, dataset, _, llm_id = measured
    at = page_under_router(ROUTER, tmp_path / "router_zh", dataset.id, "zh", TIMEOUT)
    board = _frame(at, "准确率 95% 置信区间")
    assert LLM in set(board["模型"])
    assert "相同文本数" in _frame(at, "相同文本数").columns


def test_report_has_the_llm_section_with_the_prompt_escaped_and_no_key(measured):
    from slm_core.report import build_tables, collect_report, render_html, report_json_text
    from slm_core.report.html import build_report_html

    store, dataset, run_ids, llm_id = measured
    m = load_measurement(store, llm_id)
    page = build_report_html(store, dataset.id, "en", measure=False)
    assert KEY not in page
    section = page[page.index('<section id="llm">') :]
    section = section[: section.index("</section>")]
    assert "Hosted LLM, measured" in section and LLM in section
    assert m.endpoint.base_url in section  # the endpoint, never the key
    # The prompt as plain text: escaped, never live HTML.
    assert PAYLOAD not in page
    assert "&lt;script&gt;alert(&#x27;prompt&#x27;)&lt;/script&gt;" in section
    assert '<pre data-llm="prompt">[system]' in section
    lo, hi = m.accuracy_ci
    assert f"{m.accuracy:.1%} accurate (95% Wilson interval {lo:.1%} – {hi:.1%})" in section
    assert f"{m.n} of the {m.test_size} test texts" in section
    assert 'data-table="llm_compare"' in section
    assert "Model card: hosted LLM fake-model" in section  # its card, folded in

    data = collect_report(store, dataset.id, measure=False)
    tables = build_tables(data, "en")
    fields = {row[0]: row[2] for row in tables["llm"].rows}
    assert fields["n_texts"] == m.n and fields["unparseable"] == m.unparseable
    assert fields["usd_per_million"] == pytest.approx(m.usd_per_million)
    assert fields["cost_usd"] == pytest.approx(m.cost_usd) and m.cost_usd > 0
    assert fields["latency_p95_ms"] == pytest.approx(m.latency_p95_ms)
    assert [r[0] for r in tables["llm_compare"].rows] == sorted(run_ids)
    board = {row[0]: row for row in tables["leaderboard"].rows}
    assert board[llm_id][1] == LLM and board[llm_id][4] == m.n
    exported = report_json_text(data, "zh", build_tables(data, "zh"))
    assert KEY not in exported
    assert json.loads(exported)["source"]["llm"]["summary"]["kind"] == "measured"
    assert "托管 LLM（实测）" in render_html(data, "zh")


def test_model_card_of_the_llm_run(measured):
    from slm_core.report import (
        CardText,
        collect_report,
        llm_card,
        llm_card_markdown,
        read_card_text,
        save_card_text,
    )

    store, dataset, _, llm_id = measured
    m = load_measurement(store, llm_id)
    save_card_text(store, llm_id, CardText(intended_use="Route <b>tickets</b> | fast"))
    data = collect_report(store, dataset.id, measure=False)
    card = llm_card(store, data)
    assert card.run_id == llm_id and read_card_text(store, llm_id).intended_use
    text = llm_card_markdown(card, "en")
    assert text.startswith(f"# Model card: hosted LLM {MODEL} (measurement run {llm_id})")
    assert "```text\n[system]\nClassify <script>" in text  # the prompt, as a code block
    assert "Route &lt;b&gt;tickets&lt;/b&gt; \\| fast" in text  # people's words, made safe
    assert f"sample of {m.n} of the {m.test_size} texts" in text
    assert f"{m.accuracy:.1%}" in text and "(measured)" in text
    assert "Kind: measured." in text
    stored = store.get_result(llm_id, "model_card")
    assert stored["kind"] == "llm_api" and stored["metrics"]["n"] == m.n
    assert KEY not in json.dumps(stored) and KEY not in text
    assert "模型卡：托管 LLM" in llm_card_markdown(card, "zh")


COST_ROUTER = """
import streamlit as st
PAGES = ["pages/cost.py", "pages/llm.py", "pages/value.py", "pages/train.py", "pages/data.py"]
st.navigation([st.Page(p, default=(p == "pages/cost.py")) for p in PAGES]).run()
"""


def test_cost_page_shows_the_measured_llm(measured, tmp_path):
    from slm_core.value.assumptions import DEFAULT_PRESET, load_preset

    store, dataset, _, llm_id = measured
    m = load_measurement(store, llm_id)
    at = page_under_router(COST_ROUTER, tmp_path / "router_cost", dataset.id, "en", 180)
    assert not at.error
    assert "Hosted LLM, measured" in [h.value for h in at.subheader]
    figures = _frame(at, "Figure").set_index("Figure")
    a = load_preset(DEFAULT_PRESET)
    assert figures.loc["Cost per 1M texts", "Value"] == pytest.approx(m.usd_per_million)
    assert figures.loc["Cost per 1M texts, scenario currency", "Value"] == pytest.approx(
        a.usd(m.usd_per_million)
    )
    assert figures.loc["Input tokens per text", "Value"] == pytest.approx(m.input_tokens_per_text)
    assert figures.loc["Latency per call, p95", "Value"] == pytest.approx(m.latency_p95_ms)
    assert figures.loc["Cost per 1M texts", "Kind"] == "measured"
    assert figures.loc["Input price", "Value"] == pytest.approx(0.15)
    captions = [c.value for c in at.caption]
    assert any("test price list, Dec 2026" in c for c in captions)
    assert "llm" in [p.proto.page for p in at.get("page_link")]
    # The money table's API row is the measured LLM too (the value report's API option).
    money = _frame(at, "Per 1M predictions (USD)")
    api = money[money["Served"] == "API"].iloc[-1]
    assert api["Model"] == LLM and api["Kind"] == "measured"
    assert api["Per 1M predictions (USD)"] == pytest.approx(a.usd(m.usd_per_million))


REPORT_ROUTER = """
import streamlit as st
PAGES = ["pages/report.py", "pages/present.py", "pages/value.py", "pages/train.py", "pages/data.py"]
st.navigation([st.Page(p, default=(p == "pages/report.py")) for p in PAGES]).run()
"""


def test_report_page_offers_the_llm_card(measured, tmp_path):
    _, dataset, _, llm_id = measured
    at = page_under_router(REPORT_ROUTER, tmp_path / "router_report", dataset.id, "en", 180)
    box = at.selectbox(key="report.card_run")
    assert LLM in box.options
    box.set_value(llm_id).run()
    assert not at.exception
    assert any(f"Model card: hosted LLM {MODEL}" in m.value for m in at.markdown)
