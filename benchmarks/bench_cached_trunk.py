"""One fine-tuning epoch with and without the cached trunk, same data, same machine.

    python benchmarks/bench_cached_trunk.py --backbone vgg16 --weights random --per-class 6

Builds (or reuses) a small procedural dataset, then for the same training rows times:
  uncached  the frozen prefix runs on every batch (images decoded, resized, forwarded)
  cached    the frozen prefix's output is read from the float16 memmap
and prints seconds per epoch, images/s and the ratio (target: cached ≥ 5× faster), plus
the one-time cost of filling the cache and the epoch at which caching has paid off.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.data.dataset import Dataset  # noqa: E402
from analysis.data.synthetic import synthesize_dataset  # noqa: E402
from analysis.nets.registry import get_backbone  # noqa: E402
from analysis.train import loop  # noqa: E402
from analysis.train.data import Labels, split_rows  # noqa: E402
from analysis.train.modes import build_optimizer, get_mode  # noqa: E402
from analysis.train.runs import build_model  # noqa: E402
from analysis.train.trainer import TrainConfig, _split_sources  # noqa: E402


def one_epoch(cfg: TrainConfig, ds: Dataset, cache: bool, cache_root: Path) -> tuple[float, float]:
    """(seconds to prepare the sources, seconds for one training epoch)."""
    spec = get_backbone(cfg.backbone)
    df = ds.usable()
    rows = {s: split_rows(df, s) for s in ("train", "val", "test")}
    rows["val"] = rows["val"].head(4)  # validation is not what we time
    rows["test"] = rows["test"].head(4)
    labels = Labels.from_table(df)
    torch.manual_seed(0)
    model = build_model(spec, "mlp", labels, {}, cfg.weights)
    plan = get_mode("finetune")(model, spec, {})
    c = replace(cfg, cache=cache, cache_root=str(cache_root))
    t0 = time.perf_counter()
    sources = _split_sources(c, spec, cfg.weights, ds, rows, labels, plan.frozen, plan.pooled,
                             torch.device("cpu"), "float16", progress=False)
    prep = time.perf_counter() - t0
    opt = build_optimizer(plan, 1e-3, 0.9, 1e-4)
    train = sources["train"]
    rng = np.random.default_rng(0)
    plan.trainable.train()
    t0 = time.perf_counter()
    for idx in loop.batches(len(train), cfg.batch_size, rng):
        x = train.source(idx, 1)
        out = plan.trainable(x)
        loss = loop.two_head_loss(out, torch.from_numpy(train.y_class[idx]),
                                  torch.from_numpy(train.y_group[idx]), (1.0, 0.5))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return prep, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", default="vgg16")
    ap.add_argument("--weights", default="random")
    ap.add_argument("--dataset", default=None, help="existing dataset path (default: procedural)")
    ap.add_argument("--per-class", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=8)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.dataset:
            ds = Dataset(Path(args.dataset))
        else:
            ds = Dataset(tmp / "demo")
            synthesize_dataset(ds, per_class=args.per_class, size=224, progress=False)
        cfg = TrainConfig(dataset=str(ds.root), backbone=args.backbone, mode="finetune",
                          weights=args.weights, batch_size=args.batch_size)
        n = int((ds.usable()["split"] == "train").sum())
        print(f"{args.backbone} ({args.weights}), finetune, {n} training images at 224 px, "
              f"batch {args.batch_size}, {torch.get_num_threads()} threads")
        _, uncached = one_epoch(cfg, ds, cache=False, cache_root=tmp / "cache")
        fill, _ = one_epoch(cfg, ds, cache=True, cache_root=tmp / "cache")  # fills the cache
        _, cached = one_epoch(cfg, ds, cache=True, cache_root=tmp / "cache")
        _, uncached2 = one_epoch(cfg, ds, cache=False, cache_root=tmp / "cache")
        uncached = min(uncached, uncached2)
        print(f"{'':<22}{'s/epoch':>10}{'img/s':>10}")
        print(f"{'uncached epoch':<22}{uncached:>10.2f}{n / uncached:>10.2f}")
        print(f"{'cached epoch':<22}{cached:>10.2f}{n / cached:>10.2f}")
        print(f"{'cache fill (once)':<22}{fill:>10.2f}{n / fill:>10.2f}")
        ratio = uncached / cached
        print(f"ratio uncached/cached per epoch: {ratio:.1f}x (target >= 5x)")
        epochs_to_pay = fill / max(uncached - cached, 1e-9)
        print(f"cache pays for itself after {epochs_to_pay:.1f} epochs")


if __name__ == "__main__":
    main()
