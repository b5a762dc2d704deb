"""Faithfulness: deletion and insertion curves (Petsiuk et al., 2018, RISE; Samek et al.,
2017, region perturbation).

If a map shows what the model uses, destroying the pixels it ranks highest should make
the model lose the class quickly (deletion: a low area under the curve), and revealing
them first should bring the class back quickly (insertion: a high area).

Procedure, per image and per ordering of its pixels:

* the order: pixels sorted by the method's map, highest value first (unsigned maps: most
  salient first; signed maps: strongest evidence *for* the class first, evidence against
  last), ties broken at random (a Grad-CAM map is flat at 0 outside its blobs, so there the
  order is random);
* ``steps`` (default 20) equal steps: at step k the first round(k/steps · H·W) pixels of
  the order are replaced by the baseline (deletion) or taken from the image into the
  baseline (insertion); step 0 and step ``steps`` are the unperturbed image and the
  baseline image, shared by every curve;
* the curve is the softmax probability of the target class (city head) at each step, its
  area the trapezoid over the removed/revealed fraction in [0, 1] (so 0..1, the mean
  probability along the way);
* the baseline image (what a removed pixel becomes): ``"blur"`` (default) is the image
  under a Gaussian blur of σ = 5 % of its shorter side (11 px at 224 px): signs, windows and
  vehicles dissolve while the colours stay in range, so the perturbed image stays close to
  a photograph (a hard mean-colour or black fill adds sharp, unnatural edges that a CNN
  also reacts to); ``"mean"`` fills with the image's mean colour;
* the reference: the same procedure with ``random_orders`` random pixel orders (seeded),
  averaged per image — what an explanation with no information scores.

All perturbed images of one image (every method and random order, both curves) are
stacked and run through the model in batches of ``batch_size`` without autograd.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import torch
from torch import nn

from analysis.explain.attribution import HeadSelect
from analysis.explain.targets import Target, batch_target

KINDS = ("deletion", "insertion")
BASELINES = ("blur", "mean")
RANDOM = "random"
BLUR_SIGMA = 0.05
"""σ of the blur baseline as a fraction of the image's shorter side."""


