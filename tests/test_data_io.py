"""Reading uploads: every format, encoding, delimiter and header case, and every bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from data_fixtures import (
    bad_files,
    chinese_rows,
    csv_text,
    english_rows,
    parquet_bytes,
    write_corpus,
    xlsx_bytes,
)

from slm_core import config
from slm_core.data.decode import decode_bytes
from slm_core.data.io import read_table
from slm_core.data.types import SUPPORTED_EXTENSIONS, ReadOptions
from slm_core.errors import DataError

EN = english_rows()
ZH = chinese_rows()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def read(corpus, name, **options):
    path = corpus[name]
    return read_table(path.read_bytes(), path.name, ReadOptions(**options))


def rows_of(result) -> list[tuple[str, ...]]:
    return [tuple(r) for r in result.frame.itertuples(index=False)]


# --- decode_bytes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codec", "expected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("utf-16", "utf-16"),
        ("utf-16-le", "utf-16-le"),
        ("utf-16-be", "utf-16-be"),
        ("gbk", "gb18030"),
        ("gb18030", "gb18030"),
    ],
)
def test_decode_chinese_in_each_encoding(codec, expected):
    text = csv_text(ZH, ("内容", "类别"))
    decoded, used = decode_bytes(text.encode(codec))
    assert decoded == text  # BOM removed, every character right
    assert used == expected


def test_decode_big5_traditional_chinese():
    text = csv_text(chinese_rows(traditional=True), ("內容", "類別"))
    decoded, used = decode_bytes(text.encode("big5"))
    assert decoded == text
    assert used == "big5"


_JA = "".join(
    f"この映画は本当に面白かった{i},良い\nサービスが悪くて二度と行かない{i},悪い\n"
    for i in range(5)
)
_KO = "".join(
    f"이 영화 정말 재미있었어요 {i},긍정\n서비스가 너무 나빠요 {i},부정\n" for i in range(5)
)
_RU = "".join(
    f"Этот фильм был очень хорош {i},позитив\nУжасное обслуживание {i},негатив\n" for i in range(5)
)


@pytest.mark.parametrize(
    ("text", "codec", "expected"),
    [(_JA, "shift_jis", "cp932"), (_JA, "euc_jp", "euc_jis_2004"), (_KO, "euc_kr", "cp949"),
     (_RU, "cp1251", "cp1251")],
)  # fmt: skip
def test_decode_other_legacy_code_pages(text, codec, expected):
    assert decode_bytes(text.encode(codec)) == (text, expected)


def test_decode_a_short_gbk_file_is_not_mistaken_for_korean():
    # charset-normalizer alone ranks cp949 (Korean) first for this single GBK line.
    text = "这部电影真的很好看，我非常喜欢,正面\n"
    assert decode_bytes(text.encode("gbk")) == (text, "gb18030")


def test_decode_cp1252_file():
    text = "text,label\nCafé crème – “great”,pos\nnaïve façade,neg\n"
    assert decode_bytes(text.encode("cp1252")) == (text, "cp1252")


def test_decode_single_pound_sign_is_latin_not_japanese():
    # The BBC demo's sports/199.txt: English with one cp1252 '£' byte.
    data = "Mutu, a £15.8m signing from Parma last summer. ".encode("cp1252") * 3
    text, used = decode_bytes(data)
    assert "£15.8m" in text
    assert used == "cp1252"


def test_decode_mixed_utf8_and_cp1252_lines_keeps_every_line():
    lines = ["text,label", "naïve café in UTF-8,pos", "plain ascii,neg"]
    data = "\n".join(lines).encode("utf-8") + "\n“smart” quotes in cp1252,neg\n".encode("cp1252")
    data += b"undefined in cp1252 \x81\x8d here,pos\n"
    text, used = decode_bytes(data)
    out = text.split("\n")
    assert out[:3] == lines
    assert out[3] == "“smart” quotes in cp1252,neg"
    assert out[4] == "undefined in cp1252 \x81\x8d here,pos"  # latin-1: nothing dropped
    assert used == "utf-8 (1 line cp1252, 1 line latin-1)"


def test_decode_empty_bytes():
    assert decode_bytes(b"") == ("", "utf-8")


def test_decode_with_chosen_encoding():
    text = "内容,类别\n退款,退款\n"
    assert decode_bytes(text.encode("gbk"), "gbk") == (text, "gbk")
    assert decode_bytes(text.encode("utf-8-sig"), "utf-8") == (text, "utf-8")


def test_decode_with_wrong_chosen_encoding_says_where():
    data = b"text,label\nok,pos\n\xff\xfe bad,neg\n"
    with pytest.raises(DataError, match=r"not valid utf-8: byte 18 \(line 3\)"):
        decode_bytes(data, "utf-8")


def test_decode_unknown_encoding_name():
    with pytest.raises(DataError, match="Unknown encoding 'klingon'"):
        decode_bytes(b"abc", "klingon")


def test_decode_detected_mixed_name_given_back_means_detect_again():
    data = "a,b\nnaïve,x\n".encode() + "“q”,y\n".encode("cp1252")
    text, used = decode_bytes(data)
    assert decode_bytes(data, used) == (text, used)


@pytest.mark.parametrize("name", ["binary.csv", "random.csv", "report.csv"])
def test_decode_binary_is_refused(name):
    with pytest.raises(DataError, match="not text"):
        decode_bytes(bad_files()[name])


def test_decode_utf16_without_bom_needs_consistent_nul_layout():
    with pytest.raises(DataError, match="not text"):
        decode_bytes(b"abc\x00def" * 100)


# --- read_table: formats ----------------------------------------------------------------------


def test_supported_extensions():
    assert set(SUPPORTED_EXTENSIONS) == {
        ".csv", ".tsv", ".txt", ".xlsx", ".json", ".jsonl", ".parquet",
    }  # fmt: skip


def test_comma_csv(corpus):
    result = read(corpus, "comma.csv")
    assert list(result.frame.columns) == ["text", "label"]
    assert rows_of(result) == EN
    d = result.detected
    assert (d.format, d.encoding, d.delimiter, d.header) == ("csv", "utf-8", ",", True)


@pytest.mark.parametrize(
    ("name", "encoding"),
    [
        ("gbk_chinese.csv", "gb18030"),
        ("gb18030_chinese.csv", "gb18030"),
        ("utf16_chinese.csv", "utf-16"),
        ("utf16le_nobom.csv", "utf-16-le"),
        ("utf8_bom.csv", "utf-8-sig"),
    ],
)
def test_chinese_csv_in_each_encoding(corpus, name, encoding):
    result = read(corpus, name)
    assert result.detected.encoding == encoding
    assert rows_of(result) == ZH
    assert result.frame.columns[0] in ("内容", "text")  # no BOM glued to the first name


def test_big5_csv(corpus):
    result = read(corpus, "big5_chinese.csv")
    assert result.detected.encoding == "big5"
    assert list(result.frame.columns) == ["內容", "類別"]
    assert rows_of(result) == chinese_rows(traditional=True)


def test_semicolon_csv_with_commas_in_text(corpus):
    result = read(corpus, "semicolon.csv")
    assert result.detected.delimiter == ";"
    assert result.frame["text"].iloc[0] == f"{EN[0][0]}, really"
    assert len(result.frame) == len(EN)


def test_pipe_csv(corpus):
    result = read(corpus, "pipe.csv")
    assert result.detected.delimiter == "|"
    assert rows_of(result) == EN


def test_headerless_tsv(corpus):
    result = read(corpus, "headerless.tsv")
    assert result.detected.header is False
    assert list(result.frame.columns) == ["col_0", "col_1"]
    assert rows_of(result) == EN


def test_tsv_with_header(corpus):
    result = read(corpus, "header.tsv")
    assert (result.detected.delimiter, result.detected.header) == ("\t", True)
    assert list(result.frame.columns) == ["text", "label"]


def test_txt_text_tab_label_lines(corpus):
    result = read(corpus, "lines.txt")
    assert (result.detected.format, result.detected.header) == ("txt", False)
    assert rows_of(result) == EN
    with_header = read(corpus, "lines_header.txt")
    assert list(with_header.frame.columns) == ["text", "label"]
    assert rows_of(with_header) == EN


def test_txt_keeps_quotes_and_extra_tabs_in_the_text():
    data = b'"Great" movie, said "Bob"\tpos\nboring\tplot\tneg\nfine film\tpos\nbad\tneg\n'
    result = read_table(data, "reviews.txt")
    assert rows_of(result) == [
        ('"Great" movie, said "Bob"', "pos"),
        ("boring\tplot", "neg"),
        ("fine film", "pos"),
        ("bad", "neg"),
    ]
    assert any("more than one tab" in n for n in result.detected.notes)


def test_quoted_newlines_and_carriage_returns():
    data = (
        b"text,label\r\n"
        b'"first line\r\nsecond line, with a comma",pos\r\n'
        b'"lone\rcarriage return",neg\r\n'
        b'"unix\nnewline and ""quotes""",pos\r\n'
        b"plain,neg\r\n"
    )
    result = read_table(data, "q.csv")
    assert rows_of(result) == [
        ("first line\r\nsecond line, with a comma", "pos"),
        ("lone\rcarriage return", "neg"),
        ('unix\nnewline and "quotes"', "pos"),
        ("plain", "neg"),
    ]


