"""Drive the real dashboard in headless Chromium (Debian's ``chromium`` + playwright).

Shared by the browser test and ``benchmarks/bench_dashboard.py``: start ``streamlit run``
on a free loopback port with the given data/models/cache roots, visit pages, wait until
Streamlit has finished rendering, and report errors shown on the page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("STREETLENS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]
ERROR_SELECTOR = '[data-testid="stException"], [data-testid="stAlertContentError"]'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(env: dict[str, str], timeout: float = 60.0):
    """A dashboard server on 127.0.0.1; yields its base URL; always stopped after."""
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard/app.py"),
           "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    log = open(ROOT / ".pytest_cache" / f"streamlit-{port}.log", "w") if (ROOT / ".pytest_cache").is_dir() \
        else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("streamlit did not start in time")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


IDLE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app) return false;
  if (app.getAttribute('data-test-connection-state') !== 'CONNECTED') return false;
  if (app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  return document.querySelector('[data-testid="stSpinner"]') === null;
}"""


def wait_rendered(page, timeout: float = 60.0, after_action: bool = False) -> float:
    """Seconds until Streamlit has finished a script run and shows its result.

    Uses the state Streamlit itself publishes on ``stApp`` (``data-test-script-state`` is
    ``initial`` before the first run, ``running`` during one and ``notRunning`` after), so a
    page that has not started its run yet is never taken for a finished one. With
    ``after_action`` (a click or widget change just happened) it first waits, briefly, for the
    rerun to start."""
    start = time.perf_counter()
    if after_action:
        try:
            page.wait_for_function("""() => { const a = document.querySelector('[data-testid="stApp"]');
                return a && a.getAttribute('data-test-script-state') !== 'notRunning'; }""",
                                   timeout=3000, polling=10)
        except Exception:  # noqa: BLE001 - the rerun may have finished before the first poll
            pass
    while True:
        remaining = timeout - (time.perf_counter() - start)
        if remaining <= 0:
            raise TimeoutError("page did not finish rendering")
        page.wait_for_function(IDLE_JS, timeout=remaining * 1000, polling=20)
        done = time.perf_counter() - start
        time.sleep(0.15)  # still idle a moment later: not between two reruns
        if page.evaluate(IDLE_JS):
            return done


def page_links(page, base: str) -> list[str]:
    """URLs of every page in the sidebar navigation."""
    hrefs = page.eval_on_selector_all('[data-testid="stSidebarNav"] a', "els => els.map(e => e.href)")
    return sorted(set(hrefs)) or [base]


@contextmanager
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
