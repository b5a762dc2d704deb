"""Composition: turn a city style and a seed into one street picture with its cues.

Drawing order is back to front -- sky, background cues, distant skyline, midground
towers, the front row of buildings and their decorations, road, sidewalk furniture,
overhead wires, far lane, near lane, foreground -- so later things occlude earlier ones
exactly as in a photo, and the owner layer (``draw.Canvas``) turns that occlusion into
exact masks. Lighting and noise are applied last and per pixel, so they never move a
cue's pixels.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Sequence

import numpy as np
from PIL import Image

from analysis.data.synth.cues import CUES
from analysis.data.synth.draw import Canvas, mix, pick
from analysis.data.synth.facades import Facade, paint_building
from analysis.data.synth.layout import Scene
from analysis.data.synth.street import (
    LAMPS,
    VEHICLES,
    car_colour,
    paint_clouds,
    paint_person,
    paint_road,
    paint_skyline,
    paint_vehicle,
    sky_colours,
    sky_image,
)
from analysis.data.synth.styles import CITY_STYLES, CUE_CLASSES, CityStyle, CueSpec


@dataclass
class Cue:
    """One annotated cue instance.

    ``box`` is (x0, y0, x1, y1) in pixels, half-open like a numpy slice: the cue's pixels
    are ``mask[y0:y1, x0:x1]``, so 0 <= x0 < x1 <= width. ``mask`` (bool, H x W) holds
    exactly the pixels the cue still shows after everything drawn later; ``box`` is its
    tight bounding box. ``classes`` are the cities the cue signals (several for shared
    cues such as street trees)."""

    kind: str
    classes: tuple[str, ...]
    box: tuple[int, int, int, int]
    mask: np.ndarray


@dataclass
class Rendered:
    image: Image.Image
    cues: list[Cue]
    ids: list[int]  # owner id of each returned cue, usable with ``omit``
    drawn: list[tuple[str, tuple[str, ...]]]  # every cue instance drawn, by owner id - 1


# time of day -> per-channel gain
LIGHTS: dict[str, tuple[float, float, float]] = {
    "noon": (1.0, 1.0, 1.0),
    "morning": (1.02, 1.0, 0.95),
    "golden": (1.1, 0.95, 0.78),
    "dusk": (0.72, 0.72, 0.86),
}


def _stream_seed(*parts) -> int:
    """A 63-bit seed from text parts: stable across runs and platforms (unlike hash())."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def image_seed(seed: int, city: str, index: int) -> int:
    """Seed of image ``index`` of ``city`` in a dataset generated with ``seed``; independent
    of how many images are generated."""
    return _stream_seed("streetlens-synth-image", seed, city, index)


BORROW_P = 1.0
"""Chance that a street's ordinary look (buildings, camera, sky, light, cars, lamps) is
drawn from a city of its group picked uniformly — its own included — instead of its own.
At 1.0 the look says which group a street is in but nothing about which city: real cities
share plenty of unremarkable architecture, and the only city evidence left is what the
annotation covers — the signature cues and the road markings (``CUE_CLASSES``) — so the
pointing game measures whether an explanation finds the evidence, not the annotation's
gaps. (At 0.35, 65 % of streets kept their own facade look: unannotated city evidence,
and half of Grad-CAM's pointing-game misses sat on facades.)"""
OWN_FIELDS = ("name", "group", "driving", "cues", "centre_line", "kerb_lines")


def borrowed_style(city: str, seed: int) -> CityStyle:
    """The style an image of ``city`` is drawn with: (``BORROW_P``) the look of a city of
    its group picked uniformly, with this city's cues and markings, else its own. A
    separate random stream, so the decision never shifts the rest of the picture's draws."""
    own = CITY_STYLES[city]
    rng = random.Random(_stream_seed("streetlens-synth-borrow", city, seed))
    if rng.random() >= BORROW_P:
        return own
    donors = sorted(c for c, s in CITY_STYLES.items() if s.group == own.group)
    donor = CITY_STYLES[donors[rng.randrange(len(donors))]]
    return own if donor is own else replace(donor, **{f: getattr(own, f) for f in OWN_FIELDS})