def baseline_image(x: torch.Tensor, kind: str = "blur", sigma: float | None = None) -> torch.Tensor:
    """The image every removed pixel turns into, for a normalised batch (N, 3, H, W).

    Blurring and per-channel normalisation commute (the kernel sums to one), so blurring
    the normalised tensor is the normalised blurred picture."""
    if kind == "mean":
        return x.mean(dim=(2, 3), keepdim=True).expand_as(x).clone()
    if kind != "blur":
        raise ValueError(f"baseline must be one of {BASELINES}, got {kind!r}")
    from torchvision.transforms.v2.functional import gaussian_blur

    h, w = x.shape[-2:]
    sigma = float(sigma) if sigma is not None else BLUR_SIGMA * min(h, w)
    radius = min(int(np.ceil(3 * sigma)), (min(h, w) - 1) // 2)  # reflect padding < side
    if radius < 1:
        return x.clone()
    return gaussian_blur(x, [2 * radius + 1] * 2, [sigma, sigma])


def pixel_rank(score: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Position of every pixel in the removal order (0 = first): highest score first,
    ties in random order."""
    flat = np.asarray(score, np.float64).ravel()
    order = np.lexsort((rng.random(flat.size), -flat))
    rank = np.empty(flat.size, np.int64)
    rank[order] = np.arange(flat.size)
    return rank


def random_rank(n_pixels: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(n_pixels)


def step_counts(n_pixels: int, steps: int) -> np.ndarray:
    """Pixels removed/revealed after each step 0..steps."""
    return np.round(np.linspace(0, 1, steps + 1) * n_pixels).astype(np.int64)


def perturbed(x: torch.Tensor, base: torch.Tensor, rank: np.ndarray, steps: int, kind: str) -> torch.Tensor:
    """The interior steps 1..steps-1 of one curve: (steps-1, 3, H, W)."""
    h, w = x.shape[-2:]
    counts = torch.as_tensor(step_counts(h * w, steps)[1:-1], device=x.device)
    r = torch.as_tensor(rank, device=x.device).reshape(1, 1, h, w)
    mask = r < counts.reshape(-1, 1, 1, 1)  # (steps-1, 1, H, W): pixels already taken
    if kind == "deletion":
        return torch.where(mask, base[None], x[None])
    return torch.where(mask, x[None], base[None])


def auc(fractions: np.ndarray, probs: np.ndarray) -> float:
    """Trapezoidal area under a curve over fractions in [0, 1]."""
    f, p = np.asarray(fractions, np.float64), np.asarray(probs, np.float64)
    return float(np.sum((f[1:] - f[:-1]) * (p[1:] + p[:-1]) / 2))


def _probabilities(forward: nn.Module, images: Iterator[torch.Tensor], index: int, batch_size: int) -> np.ndarray:
    out, pending, size = [], [], 0

    def flush(chunk: torch.Tensor):
        with torch.no_grad():
            out.append(forward(chunk).softmax(-1)[:, index].float().cpu().numpy())

    for t in images:
        pending.append(t)
        size += t.shape[0]
        while size >= batch_size:
            cat = torch.cat(pending)
            flush(cat[:batch_size])
            rest = cat[batch_size:]
            pending, size = ([rest] if rest.shape[0] else []), rest.shape[0]
    if size:
        flush(torch.cat(pending))
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def perturbation_curves(model: nn.Module, x: torch.Tensor, target: Target,
                        maps: dict[str, np.ndarray], *, steps: int = 20, baseline: str = "blur",
                        random_orders: int = 3, seed: int = 0, batch_size: int = 32,
                        progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Per-image curves: one row per (image, method, order, kind, step) with the
    ``fraction`` removed/revealed and the target-class probability ``prob``. ``method`` is
    a key of ``maps`` or ``"random"`` (``order`` = 0..random_orders-1)."""
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    if random_orders < 0:
        raise ValueError(f"random_orders must be >= 0, got {random_orders}")
    target = batch_target(target, x.shape[0])
    head = target.head
    index = target.per_sample(x.shape[0])
    n, _, h, w = x.shape
    for m, v in maps.items():
        if tuple(v.shape) != (n, h, w):
            raise ValueError(f"{m} maps have shape {tuple(v.shape)}, expected {(n, h, w)}")
    forward = HeadSelect(model, head)
    was_training = model.training
    model.eval()
    fractions = np.linspace(0, 1, steps + 1)
    rows = []
    try:
        base_all = baseline_image(x, baseline)
        for i in range(n):
            rng = np.random.default_rng([seed, i])
            orders = [(m, 0, pixel_rank(maps[m][i], rng)) for m in maps]
            orders += [(RANDOM, r, random_rank(h * w, rng)) for r in range(random_orders)]
            xi, bi = x[i], base_all[i]

            def images():
                yield torch.stack([xi, bi])
                for _, _, rank in orders:
                    for kind in KINDS:
                        yield perturbed(xi, bi, rank, steps, kind)

            p = _probabilities(forward, images(), index[i], batch_size)
            p_image, p_base, inner = p[0], p[1], p[2:].reshape(len(orders), len(KINDS), steps - 1)
            for o, (m, r, _) in enumerate(orders):
                for k, kind in enumerate(KINDS):
                    ends = (p_image, p_base) if kind == "deletion" else (p_base, p_image)
                    curve = np.concatenate([[ends[0]], inner[o, k], [ends[1]]])
                    rows += [{"image": i, "method": m, "order": r, "kind": kind, "step": s,
                              "fraction": float(fractions[s]), "prob": float(curve[s])}
                             for s in range(steps + 1)]
            if progress is not None:
                progress(i)
    finally:
        model.train(was_training)
    return pd.DataFrame(rows)


def image_aucs(curves: pd.DataFrame) -> pd.DataFrame:
    """Area under each curve, random orders averaged per image: columns
    ``image, method, kind, auc``."""
    per = (curves.sort_values("step").groupby(["image", "method", "order", "kind"], sort=False)
           .apply(lambda d: auc(d["fraction"].to_numpy(), d["prob"].to_numpy()), include_groups=False)
           .rename("auc").reset_index())
    return per.groupby(["image", "method", "kind"], sort=False)["auc"].mean().reset_index()


def summarize(curves: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(metrics, mean_curves)``.

    metrics, long form: ``metric`` ``deletion_auc`` / ``insertion_auc`` per method
    (``"random"`` included) and ``deletion_auc_diff`` / ``insertion_auc_diff`` (method minus
    random, paired per image; deletion wants it negative, insertion positive), each with
    ``value`` (mean over images), ``std`` and ``n``.
    mean_curves: ``kind, method, step, fraction, value, std, n`` (random orders averaged
    per image first)."""
    aucs = image_aucs(curves)
    g = aucs.groupby(["method", "kind"], sort=False)["auc"]
    m = pd.DataFrame({"value": g.mean(), "std": g.std(ddof=0), "n": g.count()}).reset_index()
    m["metric"] = m["kind"] + "_auc"
    rnd = aucs[aucs["method"] == RANDOM].set_index(["image", "kind"])["auc"]
    diffs = []
    if len(rnd):
        other = aucs[aucs["method"] != RANDOM].copy()
        other["d"] = other["auc"].to_numpy() - rnd.reindex(list(zip(other["image"], other["kind"]))).to_numpy()
        gd = other.groupby(["method", "kind"], sort=False)["d"]
        d = pd.DataFrame({"value": gd.mean(), "std": gd.std(ddof=0), "n": gd.count()}).reset_index()
        d["metric"] = d["kind"] + "_auc_diff"
        diffs.append(d)
    metrics = pd.concat([m, *diffs], ignore_index=True).drop(columns="kind")

    per_image = curves.groupby(["image", "method", "kind", "step", "fraction"], sort=False)["prob"].mean().reset_index()
    gc = per_image.groupby(["kind", "method", "step", "fraction"], sort=False)["prob"]
    mean_curves = pd.DataFrame({"value": gc.mean(), "std": gc.std(ddof=0), "n": gc.count()}).reset_index()
    return metrics, mean_curves
