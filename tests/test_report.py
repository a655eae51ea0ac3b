"""The HTML report, model cards and CSV/JSON export, from a store with real trained runs.

Two linear models are trained on a small topic corpus with a group column. The dataset name and
two labels carry HTML and spreadsheet-formula payloads, so every test also checks that user text
is escaped and neutralised on its way out.
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
    cost_figures,
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
from slm_core.report.table_types import format_cell, money_text
from slm_core.report.value_tables import cheaper_than_llm
from slm_core.store import RunStore
from slm_core.value import Assumptions
from slm_core.value.text import recommendation_text, sensitivity_text
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


def test_html_report_contains_the_key_figures(stored, tmp_path):
    store, dataset, run_ids, data = stored
    path = write_report(store, dataset.id, tmp_path / "report.html")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and '<html lang="en">' in text
    assert esc(DATASET_NAME) in text
    for r in data.runs:
        assert f"{r.evaluation.accuracy:.1%}" in text  # leaderboard accuracy
        lo, hi = r.evaluation.accuracy_ci
        assert f"{lo:.1%}" in text and f"{hi:.1%}" in text  # its 95% CI
        assert f'id="run-{r.run_id}"' in text
    assert esc(recommendation_text(data.value, "en")) in text
    assert esc(sensitivity_text(data.value, "en")) in text
    assert "With your weights" in text
    # Cost table: the benchmarked run's figures, and 'not measured yet' for the other.
    cost = re.search(r'<table class="wide" data-table="cost">(.*?)</table>', text, re.S).group(1)
    assert "2.00" in cost and "3.50" in cost  # p50 and p95 (ms)
    assert "not measured yet" in cost
    ratio = cheaper_than_llm(data)
    assert ratio is not None and ratio[0] == data.runs[0].label  # only run 1 is measured
    assert f"costs {ratio[1]:,.0f}× less per prediction than the LLM API" in text
    # Both scorecards, their formulas and the assumptions they rest on.
    for key in ("scores", "business", "social", "assumptions", "leaderboard", "per_class"):
        assert f'data-table="{key}"' in text
    assert "Texts per year" in text and "200,000" in text
    # Interactive charts, generation date and versions.
    assert text.count('class="plotly-graph-div"') >= 5
    assert data.generated_at.strftime("%Y-%m-%d") in text
    assert f"<td>numpy</td><td>{data.versions['numpy']}</td>" in text
    assert "Model card (Markdown)" in text


def test_html_report_in_chinese(stored, tmp_path):
    store, dataset, _, data = stored
    text = write_report(store, dataset.id, tmp_path / "zh.html", lang="zh").read_text("utf-8")
    assert '<html lang="zh-CN">' in text
    assert "排行榜" in text and "业务记分卡" in text and "按您的权重" in text
    assert esc(recommendation_text(data.value, "zh")) in text
    assert "尚未测量" in text  # run 2 has no benchmark


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


def test_cost_not_measured_is_said_plainly(stored):
    _, _, run_ids, data = stored
    unmeasured = replace(
        data, runs=tuple(replace(r, cost=cost_figures(None), bench=None) for r in data.runs)
    )
    text = render_html(unmeasured, "en")
    assert 'data-cost="not-measured"' in text
    assert "Cost not measured yet" in text
    assert f"python -m slm_core bench --run {run_ids[0]}" in text
    assert 'data-table="cost"' not in text


def test_report_language_and_dataset_errors_are_clear(stored, tmp_path):
    store, dataset, _, _ = stored
    with pytest.raises(SlmError, match="language"):
        write_report(store, dataset.id, tmp_path / "x.html", lang="fr")
    with pytest.raises(NotFoundError):
        write_report(store, "no-such-dataset", tmp_path / "x.html")


# ------------------------------------------------------------------ KPIs


def test_kpi_tiles_follow_the_recommendation_and_the_measured_cost(stored):
    _, _, run_ids, data = stored
    tiles = {k.key: k for k in kpi_tiles(data, "en")}
    assert list(tiles) == [
        "best_model",
        "accuracy",
        "cost_per_million",
        "net_value",
        "social_score",
    ]
    winner = data.value.recommendation.winner
    assert tiles["best_model"].value == winner
    best = data.best
    assert tiles["accuracy"].raw == pytest.approx(best.evaluation.accuracy)
    card = data.value.card(best.run_id)
    assert tiles["net_value"].raw == pytest.approx(card.business.net_value)
    assert tiles["social_score"].raw == pytest.approx(card.social_score.score)
    price = data.value.assumptions.price_per_vcpu_hour
    if best.run_id == run_ids[0]:  # the benchmarked run: measured CPU time × price
        assert tiles["cost_per_million"].raw == pytest.approx(0.002 * 1e6 / 3600 * price)
        assert "Measured" in tiles["cost_per_million"].note
    else:  # only a labelled estimate, or 'not measured yet'
        assert "Measured" not in tiles["cost_per_million"].note


def test_formatting_for_each_language():
    assert money_text(0.0248, "USD", "en") == "$0.0248"
    assert money_text(1234.5, "USD", "en") == "$1,234"
    assert money_text(250_000, "CNY", "zh") == "¥25.0 万"
    assert format_cell(0.5, "pct") == "50.0%"
    assert format_cell(None, "money") == "–"
    assert format_cell(True, "auto", "zh") == "是"
    assert format_cell(0.0446, "auto") == "0.0446"  # assumptions keep their precision
    assert format_cell(200000.0, "auto") == "200,000"


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
    leaderboard = archive.read("leaderboard.csv").decode("utf-8-sig")
    assert str(data.runs[0].evaluation.accuracy)[:6] in leaderboard


def test_json_export_holds_every_table_and_its_inputs(stored):
    _, dataset, _, data = stored
    exported = json.loads(report_json_text(data, "zh"))
    assert exported["lang"] == "zh"
    assert exported["dataset"]["name"] == DATASET_NAME
    tables = exported["tables"]
    for key in ("leaderboard", "cost", "business", "social", "scores", "assumptions", "groups"):
        assert tables[key]["rows"], key
    by_run = {row["run"]: row for row in tables["leaderboard"]["rows"]}
    for r in data.runs:
        assert by_run[r.run_id]["accuracy"] == pytest.approx(r.evaluation.accuracy)
    assert tables["leaderboard"]["columns"][5]["label"] == "准确率"
    assert exported["source"]["value"]["assumptions"]["annual_volume"] == 200_000.0
    assert exported["versions"]["slm-value-lab"]


# ----------------------------------------------------------- model cards


def test_model_card_has_every_section_in_both_languages(stored):
    store, _, run_ids, data = stored
    cards = model_cards(store, data, save=False)
    for lang in ("en", "zh"):
        text = model_card_markdown(cards[run_ids[0]], lang)
        headings = re.findall(r"^## (.+)$", text, re.M)
        assert headings == [catalogue(lang)[f"model_card.section.{s}"] for s in SECTIONS]
    en = model_card_markdown(cards[run_ids[0]], "en")
    ev = data.run(run_ids[0]).evaluation
    lo, hi = ev.accuracy_ci
    assert f"| Accuracy | {ev.accuracy:.1%} | {lo:.1%} – {hi:.1%} |" in en
    assert "| north |" in en and "| south |" in en  # per-group results
    assert "Latency p50" not in en and "latency p50 2.00 ms" in en  # measured cost
    assert "draft derived from the data" in en
    assert "<img" not in en and "&lt;img src=x onerror=alert(1)&gt;" in en
    assert "模型详情" in model_card_markdown(cards[run_ids[1]], "zh")


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
    assert items["intended_use"] is False  # a generated draft does not count
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
    assert transparency.details["items"]["intended_use"] is True
    assert transparency.score > before.card(run_ids[1]).social_dims["transparency"].score
    # Regenerating the cards keeps what people wrote.
    cards = model_cards(store, collect_report(store, dataset.id))
    md = model_card_markdown(cards[run_ids[1]], "en")
    assert "Route tickets \\| &lt;script&gt;x&lt;/script&gt;" in md
    assert "<script>" not in md
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
    tables = build_tables(collect_report(store, dataset.id), "en")
    assert tables["classes"].rows and not tables["leaderboard"].rows
    store.close()
