"""AppTest of the Results and Playground pages against a store with real trained runs.

Until the pages are in ``app.PAGES`` they run under a minimal router (the same
``st.navigation`` over ``pages/``, without app.py's sidebar), with the active dataset and the
language set in session state as the sidebar would.
"""

from __future__ import annotations

import json
from collections import Counter

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from slm_core.data.split import content_hash
from slm_core.i18n import t
from slm_core.store import RunStore
from tests.conftest import TOPIC_WORDS, page_under_router, store_trained_runs
from ui.results_sections import DETAIL_TABS_KEY

TIMEOUT = 120
WORDS = TOPIC_WORDS


@pytest.fixture
def stored(fresh_home):
    """Two trained linear runs on a small 3-topic dataset, in a fresh SLM_HOME."""
    from ui.state import get_store

    get_store.clear()  # the cached store of an earlier test points at another SLM_HOME
    store = RunStore()
    texts, labels = [], []
    names = list(WORDS)
    for j, (label, vocab) in enumerate(WORDS.items()):
        v = vocab.split()
        for i in range(40):
            texts.append(" ".join(v[(i * 3 + k) % len(v)] for k in range(3)) + f" n{i}")
            # Every fifth label is wrong, so that the models make mistakes to browse.
            labels.append(names[(j + 1) % 3] if i % 5 == 0 else label)
    frame = pd.DataFrame({"text": texts, "label": labels})
    dataset, run_ids = store_trained_runs(store, frame, {"token_unit": "word"})
    yield store, dataset, run_ids
    get_store.clear()


def _frames(at: AppTest, column: str) -> list[pd.DataFrame]:
    """The data of every st.dataframe on the page that has ``column`` (tables have no key)."""
    return [d.value for d in at.dataframe if column in d.value.columns]


ROUTER = """
import streamlit as st
PAGES = ["pages/results.py", "pages/playground.py", "pages/train.py", "pages/data.py"]
st.navigation([st.Page(p, default=(p == {page!r})) for p in PAGES]).run()
"""


def _page(name: str, dataset_id: str, lang: str = "en", *, tmp_path) -> AppTest:
    """Run ``pages/<name>`` under a router whose folder links to the real ``pages/``."""
    router = ROUTER.format(page=f"pages/{name}")
    return page_under_router(router, tmp_path / f"router_{name[:-3]}", dataset_id, lang, TIMEOUT)


def open_tab(at: AppTest, tab: str, lang: str = "en") -> None:
    """Open the Results page's per-model tab ``tab`` (a locale key), as a click on it does."""
    key = DETAIL_TABS_KEY.format(lang=lang)
    if at.session_state[key] != t(tab, lang):
        at.session_state[key] = t(tab, lang)
        at.run()
        assert not at.exception, [e.value for e in at.exception]


