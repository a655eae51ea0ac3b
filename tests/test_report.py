"""The HTML report, model cards and CSV/JSON export, from a store with real trained runs.

Two linear models are trained on a small topic corpus with a group column. The dataset name and
two labels carry HTML and spreadsheet-formula payloads, so every test also checks that user text
is escaped and neutralised on its way out. Every figure about value comes from the value report
(``ReportData.value``), and the report states its decision in the very sentence the Value page
shows (``decision_text``).
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import zipfile
from dataclasses import replace
from html.parser import HTMLParser

import pandas as pd
import pytest

from slm_core.data.split import content_hash
from slm_core.errors import NotFoundError, SlmError
from slm_core.i18n import catalogue
from slm_core.report import (
    SECTIONS,
    CardText,
    build_tables,
    collect_report,
    csv_zip,
    kpi_tiles,
    model_card_markdown,
    model_cards,
    read_card_text,
    render_html,
    report_json_text,
    safe_cell,
    save_card_text,
    table_csv,
    write_report,
)
from slm_core.report.html import esc
from slm_core.report.model_card import md
from slm_core.report.table_types import format_cell, money_text
from slm_core.store import RunStore
from slm_core.value import Assumptions
from slm_core.value.text import decision_text, option_label, sensitivity_text, serving_text
from tests.conftest import planted_gap_frame, store_trained_runs

DATASET_NAME = 'News & "Topics" <script>alert(1)</script>'
FORMULA_LABEL = "=1+2 money"
HTML_LABEL = "<img src=x onerror=alert(1)>"
WORDS = {
    "sport": "match goal team coach league score player season win",
    FORMULA_LABEL: "bank price market profit shares tax budget loan interest",
    HTML_LABEL: "phone software chip internet app data cloud robot code",
}
BENCH = {
    "latency_ms": {"single_thread": {"p50": 2.0, "p90": 3.0, "p95": 3.5, "p99": 5.0}},
    "cpu_seconds_per_prediction": 0.002,
    "artifact_bytes": 3_000_000,
    "peak_rss_bytes": 150_000_000,
    "energy_kwh_per_million": 0.05,
}


def make_store(home) -> tuple[RunStore, object, list[int]]:
    """A store under ``home`` with two trained linear runs; run 1 has a cost benchmark."""
    store = RunStore(f"sqlite:///{home / 'runs.sqlite'}", home)
    frame = planted_gap_frame(WORDS, 40)
    report = {
        "token_unit": "word",
        "script": "latin",
        "classes": {k: int(v) for k, v in frame["label"].value_counts().items()},
        "groups": {"north": 60, "south": 60},
        "mean_length": 30.0,
    }
    dataset, run_ids = store_trained_runs(store, frame, report, name=DATASET_NAME)
    store.put_result(run_ids[0], "bench", BENCH)
    return store, dataset, run_ids


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    home = tmp_path_factory.mktemp("report_home")
    store, dataset, run_ids = make_store(home)
    data = collect_report(store, dataset.id, Assumptions())
    yield store, dataset, run_ids, data
    store.close()


# ------------------------------------------------------------------ HTML


def _plotly_layouts(text: str) -> list[dict]:
    """The layout of every figure the report draws (the third argument of Plotly.newPlot)."""
    decoder = json.JSONDecoder()
    layouts = []
    for match in re.finditer(r"Plotly\.newPlot\(\s*", text):
        pos = match.end()
        args = []
        for _ in range(3):
            value, pos = decoder.raw_decode(text, pos)
            args.append(value)
            pos = re.compile(r"\s*,\s*").match(text, pos).end()
        layouts.append(args[2])
    return layouts


def test_html_report_contains_the_key_figures(stored, tmp_path):
    store, dataset, run_ids, data = stored
    path = write_report(store, dataset.id, tmp_path / "report.html")
    text = path.read_text(encoding="utf-8")
    v = data.value
    assert text.startswith("<!DOCTYPE html>") and '<html lang="en">' in text
    assert esc(DATASET_NAME) in text
    for r in data.runs:
        assert f"{r.evaluation.accuracy:.1%}" in text  # leaderboard accuracy
        lo, hi = r.evaluation.accuracy_ci
        assert f"{lo:.1%}" in text and f"{hi:.1%}" in text  # its 95% CI
        assert f'id="run-{r.run_id}"' in text
    assert esc(sensitivity_text(v, "en")) in text
    # Every option side by side: manual, each model as served, the API, (a cascade).
    options = re.search(r'data-table="options">(.*?)</table>', text, re.S).group(1)
    for o in v.options:
        assert esc(option_label(o, "en")) in options
    assert "Keep it manual" in options
    business = re.search(r'data-table="business">(.*?)</table>', text, re.S).group(1)
    assert "validation split" in business  # the split that chose each threshold
    # Serving cost: the benchmarked run's measured figures and every run's modelled bill.
    cost = re.search(r'data-table="cost">(.*?)</table>', text, re.S).group(1)
    assert "2.00" in cost and "3.50" in cost  # p50 and p95 (ms)
    assert "Cost page benchmark" in cost
    assert "always-on" in cost and "modelled" in cost
    assert "marginal" not in text.lower()
    for key in (
        "options",
        "scores",
        "business",
        "social",
        "decision",
        "assumptions",
        "leaderboard",
        "per_class",
    ):
        assert f'data-table="{key}"' in text
    assert "Texts per year" in text and "200,000" in text
    # The decision's charts (cost against volume, radar, validation curve), accuracy and
    # confusion matrices; generation date and versions.
    for chart in ("chart-cost-volume", "chart-radar", "chart-profit", "chart-accuracy"):
        assert f'id="{chart}"' in text
    assert text.count('class="plotly-graph-div"') >= 6
    assert data.generated_at.strftime("%Y-%m-%d") in text
    assert f"<td>numpy</td><td>{data.versions['numpy']}</td>" in text
    assert "Model card (Markdown)" in text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_html_report_states_the_decision_first_in_its_exact_words(stored, lang):
    _, _, _, data = stored
    text = render_html(data, lang)
    sentence = esc(decision_text(data.value, lang))
    assert sentence in text
    # At the very top: after the title, before the table of contents and every section.
    at = text.index(sentence)
    assert text.index("</header>") < at < text.index('<nav class="toc">') < text.index("<section")
    decision = re.search(r'<div class="decision[^"]*" data-decision="([^"]+)">', text)
    assert decision is not None and decision.group(1) == data.value.decision.best


def test_html_report_in_chinese(stored, tmp_path):
    store, dataset, _, data = stored
    text = write_report(store, dataset.id, tmp_path / "zh.html", lang="zh").read_text("utf-8")
    assert '<html lang="zh-CN">' in text
    assert "排行榜" in text and "各选项并排对比" in text and "什么会改变决策" in text
    assert esc(decision_text(data.value, "zh")) in text
    assert "成本页面的基准测试" in text and "批量 CPU 时间" in text  # run 2: no benchmark


def test_every_chart_in_the_html_report_has_a_white_background(stored):
    _, _, _, data = stored
    for lang in ("en", "zh"):
        text = render_html(data, lang)
        layouts = _plotly_layouts(text)
        assert len(layouts) == text.count('class="plotly-graph-div"') >= 6
        for layout in layouts:
            assert layout["paper_bgcolor"] == "white", layout.get("title")
            assert layout["plot_bgcolor"] == "white", layout.get("title")
            template = layout["template"]["layout"]
            assert template["paper_bgcolor"] == "white"
            assert template["plot_bgcolor"] == "white"  # plotly_white, never a dark template


class _Loads(HTMLParser):
    """Collects every way an HTML document could make the browser fetch something."""

    LOADING = {
        "script": ("src",),
        "link": ("href",),
        "img": ("src", "srcset"),
        "iframe": ("src",),
        "frame": ("src",),
        "embed": ("src",),
        "object": ("data",),
        "audio": ("src",),
        "video": ("src", "poster"),
        "source": ("src", "srcset"),
        "track": ("src",),
        "input": ("src",),
        "form": ("action",),
        "base": ("href",),
    }

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.loads: list[str] = []
        self.styles: list[str] = []
        self.meta: list[dict] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in self.LOADING.get(tag, ()):
            if attrs.get(name):
                self.loads.append(f"<{tag} {name}={attrs[name]}>")
        if "style" in attrs:
            self.styles.append(attrs["style"] or "")
        if tag == "meta":
            self.meta.append(attrs)
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def test_html_report_loads_nothing_from_the_network(stored, tmp_path):
    """Nothing may be *loaded* from the network when the report is opened.

    plotly.js is inlined, and its own source contains URL strings (map-tile styles, a topojson
    default, attribution links) that are only fetched by map traces, which this report never
    draws. So instead of banning every "http" substring in the file, this test checks (1) that no
    tag or stylesheet can fetch anything, (2) that the page forbids any fetch through its
    Content-Security-Policy, and (3) that outside the plotly.js bundle — our markup, styles and
    every chart's data — there is no URL at all.
    """
    store, dataset, _, _ = stored
    text = write_report(store, dataset.id, tmp_path / "offline.html").read_text("utf-8")
    parser = _Loads()
    parser.feed(text)
    assert parser.loads == [], parser.loads  # no src/href/data that could fetch
    for css in parser.styles:
        assert "@import" not in css and not re.search(r"url\(", css), css
    csp = next(
        m["content"] for m in parser.meta if m.get("http-equiv") == "Content-Security-Policy"
    )
    assert "default-src 'none'" in csp and "connect-src 'none'" in csp
    assert "http:" not in csp and "https:" not in csp
    # Everything but the inlined library: no URL of any kind, no CDN.
    start = text.index('<script id="plotly-js">')
    end = text.index("</script>", start)
    ours = text[:start] + text[end:]
    assert not re.search(r"https?://|//cdn|cdn\.", ours, re.I), re.findall(
        r".{40}https?://.{40}", ours
    )
    # The library itself is inlined, not referenced.
    assert len(text[start:end]) > 1_000_000


def test_user_text_is_escaped_everywhere(stored):
    _, _, _, data = stored
    text = render_html(data, "en")
    assert "<script>alert(1)</script>" not in text
    assert HTML_LABEL not in text  # as a raw tag it would run onerror
    assert html.escape(HTML_LABEL, quote=True) in text  # shown as text instead
    # In chart data plotly's JSON encoder escapes '<' and '>' as well.
    assert "onerror=alert(1)>" not in text.replace("&gt;", "").replace("\\u003e", "")


def _without_serving(data):
    """The same report as if no run had any serving measurement (no benchmark, no CPU time)."""
    from slm_core.report.collect import cost_figures
    from slm_core.value.scorecard import evaluate_value
    from slm_core.value.serving import ServingMeasure

    inputs = data.value.inputs
    bare = replace(inputs, runs=tuple(replace(r, serving=ServingMeasure()) for r in inputs.runs))
    value = evaluate_value(bare, data.value.assumptions, with_sensitivity=False)
    runs = tuple(replace(r, cost=cost_figures(None), bench=None) for r in data.runs)
    return replace(data, runs=runs, value=value)


def test_serving_not_measured_is_said_plainly(stored):
    _, _, run_ids, data = stored
    bare = _without_serving(data)
    assert not any(o.kind == "model" and o.eligible for o in bare.value.options)
    text = render_html(bare, "en")
    assert 'data-cost="not-measured"' in text
    assert "Serving cost not measured yet" in text
    assert f"python -m slm_core bench --run {run_ids[0]}" in text
    assert 'data-table="cost"' not in text
    tiles = {k.key: k for k in kpi_tiles(bare, "en")}
    assert tiles["cost_per_million"].raw is None
    assert "Serving not measured yet" in tiles["cost_per_million"].note


def test_report_language_and_dataset_errors_are_clear(stored, tmp_path):
    store, dataset, _, _ = stored
    with pytest.raises(SlmError, match="language"):
        write_report(store, dataset.id, tmp_path / "x.html", lang="fr")
    with pytest.raises(NotFoundError):
        write_report(store, "no-such-dataset", tmp_path / "x.html")


# ------------------------------------------------------------------ KPIs


def test_kpi_tiles_follow_the_decision(stored):
    _, _, _, data = stored
    v = data.value
    tiles = {k.key: k for k in kpi_tiles(data, "en")}
    assert list(tiles) == ["decision", "net_value", "accuracy", "cost_per_million", "social_score"]
    decided = v.best
    assert tiles["decision"].value == option_label(decided, "en")
    assert tiles["decision"].raw == v.decision.best
    assert tiles["net_value"].raw == pytest.approx(decided.business.net_value)
    if decided.kind != "manual":
        assert "interval" in tiles["net_value"].note
        assert f"({decided.business.kinds['net_value']})" in tiles["net_value"].note
    best = data.best
    assert tiles["accuracy"].raw == pytest.approx(best.evaluation.accuracy)
    assert best.label in tiles["accuracy"].note and "(measured)" in tiles["accuracy"].note
    # Cost per 1M as served (the serving mode at the scenario's volume), next to the API's.
    model = data.option(best.run_id)
    assert tiles["cost_per_million"].raw == pytest.approx(model.serving.per_million)
    api = v.option("api")
    assert money_text(api.serving.per_million, "USD", "en") in tiles["cost_per_million"].note
    assert "always-on" in tiles["cost_per_million"].note
    scored = decided if decided.social_score is not None else model
    assert tiles["social_score"].raw == pytest.approx(scored.social_score.score)


def test_tiles_say_when_the_decision_is_to_keep_it_manual(stored):
    from slm_core.value.scorecard import evaluate_value

    _, _, _, data = stored
    a = data.value.assumptions.edit(annual_volume=500.0)
    manual = replace(data, value=evaluate_value(data.value.inputs, a, with_sensitivity=False))
    assert manual.value.decision.best == "manual"
    tiles = {k.key: k for k in kpi_tiles(manual, "zh")}
    assert tiles["decision"].value == "继续人工处理"
    assert tiles["net_value"].raw == 0.0 and "基准" in tiles["net_value"].note
    # With no model decided on, the accuracy tile shows the most accurate run.
    top = max(manual.runs, key=lambda r: (r.evaluation.accuracy, -r.run_id))
    assert manual.best is top and tiles["accuracy"].raw == top.evaluation.accuracy
    text = render_html(manual, "en")
    assert 'class="decision manual" data-decision="manual"' in text
    assert esc(decision_text(manual.value, "en")) in text


def test_best_is_the_decided_model_when_the_decision_owns_one(stored):
    _, _, run_ids, data = stored
    v = data.value
    for run_id in run_ids:
        decided = replace(v, decision=replace(v.decision, best=f"run:{run_id}"))
        assert replace(data, value=decided).best.run_id == run_id


def test_formatting_for_each_language():
    assert money_text(0.0248, "USD", "en") == "$0.0248"
    assert money_text(1234.5, "USD", "en") == "$1,234"
    assert money_text(250_000, "CNY", "zh") == "¥25.0 万"
    assert format_cell(0.5, "pct") == "50.0%"
    assert format_cell(None, "money") == "–"
    assert format_cell(True, "auto", "zh") == "是"
    assert format_cell(0.0446, "auto") == "0.0446"  # assumptions keep their precision
    assert format_cell(200000.0, "auto") == "200,000"


# ---------------------------------------------------------------- tables


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_table_and_column_has_a_translated_title(stored, lang):
    _, _, _, data = stored
    for key, table in build_tables(data, lang).items():
        assert not table.title.startswith("report_table."), key
        bad = [c.label for c in table.columns if c.label.startswith(("report_", "value."))]
        assert not bad, (key, bad)


def test_options_and_decision_tables_carry_intervals_kinds_and_break_evens(stored):
    _, _, _, data = stored
    v = data.value
    tables = build_tables(data, "en")
    options = {r["key"]: r for r in tables["options"].records()}
    assert list(options) == [o.key for o in v.options]
    for o in v.options:
        row = options[o.key]
        assert row["net_value"] == pytest.approx(o.business.net_value)
        if o.business.net_value_ci is not None:
            assert (row["net_value_low"], row["net_value_high"]) == pytest.approx(
                o.business.net_value_ci
            )
        assert row["eligible"] is o.eligible
        if o.kind != "manual":
            assert row["net_value_kind"] == o.business.kinds["net_value"]
    decision = {r["key"]: r for r in tables["decision"].records()}
    assert decision["decision"]["value"] == decision_text(v, "en")
    assert decision["best"]["raw_value"] == v.decision.best
    if v.decision.manual_below is not None:
        assert decision["manual_below"]["raw_value"] == v.decision.manual_below.value
    for c in v.decision.crossovers:
        assert decision[f"crossover.{c.a}.{c.b}"]["raw_value"] == c.volume
    business = tables["business"].records()
    assert {r["scored_on"] for r in business if r["key"] != "manual"} == {"test"}
    social = tables["social"].records()
    assert {r["key"] for r in social} == {o.key for o in v.options if o.kind != "manual"}
    assert all(r["kind"] in ("measured", "modelled", "assumed", "not measured") for r in social)


def test_assumptions_table_lists_every_field_and_marks_unused_error_costs(stored):
    from slm_core.value.assumptions import FIELD_NAMES
    from slm_core.value.scorecard import evaluate_value

    _, _, _, data = stored
    rows = {r["key"]: r for r in build_tables(data, "en")["assumptions"].records()}
    assert set(rows) == set(FIELD_NAMES) - {"sources", "preset"}
    for name in (
        "fx_rate",
        "serving_mode",
        "llm_wh_per_query",
        "interval_level",
        "noise_typo_rate",
    ):
        assert rows[name]["unit"] is not None and rows[name]["source"], name
    # No positive class in the default scenario: the false-positive/-negative costs are unused.
    assert rows["cost_false_positive"]["in_use"] is False
    assert rows["cost_false_negative"]["note"].startswith("Not used")
    assert rows["cost_other_error"]["in_use"] is True
    a = data.value.assumptions.edit(positive_class="sport")
    named = replace(data, value=evaluate_value(data.value.inputs, a, with_sensitivity=False))
    rows = {r["key"]: r for r in build_tables(named, "en")["assumptions"].records()}
    assert rows["cost_false_positive"]["in_use"] is True


# ---------------------------------------------------------------- export


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-3.5", "'-3.5"),  # text that looks like a number is still text
        ("plain = fine", "plain = fine"),
        (-3.5, -3.5),  # numbers stay numbers
        (0, 0),
        (float("nan"), ""),
        (None, ""),
        (True, "true"),
    ],
)
def test_csv_cells_are_neutralised(value, expected):
    assert safe_cell(value) == expected


def test_csv_export_neutralises_formulas_and_keeps_numbers(stored):
    _, _, run_ids, data = stored
    tables = build_tables(data, "en")
    text = table_csv(tables["per_class"])
    assert text.startswith("\ufeff")  # Excel reads the UTF-8 labels correctly
    rows = list(csv.reader(io.StringIO(text[1:])))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["Run", "Model", "Label"]
    labels = {r[2] for r in body}
    assert "'" + FORMULA_LABEL in labels and FORMULA_LABEL not in labels
    assert all(not cell.startswith(("=", "+", "@")) for r in rows for cell in r)
    assert {int(r[0]) for r in body} == set(run_ids)
    assert all(0.0 <= float(r[3]) <= 1.0 for r in body)  # precision: a number, unquoted
    archive = zipfile.ZipFile(io.BytesIO(csv_zip(tables)))
    assert set(archive.namelist()) == {f"{k}.csv" for k in tables}
    assert {"options.csv", "decision.csv", "cost_volume.csv"} <= set(archive.namelist())
    leaderboard = archive.read("leaderboard.csv").decode("utf-8-sig")
    assert str(data.runs[0].evaluation.accuracy)[:6] in leaderboard
    options = list(csv.DictReader(io.StringIO(table_csv(tables["options"], header="key")[1:])))
    assert [r["key"] for r in options] == [o.key for o in data.value.options]


def test_json_export_holds_the_decision_options_intervals_and_kinds(stored):
    _, dataset, _, data = stored
    v = data.value
    exported = json.loads(report_json_text(data, "zh"))
    assert exported["lang"] == "zh"
    assert exported["dataset"]["name"] == DATASET_NAME
    # The decision, in the words of every page, with its break-evens and crossovers.
    decision = exported["value"]["decision"]
    assert decision["best"] == v.decision.best and decision["text"] == decision_text(v, "zh")
    for key in ("runner_up", "llm_break_even", "manual_below", "manual_flips", "crossovers"):
        assert key in decision
    if v.decision.manual_below is not None:
        assert decision["manual_below"]["value"] == pytest.approx(v.decision.manual_below.value)
    # Every option with its serving mode, interval, chance of a positive value and kinds.
    options = {o["key"]: o for o in exported["value"]["options"]}
    assert {"manual", "api"} <= set(options)
    assert {f"run:{r.run_id}" for r in data.runs} <= set(options)
    for o in v.options:
        got = options[o.key]
        assert got["serving_mode"] == o.serving_mode
        assert got["business"]["net_value"] == pytest.approx(o.business.net_value)
        if o.kind == "model":
            assert len(got["business"]["net_value_ci"]) == 2
            assert 0.0 <= got["business"]["p_positive"] <= 1.0
            assert got["business"]["kinds"]["coverage"] == "measured"
            assert got["serving"]["kind"] in ("modelled", "not_measured")
            assert all("kind" in d for d in got["social_dims"].values())
    assert exported["value"]["assumptions"]["annual_volume"] == 200_000.0
    # Every table too, and the stored inputs behind them (not the value report twice).
    tables = exported["tables"]
    for key in ("options", "decision", "leaderboard", "cost", "business", "social", "groups"):
        assert tables[key]["rows"], key
    by_run = {row["run"]: row for row in tables["leaderboard"]["rows"]}
    for r in data.runs:
        assert by_run[r.run_id]["accuracy"] == pytest.approx(r.evaluation.accuracy)
    assert tables["leaderboard"]["columns"][5]["label"] == "准确率"
    assert "value" not in exported["source"] and exported["source"]["runs"]
    assert exported["versions"]["slm-value-lab"]


# ----------------------------------------------------------- model cards


def test_model_card_has_every_section_in_both_languages(stored):
    store, _, run_ids, data = stored
    cards = model_cards(store, data, save=False)
    for lang in ("en", "zh"):
        text = model_card_markdown(cards[run_ids[0]], lang)
        headings = re.findall(r"^## (.+)$", text, re.M)
        assert headings == [catalogue(lang)[f"model_card.section.{s}"] for s in SECTIONS]
        # Where the card states the recommendation, it states the decision in its exact words.
        assert md(decision_text(data.value, lang)) in text
    en = model_card_markdown(cards[run_ids[0]], "en")
    ev = data.run(run_ids[0]).evaluation
    lo, hi = ev.accuracy_ci
    assert f"| Accuracy | {ev.accuracy:.1%} | {lo:.1%} – {hi:.1%} |" in en
    assert "| north |" in en and "| south |" in en  # per-group results
    assert "Latency p50" not in en and "latency p50 2.00 ms" in en  # measured cost
    assert "draft derived from the data" in en
    assert "<img" not in en and "&lt;img src=x onerror=alert(1)&gt;" in en
    assert "模型详情" in model_card_markdown(cards[run_ids[1]], "zh")


def test_model_card_value_is_the_models_option(stored):
    store, _, run_ids, data = stored
    card = model_cards(store, data, save=False)[run_ids[0]]
    o = data.value.card(run_ids[0])
    value = card.value
    assert value["option_key"] == o.key and value["serving_mode"] == o.serving_mode
    assert value["net_value"] == pytest.approx(o.business.net_value)
    assert value["net_value_ci"] == pytest.approx(list(o.business.net_value_ci))
    assert value["kinds"] == o.business.kinds
    assert value["cost_per_million"] == pytest.approx(o.serving.per_million)
    assert value["is_recommended"] is (data.value.decision.best == o.key)
    en = model_card_markdown(card, "en")
    assert f"served {serving_text(o, 'en')}" in en
    assert f"({o.business.kinds['net_value']})" in en
    json.dumps(card.to_dict())  # stored as JSON


def test_card_text_is_stored_and_counts_for_transparency(tmp_path):
    from slm_core.value import build_scorecards

    store, dataset, run_ids = make_store(tmp_path)
    data = collect_report(store, dataset.id)
    model_cards(store, data)  # stores the structured fields of every card
    stored = store.get_result(run_ids[1], "model_card")
    assert stored["intended_use"] == "" and stored["metrics"]["n_test"] > 0
    assert stored["sections"] == list(SECTIONS)
    before = build_scorecards(store, dataset.id, measure=False, with_sensitivity=False)
    items = before.card(run_ids[1]).social_dims["transparency"].details["items"]
    assert items["model_card"] == 0.0  # a generated draft does not count
    text = CardText(
        intended_use="Route tickets | <script>x</script>",
        intended_users="Support leads",
        out_of_scope="Decisions about people",
    )
    save_card_text(store, run_ids[1], text)
    assert read_card_text(store, run_ids[1]) == text
    assert store.get_result(run_ids[1], "model_card")["metrics"]["n_test"] > 0  # kept
    after = build_scorecards(store, dataset.id, measure=False, with_sensitivity=False)
    transparency = after.card(run_ids[1]).social_dims["transparency"]
    assert transparency.details["items"]["model_card"] == 1.0
    assert transparency.score > before.card(run_ids[1]).social_dims["transparency"].score
    # Regenerating the cards keeps what people wrote.
    cards = model_cards(store, collect_report(store, dataset.id))
    md_text = model_card_markdown(cards[run_ids[1]], "en")
    assert "Route tickets \\| &lt;script&gt;x&lt;/script&gt;" in md_text
    assert "<script>" not in md_text
    assert store.get_result(run_ids[1], "model_card")["intended_use"].startswith("Route")
    store.close()


def test_model_names_in_the_catalogue_match_the_registry():
    from slm_core.models.registry import SPECS

    en, zh = catalogue("en"), catalogue("zh")
    for model_id, spec in SPECS.items():
        assert en[f"model_card.model.{model_id}.name"] == spec.name
        assert en[f"model_card.model.{model_id}.description"] == spec.description
        assert zh[f"model_card.model.{model_id}.name"] != spec.name


def test_report_of_a_dataset_without_finished_runs(tmp_path):
    store = RunStore(f"sqlite:///{tmp_path / 'runs.sqlite'}", tmp_path)
    frame = pd.DataFrame({"text": ["a b", "c d", "e f", "g h"], "label": ["x", "y", "x", "y"]})
    dataset = store.add_dataset(
        "untrained",
        "cli",
        "u.csv",
        content_hash(frame),
        frame,
        report={"token_unit": "word", "classes": {"x": 2, "y": 2}},
        split_config={},
    )
    out = tmp_path / "reports"
    out.mkdir()
    path = write_report(store, "untrained", out, lang="zh")  # a folder: the file goes inside
    assert path.parent == out and path.name == f"report_{dataset.id}_zh.html"
    text = path.read_text("utf-8")
    assert "还没有训练完成的模型" in text and "untrained" in text
    data = collect_report(store, dataset.id)
    assert data.value is None and data.best is None and kpi_tiles(data) == []
    tables = build_tables(data, "en")
    assert tables["classes"].rows and not tables["leaderboard"].rows
    assert not tables["options"].rows and not tables["decision"].rows
    store.close()


@pytest.fixture
def streamlit_plotly_default():
    """Plotly's default template as it is inside the Streamlit server (placeholder colours)."""
    import plotly.io as pio
    from streamlit.elements.lib.streamlit_plotly_theme import configure_streamlit_plotly_theme

    before = pio.templates.default
    configure_streamlit_plotly_theme()
    assert pio.templates.default == "streamlit"
    yield
    pio.templates.default = before


def test_report_charts_have_real_colours_and_room_for_labels_when_built_in_streamlit(
    stored, tmp_path, streamlit_plotly_default
):
    store, dataset, _, _ = stored
    text = write_report(store, dataset.id, tmp_path / "in_app.html").read_text("utf-8")
    start = text.index('<script id="plotly-js">')
    charts = text[text.index("</script>", start) :]
    # Streamlit's placeholders (#000001…#000010) only its front end replaces: near-black here.
    assert not re.search(r"#0000(0[1-9]|10)\b", charts, re.I)
    layouts = _plotly_layouts(text)
    assert len(layouts) >= 4
    for layout in layouts:
        template = layout["template"]["layout"]
        assert template["colorway"][0].lower() == "#636efa"  # plotly_white's own colours
        assert layout.get("paper_bgcolor") == "white"
        if "yaxis" in layout:  # polar charts have none
            assert template["yaxis"]["automargin"] and template["xaxis"]["automargin"]
