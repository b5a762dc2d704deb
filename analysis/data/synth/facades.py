"""Ordinary building facades: the wall, its window rows and its ground floor (roofs and
wall textures: ``facade_details.py``).

Each building profile in ``styles.py`` names its window, ground-floor, roof and texture
painters; dictionaries map those names to functions. Cue buildings (shophouses, machiya,
glass towers ...) live in the ``cue_*`` modules and reuse the helpers here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analysis.data.synth.draw import Color, jitter, mix, pick, shade
from analysis.data.synth.facade_details import ROOFS, TEXTURES
from analysis.data.synth.layout import Scene
from analysis.data.synth.styles import Building

AWNINGS: tuple[Color, ...] = ((150, 30, 35), (30, 80, 50), (40, 50, 100), (200, 120, 40),
                              (60, 60, 60), (230, 230, 225))
FASCIAS: tuple[Color, ...] = ((30, 30, 35), (150, 30, 35), (30, 70, 130), (240, 240, 235),
                              (40, 110, 60), (220, 170, 40))
DOORS: tuple[Color, ...] = ((25, 25, 30), (130, 25, 30), (30, 45, 90), (30, 80, 55), (90, 60, 40))


@dataclass
class Facade:
    """Where a painted building's parts are, so cues can attach to it."""

    x0: float
    x1: float
    top: float  # top of the wall (roofs sit above)
    base: float
    floors: list[tuple[float, float]]  # (top, bottom) per storey, ground floor first
    columns: list[tuple[float, float]]  # window x-extents
    wall: Color
    roof_top: float = 0.0  # highest point including roof furniture
    window_rows: list[tuple[float, float]] = field(default_factory=list)  # upper floors
    regular: bool = True  # an ordinary building (cue buildings set False)
    used: set = field(default_factory=set)  # slots taken by decorations (signs, lanterns)

    @property
    def width(self) -> float:
        return self.x1 - self.x0


def columns_for(x0: float, x1: float, bay: float, frac: float) -> list[tuple[float, float]]:
    """Evenly spaced window columns: ``frac`` of each bay is window."""
    n = max(1, round((x1 - x0) / bay))
    step = (x1 - x0) / n
    half = step * frac / 2
    return [(x0 + step * (i + 0.5) - half, x0 + step * (i + 0.5) + half) for i in range(n)]


def storeys(base: float, n: int, floor_h: float, ground_h: float) -> list[tuple[float, float]]:
    out = [(base - ground_h, base)]
    for i in range(1, n):
        bottom = out[-1][0]
        out.append((bottom - floor_h, bottom))
    return out


def paint_building(sc: Scene, b: Building, x0: float, x1: float, n_floors: int | None = None,
                   wall: Color | None = None) -> Facade:
    """Wall, texture, windows, ground floor, roof -- in that order, later parts on top."""
    rng, m = sc.rng, sc.m
    n = n_floors if n_floors is not None else rng.randint(*b.floors)
    fh = b.floor_m * m * rng.uniform(0.95, 1.06)
    floors = storeys(sc.base, n, fh, fh * 1.2)
    wall = wall or jitter(rng, pick(rng, b.walls), 10)
    fac = Facade(x0, x1, floors[-1][0], sc.base, floors, [], wall)
    sc.cv.rect(x0, fac.top, x1, sc.base, wall)
    TEXTURES[b.texture](sc, fac)
    sc.cv.rect(x0, fac.top, x0 + 0.15 * sc.m, sc.base, shade(wall, 0.8))  # party-wall edge
    paint_window_rows(sc, fac, b)
    GROUNDS[b.ground](sc, fac, b)
    fac.roof_top = fac.top
    ROOFS[b.roof](sc, fac, b)
    return fac


def paint_window_rows(sc: Scene, fac: Facade, b: Building) -> None:
    frac, top_f, bot_f, fn = WINDOWS[b.window]
    fac.columns = columns_for(fac.x0 + 0.4 * sc.m, fac.x1 - 0.4 * sc.m, b.bay * sc.m, frac)
    for ft, fb in fac.floors[1:]:
        h = fb - ft
        wy0, wy1 = ft + top_f * h, ft + bot_f * h
        fac.window_rows.append((wy0, wy1))
        fn(sc, fac, b, wy0, wy1)


# -- windows ---------------------------------------------------------------------------
def _panes(sc: Scene, fac: Facade, wy0: float, wy1: float, frame: Color, inset: float,
           bars: str) -> None:
    cv, m = sc.cv, sc.m
    for cx0, cx1 in fac.columns:
        cv.rect(cx0, wy0, cx1, wy1, frame)
        g = sc.glass()
        i = inset * m
        cv.rect(cx0 + i, wy0 + i, cx1 - i, wy1 - i, g)
        mx, my = (cx0 + cx1) / 2, (wy0 + wy1) / 2
        if "v" in bars:
            cv.rect(mx - 0.04 * m, wy0, mx + 0.06 * m, wy1, frame)
        if "h" in bars:
            cv.rect(cx0, my - 0.04 * m, cx1, my + 0.06 * m, frame)


