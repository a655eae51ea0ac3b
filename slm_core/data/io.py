"""Read an uploaded file (bytes + filename) into a table of strings, and say what was detected.

One function serves the uploader, the CLI and the tests. Every cell is read as a string so that
labels such as "01" or "1" stay categories; every user mistake raises ``DataError`` with one
sentence that says how to fix the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
import statistics
import sys
import unicodedata
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import PurePath

import pandas as pd

from slm_core import config
from slm_core.data.types import Detected, ReadOptions, ReadResult
from slm_core.errors import DataError, Phrase, Phrases, render

SUPPORTED_EXTENSIONS: tuple[str, ...] = (
    ".csv",
    ".tsv",
    ".txt",
    ".xlsx",
    ".json",
    ".jsonl",
    ".parquet",
)
_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".txt": "txt",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_FORMAT_LIST = "CSV, TSV, TXT, XLSX, JSON, JSONL or Parquet"
DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_MB = 1024 * 1024
_SNIFF_CHARS = 64 * 1024
_HEADER_ROWS = 200
_GUESS_SAMPLE_BYTES = 128 * 1024

# File signatures of common non-text files, so the message can name what was uploaded.
# What a binary file looks like: errors.io.magic_<name> in the catalogues.
_MAGIC = (
    (b"%PDF", "pdf"),
    (b"PK\x03\x04", "zip"),
    (b"\xd0\xcf\x11\xe0", "ole"),
    (b"PAR1", "parquet"),
    (b"\x89PNG", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF8", "gif"),
    (b"\x1f\x8b", "gzip"),
)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# C0 controls other than tab, newline, vertical tab, form feed, carriage return and DOS EOF.
_BINARY_CONTROL_RE = re.compile(r"[\x00-\x08\x0e-\x19\x1b-\x1f]")
_CHINESE = {"gb2312", "gbk", "gb18030", "hz", "big5", "big5hkscs", "cp950", "cp936"}
# fmt: off
_JAPANESE = {
    "cp932", "shift_jis", "shift_jis_2004", "shift_jisx0213", "euc_jp", "euc_jis_2004",
    "euc_jisx0213", "iso2022_jp", "iso2022_jp_1", "iso2022_jp_2", "iso2022_jp_3",
    "iso2022_jp_ext", "iso2022_jp_2004",
}
_KOREAN = {"euc_kr", "cp949", "johab", "iso2022_kr"}
# GB2312 and GBK are subsets of GB18030; decoding with the superset loses nothing.
_CODEC_UPGRADE = {"gb2312": "gb18030", "gbk": "gb18030", "cp936": "gb18030"}
_HEADER_NAMES = {
    "text", "texts", "content", "sentence", "review", "comment", "message", "tweet", "body",
    "document", "title", "label", "labels", "class", "category", "sentiment", "target", "tag",
    "topic", "intent", "y", "group", "split", "id", "文本", "内容", "标签", "类别", "分类",
}
# fmt: on


# ---------------------------------------------------------------------------------------------
# Decoding


def decode_bytes(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """Decode file bytes to text; returns the text and the name of the encoding used.

    Order: a byte-order mark, then strict UTF-8, then charset-normalizer's candidates (accepted
    only when the decoded text is plausible: real CJK for a CJK code page, a non-Latin script for
    a Cyrillic/Greek/... code page), else line by line: UTF-8 where a line is valid, otherwise
    cp1252, otherwise latin-1. That last path never fails and never drops a line, which is what a
    file assembled from several sources (mostly UTF-8 with some cp1252 lines) needs.
    """
    if encoding and "(" not in encoding:
        return _decode_as(data, encoding)
    if not data:
        return "", "utf-8"
    for bom, name in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(name), name
            except UnicodeDecodeError:
                if name == "utf-8-sig":
                    text, used = _decode_lines(data[len(bom) :])
                    return text, f"{used}, with BOM"
                raise DataError("errors.io.file_starts_with_byte", bom=name.upper()) from None
    _reject_known_binary(data)
    # NUL is valid UTF-8, so look for it first: it means UTF-16/32 without a BOM, or binary.
    if b"\x00" in data:
        return _decode_wide(data)
    try:
        text, used = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, used = _decode_legacy(data)
    _reject_control_heavy(text)
    return text, used


def _decode_as(data: bytes, encoding: str) -> tuple[str, str]:
    """Decode with the encoding the user chose, strictly, with a message that locates the fault."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise DataError("errors.io.unknown_encoding_use_name", encoding=encoding) from None
    name = _CODEC_UPGRADE.get(name, name)
    try:
        text = data.decode(name)
    except UnicodeDecodeError as exc:
        where = Phrase("errors.io.at_byte", byte=f"{exc.start:,}")
        if "16" not in name and "32" not in name:
            line = data[: exc.start].count(b"\n") + 1
            where = Phrase("errors.io.at_byte_line", byte=f"{exc.start:,}", line=f"{line:,}")
        raise DataError(
            "errors.io.file_valid_cannot_decoded", encoding=encoding, where=where
        ) from None
    return text.removeprefix("\ufeff"), encoding


