"""Generic street scenery: sky, distant skyline, road, vehicles, lamps, people.

None of this is annotated -- it is the clutter every city shares (with city-specific
colours and markings from the style). Vehicle bodies are reused by the cab and bus cues.
"""

from __future__ import annotations

import random

import numpy as np
from PIL import Image

from analysis.data.synth.draw import Color, jitter, mix, pick, shade
from analysis.data.synth.layout import Scene
from analysis.data.synth.styles import CUE_CLASSES


# -- sky -------------------------------------------------------------------------------
def sky_colours(rng: random.Random, zenith: Color, horizon: Color, overcast: bool) -> tuple[Color, Color]:
    if overcast:
        g = rng.randint(170, 215)
        return (g - 12, g - 6, g), (g + 18, g + 18, g + 18)
    return jitter(rng, zenith, 14), jitter(rng, horizon, 8)


def sky_image(size: int, zenith: Color, horizon: Color, horizon_y: float) -> Image.Image:
    """Vertical gradient, computed in numpy (one row per pixel would be 2*size draws)."""
    t = np.clip(np.linspace(0.0, 1.0, size) / max(horizon_y, 1e-3), 0.0, 1.0) ** 0.8
    col = np.asarray(zenith, np.float32)[None, :] * (1 - t[:, None]) + \
        np.asarray(horizon, np.float32)[None, :] * t[:, None]
    arr = np.broadcast_to(col[:, None, :], (size, size, 3)).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(arr), "RGB")


def paint_clouds(sc: Scene) -> None:
    cv, rng = sc.cv, sc.rng
    n = rng.randint(2, 6) if sc.overcast else rng.randint(0, 3)
    for _ in range(n):
        cx, cy = rng.uniform(-0.1, 1.1), rng.uniform(0.02, sc.base * 0.6)
        w = rng.uniform(0.1, 0.3)
        col = shade(sc.horizon_sky, rng.uniform(0.86, 0.96)) if sc.overcast else jitter(rng, (246, 247, 250), 6)
        for _ in range(rng.randint(3, 6)):
            dx, dy = rng.uniform(-w / 2, w / 2), rng.uniform(-0.02, 0.015)
            r = rng.uniform(0.025, 0.05)
            cv.ellipse(cx + dx - r * 1.6, cy + dy - r, cx + dx + r * 1.6, cy + dy + r * 0.7, col)


def paint_skyline(sc: Scene) -> None:
    """Hazy distant blocks that show above and between the front row."""
    cv, rng, m = sc.cv, sc.rng, sc.m * 0.75
    x = rng.uniform(-0.2, 0)
    while x < 1.0:
        w = rng.uniform(10, 30) * m
        h = rng.randint(*sc.style.skyline_floors) * 3.2 * m
        col = sc.haze(jitter(rng, pick(rng, [(150, 150, 155), (180, 170, 160), (120, 130, 145)]), 10), 0.45)
        top = sc.base - h
        cv.rect(x, top, x + w, sc.base, col)
        win = shade(col, 0.9)
        y = top + 1.2 * m
        while y < sc.base and 1.0 * m * cv.size >= 1.5:
            cv.rect(x + 0.8 * m, y, x + w - 0.8 * m, y + 0.001, win)
            y += 3.2 * m
        x += w + rng.uniform(-3, 12) * m


