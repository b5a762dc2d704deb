"""The per-image scene frame: camera scale, where the street lines fall, light and haze.

Painters receive this one object instead of a dozen arguments; it also owns the random
stream so every painter draws from the same deterministic sequence.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from analysis.data.synth.draw import Canvas, Color, jitter, mix, pick
from analysis.data.synth.styles import CityStyle


@dataclass
class Scene:
    cv: Canvas
    rng: random.Random
    style: CityStyle
    m: float  # unit coordinates per metre on the facade plane
    base: float  # y where facades meet the far sidewalk
    kerb: float  # y of the far kerb (sidewalk ends, road starts)
    centre: float  # y of the centre line
    near: float  # y of the near kerb (>= 1 when out of frame)
    horizon_sky: Color  # colour distant things fade towards
    overcast: bool
    snow: bool

    def far_lane_y(self) -> float:
        """Where the wheels of far-lane vehicles touch the road."""
        return self.kerb + 0.62 * (self.centre - self.kerb)

    def near_lane_y(self) -> float:
        return self.centre + 0.6 * (min(self.near, 1.0) - self.centre)

    def sidewalk_y(self) -> float:
        """Where street furniture stands on the far sidewalk."""
        return self.base + 0.55 * (self.kerb - self.base)

    def haze(self, c: Color, amount: float) -> Color:
        return mix(c, self.horizon_sky, amount)

    def glass(self) -> Color:
        """A window pane: mostly dark, sometimes reflecting sky, sometimes curtained."""
        r = self.rng.random()
        if r < 0.7:
            return jitter(self.rng, (52, 60, 74), 12)
        if r < 0.88:
            return jitter(self.rng, mix((60, 72, 90), self.horizon_sky, 0.45), 10)
        return jitter(self.rng, pick(self.rng, [(215, 205, 180), (190, 170, 140), (150, 160, 170)]), 10)
