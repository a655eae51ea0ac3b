"""A self-contained HTML report that opens offline in any browser.

One file: styles inline, plotly.js inlined once, every chart's data inline, no fonts, images or
scripts from anywhere else. A Content-Security-Policy meta tag tells the browser to refuse any
network request, so even a library's built-in default URL (plotly.js has some for map tiles)
could not be fetched. Every piece of text that came from a user — dataset, label, group and
scenario names, notes, the model card's intended use — is HTML-escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from slm_core.i18n import format_money, format_number, localize_known, t
from slm_core.report.collect import ReportData, collect_report
from slm_core.report.kpis import kpi_tiles
from slm_core.report.table_types import KINDS, Table, format_cell, visible
from slm_core.report.tables import build_tables
from slm_core.report.value_tables import cheaper_than_llm

HTML_LANG = {"en": "en", "zh": "zh-CN"}
# The browser refuses every network request; inline scripts and styles only.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'; form-action 'none'; "
    "base-uri 'none'"
)
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

CSS = """
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --accent:#2563eb; --bg:#f9fafb; }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", "PingFang SC",
  "Microsoft YaHei", "Noto Sans CJK SC", sans-serif; color: var(--ink); background: #fff;
  line-height: 1.5; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 64px; }
header.top { border-bottom: 3px solid var(--accent); margin-bottom: 18px; }
h1 { font-size: 1.9rem; margin: 0 0 4px; }
h2 { font-size: 1.35rem; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 1px solid
  var(--line); }
h3 { font-size: 1.1rem; margin: 22px 0 8px; }
.meta, .note, caption { color: var(--muted); font-size: .9rem; }
nav.toc { background: var(--bg); border: 1px solid var(--line); border-radius: 8px;
  padding: 10px 16px; font-size: .92rem; }
nav.toc a { color: var(--accent); text-decoration: none; margin-right: 14px; white-space: nowrap; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 12px;
  margin: 14px 0; }
.kpi { border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; background:
  var(--bg); }
.kpi .label { color: var(--muted); font-size: .85rem; }
.kpi .value { font-size: 1.55rem; font-weight: 650; margin: 2px 0; word-break: break-word; }
.kpi .knote { color: var(--muted); font-size: .8rem; }
.callout { border-left: 4px solid #16a34a; background: #f0fdf4; padding: 10px 14px;
  border-radius: 4px; margin: 10px 0; }