# -- road ------------------------------------------------------------------------------
def paint_road(sc: Scene) -> None:
    cv, rng, st, m = sc.cv, sc.rng, sc.style, sc.m
    walk = jitter(rng, st.sidewalk, 10)
    if sc.snow:
        walk = jitter(rng, (228, 230, 236), 6)
    cv.rect(0, sc.base, 1, sc.kerb, walk)
    joint = shade(walk, 0.9)
    x = rng.uniform(0, 0.05)
    while x < 1 and not sc.snow:  # paving joints, converging a little towards the base
        cv.line([(x, sc.base), (x - (x - 0.5) * 0.15, sc.kerb)], joint)
        x += 1.5 * m
    cv.rect(0, sc.kerb - 0.2 * m, 1, sc.kerb, shade(walk, 1.1) if not sc.snow else (200, 200, 205))
    asphalt = jitter(rng, st.asphalt, 8)
    cv.rect(0, sc.kerb, 1, 1.0, asphalt)
    for _ in range(rng.randint(0, 4)):  # repair patches
        px, py = rng.uniform(0, 1), rng.uniform(sc.kerb, 1)
        w = rng.uniform(1, 5) * m
        cv.rect(px, py, px + w, py + rng.uniform(0.3, 1) * m, shade(asphalt, rng.uniform(0.85, 1.1)))
    # road markings are the city's own (never borrowed) and annotated like any cue, so the
    # ground truth holds every pixel that tells the city
    if st.centre_line != "none":
        with cv.cue(f"centre_{st.centre_line}", CUE_CLASSES[f"centre_{st.centre_line}"]):
            CENTRE_LINES[st.centre_line](sc)
    for name, p in st.kerb_lines:
        if rng.random() < p:
            with cv.cue(f"kerb_{name}", CUE_CLASSES[f"kerb_{name}"]):
                KERB_LINES[name](sc)
    if sc.near < 1.0:
        cv.rect(0, sc.near, 1, 1, shade(walk, 1.05))
        cv.rect(0, sc.near, 1, sc.near + 0.35 * m, shade(walk, 0.8))
    if sc.snow:
        for _ in range(rng.randint(3, 8)):
            px = rng.uniform(-0.05, 1)
            w = rng.uniform(2, 6) * m
            cv.poly([(px, sc.kerb + 0.3 * m), (px + w * 0.3, sc.kerb - 0.3 * m),
                     (px + w * 0.8, sc.kerb - 0.2 * m), (px + w, sc.kerb + 0.3 * m)], (236, 238, 242))


def centre_dashed(sc: Scene, colour: Color = (232, 232, 225)) -> None:
    cv, m = sc.cv, sc.m * 1.3
    x = sc.rng.uniform(-6, 0) * m
    while x < 1:
        cv.rect(x, sc.centre - 0.06 * m, x + 3 * m, sc.centre + 0.1 * m, colour)
        x += 9 * m


def centre_double_yellow(sc: Scene) -> None:
    cv, m = sc.cv, sc.m * 1.3
    yellow = (225, 185, 40)
    cv.rect(0, sc.centre - 0.2 * m, 1, sc.centre - 0.08 * m, yellow)
    cv.rect(0, sc.centre + 0.08 * m, 1, sc.centre + 0.2 * m, yellow)


def centre_none(sc: Scene) -> None:
    pass


def kerb_double_yellow(sc: Scene) -> None:
    """The British (and Singaporean) no-parking lines along the kerb."""
    cv, m = sc.cv, sc.m * 1.2
    yellow = (225, 190, 45)
    y = sc.kerb + 0.35 * m
    cv.rect(0, y, 1, y + 0.1 * m, yellow)
    cv.rect(0, y + 0.35 * m, 1, y + 0.45 * m, yellow)


CENTRE_LINES = {"white_dashed": centre_dashed, "yellow_double": centre_double_yellow,
                "none": centre_none}
KERB_LINES = {"double_yellow": kerb_double_yellow}


