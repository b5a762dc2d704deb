"""What a model sees: labels from the dataset table, images as normalised tensors.

Augmentation deliberately has no horizontal flip by default: mirroring a street swaps the
driving side, which is a real cue for London, Tokyo, Kyoto and Singapore. Ask for it with
``augment="light+flip"`` if you want the model not to use it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Dataset as TorchDataset
from torchvision.transforms import v2 as T

from analysis.classes import Labels  # noqa: F401  (kept importable from here)
from analysis.data.dataset import Dataset
from analysis.nets.registry import BackboneSpec

AUGMENTATIONS = ("none", "light", "strong", "light+flip", "strong+flip")


def make_transform(spec: BackboneSpec, weights: str, augment: str = "none",
                   image_size: int | None = None) -> T.Compose:
    """PIL image → normalised float tensor for ``spec`` with ``weights``.

    ``none`` resizes the whole picture to a square (no crop: a street's sides matter)."""
    if augment not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {augment!r}; choose one of {', '.join(AUGMENTATIONS)}")
    size = image_size or spec.input_size
    mean, std = spec.mean_std(weights)
    base, _, flip = augment.partition("+")
    steps: list = [T.ToImage()]
    if base == "none":
        steps.append(T.Resize((size, size), antialias=True))
    elif base == "light":
        steps += [T.RandomResizedCrop(size, scale=(0.7, 1.0), ratio=(0.8, 1.25), antialias=True),
                  T.ColorJitter(0.15, 0.15, 0.1)]
    else:
        steps += [T.RandomResizedCrop(size, scale=(0.4, 1.0), antialias=True),
                  T.ColorJitter(0.3, 0.3, 0.3, 0.03), T.RandomGrayscale(0.05)]
    if flip:
        steps.append(T.RandomHorizontalFlip())
    steps += [T.ToDtype(torch.float32, scale=True), T.Normalize(mean, std)]
    return T.Compose(steps)


def load_rgb(path: Path) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB")


class ImageTable(TorchDataset):
    """Rows of a dataset table as (image tensor, class index, group index, row index)."""

    def __init__(self, dataset: Dataset, rows: pd.DataFrame, labels: Labels, transform):
        self.paths = [dataset.image_path(p) for p in rows["path"]]
        self.y_class, self.y_group = labels.encode(rows)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        return self.transform(load_rgb(self.paths[i])), int(self.y_class[i]), int(self.y_group[i]), i


def split_rows(df: pd.DataFrame, split: str) -> pd.DataFrame:
    return df[df["split"] == split].reset_index(drop=True)
