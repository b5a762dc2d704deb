"""``streetlens analyze RUN``: everything the dashboard shows, computed once per run.

Stages (each resumable, each timed, each with a progress bar):

  forward    one pass over every image: predictions of both heads, pooled features,
             target-layer activations, Grad-CAM raw maps for every class of both heads,
             Grad-CAM weights and channel attributions (the head's Jacobian, not one
             backward per class) → samples.parquet + memory-mapped arrays
  map        UMAP of the pooled features (umap-learn, seeded) and the nearest training
             images of every image → umap.parquet, neighbors.npy
  channels   the channels that drive each class and group, dataset-wide → top_channels.parquet
  concepts   NMF of the activations of the whole dataset → concept basis, per-image
             concept maps, concept × class importance, top patches → concepts/
  featvis    lucent feature visualisations of the concept directions and of each class's
             top channels → featvis/*.png

The manifest records the model and dataset fingerprints and the parameters; a cache
computed for another model, dataset or parameters is discarded and recomputed.
"""

from __future__ import annotations

import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from tqdm import tqdm

from analysis.data.dataset import Dataset, DatasetError, fingerprint
from analysis.fileio import atomic_path
from analysis.store import SCHEMA_VERSION, AnalysisCache, batched, default_cache_root, file_fingerprint
from analysis.train.data import load_rgb, make_transform
from analysis.train.runs import MODEL_FILE, Run, code_version, load_model, open_run


@dataclass
class AnalyzeConfig:
    batch_size: int = 16
    n_concepts: int = 12
    concept_rows: int = 100_000
    top_patches: int = 12
    top_channels: int = 10
    featvis_channels: int = 3  # per class
    featvis_size: int = 128
    featvis_steps: int = 256
    featvis_lr: float = 0.05  # lucent's Adam step; ~0.1 lets half the steps reach the same contrast
    featvis_precision: str = "auto"  # bf16 where it is native and faster (see nets/precision.py)
    umap_neighbors: int = 15
    knn: int = 8
    seed: int = 0
    stages: tuple[str, ...] = ("forward", "map", "channels", "concepts", "featvis")
    # reliability (opt-in stage; see analysis/explain/reliability/stage.py for the costs)
    reliability_images: int = 8  # correctly classified test images, one class in turn
    reliability_ig_images: int = 4  # of those, for integrated gradients (and occlusion)
    reliability_ig_steps: int = 8
    reliability_steps: int = 20  # deletion/insertion steps
    reliability_random_orders: int = 3
    reliability_baseline: str = "blur"  # or "mean"
    reliability_loc_images: int = 30  # test images for pointing game (Grad-CAM: all)
    reliability_tolerance: int = 15  # pointing-game tolerance, px at 224 px
    reliability_methods: str = ""  # comma-separated; "" = the dashboard's five
    reliability_modes: str = "cascade,independent"
    device: str = "auto"
    extra: dict = field(default_factory=dict)

    def stage_params(self, stage: str) -> dict:
        """The parameters that change one stage's results."""
        return {k: getattr(self, k) for k in STAGE_PARAMS.get(stage, ())}


# Parameters each stage depends on; a change reruns that stage (and what depends on it),
# never the expensive forward pass.
STAGE_PARAMS: dict[str, tuple[str, ...]] = {
    "forward": (),
    "map": ("umap_neighbors", "knn", "seed"),
    "channels": ("top_channels",),
    "concepts": ("n_concepts", "concept_rows", "top_patches", "seed"),
    "featvis": ("featvis_channels", "featvis_size", "featvis_steps", "featvis_lr",
                "featvis_precision", "seed",
                "n_concepts", "top_channels"),
    "reliability": ("reliability_images", "reliability_ig_images", "reliability_ig_steps",
                    "reliability_steps", "reliability_random_orders", "reliability_baseline",
                    "reliability_loc_images", "reliability_tolerance", "reliability_methods",
                    "reliability_modes", "seed"),
}
STAGE_OUTPUTS: dict[str, tuple[str, ...]] = {
    "concepts": ("concepts", "concept_maps.npy", "concept_importance.parquet",
                 "concept_patches.parquet"),
    "featvis": ("featvis", "featvis.parquet"),
    "reliability": ("reliability.parquet", "reliability_curves.parquet"),
}
DOWNSTREAM: dict[str, tuple[str, ...]] = {"channels": ("featvis",), "concepts": ("featvis",)}


