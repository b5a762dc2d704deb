"""What a run makes of one photo that is not in its dataset: both heads' probabilities,
Grad-CAM of every output and the pooled features — one trunk pass (``all_class_cams``).

PyTorch is imported when a photo is explained: the New image page imports this module and
shows its uploader before anyone has uploaded anything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    import torch

DISPLAY_SIDE = 640  # the photo is kept at most this big for display


@dataclass
class PhotoExplanation:
    photo: np.ndarray  # uint8 (H, W, 3), the cleaned picture (display size)
    class_probs: np.ndarray
    group_probs: np.ndarray
    raw: np.ndarray  # (K, h, w) signed Grad-CAM maps, every class then every group
    pooled: np.ndarray  # (C,) what the heads see


def explain_photo(run, model: torch.nn.Module, image: Image.Image) -> PhotoExplanation:
    import torch

    from analysis.explain.gradcam import all_class_cams

    device = next(model.parameters()).device
    x = run.eval_transform()(image).unsqueeze(0).to(device)
    r = all_class_cams(model, x, keep_features=False)
    photo = image.copy()
    photo.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE))
    return PhotoExplanation(
        photo=np.asarray(photo.convert("RGB")),
        class_probs=torch.softmax(r.class_logits.float(), 1)[0].cpu().numpy(),
        group_probs=torch.softmax(r.group_logits.float(), 1)[0].cpu().numpy(),
        raw=r.raw[0].float().cpu().numpy(), pooled=r.pooled[0].float().cpu().numpy())
