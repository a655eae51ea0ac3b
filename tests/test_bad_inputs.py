"""Hostile inputs: every file of tests/bad_inputs/ (and the large ones generated here) through the
CLI and the Data page, against the expectations in tests/bad_inputs/README.md.

A rejected file must give exit 2 and one line on stderr in the CLI, and an error box on the page,
both the catalogue sentence the README names (what is wrong; how to fix it). A read file must
give the README's rows and classes in both. Never a traceback.
"""

from __future__ import annotations

import html
import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from slm_core import config
from slm_core.cli import main
from slm_core.data.columns import guess_mapping
from slm_core.data.io import read_table
from slm_core.i18n import catalogue, match_key
from tests.conftest import ROOT, run_cli

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
_ROW = re.compile(
    r"^\| `(?P<name>[^`]+)` \| .+? \| "
    r"(?:rejected: `(?P<key>[\w.]+)`|read: (?P<rows>[\d,]+) rows, (?P<classes>[\d,]+) classes"
    r"(?:; note: `(?P<note>[\w.]+)`)?) \|$"
)
_ZH_CLASSES = {"退款", "物流", "账户"}


@dataclass(frozen=True)
class Case:
    name: str
    generated: bool
    rejected: str | None = None  # catalogue key of the reason
    rows: int | None = None
    classes: int | None = None
    note: str | None = None  # catalogue key of a note shown beside the table


def _number(text: str | None) -> int | None:
    return int(text.replace(",", "")) if text else None


def _cases() -> list[Case]:
    """The README's tables: every file with its expected outcome."""
    cases, generated = [], False
    for line in (CORPUS / "README.md").read_text(encoding="utf-8").splitlines():
        generated = generated or line.startswith("## Generated")
        match = _ROW.match(line)
        if match is not None:
            rows, classes = _number(match["rows"]), _number(match["classes"])
            cases.append(Case(match["name"], generated, match["key"], rows, classes, match["note"]))
    return cases


CASES = _cases()
_IDS = [c.name for c in CASES]


# --- the large files, written once per test session -----------------------------------------


def _topic_rows() -> list[tuple[str, str]]:
    import sys

    sys.path.insert(0, str(CORPUS))
    try:
        from make_corpus import rows
    finally:
        sys.path.remove(str(CORPUS))
    return rows()


def _write_generated(folder: Path) -> None:
    rows = _topic_rows()
    header = ["text", "label", *(f"c{i}" for i in range(9_998))]
    filler = ",0" * 9_998
    (folder / "columns_10000.csv").write_text(
        ",".join(header) + "\n" + "".join(f"{t},{lb}{filler}\n" for t, lb in rows)
    )
    (folder / "one_line_30mb.csv").write_bytes(b"word " * (6 * 1024 * 1024))
    (folder / "classes_5000.csv").write_text(
        "text,label\n"
        + "".join(
            f"example text number {i} of class {c},class_{c:04d}\n"
            for c in range(5_000)
            for i in range(3)
        )
    )
    # Sparse: 201 MB on paper, nothing on disk; the CLI must refuse it before reading it.
    with (folder / "over_limit.csv").open("wb") as handle:
        handle.write(b"text,label\n")
        handle.truncate((config.MAX_UPLOAD_MB + 1) * 1024 * 1024)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bad_inputs_generated")
    _write_generated(folder)
    return folder


def _path(case: Case, generated: Path) -> Path:
    return (generated if case.generated else CORPUS) / case.name


# --- the corpus itself ---------------------------------------------------------------------


def test_readme_lists_every_committed_file_and_the_corpus_stays_small():
    committed = {p.name for p in CORPUS.iterdir() if p.suffix not in (".md", ".py")}
    listed = {c.name for c in CASES if not c.generated}
    assert committed == listed
    assert len(committed) >= 25
    assert sum(p.stat().st_size for p in CORPUS.iterdir()) < 300 * 1024
    assert {c.name for c in CASES if c.generated} == {
        "columns_10000.csv", "one_line_30mb.csv", "classes_5000.csv", "over_limit.csv",
    }  # fmt: skip


def test_every_reason_is_one_sentence_with_a_fix_in_both_languages():
    en, zh = catalogue("en"), catalogue("zh")
    for key in {c.rejected for c in CASES if c.rejected} | {c.note for c in CASES if c.note}:
        assert key in en and key in zh, key
        assert "\n" not in en[key] and "\n" not in zh[key], key
    for key in {c.rejected for c in CASES if c.rejected}:
        assert ";" in en[key], f"{key} must say what is wrong; then how to fix the file"


# --- the CLI ---------------------------------------------------------------------------------


def _reason_key(line: str) -> str | None:
    """The catalogue key of a CLI error line ("error: [not trainable: ]<sentence>")."""
    text = line.removeprefix("error: ").removeprefix("not trainable: ")
    found = match_key(text, "errors.")
    return found[0] if found else None


def _note_keys(notes: list[str]) -> set[str]:
    return {found[0] for note in notes if (found := match_key(note, "errors.note."))}


PYTHON_NAME = re.compile(r"\b[A-Z]\w*(Error|Exception|ZipFile)\b")

