"""The Sample page's on-demand maps: ``analysis.explain.ondemand`` (which methods, the map,
its file in the cache) with a Streamlit progress bar while a map is computed.

Listing, describing and reading stored maps do not import PyTorch (the page's first view);
computing a map does, through the model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from analysis.explain.ondemand import get_map, load_cached, on_demand_methods
from analysis.explain.registry import method_card
from analysis.explain.targets import Target

if TYPE_CHECKING:
    import torch

__all__ = ["describe", "load_cached", "on_demand_methods", "st_get_map"]


def describe(method: str) -> dict[str, str]:
    """What the page says about ``method``: label, about, default display, first-time cost."""
    card = method_card(method)
    return {"label": card.label, "about": card.about, "display": card.display, "cost": card.cost}


def st_get_map(cache, run, model_fn: Callable[[], torch.nn.Module], image_id: str, image_path: Path | str,
               method: str, target: Target) -> tuple[np.ndarray, bool]:
    """``get_map`` with a progress bar while it computes (gone when done)."""
    import streamlit as st

    cached = load_cached(cache, method, image_id, target)
    if cached is not None:
        return cached, True
    bar = st.progress(0.0, text="Loading the model …")

    def progress(frac: float, text: str) -> None:
        bar.progress(float(frac), text=text)

    try:
        model = model_fn()
        bar.progress(0.02, text="Computing …")
        return get_map(cache, run, model, image_id, image_path, method, target, progress)
    finally:
        bar.empty()