# -- vehicles --------------------------------------------------------------------------
# kind -> (length m, height m, body outline, window outlines); outline points are
# (fraction of length from the rear, fraction of height from the ground)
VEHICLES: dict[str, tuple[float, float, list, list]] = {
    "sedan": (4.6, 1.45,
              [(0, .22), (0, .55), (.03, .6), (.24, .63), (.33, .97), (.66, .97), (.79, .63),
               (.97, .57), (1, .45), (1, .22)],
              [[(.28, .66), (.35, .9), (.49, .9), (.49, .66)],
               [(.52, .66), (.52, .9), (.64, .9), (.74, .66)]]),
    "hatch": (4.0, 1.5,
              [(0, .22), (0, .62), (.05, .95), (.6, .97), (.76, .63), (.97, .56), (1, .45), (1, .22)],
              [[(.08, .66), (.1, .9), (.37, .9), (.37, .66)],
               [(.4, .66), (.4, .9), (.58, .9), (.7, .66)]]),
    "suv": (4.7, 1.75,
            [(0, .2), (0, .6), (.03, .95), (.68, .97), (.81, .62), (.98, .56), (1, .45), (1, .2)],
            [[(.06, .64), (.07, .9), (.38, .9), (.38, .64)],
             [(.41, .64), (.41, .9), (.66, .9), (.76, .64)]]),
    "van": (5.0, 2.2,
            [(0, .15), (0, .97), (.8, .97), (.92, .6), (1, .52), (1, .15)],
            [[(.05, .62), (.05, .88), (.6, .88), (.6, .62)],
             [(.65, .62), (.65, .9), (.79, .9), (.88, .62)]]),
    "kei": (3.4, 1.75,
            [(0, .18), (0, .96), (.82, .97), (.95, .6), (1, .5), (1, .18)],
            [[(.05, .62), (.05, .9), (.4, .9), (.4, .62)],
             [(.43, .62), (.43, .9), (.8, .9), (.9, .62)]]),
    "black_cab": (4.6, 1.8,
                  [(0, .22), (0, .6), (.06, .95), (.65, .97), (.8, .62), (.98, .56), (1, .45), (1, .22)],
                  [[(.1, .64), (.12, .9), (.38, .9), (.38, .64)],
                   [(.41, .64), (.41, .9), (.63, .9), (.74, .64)]]),
}


class Placed:
    """Geometry of a drawn vehicle: maps (fraction along, fraction up) to the picture."""

    def __init__(self, x: float, yb: float, length: float, height: float, facing: int):
        self.x, self.yb, self.length, self.height, self.facing = x, yb, length, height, facing

    def pt(self, u: float, v: float) -> tuple[float, float]:
        if self.facing < 0:
            u = 1 - u
        return self.x + u * self.length, self.yb - v * self.height

    def rect(self, u0, v0, u1, v1) -> tuple[float, float, float, float]:
        (a, b), (c, d) = self.pt(u0, v1), self.pt(u1, v0)
        return min(a, c), b, max(a, c), d


def paint_wheels(sc: Scene, car: Placed, us: tuple[float, ...], r: float) -> None:
    cv = sc.cv
    for u in us:
        cx, cy = car.pt(u, 0)
        cy -= r
        cv.ellipse(cx - r, cy - r, cx + r, cy + r, (22, 22, 24))
        cv.ellipse(cx - r * 0.5, cy - r * 0.5, cx + r * 0.5, cy + r * 0.5, (150, 150, 155))


def paint_vehicle(sc: Scene, kind: str, x: float, yb: float, scale: float, facing: int,
                  colour: Color) -> Placed:
    """A side-view car; ``facing`` +1 drives to the right, -1 to the left."""
    length, height, body, windows = VEHICLES[kind]
    m = sc.m * scale
    car = Placed(x, yb, length * m, height * m, facing)
    cv = sc.cv
    cv.ellipse(car.x - 0.1 * m, yb - 0.15 * m, car.x + car.length + 0.1 * m, yb + 0.15 * m, (35, 35, 38))
    cv.poly([car.pt(u, v) for u, v in body], colour)
    glass = mix((40, 48, 60), sc.horizon_sky, 0.25)
    for w in windows:
        cv.poly([car.pt(u, v) for u, v in w], glass)
    cv.rect(*car.rect(0.02, 0.32, 0.98, 0.35), shade(colour, 0.75))
    cv.rect(*car.rect(0.96, 0.4, 1.0, 0.48), (245, 235, 190))
    cv.rect(*car.rect(0.0, 0.42, 0.03, 0.54), (190, 25, 25))
    paint_wheels(sc, car, (0.19, 0.81), 0.34 * m)
    return car


