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


def wait_rendered(page, timeout: float = 60.0) -> float:
    """Seconds until Streamlit has rendered and is idle: the app's main block exists and
    the "running" status widget has been gone for a moment."""
    start = time.perf_counter()
    page.wait_for_selector('[data-testid="stMain"], [data-testid="stAppViewContainer"]',
                           timeout=timeout * 1000)
    quiet_since = None
    while time.perf_counter() - start < timeout:
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0 or \
            page.locator('[data-testid="stSpinner"]').count() > 0
        has_content = page.locator('[data-testid="stMain"] [data-testid="stElementContainer"]').count() > 0
        now = time.perf_counter()
        if not running and has_content:
            if quiet_since is None:
                quiet_since = now
            elif now - quiet_since > 0.25:
                return quiet_since - start
        else:
            quiet_since = None
        time.sleep(0.05)
    raise TimeoutError("page did not finish rendering")


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
