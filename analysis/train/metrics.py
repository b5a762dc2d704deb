"""Metrics of both heads with scikit-learn: accuracy, macro-F1, per-class precision and
recall, confusion matrix. Plain dicts, so they go straight into the run's info."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


def head_metrics(y_true: np.ndarray, y_pred: np.ndarray, names: Sequence[str]) -> dict:
    labels = list(range(len(names)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)) if len(y_true) else float("nan"),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "per_class": {
            n: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for n, p, r, f, s in zip(names, precision, recall, f1, support)
        },
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "labels": list(names),
        "n": int(len(y_true)),
    }


def both_heads(class_true, class_pred, group_true, group_pred, classes, groups) -> dict:
    return {"city": head_metrics(np.asarray(class_true), np.asarray(class_pred), classes),
            "group": head_metrics(np.asarray(group_true), np.asarray(group_pred), groups)}