def test_values_stay_strings():
    data = b"text,label,score\nhello,01,1.50\nbye,02,\nnan,NA,null\n"
    frame = read_table(data, "s.csv").frame
    assert frame["label"].tolist() == ["01", "02", "NA"]
    assert frame["score"].tolist() == ["1.50", "", "null"]
    assert frame["text"].tolist() == ["hello", "bye", "nan"]


def test_blank_lines_are_skipped_and_trailing_delimiters_forgiven():
    data = b"text,label\n\nfirst,a,\n  \nsecond,b\n"
    assert rows_of(read_table(data, "b.csv")) == [("first", "a"), ("second", "b")]
    header_only_comma = b"text,label,\nfirst,a\nsecond,\nthird,c\n"
    frame = read_table(header_only_comma, "c.csv").frame
    assert list(frame.columns) == ["text", "label"]
    assert rows_of(read_table(header_only_comma, "c.csv")) == [
        ("first", "a"), ("second", ""), ("third", "c"),
    ]  # fmt: skip
    with pytest.raises(DataError, match="line 3 has 3"):
        read_table(b"text,label\nfirst,a\nsecond,b,extra\n", "d.csv")


def test_duplicate_and_empty_header_names_are_made_unique():
    frame = read_table(b"text,,text\na,b,c\nd,e,f\n", "h.csv").frame
    assert list(frame.columns) == ["text", "col_1", "text.1"]


