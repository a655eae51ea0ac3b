"""``make run``: ``streamlit run app.py``, the app's modules imported while the browser loads
and its pages routed by app.py from the server's first request on.

After the server starts listening, a browser spends about a second and a half loading the front
end before its session runs app.py, and the server's process is idle meanwhile. A cold first
run would then spend ~0.4 s importing the run store (SQLAlchemy) and the sidebar's modules.
Here a thread does those imports in the idle second, once the server is up (earlier, it would
slow the server's own start: both need the one interpreter lock), so the first page after a
start is interactive sooner: ~0.2-0.3 s of ~3 s on 2 shared cores (A/B, 6 starts each).
Page libraries (pandas: ~0.4 s) are not warmed: still importing when the first run starts,
they slowed it down more than they saved.

Only imports and the string catalogues are warmed: nothing is computed or opened early (an
unwritable ``SLM_HOME`` still fails on the page, with its message). App code and page code
must never import the same module from two threads at once (a circular import could then see
a half-initialised module): app.py calls :func:`wait_for_app_modules` before its first import
of our packages.

    python -m ui.launch [streamlit run options...]       # what `make run` runs
    python -m streamlit run app.py [options...]          # works too, only without the warm-up
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app.py"
# What app.py and the default page (Home) import on a first run, heaviest first.
APP_MODULES = (
    "slm_core.jobs",
    "ui.run_recovery",
    "ui.url_state",
    "ui.access",
    "ui.widgets",
    "slm_core.data.demo",
    "slm_core.dataset",
    "slm_core.llm",
    "slm_core.models.registry",
    "slm_core.models.names",
)
SERVER_UP_TIMEOUT_S = 60

_app_modules_ready = threading.Event()
_started = False


def warm_app_modules() -> None:
    """Import :data:`APP_MODULES` and read the string catalogues. A failure is left for the
    first script run to meet and report on the page: a warm-up never fails the start."""
    try:
        for name in APP_MODULES:
            importlib.import_module(name)
        from slm_core.i18n import LANGUAGES, catalogue

        for language in LANGUAGES:
            catalogue(language)
    except Exception:  # reported by the script run that imports it again
        pass
    finally:
        _app_modules_ready.set()


def wait_for_app_modules(timeout_s: float = 30.0) -> None:
    """In app.py, before importing our packages: let a warm-up under way finish first.
    Returns at once when the app was not started by :func:`main` (tests, ``streamlit run``)."""
    if _started:
        _app_modules_ready.wait(timeout_s)


def _server_up() -> bool:
    from streamlit import runtime
    from streamlit.runtime.runtime import RuntimeState

    return runtime.exists() and runtime.get_instance().state is not RuntimeState.INITIAL


def _warm_once_serving() -> None:
    deadline = time.monotonic() + SERVER_UP_TIMEOUT_S
    while not _server_up() and time.monotonic() < deadline:
        time.sleep(0.02)
    warm_app_modules()


def _navigation_from_the_start() -> None:
    """Tell Streamlit at once that app.py routes the pages itself (``st.navigation``).

    Streamlit decides on the first session whether the app uses the legacy ``pages/`` router,
    from the folder's existence alone, and keeps that until app.py first calls
    ``st.navigation``. A server whose first request asks for /data (a reload, a bookmark) would
    run pages/data.py alone, without app.py, and ``ui.access.guard_page`` then has to rerun it
    through app.py: ~0.4 s more on that first page. app.py always routes with
    ``st.navigation``, so the answer is known before the server starts. ``streamlit run
    app.py`` without this keeps that fallback.
    """
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False


def main(argv: list[str] | None = None) -> None:
    global _started
    from streamlit.web import cli

    _started = True
    _navigation_from_the_start()
    threading.Thread(target=_warm_once_serving, name="slm-warm-imports", daemon=True).start()
    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    cli.main()


if __name__ == "__main__":
    # `python -m ui.launch` runs this file as __main__; app.py imports ui.launch, a second
    # module object. Start from that one, so app.py sees that a warm-up was started.
    from ui import launch

    launch.main()
