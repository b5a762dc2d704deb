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
SPLIT_WORDS = {"val": "validation", "test": "test", "all": "dataset"}


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
    def from_record(cls, record: dict) -> Calibration:
        return cls(**{f: record[f] for f in cls.__dataclass_fields__})

    @property
    def split_words(self) -> str:
        return SPLIT_WORDS.get(self.calibrated_on, self.calibrated_on)

    def message(self, score: float) -> str:
        """The warning a user reads above the prediction of an unusual photo (one line)."""
        return (f"This photo looks unlike any training photo: its {self.k} nearest training photos are "
                f"{score:.2f} away on average (cosine distance of the features the model classifies), "
                f"above the {self.threshold:.2f} threshold that {self.percentile:g} % of the "
                f"{self.split_words} photos stay under (typical {self.median:.2f}). "
                "Treat the prediction as a guess outside what the model learned.")

    def within(self, score: float) -> str:
        """Where an ordinary photo stands (one line)."""
        return (f"Like the training photos: its {self.k} nearest training photos are {score:.2f} away "
                f"on average, under the {self.threshold:.2f} out-of-distribution threshold "
                f"(typical {self.median:.2f} on the {self.split_words} photos).")


@dataclass(frozen=True)
class Verdict:
    """One photo checked against a calibration."""
    score: float
    threshold: float
    flagged: bool
    text: str  # the warning when flagged, else where the photo stands; one line


class OodCheck:
    """A run's calibrated check of photos outside its dataset: the calibration and the
    index of the training images' pooled features it was calibrated against."""

    def __init__(self, calibration: Calibration, index: TrainingIndex):
        self.calibration = calibration
        self.index = index

    def assess(self, pooled: np.ndarray) -> Verdict:
        """The verdict on one photo's pooled features (what the heads see)."""
        pooled = np.asarray(pooled, dtype=np.float32).reshape(-1)
        if pooled.shape[0] != self.index.dim:
            raise ValueError(f"the photo has {pooled.shape[0]} features but the analysis has "
                             f"{self.index.dim} (stale analysis?): re-run `streetlens analyze`")
        cal = self.calibration
        s = score(self.index, pooled, cal.k)
        flagged = bool(cal.flags([s])[0])
        return Verdict(score=s, threshold=cal.threshold, flagged=flagged,
                       text=cal.message(s) if flagged else cal.within(s))


def missing_hint(run: str) -> str:
    """What to do when a run has no calibration yet (one line)."""
    return (f"No out-of-distribution check for run {run} yet: compute it with "
            f"`streetlens analyze {run} --stages ood` to be warned about photos unlike the training ones.")


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
