"""Thumbnails for the Curate grid and the other pages (``dashboard.state.thumbnail_bytes``):
large crawled JPEGs are decoded at reduced scale (``Image.draft``) yet give the same
thumbnail size as a full decode, turned upright by their EXIF orientation."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps, JpegImagePlugin

from dashboard import state

RED, GREEN, BLUE, WHITE = (220, 30, 30), (30, 200, 30), (30, 30, 220), (250, 250, 250)


def quadrants(width: int, height: int) -> Image.Image:
    """Top-left red, top-right green, bottom-left blue, bottom-right white."""
    arr = np.empty((height, width, 3), np.uint8)
    h2, w2 = height // 2, width // 2
    arr[:h2, :w2], arr[:h2, w2:], arr[h2:, :w2], arr[h2:, w2:] = RED, GREEN, BLUE, WHITE
    return Image.fromarray(arr)


def full_decode_thumbnail(path, size: int, upright: bool = False) -> Image.Image:
    """The reference: the whole image decoded, then ``Image.thumbnail`` (what
    ``thumbnail_bytes`` did before it used ``draft``)."""
    with Image.open(path) as im:
        im.load()
        im = (ImageOps.exif_transpose(im) if upright else im).convert("RGB")
        im.thumbnail((size, size))
        return im


def decode(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    assert im.format == "JPEG"
    return im.convert("RGB")


def colour_at(im: Image.Image, fx: float, fy: float) -> np.ndarray:
    return np.asarray(im, np.int16)[int(fy * im.height), int(fx * im.width)]


def assert_colour(im, fx, fy, expected):
    assert np.abs(colour_at(im, fx, fy) - expected).max() <= 12, (fx, fy, colour_at(im, fx, fy))


@pytest.fixture(scope="module")
def big_jpeg(tmp_path_factory):
    path = tmp_path_factory.mktemp("thumbs") / "big.jpg"
    quadrants(4000, 3000).save(path, quality=90)
    return path


@pytest.mark.parametrize("size", [160, 480])
def test_large_jpeg_thumbnail_has_the_full_decode_size_and_content(big_jpeg, size):
    thumb = decode(state.make_thumbnail(big_jpeg, size))
    ref = full_decode_thumbnail(big_jpeg, size)
    assert thumb.size == ref.size == (size, size * 3 // 4)
    assert np.abs(np.asarray(thumb, float) - np.asarray(ref, float)).mean() < 4
    for (fx, fy), colour in {(0.25, 0.25): RED, (0.75, 0.25): GREEN,
                             (0.25, 0.75): BLUE, (0.75, 0.75): WHITE}.items():
        assert_colour(thumb, fx, fy, colour)


def test_cached_thumbnail_bytes_is_the_same_thumbnail(big_jpeg):
    state.thumbnail_bytes.clear()
    assert state.thumbnail_bytes(str(big_jpeg), 160) == state.make_thumbnail(big_jpeg, 160)


def test_large_jpeg_is_decoded_at_reduced_scale(big_jpeg, monkeypatch):
    real_draft = JpegImagePlugin.JpegImageFile.draft
    calls = []

    def spy(self, mode, size):
        result = real_draft(self, mode, size)
        calls.append((mode, size, self.size))  # the size the decoder will produce
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    thumb = decode(state.make_thumbnail(big_jpeg, 160))
    assert thumb.size == (160, 120)
    _, asked, decoded = calls[0]
    assert asked == (320, 320)  # Pillow's reducing gap: twice the box, then an exact resize
    assert decoded == (500, 375)  # 1/8 scale: 64 times fewer pixels than 4000×3000
    assert min(decoded) >= 160  # never below the thumbnail: no upscaling


def test_exif_orientation_is_applied(tmp_path):
    """A camera photo stored sideways with EXIF orientation 6 (display rotated 90° clockwise)
    comes out upright: portrait, with the stored left edge on top."""
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "sideways.jpg"
    quadrants(4000, 3000).save(path, quality=90, exif=exif.tobytes())
    thumb = decode(state.make_thumbnail(path, 160))
    ref = full_decode_thumbnail(path, 160, upright=True)
    assert thumb.size == ref.size == (120, 160)
    assert np.abs(np.asarray(thumb, float) - np.asarray(ref, float)).mean() < 4
    # rotated clockwise: stored bottom-left (blue) is now top-left, stored top-left (red) top-right
    assert_colour(thumb, 0.25, 0.25, BLUE)
    assert_colour(thumb, 0.75, 0.25, RED)
    assert_colour(thumb, 0.25, 0.75, WHITE)
    assert_colour(thumb, 0.75, 0.75, GREEN)


@pytest.mark.parametrize("width,height,fmt", [
    (4001, 2999, "JPEG"),  # odd sizes: draft rounds up, the result must not
    (1279, 1279, "JPEG"),
    (161, 1000, "JPEG"),
    (100, 80, "JPEG"),  # smaller than the thumbnail: kept as it is
    (1234, 567, "PNG"),  # not a JPEG: no draft, as before
])
def test_thumbnail_size_matches_a_full_decode(tmp_path, width, height, fmt):
    path = tmp_path / f"x.{fmt.lower()}"
    quadrants(width, height).save(path, fmt)
    for size in (160, 200):
        thumb = decode(state.make_thumbnail(path, size))
        assert thumb.size == full_decode_thumbnail(path, size).size
        assert max(thumb.size) == min(size, max(width, height))