def _reject_known_binary(data: bytes) -> None:
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise DataError(
                "errors.io.file_text_looks_like",
                what=Phrase(f"errors.io.magic_{what}"),
                formats=_FORMAT_LIST,
            )


def _not_text() -> DataError:
    return DataError("errors.io.binary_data", formats=_FORMAT_LIST)


def _decode_wide(data: bytes) -> tuple[str, str]:
    """NUL bytes without a BOM: UTF-16/32 text when charset-normalizer says so, else binary."""
    from charset_normalizer import from_bytes

    sample = data[:_GUESS_SAMPLE_BYTES]
    for match in from_bytes(sample):
        name = codecs.lookup(match.encoding).name
        if not name.startswith(("utf-16", "utf-32")) or not _nul_layout_fits(sample, name):
            continue
        try:
            text = data.decode(name)
        except UnicodeDecodeError:
            continue
        if _mostly_printable(text[:100_000]):
            return text.removeprefix("\ufeff"), name
    raise _not_text()


def _nul_layout_fits(sample: bytes, codec: str) -> bool:
    """ASCII in UTF-16 puts its NUL bytes at odd offsets (LE) or even ones (BE).

    Some CJK characters (U+9000 is 00 90 in LE) add NULs on the other side, so only require
    a clear majority rather than all of them.
    """
    if codec.startswith("utf-32"):
        return True
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    high, low = (odd, even) if codec.endswith("le") else (even, odd)
    return high > 0 and low <= 0.5 * high


def _mostly_printable(text: str) -> bool:
    if not text:
        return False
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\t\n\r")
    return printable >= 0.95 * len(text)


