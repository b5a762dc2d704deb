"""Pure picture functions: maps over photos, colours, grids (tiny arrays, exact values)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from analysis.explain.gradcam import contrastive_map, display_map, gradcam_map
from dashboard.figures import images

JET_LOW, JET_HIGH = (0, 0, 128), (128, 0, 0)  # matplotlib's jet at 0 and 1 (dark blue, dark red)


@pytest.fixture
def photo():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)  # not square on purpose


def spot_map(h=7, w=7, y=2, x=5):
    m = np.zeros((h, w), np.float32)
    m[y, x] = 1.0
    return m


def test_overlay_shape_dtype_and_photo_untouched_at_zero_opacity(photo):
    out = images.overlay(photo, spot_map(), opacity=0.0)
    assert out.shape == photo.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, photo)


def test_overlay_colours_the_hottest_pixel_red_and_the_coldest_blue(photo):
    out = images.overlay(photo, spot_map(), opacity=1.0)  # colour only
    prepared = display_map(spot_map(), photo.shape[:2])
    hot = np.unravel_index(np.argmax(prepared), prepared.shape)
    cold = np.unravel_index(np.argmin(prepared), prepared.shape)
    assert tuple(out[hot]) == pytest.approx(JET_HIGH, abs=3)
    assert tuple(out[cold]) == JET_LOW
    # the hot spot sits where the map's spot is (row 2 of 7, column 5 of 7), scaled to 30 × 40
    assert abs(hot[0] - (2 + 0.5) * 30 / 7) <= 2.5 and abs(hot[1] - (5 + 0.5) * 40 / 7) <= 3


def test_overlay_blend_is_a_weighted_mean(photo):
    half = images.overlay(photo, spot_map(), opacity=0.5).astype(int)
    full = images.overlay(photo, spot_map(), opacity=1.0).astype(int)
    np.testing.assert_allclose(half, (photo.astype(int) + full) / 2, atol=1.01)


def test_mask_mode_leaves_cold_regions_as_the_photo(photo):
    out = images.overlay(photo, spot_map(), opacity=0.9, mode="mask")
    prepared = display_map(spot_map(), photo.shape[:2])
    cold = prepared < 1e-6
    assert cold.any()
    np.testing.assert_array_equal(out[cold], photo[cold])
    with pytest.raises(ValueError):
        images.overlay(photo, spot_map(), mode="paint")


def test_gradcam_and_contrastive_overlays_use_the_stored_raw_maps(photo):
    rng = np.random.default_rng(1)
    raw = rng.normal(size=(4, 7, 7)).astype(np.float16)  # as one image of the cams artefact
    np.testing.assert_array_equal(images.gradcam_overlay(photo, raw, 2, 0.6),
                                  images.overlay(photo, gradcam_map(raw.astype(np.float32), 2), 0.6))
    np.testing.assert_array_equal(
        images.contrastive_overlay(photo, raw, 0, 3, 0.6),
        images.overlay(photo, contrastive_map(raw.astype(np.float32), 0, 3), 0.6))
    # "why a rather than a" has no evidence: an all-zero map, coloured as the lowest value
    flat = images.contrastive_overlay(photo, raw, 1, 1, opacity=1.0)
    assert (flat.reshape(-1, 3) == JET_LOW).all()


def test_signed_overlay_red_for_blue_against_photo_where_zero(photo):
    m = np.zeros((30, 40), np.float32)
    m[5, 5], m[20, 30] = 1.0, -1.0
    out = images.signed_overlay(photo, m, opacity=1.0, percentile=100)
    r, g, b = out[5, 5].astype(int)
    assert r > 100 and r > b + 50  # RdBu_r: red end
    r, g, b = out[20, 30].astype(int)
    assert b > 50 and b > r + 30  # blue end
    np.testing.assert_array_equal(out[0, 0], photo[0, 0])
    assert images.scale_signed(np.zeros((3, 3))).max() == 0


def test_map_image_signed_zero_is_white_and_magnitude_zero_is_black():
    m = np.zeros((5, 6), np.float32)
    m[1, 1] = 2.0
    signed = images.map_image(m, signed=True, percentile=100)
    assert signed.shape == (5, 6, 3) and min(signed[0, 0]) > 230  # RdBu_r's white middle
    mag = images.map_image(m, signed=False, percentile=100, size=(10, 12))
    assert mag.shape == (10, 12, 3) and mag[9, 0].max() < 10  # inferno's black


def test_groups_overlay_colours_each_pixel_by_its_strongest_group(photo):
    maps = np.zeros((2, 7, 7), np.float32)
    maps[0, :, :3] = 1.0
    maps[1, :, 4:] = 2.0
    out = images.groups_overlay(photo, maps, colors=[(255, 0, 0), (0, 0, 255)], opacity=1.0)
    assert tuple(out[15, 38]) == (0, 0, 255)  # group 1 is strongest on the right (full strength)
    left = out[15, 1].astype(int)
    assert left[0] > left[2]  # group 0's red on the left (weaker, so blended)
    with pytest.raises(ValueError):
        images.groups_overlay(photo, maps, colors=[(1, 2, 3)])
    np.testing.assert_array_equal(images.groups_overlay(photo, np.zeros((2, 7, 7))), photo)


def test_tint_overlay_tints_where_the_map_is_hot(photo):
    out = images.tint_overlay(photo, spot_map(), color=(0, 255, 0), opacity=1.0, dim=0.0)
    prepared = display_map(spot_map(), photo.shape[:2])
    hot = np.unravel_index(np.argmax(prepared), prepared.shape)
    assert tuple(out[hot]) == pytest.approx((0, 255, 0), abs=3)
    cold = prepared < 1e-6
    np.testing.assert_array_equal(out[cold], photo[cold])


def test_colorize_and_colorbar():
    c = images.colorize(np.array([[0.0, 1.0, 2.0, -1.0]]))
    assert c.dtype == np.uint8 and c.shape == (1, 4, 3)
    assert tuple(c[0, 0]) == JET_LOW and tuple(c[0, 1]) == JET_HIGH
    assert tuple(c[0, 2]) == JET_HIGH and tuple(c[0, 3]) == JET_LOW  # clipped
    bar = images.colorbar("inferno", width=50, height=4)
    assert bar.shape == (4, 50, 3) and bar[0, 0].sum() < bar[0, -1].sum()
    with pytest.raises(ValueError):
        images.colorize(np.zeros((2, 2)), cmap="no-such-map")


def test_to_rgb_array_conversions(tmp_path):
    assert images.to_rgb_array(np.ones((2, 3))).shape == (2, 3, 3)
    assert images.to_rgb_array(np.ones((2, 3, 3)))[0, 0].tolist() == [255, 255, 255]
    assert images.to_rgb_array(np.zeros((2, 3, 4), np.uint8)).shape == (2, 3, 3)
    p = tmp_path / "x.png"
    Image.new("L", (5, 4), 7).save(p)
    assert images.to_rgb_array(p).shape == (4, 5, 3)
    with pytest.raises(ValueError):
        images.to_rgb_array(np.zeros((2, 3, 5)))


def test_image_grid_and_thumbnail_strip_sizes(photo):
    grid = images.image_grid([photo] * 5, ncols=3, cell=10, pad=2)
    assert grid.size == (3 * 10 + 4 * 2, 2 * 10 + 3 * 2)
    assert grid.getpixel((0, 0)) == (255, 255, 255)
    with_caps = images.image_grid([photo] * 2, cell=40, captions=["tokyo ✓", "a very long caption"],
                                  borders=[(255, 0, 0), None])
    assert with_caps.size[1] > 40 + 2 * 4
    assert with_caps.getpixel((4, 4)) == (255, 0, 0)  # the border of the first cell
    strip = images.thumbnail_strip([photo] * 4, size=20, pad=0)
    assert strip.size == (80, 20)
    assert images.image_grid([], cell=12).size == (12, 12)


def test_placeholder_icon_is_neutral_grey():
    icon = images.placeholder_icon(32)
    assert icon.size == (32, 32)
    assert icon.getpixel((16, 16)) == images.PLACEHOLDER_GREY
    labelled = np.asarray(images.placeholder_icon(48, "ch 12"))
    assert (labelled != np.array(images.PLACEHOLDER_GREY)).any()  # the text is drawn
