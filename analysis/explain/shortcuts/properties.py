"""Can the class be told from what is not the picture? Non-content properties of every
image file, and a cross-validated simple classifier on them against chance.

If a logistic regression on (width, height, aspect, file size, bytes per pixel, JPEG
quality, EXIF, letterbox) names the class far better than chance, a CNN can too — from
resampling artefacts, compression, borders — and its accuracy says less about streets.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from analysis.data.images import uniform_border_box

PROPERTIES = ("width", "height", "aspect", "file_kb", "bytes_per_pixel", "jpeg_quality", "exif", "letterbox")

# IJG's standard luminance quantisation table (quality 50), in zig-zag-free row order
_STD_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], dtype=np.float64)


def jpeg_quality(img: Image.Image) -> float:
    """The IJG quality (1–100) a JPEG's luminance table corresponds to; NaN for others."""
    tables = getattr(img, "quantization", None)
    if not tables or 0 not in tables:
        return float("nan")
    table = np.asarray(tables[0], dtype=np.float64)
    if table.size != 64:
        return float("nan")
    # libjpeg: table = (std * S + 50) / 100 with S = 5000/q (q < 50) or 200 − 2q; invert on the mean
    scale = float(np.mean(table * 100.0 / _STD_LUMA))
    q = 5000.0 / scale if scale > 100 else (200.0 - scale) / 2.0
    return float(np.clip(round(q), 1, 100))


def letterbox_fraction(img: Image.Image) -> float:
    """Share of the picture taken by uniform borders (black bars, padding)."""
    small = img.convert("RGB")
    small.thumbnail((256, 256))
    box = uniform_border_box(small)
    if box is None:
        return 0.0
    left, top, right, bottom = box
    return 1.0 - (right - left) * (bottom - top) / (small.width * small.height)


def file_properties(path: Path) -> dict:
    """:data:`PROPERTIES` of one image file (read from its header and pixels)."""
    path = Path(path)
    size = path.stat().st_size
    with Image.open(path) as img:
        w, h = img.size
        quality = jpeg_quality(img)
        exif = bool(img.getexif())
        letterbox = letterbox_fraction(img)
    return {"width": w, "height": h, "aspect": w / h, "file_kb": size / 1024,
            "bytes_per_pixel": size / (w * h), "jpeg_quality": quality, "exif": float(exif),
            "letterbox": letterbox}


def properties_table(paths: Sequence[Path]) -> pd.DataFrame:
    return pd.DataFrame([file_properties(p) for p in paths], columns=list(PROPERTIES))


def predictability(table: pd.DataFrame, labels: np.ndarray, folds: int = 5, permutations: int = 100,
                   seed: int = 0) -> dict:
    """Cross-validated balanced accuracy of a logistic regression on the properties vs
    chance (a permutation test: the same fit on shuffled labels), and of each property
    alone (a shallow tree), best first."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score, permutation_test_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    labels = np.asarray(labels)
    X = table[list(PROPERTIES)].to_numpy(dtype=np.float64)
    X = np.where(np.isnan(X), -1.0, X)  # "not a JPEG" is a value of its own
    counts = np.bincount(labels)
    n_splits = int(min(folds, counts[counts > 0].min()))
    chance = 1.0 / int((counts > 0).sum())
    if n_splits < 2 or (counts > 0).sum() < 2:
        return {"balanced_accuracy": float("nan"), "chance": chance, "p_value": float("nan"), "by_property": []}
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    score, _, p = permutation_test_score(model, X, labels, cv=cv, scoring="balanced_accuracy",
                                         n_permutations=permutations, random_state=seed)
    single = []
    for i, name in enumerate(PROPERTIES):
        col = X[:, [i]]
        if np.ptp(col) == 0:
            continue
        s = cross_val_score(DecisionTreeClassifier(max_depth=2, random_state=seed), col, labels, cv=cv,
                            scoring="balanced_accuracy").mean()
        single.append((name, float(s)))
    single.sort(key=lambda t: -t[1])
    return {"balanced_accuracy": float(score), "chance": chance, "p_value": float(p), "by_property": single}