def win_sash(sc, fac, b, wy0, wy1):
    """London sash: white frame, a meeting rail, dark panes."""
    _panes(sc, fac, wy0, wy1, b.trim, 0.12, "h")
    for cx0, cx1 in fac.columns:  # stone sill
        sc.cv.rect(cx0 - 0.1 * sc.m, wy1, cx1 + 0.1 * sc.m, wy1 + 0.15 * sc.m, shade(b.trim, 0.92))


def win_tall(sc, fac, b, wy0, wy1):
    """Haussmann: tall French windows inside a pale carved surround with a cornice lintel."""
    cv, m = sc.cv, sc.m
    surround = mix(fac.wall, b.trim, 0.6)
    for cx0, cx1 in fac.columns:
        cv.rect(cx0 - 0.25 * m, wy0 - 0.35 * m, cx1 + 0.25 * m, wy1, surround)
        cv.rect(cx0 - 0.35 * m, wy0 - 0.45 * m, cx1 + 0.35 * m, wy0 - 0.3 * m, shade(fac.wall, 0.85))
    _panes(sc, fac, wy0, wy1, (238, 236, 230), 0.08, "v")


def win_lintel(sc, fac, b, wy0, wy1):
    """American brick: dark panes with a stone lintel above and a sill below."""
    cv, m = sc.cv, sc.m
    _panes(sc, fac, wy0, wy1, shade(b.trim, 0.95), 0.1, "h")
    for cx0, cx1 in fac.columns:
        cv.rect(cx0 - 0.15 * m, wy0 - 0.35 * m, cx1 + 0.15 * m, wy0, b.trim)
        cv.rect(cx0 - 0.1 * m, wy1, cx1 + 0.1 * m, wy1 + 0.15 * m, b.trim)


def win_classical(sc, fac, b, wy0, wy1):
    """Moscow classical: white surrounds, every other floor with a little pediment."""
    cv, m = sc.cv, sc.m
    pediment = sc.rng.random() < 0.5
    for cx0, cx1 in fac.columns:
        cv.rect(cx0 - 0.25 * m, wy0 - 0.25 * m, cx1 + 0.25 * m, wy1 + 0.2 * m, b.trim)
        if pediment:
            cv.poly([(cx0 - 0.35 * m, wy0 - 0.25 * m), ((cx0 + cx1) / 2, wy0 - 0.8 * m),
                     (cx1 + 0.35 * m, wy0 - 0.25 * m)], b.trim)
    _panes(sc, fac, wy0, wy1, (245, 245, 240), 0.08, "vh")


def win_band(sc, fac, b, wy0, wy1):
    """Modern ribbon windows: one strip per floor with thin mullions."""
    cv, m = sc.cv, sc.m
    x0, x1 = fac.x0 + 0.5 * m, fac.x1 - 0.5 * m
    glass = mix(sc.glass(), (60, 70, 85), 0.5)
    cv.rect(x0, wy0, x1, wy1, glass)
    for cx0, cx1 in fac.columns[1:]:
        cv.rect(cx0 - 0.05 * m, wy0, cx0 + 0.1 * m, wy1, shade(fac.wall, 0.8))
    if sc.rng.random() < 0.3:  # a curtain or lit shop
        cx0, cx1 = pick(sc.rng, fac.columns)
        cv.rect(cx0, wy0 + 0.1 * m, cx1, wy1 - 0.1 * m, jitter(sc.rng, (220, 215, 195), 15))


def win_grid(sc, fac, b, wy0, wy1):
    """Plain punched windows (panel blocks, offices)."""
    _panes(sc, fac, wy0, wy1, shade(fac.wall, 0.75), 0.08, "v")


def win_shutter(sc, fac, b, wy0, wy1):
    """Colonial shutters: green louvres either side of a tall window."""
    cv, m = sc.cv, sc.m
    louvre = jitter(sc.rng, pick(sc.rng, [(60, 110, 80), (70, 90, 120), (110, 75, 50)]), 10)
    for cx0, cx1 in fac.columns:
        cv.rect(cx0, wy0, cx1, wy1, louvre)
        y = wy0 + 0.25 * m
        while y < wy1 - 0.1 * m:
            cv.rect(cx0, y, cx1, y + 0.06 * m, shade(louvre, 0.7))
            y += 0.32 * m
        cv.rect((cx0 + cx1) / 2 - 0.04 * m, wy0, (cx0 + cx1) / 2 + 0.05 * m, wy1, shade(louvre, 0.6))


