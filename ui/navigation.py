"""The explicit page list, the one place a page's file, title and icon are named.

``PAGES`` is the sidebar in order (app.py registers it with ``st.navigation``); every other
place names a page by its short name (``"train"``) through :func:`page_path` or
:func:`page_link`.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import streamlit as st


class PageEntry(NamedTuple):
    """One page: its file, the catalogue key of its title, and its icon."""

    path: str
    title: str
    icon: str

    @property
    def name(self) -> str:
        """The short name other code uses for the page: ``"pages/train.py"`` -> ``"train"``."""
        return Path(self.path).stem


def _page(name: str, icon: str) -> PageEntry:
    return PageEntry(f"pages/{name}.py", f"nav.{name}", icon)


# Order = sidebar order; the first page is the default.
PAGES: list[PageEntry] = [
    _page("home", ":material/home:"),
    _page("data", ":material/table:"),
    _page("train", ":material/model_training:"),
    _page("results", ":material/leaderboard:"),
    # Its title lives with the page's own strings (llm_page.toml), not in core.toml's [nav].
    PageEntry("pages/llm.py", "llm_page.nav_title", ":material/smart_toy:"),
    _page("playground", ":material/science:"),
    _page("cost", ":material/payments:"),
    _page("value", ":material/balance:"),
    _page("report", ":material/description:"),
    _page("present", ":material/co_present:"),
]


def page(name: str) -> PageEntry:
    """The page called ``name`` (``"train"``, ``"value"``, ...)."""
    for entry in PAGES:
        if entry.name == name:
            return entry
    raise KeyError(name)


def page_path(name: str) -> str:
    """The file of the page called ``name``, as ``st.switch_page``/``st.page_link`` want it."""
    return page(name).path


def page_link(name: str, label: str, icon: str | None = None, *, where=st) -> None:
    """A link to the page called ``name``, with the page's own icon unless ``icon`` is given.

    ``where`` is the container to draw in (a column, a container); the page body by default.
    """
    entry = page(name)
    where.page_link(entry.path, label=label, icon=icon or entry.icon)
