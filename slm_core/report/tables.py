"""Every figure of a report as named tables: one source for the HTML, the CSV and the JSON."""

from __future__ import annotations

from slm_core.report.collect import ReportData
from slm_core.report.figure_tables import business_table, cost_table, social_table
from slm_core.report.llm_tables import llm_compare_table, llm_table
from slm_core.report.model_tables import (
    classes_table,
    confusion_table,
    dataset_table,
    groups_table,
    leaderboard_table,
    per_class_table,
)
from slm_core.report.scenario_tables import assumptions_table, cost_volume_table, curves_table
from slm_core.report.table_types import Table
from slm_core.report.value_tables import decision_table, options_table, scores_table


def build_tables(data: ReportData, lang: str = "en") -> dict[str, Table]:
    """Every figure of the report as tables, in reading order: the decision first."""
    builders = (
        decision_table,
        options_table,
        dataset_table,
        classes_table,
        leaderboard_table,
        per_class_table,
        groups_table,
        confusion_table,
        llm_table,
        llm_compare_table,
        cost_table,
        scores_table,
        business_table,
        social_table,
        curves_table,
        cost_volume_table,
        assumptions_table,
    )
    tables = [b(data, lang) for b in builders]
    return {tb.key: tb for tb in tables}
