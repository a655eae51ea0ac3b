"""Decode an uploaded file's bytes to text: BOMs, UTF-8/16/32, legacy code pages, charset guesses.

A file that is not text (PDF, ZIP, images, ...) is refused with a message that names what it is.
"""

from __future__ import annotations

import codecs
import io
import re
import unicodedata
import zipfile
from collections import Counter
from typing import NamedTuple

from slm_core.errors import DataError, Phrase, render

_FORMAT_LIST = "CSV, TSV, TXT, XLSX, JSON, JSONL or Parquet"


_GUESS_SAMPLE_BYTES = 128 * 1024

# File signatures of common non-text files, so the message can name what was uploaded.
# What a binary file looks like: errors.decode.magic_<name> in the catalogues.
_MAGIC = (
    (b"%PDF", "pdf"),
    (b"PK\x03\x04", "zip"),
    (b"\xd0\xcf\x11\xe0", "ole"),
    (b"PAR1", "parquet"),
    (b"\x89PNG", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF8", "gif"),
    (b"\x1f\x8b", "gzip"),
    (b"\x7fELF", "elf"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
)
# A zip archive is named by what it holds: an Office document, or an archive to unpack.
_ZIP_KINDS = (("xl/", "zip"), ("word/", "docx"), ("ppt/", "pptx"))
# Stray NUL bytes in an otherwise text file (a database export, a damaged copy) are dropped
# when they are at most this share of the bytes; more means binary or a wide encoding.
_STRAY_NUL_SHARE = 0.01
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
# fmt: on


class Decoded(NamedTuple):
    """Decoded text, the encoding used, and notes on what was repaired (English sentences)."""

    text: str
    encoding: str
    notes: tuple[str, ...] = ()


def decode_bytes(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """Decode file bytes to text; returns the text and the name of the encoding used.

    See :func:`decode`, which also returns notes on what was repaired.
    """
    decoded = decode(data, encoding)
    return decoded.text, decoded.encoding


def decode(data: bytes, encoding: str | None = None) -> Decoded:
    """Decode file bytes to text, saying which encoding was used and what was repaired.

    Order: a byte-order mark, then strict UTF-8, then charset-normalizer's candidates (accepted
    only when the decoded text is plausible: real CJK for a CJK code page, a non-Latin script for
    a Cyrillic/Greek/... code page), else line by line: UTF-8 where a line is valid, otherwise
    cp1252, otherwise latin-1. That last path never fails and never drops a line, which is what a
    file assembled from several sources (mostly UTF-8 with some cp1252 lines) needs.

    A byte-order mark that does not fit the bytes after it (a UTF-8 mark on a GBK file, a
    UTF-16 mark on UTF-8 text) is ignored with a note, and so are a few stray NUL bytes.
    """
    # A detected name given back ("utf-8 (3 lines cp1252)", "utf-8, with BOM") means detect.
    if encoding and "(" not in encoding and "," not in encoding:
        return Decoded(*_decode_as(data, encoding))
    if not data:
        return Decoded("", "utf-8")
    for bom, name in _BOMS:
        if data.startswith(bom):
            return _decode_after_bom(data, len(bom), name)
    _reject_known_binary(data)
    # NUL is valid UTF-8, so look for it first: it means UTF-16/32 without a BOM, or binary.
    if b"\x00" in data:
        return _decode_wide(data)
    try:
        text, used = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, used = _decode_legacy(data)
    _reject_control_heavy(text)
    return Decoded(text, used)


def _decode_after_bom(data: bytes, size: int, name: str) -> Decoded:
    """A file that starts with a byte-order mark (``size`` bytes) for ``name``.

    A mark that does not fit the bytes after it is ignored, with a note.
    """
    rest = data[size:]
    mark = name.removesuffix("-sig").upper()
    if name != "utf-8-sig" and rest and b"\x00" not in rest:
        # UTF-16/32 text always has NUL bytes (every ASCII character has one): an editor put
        # this mark on a file in another encoding.
        try:
            rest.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            inner = decode(rest)
            note = render("errors.note.wrong_bom", bom=mark, encoding=inner.encoding)
            return Decoded(inner.text, inner.encoding, (*inner.notes, note))
    try:
        return Decoded(data.decode(name), name)
    except UnicodeDecodeError:
        pass
    if name != "utf-8-sig":
        raise DataError("errors.decode.bad_bom", bom=mark) from None
    # A UTF-8 mark on a file that is not UTF-8: a whole-file legacy encoding (a GBK file an
    # editor marked as UTF-8), else line by line as for a file without a mark.
    guess = _guess_legacy(rest)
    if guess is not None:
        try:
            text = rest.decode(guess)
        except UnicodeDecodeError:
            pass
        else:
            note = render("errors.note.wrong_bom", bom=mark, encoding=guess)
            return Decoded(text, guess, (note,))
    text, used = _decode_lines(rest)
    return Decoded(text, f"{used}, with BOM")


def _decode_as(data: bytes, encoding: str) -> tuple[str, str]:
    """Decode with the encoding the user chose, strictly, with a message that locates the fault."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise DataError("errors.decode.unknown_encoding", encoding=encoding) from None
    name = _CODEC_UPGRADE.get(name, name)
    try:
        text = data.decode(name)
    except UnicodeDecodeError as exc:
        where = Phrase("errors.decode.at_byte", byte=f"{exc.start:,}")
        if "16" not in name and "32" not in name:
            line = data[: exc.start].count(b"\n") + 1
            where = Phrase("errors.decode.at_byte_line", byte=f"{exc.start:,}", line=f"{line:,}")
        raise DataError("errors.decode.cannot_decode", encoding=encoding, where=where) from None
    return text.removeprefix("\ufeff"), encoding


def _reject_known_binary(data: bytes) -> None:
    for magic, what in _MAGIC:
        if data.startswith(magic):
            if what == "zip":
                what = _zip_kind(data)
            raise DataError(
                "errors.decode.known_binary",
                what=Phrase(f"errors.decode.magic_{what}"),
                formats=_FORMAT_LIST,
            )


def _zip_kind(data: bytes) -> str:
    """What a zip archive holds: an Excel workbook, a Word or PowerPoint file, or other files."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return "zip"  # damaged: most likely a workbook saved with the wrong extension
    for prefix, kind in _ZIP_KINDS:
        if any(n.startswith(prefix) for n in names):
            return kind
    return "archive"


def _not_text() -> DataError:
    return DataError("errors.decode.binary_data", formats=_FORMAT_LIST)


def _decode_wide(data: bytes) -> Decoded:
    """NUL bytes without a BOM: UTF-16/32 text when charset-normalizer says so; text with a few
    stray NUL bytes (dropped, with a note); else binary."""
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
            return Decoded(text.removeprefix("\ufeff"), name)
    body = data.rstrip(b"\x00")  # NUL padding after the end (a pre-allocated or cut copy)
    nuls = data.count(0)
    if body and (b"\x00" not in body or nuls <= _STRAY_NUL_SHARE * len(data)):
        inner = decode(body.replace(b"\x00", b""))
        note = render("errors.note.nul_removed", count=f"{nuls:,}")
        return Decoded(inner.text, inner.encoding, (*inner.notes, note))
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
