"""Signature cues: the objects people use to tell the cities apart.

Every painter draws its object inside ``sc.cv.cue(kind, classes)``, so the owner layer
records exactly which pixels it ends up occupying. ``CUES`` says for each kind where it
goes in the scene (background, a front-row building, on a facade, on the sidewalk, in a
lane, overhead); ``render.py`` places them, the styles say how often they appear.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from analysis.data.synth.draw import Color, jitter, mix, pick, shade
from analysis.data.synth.facades import Facade, columns_for, roof_eave_tile, storeys
from analysis.data.synth.layout import Scene
from analysis.data.synth.street import Placed, paint_vehicle, paint_wheels

IRON: Color = (28, 30, 32)


def _interp(xs: list[float], ys: list[float], x: float) -> float:
    """Piecewise-linear y(x) along a polyline with increasing xs."""
    if x <= xs[0]:
        return ys[0]
    for i in range(1, len(xs)):
        if x <= xs[i]:
            t = (x - xs[i - 1]) / max(xs[i] - xs[i - 1], 1e-9)
            return ys[i - 1] + t * (ys[i] - ys[i - 1])
    return ys[-1]


# == background ========================================================================
def mountains(sc: Scene, classes) -> None:
    """Coast Mountains: two hazy ridges with jagged snow caps."""
    rng = sc.rng
    ridges = []
    for depth in (0.55, 0.3):  # far ridge first
        n = rng.randint(9, 15)
        xs = [-0.05 + 1.1 * i / (n - 1) for i in range(n)]
        peak_h = rng.uniform(0.22, 0.4) * (1.15 if depth > 0.5 else 1.0)
        phase = rng.uniform(0, 1)
        ys = []
        for i, x in enumerate(xs):
            bump = abs(((x + phase) * rng.uniform(1.6, 2.4)) % 2 - 1)  # rough triangle wave
            ys.append(sc.base - 0.05 - peak_h * (0.45 + 0.55 * (1 - bump)) + rng.uniform(-0.02, 0.02))
        ridges.append((depth, xs, ys))
    with sc.cv.cue("mountains", classes):
        for depth, xs, ys in ridges:
            rock = sc.haze(jitter(rng, (80, 96, 120), 10), depth)
            sc.cv.poly([(xs[0], sc.base)] + list(zip(xs, ys)) + [(xs[-1], sc.base)], rock)
            snowline = min(ys) + rng.uniform(0.03, 0.07)
            bottom = [max(y, snowline + rng.uniform(-0.015, 0.015)) if y < snowline else y for y in ys]
            snow = sc.haze((245, 247, 252), depth * 0.5)
            sc.cv.poly(list(zip(xs, ys)) + list(zip(reversed(xs), reversed(bottom))), snow)


def stalin_spire(sc: Scene, classes) -> None:
    """One of the Seven Sisters: a stepped tower with a spire and star, in the haze."""
    rng, m = sc.rng, sc.m * 0.55
    cx = rng.uniform(0.15, 0.85)
    col = sc.haze(jitter(rng, (205, 190, 165), 8), 0.35)
    trim = sc.haze((230, 225, 215), 0.35)
    tiers = [(44, 30), (28, 22), (18, 20), (10, 16)]  # width, height in metres
    with sc.cv.cue("stalin_spire", classes):
        y = sc.base
        for w, h in tiers:
            sc.cv.rect(cx - w * m / 2, y - h * m, cx + w * m / 2, y, col)
            for k in range(int(h // 3.5)):
                wy = y - (k + 1) * 3.5 * m
                sc.cv.rect(cx - w * m / 2 + m, wy, cx + w * m / 2 - m, wy + 0.001, shade(col, 0.9))
            sc.cv.rect(cx - w * m / 2 - 0.4 * m, y - h * m, cx + w * m / 2 + 0.4 * m, y - h * m + 0.8 * m, trim)
            for sx in (-1, 1):  # corner pinnacles
                px = cx + sx * (w * m / 2 - 0.6 * m)
                sc.cv.poly([(px - 0.6 * m, y - h * m), (px + 0.6 * m, y - h * m), (px, y - h * m - 3 * m)], trim)
            y -= h * m
        sc.cv.poly([(cx - 2.2 * m, y), (cx + 2.2 * m, y), (cx, y - 26 * m)], shade(col, 1.05))
        star = (200, 170, 60)
        sc.cv.poly([(cx - 1.2 * m, y - 26 * m), (cx, y - 28 * m), (cx + 1.2 * m, y - 26 * m),
                    (cx, y - 24.5 * m)], star)


# == midground ==========================================================================
GLASS = ((74, 128, 140), (88, 140, 165), (60, 100, 122), (118, 160, 172), (80, 118, 150))


def glass_tower(sc: Scene, classes) -> None:
    """A Vancouver glass point tower standing behind the front row."""
    rng = sc.rng
    m = sc.m * rng.uniform(0.65, 0.85)
    w = rng.uniform(12, 22) * m
    x0 = rng.uniform(-0.1, 1.0 - w * 0.6)
    x1 = x0 + w
    floors = rng.randint(14, 40)
    fh = 3.0 * m
    top = sc.base - floors * fh
    glass = jitter(rng, pick(rng, GLASS), 10)
    slant = rng.random() < 0.3
    dh = rng.uniform(2, 6) * m if slant else 0.0
    balconies = rng.random() < 0.5
    with sc.cv.cue("glass_tower", classes):
        if slant:
            left_high = rng.random() < 0.5
            ya, yb = (top, top + dh) if left_high else (top + dh, top)
            sc.cv.poly([(x0, ya), (x1, yb), (x1, sc.base), (x0, sc.base)], glass)
        else:
            sc.cv.rect(x0, top, x1, sc.base, glass)
            sc.cv.rect(x0, top, x1, top + 1.0 * m, mix(glass, (230, 235, 235), 0.5))
        # reflections: parallelograms with vertical sides, inside the tower
        for _ in range(rng.randint(1, 3)):
            a = rng.uniform(0, 0.6) * w
            b = a + rng.uniform(0.2, 0.5) * w
            b = min(b, w)
            ystart = rng.uniform(top + dh + 0.1 * (sc.base - top), sc.base - 0.1)
            slope = rng.uniform(0.3, 0.9)
            hgt = rng.uniform(0.05, 0.2)
            tone = mix(glass, sc.horizon_sky if rng.random() < 0.7 else (30, 40, 50), rng.uniform(0.25, 0.45))
            pts = [(x0 + a, ystart), (x0 + b, ystart - slope * (b - a)),
                   (x0 + b, ystart - slope * (b - a) + hgt), (x0 + a, ystart + hgt)]
            pts = [(x, min(max(y, top + dh + 0.01), sc.base)) for x, y in pts]
            sc.cv.poly(pts, tone)
        mull = mix(glass, (210, 225, 230), 0.35)
        y = sc.base - fh
        while y > top + dh + 0.5 * m:
            sc.cv.rect(x0, y, x1, y + 0.001, mull)
            y -= fh
        x = x0 + 1.5 * m
        while x < x1 - 0.5 * m and 1.5 * m * sc.cv.size >= 2:
            sc.cv.rect(x, top + dh, x + 0.001, sc.base, shade(glass, 0.85))
            x += 1.5 * m
        if balconies:  # white slab edges on one side of the tower
            bx1 = x0 + rng.uniform(0.3, 0.6) * w
            y = sc.base - fh
            while y > top + dh + 0.5 * m:
                sc.cv.rect(x0, y, bx1, y + 0.25 * m, (232, 235, 236))
                y -= fh


# == front-row buildings ================================================================
def church(sc: Scene, x0: float, x1: float, classes) -> Facade:
    """Russian Orthodox church: pale walls (clutter) crowned by onion domes (the cue)."""
    rng, m, cv = sc.rng, sc.m, sc.cv
    wall = jitter(rng, pick(rng, [(246, 242, 232), (240, 222, 170), (232, 205, 200), (240, 240, 240)]), 6)
    h = rng.uniform(7, 10) * m
    top = sc.base - h
    cv.rect(x0, top, x1, sc.base, wall)
    cv.rect(x0 - 0.3 * m, top - 0.3 * m, x1 + 0.3 * m, top + 0.4 * m, shade(wall, 0.9))
    for cx0, cx1 in columns_for(x0 + m, x1 - m, 3.5 * m, 0.35):
        r = (cx1 - cx0) / 2
        wy = top + 0.35 * h
        cv.ellipse(cx0, wy - r, cx1, wy + r, (60, 60, 70))
        cv.rect(cx0, wy, cx1, wy + 0.3 * h, (60, 60, 70))
    door_x = (x0 + x1) / 2
    cv.ellipse(door_x - 1.2 * m, sc.base - 4 * m, door_x + 1.2 * m, sc.base - 1.6 * m, (90, 60, 45))
    cv.rect(door_x - 1.2 * m, sc.base - 2.8 * m, door_x + 1.2 * m, sc.base, (90, 60, 45))
    roof = jitter(rng, pick(rng, [(60, 120, 90), (110, 115, 120), (60, 90, 140)]), 8)
    cv.poly([(x0 - 0.3 * m, top), (x1 + 0.3 * m, top), (x1 - 2 * m, top - 2 * m), (x0 + 2 * m, top - 2 * m)], roof)

    scheme = pick(rng, ["gold", "blue", "green", "motley"], [3, 2, 1, 2])
    palette = {"gold": [(215, 170, 50)], "blue": [(40, 80, 170)], "green": [(40, 130, 85)],
               "motley": [(200, 50, 45), (40, 120, 80), (230, 190, 60), (50, 90, 170), (230, 120, 40)]}[scheme]
    cx = (x0 + x1) / 2
    w_main = rng.uniform(4.5, 6.5) * m
    domes = [(cx, w_main, top - 2 * m - rng.uniform(3, 6) * m)]
    if rng.random() < 0.75:
        off = (x1 - x0) * rng.uniform(0.28, 0.38)
        ws = w_main * rng.uniform(0.55, 0.7)
        dh = rng.uniform(1.5, 3) * m
        domes += [(cx - off, ws, top - dh), (cx + off, ws, top - dh)]
    with cv.cue("onion_domes", classes):
        for dx, dw, dbase in domes:
            drum_w = dw * 0.7
            drum_top = dbase - dw * 0.55
            cv.rect(dx - drum_w / 2, drum_top, dx + drum_w / 2, max(dbase, top), wall)
            for k in (-1, 0, 1):
                cv.rect(dx + k * drum_w * 0.28 - 0.15 * m, drum_top + 0.3 * dw * 0.55,
                        dx + k * drum_w * 0.28 + 0.15 * m, drum_top + 0.8 * dw * 0.55, (60, 60, 70))
            col = jitter(rng, pick(rng, palette), 10)
            dome_h = dw * 1.25
            cv.poly(_onion(dx, drum_top, dw, dome_h, 1.0), col)
            rib = shade(col, 0.7) if scheme != "motley" else jitter(rng, pick(rng, palette), 10)
            for f in (0.55, 0.15):
                cv.line(_onion(dx, drum_top, dw, dome_h, f)[:9], rib)
                cv.line(_onion(dx, drum_top, dw, dome_h, f)[9:], rib)
            if scheme == "blue":
                for _ in range(5):
                    sx = dx + rng.uniform(-0.3, 0.3) * dw
                    sy = drum_top - rng.uniform(0.1, 0.5) * dome_h
                    cv.rect(sx, sy, sx + 0.001, sy + 0.001, (235, 200, 80))
            gold = (225, 185, 70)
            tip = drum_top - dome_h
            cv.line([(dx, tip), (dx, tip - dw * 0.45)], gold)
            cv.line([(dx - dw * 0.15, tip - dw * 0.32), (dx + dw * 0.15, tip - dw * 0.32)], gold)
    return Facade(x0, x1, top, sc.base, [(top, sc.base)], [], wall, roof_top=top - 10 * m)


def _onion(cx: float, base: float, w: float, h: float, widthf: float) -> list[tuple[float, float]]:
    """Outline of an onion dome (left side up, then right side down); ``widthf`` < 1 gives
    the inner ribs."""
    prof = [(0.35, 0), (0.46, 0.12), (0.5, 0.28), (0.46, 0.45), (0.35, 0.6), (0.21, 0.75),
            (0.09, 0.88), (0.03, 0.96), (0.0, 1.0)]
    left = [(cx - r * w * widthf, base - t * h) for r, t in prof]
    right = [(cx + r * w * widthf, base - t * h) for r, t in reversed(prof)]
    return left + right


def palace(sc: Scene, x0: float, x1: float, classes) -> Facade:
    """Beijing: a vermilion wall or hall (``red_wall``) under a glazed golden roof with
    upturned eaves (``golden_roof``)."""
    rng, m, cv = sc.rng, sc.m, sc.cv
    hall = rng.random() < 0.6
    red = jitter(rng, (165, 38, 32), 10)
    wall_h = rng.uniform(5, 7.5) * m if hall else rng.uniform(4, 6) * m
    top = sc.base - wall_h
    with cv.cue("red_wall", classes):
        cv.rect(x0, top, x1, sc.base, red)
        cv.rect(x0, sc.base - 0.7 * m, x1, sc.base, shade(red, 0.75))
        if hall:
            cols = columns_for(x0 + 0.6 * m, x1 - 0.6 * m, 4.0 * m, 0.12)
            for cx0, cx1 in cols:
                cv.rect(cx0, top, cx1, sc.base, shade(red, 0.8))
            for (a0, a1), (b0, b1) in zip(cols, cols[1:]):
                if rng.random() < 0.6:  # lattice door panels with gold studs
                    lat = shade(red, 0.65)
                    cv.rect(a1 + 0.3 * m, top + 1.2 * m, b0 - 0.3 * m, sc.base - 0.7 * m, lat)
                    y = top + 1.5 * m
                    while y < sc.base - 1.0 * m:
                        cv.rect(a1 + 0.3 * m, y, b0 - 0.3 * m, y + 0.001, red)
                        y += 0.5 * m
        elif rng.random() < 0.5:  # a gate in the wall
            gx = rng.uniform(x0 + 0.2 * (x1 - x0), x1 - 0.3 * (x1 - x0))
            cv.ellipse(gx, top + 1.0 * m, gx + 3.5 * m, top + 4.5 * m, (60, 25, 20))
            cv.rect(gx, top + 2.75 * m, gx + 3.5 * m, sc.base, (60, 25, 20))
    roof_h = rng.uniform(3.5, 5.0) * m if hall else rng.uniform(1.0, 1.6) * m
    ov = 1.2 * m if hall else 0.5 * m
    gold = jitter(rng, (232, 176, 42), 10)
    with cv.cue("golden_roof", classes):
        if hall:  # painted beams under the eaves
            y0 = top
            cv.rect(x0, y0, x1, y0 + 0.7 * m, (40, 95, 110))
            x = x0
            while x < x1:
                cv.rect(x, y0 + 0.1 * m, x + 0.6 * m, y0 + 0.6 * m, (45, 125, 80))
                x += 1.2 * m
        tiers = 2 if hall and rng.random() < 0.35 else 1
        eave_y = top
        rtop = top
        for t in range(tiers):
            a, b = x0 - ov + t * 0.12 * (x1 - x0), x1 + ov - t * 0.12 * (x1 - x0)
            h = roof_h * (0.7 if t else 1.0)
            rtop = _chinese_roof(sc, a, b, eave_y, h, gold, hall)
            eave_y = rtop + h * 0.25 if t == 0 else rtop
            if tiers == 2 and t == 0:
                eave_y = eave_y - 1.0 * m
                cv.rect(a + 0.2 * (b - a), eave_y, b - 0.2 * (b - a), eave_y + 1.2 * m, red)
    return Facade(x0, x1, top, sc.base, storeys(sc.base, 1, wall_h, wall_h), [], red, roof_top=rtop)


def _chinese_roof(sc: Scene, a: float, b: float, eave: float, h: float, gold: Color, hall: bool) -> float:
    """Hip roof with curved, upturned eaves and tile runs; returns the ridge y."""
    cv, m = sc.cv, sc.m
    lift = min(0.8 * m, h * 0.4)
    inset = (b - a) * (0.18 if hall else 0.04)
    ridge = eave - h
    top_x = [a - 0.4 * m, a + 0.8 * m, a + inset, b - inset, b - 0.8 * m, b + 0.4 * m]
    top_y = [eave - lift, eave - 0.45 * h, ridge, ridge, eave - 0.45 * h, eave - lift]
    bottom = [(b + 0.4 * m, eave - lift), (b - 0.6 * m, eave), (a + 0.6 * m, eave), (a - 0.4 * m, eave - lift)]
    cv.poly(list(zip(top_x, top_y)) + bottom, gold)
    runs = shade(gold, 0.78)
    x = a + 0.8 * m
    while x < b - 0.8 * m:
        cv.line([(x, _interp(top_x, top_y, x) + 0.1 * m), (x, eave - 0.05 * m)], runs)
        x += 0.55 * m
    cv.rect(a + 0.6 * m, eave - 0.25 * m, b - 0.6 * m, eave, shade(gold, 0.7))
    cv.rect(a + inset, ridge - 0.35 * m, b - inset, ridge + 0.15 * m, shade(gold, 0.72))
    for ex in (a + inset, b - inset - 0.6 * m):  # ridge-end ornaments
        cv.rect(ex, ridge - 1.0 * m, ex + 0.6 * m, ridge, shade(gold, 0.65))
    return ridge - 1.0 * m


def machiya(sc: Scene, x0: float, x1: float, classes) -> Facade:
    """Kyoto townhouse: wooden lattice (koshi), a noren curtain, a small eave between the
    storeys, a plastered upper floor with slatted mushiko windows, dark tiled roof."""
    rng, m, cv = sc.rng, sc.m, sc.cv
    wood = jitter(rng, (78, 52, 36), 8)
    ground_h, upper_h = rng.uniform(3.0, 3.4) * m, rng.uniform(2.2, 2.6) * m
    g_top = sc.base - ground_h
    top = g_top - upper_h
    plaster = jitter(rng, (232, 226, 210), 6) if rng.random() < 0.65 else shade(wood, 1.2)
    with cv.cue("machiya_facade", classes):
        cv.rect(x0, top, x1, g_top, plaster)
        cv.rect(x0, top, x0 + 0.25 * m, g_top, wood)
        cv.rect(x1 - 0.25 * m, top, x1, g_top, wood)
        # mushiko-mado: plastered slots
        for cx0, cx1 in columns_for(x0 + 0.8 * m, x1 - 0.8 * m, 3.2 * m, 0.7):
            wy0, wy1 = top + 0.7 * m, g_top - 0.6 * m
            cv.rect(cx0, wy0, cx1, wy1, (55, 45, 38))
            x = cx0 + 0.12 * m
            while x < cx1 - 0.05 * m:
                cv.rect(x, wy0, x + 0.12 * m, wy1, plaster)
                x += 0.3 * m
        cv.rect(x0, g_top, x1, sc.base, shade(wood, 0.6))
        slat = shade(wood, 1.35)
        door_w = rng.uniform(1.4, 2.0) * m
        door_x = x0 + rng.uniform(0.15, 0.7) * (x1 - x0 - door_w)
        x = x0 + 0.1 * m
        while x < x1 - 0.1 * m:  # koshi lattice
            if not door_x <= x <= door_x + door_w:
                cv.rect(x, g_top + 0.4 * m, x + 0.1 * m, sc.base - 0.2 * m, slat)
            x += 0.32 * m
        noren = jitter(rng, pick(rng, [(35, 45, 90), (40, 40, 45), (120, 40, 35), (170, 150, 110)]), 6)
        cv.rect(door_x, g_top + 0.4 * m, door_x + door_w, g_top + 1.6 * m, noren)
        for k in range(1, 3):
            sx = door_x + k * door_w / 3
            cv.rect(sx, g_top + 0.8 * m, sx + 0.001, g_top + 1.6 * m, shade(noren, 1.6))
        cv.ellipse(door_x + door_w / 2 - 0.2 * m, g_top + 0.6 * m, door_x + door_w / 2 + 0.2 * m,
                   g_top + 1.0 * m, (235, 235, 230))
        tile = jitter(rng, (78, 80, 86), 6)  # ichimonji eave between the storeys
        cv.poly([(x0 - 0.1 * m, g_top + 0.1 * m), (x1 + 0.1 * m, g_top + 0.1 * m),
                 (x1, g_top - 0.5 * m), (x0, g_top - 0.5 * m)], tile)
        cv.rect(x0 - 0.1 * m, g_top, x1 + 0.1 * m, g_top + 0.12 * m, shade(tile, 0.7))
        if rng.random() < 0.4:  # inuyarai: curved bamboo fence at the foot of the wall
            cv.poly([(x0 + 0.2 * m, sc.base), (x0 + 0.4 * m, sc.base - 0.9 * m),
                     (x1 - 0.4 * m, sc.base - 0.9 * m), (x1 - 0.2 * m, sc.base)], (125, 95, 60))
        fac = Facade(x0, x1, top, sc.base, [(g_top, sc.base), (top, g_top)], [], plaster)
        roof_eave_tile(sc, fac, None)
    return fac


PASTELS = ((168, 220, 200), (242, 188, 198), (246, 226, 150), (170, 210, 236), (206, 190, 232),
           (246, 200, 160), (200, 230, 170), (245, 170, 140))


def shophouse(sc: Scene, x0: float, x1: float, classes) -> Facade:
    """Singapore shophouse: pastel, white pilasters, shuttered windows, a five-foot way."""
    rng, m, cv = sc.rng, sc.m, sc.cv
    n = rng.randint(2, 3)
    fh = 3.4 * m
    floors = storeys(sc.base, n, fh, 3.8 * m)
    top = floors[-1][0]
    wall = jitter(rng, pick(rng, PASTELS), 8)
    white = (244, 242, 236)
    shutter = jitter(rng, pick(rng, [(50, 110, 80), (60, 90, 140), (240, 240, 235), (120, 80, 50),
                                     (160, 50, 50)]), 8)
    arched = rng.random() < 0.5
    with cv.cue("shophouse", classes):
        cv.rect(x0, top - 0.8 * m, x1, sc.base, wall)
        for px in (x0, x1 - 0.35 * m):
            cv.rect(px, top - 0.8 * m, px + 0.35 * m, floors[0][0], white)
        gt, gb = floors[0]
        cv.rect(x0 + 0.45 * m, gt + 0.9 * m, x1 - 0.45 * m, gb, (58, 52, 48))  # five-foot way
        cv.rect(x0 + 0.45 * m, gt + 0.3 * m, x1 - 0.45 * m, gt + 0.9 * m,
                jitter(rng, pick(rng, [(245, 245, 240), (170, 30, 30), (30, 30, 30), (40, 80, 60)]), 8))
        for ft, fb in floors[1:]:
            cv.rect(x0, fb - 0.35 * m, x1, fb, white)  # frieze
            for cx0, cx1 in columns_for(x0 + 0.6 * m, x1 - 0.6 * m, 1.8 * m, 0.62):
                wy0, wy1 = ft + 0.55 * m, fb - 0.6 * m
                if arched:
                    r = (cx1 - cx0) / 2
                    cv.ellipse(cx0 - 0.12 * m, wy0 - 0.12 * m, cx1 + 0.12 * m, wy0 + 2 * r, white)
                    cv.ellipse(cx0, wy0, cx1, wy0 + 2 * r, shutter)
                    wy0 += r
                cv.rect(cx0 - 0.12 * m, wy0, cx1 + 0.12 * m, wy1 + 0.12 * m, white)
                cv.rect(cx0, wy0, cx1, wy1, shutter)
                y = wy0 + 0.2 * m
                while y < wy1 and 0.3 * m * cv.size >= 1.5:
                    cv.rect(cx0, y, cx1, y + 0.001, shade(shutter, 0.75))
                    y += 0.3 * m
                cv.rect((cx0 + cx1) / 2, wy0, (cx0 + cx1) / 2 + 0.001, wy1, shade(shutter, 0.6))
        cv.rect(x0 - 0.2 * m, top - 0.8 * m, x1 + 0.2 * m, top - 0.45 * m, white)
        tile = jitter(rng, (180, 85, 55), 10)
        cv.poly([(x0 - 0.3 * m, top - 0.8 * m), (x1 + 0.3 * m, top - 0.8 * m),
                 (x1 - 0.1 * m, top - 1.8 * m), (x0 + 0.1 * m, top - 1.8 * m)], tile)
    fac = Facade(x0, x1, top, sc.base, floors, [], wall, roof_top=top - 1.8 * m)
    fac.window_rows = [(ft + 0.55 * m, fb - 0.6 * m) for ft, fb in floors[1:]]
    return fac


# == on a facade ========================================================================
def iron_balconies(sc: Scene, fac: Facade, classes) -> None:
    """Haussmann: continuous wrought-iron balconies on the 2nd and top floors,
    balconettes on the others."""
    rng, m, cv = sc.rng, sc.m, sc.cv
    rows = fac.window_rows
    if not rows:
        return
    full = {min(1, len(rows) - 1), len(rows) - 1}
    singles = rng.random() < 0.7
    with cv.cue("iron_balconies", classes):
        for i, (wy0, wy1) in enumerate(rows):
            if i in full:
                _railing(sc, fac.x0 + 0.2 * m, fac.x1 - 0.2 * m, wy1 - 1.0 * m, wy1 + 0.1 * m)
            elif singles:
                for cx0, cx1 in fac.columns:
                    _railing(sc, cx0 - 0.1 * m, cx1 + 0.1 * m, wy1 - 0.8 * m, wy1 + 0.05 * m)


def _railing(sc: Scene, x0: float, x1: float, y0: float, y1: float) -> None:
    cv, m = sc.cv, sc.m
    cv.rect(x0, y0, x1, y0 + 0.12 * m, IRON)
    cv.rect(x0, y1 - 0.12 * m, x1, y1, IRON)
    x = x0
    while x < x1:
        cv.rect(x, y0, x + 0.001, y1, IRON)
        x += 0.38 * m
    cv.rect(x1 - 0.001, y0, x1, y1, IRON)


def mansard_roof(sc: Scene, fac: Facade, classes) -> None:
    """Grey zinc mansard with dormers and terracotta chimney pots."""
    rng, m, cv = sc.rng, sc.m, sc.cv
    zinc = jitter(rng, (98, 108, 124), 8)
    h = rng.uniform(3.0, 4.0) * m
    base = fac.roof_top + 0.05 * m
    with cv.cue("mansard_roof", classes):
        cv.poly([(fac.x0, base), (fac.x1, base), (fac.x1 - 0.7 * m, base - h),
                 (fac.x0 + 0.7 * m, base - h)], zinc)
        cv.poly([(fac.x0 + 0.7 * m, base - h), (fac.x1 - 0.7 * m, base - h),
                 (fac.x1 - 2.0 * m, base - h - 0.8 * m), (fac.x0 + 2.0 * m, base - h - 0.8 * m)],
                shade(zinc, 0.85))
        stone = (236, 230, 214)
        for cx0, cx1 in fac.columns[::rng.choice((1, 2))]:
            mx = (cx0 + cx1) / 2
            dw = 0.8 * m
            cv.rect(mx - dw, base - h + 0.5 * m, mx + dw, base - 0.3 * m, stone)
            cv.ellipse(mx - dw, base - h, mx + dw, base - h + 1.2 * m, stone)
            cv.rect(mx - dw + 0.25 * m, base - h + 0.8 * m, mx + dw - 0.25 * m, base - 0.5 * m, sc.glass())
        for _ in range(rng.randint(1, 3)):
            x = rng.uniform(fac.x0 + 2 * m, fac.x1 - 3 * m)
            top = base - h - rng.uniform(1.5, 2.5) * m
            cv.rect(x, top, x + 1.5 * m, base - h, jitter(rng, (200, 190, 175), 10))
            for k in range(rng.randint(2, 4)):
                px = x + 0.1 * m + k * 0.35 * m
                cv.rect(px, top - 0.5 * m, px + 0.22 * m, top, (190, 95, 55))
    fac.roof_top = base - h - 0.8 * m


def fire_escape(sc: Scene, fac: Facade, classes) -> None:
    """New York fire escape: a platform per floor, stairs zig-zagging between them."""
    rng, m, cv = sc.rng, sc.m, sc.cv
    cols = fac.columns
    rows = fac.window_rows
    if len(cols) < 2 or len(rows) < 2:
        return
    k = min(len(cols), rng.randint(2, 3))
    start = rng.randrange(len(cols) - k + 1)
    xa, xb = cols[start][0] - 0.4 * m, cols[start + k - 1][1] + 0.4 * m
    iron = jitter(rng, pick(rng, [IRON, (40, 50, 40), (70, 45, 35)]), 5)
    plats = [wy1 + 0.15 * m for _, wy1 in rows]
    with cv.cue("fire_escape", classes):
        for i, y in enumerate(plats):
            cv.rect(xa, y, xb, y + 0.18 * m, iron)
            cv.rect(xa, y - 0.95 * m, xb, y - 0.85 * m, iron)
            x = xa
            while x <= xb:
                cv.rect(x, y - 0.95 * m, x + 0.001, y, iron)
                x += 0.6 * m
            if i + 1 < len(plats):  # stair up to the next platform
                y2 = plats[i + 1]
                a, b = (xa + 0.4 * m, xb - 0.5 * m) if i % 2 == 0 else (xb - 0.4 * m, xa + 0.5 * m)
                cv.line([(a, y), (b, y2)], iron, 0.14 * m)
                cv.line([(a, y - 0.8 * m), (b, y2 - 0.8 * m)], iron)
        y = plats[0]
        lx = xa + 0.5 * m if rng.random() < 0.5 else xb - 1.1 * m
        cv.rect(lx, y, lx + 0.001, y + 2.0 * m, iron)  # drop ladder
        cv.rect(lx + 0.6 * m, y, lx + 0.6 * m + 0.001, y + 2.0 * m, iron)
        for r in range(1, 6):
            cv.rect(lx, y + r * 0.35 * m, lx + 0.6 * m, y + r * 0.35 * m + 0.001, iron)


def water_tower(sc: Scene, fac: Facade, classes) -> None:
    """Wooden rooftop water tank on stilts with a conical hat."""
    rng, m, cv = sc.rng, sc.m, sc.cv
    w = rng.uniform(2.6, 3.6) * m
    x = rng.uniform(fac.x0 + 0.5 * m, max(fac.x0 + 0.5 * m, fac.x1 - w - 0.5 * m))
    y = fac.roof_top
    wood = jitter(rng, (128, 88, 58), 10)
    with cv.cue("water_tower", classes):
        leg = 1.8 * m
        for lx in (x + 0.2 * m, x + w / 2, x + w - 0.3 * m):
            cv.rect(lx, y - leg, lx + 0.15 * m, y, IRON)
        cv.rect(x - 0.2 * m, y - leg - 0.15 * m, x + w + 0.2 * m, y - leg, IRON)
        bt = y - leg - 3.4 * m
        cv.rect(x, bt, x + w, y - leg - 0.15 * m, wood)
        for k in range(1, 4):
            hy = bt + k * 0.85 * m
            cv.rect(x, hy, x + w, hy + 0.001, shade(wood, 0.55))
        sx = x + 0.4 * m
        while sx < x + w:
            cv.rect(sx, bt, sx + 0.001, y - leg, shade(wood, 0.85))
            sx += 0.5 * m
        cv.poly([(x - 0.2 * m, bt), (x + w + 0.2 * m, bt), (x + w / 2, bt - 1.4 * m)], shade(wood, 0.6))
    fac.roof_top = min(fac.roof_top, bt - 1.4 * m)


def red_lantern(sc: Scene, fac: Facade, classes) -> None:
    """Red paper lantern hung under the eave: a Japanese chochin or a round Chinese one."""
    rng, m, cv = sc.rng, sc.m, sc.cv
    gt = fac.floors[0][0]
    hang = gt + rng.uniform(0.1, 0.5) * m
    slots = [k for k in range(max(1, int((fac.width - 0.6 * m) / (1.3 * m))))
             if ("lantern", k) not in fac.used]
    if not slots:
        return
    k = rng.choice(slots)
    fac.used.add(("lantern", k))
    x = fac.x0 + 0.4 * m + k * 1.3 * m
    red = jitter(rng, (210, 35, 30), 12)
    round_ = rng.random() < 0.4
    w, h = (0.8 * m, 0.75 * m) if round_ else (0.55 * m, 0.95 * m)
    top = hang + 0.3 * m
    with cv.cue("red_lantern", classes):
        cv.line([(x + w / 2, hang), (x + w / 2, top)], IRON)
        cv.rect(x + w * 0.2, top, x + w * 0.8, top + 0.12 * m, (30, 25, 25) if not round_ else (200, 160, 50))
        cv.ellipse(x, top + 0.05 * m, x + w, top + h, red)
        for f in (0.35, 0.6):
            cv.rect(x + w * 0.08, top + h * f, x + w * 0.92, top + h * f + 0.001, shade(red, 0.8))
        bot = top + h - 0.05 * m
        if round_:
            cv.rect(x + w * 0.45, bot, x + w * 0.55, bot + 0.5 * m, (220, 175, 50))
        else:
            cv.rect(x + w * 0.2, bot, x + w * 0.8, bot + 0.12 * m, (30, 25, 25))
            cv.rect(x + w * 0.38, top + h * 0.42, x + w * 0.62, top + h * 0.58, (25, 20, 20))


SIGN_COLOURS = ((250, 250, 245), (245, 210, 40), (210, 40, 40), (40, 90, 190), (30, 140, 80),
                (240, 130, 30), (30, 30, 32), (230, 60, 140))


def _text_colour(bg: Color) -> Color:
    return (25, 25, 25) if sum(bg) > 450 else (250, 250, 245)


def _kanji(sc: Scene, x: float, y: float, s: float, ink: Color) -> None:
    """A glyph-like block of 3-5 straight strokes (dense, box-shaped, no circles)."""
    rng, cv = sc.rng, sc.cv
    cv.rect(x, y + 0.1 * s, x + s, y + 0.1 * s + 0.001, ink)
    for _ in range(rng.randint(2, 4)):
        if rng.random() < 0.5:
            t = rng.choice((0.45, 0.8, 1.0))
            cv.rect(x + rng.choice((0.0, 0.2)) * s, y + t * s, x + s, y + t * s + 0.001, ink)
        else:
            u = rng.choice((0.1, 0.5, 0.85))
            cv.rect(x + u * s, y + 0.1 * s, x + u * s + 0.001, y + s, ink)


def tokyo_sign(sc: Scene, fac: Facade, classes) -> None:
    """Vertical sign column projecting from a building edge, stacked panels of kanji."""
    rng, m, cv = sc.rng, sc.m, sc.cv
    rows = fac.floors[1:]
    if not rows:
        return
    free = [side for side in (0.0, 1.0, 0.5) if ("sign", side) not in fac.used]
    if not free:
        return
    side = rng.choice(free)  # left edge, right edge or middle of the facade
    fac.used.add(("sign", side))
    w = rng.uniform(1.1, 1.7) * m
    x = fac.x0 + 0.3 * m + side * (fac.width - w - 0.6 * m) + rng.uniform(-0.2, 0.2) * m
    first = rng.randrange(0, max(1, len(rows) - 1))
    last = min(len(rows), first + rng.randint(2, 5))
    y_bottom, y_top = rows[first][1] - 0.2 * m, rows[last - 1][0] + 0.2 * m
    with cv.cue("tokyo_sign", classes):
        cv.rect(x + w / 2 - 0.1 * m, y_top - 0.3 * m, x + w / 2 + 0.1 * m, y_bottom + 0.3 * m, (90, 90, 90))
        y = y_top
        while y < y_bottom - 0.5 * m:
            ph = min(y_bottom - y, rng.uniform(2.0, 5.0) * m)
            bg = jitter(rng, pick(rng, SIGN_COLOURS), 8)
            cv.rect(x, y, x + w, y + ph - 0.15 * m, bg)
            ink = _text_colour(bg)
            s = w * 0.7
            gy = y + 0.25 * m
            while gy + s < y + ph - 0.3 * m:
                _kanji(sc, x + (w - s) / 2, gy, s, ink)
                gy += s * 1.2
            y += ph


HANGUL_BOARDS = ((28, 72, 170), (200, 38, 42), (28, 130, 72), (240, 122, 28), (250, 212, 40),
                 (250, 250, 248), (110, 50, 150))


def _hangul(sc: Scene, x: float, y: float, s: float, ink: Color) -> None:
    """A syllable block: an initial consonant (often a circle), a vowel bar, maybe a final."""
    rng, cv = sc.rng, sc.cv
    below = rng.random() < 0.4  # vowel under the consonant (like o/u) or beside it (like a/i)
    cw = s * (0.55 if not below else 0.6)
    ch = s * (0.55 if below else 0.7) * (0.7 if rng.random() < 0.4 else 1.0)
    kind = rng.choice(("o", "o", "k", "m", "n"))
    if kind == "o":
        cv.ring(x, y, x + cw, y + ch, ink)
    elif kind == "m":
        cv.rect(x, y, x + cw, y + 0.001, ink)
        cv.rect(x, y + ch, x + cw, y + ch + 0.001, ink)
        cv.rect(x, y, x + 0.001, y + ch, ink)
        cv.rect(x + cw, y, x + cw + 0.001, y + ch + 0.001, ink)
    elif kind == "k":
        cv.rect(x, y, x + cw, y + 0.001, ink)
        cv.rect(x + cw, y, x + cw + 0.001, y + ch, ink)
    else:
        cv.rect(x, y, x + 0.001, y + ch, ink)
        cv.rect(x, y + ch, x + cw, y + ch + 0.001, ink)
    if below:
        vy = y + ch + s * 0.12
        cv.rect(x - s * 0.05, vy, x + s * 0.8, vy + 0.001, ink)
        cv.rect(x + s * 0.35, vy - s * 0.1, x + s * 0.35 + 0.001, vy, ink)
    else:
        vx = x + cw + s * 0.18
        cv.rect(vx, y - s * 0.05, vx + 0.001, y + s * 0.85, ink)
        cv.rect(vx, y + s * 0.35, vx + s * 0.15, y + s * 0.35 + 0.001, ink)
    if rng.random() < 0.35:  # final consonant
        if rng.random() < 0.5:
            cv.ring(x + s * 0.1, y + s * 0.78, x + s * 0.6, y + s * 1.05, ink)
        else:
            cv.rect(x, y + s, x + s * 0.7, y + s + 0.001, ink)


def hangul_signboard(sc: Scene, fac: Facade, classes) -> None:
    """Seoul: a bold horizontal signboard across a storey with rows of hangul blocks
    (sometimes a vertical one on the building edge)."""
    rng, m, cv = sc.rng, sc.m, sc.cv
    rows = [i for i in range(len(fac.floors)) if ("board", i) not in fac.used]
    if not rows:
        return
    i = rng.choice(rows[:4])  # signboards crowd the lower storeys
    fac.used.add(("board", i))
    ft, fb = fac.floors[i]
    bg = jitter(rng, pick(rng, HANGUL_BOARDS), 8)
    ink = _text_colour(bg) if sum(bg) < 700 else pick(rng, [(200, 30, 30), (28, 60, 160)])
    bh = rng.uniform(1.1, 1.7) * m
    inset = rng.uniform(0.2, 0.2 + 0.25 * fac.width / m) * m
    x0, x1 = fac.x0 + inset * rng.random(), fac.x1 - inset * rng.random()
    y0 = ft + (0.05 if i else 0.3) * (fb - ft)
    with cv.cue("hangul_signboard", classes):
        cv.rect(x0, y0, x1, y0 + bh, bg)
        cv.rect(x0, y0 + bh - 0.08 * m, x1, y0 + bh, shade(bg, 0.7))
        s = bh * 0.62
        n = rng.randint(3, 7)
        width = n * s * 1.3
        gx = x0 + rng.uniform(0.1, 0.5) * max(0.0, (x1 - x0) - width)
        for _ in range(n):
            if gx + s > x1 - 0.1 * m:
                break
            _hangul(sc, gx, y0 + bh * 0.15, s, ink)
            gx += s * 1.3
        if rng.random() < 0.4 and x1 - gx > 3 * s:  # phone number strip
            cv.rect(gx + s * 0.5, y0 + bh * 0.55, x1 - s * 0.5, y0 + bh * 0.7, ink)


# == on the sidewalk ===================================================================
def phone_box(sc: Scene, x: float, y: float, scale: float, classes) -> None:
    """K6 kiosk: red, domed crown, light 'TELEPHONE' strip, many small panes."""
    rng, m, cv = sc.rng, sc.m * scale, sc.cv
    red = jitter(rng, (205, 22, 28), 8)
    w, h = 0.95 * m, 2.5 * m
    with cv.cue("phone_box", classes):
        cv.ellipse(x - w * 0.45, y - h - 0.35 * m, x + w * 0.45, y - h + 0.15 * m, red)
        cv.rect(x - w / 2 - 0.05 * m, y - h - 0.05 * m, x + w / 2 + 0.05 * m, y - h + 0.15 * m, shade(red, 0.85))
        cv.rect(x - w / 2, y - h, x + w / 2, y, red)
        cv.rect(x - w * 0.38, y - h + 0.2 * m, x + w * 0.38, y - h + 0.38 * m, (238, 236, 225))
        pane = (200, 212, 218)
        cols, rows = 3, 6
        gx0, gx1 = x - w * 0.36, x + w * 0.36
        gy0, gy1 = y - h + 0.55 * m, y - 0.45 * m
        pw, ph = (gx1 - gx0) / cols, (gy1 - gy0) / rows
        for r in range(rows):
            for c in range(cols):
                cv.rect(gx0 + c * pw + 0.03 * m, gy0 + r * ph + 0.03 * m,
                        gx0 + (c + 1) * pw - 0.03 * m, gy0 + (r + 1) * ph - 0.03 * m, pane)
        cv.rect(x - w / 2, y - 0.15 * m, x + w / 2, y, shade(red, 0.7))


def vending_machine(sc: Scene, x: float, y: float, scale: float, classes) -> None:
    """Japanese drinks machine: a lit window of bottles above the buttons."""
    rng, m, cv = sc.rng, sc.m * scale, sc.cv
    body = jitter(rng, pick(rng, [(240, 240, 238), (200, 30, 35), (30, 80, 170), (240, 140, 30),
                                  (40, 140, 70)]), 8)
    w, h = 1.0 * m, 1.85 * m
    x0 = x - w / 2
    with cv.cue("vending_machine", classes):
        cv.rect(x0, y - h, x0 + w, y, body)
        cv.rect(x0 + 0.08 * m, y - h + 0.1 * m, x0 + w - 0.08 * m, y - h + 0.95 * m, (236, 240, 242))
        bottles = [(200, 40, 40), (40, 90, 180), (40, 150, 80), (240, 160, 30), (120, 70, 40), (250, 250, 250)]
        for r in range(3):
            by = y - h + 0.18 * m + r * 0.27 * m
            bx = x0 + 0.12 * m
            while bx < x0 + w - 0.2 * m:
                cv.rect(bx, by, bx + 0.09 * m, by + 0.17 * m, pick(rng, bottles))
                bx += 0.14 * m
            cv.rect(x0 + 0.08 * m, by + 0.19 * m, x0 + w - 0.08 * m, by + 0.22 * m, (60, 60, 60))
        cv.rect(x0 + 0.08 * m, y - h + 1.0 * m, x0 + w - 0.08 * m, y - h + 1.3 * m, shade(body, 0.8))
        cv.rect(x0 + 0.2 * m, y - 0.45 * m, x0 + w - 0.2 * m, y - 0.22 * m, (30, 30, 30))


def street_tree(sc: Scene, x: float, y: float, scale: float, classes) -> None:
    """Plane / ginkgo style street tree: slim trunk, rounded clustered canopy."""
    rng, m, cv = sc.rng, sc.m * scale, sc.cv
    autumn = rng.random() < 0.12
    base_col = (230, 185, 50) if autumn else pick(rng, [(70, 120, 55), (90, 135, 60), (60, 105, 60)])
    trunk_h = rng.uniform(2.5, 3.8) * m
    crown_w = rng.uniform(3.5, 6.0) * m
    crown_h = crown_w * rng.uniform(0.9, 1.3)
    cy = y - trunk_h - crown_h / 2
    with cv.cue("street_tree", classes):
        cv.rect(x - 0.7 * m, y - 0.05 * m, x + 0.7 * m, y + 0.05 * m, (60, 58, 55))
        cv.rect(x - 0.14 * m, y - trunk_h - crown_h * 0.3, x + 0.14 * m, y, jitter(rng, (100, 90, 75), 10))
        for k in range(rng.randint(6, 10)):
            r = rng.uniform(0.28, 0.45) * crown_w
            dx = rng.uniform(-0.5, 0.5) * (crown_w - r)
            dy = rng.uniform(-0.5, 0.5) * (crown_h - r)
            col = shade(jitter(rng, base_col, 12), 0.8 + 0.05 * k)
            cv.ellipse(x + dx - r, cy + dy - r * 0.9, x + dx + r, cy + dy + r * 0.9, col)


def lush_tree(sc: Scene, x: float, y: float, scale: float, classes) -> None:
    """Tropical greenery: a broad rain tree or a palm, deep saturated greens."""
    rng, m, cv = sc.rng, sc.m * scale, sc.cv
    greens = [(30, 95, 40), (45, 120, 45), (60, 140, 55), (25, 80, 35), (80, 150, 60)]
    with cv.cue("lush_tree", classes):
        if rng.random() < 0.65:  # rain tree
            trunk_h = rng.uniform(3.5, 5) * m
            cw = rng.uniform(9, 15) * m
            ch = cw * rng.uniform(0.45, 0.6)
            cy = y - trunk_h - ch * 0.45
            bark = jitter(rng, (70, 60, 50), 8)
            cv.rect(x - 0.3 * m, y - trunk_h, x + 0.3 * m, y, bark)
            for s in (-1, 1):
                cv.line([(x, y - trunk_h * 0.8), (x + s * cw * 0.3, cy)], bark, 0.2 * m)
            for k in range(rng.randint(12, 18)):
                r = rng.uniform(0.15, 0.28) * cw
                dx = rng.uniform(-0.5, 0.5) * (cw - r)
                dy = rng.uniform(-0.45, 0.35) * ch
                col = shade(jitter(rng, pick(rng, greens), 10), 0.75 + 0.025 * k)
                cv.ellipse(x + dx - r, cy + dy - r * 0.6, x + dx + r, cy + dy + r * 0.6, col)
        else:  # palm
            h = rng.uniform(7, 11) * m
            lean = rng.uniform(-0.12, 0.12) * h
            top = (x + lean, y - h)
            cv.line([(x, y), (x + lean * 0.4, y - h * 0.5), top], (125, 105, 80), 0.35 * m)
            for k in range(rng.randint(7, 11)):
                ang = -3.1 + 3.0 * k / 10 + rng.uniform(-0.15, 0.15)
                ln = rng.uniform(2.5, 3.8) * m
                mid = (top[0] + math.cos(ang) * ln * 0.55, top[1] + math.sin(ang) * ln * 0.55 - 0.5 * m)
                end = (top[0] + math.cos(ang) * ln, top[1] + math.sin(ang) * ln * 0.6 + 1.0 * m)
                cv.line([top, mid, end], jitter(rng, pick(rng, greens), 10), 0.3 * m)


def traffic_light_vertical(sc: Scene, x: float, y: float, scale: float, classes) -> None:
    rng, m, cv = sc.rng, sc.m * scale, sc.cv
    lit = rng.randrange(3)
    head = (25, 27, 28) if rng.random() < 0.7 else (40, 60, 45)
    with cv.cue("traffic_light_vertical", classes):
        cv.rect(x - 0.07 * m, y - 3.3 * m, x + 0.07 * m, y, (60, 62, 64))
        hx0, hy0 = x - 0.22 * m, y - 4.3 * m
        if rng.random() < 0.5:  # backboard with a white border
            cv.rect(hx0 - 0.12 * m, hy0 - 0.1 * m, hx0 + 0.56 * m, hy0 + 1.2 * m, (235, 235, 235))
            cv.rect(hx0 - 0.08 * m, hy0 - 0.06 * m, hx0 + 0.52 * m, hy0 + 1.16 * m, head)
        cv.rect(hx0, hy0, hx0 + 0.44 * m, hy0 + 1.1 * m, head)
        for k, col in enumerate(((230, 40, 30), (240, 170, 30), (40, 210, 110))):
            c = col if k == lit else shade(col, 0.3)
            cy = hy0 + 0.08 * m + k * 0.34 * m
            cv.ellipse(x - 0.13 * m, cy, x + 0.13 * m, cy + 0.27 * m, c)


def traffic_light_horizontal(sc: Scene, x: float, y: float, scale: float, classes) -> None:
    """Japanese/Korean style: three lamps side by side on an arm (the green is teal)."""
    rng, m, cv = sc.rng, sc.m * scale, sc.cv
    lit = rng.randrange(3)
    d = 1 if rng.random() < 0.5 else -1
    with cv.cue("traffic_light_horizontal", classes):
        cv.rect(x - 0.09 * m, y - 5.2 * m, x + 0.09 * m, y, (150, 150, 148))
        arm_end = x + d * 2.2 * m
        cv.line([(x, y - 5.0 * m), (arm_end, y - 5.0 * m)], (150, 150, 148), 0.08 * m)
        hx0 = arm_end - 1.3 * m if d > 0 else arm_end
        body = (150, 150, 148) if rng.random() < 0.6 else (40, 40, 42)
        cv.rect(hx0, y - 5.3 * m, hx0 + 1.3 * m, y - 4.85 * m, body)
        for k, col in enumerate(((30, 200, 170), (245, 175, 30), (235, 40, 30))):
            c = col if k == lit else shade(col, 0.35)
            cx = hx0 + 0.1 * m + k * 0.4 * m
            cv.ellipse(cx, y - 5.25 * m, cx + 0.32 * m, y - 4.92 * m, c)
        if rng.random() < 0.5:  # pedestrian signal lower on the pole
            cv.rect(x - d * 0.5 * m - 0.2 * m, y - 2.9 * m, x - d * 0.5 * m + 0.2 * m, y - 2.1 * m, (40, 40, 42))
            cv.rect(x - d * 0.5 * m - 0.12 * m, y - 2.8 * m, x - d * 0.5 * m + 0.12 * m, y - 2.55 * m,
                    (235, 40, 30) if lit == 2 else (80, 30, 30))


def morris_column(sc: Scene, x: float, y: float, scale: float, classes) -> None:
    """Paris advertising column: dark green drum, posters, a little dome."""
    rng, m, cv = sc.rng, sc.m * scale, sc.cv
    green = jitter(rng, (40, 75, 55), 6)
    r = 0.6 * m
    with cv.cue("morris_column", classes):
        cv.rect(x - r - 0.08 * m, y - 0.5 * m, x + r + 0.08 * m, y, green)
        cv.rect(x - r, y - 3.2 * m, x + r, y - 0.5 * m, green)
        px = x - r + 0.05 * m
        while px < x + r - 0.2 * m:
            pw = rng.uniform(0.35, 0.6) * m
            cv.rect(px, y - 2.95 * m, min(px + pw, x + r - 0.05 * m), y - 0.8 * m,
                    jitter(rng, pick(rng, SIGN_COLOURS), 20))
            px += pw + 0.05 * m
        cv.rect(x - r - 0.12 * m, y - 3.45 * m, x + r + 0.12 * m, y - 3.2 * m, green)
        cv.ellipse(x - r, y - 4.1 * m, x + r, y - 3.0 * m, green)
        cv.rect(x - 0.05 * m, y - 4.4 * m, x + 0.05 * m, y - 4.0 * m, green)


# == in a lane =========================================================================
def double_decker_bus(sc: Scene, x: float, yb: float, scale: float, facing: int, classes) -> None:
    """London Routemaster-style bus: red, two rows of windows, dark skirt."""
    rng, m, cv = sc.rng, sc.m * scale, sc.cv
    bus = Placed(x, yb, 10.5 * m, 4.4 * m, facing)
    red = jitter(rng, (205, 25, 32), 8)
    glass = mix((35, 40, 50), sc.horizon_sky, 0.2)
    cv.ellipse(bus.x - 0.1 * m, yb - 0.2 * m, bus.x + bus.length + 0.1 * m, yb + 0.2 * m, (35, 35, 38))
    with cv.cue("double_decker_bus", classes):
        cv.poly([bus.pt(u, v) for u, v in [(0, .06), (0, .95), (.02, 1), (.98, 1), (1, .95), (1, .06)]], red)
        cv.rect(*bus.rect(0, 0.06, 1, 0.12), shade(red, 0.45))
        for v0, v1, u0, u1, step in ((0.44, 0.68, 0.04, 0.78, 0.105), (0.75, 0.93, 0.03, 0.97, 0.118)):
            u = u0
            while u + step * 0.85 <= u1 + 1e-6:
                cv.rect(*bus.rect(u, v0, u + step * 0.85, v1), glass)
                u += step
        cv.rect(*bus.rect(0.0, 0.7, 1.0, 0.72), (235, 225, 200))
        cv.rect(*bus.rect(0.8, 0.12, 0.9, 0.68), glass)  # doors
        cv.rect(*bus.rect(0.845, 0.12, 0.855, 0.68), shade(red, 0.8))
        cv.rect(*bus.rect(0.92, 0.4, 1.0, 0.68), glass)  # windscreen
        cv.rect(*bus.rect(0.9, 0.94, 0.99, 0.985), (20, 20, 20))
        cv.rect(*bus.rect(0.91, 0.95, 0.95, 0.975), (250, 200, 40))
        cv.rect(*bus.rect(0.97, 0.18, 1.0, 0.24), (245, 235, 190))
        paint_wheels(sc, bus, (0.16, 0.8), 0.5 * m)


def yellow_cab(sc: Scene, x: float, yb: float, scale: float, facing: int, classes) -> None:
    """New York taxi: yellow sedan or minivan with a roof light and a dark stripe."""
    rng, cv = sc.rng, sc.cv
    kind = pick(rng, ["sedan", "suv", "van"], [3, 1, 1])
    with cv.cue("yellow_cab", classes):
        car = paint_vehicle(sc, kind, x, yb, scale, facing, jitter(rng, (246, 196, 22), 8))
        cv.rect(*car.rect(0.02, 0.33, 0.98, 0.37), (25, 25, 25))
        u = 0.46 if kind == "sedan" else 0.4
        cv.rect(*car.rect(u, 0.97, u + 0.14, 1.1), (245, 240, 220))


# == overhead ==========================================================================
def overhead_wires(sc: Scene, classes) -> None:
    """Concrete utility poles with crossarms and transformers, and a tangle of sagging
    cables across the sky -- the texture of Japanese streets."""
    rng, m, cv = sc.rng, sc.m * 1.05, sc.cv
    y = sc.sidewalk_y()
    n = rng.randint(1, 2)
    xs = sorted(rng.uniform(0.05, 0.95) for _ in range(n))
    top = y - rng.uniform(10, 12) * m
    pole = jitter(rng, (160, 160, 155), 8)
    cable = (28, 28, 30)
    attach = [top + (0.5 + 0.7 * k) * m for k in range(rng.randint(4, 7))]
    with cv.cue("overhead_wires", classes):
        for px in xs:
            cv.rect(px - 0.17 * m, top, px + 0.17 * m, y, pole)
            for k in range(2):
                cy = top + (0.6 + 1.6 * k) * m
                cv.rect(px - 1.0 * m, cy, px + 1.0 * m, cy + 0.12 * m, (70, 70, 70))
            if rng.random() < 0.7:
                cv.rect(px + 0.2 * m, top + 3.0 * m, px + 0.9 * m, top + 4.3 * m, (130, 135, 135))
                cv.rect(px + 0.2 * m, top + 3.4 * m, px + 0.9 * m, top + 3.5 * m, (90, 90, 90))
            if rng.random() < 0.5:  # pole ID plate
                cv.rect(px - 0.16 * m, y - 3.0 * m, px + 0.16 * m, y - 2.0 * m, (240, 200, 40))
        anchors = [-0.05] + xs + [1.05]
        for ay in attach:
            drift = rng.uniform(-0.4, 0.4) * m
            for a, b in zip(anchors, anchors[1:]):
                sag = rng.uniform(0.01, 0.035) * (b - a)
                ya = ay + (drift * 3 if a < 0 else 0)
                yb_ = ay + (drift * 3 if b > 1 else 0)
                pts = [(a + (b - a) * t / 12, ya + (yb_ - ya) * t / 12 + sag * 4 * (t / 12) * (1 - t / 12) * 10)
                       for t in range(13)]
                cv.line(pts, cable)
        for px in xs:  # service drops to the buildings
            for _ in range(rng.randint(1, 3)):
                ex = px + rng.uniform(-0.25, 0.25)
                cv.line([(px, top + 2 * m), ((px + ex) / 2, top + 2.6 * m), (ex, sc.base - rng.uniform(6, 10) * m)], cable)


# == registry ==========================================================================
@dataclass(frozen=True)
class CuePainter:
    """Where a cue kind is placed and how it is painted.

    place: "background" | "midground" | "overhead" -> fn(sc, classes);
           "building" -> fn(sc, x0, x1, classes) -> Facade (replaces a front-row building);
           "facade" -> fn(sc, facade, classes) (decorates a front-row building);
           "furniture" -> fn(sc, x, y, scale, classes) (stands on the far sidewalk);
           "vehicle" -> fn(sc, x, y, scale, facing, classes) (drives in a lane).
    size: metres -- building width, furniture footprint or vehicle length.
    """

    place: str
    fn: Callable
    size: tuple[float, float] = (1.0, 1.0)
    terrace: bool = False  # building cues whose instances stand side by side
    reuse: bool = False  # facade cues that several instances may share
    min_floors: int = 1  # facade cues: only on buildings this tall
    regular_only: bool = True  # facade cues: only on ordinary (non-cue) buildings
    foreground_p: float = 0.0  # furniture: chance to stand in the near foreground


CUES: dict[str, CuePainter] = {
    "mountains": CuePainter("background", mountains),
    "stalin_spire": CuePainter("background", stalin_spire),
    "glass_tower": CuePainter("midground", glass_tower),
    "onion_domes": CuePainter("building", church, (14, 22)),
    "golden_roof": CuePainter("building", palace, (16, 30)),
    "machiya_facade": CuePainter("building", machiya, (6, 9), terrace=True),
    "shophouse": CuePainter("building", shophouse, (5, 6.5), terrace=True),
    "iron_balconies": CuePainter("facade", iron_balconies, min_floors=4),
    "mansard_roof": CuePainter("facade", mansard_roof, min_floors=3),
    "fire_escape": CuePainter("facade", fire_escape, min_floors=4),
    "water_tower": CuePainter("facade", water_tower, min_floors=4),
    "red_lantern": CuePainter("facade", red_lantern, reuse=True, regular_only=False),
    "tokyo_sign": CuePainter("facade", tokyo_sign, reuse=True, min_floors=3),
    "hangul_signboard": CuePainter("facade", hangul_signboard, reuse=True, min_floors=2),
    "phone_box": CuePainter("furniture", phone_box, (1.2, 1.2)),
    "vending_machine": CuePainter("furniture", vending_machine, (1.1, 1.1)),
    "street_tree": CuePainter("furniture", street_tree, (1.0, 1.0)),
    "lush_tree": CuePainter("furniture", lush_tree, (1.5, 1.5), foreground_p=0.35),
    "traffic_light_vertical": CuePainter("furniture", traffic_light_vertical, (0.8, 0.8)),
    "traffic_light_horizontal": CuePainter("furniture", traffic_light_horizontal, (1.0, 1.0)),
    "morris_column": CuePainter("furniture", morris_column, (1.4, 1.4)),
    "double_decker_bus": CuePainter("vehicle", double_decker_bus, (10.5, 10.5)),
    "yellow_cab": CuePainter("vehicle", yellow_cab, (4.8, 4.8)),
    "overhead_wires": CuePainter("overhead", overhead_wires),
}