@dataclass
class Context:
    """What every stage needs: run, model, dataset rows, the cache, and settings."""

    run: Run
    model: torch.nn.Module
    dataset: Dataset
    rows: pd.DataFrame
    cache: AnalysisCache
    config: AnalyzeConfig
    device: torch.device
    progress: bool
    key: dict  # what the streaming arrays must match to be resumed

    @property
    def n(self) -> int:
        return len(self.rows)


STAGES: dict[str, Callable[[Context], dict]] = {}


def stage(name: str):
    def decorate(fn):
        STAGES[name] = fn
        return fn

    return decorate


def dataset_for_run(run: Run, dataset: str | Path | None = None) -> Dataset:
    ds = Dataset.open(dataset) if dataset else Dataset(Path(run.info["dataset"]["path"]))
    if not ds.exists():
        raise DatasetError(f"the dataset of run {run.name} is not at {ds.root}; pass --dataset PATH")
    return ds


def image_batches(ctx: Context, start: int = 0, skip: Callable[[int, int], bool] | None = None):
    """Preprocessed image batches ``(a, b, x)`` in row order, from row ``start`` on;
    ``x`` is None (the images are not even read) where ``skip(a, b)`` is true."""
    tf = make_transform(ctx.run.spec, ctx.run.weights, "none", ctx.run.info["backbone"]["input_size"])
    paths = [ctx.dataset.image_path(p) for p in ctx.rows["path"]]
    for a, b in batched(ctx.n, ctx.config.batch_size, start):
        if skip is not None and skip(a, b):
            yield a, b, None
        else:
            yield a, b, torch.stack([tf(load_rgb(p)) for p in paths[a:b]]).to(ctx.device)


# ------------------------------------------------------------------------------- stages
@stage("forward")
def forward_stage(ctx: Context) -> dict:
    from analysis.explain.gradcam import all_class_cams, cams_from_features
    from analysis.explain.trunk_reuse import CachedTrunk

    n, labels = ctx.n, ctx.run.labels
    kc, kg = len(labels.classes), len(labels.groups)
    k = kc + kg
    size = ctx.run.info["backbone"]["input_size"]
    c, h, w = ctx.run.spec.feature_shape(size)
    arrays = {
        "class_logits.npy": ((n, kc), "float32"),
        "group_logits.npy": ((n, kg), "float32"),
        "features.npy": ((n, c), "float32"),
        "activations.npy": ((n, c, h, w), "float16"),
        "cams.npy": ((n, k, h, w), "float16"),
        "gradients.npy": ((n, k, c), "float16"),
        "channel_attr.npy": ((n, k, c), "float16"),
    }
    streams = {name: ctx.cache.streaming(name, shape, dtype, ctx.key) for name, (shape, dtype) in arrays.items()}
    start = min(s.start for s in streams.values())
    reuse = CachedTrunk.for_run(ctx.run, ctx.model, ctx.rows)
    from_cache = 0
    with tqdm(total=n, initial=start, desc="forward + all-class Grad-CAM", unit="img",
              disable=not ctx.progress) as bar:
        for a, b, x in image_batches(ctx, start, skip=reuse.covers if reuse else None):
            if x is None:  # every row of the batch is in the training's trunk cache
                r = cams_from_features(ctx.model, reuse.features(a, b, ctx.device), keep_features=True)
                from_cache += b - a
            else:
                r = all_class_cams(ctx.model, x, keep_features=True)
            values = {
                "class_logits.npy": r.class_logits, "group_logits.npy": r.group_logits,
                "features.npy": r.pooled, "activations.npy": r.features, "cams.npy": r.raw,
                "gradients.npy": r.gradients, "channel_attr.npy": r.channel_attr,
            }
            for name, stream in streams.items():
                stream.write(a, values[name].float().cpu().numpy().astype(stream.dtype))
            bar.update(b - a)
    for stream in streams.values():
        stream.finish()
    write_samples(ctx)
    return {"images": n, "feature_map": [c, h, w], "from_trunk_cache": from_cache,
            **({"trunk_cache": reuse.source} if reuse else {})}


