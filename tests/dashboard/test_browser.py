"""Every page of a running dashboard loads in headless Chromium without an error element,
and the Sample page's "Next" button shows another image in place."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("dash_browser", Path(__file__).with_name("browser.py"))
browser_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(browser_mod)


def _errors(page) -> str | None:
    errors = page.locator(browser_mod.ERROR_SELECTOR)
    return errors.first.inner_text()[:300] if errors.count() else None


def test_every_page_loads_without_errors(analysed_run):
    run, cache, roots = analysed_run
    with browser_mod.streamlit_server(roots) as url, browser_mod.browser() as b:
        page = b.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/?run={run.name}")
        browser_mod.wait_rendered(page)
        links = browser_mod.page_links(page, url)
        names = {link.rstrip("/").rsplit("/", 1)[-1] for link in links}
        assert {"sample", "errors", "atlas", "features"} <= names, f"navigation lacks pages: {links}"
        problems = {}
        for link in links:
            page.goto(f"{link}?run={run.name}")
            browser_mod.wait_rendered(page)
            if (err := _errors(page)) is not None:
                problems[link] = err
            assert page.locator("h1").count() >= 1, f"{link} shows no title"
        assert not problems, problems

        # the default page by its own address too (Streamlit serves it at "/" only)
        page.goto(f"{url}/overview?run={run.name}")
        browser_mod.wait_rendered(page)
        assert page.locator("h1").first.inner_text().startswith("Overview")
        assert "Page not found" not in page.locator("body").inner_text()
        assert _errors(page) is None, _errors(page)

        sample = next(link for link in links if link.rstrip("/").endswith("sample"))
        page.goto(f"{sample}?run={run.name}")
        browser_mod.wait_rendered(page)
        before = page.locator("h3:has(code)").first.inner_text()
        page.locator(".st-key-next button:visible").first.click()
        browser_mod.wait_rendered(page, after_action=True)
        after = page.locator("h3:has(code)").first.inner_text()
        assert after != before, f"Next did not change the image ({before!r})"
        assert _errors(page) is None, _errors(page)
