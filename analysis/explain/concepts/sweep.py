"""Which layer and how many concepts? Fit several (layer, k) settings and measure each.

For every setting: NMF concepts fitted on training images' activations at that layer,
then
* reconstruction error — ‖A − U·W‖ / ‖A‖ on validation images (U by non-negative least
  squares with W fixed),
* stability — the share of concepts that come back in refits (``stability.py``),
* completeness — the validation accuracy when the layer's output is *replaced* by its
  concept reconstruction and the rest of the network runs on it, over the accuracy on
  the original output (1: the concepts carry the whole decision).
A layer whose outputs can be negative is clipped before the factorisation (NMF needs
non-negative data); ``negative_fraction`` says how much, and completeness pays for it.

The dashboard reads the thresholds and :func:`recommend`; the functions that run the
model import PyTorch themselves, so that reading the thresholds does not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.explain.concepts.factorize import concept_maps
from analysis.explain.concepts.stability import concept_stability, refit_with
from analysis.explain.concepts.stream import fit_basis
from analysis.progress import bar

if TYPE_CHECKING:
    import torch

MIN_COMPLETENESS = 0.9
MIN_STABLE = 0.75


def default_layers(trunk: torch.nn.Sequential, target_layer: str, last_block: Sequence[str]) -> list[str]:
    """The target layer and the trunk stage just before the fine-tuned block."""
    names = [n for n, _ in trunk.named_children()]
    first = names.index(last_block[0]) if last_block and last_block[0] in names else len(names) - 1
    before = names[first - 1] if first > 0 else None
    return [target_layer] + ([before] if before and before != target_layer else [])


@contextmanager
def _hook(module: torch.nn.Module, fn):
    handle = module.register_forward_hook(fn)
    try:
        yield
    finally:
        handle.remove()


def layer_activations(model: torch.nn.Module, layer: str, batches: Iterable[torch.Tensor]) -> np.ndarray:
    """(n, C, h, w) float32 outputs of trunk layer ``layer`` for the images of ``batches``."""
    import torch

    module = model.trunk.get_submodule(layer)
    out: list[np.ndarray] = []

    def keep(_m, _i, o):
        out.append(o.detach().float().cpu().numpy())

    model.eval()
    with torch.inference_mode(), _hook(module, keep):
        for x in batches:
            model(x)
    return np.concatenate(out)


def reconstructed_predictions(model: torch.nn.Module, layer: str, basis, batches: Iterable[torch.Tensor]
                              ) -> np.ndarray:
    """City predictions when ``layer``'s output is replaced by its concept reconstruction."""
    import torch

    module = model.trunk.get_submodule(layer)
    W = basis.components.astype(np.float64)

    def replace(_m, _i, o):
        maps = concept_maps(basis, o.detach().double().cpu().numpy())
        rec = np.einsum("nkhw,kc->nchw", maps, W)
        return torch.from_numpy(rec).to(o.device, o.dtype)

    preds = []
    model.eval()
    with torch.inference_mode(), _hook(module, replace):
        for x in batches:
            preds.append(model(x)[0].argmax(1).cpu().numpy())
    return np.concatenate(preds)


def relative_error(basis, activations: np.ndarray) -> float:
    A = np.maximum(np.asarray(activations, dtype=np.float64), 0)
    rec = np.einsum("nkhw,kc->nchw", concept_maps(basis, A), basis.components.astype(np.float64))
    return float(np.linalg.norm(A - rec) / max(np.linalg.norm(A), 1e-12))


def check_settings(channels: dict[str, int], ks: Sequence[int]) -> None:
    """One clear line for a k that a layer cannot have."""
    for layer, c in channels.items():
        too_big = [k for k in ks if k > c]
        if too_big:
            raise ValueError(f"k={max(too_big)} is more than the {c} channels of layer {layer}: "
                             f"choose k ≤ {c} there")
    if any(k < 1 for k in ks):
        raise ValueError(f"every k must be at least 1, got {', '.join(map(str, ks))}")


def sweep(model: torch.nn.Module, layers: Sequence[str], ks: Sequence[int],
          train_batches: Callable[[], Iterable[torch.Tensor]], val_batches: Callable[[], Iterable[torch.Tensor]],
          val_labels: np.ndarray, refits: int = 3, max_rows: int = 8000, seed: int = 0,
          progress: bool = False, fit: str = "auto") -> pd.DataFrame:
    """Measure every (layer, k); ``*_batches()`` yield preprocessed image batches anew.
    ``fit``: "sketch", "full", "minibatch" or "auto" (``stream.fit_basis``; the sweep's images are few,
    so auto is the sketched NMF unless they hold more than ``MINIBATCH_FROM_ROWS`` positions); the
    stability refits are fitted as ``stability.refit_with`` says."""
    import torch

    val_labels = np.asarray(val_labels)
    with torch.inference_mode():
        base = np.concatenate([model(x)[0].argmax(1).cpu().numpy() for x in val_batches()])
    accuracy = float((base == val_labels).mean())
    acts = {layer: layer_activations(model, layer, train_batches()) for layer in layers}
    check_settings({layer: a.shape[1] for layer, a in acts.items()}, ks)
    val_acts = {layer: layer_activations(model, layer, val_batches()) for layer in layers}
    rows = []
    settings = [(layer, k) for layer in layers for k in ks]
    for layer, k in bar(settings, total=len(settings), desc="concept settings", disable=not progress):
        train = acts[layer]
        basis = fit_basis(train, k, fit=fit, seed=seed, max_rows=max_rows, tol=1e-3)
        stab = concept_stability(train, basis.components, refits=refits, max_rows=max_rows, seed=seed,
                                 fit=refit_with(basis.meta["fit"]))
        val = val_acts[layer]
        pred = reconstructed_predictions(model, layer, basis, val_batches())
        concept_acc = float((pred == val_labels).mean())
        rows.append({"layer": layer, "k": k, "channels": int(train.shape[1]),
                     "relative_error": relative_error(basis, val), "stable_share": float(stab.stable.mean()),
                     "accuracy": accuracy, "concept_accuracy": concept_acc,
                     "completeness": concept_acc / accuracy if accuracy > 0 else float("nan"),
                     "negative_fraction": float(basis.negative_fraction), "fit": basis.meta["fit"]})
    return pd.DataFrame(rows)


def recommend(table: pd.DataFrame) -> tuple[int, str]:
    """(row index, reason): the setting to use, in words."""
    ok = table[(table["completeness"] >= MIN_COMPLETENESS) & (table["stable_share"] >= MIN_STABLE)]
    if len(ok):
        best = ok.sort_values(["stable_share", "k"], ascending=[False, True]).index[0]
        r = table.loc[best]
        return int(best), (f"{r['layer']} with k={int(r['k'])}: its concepts keep {r['completeness']:.0%} of the "
                           f"accuracy and {r['stable_share']:.0%} of them come back in refits — the most stable "
                           f"setting that keeps at least {MIN_COMPLETENESS:.0%} (fewer concepts win a tie)")
    best = table.sort_values(["completeness", "stable_share"], ascending=False).index[0]
    r = table.loc[best]
    return int(best), (f"{r['layer']} with k={int(r['k'])}: no setting keeps {MIN_COMPLETENESS:.0%} of the accuracy "
                       f"with {MIN_STABLE:.0%} stable concepts; this one keeps the most ({r['completeness']:.0%}, "
                       f"{r['stable_share']:.0%} stable)")