def test_results_page_leaderboard_comparison_and_details(stored, tmp_path):
    store, dataset, run_ids = stored
    at = _page("results.py", dataset.id, tmp_path=tmp_path)
    assert not at.error
    (board,) = _frames(at, "Accuracy 95% CI")
    assert sorted(board["Run"].tolist()) == sorted(run_ids)
    for run_id in run_ids:
        row = board[board["Run"] == run_id].iloc[0]
        assert row["Accuracy"] == pytest.approx(store.get_run(run_id).metrics["accuracy"])
        lo, hi = (float(v) for v in row["Accuracy 95% CI"].split(" – "))
        assert lo <= row["Accuracy"] <= hi
    # The comparison starts with the most accurate run against the runner-up.
    best = max(run_ids, key=lambda r: (store.get_run(r).metrics["accuracy"], -r))
    assert board["Run"].iloc[0] == best
    verdicts = [
        m.value
        for m in [*at.success, *at.info]
        if "is better than" in m.value or m.value.startswith("No reliable difference between")
    ]
    assert len(verdicts) == 1 and f"#{best} " in verdicts[0]

    shown = best  # the details section starts on the most accurate run
    accuracy = store.get_run(shown).metrics["accuracy"]
    open_tab(at, "results.tab_threshold")
    at.slider(key=f"threshold_{shown}").set_value(0.0).run()
    assert not at.exception
    assert any(
        f"≥ 0% sure, it handles 100.0% of items with {accuracy:.1%} accuracy" in m.value
        for m in at.markdown
    )
    at.slider(key=f"threshold_{shown}").set_value(0.99).run()
    assert any("≥ 99%" in m.value for m in at.markdown)

    # Error browser: the misclassified test texts, then only those of one true label.
    open_tab(at, "results.tab_confusion")
    (errors,) = _frames(at, "Confidence")  # of the shown run
    assert len(errors) > 0 and (errors["True label"] != errors["Predicted label"]).all()
    true_label = errors["True label"].iloc[0]
    at.selectbox(key=f"err_true_{shown}").set_value(true_label).run()
    assert not at.exception
    (filtered,) = _frames(at, "Confidence")
    assert set(filtered["True label"]) == {true_label} and len(filtered) <= len(errors)

    other = next(r for r in run_ids if r != best)
    at.selectbox(key="results_run").set_value(other).run()
    assert not at.exception
    open_tab(at, "results.tab_classes")
    (per_class,) = _frames(at, "Support")
    assert sorted(per_class["Label"]) == sorted(WORDS)
    evaluation = store.get_result(other, "evaluation")
    assert per_class["F1"].tolist() == pytest.approx([c["f1"] for c in evaluation["per_class"]])
    open_tab(at, "results.tab_feedback")
    assert any(f"#{other} " in m.value and "no feedback yet" in m.value for m in at.markdown)


FIGURE_BUILDERS = (
    "confusion_figure",
    "roc_figure",
    "pr_figure",
    "reliability_figure",
    "coverage_figure",
)


# The per-model tabs that hold charts, with the charts a linear run shows in each.
CHART_TABS = {
    "results.tab_confusion": 2,  # counts and row shares
    "results.tab_curves": 2,  # ROC and precision-recall
    "results.tab_calibration": 1,  # the reliability diagram
    "results.tab_learning": 0,  # a linear model has no epochs
    "results.tab_threshold": 1,  # coverage and accuracy over the threshold
}


def _open_chart_tabs(at: AppTest, lang: str = "en") -> dict[str, int]:
    """Open every tab that holds charts in turn: the number of charts each one drew."""
    drawn = {}
    for tab in CHART_TABS:
        open_tab(at, tab, lang)
        drawn[tab] = len(at.get("plotly_chart"))
    return drawn


def test_a_runs_figures_are_built_once_across_visits(stored, tmp_path, monkeypatch):
    """A tab's figures are built when it is first opened; a second visit to Results (and any
    rerun of it) reuses them; only a new threshold or another language builds again, and only
    what depends on it."""
    import ui.results_figures as figures

    calls: Counter[str] = Counter()

    def counting(name):
        build = getattr(figures, name)

        def counted(*args, **kwargs):
            calls[name] += 1
            return build(*args, **kwargs)

        return counted

    for name in FIGURE_BUILDERS:
        monkeypatch.setattr(figures, name, counting(name))
    store, dataset, run_ids = stored
    at = _page("results.py", dataset.id, tmp_path=tmp_path)
    assert not at.exception
    # The first tab (per label) is a table: the closed tabs' charts are neither built nor drawn.
    assert not calls and not at.get("plotly_chart")
    assert _open_chart_tabs(at) == CHART_TABS
    once = {"confusion_figure": 2, "roc_figure": 1, "pr_figure": 1}
    once |= {"reliability_figure": 1, "coverage_figure": 1}
    assert calls == once

    at.switch_page("pages/train.py").run()
    at.switch_page("pages/results.py").run()
    assert not at.exception
    assert _open_chart_tabs(at) == CHART_TABS
    assert calls == once  # the second visit drew the same charts without building any

    shown = at.selectbox(key="results_run").value
    at.slider(key=f"threshold_{shown}").set_value(0.5).run()  # the threshold tab is open
    assert calls == once | {"coverage_figure": 2}  # only the chart that shows the threshold

    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception
    assert calls == once | {"coverage_figure": 2}  # Chinese opens on the per-label table
    assert _open_chart_tabs(at, "zh") == CHART_TABS
    assert calls == {name: 2 * n for name, n in once.items()} | {"coverage_figure": 3}
    open_tab(at, "results.tab_curves", "zh")
    titles = [json.loads(c.proto.spec)["layout"].get("title") for c in at.get("plotly_chart")]
    assert {"text": t("results.roc_title", "zh")} in titles  # the built ones are Chinese


