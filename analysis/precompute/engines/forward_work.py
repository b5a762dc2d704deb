"""The per-image work of the ``forward`` stage, one shard at a time — the same code in
every engine, so the local and the Ray engine write the same bytes.

Split in two because the Ray engine runs them in different places:
- :class:`PixelReader` decodes and resizes a shard's photos to ``uint8`` tensors (cheap to
  ship between processes: a quarter of float32); any process can run it.
- :class:`ForwardWorker` holds the model (loaded once), turns pixels into predictions,
  pooled features, activations, all-class Grad-CAM and channel attributions
  (:func:`~analysis.explain.gradcam.all_class_cams`, the head's Jacobian) and writes the
  shard with its record. Rows the training's trunk cache holds skip decoding and the
  frozen layers (:class:`~analysis.explain.trunk_reuse.CachedTrunk`).

Batches start at each shard's first row, so a shard's arithmetic does not depend on which
engine, process or machine computed it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from analysis.data.dataset import Dataset, fingerprint
from analysis.explain.gradcam import all_class_cams, cams_from_features
from analysis.explain.trunk_reuse import CachedTrunk
from analysis.nets.device import choose_device
from analysis.nets.fold import fold_batchnorm, in_eval_mode
from analysis.store import RunCache, ShardLayout, batched, file_fingerprint
from analysis.train.data import load_rgb
from analysis.train.runs import Run, load_model, open_run

STAGE = "forward"
ARRAYS = ("class_logits", "group_logits", "class_probs", "group_probs", "features", "activations",
          "cams", "gradients", "channel_attr")
TABLES = ("samples",)


def forward_layout(run: Run, n: int, shard_rows: int) -> ShardLayout:
    """What each shard of the forward stage holds."""
    kc, kg = len(run.labels.classes), len(run.labels.groups)
    k = kc + kg
    c, h, w = run.spec.feature_shape(run.input_size)
    arrays = {
        "class_logits": ((n, kc), "float32"), "group_logits": ((n, kg), "float32"),
        "class_probs": ((n, kc), "float32"), "group_probs": ((n, kg), "float32"),
        "features": ((n, c), "float32"), "activations": ((n, c, h, w), "float16"),
        "cams": ((n, k, h, w), "float16"), "gradients": ((n, k, c), "float16"),
        "channel_attr": ((n, k, c), "float16"),
    }
    return ShardLayout(n, max(1, min(shard_rows, max(n, 1))), arrays, TABLES)


@dataclass(frozen=True)
class WorkSpec:
    """Everything a worker in another process needs (plain paths and numbers: picklable)."""

    run_path: str
    dataset_root: str
    cache_root: str  # the run's cache folder; every node must reach it
    batch_size: int
    device: str = "auto"
    threads: int = 0  # torch threads in a worker process (0: leave torch's default)


class PixelReader:
    """A run's evaluation transform split at the point where pictures are ``uint8`` tensors."""

    def __init__(self, run: Run):
        steps = list(run.eval_transform().transforms)
        cut = next(i for i, t in enumerate(steps) if type(t).__name__ == "ToDtype")
        self.to_uint8 = type(run.eval_transform())(steps[:cut])
        self.to_float = type(run.eval_transform())(steps[cut:])

    def decode(self, paths: list[Path]) -> torch.Tensor:
        """(B, 3, H, W) uint8: the photos, resized as the run expects."""
        return torch.stack([self.to_uint8(load_rgb(p)).as_subclass(torch.Tensor) for p in paths])

    def normalise(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 → the float tensor the model expects (element-wise: batching does not matter)."""
        return self.to_float(pixels)


def samples_part(rows: pd.DataFrame, first: int, class_logits: np.ndarray, group_logits: np.ndarray,
                 run: Run) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The samples table's rows for one shard (both heads' predictions and confidence),
    and the two heads' probabilities."""
    labels = run.labels
    pc = torch.from_numpy(class_logits).softmax(1).numpy()
    pg = torch.from_numpy(group_logits).softmax(1).numpy()
    y_class, y_group = labels.encode(rows)
    n = len(rows)
    pred_c, pred_g = pc.argmax(1), pg.argmax(1)
    top2 = np.sort(pc, axis=1)[:, -2:] if pc.shape[1] > 1 else np.concatenate([pc * 0, pc], 1)
    df = rows[["id", "path", "class", "group", "split"]].reset_index(drop=True).copy()
    df.insert(0, "row", np.arange(first, first + n))
    df["y_class"], df["y_group"] = y_class, y_group
    df["pred_class"] = [labels.classes[i] for i in pred_c]
    df["pred_group"] = [labels.groups[i] for i in pred_g]
    df["p_pred"] = pc.max(1)
    df["p_true"] = pc[np.arange(n), y_class]
    df["p_group"] = pg.max(1)
    df["margin"] = top2[:, 1] - top2[:, 0]
    df["correct"] = pred_c == y_class
    df["correct_group"] = pred_g == y_group
    return df, pc.astype(np.float32), pg.astype(np.float32)


class ForwardWorker:
    """Computes and writes whole shards; built once per process (it loads the model)."""

    def __init__(self, spec: WorkSpec, run: Run | None = None, dataset: Dataset | None = None,
                 rows: pd.DataFrame | None = None, model: torch.nn.Module | None = None):
        if spec.threads:
            torch.set_num_threads(spec.threads)
        self.spec = spec
        self.run = run or open_run(spec.run_path)
        self.dataset = dataset or Dataset(Path(spec.dataset_root))
        self.rows = rows if rows is not None else self.dataset.usable()
        self.device = choose_device(spec.device)
        self.model = model if model is not None else load_model(self.run, self.device)
        # NHWC: oneDNN's convolutions on a CPU run a forward pass in 0.6-0.8x the time of NCHW
        self.memory_format = torch.channels_last if self.device.type == "cpu" else torch.contiguous_format
        self.model = self.model.to(memory_format=self.memory_format)
        # batch norms folded into their convolutions (a copy; the same folding in every engine)
        weight = next(self.model.parameters())  # the example where and as the model computes
        example = torch.zeros(2, 3, self.run.input_size, self.run.input_size, device=weight.device,
                              dtype=weight.dtype)
        self.model, self.folded = (self.model, 0) if not in_eval_mode(self.model) else fold_batchnorm(
            self.model, example.contiguous(memory_format=self.memory_format))
        self.reader = PixelReader(self.run)
        self.cache = RunCache(spec.cache_root)
        # what this worker actually uses: a shard made from anything else is refused
        self.made_from = {"model_fingerprint": file_fingerprint(self.run.files.model),
                          "dataset_fingerprint": fingerprint(self.rows)}
        self.shards = self.cache.shard_set(STAGE)
        self.reuse = CachedTrunk.for_run(self.run, self.model, self.rows)

    def batches(self, index: int) -> list[tuple[int, int]]:
        """The batches of shard ``index`` (global rows), starting at the shard's first row."""
        a, b = self.shards.layout.bounds(index)
        return [(a + s, a + e) for s, e in batched(b - a, self.spec.batch_size)]

    def paths_to_decode(self, index: int) -> list[str]:
        """The shard's image paths, "" where the trunk cache makes decoding unnecessary."""
        out = []
        for a, b in self.batches(index):
            covered = self.reuse is not None and self.reuse.covers(a, b)
            out += ["" if covered else str(self.dataset.image_path(p)) for p in self.rows["path"].iloc[a:b]]
        return out

    def decode(self, index: int) -> torch.Tensor | None:
        """This shard's pixels (rows the trunk cache covers stay zero), or None when all are covered."""
        return decode_paths(self.reader, self.paths_to_decode(index))

    def compute(self, index: int, pixels: torch.Tensor | None) -> tuple[dict, dict, int]:
        """The shard's arrays and tables, and how many rows came from the trunk cache."""
        a0, b0 = self.shards.layout.bounds(index)
        parts: dict[str, list[np.ndarray]] = {}
        from_cache = 0
        for a, b in self.batches(index):
            if self.reuse is not None and self.reuse.covers(a, b):
                r = cams_from_features(self.model, self.reuse.features(a, b, self.device), keep_features=True)
                from_cache += b - a
            else:
                x = self.reader.normalise(pixels[a - a0:b - a0]).to(self.device)
                x = x.contiguous(memory_format=self.memory_format)
                r = all_class_cams(self.model, x, keep_features=True)
            values = {"class_logits": r.class_logits, "group_logits": r.group_logits, "features": r.pooled,
                      "activations": r.features, "cams": r.raw, "gradients": r.gradients,
                      "channel_attr": r.channel_attr}
            for name, v in values.items():
                parts.setdefault(name, []).append(stored(v, self.shards.layout.arrays[name][1]))
        arrays = {name: np.concatenate(v) for name, v in parts.items()}
        samples, pc, pg = samples_part(self.rows.iloc[a0:b0], a0, arrays["class_logits"],
                                       arrays["group_logits"], self.run)
        arrays["class_probs"], arrays["group_probs"] = pc, pg
        return arrays, {"samples": samples}, from_cache

    def write(self, index: int, pixels: torch.Tensor | None) -> dict:
        """Compute shard ``index`` from its decoded ``pixels`` (:meth:`decode`; None when the
        trunk cache covers every row) and commit it."""
        t0 = time.perf_counter()
        return self.commit(index, self.compute(index, pixels), t0)

    def commit(self, index: int, computed: tuple[dict, dict, int], started: float) -> dict:
        """Write what :meth:`compute` returned for shard ``index`` and return its record."""
        arrays, tables, from_cache = computed
        record = self.shards.write(index, arrays, tables, made_from=self.made_from)
        return {**record, "from_trunk_cache": from_cache, "batchnorms_folded": self.folded,
                "seconds": round(time.perf_counter() - started, 3)}


def stored(v: torch.Tensor, dtype: str) -> np.ndarray:
    """``v`` as the store keeps it: float32, then ``dtype``. The float16 cast is torch's
    (vectorised; numpy's took 0.3 ms per image, a tenth of the forward pass); both round to
    nearest even, so the bits are numpy's (tested)."""
    v = v.detach().float().cpu()
    if np.dtype(dtype) == np.float16:
        v = v.to(torch.float16)
    elif np.dtype(dtype) != np.float32:
        return v.numpy().astype(dtype)
    return v.numpy()


def decode_paths(reader: PixelReader, paths: list[str]) -> torch.Tensor | None:
    """uint8 pixels of ``paths``; "" entries (rows that need no decoding) stay zero."""
    todo = [i for i, p in enumerate(paths) if p]
    if not todo:
        return None
    decoded = reader.decode([Path(paths[i]) for i in todo])
    if len(todo) == len(paths):
        return decoded
    out = torch.zeros((len(paths), *decoded.shape[1:]), dtype=decoded.dtype)
    out[torch.tensor(todo)] = decoded
    return out
