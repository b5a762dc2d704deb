"""Start the analysis from the training's trunk cache instead of running the frozen layers again.

Why: training already computed the frozen part of the network for every image (transfer /
SVM: the whole trunk; fine-tuning: everything before the trained block) and kept it on
disk. Running it again in ``streetlens analyze`` was most of the forward stage (the demo:
40 s of 41 for EfficientNet-Lite0, 100 s for wideresnet18). From the cache only the
fine-tuned tail (if any) runs.

A row is read from the cache only when its image id is in a cache file the run recorded
(``run.info["trunk_cache"]``) and that file and its id list are still there; anything
else (new images, a deleted cache, augmented views) runs from the image as before.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from analysis.train.trunk_cache import cached_ids, gather


class CachedTrunk:
    """Target feature maps for the analysis rows that the run's trunk cache holds."""

    def __init__(self, arrays: list[np.ndarray], where: np.ndarray, tail: nn.Module, source: str):
        self.arrays = arrays
        self.where = where  # (n_rows, 2): (array index, position) or (-1, -1)
        self.tail = tail
        self.source = source  # "trunk" or "prefix"

    @classmethod
    def for_run(cls, run, model: nn.Module, rows: pd.DataFrame) -> CachedTrunk | None:
        """None when the run recorded no cache or none of its files is usable."""
        info = run.info.get("trunk_cache")
        if not info:
            return None
        root = Path(info.get("root", ""))
        source = info.get("frozen")
        if source == "trunk":
            tail: nn.Module = nn.Identity()
        elif source == "prefix":
            tail = run.spec.split(model.trunk)[1]
        else:
            return None
        arrays, index = [], {}
        for name in info.get("files", {}).values():
            ids = cached_ids(root / name)
            if ids is None:
                continue
            arr = np.load(root / name, mmap_mode="r")
            if len(arr) != len(ids):
                continue
            for pos, image_id in enumerate(ids):
                index.setdefault(image_id, (len(arrays), pos))
            arrays.append(arr)
        if not arrays:
            return None
        where = np.array([index.get(i, (-1, -1)) for i in rows["id"]], dtype=np.int64).reshape(-1, 2)
        if (where[:, 0] < 0).all():
            return None
        return cls(arrays, where, tail, source)

    def covers(self, a: int, b: int) -> bool:
        return bool((self.where[a:b, 0] >= 0).all())

    @torch.no_grad()  # not inference_mode: the head's Jacobian needs autograd on the result
    def features(self, a: int, b: int, device: torch.device) -> torch.Tensor:
        """Target feature maps (b − a, C, h, w) of rows a…b−1 (all must be covered)."""
        where = self.where[a:b]
        parts = []
        for k in np.unique(where[:, 0]):
            sel = np.flatnonzero(where[:, 0] == k)
            parts.append((sel, gather(self.arrays[k], where[sel, 1])))
        x = torch.empty((b - a, *parts[0][1].shape[1:]), dtype=torch.float32)
        for sel, values in parts:
            x[torch.from_numpy(sel)] = values
        was = self.tail.training
        self.tail.eval()
        try:
            return self.tail(x.to(device))
        finally:
            self.tail.train(was)