def test_the_comparison_reads_and_pairs_two_runs_once_across_visits(stored, tmp_path, monkeypatch):
    """McNemar's test between two runs is the one ``compare_runs`` computes, and a second
    visit to Results neither reads their answers again nor pairs them (~0.3 s a visit on a
    140,000-text test split)."""
    import ui.results_sections as sections
    from slm_core.mcnemar import compare_runs

    read = Counter()
    real = sections._answers

    def counted(run):
        read[run.id] += 1
        return real(run)

    monkeypatch.setattr(sections, "_answers", counted)
    store, dataset, run_ids = stored
    at = _page("results.py", dataset.id, tmp_path=tmp_path)
    assert not at.exception
    a, b = at.selectbox(key="results_model_a").value, at.selectbox(key="results_model_b").value
    assert {a, b} == set(run_ids) and read == {a: 1, b: 1}
    expected = compare_runs(store, a, b)
    shown = {m.label: m.value for m in at.metric}
    assert shown["only A right"] == f"{expected.only_a:,}"
    assert shown["only B right"] == f"{expected.only_b:,}"
    at.switch_page("pages/train.py").run()
    at.switch_page("pages/results.py").run()
    assert not at.exception and read == {a: 1, b: 1}
    assert {m.label: m.value for m in at.metric} == shown
    at.selectbox(key="results_model_a").set_value(b).run()  # the other order is another test
    at.selectbox(key="results_model_b").set_value(a).run()
    assert not at.exception and read == {a: 2, b: 2}
    swapped = {m.label: m.value for m in at.metric}
    assert (swapped["only A right"], swapped["only B right"]) == (
        shown["only B right"],
        shown["only A right"],
    )


def test_only_the_open_tab_is_drawn_and_closed_tabs_keep_their_widgets(stored, tmp_path):
    """A closed tab is not drawn, and its widgets (the threshold, the error browser's filters)
    keep their values while the user looks at other tabs."""
    _, dataset, run_ids = stored
    at = _page("results.py", dataset.id, tmp_path=tmp_path)
    assert at.session_state[DETAIL_TABS_KEY.format(lang="en")] == t("results.tab_classes")
    assert _frames(at, "Support") and not _frames(at, "Confidence")
    shown = at.selectbox(key="results_run").value

    open_tab(at, "results.tab_threshold")
    assert not _frames(at, "Support")  # the per-label table went with its tab
    at.slider(key=f"threshold_{shown}").set_value(0.5).run()
    open_tab(at, "results.tab_confusion")
    assert not at.get("slider")
    (errors,) = _frames(at, "Confidence")
    true_label = errors["True label"].iloc[0]
    at.selectbox(key=f"err_true_{shown}").set_value(true_label).run()
    open_tab(at, "results.tab_classes")
    open_tab(at, "results.tab_feedback")  # two runs with both tabs closed

    open_tab(at, "results.tab_threshold")
    assert at.slider(key=f"threshold_{shown}").value == 0.5
    assert any("≥ 50% sure" in m.value for m in at.markdown)
    open_tab(at, "results.tab_confusion")
    assert at.selectbox(key=f"err_true_{shown}").value == true_label
    (filtered,) = _frames(at, "Confidence")
    assert set(filtered["True label"]) == {true_label}


