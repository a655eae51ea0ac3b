"""Generate the input-file corpus for the data tests: every format, encoding and bad input.

Files are written by the tests into a temporary directory (nothing binary is committed), so a
reader of a failing test can open the exact file that failed.
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

# Three clearly different topics, distinct texts, 12 per class (enough for a stratified split).
_EN_TOPICS = {
    "sport": "match goal team coach league score player season win stadium",
    "money": "bank price market profit shares tax budget loan interest trade",
    "tech": "phone software chip internet app data cloud robot code laptop",
}
_ZH_TOPICS = {
    "退款": [
        "商品和描述不符请给我退款",
        "我想取消订单并退款",
        "退货以后钱什么时候到账",
        "申请退款被拒绝了",
    ],
    "物流": [
        "快递什么时候能送到北京",
        "包裹显示已签收但我没收到",
        "物流信息三天没有更新",
        "能不能换一家快递公司",
    ],
    "账户": [
        "登录时一直提示密码错误",
        "手机号换了怎么修改绑定",
        "账户被冻结了怎么办",
        "收不到验证码无法注册",
    ],
}
_ZH_TRADITIONAL = {
    "退款": ["商品與描述不符請給我退款", "我想取消訂單並退款", "退貨以後錢什麼時候到賬"],
    "物流": ["快遞什麼時候能送到台北", "包裹顯示已簽收但我沒收到", "物流資訊三天沒有更新"],
}


def english_rows(per_class: int = 12) -> list[tuple[str, str]]:
    """(text, label) rows: ``per_class`` distinct English texts for each of 3 topics."""
    rows = []
    for label, words in _EN_TOPICS.items():
        vocab = words.split()
        for i in range(per_class):
            words = " ".join(vocab[(i + k) % len(vocab)] for k in range(5))
            rows.append((f"{words} number {i}", label))
    return rows


def chinese_rows(repeat: int = 3, traditional: bool = False) -> list[tuple[str, str]]:
    """(text, label) rows of Chinese support tickets; each text gets a distinct suffix."""
    topics = _ZH_TRADITIONAL if traditional else _ZH_TOPICS
    return [
        (f"{text}（第{r + 1}次）", label)
        for r in range(repeat)
        for label, texts in topics.items()
        for text in texts
    ]


def csv_text(rows: list[tuple[str, ...]], header: tuple[str, ...] | None, sep: str = ",") -> str:
    """Rows as delimited text, quoting only what needs it (fields with sep, quotes, newlines)."""
    lines = []
    for row in ([header] if header else []) + list(rows):
        cells = []
        for cell in row:
            if any(ch in cell for ch in (sep, '"', "\n", "\r")):
                cell = '"' + cell.replace('"', '""') + '"'
            cells.append(cell)
        lines.append(sep.join(cells))
    return "\n".join(lines) + "\n"


def xlsx_bytes(sheets: dict[str, list[list[object]]]) -> bytes:
    """An .xlsx workbook with the given sheets (name -> rows of cell values), via openpyxl."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def parquet_bytes(columns: dict[str, list[object]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer)
    return buffer.getvalue()


def good_files() -> dict[str, bytes]:
    """Readable files in every supported format and encoding (name -> bytes)."""
    en = english_rows()
    zh = chinese_rows()
    header = ("text", "label")
    files = {
        "comma.csv": csv_text(en, header).encode("utf-8"),
        "gbk_chinese.csv": csv_text(zh, ("内容", "类别")).encode("gbk"),
        "gb18030_chinese.csv": csv_text(zh, ("内容", "类别")).encode("gb18030"),
        "big5_chinese.csv": csv_text(chinese_rows(traditional=True), ("內容", "類別")).encode(
            "big5"
        ),
        "utf16_chinese.csv": csv_text(zh, header).encode("utf-16"),  # with BOM
        "utf16le_nobom.csv": csv_text(zh, header).encode("utf-16-le"),
        "utf8_bom.csv": csv_text(zh, header).encode("utf-8-sig"),
        "semicolon.csv": csv_text([(f"{t}, really", lab) for t, lab in en], header, ";").encode(),
        "pipe.csv": csv_text(en, header, "|").encode(),
        "headerless.tsv": csv_text(en, None, "\t").encode(),
        "header.tsv": csv_text(en, header, "\t").encode(),
        "lines.txt": "".join(f"{t}\t{lab}\n" for t, lab in en).encode(),
        "lines_header.txt": ("text\tlabel\n" + "".join(f"{t}\t{lab}\n" for t, lab in en)).encode(),
        "records.json": json.dumps([{"text": t, "label": lab} for t, lab in en]).encode(),
        "data.json": json.dumps({"data": [{"text": t, "label": lab} for t, lab in zh]}).encode(),
        "lines.jsonl": "".join(
            json.dumps({"text": t, "label": lab}, ensure_ascii=False) + "\n" for t, lab in zh
        ).encode(),
        "table.parquet": parquet_bytes({"text": [t for t, _ in en], "label": [lb for _, lb in en]}),
        "one_sheet.xlsx": xlsx_bytes({"Data": [list(header), *[list(r) for r in en]]}),
        "three_sheets.xlsx": xlsx_bytes(
            {
                "Notes": [["about"], ["this workbook holds two tables"]],
                "English": [list(header), *[list(r) for r in en]],
                "Chinese": [["内容", "类别"], *[list(r) for r in zh]],
            }
        ),
    }
    return files


def bad_files() -> dict[str, bytes]:
    """Files each reader must refuse with a clear DataError (name -> bytes)."""
    en = english_rows()
    return {
        "empty.csv": b"",
        "blank.csv": b"  \n\r\n \n",
        "binary.csv": bytes(range(256)) * 8,
        "random.csv": random.Random(0).randbytes(4096),
        "report.csv": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        "header_only.csv": b"text,label\n",
        "header_only.xlsx": xlsx_bytes({"Sheet1": [["text", "label"]]}),
        "varying.csv": (
            "text,label\n"
            + "".join(f"{t},{lab}\n" for t, lab in en[:3])
            + "great, fun, cheap,sport\n"  # line 5: 4 fields, unquoted commas
            + "".join(f"{t},{lab}\n" for t, lab in en[3:6])
            + "no label here\n"  # line 9: 1 field
        ).encode(),
        "malformed.json": b'[{"text": "a", "label": "x"}, {"text": "b", "label": }]',
        "malformed.jsonl": b'{"text": "a", "label": "x"}\n{"text": "b" "label": "y"}\n',
        "not_records.json": b'{"a": 1, "b": 2}',
        "broken.xlsx": b"PK\x03\x04 this is not really a workbook",
        "broken.parquet": b"PAR1 not really parquet",
        "document.docx": b"whatever",
        "legacy.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
    }


def write_corpus(directory: Path) -> dict[str, Path]:
    """Write every good and bad file into ``directory``; returns name -> path."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, data in {**good_files(), **bad_files()}.items():
        path = directory / name
        path.write_bytes(data)
        paths[name] = path
    return paths
