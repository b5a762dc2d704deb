"""An uploaded photo: the size limit first, then the import's checks."""

import io

import numpy as np
import pytest
from PIL import Image

from analysis.data.images import ImageRejected
from analysis.data.upload import load_upload


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_size_limit_is_checked_before_decoding():
    with pytest.raises(ImageRejected, match="over the 1 MB upload limit"):
        load_upload("big.png", b"\0" * (1024 * 1024 + 1), limit_mb=1)
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 255, (56, 64, 3), dtype=np.uint8))
    img, note = load_upload("ok.png", png_bytes(photo), limit_mb=1)
    assert img.size == (64, 56) and note.startswith("PNG, 64×56")


def test_uniform_borders_are_cropped_and_said():
    rng = np.random.default_rng(1)
    a = np.zeros((80, 96, 3), np.uint8)  # a black letterbox around a noisy picture
    a[10:70] = rng.integers(40, 255, (60, 96, 3), dtype=np.uint8)
    img, note = load_upload("boxed.png", png_bytes(Image.fromarray(a)), limit_mb=5)
    assert img.size == (96, 60) and "uniform borders cropped to 96×60" in note


def test_a_broken_file_is_one_line():
    with pytest.raises(ImageRejected) as err:
        load_upload("broken.jpg", b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 20, limit_mb=5)
    assert "\n" not in str(err.value)