def test_overrides_delimiter_header_encoding():
    data = "texte;étiquette,x\nun;deux,a\ntrois;quatre,b\n".encode("cp1252")
    by_semicolon = read_table(data, "o.csv", ReadOptions(delimiter=";"))
    assert by_semicolon.detected.delimiter == ";"
    assert rows_of(by_semicolon) == [("un", "deux,a"), ("trois", "quatre,b")]
    by_comma = read_table(data, "o.csv", ReadOptions(delimiter=",", header=False))
    assert list(by_comma.frame.columns) == ["col_0", "col_1"]
    assert rows_of(by_comma) == [("texte;étiquette", "x"), ("un;deux", "a"), ("trois;quatre", "b")]
    latin = read_table(data, "o.csv", ReadOptions(encoding="latin-1", delimiter=";"))
    assert latin.detected.encoding == "latin-1"
    assert list(latin.frame.columns) == ["texte", "étiquette,x"]


def test_xlsx_one_sheet_numbers_become_category_strings():
    data = xlsx_bytes({"Data": [["text", "label", "score"], ["good", 1, 0.5], ["bad", 2.0, None]]})
    result = read_table(data, "book.xlsx")
    assert rows_of(result) == [("good", "1", "0.5"), ("bad", "2", "")]
    assert (result.detected.format, result.detected.sheets) == ("xlsx", ("Data",))
    assert result.detected.notes == ()


def test_xlsx_several_sheets_lists_them_and_reads_the_chosen_one(corpus):
    result = read(corpus, "three_sheets.xlsx")
    assert result.detected.sheets == ("Notes", "English", "Chinese")
    assert result.detected.sheet == "Notes"
    assert "3 sheets" in result.detected.notes[0]
    chinese = read(corpus, "three_sheets.xlsx", sheet="Chinese")
    assert chinese.detected.sheet == "Chinese"
    assert list(chinese.frame.columns) == ["内容", "类别"]
    assert rows_of(chinese) == ZH
    english = read(corpus, "three_sheets.xlsx", sheet="English")
    assert rows_of(english) == EN
    with pytest.raises(DataError, match="no sheet 'Missing'.*Notes, English, Chinese"):
        read(corpus, "three_sheets.xlsx", sheet="Missing")


def test_json_array_and_data_object(corpus):
    assert rows_of(read(corpus, "records.json")) == EN
    result = read(corpus, "data.json")
    assert result.detected.format == "json"
    assert rows_of(result) == ZH


def test_json_missing_keys_nulls_and_numbers():
    data = json.dumps([{"text": "a", "label": 1}, {"label": 1.0, "text": None, "extra": [1]}])
    result = read_table(data.encode(), "r.json")
    assert list(result.frame.columns) == ["text", "label", "extra"]
    assert rows_of(result) == [("a", "1", ""), ("", "1", "[1]")]


