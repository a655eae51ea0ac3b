"""Shareable results: the HTML report, model cards, and CSV/JSON export of every figure.

``collect_report`` gathers everything once (evaluations with confidence intervals, the measured
serving benchmark, per-group results, the hosted LLM's newest measurement, and the value report
with every option and the decision); the renderers only format it, and state the decision in
the words of ``slm_core.value.text.decision_text``. Nothing here imports Streamlit or
TensorFlow; Plotly is imported when a chart is drawn.
"""

from slm_core.report.collect import (
    CostFigures,
    ReportData,
    RunFigures,
    collect_report,
    cost_figures,
    package_versions,
)
from slm_core.report.export import (
    csv_files,
    csv_zip,
    report_json,
    report_json_text,
    safe_cell,
    table_csv,
    value_json,
)
from slm_core.report.html import build_report_html, render_html, write_report
from slm_core.report.kpis import Kpi, kpi_tiles
from slm_core.report.llm_card import LLMCard, build_llm_card, llm_card, llm_card_markdown, llm_cards
from slm_core.report.llm_figures import LLMFigures
from slm_core.report.model_card import (
    SECTIONS,
    CardText,
    ModelCard,
    build_model_card,
    model_card_markdown,
    model_cards,
    read_card_text,
    save_card_text,
)
from slm_core.report.table_types import Table, format_cell
from slm_core.report.tables import build_tables

__all__ = [
    "SECTIONS",
    "CardText",
    "CostFigures",
    "Kpi",
    "LLMCard",
    "LLMFigures",
    "ModelCard",
    "ReportData",
    "RunFigures",
    "Table",
    "build_llm_card",
    "build_model_card",
    "build_report_html",
    "build_tables",
    "collect_report",
    "cost_figures",
    "csv_files",
    "csv_zip",
    "format_cell",
    "kpi_tiles",
    "llm_card",
    "llm_card_markdown",
    "llm_cards",
    "model_card_markdown",
    "model_cards",
    "package_versions",
    "read_card_text",
    "render_html",
    "report_json",
    "report_json_text",
    "safe_cell",
    "save_card_text",
    "table_csv",
    "value_json",
    "write_report",
]