def win_paper(sc, fac, b, wy0, wy1):
    """Japanese house: pale screens behind a thin dark-wood frame."""
    cv, m = sc.cv, sc.m
    wood = jitter(sc.rng, (70, 50, 35), 10)
    for cx0, cx1 in fac.columns:
        cv.rect(cx0, wy0, cx1, wy1, wood)
        cv.rect(cx0 + 0.1 * m, wy0 + 0.1 * m, cx1 - 0.1 * m, wy1 - 0.1 * m, (228, 222, 205))
        cv.rect((cx0 + cx1) / 2 - 0.04 * m, wy0, (cx0 + cx1) / 2 + 0.05 * m, wy1, wood)


# name -> (window fraction of bay, top and bottom as fractions of the storey, painter)
WINDOWS = {
    "sash": (0.45, 0.22, 0.82, win_sash),
    "tall": (0.42, 0.2, 0.9, win_tall),
    "lintel": (0.45, 0.25, 0.82, win_lintel),
    "classical": (0.4, 0.25, 0.8, win_classical),
    "band": (0.9, 0.3, 0.78, win_band),
    "grid": (0.5, 0.3, 0.75, win_grid),
    "shutter": (0.5, 0.18, 0.85, win_shutter),
    "paper": (0.55, 0.3, 0.8, win_paper),
}


# -- ground floors ---------------------------------------------------------------------
def ground_shop(sc, fac, b):
    """Shopfronts: a fascia sign band, glazing, sometimes a striped awning."""
    cv, rng, m = sc.cv, sc.rng, sc.m
    gt, gb = fac.floors[0]
    units = max(1, round(fac.width / (rng.uniform(5, 9) * m)))
    step = fac.width / units
    for i in range(units):
        x0, x1 = fac.x0 + i * step + 0.3 * m, fac.x0 + (i + 1) * step - 0.3 * m
        cv.rect(x0, gt + 0.35 * m, x1, gt + 1.0 * m, jitter(rng, pick(rng, FASCIAS), 12))
        glass = sc.glass() if rng.random() < 0.6 else jitter(rng, (225, 215, 180), 20)
        cv.rect(x0, gt + 1.0 * m, x1, gb, shade(fac.wall, 0.55))
        cv.rect(x0 + 0.12 * m, gt + 1.15 * m, x1 - 0.12 * m, gb - 0.05 * m, glass)
        dx = rng.uniform(0.2, 0.7)
        cv.rect(x0 + dx * (x1 - x0), gt + 1.3 * m, x0 + dx * (x1 - x0) + 1.0 * m, gb,
                shade(glass, 0.6))
        if rng.random() < 0.35:
            col = jitter(rng, pick(rng, AWNINGS), 10)
            cv.poly([(x0 - 0.2 * m, gt + 1.0 * m), (x1 + 0.2 * m, gt + 1.0 * m),
                     (x1 + 0.5 * m, gt + 1.9 * m), (x0 - 0.5 * m, gt + 1.9 * m)], col)
            if rng.random() < 0.5:
                stripe = (240, 238, 230)
                k = x0
                while k < x1:
                    cv.poly([(k, gt + 1.0 * m), (k + 0.35 * m, gt + 1.0 * m),
                             (k + 0.45 * m, gt + 1.9 * m), (k + 0.1 * m, gt + 1.9 * m)], stripe)
                    k += 0.8 * m


def ground_door(sc, fac, b):
    """Residential ground floor: windows like upstairs and a coloured front door."""
    cv, rng, m = sc.cv, sc.rng, sc.m
    gt, gb = fac.floors[0]
    frac, top_f, bot_f, fn = WINDOWS.get(b.window, WINDOWS["grid"])
    h = gb - gt
    cols = fac.columns
    door_i = rng.randrange(len(cols))
    keep = fac.columns
    fac.columns = [c for i, c in enumerate(cols) if i != door_i]
    if fac.columns:
        fn(sc, fac, b, gt + top_f * h, gt + bot_f * h)
    fac.columns = keep
    cx0, cx1 = cols[door_i]
    mx = (cx0 + cx1) / 2
    cv.rect(mx - 0.75 * m, gt + 0.2 * h, mx + 0.75 * m, gb, b.trim)
    cv.rect(mx - 0.55 * m, gt + 0.35 * h, mx + 0.55 * m, gb, jitter(rng, pick(rng, DOORS), 8))
    cv.rect(mx - 0.55 * m, gt + 0.23 * h, mx + 0.55 * m, gt + 0.32 * h, sc.glass())