def test_jsonl(corpus):
    result = read(corpus, "lines.jsonl")
    assert result.detected.format == "jsonl"
    assert rows_of(result) == ZH


def test_jsonl_keeps_line_separator_inside_a_string():
    data = '{"text": "a\u2028b", "label": "x"}\n\n{"text": "c", "label": "y"}\n'.encode()
    assert rows_of(read_table(data, "l.jsonl")) == [("a\u2028b", "x"), ("c", "y")]


def test_parquet(corpus):
    assert rows_of(read(corpus, "table.parquet")) == EN
    data = parquet_bytes({"text": ["a", "b", None], "label": [1, 2, 3], "p": [0.5, None, 2.0]})
    result = read_table(data, "n.parquet")
    assert result.detected.format == "parquet"
    assert rows_of(result) == [("a", "1", "0.5"), ("b", "2", ""), ("", "3", "2")]
    nested = parquet_bytes(
        {"text": ["a", "b"], "tags": [[1, 2], []], "day": [date(2024, 5, 1), None]}
    )
    assert rows_of(read_table(nested, "n.parquet")) == [
        ("a", "[1, 2]", "2024-05-01"),
        ("b", "[]", ""),
    ]


def test_all_formats_give_string_columns(corpus):
    for name in ["comma.csv", "one_sheet.xlsx", "records.json", "table.parquet", "lines.txt"]:
        frame = read(corpus, name).frame
        assert all(isinstance(v, str) for col in frame for v in frame[col]), name


# --- read_table: bad input --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.csv", r"empty\.csv is empty"),
        ("blank.csv", "is empty"),
        ("binary.csv", "not text"),
        ("random.csv", "not text"),
        ("report.csv", "not text .it looks like a PDF document"),
        ("header_only.csv", r"header \(text, label\) but no data rows"),
        ("header_only.xlsx", r"header \(text, label\) but no data rows"),
        ("malformed.json", "JSON file is malformed at line 1, column 54"),
        ("malformed.jsonl", "Line 2 of the JSONL file is not valid JSON"),
        ("not_records.json", "array of records"),
        ("broken.xlsx", "not a readable Excel .xlsx workbook"),
        ("broken.parquet", "not a readable Parquet file"),
        ("document.docx", r"Unsupported file type '\.docx'"),
        ("legacy.xls", r"Old Excel \.xls files are not supported"),
    ],
)
def test_bad_input_gets_one_clear_sentence(corpus, name, message):
    with pytest.raises(DataError, match=message) as info:
        read(corpus, name)
    text = str(info.value)
    assert "\n" not in text and "Traceback" not in text
    assert text.endswith(".")


def test_varying_field_counts_names_lines_and_counts(corpus):
    with pytest.raises(DataError) as info:
        read(corpus, "varying.csv")
    message = str(info.value)
    assert "the header has 2" in message
    assert "line 5 has 4" in message
    assert "line 9 has 1" in message
    assert "quotes" in message and "comma" in message


def test_file_over_the_upload_limit(monkeypatch):
    monkeypatch.setattr(config, "MAX_UPLOAD_MB", 1)
    data = b"text,label\n" + b"x" * (3 * 1024 * 1024)
    with pytest.raises(DataError) as info:
        read_table(data, "big.csv")
    assert str(info.value) == (
        "The file is 3 MB; the upload limit is 1 MB (set SLM_MAX_UPLOAD_MB / .streamlit "
        "server.maxUploadSize)."
    )
    with pytest.raises(DataError, match=r"The file is 1\.01 MB; the upload limit is 1 MB"):
        read_table(b"x" * (1024 * 1024 + 8 * 1024), "big.csv")
    read_table(b"text,label\na,b\n", "small.csv")  # under the limit is fine


def test_bom_with_mixed_lines_still_decodes_every_line():
    data = b"\xef\xbb\xbftext,label\nna\xc3\xafve,pos\n\x93quoted\x94,neg\n"
    text, used = decode_bytes(data)
    assert text == "text,label\nnaïve,pos\n“quoted”,neg\n"
    assert used == "utf-8 (1 line cp1252), with BOM"


def test_importing_the_data_layer_loads_neither_tensorflow_nor_sklearn():
    code = (
        "import sys, slm_core.data.io, slm_core.data.columns, slm_core.data.validate, "
        "slm_core.data.split; print(sorted({'tensorflow', 'keras', 'sklearn'} & set(sys.modules)))"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
