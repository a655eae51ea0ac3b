"""The scenario behind the decision as tables: every assumption with its source, the validation
curves each model's threshold was chosen on, and each option's yearly cost across volumes.

Every figure comes from ``ReportData.value`` (a :class:`~slm_core.value.scorecard.ValueReport`);
nothing here computes a value figure.
"""

from __future__ import annotations

import json
from typing import Any

from slm_core.i18n import t
from slm_core.report.collect import ReportData
from slm_core.report.table_types import Table, column, option_columns, titled
from slm_core.value.assumptions import (
    FIELD_NAMES,
    RAREST_CLASS,
    localized_source,
    scenario_name,
    source_kind,
)
from slm_core.value.scorecard import ValueReport
from slm_core.value.text import option_label


def assumptions_table(data: ReportData, lang: str) -> Table:
    """Every assumption: value, unit, kind of source, source, date, note, and whether a formula
    uses it on this dataset (error costs of a positive class the scenario does not name are not
    used)."""
    v = data.value
    rows = []
    if v is not None:
        a = v.assumptions
        for name in FIELD_NAMES:
            if name in ("sources", "preset"):
                continue
            src = a.source(name)
            shown = localized_source(src, lang)
            used = _used(v, name)
            note = shown.note
            if not used:
                note = " ".join(x for x in (t(f"report_html.unused_{name}", lang), note) if x)
            rows.append(
                (
                    name,
                    t(f"value.field.{name}", lang),
                    _shown_value(v, name, lang),
                    a.unit(name, lang),
                    t(f"value.kind.{source_kind(src)}", lang),
                    shown.source,
                    shown.date,
                    used,
                    note,
                )
            )
    return titled(
        "assumptions",
        lang,
        (
            column("key", lang, show=False),
            column("assumption", lang),
            column("value", lang, "auto"),
            column("unit", lang),
            column("kind", lang),
            column("source", lang),
            column("date", lang),
            column("in_use", lang, "auto"),
            column("note", lang),
        ),
        tuple(rows),
    )


def _used(v: ValueReport, name: str) -> bool:
    """False for figures the scenario states but no formula uses on this dataset."""
    from slm_core.value.payoff import positive_class

    a = v.assumptions
    if name in ("cost_false_positive", "cost_false_negative"):
        return positive_class(a, v.inputs.classes, v.inputs.prior) is not None
    if name == "payoff_matrix":
        return a.payoff_mode == "matrix"
    return True


def _shown_value(v: ValueReport, name: str, lang: str) -> Any:
    from slm_core.value.payoff import positive_class

    a = v.assumptions
    value = getattr(a, name)
    if name == "name":
        return scenario_name(value, lang)
    if name == "serving_mode":
        return t(f"value.mode_short.{value}", lang)
    if name == "payoff_mode":
        return t(f"value.payoff_mode.{value}", lang)
    if name == "positive_class" and value == RAREST_CLASS:
        resolved = positive_class(a, v.inputs.classes, v.inputs.prior)
        return t("report_html.rarest_class", lang, cls=resolved or "–")
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def curves_table(data: ReportData, lang: str) -> Table:
    """Each model's validation curve: what its threshold was chosen on."""
    v = data.value
    rows = []
    for o in v.models if v is not None else ():
        curve = o.business.curve
        if not curve.get("threshold"):
            continue
        for th, cov, acc, per_text in zip(
            curve["threshold"],
            curve["coverage"],
            curve["accuracy"],
            curve["value_per_text"],
            strict=True,
        ):
            rows.append((o.run_id, o.label, th, cov, acc, per_text))
    return titled(
        "profit_curve",
        lang,
        (
            column("run", lang, "int"),
            column("model", lang),
            column("threshold", lang, "float"),
            column("coverage", lang, "pct"),
            column("automated_accuracy", lang, "pct"),
            column("value_per_text", lang, "sig"),
        ),
        tuple(rows),
        note=t("report_table.profit_curve_note", lang),
        show=False,
    )


def cost_volume_table(data: ReportData, lang: str) -> Table:
    """The cost-vs-volume chart's data: each option's yearly cost at each yearly volume."""
    v = data.value
    rows = []
    curves = v.decision.curves if v is not None else {}
    if curves:
        labels = {o.key: option_label(o, lang) for o in v.options}
        for key, costs in curves["cost"].items():
            for volume, cost in zip(curves["volume"], costs, strict=True):
                rows.append((key, labels.get(key, key), volume, cost))
    return titled(
        "cost_volume",
        lang,
        (
            *option_columns(lang),
            column("volume", lang, "int"),
            column("yearly_cost", lang, "money"),
        ),
        tuple(rows),
        show=False,
    )