def write_samples(ctx: Context) -> pd.DataFrame:
    """samples.parquet: one row per image with both heads' predictions and confidence."""
    labels = ctx.run.labels
    pc = torch.from_numpy(np.array(ctx.cache.array("class_logits.npy"))).softmax(1).numpy()
    pg = torch.from_numpy(np.array(ctx.cache.array("group_logits.npy"))).softmax(1).numpy()
    y_class, y_group = labels.encode(ctx.rows)
    pred_c, pred_g = pc.argmax(1), pg.argmax(1)
    top2 = np.sort(pc, axis=1)[:, -2:] if pc.shape[1] > 1 else np.concatenate([pc * 0, pc], 1)
    df = ctx.rows[["id", "path", "class", "group", "split"]].copy()
    df.insert(0, "row", np.arange(ctx.n))
    df["y_class"], df["y_group"] = y_class, y_group
    df["pred_class"] = [labels.classes[i] for i in pred_c]
    df["pred_group"] = [labels.groups[i] for i in pred_g]
    df["p_pred"] = pc.max(1)
    df["p_true"] = pc[np.arange(ctx.n), y_class]
    df["p_group"] = pg.max(1)
    df["margin"] = top2[:, 1] - top2[:, 0]
    df["correct"] = pred_c == y_class
    df["correct_group"] = pred_g == y_group
    ctx.cache.write_table("samples.parquet", df)
    ctx.cache.write_array("class_probs.npy", pc.astype(np.float32))
    ctx.cache.write_array("group_probs.npy", pg.astype(np.float32))
    return df


@stage("map")
def map_stage(ctx: Context) -> dict:
    """UMAP of pooled features and each image's nearest training images (cosine)."""
    from sklearn.neighbors import NearestNeighbors

    feats = np.asarray(ctx.cache.array("features.npy"), dtype=np.float32)
    norm = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    train = np.flatnonzero(ctx.rows["split"].to_numpy() == "train")
    k = min(ctx.config.knn, len(train))
    nn = NearestNeighbors(n_neighbors=min(k + 1, len(train)), metric="euclidean").fit(norm[train])
    dist, idx = nn.kneighbors(norm)
    neighbors = train[idx]
    # an image's own row is not its neighbour: drop it where it appears, keep k
    keep = np.array([[j for j in row if j != i][:k] for i, row in enumerate(neighbors)])
    kd = np.array([[d for j, d in zip(row, drow) if j != i][:k]
                   for i, (row, drow) in enumerate(zip(neighbors, dist))])
    ctx.cache.write_array("neighbors.npy", keep.astype(np.int32))
    ctx.cache.write_array("neighbor_dist.npy", (kd ** 2 / 2).astype(np.float32))  # cosine distance
    xy = umap_2d(norm, ctx.config.umap_neighbors, ctx.config.seed, ctx.progress)
    table = pd.DataFrame({"row": np.arange(ctx.n), "id": ctx.rows["id"].to_numpy(),
                          "x": xy[:, 0], "y": xy[:, 1]})
    ctx.cache.write_table("umap.parquet", table)
    return {"knn": k}


