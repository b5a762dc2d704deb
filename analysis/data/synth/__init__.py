"""Procedural demo streets: ten city styles drawn with PIL, with exact cue annotations.

The default dataset needs no internet: ``generate`` draws streets of London, Paris, New
York, Moscow, Vancouver, Beijing, Kyoto, Seoul, Tokyo and Singapore from declarative
city descriptions (``styles.py``) and stores, for every signature cue it drew (a red
double-decker, onion domes, vertical kanji signs ...), its classes, box and the exact
pixel mask it ended up occupying. Those ground-truth masks let the reliability checks ask
whether a saliency map points at what really distinguishes the cities.

Modules: ``styles`` (the city data), ``draw`` (primitives + owner layer), ``facades`` and
``street`` (ordinary scenery), ``cues`` (signature objects), ``render`` (composition),
``store`` (files, annotations, masks).
"""

from analysis.data.synth.render import Cue, render_street
from analysis.data.synth.store import generate, load_cues
from analysis.data.synth.styles import CITY_STYLES, CLASSES, CUE_CLASSES, CityStyle

__all__ = ["CITY_STYLES", "CLASSES", "CUE_CLASSES", "CityStyle", "Cue", "generate", "load_cues",
           "render_street"]
