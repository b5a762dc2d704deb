"""Declarative city descriptions: what a street of each city is made of.

A city is data, not code: building profiles (sizes, wall colours, window/ground/roof
painters by name), road markings and driving side, sky and light, traffic, and a list of
cue specs saying which signature objects appear with which probability. The painters the
names refer to live in ``facades.py``, ``facade_details.py``, ``street.py`` and the
``cue_*`` modules (registered in ``cues.py``); composition is in ``render.py``.

Sizes are in metres; the renderer converts them with a per-image camera scale.
"""

from __future__ import annotations

from dataclasses import dataclass

Color = tuple[int, int, int]


@dataclass(frozen=True)
class CueSpec:
    """A signature object: present in an image with probability ``p``, then ``count``
    instances. ``distractor`` marks an object borrowed from another city (a yellow cab in
    London): it is drawn and annotated, but does not make this city one of its classes."""

    kind: str
    p: float
    count: tuple[int, int] = (1, 1)
    distractor: bool = False


@dataclass(frozen=True)
class Building:
    """One profile of the city's ordinary buildings (cue buildings: ``cue_buildings.py``)."""

    weight: float
    floors: tuple[int, int]
    width: tuple[float, float]  # metres
    walls: tuple[Color, ...]
    window: str  # facades.WINDOWS
    ground: str = "shop"  # facades.GROUNDS
    roof: str = "flat"  # facades.ROOFS
    texture: str = "plain"  # facades.TEXTURES
    trim: Color = (232, 228, 218)
    bay: float = 3.0  # metres per window column
    floor_m: float = 3.2  # storey height


@dataclass(frozen=True)
class CityStyle:
    name: str
    group: str  # "East" | "West"
    driving: str  # "left" | "right"
    buildings: tuple[Building, ...]
    cues: tuple[CueSpec, ...]
    zoom: float = 1.0  # narrow streets -> camera closer to the facades
    gap_p: float = 0.1  # chance of a gap (alley, setback) after a building
    skyline_p: float = 0.3  # distant buildings behind the front row
    skyline_floors: tuple[int, int] = (8, 20)
    sky: tuple[Color, Color] = ((96, 150, 215), (190, 215, 238))  # zenith, horizon
    overcast_p: float = 0.3
    light: tuple[float, float, float, float] = (0.45, 0.25, 0.15, 0.15)  # noon, morning, golden, dusk
    asphalt: Color = (78, 78, 82)
    sidewalk: Color = (170, 166, 158)
    centre_line: str = "white_dashed"  # street.CENTRE_LINES
    kerb_lines: tuple[tuple[str, float], ...] = ()  # (street.KERB_LINES key, probability)
    car_colours: tuple[Color, ...] = ((200, 200, 205), (30, 30, 34), (245, 245, 245),
                                      (120, 122, 128), (140, 30, 30), (40, 60, 110))
    car_kinds: tuple[str, ...] = ("sedan", "hatch", "suv")
    traffic: tuple[int, int] = (0, 3)  # vehicles per lane
    lamp: str = "modern"  # street.LAMPS
    pedestrians: tuple[int, int] = (0, 4)
    snow_p: float = 0.0
    near_kerb: tuple[float, float] = (0.93, 1.08)  # y of the near kerb; > 1 is out of frame
    palette_tint: Color = (255, 255, 255)  # slight colour cast of the city's light


# ---------------------------------------------------------------------------------------
BRICK_RED = (150, 70, 52)
LONDON_STOCK = (176, 150, 110)
STUCCO = (236, 232, 222)
HAUSSMANN = ((226, 212, 182), (218, 204, 170), (232, 222, 198))
BROWNSTONE = (120, 78, 60)
GLASS_TEAL = (74, 128, 140)

