"""Naming a concept on the Portrait page in a real browser: a picked or typed name is
saved with the run and shown; a hostile name is refused in one line and nothing saved is
lost; two tabs naming concepts both land in the names file's history."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

from analysis.precompute import concept_views
from analysis.store import RunCache

_spec = importlib.util.spec_from_file_location("dash_browser", Path(__file__).with_name("browser.py"))
browser_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(browser_mod)


def _name(page, k: int, text: str) -> None:
    box = page.locator(f".st-key-typed_{k} input")
    for _ in range(3):  # the popover's button may take a moment to answer clicks
        page.locator(f".st-key-namebox_{k} button").first.click()
        try:
            box.wait_for(state="visible", timeout=5000)
            break
        except Exception:  # noqa: BLE001 - try again, the last wait below raises
            page.screenshot(path=str(Path(__file__).parents[2] / ".pytest_cache" / f"popover-{k}.png"))
    box.wait_for(state="visible", timeout=5000)
    box.fill(text)
    box.press("Tab")  # commit the text input before the click
    browser_mod.wait_rendered(page, after_action=True)
    page.locator(f".st-key-save_{k} button").click()
    browser_mod.wait_rendered(page, after_action=True)


def _titles(page) -> list[str]:
    """The cards' titles, without their rank."""
    return [re.sub(r"^\d+\. ", "", t) for t in page.locator("h4").all_inner_texts()]


def test_name_editing_in_two_tabs(analysed_run, tmp_path):
    run, cache, roots = analysed_run
    shutil.copytree(cache.root, tmp_path / cache.root.name)
    own = RunCache(tmp_path / cache.root.name)
    city = run.labels.classes[0]
    k = 0  # opened from a link, so its card shows whether or not it leads the portrait
    url_path = f"portrait?run={run.name}&city={city}&concept={k}"
    with browser_mod.streamlit_server({**roots, "STREETLENS_CACHE": str(tmp_path)}) as url, \
            browser_mod.browser() as b:
        one, two = b.new_page(viewport={"width": 1400, "height": 1000}), b.new_page(viewport={"width": 1400, "height": 1000})
        for page in (one, two):
            page.goto(f"{url}/{url_path}")
            browser_mod.wait_rendered(page)
        assert "automatic name" in page.locator('[data-testid="stMain"]').inner_text()

        _name(one, k, "utility <poles>")
        assert "utility <poles>" in _titles(one)  # shown as typed, not as HTML
        assert concept_views.concept_names(own)[k].name == "utility <poles>"
        before = own.names().path.read_bytes()

        _name(one, k, "x" * 10_000)  # refused in one line; what was saved stays
        errors = one.locator(browser_mod.ERROR_SELECTOR)
        assert errors.count() == 1 and "at most 60 characters" in errors.first.inner_text()
        assert own.names().path.read_bytes() == before

        _name(two, k, "wires")  # the second tab, opened before the first one's save
        one.reload()
        browser_mod.wait_rendered(one)
        assert "wires" in _titles(one) and "utility <poles>" not in _titles(one)
        history = json.loads(own.names().path.read_text())["history"]
        assert [h["name"] for h in history if h["concept"] == k] == ["utility <poles>", "wires"]