def car_colour(sc: Scene) -> Color:
    return jitter(sc.rng, pick(sc.rng, sc.style.car_colours), 10)


# -- sidewalk furniture and people -----------------------------------------------------
def lamp_modern(sc: Scene, x: float, y: float, scale: float) -> None:
    cv, m = sc.cv, sc.m * scale
    grey = (110, 112, 116)
    cv.rect(x, y - 8 * m, x + 0.18 * m, y, grey)
    cv.line([(x + 0.1 * m, y - 8 * m), (x + 0.8 * m, y - 8.6 * m), (x + 1.8 * m, y - 8.6 * m)],
            grey, 0.12 * m)
    cv.rect(x + 1.2 * m, y - 8.7 * m, x + 2.2 * m, y - 8.4 * m, (90, 92, 96))


def lamp_heritage(sc: Scene, x: float, y: float, scale: float) -> None:
    cv, m = sc.cv, sc.m * scale
    iron = (30, 34, 32)
    cv.rect(x - 0.15 * m, y - 0.6 * m, x + 0.15 * m, y, iron)
    cv.rect(x - 0.07 * m, y - 5 * m, x + 0.07 * m, y, iron)
    cv.poly([(x - 0.3 * m, y - 5 * m), (x + 0.3 * m, y - 5 * m), (x + 0.4 * m, y - 5.8 * m),
             (x - 0.4 * m, y - 5.8 * m)], (230, 225, 200))
    cv.poly([(x - 0.45 * m, y - 5.8 * m), (x + 0.45 * m, y - 5.8 * m), (x, y - 6.2 * m)], iron)


def lamp_ornate(sc: Scene, x: float, y: float, scale: float) -> None:
    """Paris candelabra: dark green post with a lantern on a curled arm."""
    lamp_heritage(sc, x, y, scale)
    cv, m = sc.cv, sc.m * scale
    green = (35, 55, 45)
    cv.line([(x, y - 4.8 * m), (x + 0.8 * m, y - 5.2 * m)], green, 0.08 * m)
    cv.poly([(x + 0.6 * m, y - 5.2 * m), (x + 1.0 * m, y - 5.2 * m), (x + 1.05 * m, y - 5.8 * m),
             (x + 0.55 * m, y - 5.8 * m)], (225, 220, 190))


def lamp_none(sc: Scene, x: float, y: float, scale: float) -> None:
    pass


LAMPS = {"modern": lamp_modern, "heritage": lamp_heritage, "ornate": lamp_ornate, "none": lamp_none}

CLOTHES: tuple[Color, ...] = ((30, 30, 35), (200, 200, 205), (40, 60, 120), (150, 40, 40),
                              (90, 90, 90), (230, 225, 210), (60, 90, 60), (180, 140, 90))
SKIN: tuple[Color, ...] = ((235, 200, 170), (200, 160, 120), (150, 105, 75), (95, 65, 45))


def paint_person(sc: Scene, x: float, y: float, scale: float) -> None:
    cv, rng, m = sc.cv, sc.rng, sc.m * scale
    h = rng.uniform(1.55, 1.85) * m
    top, legs = jitter(rng, pick(rng, CLOTHES), 12), jitter(rng, pick(rng, CLOTHES[:5]), 8)
    cv.rect(x - 0.14 * m, y - 0.48 * h, x - 0.02 * m, y, legs)
    cv.rect(x + 0.02 * m, y - 0.48 * h, x + 0.14 * m, y, legs)
    cv.rect(x - 0.22 * m, y - 0.82 * h, x + 0.22 * m, y - 0.46 * h, top)
    r = 0.12 * m
    cv.ellipse(x - r, y - h, x + r, y - h + 2.2 * r, pick(rng, SKIN))
    if rng.random() < 0.25:  # umbrella
        u = jitter(rng, pick(rng, CLOTHES), 15)
        cv.poly([(x - 0.55 * m, y - h + 0.05 * m), (x, y - h - 0.35 * m), (x + 0.55 * m, y - h + 0.05 * m)], u)
