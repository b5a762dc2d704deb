"""Each city's mean Grad-CAM and mean photo (the ``class_means`` stage's arithmetic)."""

import numpy as np
import pandas as pd
from PIL import Image

from analysis.explain.class_means import mean_class_cams, mean_photo, photo_sample
from analysis.explain.scaling import normalise


def test_mean_class_cams_averages_normalised_maps_of_correct_images():
    rng = np.random.default_rng(0)
    cams = rng.normal(size=(6, 3, 4, 4)).astype(np.float16)
    y = np.array([0, 0, 0, 1, 1, 2])
    correct = np.array([True, True, False, False, False, True])
    maps, counts, used_all = mean_class_cams(cams, y, correct, 3, chunk=1)
    c = np.clip(cams.astype(np.float32), 0, None)
    np.testing.assert_allclose(maps[0], (normalise(c[0, 0]) + normalise(c[1, 0])) / 2, rtol=1e-5, atol=1e-6)
    # class 1 has no correct image: all its images are used instead, and that is reported
    np.testing.assert_allclose(maps[1], (normalise(c[3, 1]) + normalise(c[4, 1])) / 2, rtol=1e-5, atol=1e-6)
    assert counts.tolist() == [2, 2, 1] and used_all.tolist() == [False, True, False]
    # chunking the rows changes nothing
    np.testing.assert_array_equal(mean_class_cams(cams, y, correct, 3, chunk=512)[0], maps)


def test_mean_photo_is_the_pixel_mean_and_skips_unreadable_files(tmp_path):
    Image.new("RGB", (20, 10), (100, 0, 50)).save(tmp_path / "a.png")
    Image.new("RGB", (8, 8), (200, 50, 51)).save(tmp_path / "b.png")
    (tmp_path / "c.png").write_bytes(b"not a picture")
    m = mean_photo([tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"], size=6)
    assert m.shape == (6, 6, 3) and m.dtype == np.uint8
    assert m[0, 0].tolist() == [150, 25, 51]  # (50.5 rounds half up)
    assert (mean_photo([tmp_path / "c.png"], size=4) == 200).all()  # nothing readable: grey


def test_photo_sample_prefers_correct_images_and_is_seeded():
    s = pd.DataFrame({"class": ["a"] * 5 + ["b"] * 2, "correct": [True, True, False, True, False, False, False],
                      "path": [f"p{i}" for i in range(7)]})
    picked = photo_sample(s, "a", per_class=2)
    assert len(picked) == 2 and picked["correct"].all()
    assert picked["path"].tolist() == photo_sample(s, "a", per_class=2)["path"].tolist()
    assert sorted(photo_sample(s, "b", per_class=5)["path"]) == ["p5", "p6"]  # none correct: all
