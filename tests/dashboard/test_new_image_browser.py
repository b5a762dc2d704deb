"""New image page in headless Chromium: an upload unlike any training photo shows the
calibrated out-of-distribution warning above the prediction; a training image shows none."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

_spec = importlib.util.spec_from_file_location("dash_browser", Path(__file__).with_name("browser.py"))
browser_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(browser_mod)

WARNING = "looks unlike any training photo"
ALERT = '[data-testid="stAlert"]'


def upload(page, path: Path) -> None:
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
    browser_mod.wait_rendered(page, timeout=90, after_action=True)
    page.get_by_text("Prediction:", exact=False).first.wait_for(timeout=60_000)
    browser_mod.wait_rendered(page, timeout=90)


def test_warning_above_the_prediction_for_noise_and_none_for_a_training_photo(
        analysed_run, tiny_dataset, tmp_path):
    run, cache, roots = analysed_run
    noise = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(noise)
    samples = cache.samples().merge(cache.table("ood"), on="row")
    train = samples[samples["split"] == "train"].sort_values("score", kind="stable")
    photo = tiny_dataset.image_path(train.iloc[len(train) // 2]["path"])

    with browser_mod.streamlit_server(roots) as url, browser_mod.browser() as b:
        page = b.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/new-image?run={run.name}")
        browser_mod.wait_rendered(page)

        upload(page, noise)
        alerts = page.locator(ALERT).filter(has_text=WARNING)
        assert alerts.count() == 1
        assert page.locator(browser_mod.ERROR_SELECTOR).count() == 0
        warning_y = alerts.first.bounding_box()["y"]
        prediction = page.locator("h3").filter(has_text="Prediction:").first
        bars = page.locator('[data-testid="stPlotlyChart"]').first
        bars.wait_for(timeout=30_000)
        assert warning_y < prediction.bounding_box()["y"] < bars.bounding_box()["y"]
        assert "threshold" in alerts.first.inner_text()

        upload(page, photo)  # replaces the noise picture
        assert page.get_by_text(photo.name, exact=False).count() >= 1
        assert page.locator(ALERT).filter(has_text=WARNING).count() == 0
        assert page.get_by_text("Like the training photos", exact=False).count() == 1
        assert page.locator(browser_mod.ERROR_SELECTOR).count() == 0
