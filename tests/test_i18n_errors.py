"""Errors, validation findings, stored run messages and data-derived texts (demo descriptions,
hyper-parameters, scenario presets, assumption sources) in both interface languages.

``str(error)`` stays the English sentence the CLI prints; ``error.localized("zh")`` and the
interface helpers must give Chinese. The scans read the source with ``ast`` so a new raise site
with a plain English f-string, or a key with the wrong placeholders, fails here.
"""

from __future__ import annotations

import ast
import pickle
import re
import string

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from slm_core.data.demo import DEMOS, demo_text
from slm_core.data.io import read_table
from slm_core.data.types import ColumnMapping, Detected
from slm_core.data.validate import canonical_frame, validate
from slm_core.errors import DataError, NotFoundError, SlmError, TrainError, localize_text
from slm_core.i18n import catalogue, t
from slm_core.models.names import param_help, param_label
from slm_core.models.registry import MODEL_IDS, PARAM_HELP, resolve_params
from slm_core.value.assumptions import (
    DEFAULT_SOURCES,
    PRESET_IDS,
    Assumptions,
    load_preset,
    localized_source,
    scenario_name,
)
from tests.conftest import ROOT

_CJK = re.compile(r"[\u3400-\u9fff]")
_ENGLISH_RUN = re.compile(r"\b[a-z]{3,}(?: [a-z]{2,}){3,}\b")  # four English words in a row
_ERROR_CLASSES = {
    "SlmError",
    "DataError",
    "TrainError",
    "NotFoundError",
    "CancelledError",
    "AssumptionError",
}


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _chinese(text: str) -> bool:
    """Chinese text with no English sentence left in it (ids, units and names may stay)."""
    return bool(_CJK.search(text)) and not _ENGLISH_RUN.search(text)


# ------------------------------------------------------------------ raise sites


def _error_calls():
    """(file:line, first argument node, keyword names, has **) of every SlmError(...) call."""
    for path in sorted((ROOT / "slm_core").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in _ERROR_CLASSES
                and node.args
            ):
                names = {k.arg for k in node.keywords if k.arg}
                splat = any(k.arg is None for k in node.keywords)
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                yield where, node.args[0], names, splat


def test_every_error_is_raised_with_a_catalogue_key():
    """A plain English message would stay English in the Chinese interface."""
    plain = [
        where
        for where, arg, _, _ in _error_calls()
        if isinstance(arg, ast.JoinedStr)
        or (isinstance(arg, ast.Constant) and not str(arg.value).startswith("errors."))
    ]
    assert not plain, f"raise these with an errors.* key from locales/*/errors.toml: {plain}"


def test_every_error_key_exists_and_gets_exactly_its_placeholders():
    en, zh = catalogue("en"), catalogue("zh")
    wrong = []
    calls = 0
    for where, arg, names, splat in _error_calls():
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)) or splat:
            continue
        calls += 1
        key = arg.value
        if key not in en or key not in zh:
            wrong.append(f"{where} {key} missing")
        elif _placeholders(en[key]) != names or _placeholders(zh[key]) != names:
            wrong.append(f"{where} {key} wants {sorted(_placeholders(en[key]))} got {names}")
    assert calls > 100  # the scan sees the raise sites
    assert not wrong, wrong


def test_error_sentences_are_chinese_in_zh():
    zh = catalogue("zh")
    english = [k for k, v in zh.items() if k.startswith("errors.") and _ENGLISH_RUN.search(v)]
    assert not english, english


# ------------------------------------------------------------- real errors


def _raised(call) -> SlmError:
    with pytest.raises(SlmError) as info:
        call()
    return info.value


@pytest.mark.parametrize(
    "call",
    [
        lambda: read_table(b"", "empty.csv"),
        lambda: read_table(b"a,b\n1,2\n", "data.xls"),
        lambda: read_table(b"%PDF-1.4 binary", "report.csv"),
        lambda: read_table(b"text,label\na,b\nc\nd,e,f\n", "ragged.csv"),
        lambda: read_table(b'{"text": 1', "broken.json"),
        lambda: resolve_params("lstm", "quick", {"dropout": 2}),
        lambda: resolve_params("tfidf_lr", "quick", {"bogus": 1}),
        lambda: resolve_params("nope", "quick", {}),
        lambda: canonical_frame(pd.DataFrame({"a": ["x"]}), ColumnMapping(text="t", label="a")),
        lambda: Assumptions(annual_volume=-1),
    ],
    ids=["empty", "xls", "pdf", "ragged", "json", "dropout", "setting", "model", "column", "value"],
)
def test_real_errors_read_english_and_localise_to_chinese(call):
    error = _raised(call)
    english, chinese = str(error), error.localized("zh")
    assert error.key and error.key.startswith("errors.")
    assert not _CJK.search(english) and "{" not in english and "errors." not in english
    assert _chinese(chinese), chinese
    assert error.localized("en") == english


def test_fragments_inside_a_sentence_follow_the_language():
    error = _raised(lambda: read_table(b"text,label\na,b\nc\n", "ragged.csv"))
    assert "the header has 2" in str(error) and "line 3 has 1" in str(error)
    chinese = error.localized("zh")
    assert "表头有" in chinese and "第 3 行有 1 个" in chinese and "逗号" in chinese
    assert "header" not in chinese and "comma" not in chinese


