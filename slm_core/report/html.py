"""A self-contained HTML report that opens offline in any browser.

One file: styles inline, plotly.js inlined once, every chart's data inline, no fonts, images or
scripts from anywhere else. A Content-Security-Policy meta tag tells the browser to refuse any
network request, so even a library's built-in default URL (plotly.js has some for map tiles)
could not be fetched. Every piece of text that came from a user — dataset, label, group and
scenario names, notes, the model card's intended use, the LLM's model name, endpoint and
prompt — is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slm_core.escape import html_text
from slm_core.i18n import format_money, format_number, localize_known, t
from slm_core.report.collect import ReportData, collect_report
from slm_core.report.kpis import kpi_tiles
from slm_core.report.table_types import KINDS, Table, format_cell, score_css, visible
from slm_core.report.tables import build_tables

HTML_LANG = {"en": "en", "zh": "zh-CN"}
# The browser refuses every network request; inline scripts and styles only.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'; form-action 'none'; "
    "base-uri 'none'"
)
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

CSS = """
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --accent:#2563eb; --bg:#f9fafb;
  color-scheme: light; }
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
.meta, .note { color: var(--muted); font-size: .9rem; }
.tnote { margin: 2px 0 10px; }
nav.toc { background: var(--bg); border: 1px solid var(--line); border-radius: 8px;
  padding: 10px 16px; font-size: .92rem; }
nav.toc { display: flex; flex-wrap: wrap; gap: 4px 16px; }
nav.toc a { color: var(--accent); text-decoration: none; white-space: nowrap; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 12px;
  margin: 14px 0; }
.kpi { border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; background:
  var(--bg); }
.kpi .label { color: var(--muted); font-size: .85rem; }
.kpi .value { font-size: 1.55rem; font-weight: 650; margin: 2px 0; word-break: break-word; }
.kpi .knote { color: var(--muted); font-size: .8rem; }
.decision { border-left: 6px solid #16a34a; background: #f0fdf4; padding: 12px 18px;
  border-radius: 6px; margin: 14px 0 18px; }
