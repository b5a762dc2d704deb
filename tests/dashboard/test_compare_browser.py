"""A compare URL opens the pair in a real browser (the analysed run and a copy of it
under another name: the oracle is no difference and CKA 1)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

_spec = importlib.util.spec_from_file_location("dash_browser", Path(__file__).with_name("browser.py"))
browser_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(browser_mod)


def test_a_compare_url_reopens_the_pair(analysed_run, tmp_path):
    run, cache, roots = analysed_run
    models, caches = tmp_path / "models", tmp_path / "cache"
    for name in (run.name, "twin"):
        shutil.copytree(run.path, models / name)
        shutil.copytree(cache.root, caches / name)
    info = models / "twin" / run.files.info.name
    info.write_text(json.dumps({**json.loads(info.read_text()), "name": "twin"}))
    env = {**roots, "STREETLENS_MODELS": str(models), "STREETLENS_CACHE": str(caches)}
    with browser_mod.streamlit_server(env) as url, browser_mod.browser() as b:
        page = b.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/compare?a=twin&b={run.name}&split=all")
        browser_mod.wait_rendered(page, timeout=120)
        body = page.locator('[data-testid="stMain"]').inner_text()
        assert "A = twin" in body and f"B = {run.name}" in body
        assert "McNemar p = 1.000" in body and "not significant" in body
        assert page.locator(browser_mod.ERROR_SELECTOR).count() == 0
