"""``concepts``: NMF of the training images' activations (fitted at once on a sketch, or streamed
with MiniBatchNMF beyond ``MINIBATCH_FROM_ROWS`` positions: ``concept_fit``); a map per concept for every
image; the concept × class importance (gradient × concept activation, as in CRAFT); the
top patches of every concept, cut out of the photos."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from analysis.explain.concepts.factorize import ConceptBasis, ImportanceSum, concept_maps
from analysis.explain.concepts.stream import MINIBATCH_FROM_ROWS, fit_basis
from analysis.explain.patches import crop_patches, patch_box, top_patches
from analysis.precompute.stage import Stage
from analysis.progress import bar
from analysis.store import batched


def load_basis(cache) -> ConceptBasis:
    """The cache's concept basis (FileNotFoundError when the stage has not run)."""
    components, info = cache.read_concept_basis()
    return ConceptBasis.from_record(components, info)


def run(ctx) -> dict:
    acts = ctx.cache.array("activations")
    n, c, h, w = acts.shape
    train = np.flatnonzero(ctx.rows["split"].to_numpy() == "train")
    try:
        basis = load_basis(ctx.cache)
    except FileNotFoundError:
        basis = fit_basis(acts, ctx.param("n_concepts"), fit=ctx.param("concept_fit"), seed=ctx.param("seed"),
                          max_rows=ctx.param("concept_rows"), stream_rows=MINIBATCH_FROM_ROWS,
                          indices=train if len(train) else None, progress=ctx.progress,
                          meta={"run": ctx.run.name, "layer": ctx.run.spec.target_layer,
                                "fit_on": "train"})
        ctx.cache.write_concept_basis(*basis.record())
    k = basis.n_concepts
    labels = ctx.run.labels
    kc = len(labels.classes)
    y, yg = labels.encode(ctx.rows)
    city, group = ImportanceSum(basis, kc), ImportanceSum(basis, len(labels.groups))
    grads = ctx.cache.array("gradients")
    stream = ctx.cache.streaming("concept_maps", (n, k, h, w), "float16", {**ctx.key, **ctx.params(ctx.stage)})
    chunks = [*batched(stream.start, 128), *batched(n, 128, stream.start)]  # resumed: the first are stored
    for a, b in bar(chunks, desc="concept maps", unit="batch", disable=not ctx.progress):
        if a < stream.start:
            maps = stream.written(a, b)
        else:
            maps = concept_maps(basis, acts[a:b]).astype(np.float16)
            stream.write(a, maps)
        # importance from the stored (float16) maps, each chunk's gradients read once for both heads
        g = np.asarray(grads[a:b], np.float32)
        maps = maps.astype(np.float32)
        city.add(maps, g[:, :kc], y[a:b])
        group.add(maps, g[:, kc:], yg[a:b])
    stream.finish()
    write_importance(ctx, basis, city.result(), group.result())
    write_patches(ctx, ctx.cache.array("concept_maps"), (h, w))
    return {"concepts": k, "explained": round(float(basis.explained), 4), "fit": basis.meta.get("fit", "full")}


def write_importance(ctx, basis: ConceptBasis, city: tuple, group: tuple) -> None:
    """The concept × class and concept × group importance as one table."""
    labels = ctx.run.labels
    (city, city_n), (group, group_n) = city, group
    rows = [{"concept": ki, "head": head, "target": name, "importance": float(m[ki, t]), "images": int(cnt[t])}
            for head, names, m, cnt in (("city", labels.classes, city, city_n),
                                        ("group", labels.groups, group, group_n))
            for t, name in enumerate(names) for ki in range(basis.n_concepts)]
    ctx.cache.write_table("concept_importance", pd.DataFrame(rows))


def write_patches(ctx, maps: np.ndarray, grid: tuple[int, int]) -> None:
    """The top patches of every concept as pictures, and the table that lists them."""
    patches = top_patches(maps, ctx.param("top_patches"))
    paths = [ctx.dataset.image_path(p) for p in ctx.rows["path"]]
    sizes: dict[int, tuple[int, int]] = {}
    records = []
    for ki, plist in enumerate(patches):
        boxes = []
        for p in plist:
            if p.image not in sizes:
                with Image.open(paths[p.image]) as im:
                    sizes[p.image] = (im.height, im.width)
            boxes.append(patch_box(p.y, p.x, grid, sizes[p.image]))
        crops = crop_patches([paths[p.image] for p in plist], boxes, size=96)
        for rank, (p, box, crop) in enumerate(zip(plist, boxes, crops)):
            target = ctx.cache.patch_path(ki, rank)
            target.parent.mkdir(parents=True, exist_ok=True)
            crop.save(target)
            records.append({"concept": ki, "rank": rank, "row": p.image, "id": ctx.rows["id"].iat[p.image],
                            "y": p.y, "x": p.x, "value": p.value, "left": box[0], "top": box[1],
                            "right": box[2], "bottom": box[3], "file": ctx.cache.relative(target)})
    ctx.cache.write_table("concept_patches", pd.DataFrame(records))


STAGE = Stage(
    name="concepts", order=30, run=run, params=("n_concepts", "concept_rows", "concept_fit", "top_patches", "seed"),
    doc="NMF concepts of the activations, their maps, importance per class and top patches",
    reads=("activations", "gradients"),
    writes=("concept_basis", "concept_maps", "concept_importance", "concept_patches",
            "concept_patch_images"),
)