def umap_2d(feats: np.ndarray, n_neighbors: int, seed: int, progress: bool) -> np.ndarray:
    """Seeded 2-D UMAP (cosine); tiny datasets (fewer points than neighbours) fall back to PCA.

    The neighbour graph is exact (scikit-learn on unit vectors, cosine distance =
    ‖a − b‖² / 2) and handed to UMAP as ``precomputed_knn``: exact instead of
    pynndescent's approximation, and it skips pynndescent's numba compilation, about 8 s
    of the first fit in every process.
    """
    if len(feats) < max(n_neighbors + 2, 8):
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(feats) if len(feats) > 2 \
            else np.zeros((len(feats), 2))
    import umap
    from sklearn.neighbors import NearestNeighbors

    unit = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    dist, idx = NearestNeighbors(n_neighbors=n_neighbors).fit(unit).kneighbors(unit)
    knn_dist = (dist ** 2 / 2).astype(np.float32)
    reducer = umap.UMAP(n_components=2, n_neighbors=n_neighbors, min_dist=0.1, metric="cosine",
                        random_state=seed, n_jobs=1, verbose=False,
                        precomputed_knn=(idx, knn_dist, None))
    with warnings.catch_warnings():  # "transform will be unavailable": streetlens never calls it
        warnings.filterwarnings("ignore", message=".*knn_search_index.*")
        warnings.filterwarnings("ignore", message=".*n_jobs value.*")
        return reducer.fit_transform(feats).astype(np.float32)


@stage("channels")
def channels_stage(ctx: Context) -> dict:
    """Top channels per class (over correctly classified images of that class) and per group."""
    from analysis.explain.channels import top_channels, top_group_channels

    attr = ctx.cache.array("channel_attr.npy")
    samples = ctx.cache.table("samples.parquet")
    labels = ctx.run.labels
    y, yg = samples["y_class"].to_numpy(), samples["y_group"].to_numpy()
    correct = samples["correct"].to_numpy()
    rows = []
    for k, cls in enumerate(labels.classes):
        mask = correct if correct[y == k].any() else None
        for rank, (ch, value) in enumerate(top_channels(attr, y, k, ctx.config.top_channels,
                                                        only_correct_mask=mask)):
            rows.append({"target": cls, "head": "city", "index": k, "rank": rank,
                         "channel": int(ch), "attribution": float(value)})
    for g, grp in enumerate(labels.groups):
        for rank, (ch, value) in enumerate(top_group_channels(attr, yg, g, len(labels.classes),
                                                              ctx.config.top_channels)):
            rows.append({"target": grp, "head": "group", "index": g, "rank": rank,
                         "channel": int(ch), "attribution": float(value)})
    ctx.cache.write_table("top_channels.parquet", pd.DataFrame(rows))
    return {"rows": len(rows)}


