"""Cues on a facade: balconies, mansard roofs, fire escapes, water towers, lanterns, signs."""

from __future__ import annotations

from analysis.data.synth.draw import Color, jitter, pick, shade
from analysis.data.synth.facades import Facade
from analysis.data.synth.layout import Scene

IRON: Color = (28, 30, 32)


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


