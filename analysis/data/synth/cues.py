"""Signature cues: the objects people use to tell the cities apart.

Every painter draws its object inside ``sc.cv.cue(kind, classes)``, so the owner layer
records exactly which pixels it ends up occupying. ``CUES`` says for each kind where it
goes in the scene (background, a front-row building, on a facade, on the sidewalk, in a
lane, overhead); ``render.py`` places them, the styles say how often they appear. The painters live in
``cue_scenery``, ``cue_buildings``, ``cue_facades`` and ``cue_street``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from analysis.data.synth.cue_buildings import church, machiya, palace, shophouse
from analysis.data.synth.cue_facades import (
    fire_escape,
    hangul_signboard,
    iron_balconies,
    mansard_roof,
    red_lantern,
    tokyo_sign,
    water_tower,
)
from analysis.data.synth.cue_scenery import glass_tower, mountains, overhead_wires, stalin_spire
from analysis.data.synth.cue_street import (
    double_decker_bus,
    lush_tree,
    morris_column,
    phone_box,
    street_tree,
    traffic_light_horizontal,
    traffic_light_vertical,
    vending_machine,
    yellow_cab,
)


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
