"""`make run`'s launcher: the warm-up imports the app's modules and never fails the start."""

from __future__ import annotations

import subprocess
import sys
import threading

from ui import launch


def test_app_waits_for_nothing_when_not_started_by_the_launcher(monkeypatch):
    monkeypatch.setattr(launch, "_started", False)
    monkeypatch.setattr(launch, "_app_modules_ready", threading.Event())  # never set
    launch.wait_for_app_modules(timeout_s=30)  # returns at once: the event is not awaited


def test_the_warm_up_imports_the_app_modules_in_a_fresh_interpreter():
    code = (
        "import sys; from ui import launch; launch._started = True; launch.warm_app_modules(); "
        "launch.wait_for_app_modules(timeout_s=1); "
        "missing = [m for m in launch.APP_MODULES if m not in sys.modules]; "
        "assert not missing, missing; assert 'tensorflow' not in sys.modules; print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=launch.APP.parent, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_a_failing_warm_up_still_lets_the_app_run(monkeypatch):
    ready = threading.Event()
    monkeypatch.setattr(launch, "_app_modules_ready", ready)
    monkeypatch.setattr(launch, "_started", True)
    monkeypatch.setattr(launch, "APP_MODULES", ("slm_core.no_such_module",))
    launch.warm_app_modules()  # no exception: the script run meets the failure itself
    assert ready.is_set()
    launch.wait_for_app_modules(timeout_s=1)


def test_the_launcher_passes_streamlit_the_app_and_the_options(monkeypatch):
    seen = {}
    monkeypatch.setattr(launch, "_warm_once_serving", lambda: None)
    monkeypatch.setattr(launch, "_started", False)

    from streamlit.web import cli

    monkeypatch.setattr(cli, "main", lambda: seen.setdefault("argv", list(sys.argv)))
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    from streamlit.runtime.pages_manager import PagesManager

    # As in a fresh server: Streamlit has not yet decided how the app routes its pages.
    monkeypatch.setattr(PagesManager, "uses_pages_directory", None)
    launch.main(["--server.port", "8765"])
    assert seen["argv"] == ["streamlit", "run", str(launch.APP), "--server.port", "8765"]
    assert launch._started
    # app.py routes with st.navigation: a first request for /data runs app.py, not the page
    # alone under the legacy pages/ router (which ui.access.guard_page would have to rerun).
    PagesManager(str(launch.APP))
    assert PagesManager.uses_pages_directory is False