def test_results_page_in_chinese_and_with_feedback(stored, tmp_path):
    store, dataset, run_ids = stored
    store.add_feedback(run_ids[0], "coach", "sport", True)
    store.add_feedback(run_ids[0], "bank", "sport", False, "money")
    at = _page("results.py", dataset.id, lang="zh", tmp_path=tmp_path)
    assert at.title[0].value == "结果"
    (board,) = _frames(at, "准确率 95% 置信区间")
    row = board[board["运行"] == run_ids[0]].iloc[0]
    assert row["已评价回答数"] == 2 and row["评为正确的比例"] == pytest.approx(0.5)
    open_tab(at, "results.tab_feedback", "zh")
    assert any("已评价 2 个回答" in m.value for m in at.markdown)


def test_results_page_without_runs(fresh_home):
    from ui.state import get_store

    get_store.clear()
    store = RunStore()
    frame = pd.DataFrame({"text": ["a b", "c d"], "label": ["x", "y"]})
    dataset = store.add_dataset("tiny", "cli", None, content_hash(frame), frame)
    for page in ("results.py", "playground.py"):
        at = _page(page, dataset.id, tmp_path=fresh_home)
        assert any("No finished training runs" in m.value for m in at.info)
    get_store.clear()


def test_playground_answers_with_every_model_and_stores_feedback(stored, tmp_path):
    store, dataset, run_ids = stored
    at = _page("playground.py", dataset.id, tmp_path=tmp_path)
    assert any("Type a text" in m.value for m in at.info)
    text = "<b>The coach</b> & the team"
    at.text_area(key="pg_text").input(text)
    at.button(key="pg_ask").click().run()
    assert not at.exception and not at.error
    assert [m.value for m in at.metric] == ["sport"] * len(run_ids)
    times = [c.value for c in at.caption if c.value.startswith(":material/timer:")]
    assert len(times) == len(run_ids) and all(c.endswith(" ms") for c in times)
    answers = _frames(at, "Probability")
    assert len(answers) == len(run_ids)
    for proba in answers:
        assert sorted(proba["Label"]) == sorted(WORDS)
        assert proba["Probability"].sum() == pytest.approx(1.0)
    highlights = [h.proto.body for h in at.get("html")]
    assert len(highlights) == len(run_ids)
    for body in highlights:
        assert "<b>" not in body and "&lt;b&gt;" in body and "&amp;" in body
        assert "coach</span>" in body

    first, second = (f"pg_thumbs_{r}_" for r in run_ids)
    thumbs = {f.key.rsplit("_", 1)[0] + "_": f for f in at.feedback}
    thumbs[first].set_value(1).run()
    assert not at.exception
    fb = store.list_feedback(dataset_id=dataset.id)
    assert [(f.run_id, f.text, f.predicted_label, f.is_correct) for f in fb] == [
        (run_ids[0], text, "sport", True)
    ]
    thumbs = {f.key.rsplit("_", 1)[0] + "_": f for f in at.feedback}
    thumbs[second].set_value(0).run()
    label_box = next(s for s in at.selectbox if s.key.startswith(f"pg_label_{run_ids[1]}_"))
    label_box.set_value("tech")
    next(b for b in at.button if b.key and b.key.startswith(f"pg_save_{run_ids[1]}_")).click()
    at.run()
    assert not at.exception
    last = store.list_feedback(dataset_id=dataset.id)[-1]
    assert (last.run_id, last.is_correct, last.corrected_label) == (run_ids[1], False, "tech")
    assert len(store.list_feedback(dataset_id=dataset.id)) == 2  # reruns store nothing twice

    # The correction can be exported and turned into a new dataset version, made active.
    (corrections,) = _frames(at, t("playground.col.predicted_label"))
    assert corrections[t("playground.col.label")].tolist() == ["tech"]
    at.button(key="pg_new_version").click().run()
    assert not at.exception
    new_id = at.session_state["_pending_dataset_id"]
    new = store.get_dataset(new_id)
    assert new.parent_id == dataset.id and new.rows == dataset.rows + 1
    assert any("New dataset version" in s.value for s in at.success)
