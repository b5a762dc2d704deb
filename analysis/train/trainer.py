"""``streetlens train``: one function that turns a dataset, a backbone and a mode into a
run folder. Modes (transfer / finetune / scratch) differ only in their :class:`Plan`;
the SVM baseline shares the feature cache and the run format."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from analysis.allocator import keep_freed_memory
from analysis.data.dataset import Dataset, DatasetError, default_data_root, fingerprint
from analysis.nets.device import choose_device
from analysis.nets.precision import resolve_precision
from analysis.nets.registry import get_backbone
from analysis.store import TrunkFiles
from analysis.train import loop, metrics
from analysis.train.data import ImageTable, Labels, make_transform, split_rows
from analysis.train.modes import build_optimizer, get_mode
from analysis.train.runs import Run, build_model, code_version, default_models_root, save_run, unique_run_name
from analysis.train.svm import DEFAULT_C_GRID, PooledLinearHead, fit_svm_head
from analysis.train.trunk_cache import cache_file, cached_outputs, gather


@dataclass
class TrainConfig:
    dataset: str
    backbone: str
    mode: str
    weights: str | None = None  # None: the mode's choice (scratch: random; else pretrained)
    epochs: int | None = None  # None: the mode's default
    patience: int | None = None
    lr: float | None = None
    batch_size: int = 32
    momentum: float = 0.9
    weight_decay: float = 1e-4
    loss_weights: tuple[float, float] = (1.0, 0.5)  # city, group (the study's 1 and 0.5)
    hidden: int = 256
    dropout: float = 0.5
    augment: str = "none"
    views: int = 1  # augmented views cached per training image (cached trunk only)
    cache: bool = True
    cache_dtype: str = "float16"
    cache_precision: str = "auto"  # trunk pass for the cache: "fp32", "bf16", "auto" (bf16 where native)
    # forward/backward of the trained layers: "auto" = bf16 autocast where native (mixed
    # precision: weights, gradients and the optimiser stay fp32; evaluation runs in fp32)
    train_precision: str = "auto"
    image_size: int | None = None
    svm_c: tuple[float, ...] = DEFAULT_C_GRID
    seed: int = 0
    # train on this share of the training images (stratified per city, drawn with the
    # seed); validation and test stay whole, so runs at every fraction are compared on
    # the same images (the data-efficiency curves of `streetlens experiment`)
    train_fraction: float = 1.0
    name: str | None = None
    device: str = "auto"
    data_root: str | None = None
    models_root: str | None = None
    cache_root: str = "cache"
    extra: dict = field(default_factory=dict)


def _pool(y: torch.Tensor, pooled: bool) -> torch.Tensor:
    return y.mean(dim=(2, 3)) if pooled and y.dim() == 4 else y


class _CachedRows(torch.utils.data.Dataset):
    """Rows of a cached frozen output, as a dataset of inputs for the layers after it."""

    def __init__(self, arr: np.ndarray):
        self.arr = arr

    def __len__(self) -> int:
        return len(self.arr)

    def __getitem__(self, i: int):
        return (gather(self.arr, [i])[0],)


def _split_sources(config, spec, weights, ds, rows, labels, frozen, pooled, device, dtype, progress,
                   reusable: dict | None = None, prefix_tail=None):
    """A batch source per split: cached frozen outputs, or the frozen part run live.

    The cache always holds the frozen part's full output (feature maps, not pooled
    vectors), so that ``streetlens analyze`` can start from it instead of running the
    frozen layers again; ``reusable`` (when given) receives the cache files of the
    un-augmented views: split → file name. ``prefix_tail`` = (prefix, tail) of a frozen
    trunk: where a fine-tuning run already cached the prefix for the same images, only
    the tail runs (the demo trains both modes on one backbone)."""
    fp = fingerprint(pd.concat(rows.values()))
    precision = resolve_precision(config.cache_precision, device)
    eval_tf = make_transform(spec, weights, "none", config.image_size)
    train_tf = make_transform(spec, weights, config.augment, config.image_size)
    root = TrunkFiles.under(config.cache_root).root
    sources = {}
    for split, df in rows.items():
        augmented = split == "train" and config.augment != "none"
        images = ImageTable(ds, df, labels, train_tf if augmented else eval_tf)
        y_class, y_group = labels.encode(df)
        if config.cache:
            n_views = max(1, config.views) if augmented else 1

            def key(module, v, split=split, df=df, augmented=augmented):
                return {"backbone": spec.name, "weights": weights,
                        "frozen": list(module._modules) or type(module).__name__,
                        "size": config.image_size or spec.input_size,
                        "augment": config.augment if augmented else "none", "view": v,
                        # the seed only changes augmented views: runs that differ in seed
                        # alone share the cached outputs of un-augmented images
                        "seed": config.seed if augmented else 0, "dataset": fp, "split": split, "ids": list(df["id"])}

            def inputs(v, images=images, augmented=augmented, key=key, n=len(df)):
                """(module, inputs): the images through ``frozen``, or a cached prefix
                through the tail."""
                if prefix_tail is None or augmented:
                    return frozen, images
                kw = dict(dtype=dtype, n=n, precision=precision)
                prefix, tail = prefix_tail
                if cache_file(root, key(frozen, v), **kw).is_file():
                    return frozen, images
                pre = cache_file(root, key(prefix, v), **kw)
                if not pre.is_file():
                    return frozen, images
                return tail, _CachedRows(np.load(pre, mmap_mode="r"))

            views = [
                cached_outputs(root, key(frozen, v), *inputs(v), config.batch_size, device,
                               dtype=dtype, seed=config.seed * 1000 + v,
                               desc=f"cache {split} view {v + 1}/{n_views}", progress=progress,
                               precision=precision)
                for v in range(n_views)
            ]
            if reusable is not None and not augmented:
                reusable[split] = Path(views[0].filename).name

            def source(idx, epoch, views=views):
                arr = views[(epoch - 1) % len(views)] if epoch else views[0]
                if not pooled:
                    return gather(arr, idx)
                # pooled in chunks: the SVM asks for every row at once
                return torch.cat([_pool(gather(arr, idx[i:i + 256]), True) for i in range(0, len(idx), 256)])
        else:
            def source(idx, epoch, images=images):
                frozen.eval()  # trainable.train() flips it; the frozen part never trains
                x = torch.stack([images[int(i)][0] for i in idx]).to(device)
                with torch.no_grad():
                    return _pool(frozen(x), pooled)
        sources[split] = loop.Split(source, y_class, y_group)
    return sources


def _prefix_tail(spec, model):
    """(prefix, tail) of the trunk as fine-tuning cuts it, or None for a backbone without
    a last block."""
    try:
        return spec.split(model.trunk)
    except (ValueError, TypeError, AttributeError):
        return None


def fraction_positions(df: pd.DataFrame, fraction: float, seed: int) -> np.ndarray:
    """Positions of a stratified share of ``df``'s rows: ``ceil(fraction × n)`` images of
    each class (at least one), drawn with ``seed``, in their original order."""
    if not 0 < fraction <= 1:
        raise ValueError(f"train_fraction must be in (0, 1], got {fraction}")
    if fraction == 1:
        return np.arange(len(df))
    rng = np.random.default_rng(seed)
    keep = []
    for _, idx in df.groupby("class", sort=True).indices.items():
        k = max(1, int(np.ceil(fraction * len(idx) - 1e-9)))
        keep.append(rng.choice(idx, size=k, replace=False))
    return np.sort(np.concatenate(keep))


def _final_metrics(trainable, sources, labels, config, device) -> tuple[dict, pd.DataFrame]:
    out, preds = {}, []
    for split in ("val", "test"):
        ev = loop.evaluate(trainable, sources[split], config.batch_size, config.loss_weights, device)
        pc, pg = ev["class_logits"].argmax(1).numpy(), ev["group_logits"].argmax(1).numpy()
        out[split] = metrics.both_heads(sources[split].y_class, pc, sources[split].y_group, pg,
                                        labels.classes, labels.groups)
        out[split]["loss"] = ev["loss"]
        preds.append(pd.DataFrame({"split": split, "y_class": sources[split].y_class, "pred_class": pc,
                                   "y_group": sources[split].y_group, "pred_group": pg}))
    return out, pd.concat(preds, ignore_index=True)


def train(config: TrainConfig, progress: bool = True) -> Run:
    """Train one run and write it to ``models/<run>/``; returns the :class:`Run`."""
    keep_freed_memory()  # batch after batch of activations, reused instead of faulted in (analysis/allocator.py)
    started = time.perf_counter()
    ds = Dataset.open(config.dataset, Path(config.data_root) if config.data_root else default_data_root())
    df = ds.usable()
    if df.empty:
        raise DatasetError(f"dataset {ds.name} has no usable images; see `streetlens data summary "
                           f"--dataset {ds.name}`")
    rows = {s: split_rows(df, s) for s in ("train", "val", "test")}
    empty = [s for s, r in rows.items() if r.empty]
    if empty:
        raise DatasetError(f"dataset {ds.name} has no {'/'.join(empty)} images; "
                           f"re-split it with `streetlens data split --dataset {ds.name}`")
    labels = Labels.from_table(df)
    keep = fraction_positions(rows["train"], config.train_fraction, config.seed)
    missing = sorted(set(labels.classes) - set(rows["train"]["class"]))
    if missing:
        raise DatasetError(f"classes {', '.join(missing)} have no training images in {ds.name}")
    spec = get_backbone(config.backbone)
    is_svm = config.mode == "svm"
    planner = None if is_svm else get_mode(config.mode)
    weights = config.weights or ("random" if config.mode == "scratch" else spec.default_weights)
    device = choose_device(config.device)
    dtype = config.cache_dtype

    torch.manual_seed(config.seed)
    np.random.seed(config.seed)
    model = build_model(spec, "svm" if is_svm else "mlp", labels, asdict(config), weights).to(device)
    # the SVM head is fitted by scikit-learn, never by the autocast training loop
    train_precision = "fp32" if is_svm else resolve_precision(config.train_precision, device)
    t_cache = time.perf_counter()
    reusable: dict[str, str] = {}
    if is_svm:
        model.eval()
        sources = _split_sources(config, spec, weights, ds, rows, labels, model.trunk, True,
                                 device, dtype, progress, reusable, _prefix_tail(spec, model))
        sources["train"] = sources["train"].subset(keep)
        n_views = max(1, config.views) if config.augment != "none" else 1
        train_all = np.arange(len(sources["train"]))
        x_train = np.concatenate([sources["train"].source(train_all, v + 1).numpy() for v in range(n_views)])
        x_val = sources["val"].source(np.arange(len(sources["val"])), 0).numpy()
        cache_s = time.perf_counter() - t_cache
        svm_info = fit_svm_head(model, x_train, np.tile(sources["train"].y_class, n_views),
                                np.tile(sources["train"].y_group, n_views), x_val,
                                sources["val"].y_class, sources["val"].y_group, config.svm_c, config.seed)
        trainable = PooledLinearHead(model)
        history = pd.DataFrame([{"epoch": 1, **{f"svm_{k}_C": v["C"] for k, v in svm_info.items()},
                                 "val_city_acc": svm_info["city"]["val_accuracy"],
                                 "val_group_acc": svm_info["group"]["val_accuracy"]}])
        best_epoch, effective = 1, {"svm_c": list(config.svm_c), "chosen": svm_info}
    else:
        plan = planner(model, spec, asdict(config))
        effective = {k: getattr(config, k) if getattr(config, k) is not None else v
                     for k, v in plan.defaults.items()}
        if not plan.cacheable and config.cache:
            config = TrainConfig(**{**asdict(config), "cache": False})
        sources = _split_sources(config, spec, weights, ds, rows, labels, plan.frozen, plan.pooled,
                                 device, dtype, progress, reusable,
                                 _prefix_tail(spec, model) if plan.frozen is model.trunk else None)
        sources["train"] = sources["train"].subset(keep)
        cache_s = time.perf_counter() - t_cache
        optimizer = build_optimizer(plan, effective["lr"], config.momentum, config.weight_decay)
        result = loop.fit(plan.trainable, optimizer, sources["train"], sources["val"],
                          epochs=effective["epochs"], patience=effective["patience"],
                          batch_size=config.batch_size, loss_weights=config.loss_weights,
                          seed=config.seed, device=device, progress=progress,
                          state_of=model.state_dict,
                          precision=train_precision)
        model.load_state_dict(result.best_state)
        trainable = plan.trainable
        history = pd.DataFrame(result.history)
        best_epoch = result.best_epoch
    model.eval()
    final, predictions = _final_metrics(trainable, sources, labels, config, device)
    predictions.insert(1, "id", pd.concat([rows["val"]["id"], rows["test"]["id"]], ignore_index=True))
    total_s = time.perf_counter() - started

    models_root = Path(config.models_root) if config.models_root else default_models_root()
    base = config.name or f"{ds.name}-{spec.name}-{config.mode}" + (
        f"-{weights}" if weights != spec.default_weights and config.mode != "scratch" else "")
    name = config.name or unique_run_name(models_root, base)
    cfg = {**asdict(config), "weights": weights, **{k: v for k, v in effective.items() if k != "chosen"}}
    info = {
        "name": name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": cfg,
        "head": "svm" if is_svm else "mlp",
        "labels": labels.to_json(),
        "dataset": {"name": ds.name, "path": str(ds.root.resolve()), "fingerprint": fingerprint(df),
                    "n_images": len(df), **{f"n_{s}": len(r) for s, r in rows.items()},
                    "n_train": len(keep)},  # the images trained on (a share when train_fraction < 1)
        "backbone": {"name": spec.name, "weights": weights, "input_size": config.image_size or spec.input_size,
                     "mean_std": spec.mean_std(weights), "target_layer": spec.target_layer},
        "code_version": code_version(),
        "metrics": final,
        "best_epoch": best_epoch,
        "timings": {"cache_s": round(cache_s, 2), "total_s": round(total_s, 2),
                    "train_s": round(total_s - cache_s, 2)},
        "device": str(device),
        "train_precision": train_precision,
    }
    if is_svm:
        info["svm"] = effective["chosen"]
    if config.cache and reusable:
        # what `streetlens analyze` may start from instead of the frozen layers
        frozen_part = "trunk" if is_svm or plan.pooled else "prefix"
        info["trunk_cache"] = {"root": str(TrunkFiles.under(config.cache_root).root.resolve()),
                               "frozen": frozen_part, "files": reusable,
                               "precision": resolve_precision(config.cache_precision, device)}
    return save_run(models_root / name, model.cpu(), info, history, predictions)
