"""Non-content properties: JPEG quality read back, letterbox, and predictability against
chance (a class given away by its size is caught; random properties are not)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from analysis.explain.shortcuts.properties import (PROPERTIES, file_properties, jpeg_quality,
                                                   letterbox_fraction, predictability)


@pytest.mark.parametrize("quality", [30, 75, 95])
def test_jpeg_quality_is_read_back(tmp_path, make_photo, quality):
    p = tmp_path / "a.jpg"
    make_photo(0, (96, 80)).save(p, "JPEG", quality=quality)
    with Image.open(p) as im:
        assert abs(jpeg_quality(im) - quality) <= 1
    with Image.open(p) as im:
        props = file_properties(p)
    assert props["width"] == 96 and props["height"] == 80 and props["exif"] == 0.0
    assert set(props) == set(PROPERTIES)


def test_png_has_no_jpeg_quality_and_letterbox_is_measured(tmp_path, make_photo):
    img = Image.new("RGB", (100, 100), (0, 0, 0))
    img.paste(make_photo(1, (100, 60)), (0, 20))
    assert letterbox_fraction(img) == pytest.approx(0.4, abs=0.03)
    p = tmp_path / "b.png"
    img.save(p)
    with Image.open(p) as im:
        assert np.isnan(jpeg_quality(im))


def test_a_class_given_away_by_its_size_is_predictable():
    rng = np.random.default_rng(0)
    n = 60
    labels = np.repeat([0, 1, 2], n // 3)
    t = pd.DataFrame({k: rng.random(n) for k in PROPERTIES})
    t["width"] = np.where(labels == 2, 256, 224)  # one city comes in another size
    r = predictability(t, labels, permutations=30)
    assert r["chance"] == pytest.approx(1 / 3)
    assert r["balanced_accuracy"] > 0.6 and r["p_value"] < 0.05
    assert r["by_property"][0][0] == "width"
    noise = predictability(pd.DataFrame({k: rng.random(n) for k in PROPERTIES}), labels, permutations=30)
    assert noise["balanced_accuracy"] < 0.55 and noise["p_value"] > 0.05