def test_errors_keep_their_key_across_processes():
    error = NotFoundError("errors.store.no_run_with_id", run_id=7)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is NotFoundError and copy.key == error.key and str(copy) == str(error)
    assert "7" in copy.localized("zh") and _CJK.search(copy.localized("zh"))


def test_plain_messages_still_work():
    error = TrainError("Something only English.")
    assert error.key is None and error.localized("zh") == "Something only English."


def test_stored_english_run_messages_are_shown_in_chinese():
    """A run's error is stored in English by a worker process; the UI matches it back."""
    from slm_core import executors, jobs
    from slm_core.errors import render
    from slm_core.store import CANCELLED_MESSAGE, INTERRUPTED_MESSAGE

    stored = [
        CANCELLED_MESSAGE,
        INTERRUPTED_MESSAGE,
        jobs.INTERRUPTED_BY_STOP,
        executors.exit_reason(-9, ROOT / "run.log"),
        executors.exit_reason(3, ROOT / "run.log"),
        render("errors.executor.ray_worker_died", reason="WorkerCrashedError: node lost"),
        render("errors.executor.ray_unreachable", address="10.0.0.5:6379", reason="timeout"),
        str(DataError("errors.split.no_rows_left")),
        "Training failed: ValueError: bad shape",
        "Run 4 is failed; only finished runs can be evaluated.",
    ]
    for text in stored:
        chinese = localize_text(text, "zh")
        assert _chinese(chinese), (text, chinese)
        assert localize_text(text, "en") == text
    assert "失败" in localize_text(stored[-1], "zh")  # the quoted status is translated too
    assert localize_text("an unknown sentence", "zh") == "an unknown sentence"


def test_validation_findings_localise():
    frame = pd.DataFrame(
        {
            "text": ["same text"] * 3 + ["x", "", "other one here", "another text"],
            "label": ["a", "a", "b", "a", "b", "b", ""],
        }
    )
    report = validate(frame, ColumnMapping(text="text", label="label"), Detected(format="csv"))
    problems = report.errors + report.warnings
    assert len(problems) >= 3
    for problem in problems:
        assert problem.key.startswith("errors.problem.")
        assert problem.localized("en") == problem.message and not _CJK.search(problem.message)
        assert _chinese(problem.localized("zh")), (problem.code, problem.localized("zh"))


# ---------------------------------------------------------- data-derived text


def test_demo_descriptions_are_translated_and_match_the_manifest():
    for demo_id, spec in DEMOS.items():
        for field in ("name", "task", "licence", "description"):
            assert demo_text(demo_id, field, "en") == getattr(spec, field), (demo_id, field)
            assert _CJK.search(demo_text(demo_id, field, "zh")), (demo_id, field)


def test_hyper_parameters_have_labels_and_help_in_both_languages():
    for name, english_help in PARAM_HELP.items():
        assert param_help(name, "en") == english_help, name  # catalogue and registry agree
        assert param_label(name, "en") != name or name == "C"
        assert _CJK.search(param_label(name, "zh")), name
        assert _chinese(param_help(name, "zh")), name


def test_scenario_names_and_assumption_sources_have_chinese_text():
    for preset in PRESET_IDS:
        a = load_preset(preset)
        assert _CJK.search(scenario_name(a.name, "zh")), preset
        assert scenario_name(a.name, "en") == a.name
        for field, src in a.sources.items():
            shown = localized_source(src, "zh")
            for english, chinese in zip(src, shown, strict=True):
                if re.search(r"[A-Za-z]{3,}", english):
                    assert _CJK.search(chinese), (preset, field, english)
    edited = load_preset(PRESET_IDS[0]).edit(annual_volume=5.0).source("annual_volume")
    assert _CJK.search(localized_source(edited, "zh").note)  # "default was … (illustrative)"
    assert localized_source(DEFAULT_SOURCES["pue"], "en") == DEFAULT_SOURCES["pue"]


def test_train_page_in_chinese_shows_no_raw_hyper_parameter_ids():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["lang"] = "zh"
    # Every model's settings at once; a form widget's value otherwise changes only on submit.
    at.session_state["train_models_zh"] = list(MODEL_IDS)
    at.run()
    at.switch_page("pages/train.py")
    at.run()
    assert not at.exception, at.exception
    widgets = [w for kind in ("number_input", "checkbox", "text_input") for w in getattr(at, kind)]
    params = [w for w in widgets if (w.key or "").startswith("param_")]
    ids = {p for m in MODEL_IDS for p in resolve_params(m, "quick", {})}
    assert len(params) >= len(ids)
    for widget in params:
        text = f"{widget.label} {widget.help or ''}"
        assert not any(re.search(rf"\b{re.escape(i)}\b", text) for i in ids if len(i) > 1), text
        assert _CJK.search(widget.label) and _CJK.search(widget.help or ""), widget.key
    assert any(t("param.auto", "zh", label="") in w.label for w in params)


def test_assumption_units_follow_the_language():
    from slm_core.value.assumptions import FIELD_UNITS

    a = Assumptions(currency="CNY")
    for field, unit in FIELD_UNITS.items():
        assert a.unit(field, "en") == unit.replace("{cur}", "CNY"), field
    assert (
        a.unit("annual_volume", "zh") == "条/年"
        and a.unit("hourly_labour_cost", "zh") == "CNY/小时"
    )


def test_a_dataset_read_note_localises():
    from slm_core.data.demo import load_demo

    read, _ = load_demo("bbc_news")
    (note,) = read.detected.notes
    assert "label folders" in note and _chinese(localize_text(note, "zh"))
