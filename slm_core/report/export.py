"""CSV and JSON export of every figure in a report, and of the value report behind them.

CSV cells that a spreadsheet would run as a formula are neutralised (OWASP's advice on CSV
injection): a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets
a leading single quote. Numbers are written as numbers, so ``-3.5`` stays a number. Files are
UTF-8 with a byte-order mark so that Excel shows Chinese labels correctly.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Mapping
from typing import Any

from slm_core.escape import spreadsheet_cell
from slm_core.report.collect import ReportData
from slm_core.report.table_types import Table
from slm_core.report.tables import build_tables

EXPORT_VERSION = 2


# A CSV cell that no spreadsheet will evaluate; numbers stay numbers, None is empty.
safe_cell = spreadsheet_cell


def table_csv(table: Table, *, header: str = "label", bom: bool = True) -> str:
    """One table as CSV text; ``header`` is 'label' (translated) or 'key' (stable)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    names = [c.label if header == "label" else c.key for c in table.columns]
    writer.writerow([safe_cell(n) for n in names])
    for row in table.rows:
        writer.writerow([safe_cell(v) for v in row])
    text = buffer.getvalue()
    return ("\ufeff" + text) if bom else text


def csv_files(tables: Mapping[str, Table], *, header: str = "label") -> dict[str, bytes]:
    """File name -> UTF-8 bytes (with BOM) for every table."""
    return {
        f"{key}.csv": table_csv(tb, header=header).encode("utf-8") for key, tb in tables.items()
    }


def csv_zip(tables: Mapping[str, Table], *, header: str = "label") -> bytes:
    """Every table as a CSV file in one zip archive."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in csv_files(tables, header=header).items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _jsonable(value: Any) -> Any:
    from slm_core.store import jsonable

    return jsonable(value)


def value_json(data: ReportData, lang: str = "en") -> dict[str, Any] | None:
    """The value report as JSON: the decision (and its sentence in ``lang``), every option with
    its intervals and the kind of each figure, break-evens, crossovers, assumptions, inputs."""
    from slm_core.value.text import decision_text, option_label

    v = data.value
    if v is None:
        return None
    out = v.to_dict()
    out["decision"] = {
        **out["decision"],
        "text": decision_text(v, lang),
        "best_label": option_label(v.best, lang),
        "runner_up_label": option_label(v.runner_up, lang) if v.runner_up else None,
    }
    return out


def report_json(data: ReportData, lang: str = "en", tables: Mapping[str, Table] | None = None):
    """Every table, the value report (decision, options, intervals, break-evens, kinds) and
    every stored input behind them (evaluations, benchmarks)."""
    tables = tables if tables is not None else build_tables(data, lang)
    source = data.to_dict()
    source.pop("value", None)  # exported once, at the top level
    return _jsonable(
        {
            "export_version": EXPORT_VERSION,
            "lang": lang,
            "generated_at": data.generated_at.isoformat(),
            "versions": dict(data.versions),
            "dataset": data.dataset.to_dict(),
            "value": value_json(data, lang),
            "tables": {k: tb.to_dict() for k, tb in tables.items()},
            "source": source,
        }
    )


def report_json_text(data: ReportData, lang: str = "en", tables=None) -> str:
    """``report_json`` as indented UTF-8 text (strict JSON: no NaN)."""
    return json.dumps(
        report_json(data, lang, tables), ensure_ascii=False, indent=2, allow_nan=False
    )
