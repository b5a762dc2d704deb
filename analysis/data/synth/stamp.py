"""A planted shortcut for testing the shortcut finder: a fixed stamp (a small logo in one
corner) on every picture of one city — what a watermark or a photographer's mark is in
crawled data. Off by default; ``streetlens data synth --stamp CITY[:CORNER]``.

The stamp is not a cue: it is not annotated, and it covers whatever the street had there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from analysis.store import atomic_path

CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")


@dataclass(frozen=True)
class Stamp:
    city: str
    corner: str = "bottom-right"
    fraction: float = 0.16  # of the picture's side

    def __post_init__(self) -> None:
        if self.corner not in CORNERS:
            raise ValueError(f"stamp corner must be one of {', '.join(CORNERS)}, not {self.corner!r}")

    @classmethod
    def parse(cls, text: str) -> "Stamp":
        """``CITY`` or ``CITY:CORNER``."""
        city, _, corner = text.partition(":")
        return cls(city.strip(), corner.strip() or "bottom-right")


def draw_stamp(img: Image.Image, stamp: Stamp) -> Image.Image:
    """``img`` with the stamp: a white badge with a dark ring and bar (a logo), always the
    same, in the same corner."""
    out = img.convert("RGB").copy()
    s = max(6, round(stamp.fraction * min(out.size)))
    m = max(1, s // 8)
    x = m if "left" in stamp.corner else out.width - s - m
    y = m if "top" in stamp.corner else out.height - s - m
    d = ImageDraw.Draw(out)
    d.rectangle([x, y, x + s - 1, y + s - 1], fill=(250, 250, 250))
    d.ellipse([x + s // 6, y + s // 6, x + s - 1 - s // 6, y + s - 1 - s // 6], outline=(20, 20, 120),
              width=max(1, s // 8))
    d.rectangle([x + s // 3, y + s // 2 - max(1, s // 12), x + s - 1 - s // 3, y + s // 2 + max(1, s // 12)],
                fill=(200, 20, 20))
    return out


def stamp_files(paths: list[Path], stamp: Stamp) -> None:
    """Stamp the picture files in place (atomically, as PNG)."""
    for p in paths:
        with Image.open(p) as im:
            stamped = draw_stamp(im, stamp)
        with atomic_path(p) as tmp:
            stamped.save(tmp, "PNG", compress_level=1)  # as the streets are saved: no size shortcut