def render_street(city: str, seed: int, size: int = 224) -> tuple[Image.Image, list[Cue]]:
    """Draw one street of ``city``; deterministic for (city, seed, size)."""
    out = compose(city, seed, size)
    return out.image, out.cues


def compose(city: str, seed: int, size: int = 224, omit: Sequence[int] = (),
            debug: bool = False) -> Rendered:
    """Like :func:`render_street`, plus the owner ids. For checking the masks: cue
    instances whose ids are in ``omit`` are left out while every random draw still
    happens, so the rest of the picture is identical; ``debug`` paints every cue in its
    own flat colour (``draw.debug_colour``) and skips lighting and noise."""
    if city not in CITY_STYLES:
        raise ValueError(f"no demo style for {city!r}; choose from {', '.join(CITY_STYLES)}")
    if size < 16:
        raise ValueError(f"size must be at least 16 pixels, got {size}")
    style = borrowed_style(city, seed)
    rng = random.Random(_stream_seed("streetlens-synth", city, seed))

    plan: list[tuple[CueSpec, int]] = []
    for spec in style.cues:
        present = rng.random() < spec.p
        n = rng.randint(*spec.count)
        if present:
            plan.append((spec, n))
    snow = rng.random() < style.snow_p
    overcast = snow or rng.random() < style.overcast_p
    light = pick(rng, list(LIGHTS), style.light)
    m = rng.uniform(0.03, 0.042) * style.zoom
    base = rng.uniform(0.64, 0.77)
    kerb = base + rng.uniform(0.03, 0.05)
    near = rng.uniform(*style.near_kerb)
    centre = kerb + rng.uniform(0.4, 0.5) * (min(near, 1.0) - kerb)
    zenith, horizon = sky_colours(rng, *style.sky, overcast)
    if light == "golden" and not overcast:
        horizon = mix(horizon, (250, 205, 150), 0.5)
    cv = Canvas(sky_image(size, zenith, horizon, base), omit, debug)
    sc = Scene(cv, rng, style, m, base, kerb, centre, near, horizon, overcast, snow)

    def of(place: str) -> list[tuple[CueSpec, int]]:
        return [(s, n) for s, n in plan if CUES[s.kind].place == place]

    paint_clouds(sc)
    for spec, _ in of("background"):
        CUES[spec.kind].fn(sc, CUE_CLASSES[spec.kind])
    if rng.random() < style.skyline_p:
        paint_skyline(sc)
    for spec, n in of("midground"):
        for _ in range(n):
            CUES[spec.kind].fn(sc, CUE_CLASSES[spec.kind])
    facades = _front_row(sc, of("building"))
    _decorate(sc, facades, of("facade"))
    paint_road(sc)
    foreground = _furniture(sc, of("furniture"))
    for spec, _ in of("overhead"):
        CUES[spec.kind].fn(sc, CUE_CLASSES[spec.kind])
    _traffic(sc, of("vehicle"))
    for spec in foreground:
        x = rng.uniform(-0.06, 0.1) if rng.random() < 0.5 else rng.uniform(0.9, 1.06)
        CUES[spec.kind].fn(sc, x, 1.04, 1.8, CUE_CLASSES[spec.kind])

    image = cv.image if debug else _light(cv.image, style, light, overcast, rng)
    cues, ids = _masks(np.asarray(cv.owner), cv.cues)
    return Rendered(image, cues, ids, list(cv.cues))


