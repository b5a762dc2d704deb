"""What every stage gets: the run, its dataset rows, the cache and the settings."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import pandas as pd
import torch

from analysis.data.dataset import Dataset
from analysis.precompute.config import AnalyzeConfig
from analysis.precompute.stage import Stage
from analysis.store import RunCache
from analysis.train.data import load_rgb
from analysis.train.runs import Run, load_model


@dataclass
class Context:
    run: Run
    dataset: Dataset
    rows: pd.DataFrame  # the usable images, in cache row order
    cache: RunCache
    config: AnalyzeConfig
    device: torch.device
    progress: bool
    key: dict  # what the streaming arrays must match to be resumed
    stage: Stage | None = None  # the stage running now

    @property
    def n(self) -> int:
        return len(self.rows)

    @cached_property
    def model(self) -> torch.nn.Module:
        """The run's model, loaded on first use (most stages never need it)."""
        return load_model(self.run, self.device)

    def param(self, name: str):
        """A parameter of the running stage (its field, ``extra``, or its declared default)."""
        default = self.stage.defaults.get(name) if self.stage else None
        return self.config.value(name, default)

    def params(self, stage: Stage) -> dict:
        """The parameter values ``stage`` depends on (what its fingerprint holds)."""
        return {k: self.config.value(k, stage.defaults.get(k)) for k in stage.params}

    def load_images(self, rows) -> torch.Tensor:
        """The images of cache rows ``rows`` as one preprocessed batch on the device."""
        tf = self.run.eval_transform()
        paths = self.rows["path"].to_numpy()
        return torch.stack([tf(load_rgb(self.dataset.image_path(paths[r]))) for r in rows]).to(self.device)
