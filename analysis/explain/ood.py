"""Is this photo like the ones the model learned from? An out-of-distribution warning.

The score of a photo is the mean cosine distance of its pooled features (what the heads
see) to its ``k`` nearest training images. The threshold is calibrated on the validation
split — images the model never trained on, but drawn like the training ones — as the
``percentile``-th percentile of their scores: by construction about (100 − percentile) %
of ordinary photos are flagged, and a photo above it is farther from the training data
than almost every validation image. A prediction for such a photo is a guess outside
what the model learned, whatever its confidence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from analysis.explain.embedding import TrainingIndex

K = 8
PERCENTILE = 99.0


@dataclass(frozen=True)
class Calibration:
    k: int
    percentile: float
    threshold: float
    calibrated_on: str  # the split whose scores set the threshold
    images: int  # how many images of it
    median: float  # their median score, for "typical" in messages

    def flags(self, scores) -> np.ndarray:
        return np.asarray(scores) > self.threshold

    def record(self) -> dict:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict) -> "Calibration":
        return cls(**{f: record[f] for f in cls.__dataclass_fields__})

    def message(self, score: float) -> str:
        """The warning a user reads above the prediction of an unusual photo."""
        return (f"This photo looks unlike any training photo: its {self.k} nearest training images are "
                f"{score:.2f} away on average (cosine distance of the features the model classifies), "
                f"more than {self.percentile:g} % of the {self.calibrated_on} images "
                f"(threshold {self.threshold:.2f}, typical {self.median:.2f}). "
                "Read the prediction as a guess outside what the model learned.")


def scores_from_neighbours(neighbor_dist: np.ndarray, k: int = K) -> np.ndarray:
    """Scores of dataset images from their precomputed training neighbours' distances
    (an image is never its own neighbour)."""
    d = np.asarray(neighbor_dist, dtype=np.float64)
    return d[:, :k].mean(1)


def score(index: TrainingIndex, features: np.ndarray, k: int = K) -> float:
    """The score of one new photo's pooled features."""
    _, sims = index.nearest(features, k)
    return float(np.mean(1.0 - sims))


def calibrate(scores: np.ndarray, split: np.ndarray, k: int = K, percentile: float = PERCENTILE) -> Calibration:
    """The threshold from the validation images' scores (the test images' when there is no
    validation split; every image's as a last resort, said in ``calibrated_on``)."""
    scores = np.asarray(scores, dtype=np.float64)
    split = np.asarray(split)
    for name in ("val", "test", None):
        own = np.ones(len(scores), bool) if name is None else split == name
        if own.sum() >= 5 or name is None:
            break
    if not own.any():
        raise ValueError("no images to calibrate the out-of-distribution threshold on")
    s = scores[own]
    return Calibration(k=k, percentile=percentile, threshold=float(np.percentile(s, percentile)),
                       calibrated_on=name or "all", images=int(own.sum()), median=float(np.median(s)))
