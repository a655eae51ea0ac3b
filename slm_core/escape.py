"""One home for making user text safe where it is shown or written.

User text is anything the app did not write itself: dataset texts, labels, group and column
names, dataset and file names, scenario names, notes, model-card fields, an LLM's answers and
the prompts built from user text. Each place it goes has its own rule:

* :func:`html_text` — HTML (the report, ``st.html``): ``& < > " '`` become entities.
* :func:`md_text` — Markdown (Streamlit's ``st.markdown``/``caption``/alerts/titles/labels/
  metric values and the model cards): no raw HTML, no links or images (an image is a network
  request), no table cells and no Streamlit directives (``:red[...]``); a user's value also
  gets no emphasis, headings, lists or LaTeX, so the reader sees it as typed. A sentence the
  app wrote that quotes user text (the decision, an error) goes through ``exact=False``.
* :func:`md_code`, :func:`md_code_block` — text shown verbatim in Markdown (a URL, a prompt):
  a code span or block whose fence no backtick run inside can close.
* :func:`plotly_text` — names inside a Plotly figure (plotly.js reads some HTML tags there).
* :func:`spreadsheet_cell` — a CSV/XLSX cell a spreadsheet must not run as a formula (OWASP's
  advice on CSV injection: a leading ``'`` before ``= + - @``, tab or carriage return).
"""

from __future__ import annotations

import html
import math
import re
from typing import Any

__all__ = [
    "FORMULA_TRIGGERS",
    "html_text",
    "md_code",
    "md_code_block",
    "md_text",
    "plotly_text",
    "spreadsheet_cell",
]

# What makes Markdown live: links, images and Streamlit's directives ([ ]), table cells (|),
# and the backslash that would undo an escape (tags and <autolinks> become entities below).
_MD_LIVE = re.compile(r"([\\\[\]|])")
# Formatting a text shown exactly as typed must not get: code, emphasis, strikethrough,
# headings, LaTeX (Streamlit renders $...$), images' "!".
_MD_FORMAT = re.compile(r"([`*_~#$!])")
# What only means something at the start of a line: lists, quotes, setext headings, numbers.
_MD_LINE_START = re.compile(r"^([ \t]*)([-+=]|\d+)([.)]?)", re.M)
# Bare URLs that GFM turns into links by itself ("http://x", "www.x"): break the pattern.
_MD_AUTOLINK = re.compile(r"(?i)(?<=[a-z])(:)(?=//)|(?<=\bwww)(\.)")
_MD_TAGS = str.maketrans({"<": "&lt;", ">": "&gt;"})

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def _escape_line_start(m: re.Match[str]) -> str:
    indent, mark, dot = m.groups()
    if mark.isdigit():  # "1." or "1)" starts a numbered list; "1999 was" does not
        return f"{indent}{mark}\\{dot}" if dot else m.group(0)
    return f"{indent}\\{mark}{dot}"


def html_text(value: Any) -> str:
    """``value`` as HTML text, quotes included (it may end up inside an attribute)."""
    return html.escape("" if value is None else str(value), quote=True)


def md_text(value: Any, *, one_line: bool = True, exact: bool = True) -> str:
    """``value`` as Markdown in which nothing is live: no HTML, link, image, autolink, table
    cell or Streamlit directive.

    exact
        True (a user's value: a name, a label, a text): no formatting either (emphasis, code,
        headings, lists, LaTeX), so it shows exactly as typed. False (a sentence the app wrote
        that quotes user text, such as the decision): only what is live is escaped, so the
        sentence's own ``$``, ``#`` and ``_`` stay as they are.
    one_line
        Fold every run of whitespace (newlines too) into one space, so the text cannot start a
        block (a heading, a list, a table row) or break the line it sits in.
    """
    text = "" if value is None else str(value)
    if one_line:
        text = " ".join(text.split())
    text = _MD_LIVE.sub(r"\\\1", text)
    if exact:
        text = _MD_FORMAT.sub(r"\\\1", text).replace("&", "&amp;")
        text = _MD_LINE_START.sub(_escape_line_start, text)
    text = _MD_AUTOLINK.sub(lambda m: "\\" + (m.group(1) or m.group(2)), text)
    # Entities, not backslashes, for tags: inert even where a renderer allows raw HTML.
    return text.translate(_MD_TAGS)


def _fence_for(text: str, least: int) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(least, longest + 1)


def md_code(value: Any) -> str:
    """``value`` as an inline code span, shown verbatim (nothing acts inside a code span);
    whitespace folded to single spaces, as a span cannot hold a line break."""
    text = " ".join(("" if value is None else str(value)).split())
    fence = _fence_for(text, 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def md_code_block(text: str, info: str = "text") -> list[str]:
    """``text`` as the lines of a fenced code block that no backtick run inside can close."""
    fence = _fence_for(text, 3)
    return [fence + info, text, fence]


def plotly_text(value: Any) -> str:
    """A name for a Plotly figure (trace, axis category, hover): plotly.js reads ``<b>``,
    ``<a href>`` and a few more tags in text, so every tag is escaped and shown as typed."""
    return html.escape("" if value is None else str(value), quote=False)


def spreadsheet_cell(value: Any) -> Any:
    """A CSV/XLSX cell that no spreadsheet will evaluate; numbers stay numbers, None is empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return ""
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy scalar
        return spreadsheet_cell(value.item())
    text = str(value)
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text
