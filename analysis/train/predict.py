"""``streetlens predict RUN IMAGE…``: classify photo files with a trained run.

Files go through the same decoding as an import (EXIF orientation, any colour mode,
bomb and corruption checks), so what you predict on is what a dataset would hold."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch

from analysis.data.images import ImageRejected, load_clean
from analysis.train.runs import Run, load_model


@torch.no_grad()
def predict_images(run: Run, images, model=None, pooled: bool = False):
    """Class and group probabilities for PIL images; with ``pooled``, also the pooled
    features the heads see, from the same trunk pass (``model.embed`` of the feature map,
    what the ``forward`` stage stores)."""
    model = model or load_model(run)
    tf = run.eval_transform()
    x = torch.stack([tf(im) for im in images])
    if not pooled:
        c, g = model(x)
        return c.softmax(1), g.softmax(1)
    feats = model.features(x)
    c, g = model.head(feats)
    return c.softmax(1), g.softmax(1), model.embed(feats)


def predict_files(run: Run, paths: Sequence[Path], top: int = 3, pooled: bool = False) -> pd.DataFrame:
    """One row per file: top classes with probabilities, group, or the reason it failed;
    with ``pooled``, a ``pooled`` column holds each image's pooled features."""
    labels = run.labels
    model = load_model(run)
    rows = []
    for path in paths:
        try:
            img = load_clean(Path(path), min_side=16).image
        except ImageRejected as exc:
            rows.append({"file": str(path), "error": str(exc)})
            continue
        pc, pg, *feats = predict_images(run, [img], model, pooled=pooled)
        probs, idx = pc[0].topk(min(top, len(labels.classes)))
        row = {"file": str(path), "city": labels.classes[idx[0]], "p": float(probs[0]),
               "group": labels.groups[int(pg[0].argmax())], "p_group": float(pg[0].max())}
        row["top"] = ", ".join(f"{labels.classes[i]} {float(p):.2f}" for p, i in zip(probs, idx))
        if pooled:
            row["pooled"] = feats[0][0].float().numpy()
        rows.append(row)
    return pd.DataFrame(rows)
