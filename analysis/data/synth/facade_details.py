"""The top and the skin of an ordinary facade: roofs (flat, cornice, parapet, tiled …) and
wall textures (brick, courses, panels …), each a painter named by the building profiles
in ``styles.py``."""

from __future__ import annotations

from analysis.data.synth.draw import jitter, pick, shade


# -- roofs -----------------------------------------------------------------------------
def roof_flat(sc, fac, b):
    sc.cv.rect(fac.x0, fac.top, fac.x1, fac.top + 0.2 * sc.m, shade(fac.wall, 0.75))


def roof_cornice(sc, fac, b):
    cv, m = sc.cv, sc.m
    cv.rect(fac.x0 - 0.3 * m, fac.top - 0.1 * m, fac.x1 + 0.3 * m, fac.top + 0.4 * m, b.trim)
    cv.rect(fac.x0, fac.top + 0.4 * m, fac.x1, fac.top + 0.55 * m, shade(fac.wall, 0.7))
    fac.roof_top = fac.top - 0.1 * m


def roof_parapet(sc, fac, b):
    cv, rng, m = sc.cv, sc.rng, sc.m
    cv.rect(fac.x0, fac.top - 0.9 * m, fac.x1, fac.top, fac.wall)
    cv.rect(fac.x0, fac.top - 1.0 * m, fac.x1, fac.top - 0.85 * m, b.trim)
    fac.roof_top = fac.top - 1.0 * m
    if rng.random() < 0.5:  # chimney stack with pots
        x = fac.x0 + rng.uniform(0.1, 0.7) * fac.width
        stack = shade(fac.wall, 0.9)
        cv.rect(x, fac.top - 2.4 * m, x + 1.6 * m, fac.top - 1.0 * m, stack)
        for k in range(3):
            px = x + 0.15 * m + k * 0.5 * m
            cv.rect(px, fac.top - 2.8 * m, px + 0.3 * m, fac.top - 2.4 * m, (180, 95, 60))
        fac.roof_top = fac.top - 2.8 * m


def roof_rooftop(sc, fac, b):
    """Flat roof with machinery boxes and a railing, as on Tokyo mid-rises."""
    cv, rng, m = sc.cv, sc.rng, sc.m
    roof_flat(sc, fac, b)
    for _ in range(rng.randint(0, 2)):
        w = rng.uniform(1, 3) * m
        x = rng.uniform(fac.x0, max(fac.x0, fac.x1 - w))
        h = rng.uniform(0.8, 2.0) * m
        cv.rect(x, fac.top - h, x + w, fac.top, jitter(rng, (175, 175, 170), 12))
    if rng.random() < 0.4:
        cv.rect(fac.x0, fac.top - 1.0 * m, fac.x1, fac.top - 0.9 * m, (110, 110, 110))
        x = fac.x0
        while x < fac.x1:
            cv.rect(x, fac.top - 1.0 * m, x + 0.08 * m, fac.top, (110, 110, 110))
            x += 1.2 * m
    fac.roof_top = fac.top - 2.0 * m


def _tile_lines(sc, pts_top, pts_bot, x0, x1, colour, spacing):
    cv, m = sc.cv, sc.m
    x = x0 + spacing * m / 2
    while x < x1:
        t = (x - x0) / max(x1 - x0, 1e-6)
        cv.line([(x, pts_top[0] + t * (pts_top[1] - pts_top[0])),
                 (x, pts_bot[0] + t * (pts_bot[1] - pts_bot[0]))], colour)
        x += spacing * m


def roof_gable_tile(sc, fac, b):
    """Clay-tiled pitched roof seen from the street: a sloped band with tile courses."""
    cv, m = sc.cv, sc.m
    tile = jitter(sc.rng, (180, 85, 55), 12)
    h = 1.6 * m
    cv.poly([(fac.x0 - 0.4 * m, fac.top + 0.3 * m), (fac.x1 + 0.4 * m, fac.top + 0.3 * m),
             (fac.x1 - 0.2 * m, fac.top - h), (fac.x0 + 0.2 * m, fac.top - h)], tile)
    _tile_lines(sc, (fac.top - h, fac.top - h), (fac.top + 0.2 * m, fac.top + 0.2 * m),
                fac.x0 + 0.2 * m, fac.x1 - 0.2 * m, shade(tile, 0.8), 0.6)
    fac.roof_top = fac.top - h


def roof_eave_tile(sc, fac, b):
    """Japanese kawara roof: dark grey tiles, deep eave, a heavy ridge."""
    cv, m = sc.cv, sc.m
    tile = jitter(sc.rng, (78, 80, 86), 8)
    h = 1.8 * m
    cv.poly([(fac.x0 - 0.6 * m, fac.top + 0.4 * m), (fac.x1 + 0.6 * m, fac.top + 0.4 * m),
             (fac.x1 - 0.3 * m, fac.top - h), (fac.x0 + 0.3 * m, fac.top - h)], tile)
    _tile_lines(sc, (fac.top - h, fac.top - h), (fac.top + 0.3 * m, fac.top + 0.3 * m),
                fac.x0, fac.x1, shade(tile, 0.72), 0.45)
    cv.rect(fac.x0 + 0.2 * m, fac.top - h - 0.35 * m, fac.x1 - 0.2 * m, fac.top - h, shade(tile, 0.8))
    fac.roof_top = fac.top - h - 0.35 * m