def ground_stoop(sc, fac, b):
    """Brownstone: a raised door reached by a stoop."""
    ground_door(sc, fac, b)
    cv, m = sc.cv, sc.m
    gt, gb = fac.floors[0]
    cx0, cx1 = fac.columns[0]
    mx = (cx0 + cx1) / 2
    step_col = shade(fac.wall, 0.8)
    for k in range(4):
        y = gb - (k + 1) * 0.25 * m
        cv.rect(mx - (1.6 - 0.2 * k) * m, y, mx + (1.6 - 0.2 * k) * m, y + 0.25 * m, step_col)


def ground_lobby(sc, fac, b):
    cv, m = sc.cv, sc.m
    gt, gb = fac.floors[0]
    cv.rect(fac.x0 + 0.3 * m, gt + 0.4 * m, fac.x1 - 0.3 * m, gb, mix(sc.glass(), sc.horizon_sky, 0.3))
    x = fac.x0 + 0.3 * m
    while x < fac.x1 - 0.5 * m:
        cv.rect(x, gt + 0.4 * m, x + 0.25 * m, gb, shade(fac.wall, 0.7))
        x += 3.0 * m


def ground_arcade(sc, fac, b):
    """Five-foot way: a shaded colonnade with round-topped openings."""
    cv, m = sc.cv, sc.m
    gt, gb = fac.floors[0]
    dark = (55, 50, 48)
    n = max(1, round(fac.width / (3.2 * m)))
    step = fac.width / n
    for i in range(n):
        x0, x1 = fac.x0 + i * step + 0.35 * m, fac.x0 + (i + 1) * step - 0.35 * m
        r = (x1 - x0) / 2
        cv.ellipse(x0, gt + 0.4 * m, x1, gt + 0.4 * m + 2 * r, dark)
        cv.rect(x0, gt + 0.4 * m + r, x1, gb, dark)


def ground_wall(sc, fac, b):
    cv, rng, m = sc.cv, sc.rng, sc.m
    gt, gb = fac.floors[0]
    cv.rect(fac.x0, gb - 0.5 * m, fac.x1, gb, shade(fac.wall, 0.8))
    x = fac.x0 + rng.uniform(1, 4) * m
    cv.rect(x, gt + 0.6 * m, x + 1.4 * m, gb, shade(fac.wall, 0.45))
    for cx0, cx1 in fac.columns[1::2]:
        cv.rect(cx0, gt + 0.3 * (gb - gt), cx1, gt + 0.65 * (gb - gt), sc.glass())


def ground_sliding(sc, fac, b):
    """Japanese house: sliding glass doors in a wooden frame."""
    cv, m = sc.cv, sc.m
    gt, gb = fac.floors[0]
    wood = jitter(sc.rng, (95, 70, 50), 10)
    cv.rect(fac.x0 + 0.4 * m, gt + 0.5 * m, fac.x1 - 0.4 * m, gb, wood)
    x = fac.x0 + 0.55 * m
    while x < fac.x1 - 1.3 * m:
        cv.rect(x, gt + 0.65 * m, x + 0.8 * m, gb - 0.1 * m, mix(sc.glass(), (200, 200, 195), 0.4))
        x += 1.0 * m


def ground_hutong(sc, fac, b):
    """Beijing courtyard house: grey brick, a small red door with a tiled hood."""
    cv, rng, m = sc.cv, sc.rng, sc.m
    gt, gb = fac.floors[0]
    x = fac.x0 + rng.uniform(0.2, 0.6) * fac.width
    cv.rect(x, gt + 0.9 * m, x + 1.5 * m, gb, jitter(rng, (120, 35, 30), 10))
    cv.rect(x + 0.74 * m, gt + 0.9 * m, x + 0.78 * m, gb, (60, 20, 15))
    cv.rect(x - 0.3 * m, gt + 0.7 * m, x + 1.8 * m, gt + 0.9 * m, (80, 82, 86))
    for cx0, cx1 in fac.columns[::2]:
        if cx1 < x - 0.3 * m or cx0 > x + 1.8 * m:
            cv.rect(cx0, gt + 0.8 * m, cx1, gt + 1.9 * m, (100, 50, 40))
            cv.rect(cx0 + 0.1 * m, gt + 0.9 * m, cx1 - 0.1 * m, gt + 1.8 * m, (200, 190, 170))
            cv.rect((cx0 + cx1) / 2, gt + 0.9 * m, (cx0 + cx1) / 2 + 0.05 * m, gt + 1.8 * m, (100, 50, 40))


GROUNDS = {
    "shop": ground_shop, "door": ground_door, "stoop": ground_stoop, "lobby": ground_lobby,
    "arcade": ground_arcade, "wall": ground_wall, "sliding": ground_sliding,
    "hutong": ground_hutong,
}
