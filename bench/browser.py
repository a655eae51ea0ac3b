"""Debian's Chromium driven by Playwright, as the page bench and the browser tests launch it.

Imported by ``bench/pages.py`` (``from browser import ...``, this folder being the script's)
and by ``tests/test_browser.py`` (``from bench.browser import ...``, from the repository root).
Playwright's own browser download cannot work offline, hence the system Chromium.
"""

from __future__ import annotations

import socket

CHROMIUM = "/usr/bin/chromium"
# Without the networking flags Chromium keeps trying hosts this machine cannot reach.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A Streamlit page whose script has run to its end.
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def launch(playwright):
    """The headless Chromium of ``playwright`` (a ``sync_playwright()`` context)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now, for a ``streamlit run`` to listen on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
