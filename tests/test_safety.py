"""User text is never live markup, exports never run formulas, models load only from the store.

One module-wide store holds a dataset whose texts, labels, groups, name and file name are
hostile (HTML tags, a ``</script>`` break-out, a Markdown image that would fetch a pixel, a
spreadsheet formula, Chinese with Streamlit's own colour directive), one quick linear run
trained on it, a hostile correction, hostile model-card fields and a measured LLM whose model
name, prompt and answers are hostile too. Every page that shows examples, labels or names is
run through AppTest and every element it sends to the browser is checked; so are the HTML
report, the model cards and the CSV exports. Then the model loader: only from the store, and
``.keras`` files with ``safe_mode=True``.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from google.protobuf.json_format import MessageToDict
from streamlit.testing.v1 import AppTest

from slm_core.errors import SlmError
from slm_core.escape import md_code, md_text, spreadsheet_cell
from slm_core.i18n import t
from tests.conftest import ROOT, store_trained_runs
from ui.decision import CONTROLS_OPEN_KEY, EDITOR_OPEN_KEY, VALUE_TABS_KEY
from ui.results_sections import DETAIL_TABS as RESULTS_TABS
from ui.results_sections import DETAIL_TABS_KEY as RESULTS_TABS_KEY

TIMEOUT = 120
PIXEL = "http://127.0.0.1:9/pixel.png"
HOSTILE = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    f"![p]({PIXEL})",
    "</script><script>alert(2)</script>",
    '=HYPERLINK("http://x")',
    "退款 :red[红色] <b>粗体</b> [点我](javascript:alert(3))",
)
TOPICS = (
    "match goal team coach league",
    "bank price market profit shares",
    "phone software chip internet app",
    "rain cloud storm wind snow",
    "bread cheese apple soup rice",
    "train plane ship road bridge",
)
NAME = f"<script>alert('name')</script> ![n]({PIXEL})"
FILENAME = "<img src=x onerror=alert('file')>.csv"
LLM_MODEL = "<img src=x onerror=alert('llm')>"
LLM_FREE_TEXT = f"<script>alert('answer')</script> ![a]({PIXEL})"
SCENARIO = f"-<script>alert('scenario')</script> ![s]({PIXEL})"
CARD_USE = f"Route tickets | <script>alert('card')</script> ![c]({PIXEL})"

# What must never reach a Markdown renderer or an HTML body unescaped.
LIVE = (
    re.compile(r"(?<!\\)<\s*/?\s*(script|img|b)\b", re.I),  # a tag
    re.compile(r"(?<!\\)\]\(\s*(http|javascript)", re.I),  # a Markdown link or image
    re.compile(r"(?<!\\):red\["),  # a Streamlit directive
)


def hostile_frame() -> pd.DataFrame:
    """Six classes whose labels are the hostile strings; each text carries its label too."""
    texts, labels, groups = [], [], []
    for label, words in zip(HOSTILE, TOPICS, strict=True):
        for i in range(14):
            w = words.split()
            texts.append(f"{label} {' '.join(w[(i + k) % 5] for k in range(3))} {i}")
            labels.append(label)
            groups.append(HOSTILE[i % 2])
    return pd.DataFrame({"text": texts, "label": labels, "group": groups})


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """(store, dataset, run id, llm run id, home) with everything user-written hostile."""
    from llm_server import FakeChatServer

    from slm_core.llm.endpoints import Endpoint
    from slm_core.llm.job import create_measurement, measure, prepare_plan
    from slm_core.llm.prompt import PromptSpec
    from slm_core.report import CardText, save_card_text
    from slm_core.store import RunStore
    from ui.state import get_store

    home = tmp_path_factory.mktemp("safety_home")
    patch = pytest.MonkeyPatch()
    patch.setenv("SLM_HOME", str(home))
    patch.delenv("SLM_DATABASE_URL", raising=False)
    get_store.clear()
    st.cache_data.clear()
    store = RunStore()
    frame = hostile_frame()
    report = {
        "token_unit": "word",
        "script": "latin",
        "classes": {k: int(v) for k, v in frame["label"].value_counts().items()},
        "groups": {k: int(v) for k, v in frame["group"].value_counts().items()},
    }
    dataset, (run_id,) = store_trained_runs(
        store, frame, report, name=NAME, filename=FILENAME, models=("tfidf_lr",)
    )
    store.add_feedback(run_id, HOSTILE[3] + " bank", HOSTILE[0], False, HOSTILE[4])
    save_card_text(store, run_id, CardText(intended_use=CARD_USE, out_of_scope=HOSTILE[2]))

    spec = PromptSpec(system=f"Sort {HOSTILE[0]} into {{labels}}. Reply JSON.", user="{text}")
    sample = prepare_plan(store, dataset.id, spec, 12).texts
    truth = dict(zip(frame["text"], frame["label"], strict=True))

    def answer(text: str, request: dict) -> str:
        if text == sample[0]:
            return LLM_FREE_TEXT
        return json.dumps({"label": truth[text]}, ensure_ascii=False)

    with FakeChatServer(answer=answer, api_key="sk-safety", models=[LLM_MODEL]) as srv:
        endpoint = Endpoint(
            base_url=srv.base_url,
            model=LLM_MODEL,
            input_price_per_m=0.1,
            price_source=HOSTILE[2],
            price_date=HOSTILE[1],
        )
        llm_id = create_measurement(store, dataset.id, endpoint, spec, 12, None)
        measure(store, llm_id, "sk-safety")
    assert store.get_run(llm_id).status == "succeeded", store.get_run(llm_id).error
    yield store, dataset, run_id, llm_id, home
    get_store.clear()
    st.cache_data.clear()
    patch.undo()


# ------------------------------------------------------------------ the escaping itself


@pytest.mark.parametrize(
    "text",
    [
        *HOSTILE,
        NAME,
        SCENARIO,
        CARD_USE,
        "a *b* _c_ `d` ~~e~~ # f $x$ | g!",
        "1. x",
        "> q",
        "R&D &lt;",
    ],
)
def test_md_text_renders_as_the_text_itself(text):
    """Through a CommonMark renderer that lets raw HTML through (the worst case): the reader
    sees the text as typed, and even the app's own sentences (exact=False) hold no element
    the text asked for."""
    markdown_it = pytest.importorskip("markdown_it")
    md = markdown_it.MarkdownIt("gfm-like", {"html": True, "linkify": False})
    shown = md.render(md_text(text))
    assert html.unescape(re.sub(r"</?p>\n?", "", shown)) == " ".join(text.split())
    sentence = md.render(md_text(text, exact=False))
    assert not re.search(r"<(a|img|script|b|iframe|table)\b", sentence), sentence
    span = md.render("x " + md_code(f"`{text}`") + " y")
    assert re.fullmatch(r"<p>x <code>[^<]*</code> y</p>\n", span), span


# ------------------------------------------------------------------ the pages


def _nodes(node):
    yield node
    children = getattr(node, "children", None) or {}
    for child in children.values():
        yield from _nodes(child)


def _strings(value, path: str = ""):
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")


# Fields the browser shows as plain text (widget values, selectbox options, code, data).
PLAIN = re.compile(
    r"\.(default|value|raw_value|raw_values|options|placeholder|code_text|id|form_id|"
    r"data|spec|url|key|deprecation)\b"
)
PLAIN_TYPES = {"text", "code", "json", "arrow_data_frame", "dataframe"}


def _around(text: str) -> str:
    """The first live spot of ``text`` with some context (a whole page's text is long)."""
    hits = [m.start() for p in LIVE for m in [p.search(text)] if m] or [0]
    return repr(text[max(0, min(hits) - 80) : min(hits) + 80])


def live_markup(at: AppTest) -> list[str]:
    """Every place on the page where hostile text is live: raw in a Markdown field or an
    HTML body, or an unescaped tag in a Plotly figure."""
    found = []
    for node in _nodes(at._tree):
        proto = getattr(node, "proto", None)
        if proto is None or not hasattr(proto, "DESCRIPTOR"):
            continue
        kind = getattr(node, "type", type(node).__name__)
        fields = dict(_strings(MessageToDict(proto, preserving_proto_field_name=True)))
        for path, text in fields.items():
            if kind == "plotly_chart":
                if re.search(r"<\s*(script|img|a|b)\b", text, re.I):
                    found.append(f"{kind}{path}: {_around(text)}")
                continue
            if kind in PLAIN_TYPES or (kind != "html" and PLAIN.search(path)):
                continue
            if any(p.search(text) for p in LIVE):
                found.append(f"{kind}{path}: {_around(text)}")
    return found


def _scenario_state() -> dict:
    from slm_core.value.assumptions import PRESET_IDS, load_preset
    from ui.decision import CURRENT_KEY

    a = load_preset(PRESET_IDS[0]).edit(name=SCENARIO, llm_name=HOSTILE[1])
    return {CURRENT_KEY: a.to_dict()}


def hostile_csv() -> bytes:
    """An upload whose column names, texts and labels are all hostile."""
    frame = hostile_frame()
    frame.columns = [HOSTILE[0], HOSTILE[2], HOSTILE[5]]  # text, label, group
    return frame.to_csv(index=False).encode("utf-8")


PAGES = ("home", "train", "results", "llm", "cost", "value", "report", "present")
VALUE_TABS = (
    "value.tab_business",
    "value.tab_social",
    "value.tab_transparency",
    "value.tab_compare",
    "value.tab_sources",
)


def test_the_checker_sees_live_markup():
    """The page check below can fail: raw tags and images are found, escaped ones are not."""

    def page():
        import streamlit as st

        st.markdown("<img src=x onerror=alert(1)>")
        st.caption("![p](http://127.0.0.1:9/pixel.png)")
        st.metric("ok", "![m](http://127.0.0.1:9/m.png)")
        st.html("<b>bold</b>")
        st.markdown("&lt;img src=x&gt; \\![p\\](http\\://127.0.0.1:9/pixel.png)")
        st.dataframe({"text": ["<script>alert(1)</script>"]})  # plain text: fine

    at = AppTest.from_function(page, default_timeout=TIMEOUT).run()
    assert [f.split(":")[0] for f in live_markup(at)] == [
        "markdown.body",
        "caption.body",
        "metric.body",
        "html.body",
    ]


def test_no_page_shows_user_text_as_live_markup(hostile):
    """Every page with hostile names, labels, texts, answers and a hostile scenario; the
    Playground asked a hostile text; the Data page given a hostile upload."""
    _, dataset, *_ = hostile
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.session_state["dataset_id"] = dataset.id
    at.session_state["lang"] = "en"
    for key, value in _scenario_state().items():
        at.session_state[key] = value
    at.run()
    found = {}
    for page in PAGES:
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        found[page] = live_markup(at)
    for tab in VALUE_TABS:  # the Value page draws only its open tab (and its editor open)
        at.switch_page("pages/value.py")
        at.session_state[VALUE_TABS_KEY.format(lang="en")] = t(tab)
        at.session_state[EDITOR_OPEN_KEY] = at.session_state[CONTROLS_OPEN_KEY] = True
        at.run()
        assert not at.exception, (tab, [e.value for e in at.exception])
        found[f"value/{tab}"] = live_markup(at)
    for tab in RESULTS_TABS:  # so does the Results page's per-model section
        at.switch_page("pages/results.py")
        at.session_state[RESULTS_TABS_KEY.format(lang="en")] = t(tab)
        at.run()
        assert not at.exception, (tab, [e.value for e in at.exception])
        found[f"results/{tab}"] = live_markup(at)

    at.switch_page("pages/playground.py").run()
    at.text_area(key="pg_text").set_value(" ".join(HOSTILE) + " bank price")
    at.button(key="pg_ask").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (html_body,) = [h.proto.body for h in at.get("html") if "line-height" in h.proto.body]
    # The asked text, tinted token by token: its tags escaped between the spans.
    assert "&lt;" in html_body and "onerror" in html_body and "<script" not in html_body
    assert len(at.metric) == 1  # the model answered
    found["playground"] = live_markup(at)

    at.switch_page("pages/data.py").run()
    at.file_uploader[0].set_value((FILENAME, hostile_csv(), "text/csv")).run()
    header = next(s for s in at.selectbox if s.label == "First row is a header")
    header.set_value(True).run()  # hostile column names look like data to the sniffer
    assert not at.exception, [e.value for e in at.exception]
    assert any(HOSTILE[0] in s.options for s in at.selectbox)  # the columns were read
    found["data"] = live_markup(at)
    found = {page: spots for page, spots in found.items() if spots}
    if found:
        pytest.fail(json.dumps(found, indent=1, ensure_ascii=False), pytrace=False)


# ------------------------------------------------------------------ the report and the cards


class _Elements(HTMLParser):
    """Every start tag of a document with its attributes, and each script's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data


@pytest.fixture(scope="module")
def collected(hostile):
    """The hostile dataset's report data (evaluations, the value report, the LLM), once."""
    from slm_core.report import collect_report

    store, dataset, *_ = hostile
    return collect_report(store, dataset.id)


def test_the_html_report_holds_user_text_as_text(hostile, collected):
    from slm_core.report import llm_cards, model_card_markdown, model_cards, render_html

    store, *_ = hostile
    # What build_report_html does, on the data collected once for this module.
    cards = {k: model_card_markdown(c, "en") for k, c in model_cards(store, collected).items()}
    cards.update(llm_cards(store, collected, "en"))
    text = render_html(collected, "en", cards=cards)
    for raw in (*HOSTILE, NAME, FILENAME, LLM_MODEL, LLM_FREE_TEXT, CARD_USE):
        if "<" in raw:
            assert raw not in text, raw
    assert "</script><script>alert" not in text
    parsed = _Elements()
    parsed.feed(text)
    # Every script is the report's own: plotly.js, then one Plotly.newPlot per chart; no data
    # broke out of a chart's JSON into a script of its own.
    ids = [a.get("id") for tag, a in parsed.tags if tag == "script"]
    assert ids[0] == "plotly-js" and len(parsed.scripts) == text.count("Plotly.newPlot(") + 1
    # Inside a chart's script, text is JSON with every "<" written \u003c: nothing can close it.
    assert all("Plotly.newPlot(" in s and "<" not in s for s in parsed.scripts[1:])
    # No element the data asked for: no image, no bold, no event handler, no javascript: link.
    assert not [t for t, _ in parsed.tags if t in ("img", "iframe", "object", "embed")]
    assert not [(t, a) for t, a in parsed.tags if any(k.startswith("on") for k in a)]
    assert not [a for _, a in parsed.tags if "javascript:" in (a.get("href") or "")]
    # The user's words are still there, as text.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=alert(&#x27;llm&#x27;)&gt;" in text


def test_model_cards_fence_user_text(hostile, collected):
    from slm_core.report import llm_cards, model_card_markdown, model_cards

    store, _, run_id, llm_id, _ = hostile
    data = collected
    cards = {k: model_card_markdown(c, "en") for k, c in model_cards(store, data).items()}
    cards.update(llm_cards(store, data, "en"))
    assert set(cards) == {run_id, llm_id}
    for card in cards.values():
        # Code is shown verbatim (the LLM's exact prompt, its URL): only the rest can be live.
        prose = re.sub(r"(?ms)^(`{3,})[^\n]*\n.*?^\1\s*$", "", card)
        prose = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", prose)
        for live in (*LIVE, re.compile(r"(?<!\\)!\[")):
            assert not live.search(prose), (live, prose)
    small = cards[run_id]
    assert md_text(CARD_USE) in small  # the user's intended use, escaped, not dropped
    assert md_text(HOSTILE[0]) in small  # a label
    assert md_text(LLM_MODEL) in cards[llm_id]
    assert f"Sort {HOSTILE[0]} into" in cards[llm_id]  # the exact prompt, verbatim in its fence


def _cells(data: bytes) -> list[str]:
    return [c for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for c in row]


def _formula_like(cell: str) -> bool:
    """A cell a spreadsheet would evaluate (a signed number is data, not a formula)."""
    if not cell.startswith(("=", "+", "-", "@", "\t", "\r")):
        return False
    try:
        float(cell)
    except ValueError:
        return True
    return False


def test_exported_spreadsheets_never_start_a_formula(hostile, collected):
    from slm_core.feedback import corrections_csv
    from slm_core.report import build_tables, csv_zip

    store, dataset, *_ = hostile
    with zipfile.ZipFile(io.BytesIO(csv_zip(build_tables(collected, "en")))) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    files["corrections.csv"] = corrections_csv(store, dataset.id)
    cells = [c for data in files.values() for c in _cells(data)]
    assert "'" + HOSTILE[4] in cells  # the formula label, neutralised
    assert "'" + HOSTILE[4] + " bank" not in cells and any(HOSTILE[3] in c for c in cells)
    assert not [c for c in cells if _formula_like(c)]
    assert spreadsheet_cell("-3.5") == "'-3.5" and spreadsheet_cell(-3.5) == -3.5


# ------------------------------------------------------------------ loading models


def _copy_model(store, run_id: int, to: Path) -> Path:
    import shutil

    return Path(shutil.copytree(store.artifact_dir(run_id) / "model", to))


def test_models_load_only_from_the_store(hostile, tmp_path, monkeypatch):
    from slm_core.models.registry import load_model
    from slm_core.models.saved import MODEL_ROOTS_ENV

    store, _, run_id, _, home = hostile
    monkeypatch.setenv("SLM_HOME", str(home))
    monkeypatch.delenv(MODEL_ROOTS_ENV, raising=False)  # conftest trusts the tests' folders
    inside = store.artifact_dir(run_id) / "model"
    assert load_model(inside).model_id == "tfidf_lr"

    outside = _copy_model(store, run_id, tmp_path / "elsewhere")
    linked = store.artifact_dir(run_id + 1000) / "model"
    linked.symlink_to(outside, target_is_directory=True)
    swapped = _copy_model(store, run_id, store.artifact_dir(run_id + 2000) / "model")
    (swapped / "model.joblib").unlink()
    (swapped / "model.joblib").symlink_to(outside / "model.joblib")
    for path in (outside, linked, swapped):
        with pytest.raises(SlmError) as info:
            load_model(path)
        assert info.value.key == "errors.saved.outside_store", path
        assert str(outside) in str(info.value)
    # A folder named by the one who starts the process is trusted, and only then.
    monkeypatch.setenv(MODEL_ROOTS_ENV, str(tmp_path))
    assert load_model(outside).model_id == "tfidf_lr"


def _neural_dir(folder: Path) -> Path:
    from slm_core.models.registry import resolve_params
    from slm_core.models.saved import write_meta

    folder.mkdir(parents=True)
    params = resolve_params("cnn", "quick")
    write_meta(
        folder,
        model_id="cnn",
        family="neural",
        params=params,
        classes=["a", "b"],
        token_unit="word",
        extra={"max_len": 4},
    )
    return folder


def test_keras_files_load_with_safe_mode(hostile, monkeypatch):
    """The loader is asked for safe_mode=True (without importing TensorFlow here)."""
    from types import SimpleNamespace

    from slm_core.models import neural
    from slm_core.models.registry import load_model

    store, _, run_id, _, home = hostile
    monkeypatch.setenv("SLM_HOME", str(home))
    folder = _neural_dir(store.artifact_dir(run_id + 3000) / "model")
    (folder / "model.keras").write_bytes(b"not read")
    calls = []

    def load(path, **kwargs):
        calls.append((Path(path), kwargs))
        raise LookupError("stop here")

    fake = SimpleNamespace(saving=SimpleNamespace(load_model=load))
    monkeypatch.setattr(neural, "keras_modules", lambda: (None, fake))
    with pytest.raises(LookupError):
        load_model(folder)
    assert calls == [(folder.resolve() / "model.keras", {"compile": False, "safe_mode": True})]


def test_a_keras_file_with_a_lambda_layer_is_refused(hostile, monkeypatch):
    """A crafted .keras file whose Lambda layer holds Python code never runs it."""
    keras = pytest.importorskip("keras")
    from slm_core.models.registry import load_model

    store, _, run_id, _, home = hostile
    monkeypatch.setenv("SLM_HOME", str(home))
    folder = _neural_dir(store.artifact_dir(run_id + 4000) / "model")
    inputs = keras.Input((4,))
    crafted = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    crafted.save(folder / "model.keras")
    with pytest.raises(ValueError, match="Lambda"):
        load_model(folder)