def roof_grey_tile(sc, fac, b):
    """Hutong roof: grey tiles with slightly raised ridge ends."""
    cv, m = sc.cv, sc.m
    tile = jitter(sc.rng, (95, 98, 102), 8)
    h = 1.4 * m
    cv.poly([(fac.x0 - 0.5 * m, fac.top + 0.3 * m), (fac.x1 + 0.5 * m, fac.top + 0.3 * m),
             (fac.x1 - 0.2 * m, fac.top - h), (fac.x0 + 0.2 * m, fac.top - h)], tile)
    _tile_lines(sc, (fac.top - h, fac.top - h), (fac.top + 0.2 * m, fac.top + 0.2 * m),
                fac.x0, fac.x1, shade(tile, 0.75), 0.4)
    ridge = shade(tile, 0.7)
    cv.rect(fac.x0 + 0.1 * m, fac.top - h - 0.3 * m, fac.x1 - 0.1 * m, fac.top - h, ridge)
    for x in (fac.x0 + 0.1 * m, fac.x1 - 0.5 * m):
        cv.rect(x, fac.top - h - 0.7 * m, x + 0.4 * m, fac.top - h, ridge)
    fac.roof_top = fac.top - h - 0.7 * m


ROOFS = {
    "flat": roof_flat, "cornice": roof_cornice, "parapet": roof_parapet,
    "rooftop": roof_rooftop, "gable_tile": roof_gable_tile, "eave_tile": roof_eave_tile,
    "grey_tile": roof_grey_tile,
}


# -- wall textures ---------------------------------------------------------------------
def tex_plain(sc, fac):
    pass


def tex_brick(sc, fac):
    """Mortar courses plus scattered brick tone changes; skipped when they would alias."""
    cv, rng, m = sc.cv, sc.rng, sc.m
    if 0.3 * m * cv.size < 1.6:
        return
    mortar = shade(fac.wall, 1.1)
    y = fac.top + 0.3 * m
    while y < fac.base:
        cv.rect(fac.x0, y, fac.x1, y + 0.001, mortar)
        y += 0.3 * m * 2
    for _ in range(int(fac.width * (fac.base - fac.top) / (m * m) / 6)):
        x = rng.uniform(fac.x0, fac.x1 - 0.5 * m)
        y = rng.uniform(fac.top, fac.base - 0.3 * m)
        cv.rect(x, y, x + 0.5 * m, y + 0.25 * m, shade(fac.wall, rng.uniform(0.85, 1.08)))


def tex_courses(sc, fac):
    """Dressed stone: faint horizontal joints."""
    cv, m = sc.cv, sc.m
    joint = shade(fac.wall, 0.93)
    y = fac.top + 0.6 * m
    while y < fac.base:
        cv.rect(fac.x0, y, fac.x1, y + 0.001, joint)
        y += 0.6 * m


def tex_panels(sc, fac):
    """Precast panels: a grid of joints at every storey and every other bay."""
    cv, m = sc.cv, sc.m
    joint = shade(fac.wall, 0.88)
    for ft, _ in fac.floors[1:]:
        cv.rect(fac.x0, ft, fac.x1, ft + 0.001, joint)
    x = fac.x0 + 6 * m
    while x < fac.x1:
        cv.rect(x, fac.top, x + 0.001, fac.floors[0][0], joint)
        x += 6 * m


def tex_tiles(sc, fac):
    """Small facade tiles read as a fine grid of lighter lines."""
    cv, m = sc.cv, sc.m
    if 0.5 * m * cv.size < 2:
        return
    joint = shade(fac.wall, 1.05)
    y = fac.top + 0.5 * m
    while y < fac.floors[0][0]:
        cv.rect(fac.x0, y, fac.x1, y + 0.001, joint)
        y += 1.0 * m


def tex_accents(sc, fac):
    """Public housing blocks: full-height coloured bands between the window bays."""
    cv, rng, m = sc.cv, sc.rng, sc.m
    accent = jitter(rng, pick(rng, [(200, 90, 80), (90, 140, 190), (110, 170, 120), (230, 180, 90),
                                    (170, 130, 190)]), 10)
    tex_panels(sc, fac)
    for _ in range(rng.randint(1, 3)):
        x = rng.uniform(fac.x0, fac.x1 - 2 * m)
        cv.rect(x, fac.top, x + rng.uniform(1.5, 3.0) * m, fac.floors[0][0], accent)
    cv.rect(fac.x0, fac.floors[0][0] - 0.5 * m, fac.x1, fac.floors[0][0], accent)


TEXTURES = {"plain": tex_plain, "accents": tex_accents, "brick": tex_brick, "courses": tex_courses,
            "panels": tex_panels, "tiles": tex_tiles}
