"""``concept_names``: name candidates for every concept (cue masks on the demo, Places365
scenes on real photos, colour and position everywhere), and the users' names carried
over to the concepts they match after a refit."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from analysis.explain.concepts.naming import (Candidate, candidates_frame, colour_candidate, cue_overlap,
                                              position_candidate, readable, scene_candidates)
from analysis.explain.concepts.stability import match
from analysis.precompute.stage import Stage
from analysis.precompute.stages.concepts import load_basis

RENAME_MATCH = 0.9  # cosine from which a refitted concept is the one a user named


def patch_pictures(ctx, concept: int) -> list[Image.Image]:
    patches = ctx.cache.concept_patches()
    files = patches[patches["concept"] == concept].sort_values("rank")["file"]
    return [Image.open(ctx.cache.resolve(f)).convert("RGB") for f in files]


def cue_candidates(ctx) -> list[Candidate]:
    """Cue candidates of every concept, and (table ``concept_city_cues``) the cue each
    concept overlaps most within each city's own photos — evidence for a card."""
    from analysis.data.synth.store import load_cues

    if not ctx.dataset.files.annotations.is_file():
        return []
    maps = ctx.cache.concept_maps()
    names = ctx.rows["path"].tolist()
    top = ctx.param("naming_images")
    cues_of = lambda name: load_cues(ctx.dataset.root, name)  # noqa: E731
    table = cue_overlap(maps, names, cues_of, top_images=top)
    out = []
    for k, g in table.groupby("concept"):
        for r in g.sort_values("iou", ascending=False).head(3).itertuples():
            out.append(Candidate(int(k), readable(r.cue), float(r.iou), "cue",
                                 f"IoU with its masks over its {top} strongest images"))
    per_city = []
    y = ctx.cache.samples()["y_class"].to_numpy()
    for t, city in enumerate(ctx.run.labels.classes):
        rows = np.flatnonzero(y == t)
        if not len(rows):
            continue
        t_table = cue_overlap(np.asarray(maps[rows]), [names[r] for r in rows], cues_of, top_images=top)
        for k, g in t_table.groupby("concept"):
            best = g.sort_values("iou", ascending=False).iloc[0]
            per_city.append({"concept": int(k), "target": city, "cue": readable(best["cue"]),
                             "iou": float(best["iou"])})
    ctx.cache.write_table("concept_city_cues", pd.DataFrame(
        per_city, columns=["concept", "target", "cue", "iou"]))
    return out


def scene_candidates_all(ctx, k: int) -> tuple[list[Candidate], str]:
    """Places365 candidates for every concept, or none and the reason."""
    from analysis.curate.scene import places365_scorer
    from analysis.nets.weight_sources import WeightsError, weights_present

    missing = [w for w in ("wideresnet18_places365", "places365_categories") if not weights_present(w)]
    if missing:  # never download during an analysis
        return [], (f"no scene names: {', '.join(missing)} not on disk "
                    "(`streetlens weights fetch wideresnet18_places365`)")
    try:
        scorer = places365_scorer(device=str(ctx.device))
    except (WeightsError, OSError) as exc:
        return [], f"no scene names: the Places365 network is not available ({exc})"
    out = []
    for c in range(k):
        pics = patch_pictures(ctx, c)
        if pics:
            probs, _ = scorer(pics)
            out += scene_candidates(probs, scorer.categories, c)
    return out, "scene names from Places365"


def descriptor_candidates(ctx, k: int) -> list[Candidate]:
    prevalence = ctx.cache.table("concept_prevalence")
    where = prevalence.groupby("concept")["where_all"].first()
    everywhere = ctx.cache.array("concept_class_maps")
    out = []
    for c in range(k):
        pics = patch_pictures(ctx, c)
        if pics:
            px = np.concatenate([np.asarray(p)[p.height // 4: 3 * p.height // 4, p.width // 4: 3 * p.width // 4]
                                 .reshape(-1, 3) for p in pics])
            out.append(colour_candidate(px, c))
        m = np.asarray(everywhere[c]).mean(0)
        share = float(m.max() / m.sum()) if m.sum() > 0 else 0.0
        out.append(position_candidate(str(where.get(c, "nowhere in particular")), c, share))
    return out


def carry_over_names(book, components: np.ndarray) -> int:
    """Move the users' names (a :class:`~analysis.store.NameBook`) to the concepts they
    match now (cosine ≥ :data:`RENAME_MATCH`); returns how many moved or were set aside."""
    given = book.names()
    named = {k: v for k, v in given.items() if v.direction is not None and len(v.direction) == components.shape[1]}
    if not given:
        return 0
    moves = {k: k for k in given if k not in named and k < len(components)}
    if named:
        keys = sorted(named)
        index, cosine = match(np.array([named[k].direction for k in keys]), components)
        for key, new, cos in zip(keys, index, cosine):
            moves[key] = int(new) if new >= 0 and cos >= RENAME_MATCH else None
    if all(moves.get(k) == k for k in given) and all(
            given[k].direction is None or np.allclose(given[k].direction, components[k], atol=1e-5) for k in named):
        return 0
    book.carry_over(moves, components)
    return sum(1 for k, v in moves.items() if v != k)


def run(ctx) -> dict:
    basis = load_basis(ctx.cache)
    k = basis.n_concepts
    candidates = cue_candidates(ctx)
    mode = ctx.param("naming_scenes")
    note = "no scene names (cue masks name the concepts)" if candidates else ""
    if mode == "always" or (mode == "auto" and not candidates):
        scenes, note = scene_candidates_all(ctx, k)
        candidates += scenes
    candidates += descriptor_candidates(ctx, k)
    ctx.cache.write_table("concept_name_candidates", candidates_frame(candidates))
    moved = carry_over_names(ctx.cache.names(), basis.components)
    return {"candidates": len(candidates), "scenes": note, "names_moved": moved}


STAGE = Stage(
    name="concept_names", order=35, run=run, params=("naming_images", "naming_scenes"),
    defaults={"naming_images": 40, "naming_scenes": "auto"},
    doc="name candidates for every concept (cue masks, Places365 scenes, colour, position)",
    reads=("concept_maps", "concept_patches", "concept_patch_images", "concept_basis", "concept_prevalence",
           "concept_class_maps"),
    writes=("concept_name_candidates", "concept_city_cues"),
    new_artefacts=(("concept_name_candidates", "table", "name candidates per concept with score and source"),
                   ("concept_city_cues", "table", "demo: the cue each concept overlaps most in each city")),
)
