"""Linear CKA (Kornblith et al., 2019): how similar two representations of the same
images are, invariant to rotation and isotropic scaling, 1 for the same representation."""

from __future__ import annotations

import numpy as np


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """CKA of (N, P) and (N, Q) features of the same N images (columns centred here):
    ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
        raise ValueError(f"CKA needs features of the same images: {x.shape} vs {y.shape}")
    x = x - x.mean(0)
    y = y - y.mean(0)
    cross = np.linalg.norm(y.T @ x) ** 2
    norm = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(cross / norm) if norm > 0 else float("nan")


def trunk_stages(model) -> list[str]:
    """The trunk's top-level children that hold a convolution, in order (``trunk.stage3``,
    ``trunk.layer2`` …): the layers whose pooled outputs per-layer CKA compares."""
    from torch import nn

    trunk = getattr(model, "trunk", model)
    prefix = "trunk." if trunk is not model else ""
    return [prefix + name for name, child in trunk.named_children()
            if any(isinstance(m, nn.Conv2d) for m in child.modules())]


def layer_features(model, batches, layers: list[str]) -> dict[str, np.ndarray]:
    """{layer: (N, C) spatially averaged output} over ``batches`` (preprocessed image
    tensors), one forward pass each, read by hooks."""
    import torch

    out: dict[str, list[np.ndarray]] = {name: [] for name in layers}
    hooks = []
    for name in layers:
        def hook(_module, _inputs, output, name=name):
            y = output.float()
            out[name].append((y.mean(dim=(2, 3)) if y.dim() == 4 else y.flatten(1)).cpu().numpy())
        hooks.append(model.get_submodule(name).register_forward_hook(hook))
    try:
        model.eval()
        with torch.inference_mode():
            for x in batches:
                model(x)
    finally:
        for h in hooks:
            h.remove()
    return {name: np.concatenate(v) for name, v in out.items()}


def cka_matrix(features_a: dict[str, np.ndarray], features_b: dict[str, np.ndarray]):
    """Long table ``layer_a, layer_b, depth_a, depth_b, cka`` of every pair of layers."""
    import pandas as pd

    rows = [{"layer_a": la, "layer_b": lb, "depth_a": i, "depth_b": j, "cka": linear_cka(xa, xb)}
            for i, (la, xa) in enumerate(features_a.items()) for j, (lb, xb) in enumerate(features_b.items())]
    return pd.DataFrame(rows)
