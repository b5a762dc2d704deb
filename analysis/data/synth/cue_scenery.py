"""Cues of the city's backdrop: mountains, a Stalinist spire, glass towers, overhead wires."""

from __future__ import annotations

from analysis.data.synth.draw import jitter, mix, pick, shade
from analysis.data.synth.layout import Scene


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


