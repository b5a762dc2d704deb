"""Each bad-input kind, made as a real file in the test."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from analysis.data.images import ImageRejected, load_clean, to_rgb, uniform_border_box


def png_with_header_only(path, width, height):
    """A tiny PNG whose header claims a huge image: the shape of a decompression bomb."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def test_good_jpeg_is_unchanged(tmp_path, make_photo):
    make_photo(1).save(tmp_path / "a.jpg", quality=90)
    clean = load_clean(tmp_path / "a.jpg")
    assert clean.image.mode == "RGB" and clean.image.size == (96, 80)
    assert not clean.changed and clean.crop_box is None


def test_truncated_jpeg_is_rejected(tmp_path, make_photo):
    make_photo(2, (200, 200)).save(tmp_path / "full.jpg", quality=95)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageRejected, match="truncated"):
        load_clean(tmp_path / "cut.jpg")


def test_text_file_named_jpg_is_not_an_image(tmp_path):
    (tmp_path / "notes.jpg").write_text("this is not a photo\n")
    with pytest.raises(ImageRejected, match="not an image"):
        load_clean(tmp_path / "notes.jpg")


def test_empty_file(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageRejected, match="empty"):
        load_clean(tmp_path / "empty.png")


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    Image.new("CMYK", (90, 90), (0, 255, 255, 0)).save(tmp_path / "c.jpg")  # pure red ink
    clean = load_clean(tmp_path / "c.jpg")
    assert clean.image.mode == "RGB" and clean.changed
    r, g, b = np.asarray(clean.image).reshape(-1, 3).mean(0)
    assert r > 200 and g < 60 and b < 60


def test_16bit_png_is_scaled_not_clipped(tmp_path):
    arr = np.zeros((80, 80), np.uint16)
    arr[:, :40] = 65535
    arr[:, 40:] = 32896  # 128 * 257
    Image.fromarray(arr).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    clean = load_clean(tmp_path / "deep.png", crop_borders=False)
    out = np.asarray(clean.image)
    assert out[0, 0].tolist() == [255, 255, 255] and out[0, 79].tolist() == [128, 128, 128]


def test_palette_with_transparency_and_rgba_composite_on_white():
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert to_rgb(rgba).getpixel((0, 0)) == (255, 255, 255)
    p = Image.new("P", (4, 4), 0)
    p.putpalette([0, 0, 255] + [0] * 765)
    p.info["transparency"] = 0
    assert to_rgb(p).getpixel((0, 0)) == (255, 255, 255)
    assert to_rgb(Image.new("L", (2, 2), 77)).getpixel((1, 1)) == (77, 77, 77)


def test_exif_orientation_is_applied(tmp_path, make_photo):
    img = make_photo(3, (120, 80))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    img.save(tmp_path / "rot.jpg", exif=exif.tobytes())
    clean = load_clean(tmp_path / "rot.jpg")
    assert clean.image.size == (80, 120) and clean.changed


def test_bomb_header_is_refused_before_decoding(tmp_path):
    png_with_header_only(tmp_path / "bomb.png", 40_000, 40_000)
    with pytest.raises(ImageRejected, match="decompression bomb"):
        load_clean(tmp_path / "bomb.png")


def test_pillow_bomb_guard_is_reported_too(tmp_path):
    png_with_header_only(tmp_path / "bomb.png", 40_000, 40_000)
    with pytest.raises(ImageRejected, match="decompression bomb"):
        load_clean(tmp_path / "bomb.png", max_pixels=10**12)  # our limit off: Pillow's guard


def test_too_small_is_rejected(tmp_path, make_photo):
    make_photo(4, (40, 300)).save(tmp_path / "thin.png")
    with pytest.raises(ImageRejected, match="too small: 40x300"):
        load_clean(tmp_path / "thin.png")


def test_letterbox_margins_are_cropped(tmp_path, make_photo):
    inner = make_photo(5, (120, 80))
    boxed = Image.new("RGB", (120, 120), (0, 0, 0))
    boxed.paste(inner, (0, 20))
    boxed.save(tmp_path / "letterbox.png")
    clean = load_clean(tmp_path / "letterbox.png")
    assert clean.crop_box == (0, 20, 120, 100)
    assert np.array_equal(np.asarray(clean.image), np.asarray(inner))


def test_uniform_picture_is_not_cropped_to_nothing():
    assert uniform_border_box(Image.new("RGB", (100, 100), (200, 200, 200))) is None