.decision.manual { border-color: #d97706; background: #fffbeb; }
.decision .dlabel { color: var(--muted); font-size: .8rem; font-weight: 650;
  text-transform: uppercase; letter-spacing: .05em; }
.decision p { font-size: 1.22rem; line-height: 1.55; margin: 4px 0 0; }
.callout { border-left: 4px solid #16a34a; background: #f0fdf4; padding: 10px 14px;
  border-radius: 4px; margin: 10px 0; }
.callout.info { border-color: var(--accent); background: #eff6ff; }
.callout.warn { border-color: #d97706; background: #fffbeb; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: .88rem; margin: 6px 0 4px; width: auto; }
table.wide { width: 100%; }
th, td { border: 1px solid var(--line); padding: 4px 8px; vertical-align: top; min-width: 4.5em; }
th { background: var(--bg); text-align: left; font-weight: 600; }
td:first-child { min-width: 7em; }
table[data-table="assumptions"] td:nth-child(2) { overflow-wrap: anywhere; max-width: 16em; }
table[data-table="assumptions"] td:nth-child(4) { min-width: 9em; }
table[data-table="assumptions"] td:nth-child(5), table[data-table="assumptions"] td:last-child
  { min-width: 14em; overflow-wrap: anywhere; }
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


# HTML-escape any value (quotes too: it may end up inside an attribute).
esc = html_text


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
            style = f' style="{score_css(value)}"' if col.kind == "score" else ""
            cls = ' class="num"' if numeric or col.kind == "score" else ""
            cells.append(f"<td{cls}{style}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    wide = ' class="wide"' if len(idx) > 3 else ""
    # The note goes under the scroll box, so a wide table never clips it.
    note = f'<p class="note tnote">{esc(table.note)}</p>' if caption and table.note else ""
    return (
        f'<div class="scroll"><table{wide} data-table="{esc(table.key)}"><thead><tr>{head}'
        f"</tr></thead><tbody>{''.join(body)}</tbody></table></div>{note}"
    )


def figure_html(fig, div_id: str) -> str:
    """A Plotly figure as a div and an inline script (plotly.js itself is included once)."""
    if fig is None:
        return ""
    import plotly.io as pio

    from slm_core.report.figure_style import styled

    # Real colours and room for tick labels whatever template is the default where it is built.
    styled(fig)

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


@dataclass(frozen=True)
class _Ctx:
    """What every section of one rendering needs."""

    data: ReportData
    lang: str
    tables: Mapping[str, Table]
    currency: str

    def tr(self, key: str, **values: Any) -> str:
        return t(f"report_html.{key}", self.lang, **values)

    def table(self, key: str, **options: Any) -> str:
        return table_html(self.tables[key], self.lang, self.currency, **options)


Section = tuple[str, str, str]  # (anchor, title, body)


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{body}</section>'


def _p(text: str, cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f"<p{klass}>{esc(text)}</p>"


def _callout(text: str, cls: str = "", **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{esc(v)}"' for k, v in attrs.items())
    return f'<div class="callout {cls}"{extra}>{esc(text)}</div>'


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


def _formulas(keys, lang: str) -> str:
    sep = esc(t("model_card.sep", lang))
    items = "".join(
        f"<li><b>{esc(t(f'value.dim.{k}', lang))}</b>{sep}{esc(t(f'value.formula.{k}', lang))}</li>"
        for k in keys
    )
    return f"<h3>{esc(t('report_html.formulas', lang))}</h3><ul>{items}</ul>"


def decision_html(data: ReportData, lang: str) -> str:
    """The decision paragraph, the same sentence as on the Value and Present pages."""
    from slm_core.value.text import decision_text

    v = data.value
    if v is None:
        return _callout(t("report_html.no_runs", lang), "warn decision")
    cls = "decision manual" if v.decision.best == "manual" else "decision"
    return (
        f'<div class="{cls}" data-decision="{esc(v.decision.best)}">'
        f'<div class="dlabel">{esc(t("value.decision.title", lang))}</div>'
        f"<p>{esc(decision_text(v, lang))}</p></div>"
    )


def _summary(c: _Ctx) -> Section:
    from slm_core.report.value_charts import cost_volume_figure
    from slm_core.value.assumptions import scenario_name
    from slm_core.value.text import sensitivity_text

    v, lang = c.data.value, c.lang
    if v is None:
        return ("summary", c.tr("summary"), _callout(c.tr("no_runs"), "warn"))
    body = [
        _kpis(c.data, lang),
        _p(t("value.decision.how", lang), "note"),
        _callout(sensitivity_text(v, lang), "info"),
        _p(c.tr("scenario_line", name=scenario_name(v.assumptions.name, lang)), "note"),
        f"<h3>{esc(c.tables['options'].title)}</h3>",
        c.table("options"),
        figure_html(cost_volume_figure(v, lang), "chart-cost-volume"),
        _p(c.tr("cost_volume_caption"), "note"),
    ]
    return ("summary", c.tr("summary"), "".join(body))


def _dataset(c: _Ctx) -> Section:
    body = c.table("dataset") + f"<h3>{esc(c.tables['classes'].title)}</h3>" + c.table("classes")
    return ("dataset", c.tr("dataset"), body)


def _leaderboard(c: _Ctx) -> Section | None:
    from slm_core.report import charts

    if not c.data.runs:
        return None
    body = (
        _p(c.tr("leaderboard_intro"))
        + figure_html(charts.accuracy_figure(c.data, c.lang), "chart-accuracy")
        + c.table("leaderboard")
    )
    return ("leaderboard", c.tr("leaderboard"), body)


def _llm_figures_html(c: _Ctx) -> str:
    """The measurement's figures as a two-column table, each value in its own format."""
    from slm_core.report.llm_tables import llm_fields

    num = ' class="num"'
    rows = "".join(
        f"<tr><td>{esc(t(f'report_llm.{key}', c.lang))}</td>"
        f"<td{'' if kind == 'text' else num}>{esc(format_cell(value, kind, c.lang))}</td></tr>"
        for key, value, kind in llm_fields(c.data, c.lang)
    )
    head = "".join(f"<th>{esc(t(f'report_col.{k}', c.lang))}</th>" for k in ("field", "value"))
    return (
        f'<div class="scroll"><table data-table="llm"><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
        f'<p class="note tnote">{esc(c.tables["llm"].note)}</p>'
    )


def _llm(c: _Ctx, cards: Mapping[int, str] | None) -> Section:
    """The hosted LLM as measured on a sample of the test split: its figures, the small models
    on the same texts, and the exact prompt (user text: escaped, shown as plain text)."""
    f = c.data.llm
    if f is None:
        body = _callout(c.tr("llm_not_measured"), "info", data_llm="not-measured")
        return ("llm", c.tr("llm"), body)
    m = f.measurement
    low, high = m.accuracy_ci
    parts = [
        _p(
            c.tr(
                "llm_intro",
                llm=m.label,
                url=m.endpoint.base_url,
                n=format_number(m.n, c.lang),
                test=format_number(m.test_size, c.lang),
                accuracy=f"{m.accuracy:.1%}",
                low=f"{low:.1%}",
                high=f"{high:.1%}",
            )
        ),
    ]
    if m.stopped == "budget":
        parts.append(
            _callout(c.tr("llm_budget_stop", n=m.n, planned=m.n_planned), "warn", data_llm="budget")
        )
    parts.append(_llm_figures_html(c))
    compare = c.tables["llm_compare"]
    if compare.rows:
        parts.append(f"<h3>{esc(compare.title)}</h3>")
        parts.append(c.table("llm_compare"))
    parts.append(
        f"<h3>{esc(c.tr('llm_prompt'))}</h3>"
        + _p(c.tr("llm_prompt_note", mode=c.tr(f"llm_mode_{m.prompt.mode}")), "note")
        + f"<details open><summary>{esc(c.tr('llm_prompt_show'))}</summary>"
        f'<pre data-llm="prompt">{esc(m.example_prompt)}</pre></details>'
    )
    if cards and f.run_id in cards:
        parts.append(
            f"<details><summary>{esc(c.tr('model_card'))}</summary>"
            f"<pre>{esc(cards[f.run_id])}</pre></details>"
        )
    return ("llm", c.tr("llm"), "".join(parts))


def _cost(c: _Ctx) -> Section | None:
    from slm_core.report.figure_tables import serving_source

    data = c.data
    if not data.runs or data.value is None:
        return None
    sources = {r.run_id: serving_source(data, r.run_id) for r in data.runs}
    if not any(sources.values()):
        body = _callout(
            c.tr("cost_not_measured", run=data.runs[0].run_id), "warn", data_cost="not-measured"
        )
        return ("cost", c.tr("cost"), body)
    body = _p(c.tr("cost_intro"))
    missing = [r.label for r in data.runs if sources[r.run_id] != "bench"]
    if missing:
        body += _callout(c.tr("cost_partly", runs=", ".join(missing)), "warn", data_cost="partly")
    return ("cost", c.tr("cost"), body + c.table("cost"))


def _scores(c: _Ctx) -> Section | None:
    from slm_core.report.value_charts import radar_figure

    v = c.data.value
    if v is None or not v.models:
        return None
    body = (
        c.table("scores")
        + figure_html(radar_figure(v, c.lang), "chart-radar")
        + _p(c.tr("radar_caption"), "note")
    )
    return ("scores", c.tr("scores"), body)


def _business(c: _Ctx) -> Section | None:
    from slm_core.report.value_charts import profit_figure
    from slm_core.value.assumptions import BUSINESS_DIMENSIONS

    v = c.data.value
    if v is None or not v.models:
        return None
    body = (
        figure_html(profit_figure(v, c.lang), "chart-profit")
        + _p(c.tr("profit_caption"), "note")
        + c.table("business")
        + _formulas(BUSINESS_DIMENSIONS, c.lang)
    )
    return ("business", c.tables["business"].title, body)


def _social(c: _Ctx) -> Section | None:
    from slm_core.value.assumptions import SOCIAL_DIMENSIONS

    v = c.data.value
    if v is None or not v.models:
        return None
    body = c.table("social") + _formulas(SOCIAL_DIMENSIONS, c.lang)
    return ("social", c.tables["social"].title, body)


def _decision_details(c: _Ctx) -> Section | None:
    if c.data.value is None or not c.data.value.models:
        return None
    return ("decision", c.tr("decision"), _p(c.tr("decision_intro")) + c.table("decision"))


def _assumptions(c: _Ctx) -> Section | None:
    from slm_core.value.assumptions import scenario_name

    v = c.data.value
    if v is None:
        return None
    a = v.assumptions
    intro = c.tr(
        "assumptions_intro",
        name=scenario_name(a.name, c.lang),
        volume=format_number(a.annual_volume, c.lang),
        wage=format_money(a.hourly_labour_cost, a.currency, c.lang, 2),
    )
    return ("assumptions", c.tr("assumptions"), _p(intro) + c.table("assumptions"))


def _models(c: _Ctx, cards: Mapping[int, str] | None) -> Section | None:
    from slm_core.report import charts

    if not c.data.runs:
        return None
    parts = []
    per_class, groups = c.tables["per_class"], c.tables["groups"]
    for r in c.data.runs:
        parts.append(f'<h3 id="run-{r.run_id}">{esc(r.label)}</h3>')
        parts.append(c.table("per_class", rows=[x for x in per_class.rows if x[0] == r.run_id]))
        if r.groups:
            parts.append(c.table("groups", rows=[x for x in groups.rows if x[0] == r.run_id]))
        ev = r.evaluation
        parts.append(
            figure_html(
                charts.confusion_figure(ev.classes, ev.confusion_matrix, c.lang),
                f"chart-confusion-{r.run_id}",
            )
        )
        if cards and r.run_id in cards:
            parts.append(
                f"<details><summary>{esc(c.tr('model_card'))}</summary>"
                f"<pre>{esc(cards[r.run_id])}</pre></details>"
            )
    return ("models", c.tr("models"), "".join(parts))


def _about(c: _Ctx) -> Section:
    versions = "".join(
        f"<tr><td>{esc(k)}</td><td>{esc(val)}</td></tr>" for k, val in c.data.versions.items()
    )
    about = [
        _p(c.tr("about_method")),
        _p(c.tr("about_offline")),
        f"<h3>{esc(c.tr('versions'))}</h3><table><tbody>{versions}</tbody></table>",
    ]
    if c.data.skipped:
        items = "".join(
            f"<li>{esc(c.tr('skipped', run=run_id, error=msg))}</li>"
            for run_id, msg in c.data.skipped
        )
        about.append(f"<ul>{items}</ul>")
    return ("about", c.tr("about"), "".join(about))


def _document(c: _Ctx, sections: list[Section]) -> str:
    d = c.data.dataset
    generated = c.data.generated_at.strftime("%Y-%m-%d %H:%M UTC")
    toc = "".join(f'<a href="#{esc(a)}">{esc(title)}</a>' for a, title, _ in sections)
    body = "".join(_section(a, title, content) for a, title, content in sections)
    title = c.tr("title", name=localize_known(d.name, c.lang, "demos."))
    version = c.data.versions.get("slm-value-lab", "")
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{HTML_LANG.get(c.lang, "en")}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="color-scheme" content="light">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="SLM Value Lab {esc(version)}">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n"
        f'<script id="plotly-js">{plotly_js()}</script>\n'
        "</head>\n<body>\n<main>\n"
        f'<header class="top"><h1>{esc(title)}</h1>'
        f'<p class="meta">{esc(c.tr("generated", date=generated, id=d.id))}</p></header>\n'
        f"{decision_html(c.data, c.lang)}\n"
        f'<nav class="toc">{toc}</nav>\n{body}\n'
        f"<footer>{esc(c.tr('footer', date=generated))}</footer>\n"
        "</main>\n</body>\n</html>\n"
    )


def render_html(
    data: ReportData,
    lang: str = "en",
    *,
    tables: Mapping[str, Table] | None = None,
    cards: Mapping[int, str] | None = None,
) -> str:
    """The whole report as one HTML document in ``lang`` ('en' or 'zh'): the decision at the
    top, then the summary (tiles, options, cost against volume) and a section per topic.

    ``cards`` maps run id to that run's Markdown model card, shown folded under each model.
    """
    tables = tables if tables is not None else build_tables(data, lang)
    currency = data.value.assumptions.currency if data.value is not None else "USD"
    c = _Ctx(data, lang, tables, currency)
    sections = [
        _summary(c),
        _dataset(c),
        _leaderboard(c),
        _llm(c, cards),
        _cost(c),
        _scores(c),
        _business(c),
        _social(c),
        _decision_details(c),
        _assumptions(c),
        _models(c, cards),
        _about(c),
    ]
    return _document(c, [s for s in sections if s is not None])


def build_report_html(store, dataset_id: str, lang: str = "en", **collect_args) -> str:
    """Collect, store the model cards, and render the report of ``dataset_id``."""
    from slm_core.report.llm_card import llm_cards
    from slm_core.report.model_card import model_card_markdown, model_cards

    data = collect_report(store, dataset_id, **collect_args)
    cards = {k: model_card_markdown(c, lang) for k, c in model_cards(store, data).items()}
    cards.update(llm_cards(store, data, lang))
    return render_html(data, lang, cards=cards)


def write_report(
    store,
    dataset_id: str,
    out_path: str | Path,
    lang: str = "en",
    *,
    assumptions=None,
    overrides=None,
) -> Path:
    """Write the self-contained HTML report of ``dataset_id`` to ``out_path``; returns the path.

    Parameters
    ----------
    assumptions
        ``slm_core.value.Assumptions`` (defaults when None, like ``python -m slm_core value``).
    overrides
        ``slm_core.value.Overrides``: per-run thresholds and serving modes (None: the ones
        chosen on validation and the scenario's serving mode).
    """
    from slm_core.errors import SlmError

    if lang not in HTML_LANG:
        raise SlmError("errors.report.unknown_language", lang=lang, choices=", ".join(HTML_LANG))
    dataset = store.find_dataset(dataset_id)
    text = build_report_html(store, dataset.id, lang, assumptions=assumptions, overrides=overrides)
    path = Path(out_path).expanduser()
    if path.is_dir():
        path = path / f"report_{dataset.id}_{lang}.html"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SlmError("errors.report.cannot_write", path=path, strerror=exc.strerror) from None
    return path
