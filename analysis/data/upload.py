"""A photo a user hands over (the dashboard's upload): the same checks as an import,
plus a size limit, before any model sees it."""

from __future__ import annotations

import tempfile
from pathlib import Path

from PIL import Image

from analysis.data.images import DEFAULT_MAX_PIXELS, ImageRejected, load_clean

MIN_SIDE = 16  # as `streetlens predict`


def load_upload(name: str, data: bytes, limit_mb: float, max_pixels: int = DEFAULT_MAX_PIXELS
                ) -> tuple[Image.Image, str]:
    """The cleaned picture and a note on what was done to it, or ``ImageRejected`` with one
    line (over the limit, corrupt, too small, a decompression bomb …)."""
    if len(data) > limit_mb * 1024 * 1024:
        raise ImageRejected(f"{len(data) / 1024 / 1024:.1f} MB is over the {limit_mb:g} MB upload limit; "
                            "resize or recompress the photo")
    suffix = Path(name).suffix.lower() or ".img"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        clean = load_clean(path, min_side=MIN_SIDE, max_pixels=max_pixels)
    w, h = clean.original_size
    note = f"{clean.source_format}, {w}×{h}"
    if clean.crop_box is not None:
        note += f", uniform borders cropped to {clean.image.width}×{clean.image.height}"
    return clean.image, note