def _reject_control_heavy(text: str) -> None:
    sample = text[:200_000]
    if sample and len(_BINARY_CONTROL_RE.findall(sample)) > max(2, len(sample) // 100):
        raise _not_text()


def _decode_lines(data: bytes) -> tuple[str, str]:
    """Decode each line on its own: UTF-8 where valid, else cp1252, else latin-1."""
    out: list[str] = []
    counts: Counter[str] = Counter()
    for line in data.split(b"\n"):
        if line.isascii():
            out.append(line.decode("ascii"))
            continue
        for codec in ("utf-8", "cp1252", "latin-1"):
            try:
                out.append(line.decode(codec))
            except UnicodeDecodeError:
                continue
            counts[codec] += 1
            break
    text = "\n".join(out)
    cp, latin = counts["cp1252"], counts["latin-1"]
    if counts["utf-8"]:
        parts = [_lines(n, c) for c, n in (("cp1252", cp), ("latin-1", latin)) if n]
        return text, f"utf-8 ({', '.join(parts)})"
    if cp:
        return text, f"cp1252 ({_lines(latin, 'latin-1')})" if latin else "cp1252"
    return text, "latin-1"


def _decode_legacy(data: bytes) -> tuple[str, str]:
    """Not UTF-8: one plausible legacy encoding for the whole file, else line by line."""
    guess = _guess_legacy(data)
    if guess is not None:
        try:
            return data.decode(guess), guess
        except UnicodeDecodeError:
            pass  # the sample fitted but the whole file does not
    return _decode_lines(data)


def _lines(n: int, codec: str) -> str:
    return f"{n:,} line{'s' if n != 1 else ''} {codec}"


def _guess_legacy(data: bytes) -> str | None:
    """Ask charset-normalizer about the lines that are not UTF-8; keep a guess only if plausible."""
    from charset_normalizer import from_bytes

    sample_lines: list[bytes] = []
    size = 0
    for line in data.split(b"\n"):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            sample_lines.append(line)
            size += len(line) + 1
            if size >= _GUESS_SAMPLE_BYTES:
                break
    sample = b"\n".join(sample_lines)
    plausible: list[tuple[str, str]] = []
    for match in from_bytes(sample):
        try:
            name = codecs.lookup(match.encoding).name
        except LookupError:
            continue
        if name.startswith(("utf-16", "utf-32")):
            continue  # wide encodings always contain NUL bytes for ASCII; handled elsewhere
        text = str(match)
        if _plausible(text, name):
            plausible.append((name, text))
    # Shift-JIS kana read as GB18030 come out as rare Han characters that pass _plausible;
    # prefer a candidate whose Chinese, if any, is mostly everyday characters.
    for name, text in plausible:
        if name not in _CHINESE or _common_han_share(text, name) >= 0.8:
            return _CODEC_UPGRADE.get(name, name)
    return _CODEC_UPGRADE.get(plausible[0][0], plausible[0][0]) if plausible else None


def _common_han_share(text: str, codec: str) -> float:
    """Share of Han characters in the everyday set: GB2312, or Big5's level-1 block (A4-C6)."""
    han = [ch for ch in text if 0x3400 <= ord(ch) <= 0x9FFF or 0xF900 <= ord(ch) <= 0xFAFF]
    if not han:
        return 0.0
    common = 0
    for ch in han:
        try:
            if codec.startswith("big5") or codec == "cp950":
                common += ch.encode("big5")[0] <= 0xC6
            else:
                common += bool(ch.encode("gb2312"))
        except UnicodeEncodeError:
            pass
    return common / len(han)


def _plausible(text: str, codec: str) -> bool:
    """Whether text decoded with ``codec`` reads as that codec's script rather than mojibake.

    charset-normalizer happily proposes a Japanese code page for one '£' byte (it becomes a
    half-width katakana bracket) or a Korean one for a short GBK line; checking the decoded
    characters rejects those guesses.
    """
    nonascii = [ch for ch in text if ord(ch) > 127 and not ch.isspace()]
    if not nonascii:
        return False
    han = kana = hangul = punct = 0
    for ch in nonascii:
        cp = ord(ch)
        if (
            0x4E00 <= cp <= 0x9FFF
            or 0x3400 <= cp <= 0x4DBF
            or 0xF900 <= cp <= 0xFAFF
            or (0x20000 <= cp <= 0x2FA1F)
        ):
            han += 1
        elif 0x3040 <= cp <= 0x30FF:
            kana += 1
        elif 0xAC00 <= cp <= 0xD7AF:
            hangul += 1
        elif 0x3000 <= cp <= 0x303F or 0xFF00 <= cp <= 0xFFEF or 0x2000 <= cp <= 0x206F:
            punct += 1
    cjk = han + kana + hangul
    if codec in _CHINESE or codec in _JAPANESE or codec in _KOREAN:
        if cjk == 0 or cjk + punct < 0.8 * len(nonascii):
            return False
        if codec in _CHINESE:
            return han >= 0.9 * cjk
        if codec in _JAPANESE:
            return kana >= 0.1 * cjk
        return hangul >= 0.9 * cjk
    # A single-byte code page for a non-Latin alphabet (Cyrillic, Greek, Hebrew, Arabic, Thai):
    # plausible only when such letters are a real share of the text, not one stray byte.
    letters = [ch for ch in text if ch.isalpha()]
    foreign = sum(
        1
        for ch in letters
        if not ch.isascii() and not unicodedata.name(ch, "LATIN").startswith("LATIN")
    )
    return bool(letters) and foreign >= 0.3 * len(letters)


# ---------------------------------------------------------------------------------------------
# Reading


def read_table(data: bytes, filename: str, options: ReadOptions = ReadOptions()) -> ReadResult:  # noqa: B008
    """Read CSV/TSV/TXT/XLSX/JSON/JSONL/Parquet bytes into a table whose cells are strings.

    Parameters
    ----------
    data
        The whole file.
    filename
        Only its extension is used, to choose the format.
    options
        Overrides for what would otherwise be detected (encoding, delimiter, header, sheet).
    """
    limit = config.MAX_UPLOAD_MB
    if len(data) > limit * _MB:
        raise DataError(
            "errors.io.file_mb_upload_limit", size=_format_mb(len(data), limit), limit=limit
        )
    suffix = PurePath(filename).suffix.lower()
    fmt = _FORMATS.get(suffix)
    if fmt is None:
        if suffix == ".xls":
            raise DataError("errors.io.old_excel_xls_files")
        raise DataError(
            "errors.io.unsupported_file_type_upload",
            suffix=suffix or filename,
            choices=", ".join(SUPPORTED_EXTENSIONS),
        )
    if not data or data.isspace():
        raise DataError("errors.io.file_empty_needs_header", filename=filename)
    if fmt == "xlsx":
        result = _read_xlsx(data, options)
    elif fmt == "parquet":
        result = _read_parquet(data)
    else:
        text, encoding = decode_bytes(data, options.encoding)
        text = text.removeprefix("\ufeff")
        if not text.strip():
            raise DataError("errors.io.file_empty_holds_only", filename=filename)
        if fmt == "json":
            result = _read_json(text, encoding)
        elif fmt == "jsonl":
            result = _read_jsonl(text, encoding)
        else:
            result = _read_delimited(text, encoding, fmt, options)
    if len(result.frame.columns) == 0:
        raise DataError("errors.io.file_no_columns_needs", filename=filename)
    if len(result.frame) == 0:
        cols = ", ".join(str(c) for c in result.frame.columns)
        raise DataError("errors.io.file_header_but_no", filename=filename, cols=cols)
    return result


def _format_mb(size: int, limit: int) -> str:
    """Size in MB with just enough decimals to read as over the limit ("200.3", not "200")."""
    mb = size / _MB
    for digits in range(4):
        shown = f"{mb:,.{digits}f}"
        if float(shown.replace(",", "")) > limit:
            return shown
    return shown


def _read_delimited(text: str, encoding: str, fmt: str, options: ReadOptions) -> ReadResult:
    notes: list[str] = []
    if encoding.startswith("utf-8 ("):
        notes.append(render("errors.note.mixed_encodings"))
    sample = text[:_SNIFF_CHARS]
    truncated = len(text) > _SNIFF_CHARS
    delimiter = options.delimiter or _detect_delimiter(sample, truncated, fmt)
    if delimiter is not None and len(delimiter) != 1:
        raise DataError("errors.io.delimiter_must_single_character", delimiter=delimiter)
    # TXT is a line format (text<TAB>label): a quote character there is part of the text.
    quoting = csv.QUOTE_NONE if fmt == "txt" and delimiter == "\t" else csv.QUOTE_MINIMAL
    records = _parse_records(text, delimiter, quoting)
    if not records:
        raise DataError("errors.io.file_holds_only_blank")
    header = options.header
    if header is None:
        header = _detect_header([r for _, r in records[:_HEADER_ROWS]], fmt)
    width = len(records[0][1])
    if fmt == "txt" and delimiter == "\t" and width == 2:
        records, joined = _join_extra_tabs(records)
        if joined:
            notes.append(render("errors.note.extra_tabs", count=f"{joined:,}"))
    width = _fit_widths(records, header, delimiter)
    rows = [r for _, r in records]
    if header:
        columns = _column_names(rows[0])
        rows = rows[1:]
    else:
        columns = [f"col_{i}" for i in range(width)]
    frame = (
        pd.DataFrame(rows, columns=columns, dtype=str)
        if rows
        else pd.DataFrame(columns=columns, dtype=str)
    )
    detected = Detected(
        format=fmt,
        encoding=encoding,
        delimiter=delimiter,
        header=bool(header),
        notes=tuple(notes),
    )
    return ReadResult(frame=frame, detected=detected)


def _parse_records(text: str, delimiter: str | None, quoting: int) -> list[tuple[int, list[str]]]:
    """Parse into (first line number, fields) records, skipping blank lines."""
    _raise_csv_field_limit()
    if delimiter is None:
        # No delimiter found: one column, one record per line.
        return [
            (i + 1, [line])
            for i, line in enumerate(text.replace("\r\n", "\n").split("\n"))
            if line.strip()
        ]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting)
    records: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for row in reader:
            if row and any(field.strip() for field in row):
                records.append((line, row))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise DataError("errors.io.file_cannot_parsed_near", line=f"{line:,}", exc=exc) from None
    return records


