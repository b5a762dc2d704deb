"""Two analysed runs on the same dataset, compared on the same images: accuracy per class
with intervals and McNemar's test, agreement cells, where they look (rank correlation of
their true-class Grad-CAM), what they represent (linear CKA of pooled features) and which
concepts they share. Read from the two caches; shared by ``streetlens compare`` and the
Compare page."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.data.dataset import Dataset
from analysis.explain.compare import agreement, cka, concepts, maps, stats
from analysis.explain.cam_views import gradcam_map
from analysis.store import CacheError, RunCache, analysis_name, pair_file, split_analysis, write_bytes_atomic


class CompareError(ValueError):
    """Two runs that cannot be compared (one line saying why)."""


@dataclass
class Comparison:
    run_a: str
    run_b: str
    split: str
    accuracy: pd.DataFrame  # per class and "all": both accuracies with intervals, McNemar
    agreement: pd.DataFrame  # cell, images, share, ids
    map_correlation: pd.DataFrame  # id, class, rho (true-class Grad-CAM of A vs B)
    cka: float
    concepts: pd.DataFrame | None  # concept_a, concept_b, similarity, shared


def _aligned(cache_a: RunCache, cache_b: RunCache, split: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The images both caches hold in ``split`` ("all" for every image), and their rows in
    each cache; refuses runs with other classes or without a shared image."""
    for c in (cache_a, cache_b):
        if not c.has("samples"):
            raise CompareError(f"{c.root} has no analysis: run `streetlens analyze {c.name}` first")
    sa, sb = cache_a.samples(), cache_b.samples()
    ca = sa.drop_duplicates("y_class").sort_values("y_class")["class"].tolist()
    cb = sb.drop_duplicates("y_class").sort_values("y_class")["class"].tolist()
    if ca != cb:
        raise CompareError(f"{cache_a.name} and {cache_b.name} classify different cities "
                           f"({', '.join(ca)} vs {', '.join(cb)}): compare runs of one dataset")
    joined = sa.merge(sb, on="id", suffixes=("_a", "_b"))
    if split != "all":
        joined = joined[(joined["split_a"] == split) & (joined["split_b"] == split)]
    if joined.empty:
        raise CompareError(f"{cache_a.name} and {cache_b.name} share no {split} image: were they trained on "
                           "the same dataset and split?")
    return joined.reset_index(drop=True), joined["row_a"].to_numpy(), joined["row_b"].to_numpy()


def _true_class_cams(cache: RunCache, rows: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N, h, w) each image's Grad-CAM of its true city (one read of the memory-mapped cams)."""
    cams = cache.cams()
    return np.stack([gradcam_map(np.asarray(cams[r], np.float32), int(t)) for r, t in zip(rows, labels)])


def compare(cache_a: RunCache, cache_b: RunCache, split: str = "test", n_boot: int = 2000,
            seed: int = 0) -> Comparison:
    joined, ra, rb = _aligned(cache_a, cache_b, split)
    classes = cache_a.samples().drop_duplicates("y_class").sort_values("y_class")["class"].tolist()
    y = joined["y_class_a"].to_numpy()
    a_ok, b_ok = joined["correct_a"].to_numpy(bool), joined["correct_b"].to_numpy(bool)
    acc = stats.accuracy_table(y, a_ok, b_ok, classes, n_boot=n_boot, seed=seed)
    agree = agreement.agreement_table(joined["id"], a_ok, b_ok)
    rho = maps.map_correlations(_true_class_cams(cache_a, ra, y), _true_class_cams(cache_b, rb, y))
    corr = pd.DataFrame({"id": joined["id"], "class": joined["class_a"], "rho": rho,
                         "cell": agreement.agreement_cell(a_ok, b_ok)})
    feats = cka.linear_cka(np.asarray(cache_a.features())[ra], np.asarray(cache_b.features())[rb])
    shared = None
    if cache_a.has("concept_maps") and cache_b.has("concept_maps"):
        sim = concepts.concept_similarity(np.asarray(cache_a.concept_maps()[ra], np.float32),
                                          np.asarray(cache_b.concept_maps()[rb], np.float32))
        shared = concepts.match_concepts(sim)
    return Comparison(cache_a.name, cache_b.name, split, acc, agree, corr, feats, shared)


def open_pair(name_a: str, name_b: str, models_root=None, cache_root=None) -> tuple[RunCache, RunCache]:
    """The two runs' caches; a missing run or cache is one line."""
    from analysis.store import default_cache_root
    from analysis.train.runs import open_run

    caches = []
    for name in (name_a, name_b):  # RUN, or RUN@DATASET: the run's analysis of another dataset
        run_name, on = split_analysis(name)
        run = open_run(run_name, models_root)
        cache = RunCache.for_run(analysis_name(run.name, on), cache_root or default_cache_root())
        if not cache.exists():
            raise CacheError(f"{cache.name} has no analysis yet: run `streetlens analyze {cache.name}`")
        caches.append(cache)
    check_same_dataset(*caches)
    return caches[0], caches[1]


def check_same_dataset(cache_a: RunCache, cache_b: RunCache) -> None:
    """One line when the two analyses were made on different datasets."""
    if cache_a.manifest.get("dataset_fingerprint") != cache_b.manifest.get("dataset_fingerprint"):
        raise CompareError(f"{cache_a.name} and {cache_b.name} were analysed on different datasets: compare "
                           "runs of one dataset (or re-analyse both on it with --dataset)")


def layer_cka(name_a: str, name_b: str, split: str = "test", models_root=None, cache_root=None,
              max_images: int = 200, batch_size: int = 16, progress=None) -> pd.DataFrame:
    """Linear CKA between every trunk stage of A and every trunk stage of B (pooled
    outputs) on the same ``split`` images (at most ``max_images``, the first in the
    analysis order), computed with both models and stored for the pair; read back when
    it exists. ``progress(done, total)`` is called after every batch."""
    import io

    import torch

    from analysis.train.data import load_rgb
    from analysis.train.runs import load_model, open_run

    cache_a, cache_b = open_pair(name_a, name_b, models_root, cache_root)
    path = pair_file(cache_root, cache_a.name, cache_b.name, f"layer_cka_{split}")
    if path.is_file():
        return pd.read_parquet(path)
    joined, _, _ = _aligned(cache_a, cache_b, split)
    joined = joined.head(max_images)
    feats = []
    total = 2 * int(np.ceil(len(joined) / batch_size))
    done = 0
    for cache in (cache_a, cache_b):
        run = open_run(split_analysis(cache.name)[0], models_root)
        model = load_model(run)
        tf = run.eval_transform()
        ds = Dataset(cache.manifest.get("dataset") or run.info["dataset"]["path"])

        def batches(tf=tf, ds=ds):
            nonlocal done
            for a in range(0, len(joined), batch_size):
                paths = joined["path_a"].iloc[a:a + batch_size]
                yield torch.stack([tf(load_rgb(ds.image_path(p))) for p in paths])
                done += 1
                if progress:
                    progress(done, total)

        feats.append(cka.layer_features(model, batches(), cka.trunk_stages(model)))
    table = cka.cka_matrix(*feats).assign(images=len(joined))
    buf = io.BytesIO()
    table.to_parquet(buf, index=False)
    write_bytes_atomic(path, buf.getvalue())
    return table
