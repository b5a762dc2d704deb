"""Model-parameter randomisation test (Adebayo et al., 2018, "Sanity checks for saliency
maps"): if a saliency map hardly changes when the weights it is supposed to explain are
replaced by random ones, it explains the input (edges, colours), not the model.

Two schedules, both over the layers of ``cascade_order`` (head layers top-down, then the
trunk stages top-down), the two output layers of our two-head models taken together as one
"logits" step:

* ``cascade``: step k randomises the first k entries (logits, then the head, then the trunk
  from its last stage towards the input) — the paper's cascading randomisation;
* ``independent``: step k randomises only entry k (layer-by-layer), the rest trained.

For every step, method and image the randomised model's map (same image, same target
class) is compared with the trained model's map by

* ``rank_corr_abs``: Spearman rank correlation of the absolute maps
  (``scipy.stats.spearmanr``), as in the paper;
* ``rank_corr_signed``: the same of the signed maps, for methods whose sign means
  something (``signed`` in the registry: guided backprop, guided Grad-CAM, integrated
  gradients);
* ``ssim``: structural similarity (``skimage.metrics.structural_similarity``,
  ``data_range=1``) of the display-normalised absolute maps (``to_display``: |map| over its
  99th percentile, clipped to [0, 1]) — what a user sees.

A map without any variation has no ranks: when the trained model's map is constant the
image is left out (NaN); when only the randomised one is, the rank correlation is 0 (it
keeps nothing of the original ordering).

Weights are redrawn by ``randomized_copy`` (each layer's own ``reset_parameters``, seeded);
the trained model is never touched.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from analysis.explain.attribution import OUTPUT_LAYERS
from analysis.explain.randomize import cascade_order, randomized_copy
from analysis.explain.reliability.maps import MapSettings, compute_maps, method_signed
from analysis.explain.targets import Target

MODES = ("cascade", "independent")
METRICS = ("rank_corr_abs", "rank_corr_signed", "ssim")


@dataclass(frozen=True)
class Step:
    """One randomisation step: ``layer`` is what this step adds (cascade) or the only
    randomised layer (independent); ``layers`` is everything randomised."""

    mode: str
    step: int
    layer: str
    layers: tuple[str, ...]


_NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def _norm_only(module: nn.Module) -> bool:
    """Whether every parameterised submodule of ``module`` is a normalisation layer."""
    owners = [m for m in module.modules() if any(True for _ in m.parameters(recurse=False))]
    return bool(owners) and all(isinstance(m, _NORMS) for m in owners)


def layer_groups(model: nn.Module) -> list[tuple[str, tuple[str, ...]]]:
    """``(name, layers)`` in cascade order. The output layers form one "logits" group, and
    a trunk stage that is only a normalisation layer (EfficientNet's ``bn1``, ``bn2``) goes
    with the convolution it normalises (``trunk.conv_head+bn2``): one layer in the
    paper's sense, one step fewer to compute."""
    order = cascade_order(model)
    logits = tuple(n for n in order if n in OUTPUT_LAYERS)
    groups: list[tuple[str, tuple[str, ...]]] = [("logits", logits)] if logits else []
    pending: list[str] = []  # norm-only stages waiting for the conv below them (top-down)
    for n in order:
        if n in OUTPUT_LAYERS:
            continue
        if n.startswith("trunk.") and _norm_only(model.get_submodule(n)):
            pending.append(n)
            continue
        layers = tuple(pending) + (n,)
        name = n if not pending else n + "+" + "+".join(p.split(".")[-1] for p in reversed(pending))
        groups.append((name, layers))
        pending = []
    if pending:  # a norm with no conv below it: its own step
        groups += [(p, (p,)) for p in pending]
    return groups


def randomization_steps(model: nn.Module, mode: str) -> list[Step]:
    """The steps of one schedule (step 0, the trained model, is not listed)."""
    if mode not in MODES:
        raise ValueError(f"randomisation mode must be one of {MODES}, got {mode!r}")
    steps, done = [], ()
    for k, (name, layers) in enumerate(layer_groups(model), start=1):
        done = done + layers
        steps.append(Step(mode, k, name, done if mode == "cascade" else layers))
    return steps


def milestone_steps(model: nn.Module, last_block: Sequence[str] = ()) -> dict[str, int]:
    """Cascade steps worth naming: ``logits`` (the output layers random), ``head`` (the
    whole head random), ``last_block`` (the trunk's trainable last block random too; the
    first trunk stage when no block is given) and ``all`` (every layer random)."""
    groups = layer_groups(model)
    names = [g[0] for g in groups]
    out = {}
    if names and names[0] == "logits":
        out["logits"] = 1
    trunk = [i for i, n in enumerate(names, start=1) if n.startswith("trunk.")]
    if trunk:
        out["head"] = trunk[0] - 1
        wanted = {f"trunk.{b}" for b in last_block}
        hits = [i for i, (_, layers) in enumerate(groups, start=1) if wanted & set(layers)]
        out["last_block"] = max(hits) if hits else trunk[0]
    out["all"] = len(names)
    return {k: v for k, v in out.items() if v >= 1}


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho of two maps (``scipy.stats.spearmanr``); NaN if ``a`` is constant,
    0 if only ``b`` is."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if a.size < 2 or np.ptp(a) == 0:
        return float("nan")
    if np.ptp(b) == 0:
        return 0.0
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def _display(m: np.ndarray, percentile: float = 99.0) -> np.ndarray:
    """``to_display(m)`` (|m| over its 99th percentile, clipped to [0, 1]) in numpy:
    ``np.percentile`` selects instead of sorting (``torch.quantile`` sorts: ~10× slower on
    a 224×224 map, and this runs for every map of every randomisation step)."""
    a = np.abs(np.asarray(m, np.float32)).astype(np.float64)
    scale = float(np.percentile(a, percentile)) if a.size else 0.0
    if not scale > 0:
        scale = float(a.max()) if a.size else 0.0
    if not scale > 0:
        scale = 1.0
    return np.clip(a / scale, 0.0, 1.0)


def _ssim(da: np.ndarray, db: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    side = min(da.shape)
    win = min(7, side if side % 2 else side - 1)
    if win < 3:
        return float("nan")
    return float(structural_similarity(da, db, data_range=1.0, win_size=win))


def map_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of the display-normalised absolute maps (skimage, ``data_range=1``)."""
    return _ssim(_display(a), _display(b))


class Reference:
    """The trained model's map of one image, prepared once for many comparisons: its
    ranks (Spearman's rho is Pearson's r of the ranks, average ranks for ties — exactly
    what ``spearmanr`` computes, without ranking the reference again at every step) and
    its display-normalised form for SSIM."""

    def __init__(self, m: np.ndarray, signed: bool):
        from scipy.stats import rankdata

        self.signed = signed
        m = np.asarray(m, np.float64)
        self.abs_ranks = None if np.ptp(np.abs(m)) == 0 else _centred(rankdata(np.abs(m).ravel()))
        self.ranks = None if not signed or np.ptp(m) == 0 else _centred(rankdata(m.ravel()))
        self.display = _display(m)

    @staticmethod
    def _rho(ref: np.ndarray | None, other: np.ndarray) -> float:
        from scipy.stats import rankdata

        if ref is None:
            return float("nan")
        if np.ptp(other) == 0:
            return 0.0
        r = _centred(rankdata(other.ravel()))
        return float(np.dot(ref, r) / np.sqrt(np.dot(ref, ref) * np.dot(r, r)))

    def compare(self, other: np.ndarray) -> dict[str, float]:
        other = np.asarray(other, np.float64)
        return {"rank_corr_abs": self._rho(self.abs_ranks, np.abs(other)),
                "rank_corr_signed": self._rho(self.ranks, other) if self.signed else float("nan"),
                "ssim": _ssim(self.display, _display(other))}


def _centred(r: np.ndarray) -> np.ndarray:
    return r - r.mean()


def similarities(original: np.ndarray, other: np.ndarray, signed: bool) -> dict[str, float]:
    """The three similarity measures of one pair of (H, W) maps."""
    return Reference(original, signed).compare(other)


def randomization_test(model: nn.Module, x: torch.Tensor, target: Target,
                       methods: Sequence[str], settings: MapSettings | None = None, *,
                       modes: Sequence[str] = MODES, seed: int = 0,
                       original: dict[str, np.ndarray] | None = None,
                       progress: Callable[[Step], None] | None = None) -> pd.DataFrame:
    """Per-image similarities: one row per (mode, step, method, image) with the columns
    ``mode, step, layer, method, image`` and the ``METRICS``. Step 0 (the trained model
    against itself) is included with similarity 1. ``original``: the trained model's maps
    if already computed (``compute_maps``)."""
    settings = settings or MapSettings()
    if original is None:
        original = compute_maps(model, x, target, methods, settings)
    signed = {m: method_signed(m) for m in methods}
    rows = []
    n = x.shape[0]
    for mode in modes:
        for m in methods:
            for i in range(n):
                rows.append({"mode": mode, "step": 0, "layer": "original", "method": m, "image": i,
                             "rank_corr_abs": 1.0, "rank_corr_signed": 1.0 if signed[m] else float("nan"),
                             "ssim": 1.0})
    refs = {m: [Reference(original[m][i], signed[m]) for i in range(n)] for m in methods}
    seen: dict[tuple[str, ...], dict[str, np.ndarray]] = {}
    for mode in modes:
        for st in randomization_steps(model, mode):
            if progress is not None:
                progress(st)
            maps = seen.get(st.layers)
            if maps is None:
                copy = randomized_copy(model, list(st.layers), seed=seed)
                maps = compute_maps(copy, x, target, methods, settings)
                del copy
                if st.step == 1:  # the first step is the same in both schedules
                    seen[st.layers] = maps
            for m in methods:
                for i in range(n):
                    rows.append({"mode": mode, "step": st.step, "layer": st.layer, "method": m, "image": i,
                                 **refs[m][i].compare(maps[m][i])})
    return pd.DataFrame(rows)


def summarize(per_image: pd.DataFrame, milestones: dict[str, int] | None = None) -> pd.DataFrame:
    """Long form: one row per (mode, step, method, metric) with the mean over images,
    their standard deviation (the error band) and ``n`` (images with a value);
    ``milestone`` names cascade steps from ``milestone_steps``."""
    names = {v: k for k, v in (milestones or {}).items()}
    long = per_image.melt(id_vars=["mode", "step", "layer", "method", "image"], value_vars=list(METRICS),
                          var_name="metric", value_name="v")
    g = long.groupby(["mode", "step", "layer", "method", "metric"], sort=False)["v"]
    out = pd.DataFrame({"value": g.mean(), "std": g.std(ddof=0), "n": g.count()}).reset_index()
    out = out[out["n"] > 0].reset_index(drop=True)
    out["milestone"] = [names.get(s, "") if mode == "cascade" else ""
                        for mode, s in zip(out["mode"], out["step"])]
    return out