CITY_STYLES: dict[str, CityStyle] = {
    "london": CityStyle(
        name="london", group="West", driving="left",
        buildings=(
            Building(3, (3, 5), (6, 9), (LONDON_STOCK, BRICK_RED, (160, 120, 90)), "sash",
                     ground="door", roof="parapet", texture="brick", bay=2.6),
            Building(2, (3, 5), (7, 11), (STUCCO, (240, 236, 226)), "sash",
                     ground="shop", roof="cornice", texture="courses", bay=2.8),
            Building(1, (4, 6), (12, 20), ((150, 140, 130), LONDON_STOCK), "lintel",
                     ground="shop", roof="cornice", texture="brick", bay=3.0),
        ),
        cues=(
            CueSpec("double_decker_bus", 0.6, (1, 1)),
            CueSpec("phone_box", 0.5, (1, 2)),
            CueSpec("street_tree", 0.4, (1, 2)),
            CueSpec("traffic_light_vertical", 0.35, (1, 1)),
            CueSpec("yellow_cab", 0.05, (1, 1), distractor=True),
        ),
        gap_p=0.05, skyline_p=0.15, overcast_p=0.55,
        sky=((110, 150, 200), (200, 212, 225)),
        kerb_lines=(("double_yellow", 0.6),),
        car_colours=((25, 25, 28), (200, 200, 205), (240, 240, 240), (60, 70, 90), (110, 20, 25)),
        car_kinds=("sedan", "hatch", "hatch", "black_cab"),
        lamp="heritage",
    ),
    "paris": CityStyle(
        name="paris", group="West", driving="right",
        buildings=(
            Building(3, (5, 6), (14, 22), HAUSSMANN, "tall", ground="shop", roof="cornice",
                     texture="courses", trim=(240, 232, 212), bay=3.0, floor_m=3.3),
            Building(1, (4, 6), (10, 16), ((230, 225, 212), (214, 196, 160)), "tall",
                     ground="shop", roof="cornice", texture="courses", bay=2.8),
        ),
        cues=(
            CueSpec("iron_balconies", 0.85, (1, 3)),
            CueSpec("mansard_roof", 0.85, (1, 3)),
            CueSpec("morris_column", 0.25, (1, 1)),
            CueSpec("street_tree", 0.45, (1, 3)),
            CueSpec("traffic_light_vertical", 0.3, (1, 1)),
            CueSpec("red_lantern", 0.03, (1, 2), distractor=True),
        ),
        zoom=0.8, gap_p=0.0, skyline_p=0.05, overcast_p=0.4,
        sky=((105, 155, 215), (205, 220, 235)),
        car_colours=((200, 200, 205), (245, 245, 245), (30, 30, 34), (90, 95, 105), (150, 30, 30)),
        car_kinds=("hatch", "hatch", "sedan", "van"),
        lamp="ornate",
    ),
    "nyc": CityStyle(
        name="nyc", group="West", driving="right",
        buildings=(
            Building(3, (4, 7), (8, 16), (BRICK_RED, (135, 62, 48), (165, 85, 60)), "lintel",
                     ground="shop", roof="cornice", texture="brick", trim=(210, 200, 185), bay=2.6),
            Building(2, (4, 6), (7, 10), (BROWNSTONE, (105, 70, 55)), "lintel", ground="stoop",
                     roof="cornice", texture="courses", trim=(150, 110, 90), bay=2.5),
            Building(1, (6, 12), (15, 25), ((190, 180, 160), (150, 145, 140)), "grid",
                     ground="shop", roof="parapet", texture="plain", bay=2.4),
        ),
        cues=(
            CueSpec("yellow_cab", 0.8, (1, 3)),
            CueSpec("fire_escape", 0.75, (1, 3)),
            CueSpec("water_tower", 0.35, (1, 2)),
            CueSpec("street_tree", 0.3, (1, 2)),
            CueSpec("traffic_light_vertical", 0.4, (1, 1)),
            CueSpec("phone_box", 0.03, (1, 1), distractor=True),
        ),
        zoom=0.85, gap_p=0.03, skyline_p=0.6, skyline_floors=(20, 45), overcast_p=0.3,
        centre_line="yellow_double", traffic=(1, 3),
    ),
    "moscow": CityStyle(
        name="moscow", group="West", driving="right",
        buildings=(
            Building(4, (3, 5), (15, 28), ((230, 200, 120), (225, 170, 150), (200, 210, 175),
                                          (236, 214, 160)), "classical",
                     ground="door", roof="cornice", texture="plain", trim=(246, 244, 238), bay=3.4,
                     floor_m=3.6),
            Building(1, (9, 14), (25, 40), ((185, 185, 180), (200, 195, 185), (170, 172, 175)),
                     "grid", ground="wall", roof="flat", texture="panels", bay=2.9),
        ),
        cues=(
            CueSpec("onion_domes", 0.75, (1, 1)),
            CueSpec("stalin_spire", 0.3, (1, 1)),
            CueSpec("street_tree", 0.35, (1, 2)),
            CueSpec("traffic_light_vertical", 0.3, (1, 1)),
        ),
        zoom=0.7, gap_p=0.3, skyline_p=0.35, overcast_p=0.5,
        sky=((100, 140, 200), (200, 215, 232)), light=(0.45, 0.3, 0.1, 0.15),
        asphalt=(88, 88, 90), traffic=(1, 3), snow_p=0.2, palette_tint=(240, 246, 255),
        car_colours=((30, 30, 34), (200, 200, 205), (245, 245, 245), (80, 82, 88), (60, 80, 60)),
    ),
    "vancouver": CityStyle(
        name="vancouver", group="West", driving="right",
        buildings=(
            Building(2, (1, 3), (12, 22), ((190, 188, 182), (150, 130, 115), (210, 205, 195)),
                     "band", ground="lobby", roof="flat", texture="panels", bay=3.0),
            Building(1, (2, 4), (15, 25), ((120, 125, 130), (170, 165, 160)), "grid",
                     ground="shop", roof="parapet", texture="plain", bay=2.8),
        ),
        cues=(
            CueSpec("glass_tower", 0.85, (1, 2)),
            CueSpec("mountains", 0.8, (1, 1)),
            CueSpec("street_tree", 0.6, (1, 3)),
            CueSpec("traffic_light_vertical", 0.35, (1, 1)),
            CueSpec("lush_tree", 0.04, (1, 1), distractor=True),
        ),
        zoom=0.75, gap_p=0.35, skyline_p=0.15, overcast_p=0.35,
        sky=((80, 145, 220), (185, 215, 240)), centre_line="yellow_double",
    ),
    "beijing": CityStyle(
        name="beijing", group="East", driving="right",
        buildings=(
            Building(2, (1, 1), (8, 14), ((120, 122, 125), (135, 136, 138)), "grid",
                     ground="hutong", roof="grey_tile", texture="brick", bay=3.2, floor_m=3.6),
            Building(2, (6, 14), (20, 35), ((215, 205, 185), (190, 180, 170), (225, 215, 200)),
                     "grid", ground="shop", roof="flat", texture="panels", bay=3.0),
        ),
        cues=(
            CueSpec("golden_roof", 0.75, (1, 2)),
            CueSpec("red_lantern", 0.3, (1, 4)),
            CueSpec("street_tree", 0.5, (1, 3)),
            CueSpec("traffic_light_vertical", 0.3, (1, 1)),
            CueSpec("glass_tower", 0.05, (1, 1), distractor=True),
        ),
        zoom=0.9, gap_p=0.25, skyline_p=0.45, overcast_p=0.55,
        sky=((130, 160, 200), (215, 215, 210)), palette_tint=(255, 250, 238),
        centre_line="yellow_double", traffic=(1, 3),
    ),
    "kyoto": CityStyle(
        name="kyoto", group="East", driving="left",
        buildings=(
            Building(2, (2, 2), (7, 11), ((225, 218, 200), (205, 195, 170)), "paper",
                     ground="sliding", roof="eave_tile", texture="plain", bay=2.2, floor_m=2.9),
            Building(1, (2, 4), (8, 14), ((210, 205, 195), (190, 185, 175), (225, 220, 210)),
                     "band", ground="shop", roof="flat", texture="tiles", bay=2.6),
        ),
        cues=(
            CueSpec("machiya_facade", 0.85, (1, 4)),
            CueSpec("red_lantern", 0.7, (1, 4)),
            CueSpec("overhead_wires", 0.5, (1, 1)),
            CueSpec("vending_machine", 0.3, (1, 2)),
            CueSpec("traffic_light_horizontal", 0.2, (1, 1)),
            CueSpec("street_tree", 0.15, (1, 1)),
        ),
        zoom=1.55, gap_p=0.05, skyline_p=0.1, skyline_floors=(3, 8), overcast_p=0.3,
        asphalt=(92, 90, 88), sidewalk=(150, 146, 140), traffic=(0, 1), centre_line="none",
        near_kerb=(0.86, 0.94),
        car_colours=((245, 245, 245), (200, 200, 205), (30, 30, 34), (110, 112, 118)),
        car_kinds=("kei", "kei", "hatch", "van"), lamp="none", pedestrians=(0, 3),
    ),
    "seoul": CityStyle(
        name="seoul", group="East", driving="right",
        buildings=(
            Building(2, (3, 6), (9, 16), ((150, 80, 65), (125, 70, 60), (200, 185, 160)),
                     "band", ground="shop", roof="flat", texture="brick", bay=3.2),
            Building(2, (4, 7), (10, 18), ((215, 210, 200), (185, 185, 190), (225, 215, 195)),
                     "grid", ground="shop", roof="flat", texture="tiles", bay=2.8),
        ),
        cues=(
            CueSpec("hangul_signboard", 0.9, (4, 9)),
            CueSpec("street_tree", 0.45, (1, 2)),
            CueSpec("overhead_wires", 0.3, (1, 1)),
            CueSpec("traffic_light_horizontal", 0.35, (1, 1)),
            CueSpec("tokyo_sign", 0.06, (1, 1), distractor=True),
        ),
        gap_p=0.1, skyline_p=0.4, overcast_p=0.35, centre_line="yellow_double",
        car_colours=((245, 245, 245), (30, 30, 34), (200, 200, 205), (130, 132, 138)),
        car_kinds=("sedan", "suv", "sedan", "hatch"),
    ),
    "tokyo": CityStyle(
        name="tokyo", group="East", driving="left",
        buildings=(
            Building(3, (4, 8), (6, 11), ((232, 230, 224), (205, 205, 200), (196, 184, 165),
                                         (170, 170, 172)), "band", ground="shop", roof="rooftop",
                     texture="tiles", bay=2.6, floor_m=3.1),
            Building(1, (5, 9), (10, 16), ((215, 212, 205), (150, 150, 150)), "grid",
                     ground="shop", roof="rooftop", texture="panels", bay=2.4),
        ),
        cues=(
            CueSpec("tokyo_sign", 0.85, (3, 7)),
            CueSpec("overhead_wires", 0.75, (1, 1)),
            CueSpec("vending_machine", 0.45, (1, 2)),
            CueSpec("traffic_light_horizontal", 0.4, (1, 1)),
            CueSpec("street_tree", 0.15, (1, 1)),
            CueSpec("hangul_signboard", 0.06, (1, 1), distractor=True),
        ),
        zoom=1.1, gap_p=0.02, skyline_p=0.35, overcast_p=0.4,
        sky=((120, 160, 210), (205, 215, 225)), sidewalk=(160, 158, 152),
        car_colours=((245, 245, 245), (200, 200, 205), (30, 30, 34), (110, 112, 118)),
        car_kinds=("kei", "sedan", "van", "kei"), lamp="modern",
    ),
    "singapore": CityStyle(
        name="singapore", group="East", driving="left",
        buildings=(
            Building(2, (10, 16), (25, 40), ((238, 236, 228), (230, 225, 210)), "grid",
                     ground="wall", roof="flat", texture="accents", bay=2.6),
            Building(1, (3, 5), (12, 20), ((245, 245, 240), (236, 230, 215)), "shutter",
                     ground="arcade", roof="gable_tile", texture="plain", bay=3.0),
        ),
        cues=(
            CueSpec("shophouse", 0.85, (2, 5)),
            CueSpec("lush_tree", 0.8, (1, 3)),
            CueSpec("traffic_light_vertical", 0.3, (1, 1)),
            CueSpec("red_lantern", 0.12, (1, 3), distractor=True),
            CueSpec("glass_tower", 0.12, (1, 1), distractor=True),
        ),
        gap_p=0.15, skyline_p=0.5, overcast_p=0.2, light=(0.6, 0.2, 0.15, 0.05),
        sky=((70, 140, 225), (180, 215, 240)), palette_tint=(255, 252, 245),
        kerb_lines=(("double_yellow", 0.35),),
    ),
}

CLASSES: tuple[str, ...] = tuple(CITY_STYLES)


def _cue_classes() -> dict[str, tuple[str, ...]]:
    """Which cities a cue kind signals: those whose style lists it as their own."""
    out: dict[str, list[str]] = {}
    for city, style in CITY_STYLES.items():
        for spec in style.cues:
            out.setdefault(spec.kind, [])
            if not spec.distractor:
                out[spec.kind].append(city)
    # road markings are city evidence too (a style's own, never borrowed): annotated as cues
    for city, style in CITY_STYLES.items():
        if style.centre_line != "none":
            out.setdefault(f"centre_{style.centre_line}", []).append(city)
        for name, _ in style.kerb_lines:
            out.setdefault(f"kerb_{name}", []).append(city)
    return {kind: tuple(cities) for kind, cities in out.items()}


CUE_CLASSES: dict[str, tuple[str, ...]] = _cue_classes()