@stage("concepts")
def concepts_stage(ctx: Context) -> dict:
    """NMF concepts of the training images' activations; maps for every image; the
    concept × class importance (gradient × concept activation, CRAFT) and top patches."""
    from analysis.explain.factorize import (ConceptBasis, concept_class_importance, concept_maps,
                                            crop_patches, fit_concepts, patch_box, top_patches)

    cfg, labels = ctx.config, ctx.run.labels
    acts = ctx.cache.array("activations.npy")
    n, c, h, w = acts.shape
    folder = ctx.cache.subdir("concepts")
    train = np.flatnonzero(ctx.rows["split"].to_numpy() == "train")
    try:
        basis = ConceptBasis.load(folder)
    except FileNotFoundError:
        basis = fit_concepts(acts, cfg.n_concepts, seed=cfg.seed, max_rows=cfg.concept_rows,
                             indices=train if len(train) else None, progress=ctx.progress,
                             meta={"run": ctx.run.name, "layer": ctx.run.spec.target_layer,
                                   "fit_on": "train"})
        basis.save(folder)
    k = basis.n_concepts
    stream = ctx.cache.streaming("concept_maps.npy", (n, k, h, w), "float16",
                                 {**ctx.key, **cfg.stage_params("concepts")})
    for a, b in tqdm(list(batched(n, 128, stream.start)), desc="concept maps", unit="batch",
                     disable=not ctx.progress):
        stream.write(a, concept_maps(basis, acts[a:b]).astype(np.float16))
    stream.finish()
    maps = ctx.cache.array("concept_maps.npy")
    grads = ctx.cache.array("gradients.npy")
    kc = len(labels.classes)
    y, yg = labels.encode(ctx.rows)

    def chunks(cols, targets):
        for a, b in batched(n, 256):
            yield np.asarray(maps[a:b], np.float32), np.asarray(grads[a:b, cols], np.float32), targets[a:b]

    city, city_n = concept_class_importance(chunks(slice(0, kc), y), basis, kc)
    group, group_n = concept_class_importance(chunks(slice(kc, None), yg), basis, len(labels.groups))
    rows = [{"concept": ki, "head": head, "target": name, "importance": float(m[ki, t]), "images": int(cnt[t])}
            for head, names, m, cnt in (("city", labels.classes, city, city_n),
                                        ("group", labels.groups, group, group_n))
            for t, name in enumerate(names) for ki in range(k)]
    ctx.cache.write_table("concept_importance.parquet", pd.DataFrame(rows))

    patches = top_patches(maps, cfg.top_patches)
    paths = [ctx.dataset.image_path(p) for p in ctx.rows["path"]]
    sizes = {}
    records = []
    patch_dir = ctx.cache.subdir("concepts/patches")
    for ki, plist in enumerate(patches):
        boxes = []
        for p in plist:
            if p.image not in sizes:
                with Image.open(paths[p.image]) as im:
                    sizes[p.image] = (im.height, im.width)
            boxes.append(patch_box(p.y, p.x, (h, w), sizes[p.image]))
        crops = crop_patches([paths[p.image] for p in plist], boxes, size=96)
        for rank, (p, box, crop) in enumerate(zip(plist, boxes, crops)):
            name = f"c{ki:02d}_{rank:02d}.png"
            crop.save(patch_dir / name)
            records.append({"concept": ki, "rank": rank, "row": p.image, "id": ctx.rows["id"].iat[p.image],
                            "y": p.y, "x": p.x, "value": p.value, "left": box[0], "top": box[1],
                            "right": box[2], "bottom": box[3], "file": f"concepts/patches/{name}"})
    ctx.cache.write_table("concept_patches.parquet", pd.DataFrame(records))
    return {"concepts": k, "explained": round(float(basis.explained), 4)}


@stage("featvis")
def featvis_stage(ctx: Context) -> dict:
    """lucent renders of every concept direction and of each class's top channels.
    Each picture is saved as soon as its batch is done, so a rerun renders only what is
    missing."""
    from analysis.explain.factorize import ConceptBasis
    from analysis.explain.featvis import render_features
    from analysis.nets.precision import backward_precision

    cfg = ctx.config
    folder = ctx.cache.subdir("featvis")
    wanted: list[tuple[str, int, object, str]] = []  # kind, index, objective value, file
    if (ctx.cache.root / "concepts" / "components.npy").is_file():
        basis = ConceptBasis.load(ctx.cache.root / "concepts")
        wanted += [("concept", k, basis.components[k], f"featvis/concept_{k:02d}.png")
                   for k in range(basis.n_concepts)]
    if ctx.cache.has("top_channels.parquet"):
        top = ctx.cache.table("top_channels.parquet")
        top = top[(top["head"] == "city") & (top["rank"] < cfg.featvis_channels)]
        wanted += [("channel", int(c), int(c), f"featvis/channel_{int(c):04d}.png")
                   for c in sorted(set(top["channel"]))]
    todo = [w for w in wanted if not (ctx.cache.root / w[3]).is_file()]
    spec = ctx.run.spec
    batch = 8
    precision = backward_precision(cfg.featvis_precision, ctx.model, ctx.device)
    for start in tqdm(range(0, len(todo), batch), desc="feature visualisation", unit="batch",
                      disable=not ctx.progress):
        chunk = todo[start : start + batch]
        images = render_features(
            ctx.model, spec.visualised_layer,
            [("direction" if kind == "concept" else "channel", value) for kind, _, value, _ in chunk],
            size=cfg.featvis_size, steps=cfg.featvis_steps, lr=cfg.featvis_lr, seed=cfg.seed,
            batch=batch, mean_std=spec.mean_std(ctx.run.weights), device=ctx.device,
            precision=precision, progress=False)
        for (_, _, _, file), img in zip(chunk, images):
            with atomic_path(ctx.cache.root / file) as tmp:
                img.save(tmp, "PNG")
    table = pd.DataFrame([{"kind": kind, "index": idx, "file": file} for kind, idx, _, file in wanted])
    ctx.cache.write_table("featvis.parquet", table)
    return {"images": len(wanted), "layer": spec.visualised_layer, "steps": cfg.featvis_steps,
            "precision": precision}


