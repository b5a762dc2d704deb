"""Cues at street level: furniture on the sidewalk (phone boxes, vending machines, trees,
traffic lights, advertising columns) and vehicles in a lane (buses, cabs)."""

from __future__ import annotations

import math

from analysis.data.synth.cue_facades import SIGN_COLOURS
from analysis.data.synth.draw import jitter, mix, pick, shade
from analysis.data.synth.layout import Scene
from analysis.data.synth.street import Placed, paint_vehicle, paint_wheels


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


