"""Named shortcuts to a run cache's common artefacts: ``cache.samples()`` for
``cache.table("samples")``, ``cache.cams()`` for ``cache.array("cams")``. Kept apart from
``RunCache`` (cache.py), which owns the layout, the manifest and reading and writing; these
only name what callers read most."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


class NamedArtefacts:
    """Mixed into ``RunCache``, which provides ``table`` and ``array``."""

    def samples(self) -> pd.DataFrame:
        return self.table("samples")

    def class_probs(self) -> np.ndarray:
        return self.array("class_probs")

    def group_probs(self) -> np.ndarray:
        return self.array("group_probs")

    def features(self) -> np.ndarray:
        return self.array("features")

    def activations(self) -> np.ndarray:
        return self.array("activations")

    def cams(self) -> np.ndarray:
        return self.array("cams")

    def gradients(self) -> np.ndarray:
        return self.array("gradients")

    def channel_attr(self) -> np.ndarray:
        return self.array("channel_attr")

    def umap(self) -> pd.DataFrame:
        return self.table("umap")

    def neighbors(self) -> np.ndarray:
        return self.array("neighbors")

    def neighbor_dist(self) -> np.ndarray:
        return self.array("neighbor_dist")

    def top_channels(self) -> pd.DataFrame:
        return self.table("top_channels")

    def concept_maps(self) -> np.ndarray:
        return self.array("concept_maps")

    def concept_importance(self) -> pd.DataFrame:
        return self.table("concept_importance")

    def concept_patches(self) -> pd.DataFrame:
        return self.table("concept_patches")

    def featvis(self) -> pd.DataFrame:
        return self.table("featvis")

    def reliability(self) -> pd.DataFrame:
        return self.table("reliability")

    def reliability_curves(self) -> pd.DataFrame:
        return self.table("reliability_curves")
