"""Two-head classifier: backbone trunk → global average pool → shared MLP → city and group.

``head`` is everything after the target feature map, kept as a separate method because
Grad-CAM for all classes at once needs the Jacobian of ``head`` w.r.t. the feature map
(one trunk pass, then a cheap head Jacobian — see DESIGN "Measured").
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from analysis.nets.registry import get_backbone


class TwoHeadClassifier(nn.Module):
    """``forward(x) -> (class_logits, group_logits)``.

    The trunk's output IS the target feature map, so ``features`` is just the trunk and
    ``head(features(x)) == forward(x)``.
    """

    def __init__(self, trunk: nn.Module, feature_channels: int, n_classes: int, n_groups: int,
                 hidden: int = 256, dropout: float = 0.5):
        super().__init__()
        if n_classes < 1 or n_groups < 1:
            raise ValueError(f"need n_classes >= 1 and n_groups >= 1, got {n_classes}, {n_groups}")
        self.trunk = trunk
        self.feature_channels = feature_channels
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.shared = nn.Sequential(nn.Linear(feature_channels, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.class_out = nn.Linear(hidden, n_classes)
        self.group_out = nn.Linear(hidden, n_groups)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Target feature map (N, C, h, w)."""
        return self.trunk(x)

    def embed(self, feature_map: torch.Tensor) -> torch.Tensor:
        """Pooled feature vector (N, C): what the head sees; used for UMAP / SVM."""
        return self.pool(feature_map).flatten(1)

    def head(self, feature_map: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Everything after the feature map: (class_logits, group_logits)."""
        if feature_map.dim() != 4 or feature_map.shape[1] != self.feature_channels:
            raise ValueError(
                f"head expects (N, {self.feature_channels}, h, w), got {tuple(feature_map.shape)}"
            )
        return self.logits_from_pooled(self.embed(feature_map))

    def logits_from_pooled(self, pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(class_logits, group_logits) from the pooled vector (N, C)."""
        h = self.shared(pooled)
        return self.class_out(h), self.group_out(h)

    def pooled_head(self):
        """``logits_from_pooled`` when the head sees the feature map only through its spatial
        mean (then ∂logit/∂A = ∂logit/∂pooled / (h·w) at every position, and Grad-CAM needs
        the Jacobian of a (N, C) vector only: ``explain.gradcam``); None for a subclass that
        changes how the head reads the map."""
        plain = (type(self).embed is TwoHeadClassifier.embed and type(self).head is TwoHeadClassifier.head
                 and isinstance(self.pool, nn.AdaptiveAvgPool2d) and self.pool.output_size in (1, (1, 1)))
        return self.logits_from_pooled if plain else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.features(x))


def two_head_loss(outputs: tuple[torch.Tensor, torch.Tensor], class_targets: torch.Tensor,
                  group_targets: torch.Tensor, weights: tuple[float, float] = (1.0, 0.5)
                  ) -> torch.Tensor:
    """Weighted sum of the two cross-entropies (city matters most, group helps)."""
    class_logits, group_logits = outputs
    return (weights[0] * F.cross_entropy(class_logits, class_targets)
            + weights[1] * F.cross_entropy(group_logits, group_targets))


def build_classifier(backbone: str, weights: str | None, n_classes: int, n_groups: int,
                     **head_kw) -> TwoHeadClassifier:
    """``TwoHeadClassifier`` on ``backbone``'s trunk with ``weights`` (None = its default)."""
    spec = get_backbone(backbone)
    return TwoHeadClassifier(spec.build(weights), spec.feature_channels, n_classes, n_groups, **head_kw)
