"""Drawing primitives that keep a per-pixel *owner* layer beside the picture.

Every primitive paints the same pixels twice: the colour into the RGB picture and the id
of the cue being drawn (0 for unannotated clutter) into an 8-bit owner layer. Whatever is
drawn later overwrites both, so at the end ``owner == id`` is exactly the set of pixels a
cue still occupies after occlusion -- no mask bookkeeping by hand, no chance to forget a
subtraction. All shapes are aliased (PIL never antialiases these calls), so picture and
owner layer agree pixel for pixel.

Geometry is given in *unit* coordinates (0..1 across the image, y down) and converted at
draw time, so a scene is the same scene at any output size.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Iterator, Sequence

from PIL import Image, ImageDraw

Color = tuple[int, int, int]
Point = tuple[float, float]

MAX_CUES = 255  # the owner layer is 8-bit; id 0 means "no cue"


class Canvas:
    """An RGB picture plus its owner layer; draw cues inside :meth:`cue`."""

    def __init__(self, background: Image.Image, omit: Sequence[int] = (), debug: bool = False):
        self.size = background.width
        self.image = background
        self.owner = Image.new("L", background.size, 0)
        self._rgb = ImageDraw.Draw(self.image)
        self._own = ImageDraw.Draw(self.owner)
        self._id = 0
        self._skip = False
        self._owner_dirty = False  # until a cue is drawn, clutter need not write zeros
        self._omit = frozenset(omit)
        self._debug = debug
        self.cues: list[tuple[str, tuple[str, ...]]] = []  # index = owner id - 1

    @contextmanager
    def cue(self, kind: str, classes: tuple[str, ...]) -> Iterator[int]:
        """Attribute everything drawn inside to a new cue instance. With its id in
        ``omit`` the drawing is skipped but the caller's random draws still happen, so the
        rest of the scene is identical -- that is what lets tests check masks against
        actual pixel changes."""
        if self._id:
            raise RuntimeError("cues do not nest")
        if len(self.cues) >= MAX_CUES:
            raise RuntimeError(f"more than {MAX_CUES} cues in one image")
        self.cues.append((kind, tuple(classes)))
        self._id = len(self.cues)
        self._skip = self._id in self._omit
        self._owner_dirty = True
        try:
            yield self._id
        finally:
            self._id = 0
            self._skip = False

    # -- unit -> pixel -------------------------------------------------------------
    def px(self, v: float) -> int:
        return round(v * self.size)

    def width(self, w: float) -> int:
        """A line width in pixels, never thinner than one pixel."""
        return max(1, round(w * self.size))

    def _pts(self, pts: Sequence[Point]) -> list[tuple[float, float]]:
        s = self.size
        return [(x * s, y * s) for x, y in pts]

    def _paint(self, method: str, xy, colour: Color, key: str = "fill", **kw) -> None:
        if self._skip:
            return
        if self._debug and self._id:
            colour = debug_colour(self._id)
        getattr(self._rgb, method)(xy, **{key: colour}, **kw)
        if self._owner_dirty:
            getattr(self._own, method)(xy, **{key: self._id}, **kw)

    # -- primitives ----------------------------------------------------------------
    def rect(self, x0: float, y0: float, x1: float, y1: float, fill: Color) -> None:
        """Fill [x0, x1) x [y0, y1); a positive extent is at least one pixel."""
        if x1 <= x0 or y1 <= y0:
            return
        a, b = self.px(x0), self.px(y0)
        c, d = max(a, self.px(x1) - 1), max(b, self.px(y1) - 1)
        self._paint("rectangle", [a, b, c, d], fill)

    def ellipse(self, x0: float, y0: float, x1: float, y1: float, fill: Color) -> None:
        if x1 <= x0 or y1 <= y0:
            return
        a, b = self.px(x0), self.px(y0)
        c, d = max(a, self.px(x1) - 1), max(b, self.px(y1) - 1)
        self._paint("ellipse", [a, b, c, d], fill)

    def poly(self, pts: Sequence[Point], fill: Color) -> None:
        if len(pts) >= 3:
            self._paint("polygon", self._pts(pts), fill)

    def line(self, pts: Sequence[Point], fill: Color, width: float = 0.0) -> None:
        """A polyline; ``width`` in unit coordinates (0 gives one pixel)."""
        if len(pts) >= 2:
            self._paint("line", self._pts(pts), fill, width=self.width(width))

    def ring(self, x0: float, y0: float, x1: float, y1: float, fill: Color) -> None:
        """A one-pixel ellipse outline (hangul circles, wheel rims)."""
        if x1 <= x0 or y1 <= y0:
            return
        a, b = self.px(x0), self.px(y0)
        c, d = max(a, self.px(x1) - 1), max(b, self.px(y1) - 1)
        self._paint("ellipse", [a, b, c, d], fill, key="outline")


def debug_colour(cue_id: int) -> Color:
    """The flat colour cue ``cue_id`` is painted in with ``debug``: saturated magenta
    shades no scenery uses, so painted pixels can be compared with the masks."""
    return (255, 0, cue_id)


# -- colour helpers --------------------------------------------------------------------
def clamp(v: float) -> int:
    return 0 if v < 0 else 255 if v > 255 else int(v)


def jitter(rng: random.Random, c: Color, amount: int) -> Color:
    """Shift a colour by a common brightness offset plus a smaller per-channel one, so
    jittered walls stay the same hue family."""
    common = rng.randint(-amount, amount)
    half = amount // 2
    return tuple(clamp(v + common + rng.randint(-half, half)) for v in c)  # type: ignore


def shade(c: Color, f: float) -> Color:
    return tuple(clamp(v * f) for v in c)  # type: ignore


def mix(a: Color, b: Color, t: float) -> Color:
    """``a`` moved the fraction ``t`` towards ``b`` (haze, distance, snow)."""
    return tuple(clamp(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore


def pick(rng: random.Random, options: Sequence, weights: Sequence[float] | None = None):
    """One element; ``rng.choices`` consumes one draw either way, keeping streams stable."""
    return rng.choices(options, weights=weights)[0]
