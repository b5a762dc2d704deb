"""``channel_images``: for every channel the ``channels`` stage names, the images where it
fires strongest — what the Features page shows under "a closer look", so the page never
scans the whole dataset's activations."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.precompute.stage import Stage
from analysis.progress import bar
from analysis.store import batched

PER_CHANNEL = 8
CHUNK = 256


def channel_peaks(acts: np.ndarray, channels: list[int], chunk: int = CHUNK) -> tuple[np.ndarray, np.ndarray]:
    """(peak, mean) activation of each image for each of ``channels``: (N, len(channels))."""
    n = len(acts)
    peaks = np.empty((n, len(channels)), np.float32)
    means = np.empty((n, len(channels)), np.float32)
    for a, b in batched(n, chunk):
        block = np.asarray(acts[a:b][:, channels], dtype=np.float32).reshape(b - a, len(channels), -1)
        peaks[a:b], means[a:b] = block.max(2), block.mean(2)
    return peaks, means


def top_images(peaks: np.ndarray, means: np.ndarray, n: int = PER_CHANNEL) -> np.ndarray:
    """Rows of the ``n`` images where a channel fires strongest: by peak activation, ties
    (saturating activations such as ReLU6) broken by the mean over the map."""
    return np.lexsort((-means, -peaks))[:n]


def run(ctx) -> dict:
    channels = sorted(int(c) for c in set(ctx.cache.top_channels()["channel"]))
    acts = ctx.cache.activations()
    peaks, means = channel_peaks(acts, channels)
    records = []
    for j, ch in enumerate(bar(channels, desc="channel images", unit="channel", disable=not ctx.progress)):
        for rank, row in enumerate(top_images(peaks[:, j], means[:, j], ctx.param("channel_images"))):
            records.append({"channel": ch, "rank": rank, "row": int(row),
                            "peak": float(peaks[row, j]), "mean": float(means[row, j])})
    ctx.cache.write_table("channel_images", pd.DataFrame(
        records, columns=["channel", "rank", "row", "peak", "mean"]))
    return {"channels": len(channels)}


STAGE = Stage(
    name="channel_images", order=25, run=run, params=("channel_images",),
    defaults={"channel_images": PER_CHANNEL},
    doc="the images where each of the top channels fires strongest",
    reads=("activations", "top_channels"), writes=("channel_images",),
    new_artefacts=(("channel_images", "table", "per top channel, the images where it fires most"),),
)
