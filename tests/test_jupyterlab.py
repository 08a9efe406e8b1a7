"""The toy chapter in JupyterLab, as a reader opens it: `jupyter lab book/01_toy_model.py`.

A JupyterLab server on 127.0.0.1 at a free port (a token of its own, settings and workspaces in a temporary folder,
so only what the requirements install counts) serves a copy of the chapter (JupyterLab may autosave the notebook
through jupytext: the chapter itself is never touched). Debian's Chromium, through Playwright as in
tests/test_browser.py, opens the chapter's URL: it must open as a notebook (jupytext's viewer, the default that
./jupyter-config installs), not as a text file. It runs all cells at the smoke scale, moves the live radius slider
twice and sees the explorer's figure appear and change, then the server is shut down. Every wait is bounded.
"""
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_browser import BLANK_FRACTION, SCREENSHOTS, _blank_fraction, browser  # noqa: F401 - browser: a fixture

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "book/01_toy_model.py"
START_S, OPEN_S, RUN_S, REDRAW_S = 90, 90, 600, 60  # bounds: server start, notebook open, run all cells, redraw


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def jupyterlab(root: Path, home: Path):
    """A JupyterLab server serving `root` on 127.0.0.1; yields (base URL, token); always shut down."""
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "WEDGES_SCALE": "smoke", "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "PYTHONUNBUFFERED": "1"}
    log = open(home / "jupyterlab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         *(["--allow-root"] if os.geteuid() == 0 else [])],  # CI runs as root
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + START_S
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                log_text = (home / "jupyterlab.log").read_text()[-3000:]
                pytest.fail(f"JupyterLab did not start in {START_S} s:\n{log_text}")
            time.sleep(0.5)
        yield base, token
    finally:
        proc.send_signal(signal.SIGTERM)  # the server shuts its kernels down
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: the server and the kernels it started
            proc.wait(timeout=10)
        log.close()


def _slider(page, name: str):
    """The live ipywidgets slider labelled `name` in the notebook's outputs."""
    return page.locator(".jp-OutputArea-output .widget-slider").filter(
        has=page.locator(".widget-label", has_text=name)).first


def _set(page, name: str, value: str) -> None:
    """Type `value` into the slider's readout and commit it (as a reader edits the number beside a slider)."""
    readout = _slider(page, name).locator(".widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(value)
    page.keyboard.press("Enter")


def test_toy_chapter_opens_runs_and_its_slider_redraws_in_jupyterlab(tmp_path, browser):  # noqa: F811
    root, home = tmp_path / "root", tmp_path / "home"
    (root / "book").mkdir(parents=True)
    home.mkdir()
    shutil.copy(ROOT / CHAPTER, root / CHAPTER)
    with jupyterlab(root, home) as (base, token):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(OPEN_S * 1000)
        try:
            page.goto(f"{base}/lab/tree/{CHAPTER}?token={token}")
            panel = page.locator(".jp-NotebookPanel")
            panel.first.wait_for(state="visible")
            assert page.locator(".jp-FileEditor").count() == 0, f"{CHAPTER} opened as a text file, not a notebook"
            panel.locator(".jp-Cell").nth(10).wait_for(state="attached")  # the chapter's cells, not one text cell
            page.locator(".lm-MenuBar-item", has_text="Run").first.click()
            page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()
            _slider(page, "radius").wait_for(state="visible", timeout=RUN_S * 1000)
            errors = page.locator(".jp-OutputArea-output", has_text="Traceback")
            assert errors.count() == 0, "a cell raised: " + errors.first.text_content()[:500]
            live = page.locator(".jp-OutputArea-output .widget-output").last
            assert live.locator("img").count() == 0, "the live output area should start empty"
            pictures = []
            for value in ("5", "2"):
                _set(page, "radius", value)
                img = live.locator("img").first
                page.wait_for_function(
                    "([el, old]) => { const i = el.querySelector('img'); return i && i.complete && i.src !== old; }",
                    arg=[live.element_handle(), pictures[-1][0] if pictures else ""], timeout=REDRAW_S * 1000)
                img.scroll_into_view_if_needed()
                pictures.append((img.get_attribute("src"), img.screenshot()))
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "jupyterlab__01_toy_model.png"))
        finally:
            context.close()
    (first, shot1), (second, shot2) = pictures
    assert first != second and shot1 != shot2, "moving the radius slider did not change the figure"
    assert min(_blank_fraction(shot1), _blank_fraction(shot2)) >= BLANK_FRACTION, "a redrawn figure is blank"