@pytest.mark.parametrize("case", CASES, ids=_IDS)
def test_cli_reads_or_rejects_in_one_line(case, generated, capsys):
    code = main(["inspect", str(_path(case, generated)), "--json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if case.rejected:
        assert code == 2, out
        assert len(err.splitlines()) == 1 and err.startswith("error: "), err
        assert _reason_key(err.strip()) == case.rejected, err
        assert not PYTHON_NAME.search(err), err  # a reason in words, not an exception's name
    else:
        assert (code, err) == (0, ""), err
        report = json.loads(out)
        assert (report["rows"], len(report["classes"])) == (case.rows, case.classes)
        if case.note:
            assert case.note in _note_keys(report["detected"]["notes"])


def test_cli_entry_point_refuses_a_file_over_the_limit_without_reading_it(generated):
    """The real `python -m slm_core`, on a 201 MB file that is not on disk (sparse)."""
    result = run_cli("inspect", str(generated / "over_limit.csv"), timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert _reason_key(result.stderr.strip()) == "errors.upload.too_large"
    assert f"the upload limit is {config.MAX_UPLOAD_MB} MB" in result.stderr


# --- what "read" means: the right content, not just the right counts -----------------------


def _read(name: str):
    path = CORPUS / name
    read = read_table(path.read_bytes(), name)
    mapping = guess_mapping(read.frame)
    return read.frame[mapping.text].tolist(), set(read.frame[mapping.label])


@pytest.mark.parametrize(
    "name",
    ["utf16_bom.csv", "utf16le_no_bom.tsv", "utf16_bom_on_utf8.csv", "gbk_with_utf8_bom.csv",
     "gb18030_undeclared.csv", "headerless.tsv"],
)  # fmt: skip
def test_chinese_files_read_as_chinese(name):
    texts, labels = _read(name)
    assert labels == _ZH_CLASSES
    assert texts[0] == "商品和描述不符请给我退款（第1次）"


def test_hostile_texts_are_kept_verbatim():
    for name in ("formulas.csv", "formulas.xlsx"):
        texts, labels = _read(name)
        assert "=CMD|' /C calc'!A0 cheap flights 0" in texts, name
        assert '=HYPERLINK("http://example.invalid","click") 0' in texts, name
        assert {"+1 555 0100 call now 0", "@SUM(A1:A9) is the total 0"} <= set(texts), name
        assert labels == {"spam", "sport", "money", "tech"}
    texts, _ = _read("html_script.csv")
    assert "<script>alert('x')</script> great match 0" in texts
    texts, _ = _read("rtl_emoji_zero_width.csv")
    assert "te\u200bch\u200d phone 📱 \u202eevil\u202c 0" in texts
    texts, _ = _read("nul_bytes.csv")
    assert not any("\x00" in t for t in texts) and any("score" in t for t in texts)
    texts, labels = _read("long_labels.csv")
    assert all(len(label) > 400 for label in labels) and all(len(t) < 60 for t in texts)
    texts, _ = _read("broken_utf8.csv")
    assert any("naïve match" in t for t in texts) and any("goél" in t for t in texts)


# --- the Data page -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def data_page():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/data.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _upload(at: AppTest, name: str, data: bytes) -> None:
    at.file_uploader[0].set_value((name, data, "application/octet-stream"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def _shown(markdown: str) -> str:
    """The text a reader sees for the Markdown source of an alert or caption (user values in
    it are escaped so they show as typed)."""
    return html.unescape(re.sub(r"\\(.)", r"\1", markdown))


def _check_page(at: AppTest, case: Case) -> None:
    errors = [_shown(e.value) for e in at.error]
    if case.rejected:
        assert case.rejected in {found[0] for e in errors if (found := match_key(e, "errors."))}, (
            errors
        )
        if not case.rejected.startswith("errors.problem."):
            assert not at.metric  # refused before any report
    else:
        assert not errors, errors
        metrics = {m.label: m.value for m in at.metric}
        assert metrics["Rows"] == f"{case.rows:,}"
        assert metrics["Classes"] == str(case.classes)
        if case.note:
            assert case.note in _note_keys([_shown(c.value) for c in at.caption])


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.name != "over_limit.csv"], ids=lambda c: c.name
)
def test_data_page_shows_the_reason_or_the_report(case, generated, data_page):
    _upload(data_page, case.name, _path(case, generated).read_bytes())
    _check_page(data_page, case)


def test_data_page_states_and_enforces_the_upload_limit(data_page, monkeypatch):
    (case,) = [c for c in CASES if c.name == "over_limit.csv"]
    at = data_page
    uploader = at.file_uploader[0]
    assert f"{config.MAX_UPLOAD_MB} MB" in uploader.label
    assert f"{config.MAX_UPLOAD_MB} MB" in uploader.help
    monkeypatch.setattr(config, "MAX_UPLOAD_MB", 1)
    try:
        at.run()  # the uploader now states the lowered limit
        assert "1 MB" in at.file_uploader[0].label
        _upload(at, case.name, b"text,label\n" + b"x" * (3 * 1024 * 1024 // 2))
        _check_page(at, case)
        assert _shown(at.error[0].value).startswith("The file is 2 MB; the upload limit is 1 MB")
    finally:
        monkeypatch.undo()
        at.run()


def test_upload_limit_default_is_the_server_config(monkeypatch):
    """The page states config.MAX_UPLOAD_MB; Streamlit's server refuses above maxUploadSize."""
    if "SLM_MAX_UPLOAD_MB" in os.environ:
        pytest.skip("SLM_MAX_UPLOAD_MB is set for this test run")
    with (ROOT / ".streamlit" / "config.toml").open("rb") as handle:
        server = tomllib.load(handle)["server"]
    assert server["maxUploadSize"] == config.MAX_UPLOAD_MB
