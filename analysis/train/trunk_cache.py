"""Cached trunk: the output of the frozen part of a network, computed once.

Frozen layers never change, so recomputing them every epoch is wasted work: on this CPU
a VGG16 block5 + head trains 7.5× faster from a cached block4 activation. Outputs are
stored as float16 ``.npy`` memmaps (optionally several augmented views per image), keyed
by everything that determines them, and written under a temporary name until complete,
so an interrupted computation never leaves a usable-looking half file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from analysis.nets.precision import autocast
from analysis.progress import bar
from analysis.store import TrunkFiles, atomic_path


def cache_key(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]


def _loader(images, batch_size: int) -> DataLoader:
    return DataLoader(images, batch_size=batch_size, shuffle=False, num_workers=0)


def compute_outputs(
    frozen: nn.Module, images, batch_size: int, device: torch.device, *,
    out: np.ndarray | None = None, desc: str = "trunk", progress: bool = True,
    precision: str = "fp32",
) -> np.ndarray:
    """Run ``frozen`` (in eval mode) over every item of ``images`` → array (N, …), whole
    outputs (feature maps are not pooled: the analysis starts from them too);
    ``precision`` "bf16" runs it under bfloat16 autocast."""
    was_training = frozen.training
    frozen.eval()
    # channels-last (NHWC) is what oneDNN's convolutions want: EfficientNet-Lite0 runs
    # 2.0× faster in bf16 (1.8× in fp32) than with NCHW tensors (bench_precision.py). The layout is changed
    # outside inference mode (the parameters must stay ordinary tensors) and restored
    # afterwards; the values are the same up to summation order.
    frozen.to(memory_format=torch.channels_last)
    try:
        with torch.inference_mode():
            pos = 0
            for x, *_ in bar(_loader(images, batch_size), desc=desc, unit="batch", disable=not progress):
                x = x.to(device)
                if x.dim() == 4:
                    x = x.contiguous(memory_format=torch.channels_last)
                with autocast(device, precision):
                    y = frozen(x)
                y = y.float().cpu().numpy()
                if out is None:
                    out = np.empty((len(images), *y.shape[1:]), dtype=np.float32)
                out[pos : pos + len(y)] = y
                pos += len(y)
        return out
    finally:
        frozen.train(was_training)
        frozen.to(memory_format=torch.contiguous_format)


def cached_outputs(
    root: Path, key_parts: dict, frozen: nn.Module, images, batch_size: int,
    device: torch.device, *, dtype: str = "float16", seed: int = 0,
    desc: str = "trunk", progress: bool = True, precision: str = "fp32",
) -> np.ndarray:
    """The frozen outputs for ``images`` from the cache under ``root``, computing (and
    storing) them on a miss. Returns a read-only memmap (its file: :func:`cache_file`)."""
    target = cache_file(root, key_parts, dtype=dtype, n=len(images), precision=precision)
    if target.is_file():
        return np.load(target, mmap_mode="r")
    torch.manual_seed(seed)  # augmented views: the same seed gives the same view
    with torch.inference_mode():
        x0 = images[0][0].unsqueeze(0).to(device)
        was = frozen.training
        frozen.eval()
        y0 = frozen(x0)
        frozen.train(was)
    shape = (len(images), *y0.shape[1:])
    torch.manual_seed(seed)
    with atomic_path(target) as tmp:
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.dtype(dtype), shape=shape)
        compute_outputs(frozen, images, batch_size, device, out=arr, desc=desc,
                        progress=progress, precision=precision)
        arr.flush()
        del arr
    TrunkFiles.meta(target).write_text(json.dumps(key_parts, sort_keys=True, default=str))
    return np.load(target, mmap_mode="r")


def cache_file(root: Path, key_parts: dict, *, dtype: str, n: int, precision: str = "fp32") -> Path:
    """Where the outputs described by ``key_parts`` are (or would be) stored."""
    # "pooled": False is what every cache file has held since the analysis reads them too;
    # kept in the key so that the files written before stay valid
    parts = {**key_parts, "pooled": False, "dtype": dtype, "n": n}
    if precision != "fp32":  # fp32 keys stay what they were before precision existed
        parts["precision"] = precision
    return TrunkFiles(root).array(cache_key(parts))


def cached_ids(npy: Path) -> list[str] | None:
    """The image ids (rows in order) of a cache file, or None when it is gone or was
    written without them."""
    meta = TrunkFiles.meta(npy)
    if not Path(npy).is_file() or not meta.is_file():
        return None
    try:
        ids = json.loads(meta.read_text()).get("ids")
    except (OSError, ValueError):
        return None
    return list(ids) if isinstance(ids, list) else None


def gather(arr: np.ndarray, idx: Sequence[int]) -> torch.Tensor:
    """Rows ``idx`` of a (memmapped) array as a float32 tensor."""
    return torch.from_numpy(np.asarray(arr[np.asarray(idx)], dtype=np.float32))
