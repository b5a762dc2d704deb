"""Decode, check and normalise one image file.

Every file that enters a dataset goes through :func:`load_clean`: it is decoded fully
(so truncated files fail here, not in the middle of training), converted to 8-bit RGB
whatever its mode, turned upright by its EXIF orientation, and stripped of uniform
borders (letterbox margins, which the original study cropped by hand).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MIN_SIDE = 64
DEFAULT_MAX_PIXELS = 64_000_000  # 64 MP: larger than any street photo, far below a bomb
LOSSLESS_FORMATS = {"PNG", "BMP", "GIF", "TIFF"}


class ImageRejected(ValueError):
    """A file that cannot enter the dataset; the message says why in one line."""


@dataclass
class CleanImage:
    """A decoded, normalised image and what was done to it."""

    image: Image.Image  # RGB, 8 bit
    source_format: str
    original_size: tuple[int, int]
    crop_box: tuple[int, int, int, int] | None  # box kept from the upright image
    changed: bool  # False when the source bytes can be stored as they are


def to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB from any PIL mode (16-bit and float scaled, alpha composited on white)."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img).astype(np.float64)
        if mode.startswith("I;16"):
            scaled = arr / 257.0  # 0..65535 -> 0..255
        else:
            lo, hi = float(arr.min()), float(arr.max())
            if mode == "I" and lo >= 0 and hi <= 65535:
                scaled = arr / (257.0 if hi > 255 else 1.0)
            else:
                scaled = (arr - lo) / (hi - lo if hi > lo else 1.0) * 255.0
        gray = Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), "L")
        return gray.convert("RGB")
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        if img.mode == "RGB":
            return img
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


def uniform_border_box(
    img: Image.Image, tolerance: int = 10, coverage: float = 0.98, max_fraction: float = 0.35
) -> tuple[int, int, int, int] | None:
    """Box (left, top, right, bottom) without uniform margins, or None if there are none.

    A margin row/column is one where ``coverage`` of its pixels lie within ``tolerance``
    of the colour at that edge's corner. A side that is uniform for more than
    ``max_fraction`` is left alone, so a photo of a white wall is not cropped to nothing."""
    arr = np.asarray(img, dtype=np.int16)
    h, w = arr.shape[:2]

    def run(lines: np.ndarray, ref: np.ndarray, limit: int) -> int:
        for n in range(limit):
            close = np.abs(lines[n] - ref).max(axis=-1) <= tolerance
            if close.mean() < coverage:
                return n
        return 0  # uniform this far in: a plain picture (sky, wall), not a margin

    top = run(arr, arr[0, 0], int(h * max_fraction))
    bottom = run(arr[::-1], arr[-1, -1], int(h * max_fraction))
    left = run(arr.transpose(1, 0, 2), arr[0, 0], int(w * max_fraction))
    right = run(arr.transpose(1, 0, 2)[::-1], arr[-1, -1], int(w * max_fraction))
    # a margin of 1 px is usually compression noise, not a letterbox
    top, bottom, left, right = (v if v >= 2 else 0 for v in (top, bottom, left, right))
    if not (top or bottom or left or right):
        return None
    return (left, top, w - right, h - bottom)


def load_clean(
    path: Path,
    *,
    min_side: int = DEFAULT_MIN_SIDE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    crop_borders: bool = True,
) -> CleanImage:
    """Decode ``path`` fully and normalise it; raise :class:`ImageRejected` with a
    one-line reason for anything that should not enter a dataset."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImageRejected(f"unreadable file ({exc.strerror or exc})") from exc
    if not data:
        raise ImageRejected("empty file")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > max_pixels:
                raise ImageRejected(
                    f"refused: {w}x{h} = {w * h / 1e6:.0f} MP exceeds the "
                    f"{max_pixels / 1e6:.0f} MP limit (possible decompression bomb)"
                )
            fmt = img.format or "unknown"
            img.load()  # full decode: truncated data fails here
            orientation = img.getexif().get(0x0112, 1)  # EXIF Orientation
            upright = ImageOps.exif_transpose(img) if orientation not in (0, 1) else img
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected(f"refused as a possible decompression bomb ({exc})") from exc
        except UnidentifiedImageError as exc:
            raise ImageRejected("not an image (no known image format in the file)") from exc
        except ImageRejected:
            raise
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageRejected(f"corrupt or truncated image ({exc})") from exc
    rotated = upright is not img
    rgb = to_rgb(upright)
    box = uniform_border_box(rgb) if crop_borders else None
    if box is not None:
        rgb = rgb.crop(box)
    if min(rgb.size) < min_side:
        raise ImageRejected(
            f"too small: {rgb.size[0]}x{rgb.size[1]} (minimum side {min_side} px)"
        )
    changed = rotated or box is not None or upright.mode != "RGB" or fmt not in ("JPEG", "PNG")
    return CleanImage(rgb, fmt, (w, h), box, changed)
