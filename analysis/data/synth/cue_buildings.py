"""Cue buildings that replace an ordinary front-row building: an onion-domed church, a
palace hall with a glazed golden roof, machiya, shophouses."""

from __future__ import annotations

from analysis.data.synth.draw import Color, jitter, pick, shade
from analysis.data.synth.facade_details import roof_eave_tile
from analysis.data.synth.facades import Facade, columns_for, storeys
from analysis.data.synth.layout import Scene


def _interp(xs: list[float], ys: list[float], x: float) -> float:
    """Piecewise-linear y(x) along a polyline: the first segment whose end is at or past x.

    Not ``np.interp``: a roof profile folds back on itself where its inset is narrower
    than the eave's overhang (``a + inset < a + 0.8 m``), and ``np.interp`` requires
    increasing xs (its answer is undefined otherwise); this walk is the drawing's rule,
    and changing it would move the demo's pixels."""
    if x <= xs[0]:
        return ys[0]
    for i in range(1, len(xs)):
        if x <= xs[i]:
            t = (x - xs[i - 1]) / max(xs[i] - xs[i - 1], 1e-9)
            return ys[i - 1] + t * (ys[i] - ys[i - 1])
    return ys[-1]


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