# ------------------------------------------------------------------------------- driver
def analyze(run_name: str | Path, *, config: AnalyzeConfig | None = None, dataset: str | None = None,
            cache_root: Path | None = None, models_root: Path | None = None,
            progress: bool = True, log: Callable[[str], None] = print) -> AnalysisCache:
    """Run (or resume) every selected stage for a run; returns the cache."""
    config = config or AnalyzeConfig()
    unknown = [s for s in config.stages if s not in STAGES]
    if unknown:
        raise ValueError(f"unknown stage(s) {', '.join(unknown)}; choose from {', '.join(STAGES)}")
    run = open_run(run_name, models_root)
    ds = dataset_for_run(run, dataset)
    rows = ds.usable()
    unknown_classes = sorted(set(rows["class"]) - set(run.labels.classes))
    if unknown_classes:
        raise DatasetError(f"dataset {ds.name} has classes the run {run.name} never saw: "
                           f"{', '.join(unknown_classes)}")
    device = torch.device("cuda" if config.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if config.device == "auto" else config.device))
    model = load_model(run, device)
    cache = AnalysisCache.for_run(run.name, cache_root or default_cache_root())
    key = {"schema": SCHEMA_VERSION, "model_fingerprint": file_fingerprint(run.path / MODEL_FILE),
           "dataset_fingerprint": fingerprint(rows)}
    if cache.exists() and {k: cache.manifest.get(k) for k in key} != key:
        log(f"cache {cache.root} was computed for another model or dataset: recomputing")
        cache.reset()
    if not cache.exists():
        cache.manifest = {**key, "run": run.name, "stages": {}, "n_images": len(rows),
                          "code_version": code_version(), "dataset": str(ds.root)}
        cache.save_manifest()
    if fingerprint(rows) != run.info["dataset"]["fingerprint"]:
        log(f"note: dataset {ds.name} changed since {run.name} was trained "
            "(images, labels or splits); the analysis uses the dataset as it is now")
    ctx = Context(run, model, ds, rows, cache, config, device, progress, key)
    for name in config.stages:
        params = config.stage_params(name)
        stored = cache.manifest.get("stages", {}).get(name, {})
        if cache.stage_done(name) and stored.get("params") == params:
            log(f"{name:<10} cached")
            continue
        if stored:  # computed with other parameters: drop it and what depends on it
            for stale in (name, *DOWNSTREAM.get(name, ())):
                for out in STAGE_OUTPUTS.get(stale, ()):
                    target = cache.root / out
                    shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
                cache.manifest.get("stages", {}).pop(stale, None)
        t0 = time.perf_counter()
        info = STAGES[name](ctx) or {}
        seconds = time.perf_counter() - t0
        cache.mark_stage(name, seconds, params=params, **info)
        log(f"{name:<10} {seconds:7.1f} s")
    return cache


def summary_lines(cache: AnalysisCache) -> list[str]:
    stages = cache.manifest.get("stages", {})
    total = sum(s.get("seconds", 0) for s in stages.values())
    lines = [f"analysis of {cache.manifest.get('run')} in {cache.root}: "
             f"{cache.manifest.get('n_images')} images"]
    lines += [f"  {name:<10} {s.get('seconds', 0):7.1f} s" for name, s in stages.items()]
    lines.append(f"  {'total':<10} {total:7.1f} s")
    return lines


from analysis.explain.reliability import stage as _reliability_stage  # noqa: E402,F401