def _raise_csv_field_limit() -> None:
    # The csv module refuses fields over 128 KiB by default; a long article is legitimate.
    if csv.field_size_limit() < 2**30:
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def _detect_delimiter(sample: str, truncated: bool, fmt: str) -> str | None:
    """Pick the candidate delimiter that splits the sample into the most consistent rows."""
    if fmt == "tsv":
        return "\t"
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        sniffed = None
    order = ("\t", ",", ";", "|") if fmt == "txt" else DELIMITERS
    best, best_score = None, 0.0
    for delim in order:
        score = _consistency(sample, delim, truncated)
        if delim == sniffed:
            score += 0.01  # Sniffer breaks near-ties, e.g. rows with one ',' and one ';' each
        if score > best_score + 1e-9:
            best, best_score = delim, score
    return best


def _consistency(sample: str, delim: str, truncated: bool) -> float:
    """Share of sample rows with the most common field count (0 when that count is 1)."""
    if delim not in sample:
        return 0.0
    try:
        rows = [r for r in csv.reader(io.StringIO(sample, newline=""), delimiter=delim) if r]
    except csv.Error:
        return 0.0
    if truncated and len(rows) > 1:
        rows = rows[:-1]  # the sample may end inside a row
    if not rows:
        return 0.0
    widths = Counter(len(r) for r in rows)
    width, count = widths.most_common(1)[0]
    if width < 2:
        return 0.0
    return count / len(rows)