.callout.info { border-color: var(--accent); background: #eff6ff; }
.callout.warn { border-color: #d97706; background: #fffbeb; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: .88rem; margin: 6px 0 4px; width: auto; }
table.wide { width: 100%; }
caption { caption-side: bottom; text-align: left; padding-top: 4px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; vertical-align: top; min-width: 4.5em; }
th { background: var(--bg); text-align: left; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.chart { margin: 8px 0 4px; min-height: 120px; }
details { margin: 8px 0; }
details pre { white-space: pre-wrap; background: var(--bg); border: 1px solid var(--line);
  padding: 10px; border-radius: 6px; font-size: .82rem; }
footer { margin-top: 40px; color: var(--muted); font-size: .85rem; }
@media print { nav.toc, .chart { break-inside: avoid; } a { color: inherit; } }
"""

# Numbers are right-aligned; every kind but plain text is a number.
NUMERIC_KINDS = frozenset(KINDS) - {"text"}


def esc(text: Any) -> str:
    """HTML-escape any value (quotes too: it may end up inside an attribute)."""
    return html.escape("" if text is None else str(text), quote=True)


def score_style(value: Any) -> str:
    """Red (0) through amber to green (100); grey when there is no score."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "background:#eeeeee;color:#777777"
    v = max(0.0, min(100.0, float(value))) / 100.0
    red = int(220 - 120 * v) if v > 0.5 else 220
    green = int(90 + 130 * min(1.0, v * 2)) if v <= 0.5 else 200
    return f"background:rgba({red},{green},90,0.45)"


def table_html(
    table: Table,
    lang: str,
    currency: str = "USD",
    *,
    rows: Iterable[tuple] | None = None,
    caption: bool = True,
) -> str:
    """One table as HTML; every cell escaped, numbers right-aligned, scores coloured."""
    idx = visible(table.columns)
    head = "".join(f"<th>{esc(table.columns[i].label)}</th>" for i in idx)
    body = []
    for row in table.rows if rows is None else rows:
        cells = []
        for i in idx:
            col, value = table.columns[i], row[i]
            text = esc(format_cell(value, col.kind, lang, currency))
            numeric = col.kind in NUMERIC_KINDS and isinstance(value, (int, float))
            style = f' style="{score_style(value)}"' if col.kind == "score" else ""
            cls = ' class="num"' if numeric or col.kind == "score" else ""
            cells.append(f"<td{cls}{style}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{esc(table.note)}</caption>" if caption and table.note else ""
    wide = ' class="wide"' if len(idx) > 3 else ""
    return (
        f'<div class="scroll"><table{wide} data-table="{esc(table.key)}">{cap}<thead><tr>{head}'
        f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def figure_html(fig, div_id: str) -> str:
    """A Plotly figure as a div and an inline script (plotly.js itself is included once)."""
    if fig is None:
        return ""
    import plotly.io as pio

    return (
        '<div class="chart">'
        + pio.to_html(
            fig,
            include_plotlyjs=False,
            full_html=False,
            config=PLOTLY_CONFIG,
            div_id=div_id,
            default_height=fig.layout.height or 380,
        )
        + "</div>"
    )


def plotly_js() -> str:
    """The plotly.js bundle shipped inside the installed plotly package (no CDN)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{body}</section>'


def _p(text: str, cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f"<p{klass}>{esc(text)}</p>"


def _kpis(data: ReportData, lang: str) -> str:
    tiles = kpi_tiles(data, lang)
    if not tiles:
        return ""
    cells = "".join(
        f'<div class="kpi" data-kpi="{esc(k.key)}"><div class="label">{esc(k.label)}</div>'
        f'<div class="value">{esc(k.value)}</div><div class="knote">{esc(k.note)}</div></div>'
        for k in tiles
    )
    return f'<div class="kpis">{cells}</div>'


def render_html(
    data: ReportData,
    lang: str = "en",
    *,
    tables: Mapping[str, Table] | None = None,
    cards: Mapping[int, str] | None = None,
) -> str:
    """The whole report as one HTML document in ``lang`` ('en' or 'zh').

    ``cards`` maps run id to that run's Markdown model card, shown folded under each model.
    """
    from slm_core.report import charts
    from slm_core.value.assumptions import BUSINESS_DIMENSIONS, SOCIAL_DIMENSIONS, scenario_name
    from slm_core.value.text import recommendation_text, sensitivity_text

    tables = tables if tables is not None else build_tables(data, lang)
    tr = lambda key, **kw: t(f"report_html.{key}", lang, **kw)
    v = data.value
    currency = v.assumptions.currency if v is not None else "USD"
    d = data.dataset
    generated = data.generated_at.strftime("%Y-%m-%d %H:%M UTC")
    sections: list[tuple[str, str, str]] = []
    sep = esc(t("model_card.sep", lang))

    # ------------------------------------------------------------ summary
    summary = [_kpis(data, lang)]
    if v is not None:
        summary.append(f'<div class="callout">{esc(recommendation_text(v, lang))}</div>')
        summary.append(f'<div class="callout info">{esc(sensitivity_text(v, lang))}</div>')
        summary.append(
            _p(tr("scenario_line", name=scenario_name(v.assumptions.name, lang)), "note")
        )
    else:
        summary.append(f'<div class="callout warn">{esc(tr("no_runs"))}</div>')
    sections.append(("summary", tr("summary"), "".join(summary)))

    # ------------------------------------------------------------ dataset
    sections.append(
        (
            "dataset",
            tr("dataset"),
            table_html(tables["dataset"], lang, currency)
            + f"<h3>{esc(tables['classes'].title)}</h3>"
            + table_html(tables["classes"], lang, currency),
        )
    )

    if data.runs:
        # ---------------------------------------------------- leaderboard
        sections.append(
            (
                "leaderboard",
                tr("leaderboard"),
                _p(tr("leaderboard_intro"))
                + figure_html(charts.accuracy_figure(data, lang), "chart-accuracy")
                + table_html(tables["leaderboard"], lang, currency),
            )
        )
        # ----------------------------------------------------------- cost
        if data.any_cost_measured:
            cost_body = _p(tr("cost_intro")) + figure_html(
                charts.cost_figure(data, lang), "chart-cost"
            )
            ratio = cheaper_than_llm(data)
            if ratio is not None:
                cost_body += _p(
                    tr("cheaper", model=ratio[0], ratio=f"{ratio[1]:,.0f}"), "callout info"
                )
            missing = [r.label for r in data.runs if not r.cost.measured]
            if missing:
                cost_body += (
                    f'<div class="callout warn">'
                    f"{esc(tr('cost_partly', runs=', '.join(missing)))}</div>"
                )
            cost_body += table_html(tables["cost"], lang, currency)
        else:
            cost_body = (
                f'<div class="callout warn" data-cost="not-measured">'
                f"{esc(tr('cost_not_measured', run=data.runs[0].run_id))}</div>"
            )
        sections.append(("cost", tr("cost"), cost_body))

    if v is not None and v.scorecards:
        # ------------------------------------------------ scores side by side
        sections.append(
            (
                "scores",
                tr("scores"),
                table_html(tables["scores"], lang, currency)
                + figure_html(charts.radar_figure(data, lang), "chart-radar")
                + _p(t("value.radar_unmeasured", lang), "note"),
            )
        )
        # ------------------------------------------------------- business
        formulas = "".join(
            f"<li><b>{esc(t(f'value.dim.{k}', lang))}</b>{sep}{esc(t(f'value.formula.{k}', lang))}"
            "</li>"
            for k in BUSINESS_DIMENSIONS
        )
        sections.append(
            (
                "business",
                t("value.business_title", lang),
                figure_html(charts.profit_figure(data, lang), "chart-profit")
                + _p(t("value.profit_caption", lang), "note")
                + table_html(tables["business"], lang, currency)
                + f"<h3>{esc(tr('formulas'))}</h3><ul>{formulas}</ul>",
            )
        )
        # --------------------------------------------------------- social
        formulas = "".join(
            f"<li><b>{esc(t(f'value.dim.{k}', lang))}</b>{sep}{esc(t(f'value.formula.{k}', lang))}"
            "</li>"
            for k in SOCIAL_DIMENSIONS
        )
        sections.append(
            (
                "social",
                t("value.social_title", lang),
                table_html(tables["social"], lang, currency)
                + f"<h3>{esc(tr('formulas'))}</h3><ul>{formulas}</ul>",
            )
        )
        # ---------------------------------------------------- assumptions
        a = v.assumptions
        sections.append(
            (
                "assumptions",
                tr("assumptions"),
                _p(
                    tr(
                        "assumptions_intro",
                        name=scenario_name(a.name, lang),
                        volume=format_number(a.annual_volume, lang),
                        wage=format_money(a.hourly_labour_cost, a.currency, lang, 2),
                    )
                )
                + table_html(tables["assumptions"], lang, currency),
            )
        )

    # ------------------------------------------------------------- per model
    if data.runs:
        parts = []
        per_class, groups = tables["per_class"], tables["groups"]
        for r in data.runs:
            parts.append(f'<h3 id="run-{r.run_id}">{esc(r.label)}</h3>')
            parts.append(
                table_html(
                    per_class, lang, currency, rows=[x for x in per_class.rows if x[0] == r.run_id]
                )
            )
            if r.groups:
                parts.append(
                    table_html(
                        groups, lang, currency, rows=[x for x in groups.rows if x[0] == r.run_id]
                    )
                )
            ev = r.evaluation
            parts.append(
                figure_html(
                    charts.confusion_figure(ev.classes, ev.confusion_matrix, lang),
                    f"chart-confusion-{r.run_id}",
                )
            )
            if cards and r.run_id in cards:
                parts.append(
                    f"<details><summary>{esc(tr('model_card'))}</summary>"
                    f"<pre>{esc(cards[r.run_id])}</pre></details>"
                )
        sections.append(("models", tr("models"), "".join(parts)))

    # ------------------------------------------------------------- about
    versions = "".join(
        f"<tr><td>{esc(k)}</td><td>{esc(val)}</td></tr>" for k, val in data.versions.items()
    )
    about = [
        _p(tr("about_method")),
        _p(tr("about_offline")),
        f"<h3>{esc(tr('versions'))}</h3><table><tbody>{versions}</tbody></table>",
    ]
    if data.skipped:
        about.append(
            "<ul>"
            + "".join(
                f"<li>{esc(tr('skipped', run=run_id, error=msg))}</li>"
                for run_id, msg in data.skipped
            )
            + "</ul>"
        )
    sections.append(("about", tr("about"), "".join(about)))

    toc = "".join(f'<a href="#{esc(a)}">{esc(title)}</a>' for a, title, _ in sections)
    body = "".join(_section(a, title, content) for a, title, content in sections)
    title = tr("title", name=localize_known(d.name, lang, "demos."))
    version = data.versions.get("slm-value-lab", "")
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{HTML_LANG.get(lang, "en")}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="SLM Value Lab {esc(version)}">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n"
        f'<script id="plotly-js">{plotly_js()}</script>\n'
        "</head>\n<body>\n<main>\n"
        f'<header class="top"><h1>{esc(title)}</h1>'
        f'<p class="meta">{esc(tr("generated", date=generated, id=d.id))}</p></header>\n'
        f'<nav class="toc">{toc}</nav>\n{body}\n'
        f"<footer>{esc(tr('footer', date=generated))}</footer>\n"
        "</main>\n</body>\n</html>\n"
    )


def build_report_html(store, dataset_id: str, lang: str = "en", **collect_args) -> str:
    """Collect, store the model cards, and render the report of ``dataset_id``."""
    from slm_core.report.model_card import model_card_markdown, model_cards

    data = collect_report(store, dataset_id, **collect_args)
    cards = {k: model_card_markdown(c, lang) for k, c in model_cards(store, data).items()}
    return render_html(data, lang, cards=cards)


def write_report(
    store,
    dataset_id: str,
    out_path: str | Path,
    lang: str = "en",
    *,
    assumptions=None,
    thresholds: Mapping[int, float] | None = None,
) -> Path:
    """Write the self-contained HTML report of ``dataset_id`` to ``out_path``; returns the path.

    Parameters
    ----------
    assumptions
        ``slm_core.value.Assumptions`` (defaults when None, like ``python -m slm_core value``).
    thresholds
        Per-run confidence thresholds to use instead of the best one.
    """
    from slm_core.errors import SlmError

    if lang not in HTML_LANG:
        raise SlmError(
            "errors.html.unknown_report_language_use", lang=lang, choices=", ".join(HTML_LANG)
        )
    dataset = store.find_dataset(dataset_id)
    text = build_report_html(
        store, dataset.id, lang, assumptions=assumptions, thresholds=thresholds
    )
    path = Path(out_path).expanduser()
    if path.is_dir():
        path = path / f"report_{dataset.id}_{lang}.html"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SlmError(
            "errors.html.cannot_write_report_pick", path=path, strerror=exc.strerror
        ) from None
    return path