# -- composition steps -----------------------------------------------------------------
def _front_row(sc: Scene, building_cues: list[tuple[CueSpec, int]]) -> list[Facade]:
    """Cue buildings (terraces kept together) shuffled among ordinary ones until the row
    spans the frame; gaps become low walls or hedges."""
    rng, st, m = sc.rng, sc.style, sc.m
    blocks: list[list[tuple[object, float]]] = []
    for spec, n in building_cues:
        p = CUES[spec.kind]
        widths = [rng.uniform(*p.size) for _ in range(n)]
        items = [(spec.kind, w) for w in widths]
        blocks.extend([items] if p.terrace else [[it] for it in items])
    x_start = -rng.uniform(0.0, 0.12)
    total = sum(w for block in blocks for _, w in block) * m
    while total < 1.0 - x_start + 0.02:
        b = pick(rng, st.buildings, [b.weight for b in st.buildings])
        w = rng.uniform(*b.width)
        blocks.append([(b, w)])
        total += w * m
    rng.shuffle(blocks)
    # a wide ordinary block early in the row must not push a cue building out of frame
    for _ in range(len(blocks)):
        start, late = x_start, None
        for i, block in enumerate(blocks):
            if i > 0 and isinstance(block[0][0], str) and start > 0.75:
                late = i
                break
            start += sum(w for _, w in block) * m
        if late is None:
            break
        blocks.insert(0, blocks.pop(late))
    facades = []
    x = x_start
    for block in blocks:
        for item, w in block:
            x1 = x + w * m
            if x < 0.98:
                if isinstance(item, str):
                    fac = CUES[item].fn(sc, x, x1, CUE_CLASSES[item])
                    fac.regular = False
                else:
                    fac = paint_building(sc, item, x, x1)
                facades.append(fac)
            x = x1
        if rng.random() < st.gap_p:
            gap = rng.uniform(2, 8) * m
            if x < 1.0:
                _gap_fill(sc, x, x + gap)
            x += gap
    return facades


def _gap_fill(sc: Scene, x0: float, x1: float) -> None:
    rng, m = sc.rng, sc.m
    if rng.random() < 0.5:
        col = (60, 105, 50)
        for k in range(int((x1 - x0) / m) + 1):
            cx = x0 + k * m
            sc.cv.ellipse(cx - 0.8 * m, sc.base - 1.6 * m, cx + 0.8 * m, sc.base + 0.2 * m,
                          tuple(int(c * rng.uniform(0.85, 1.1)) for c in col))
    else:
        sc.cv.rect(x0, sc.base - 1.8 * m, x1, sc.base, (150, 145, 138))
        sc.cv.rect(x0, sc.base - 1.9 * m, x1, sc.base - 1.7 * m, (120, 118, 112))


def _decorate(sc: Scene, facades: list[Facade], facade_cues: list[tuple[CueSpec, int]]) -> None:
    rng = sc.rng
    for spec, n in facade_cues:
        p = CUES[spec.kind]
        eligible = [f for f in facades if len(f.floors) >= p.min_floors
                    and (f.regular or not p.regular_only) and f.x1 > 0.04 and f.x0 < 0.96]
        for _ in range(n):
            if not eligible:
                break
            fac = rng.choice(eligible)
            if not p.reuse:
                eligible.remove(fac)
            p.fn(sc, fac, CUE_CLASSES[spec.kind])


def _furniture(sc: Scene, furniture_cues: list[tuple[CueSpec, int]]) -> list[CueSpec]:
    """Place sidewalk objects without overlapping footprints; trees go in first (behind).
    Returns the cue instances that stand in the near foreground instead."""
    rng, st, m = sc.rng, sc.style, sc.m
    scale = 1.05
    taken: list[tuple[float, float]] = []

    def place(width: float, tries: int = 10) -> float:
        x = 0.5
        for _ in range(tries):
            x = rng.uniform(0.03, 0.97)
            if all(x + width / 2 < a or x - width / 2 > b for a, b in taken):
                break
        taken.append((x - width / 2, x + width / 2))
        return x

    items: list[tuple[int, float, float, object]] = []  # (layer, x, y, what)
    foreground: list[CueSpec] = []
    lamp_x = rng.uniform(0, 0.3)
    while lamp_x < 1.0 and st.lamp != "none":
        taken.append((lamp_x - 0.4 * m, lamp_x + 0.4 * m))
        items.append((1, lamp_x, sc.sidewalk_y(), "lamp"))
        lamp_x += rng.uniform(14, 22) * m
    for spec, n in furniture_cues:
        p = CUES[spec.kind]
        for _ in range(n):
            if rng.random() < p.foreground_p:
                foreground.append(spec)
                continue
            x = place((p.size[0] + 0.8) * m * scale)
            y = sc.sidewalk_y() + rng.uniform(-0.25, 0.25) * (sc.kerb - sc.base)
            layer = 0 if "tree" in spec.kind else 2
            items.append((layer, x, y, spec))
    for _ in range(rng.randint(*st.pedestrians)):
        x = rng.uniform(0.02, 0.98)
        y = sc.sidewalk_y() + rng.uniform(-0.3, 0.35) * (sc.kerb - sc.base)
        items.append((3, x, y, "person"))
    for layer, x, y, what in sorted(items, key=lambda it: (it[0], it[2])):
        if what == "lamp":
            LAMPS[st.lamp](sc, x, y, scale)
        elif what == "person":
            paint_person(sc, x, y, scale)
        else:
            CUES[what.kind].fn(sc, x, y, scale, CUE_CLASSES[what.kind])
    return foreground


