"""SVM baseline: a linear SVM (scikit-learn ``LinearSVC``) on the global-average-pooled
features of a frozen pretrained trunk, one per head, C chosen on validation.

The study's SVM on VGG16-Places365 features reached 52.9 %. The fitted SVMs are turned
into a linear head on the pooled features (standardise → linear), stored as a plain
state dict like every other run, so the SVM is explained (Grad-CAM, channels) exactly as
the CNN heads are — and no pickle is ever written.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from torch import nn

DEFAULT_C_GRID = (0.001, 0.01, 0.1, 1.0)


class LinearTwoHead(nn.Module):
    """Trunk → pool → standardise → linear logits for both heads (an SVM's decision
    functions). Same interface as ``TwoHeadClassifier``: features / embed / head."""

    def __init__(self, trunk: nn.Module, feature_channels: int, n_classes: int, n_groups: int):
        super().__init__()
        self.trunk = trunk
        self.feature_channels = feature_channels
        self.register_buffer("mean", torch.zeros(feature_channels))
        self.register_buffer("scale", torch.ones(feature_channels))
        self.class_out = nn.Linear(feature_channels, n_classes)
        self.group_out = nn.Linear(feature_channels, n_groups)

    def features(self, x):
        return self.trunk(x)

    def embed(self, feature_map):
        return feature_map.mean(dim=(2, 3))

    def head(self, feature_map):
        z = (self.embed(feature_map) - self.mean) / self.scale
        return self.class_out(z), self.group_out(z)

    def forward(self, x):
        return self.head(self.features(x))


class PooledLinearHead(nn.Module):
    """``LinearTwoHead.head`` fed with already pooled features (the cached trunk)."""

    def __init__(self, model: LinearTwoHead):
        super().__init__()
        self.model = model

    def forward(self, z):
        z = (z - self.model.mean) / self.model.scale
        return self.model.class_out(z), self.model.group_out(z)


def decision_weights(svm: LinearSVC, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """(W, b) with W @ z + b = the SVM's decision values per class. A binary SVM has one
    score s; logits (-s/2, s/2) keep its decision and margin."""
    coef, bias = svm.coef_, svm.intercept_
    if n_out == 2 and coef.shape[0] == 1:
        return np.vstack([-coef / 2, coef / 2]), np.array([-bias[0] / 2, bias[0] / 2])
    if coef.shape[0] != n_out:
        raise ValueError(f"SVM saw {coef.shape[0]} classes, the head needs {n_out}: "
                         "every class must be in the training split")
    return coef, bias


def fit_linear_svm(x_train, y_train, x_val, y_val, c_grid=DEFAULT_C_GRID, seed: int = 0):
    """Best LinearSVC over ``c_grid`` by validation accuracy; returns (svm, C, val acc)."""
    best = None
    for c in c_grid:
        svm = LinearSVC(C=c, random_state=seed, max_iter=5000, dual="auto")
        svm.fit(x_train, y_train)
        acc = float((svm.predict(x_val) == y_val).mean()) if len(y_val) else 0.0
        if best is None or acc > best[2]:
            best = (svm, c, acc)
    return best


def fit_svm_head(model: LinearTwoHead, x_train, yc_train, yg_train, x_val, yc_val, yg_val,
                 c_grid=DEFAULT_C_GRID, seed: int = 0) -> dict:
    """Standardise pooled features, fit one SVM per head, install them in ``model``."""
    scaler = StandardScaler().fit(x_train)
    xt, xv = scaler.transform(x_train), scaler.transform(x_val)
    info = {}
    for name, layer, yt, yv in (("city", model.class_out, yc_train, yc_val),
                                 ("group", model.group_out, yg_train, yg_val)):
        svm, c, acc = fit_linear_svm(xt, yt, xv, yv, c_grid, seed)
        w, b = decision_weights(svm, layer.out_features)
        with torch.no_grad():
            layer.weight.copy_(torch.as_tensor(w, dtype=torch.float32))
            layer.bias.copy_(torch.as_tensor(b, dtype=torch.float32))
        info[name] = {"C": c, "val_accuracy": acc}
    with torch.no_grad():
        model.mean.copy_(torch.as_tensor(scaler.mean_, dtype=torch.float32))
        model.scale.copy_(torch.as_tensor(scaler.scale_, dtype=torch.float32))
    return info