def _is_number(value: str) -> bool:
    try:
        float(value.replace(",", ""))
    except ValueError:
        return False
    return bool(value.strip())


def _detect_header(rows: Sequence[Sequence[str]], fmt: str) -> bool:
    """Guess whether the first row names the columns, by comparing it with the rows below it."""
    first = [c.strip() for c in rows[0]]
    while len(first) > 1 and not first[-1]:
        first.pop()  # "text,label," – a trailing delimiter, not a column
    rest = [r for r in rows[1:] if len(r) >= len(first)]
    if not rest:
        # A lone row: a header when it looks like names rather than an example.
        return all(c and len(c) <= 40 and not _is_number(c) for c in first)
    score = 0.0
    for j, name in enumerate(first):
        values = [r[j].strip() for r in rest]
        lowered = name.casefold()
        if lowered in _HEADER_NAMES:
            score += 2
        if not name:
            score -= 0.5
            continue
        if name in set(values):
            score -= 2  # a column name does not usually repeat as a value
        numeric = sum(_is_number(v) for v in values if v)
        filled = sum(1 for v in values if v) or 1
        if numeric / filled >= 0.9:
            score += -1 if _is_number(name) else 2
        elif _is_number(name):
            score -= 1
        if len(name.split()) > 4 or len(name) > 60:
            score -= 2  # a sentence: an example, not a name
        lengths = [len(v) for v in values if v]
        if lengths and statistics.median(lengths) >= 3 * max(len(name), 1) and len(name) <= 30:
            score += 1  # a short name above a column of long texts
        distinct = len(set(values))
        if distinct <= max(1, len(values) // 2) and name not in set(values):
            score += 1  # a label-like column whose first cell is not one of its labels
    if score == 0:
        return fmt != "txt"
    return score > 0


Records = list[tuple[int, list[str]]]


def _join_extra_tabs(records: Records) -> tuple[Records, int]:
    """TXT lines are text<TAB>label, so a tab inside the text belongs to the text."""
    joined = 0
    out = []
    for line, row in records:
        if len(row) > 2:
            row = ["\t".join(row[:-1]), row[-1]]
            joined += 1
        out.append((line, row))
    return out, joined


def _fit_widths(records: Records, header: bool, delimiter: str | None) -> int:
    """Make every row as wide as the first; only trailing empty fields may be dropped.

    Some exporters end each line, or just the header, with a delimiter ("a,b,"); those empty
    trailing fields are forgiven. Any other difference raises ``DataError`` naming the lines.
    """
    first = records[0][1]
    trimmed = len(first)
    while trimmed and first[trimmed - 1] == "":
        trimmed -= 1

    def misfits(width: int) -> list[tuple[int, int]]:
        return [
            (line, len(row))
            for line, row in records
            if len(row) < width or any(cell != "" for cell in row[width:])
        ]

    width, bad = len(first), misfits(len(first))
    if bad and 0 < trimmed < width:
        narrower = misfits(trimmed)
        if len(narrower) < len(bad):
            width, bad = trimmed, narrower
    if bad:
        # Phrases, not English fragments, so the sentence reads whole in either language.
        shown = Phrases([Phrase("errors.io.line_has", line=f"{ln:,}", n=n) for ln, n in bad[:5]])
        more = Phrase("errors.io.more_rows", count=f"{len(bad) - 5:,}") if len(bad) > 5 else ""
        ref = Phrase("errors.io.header_has" if header else "errors.io.first_row_has")
        name = _DELIMITER_NAMES.get(delimiter or "", repr(delimiter))
        name = Phrase(f"errors.io.delimiter_{name}") if delimiter in _DELIMITER_NAMES else name
        raise DataError(
            "errors.io.rows_have_different_numbers",
            ref=ref,
            width=width,
            shown=shown,
            more=more,
            name=name,
        )
    for _, row in records:
        del row[width:]
    return width


def _column_names(raw: Sequence[object]) -> list[str]:
    """Header cells as unique, non-empty column names (empty -> col_i, repeats -> name.1)."""
    names: list[str] = []
    seen: Counter[str] = Counter()
    for i, cell in enumerate(raw):
        name = cell_to_str(cell).strip() or f"col_{i}"
        if name in seen:
            base = name
            while name in seen:
                name = f"{base}.{seen[base]}"
                seen[base] += 1
        seen[name] += 1
        names.append(name)
    return names


def cell_to_str(value: object) -> str:
    """One cell as text: missing -> "", integral floats without ".0" (Excel stores 1 as 1.0)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    if hasattr(value, "tolist"):  # numpy scalars and arrays (Parquet list columns)
        return cell_to_str(value.tolist())
    return str(value)


def _frame_from_rows(
    rows: list[list[object]], header: bool | None, fmt: str
) -> tuple[pd.DataFrame, bool]:
    """Rows of cells (already rectangular) to a string frame, detecting the header if needed."""
    text_rows = [[cell_to_str(c) for c in row] for row in rows]
    if header is None:
        header = _detect_header(text_rows[:_HEADER_ROWS], fmt) if text_rows else True
    if header:
        columns = _column_names(text_rows[0])
        body = text_rows[1:]
    else:
        columns = [f"col_{i}" for i in range(len(text_rows[0]))]
        body = text_rows
    return pd.DataFrame(body, columns=columns, dtype=str), header


def _read_xlsx(data: bytes, options: ReadOptions) -> ReadResult:
    import zipfile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise DataError("errors.io.file_readable_excel_xlsx", reason=type(exc).__name__) from None
    try:
        sheets = tuple(workbook.sheetnames)
        if not sheets:
            raise DataError("errors.io.workbook_no_sheets_add")
        sheet = options.sheet if options.sheet is not None else sheets[0]
        if sheet not in sheets:
            raise DataError(
                "errors.io.workbook_no_sheet_choose", sheet=sheet, choices=", ".join(sheets)
            )
        rows = [list(r) for r in workbook[sheet].iter_rows(values_only=True)]
    finally:
        workbook.close()
    notes = []
    if len(sheets) > 1 and options.sheet is None:
        notes.append(
            render(
                "errors.note.several_sheets",
                count=len(sheets),
                sheets=", ".join(sheets),
                sheet=sheet,
            )
        )
    rows = [r for r in rows if any(cell_to_str(c).strip() for c in r)]
    if not rows:
        raise DataError("errors.io.sheet_empty_put_header", sheet=sheet)
    width = max(
        max((i + 1 for i, c in enumerate(r) if cell_to_str(c).strip()), default=0) for r in rows
    )
    rows = [(r + [None] * width)[:width] for r in rows]
    frame, header = _frame_from_rows(rows, options.header, "xlsx")
    detected = Detected(
        format="xlsx", header=header, sheets=sheets, sheet=sheet, notes=tuple(notes)
    )
    return ReadResult(frame=frame, detected=detected)


def _records_frame(records: list[object], where: str) -> pd.DataFrame:
    """A list of JSON objects (or of equal-length arrays) as a string frame."""
    if all(isinstance(r, dict) for r in records):
        keyed = [{str(k): v for k, v in r.items()} for r in records]
        names = list(dict.fromkeys(k for r in keyed for k in r))
        body = [[cell_to_str(r.get(k)) for k in names] for r in keyed]
        return pd.DataFrame(body, columns=names, dtype=str)
    if all(isinstance(r, list) for r in records):
        widths = {len(r) for r in records}
        if len(widths) == 1:
            width = widths.pop()
            body = [[cell_to_str(c) for c in r] for r in records]
            return pd.DataFrame(body, columns=[f"col_{i}" for i in range(width)], dtype=str)
    raise DataError("errors.io.json_must_hold_records", where=Phrase(f"errors.io.json_{where}"))


def _read_json(text: str, encoding: str) -> ReadResult:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            "errors.io.json_file_malformed_at", lineno=exc.lineno, colno=exc.colno, msg=exc.msg
        ) from None
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        if "data" in value and isinstance(value["data"], list):
            value = value["data"]
        elif len(lists) == 1:
            value = lists[0]
        else:
            raise DataError("errors.io.json_file_must_array_2")
    if not isinstance(value, list):
        raise DataError("errors.io.json_file_must_array")
    if not value:
        raise DataError("errors.io.json_file_holds_empty")
    frame = _records_frame(value, "array")
    return ReadResult(frame=frame, detected=Detected(format="json", encoding=encoding))


def _read_jsonl(text: str, encoding: str) -> ReadResult:
    records: list[object] = []
    # Split on "\n" only: str.splitlines() would also split on U+2028 inside a JSON string.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DataError(
                "errors.io.line_jsonl_file_valid",
                number=f"{number:,}",
                msg=exc.msg,
                colno=exc.colno,
            ) from None
    frame = _records_frame(records, "lines")
    return ReadResult(frame=frame, detected=Detected(format="jsonl", encoding=encoding))


def _read_parquet(data: bytes) -> ReadResult:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError):
        raise DataError("errors.io.file_readable_parquet_file") from None
    raw = table.to_pandas()
    names = _column_names([str(c) for c in raw.columns])
    frame = pd.DataFrame(
        {name: _column_to_str(raw[c]) for name, c in zip(names, raw.columns, strict=True)},
        columns=names,
    )
    return ReadResult(frame=frame, detected=Detected(format="parquet"))


def _column_to_str(series: pd.Series) -> pd.Series:
    return pd.Series([cell_to_str(v) for v in series.tolist()], dtype=str)