def _traffic(sc: Scene, vehicle_cues: list[tuple[CueSpec, int]]) -> None:
    """Two lanes; which way vehicles face follows the driving side (keep left: the lane
    nearer the camera drives leftwards)."""
    rng, st, m = sc.rng, sc.style, sc.m
    lanes: dict[str, list[tuple[object, float]]] = {"far": [], "near": []}
    for spec, n in vehicle_cues:
        for _ in range(n):
            lanes[pick(rng, ["far", "near"])].append((spec, CUES[spec.kind].size[0]))
    for lane in lanes.values():
        for _ in range(rng.randint(*st.traffic)):
            kind = pick(rng, st.car_kinds)
            lane.append((kind, VEHICLES[kind][0]))
    near_facing = 1 if st.driving == "right" else -1
    for name, scale, y, facing in (("far", 1.15, sc.far_lane_y(), -near_facing),
                                   ("near", 1.35, sc.near_lane_y(), near_facing)):
        spans: list[tuple[float, float]] = []
        placed = []
        for what, length in lanes[name]:
            L = length * m * scale
            for _ in range(12):
                x = rng.uniform(-0.3 * L, 1.0 - 0.7 * L)
                if all(x + L + 0.8 * m < a or x > b + 0.8 * m for a, b in spans):
                    spans.append((x, x + L))
                    placed.append((x, what))
                    break
        for x, what in sorted(placed, key=lambda p: p[0]):
            if isinstance(what, CueSpec):
                CUES[what.kind].fn(sc, x, y, scale, facing, CUE_CLASSES[what.kind])
            else:
                paint_vehicle(sc, what, x, y, scale, facing, car_colour(sc))


def _light(image: Image.Image, style, light: str, overcast: bool, rng: random.Random) -> Image.Image:
    """Time-of-day tint, a soft side-to-side light falloff, overcast desaturation and
    sensor noise -- all per pixel, so masks stay exact."""
    arr = np.asarray(image, dtype=np.float32)
    size = arr.shape[0]
    gain = np.asarray(LIGHTS[light], np.float32) * np.asarray(style.palette_tint, np.float32) / 255.0
    gain *= rng.uniform(0.92, 1.06)
    side = 1.0 + np.linspace(-1.0, 1.0, size, dtype=np.float32) * rng.uniform(-0.06, 0.06)
    arr *= side[None, :, None] * gain[None, None, :]
    if overcast:
        lum = arr.mean(axis=2, keepdims=True)
        arr *= 0.7
        arr += 0.3 * lum
    sigma = rng.uniform(1.5, 4.0)
    bank = _noise_bank(size)
    oy, ox = rng.randrange(size), rng.randrange(size)
    arr += bank[oy:oy + size, ox:ox + size] * sigma
    arr += 0.5
    np.clip(arr, 0, 255, out=arr)
    return Image.fromarray(arr.astype(np.uint8), "RGB")


@lru_cache(maxsize=4)
def _noise_bank(size: int) -> np.ndarray:
    """Unit Gaussian noise twice the image size, from a fixed seed; each image takes a
    crop at a random offset -- as random as fresh noise per image, at slicing cost."""
    return np.random.default_rng(20240611).standard_normal((2 * size, 2 * size, 3), dtype=np.float32)


def _masks(owner: np.ndarray, drawn: list[tuple[str, tuple[str, ...]]]) -> tuple[list[Cue], list[int]]:
    """One Cue per instance still visible; fully occluded instances are dropped."""
    counts = np.bincount(owner.ravel(), minlength=len(drawn) + 1)
    cues, ids = [], []
    for i, (kind, classes) in enumerate(drawn, start=1):
        if counts[i] == 0:
            continue
        mask = owner == i
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        box = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
        cues.append(Cue(kind, tuple(classes), box, mask))
        ids.append(i)
    return cues, ids
