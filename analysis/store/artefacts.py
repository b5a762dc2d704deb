"""The names of everything a run's cache holds, and which file each name maps to.

Stages declare what they read and write by *name*; only this module (and
:class:`~analysis.store.cache.RunCache`, which uses it) maps names to files.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Artefact:
    """One named thing in a run's cache: where it lives and what it holds."""

    name: str
    file: str  # relative to the run's cache folder
    kind: str  # "array" (chunked, .zarr), "table" (parquet: one file, or a folder of parts), "folder"
    doc: str


ARTEFACTS: dict[str, Artefact] = {a.name: a for a in (
    # forward: one pass over every image
    Artefact("samples", "samples.parquet", "table",
             "one row per image: labels, both heads' predictions, confidence, margin"),
    Artefact("class_logits", "class_logits.zarr", "array", "(N, classes) city logits"),
    Artefact("group_logits", "group_logits.zarr", "array", "(N, groups) group logits"),
    Artefact("class_probs", "class_probs.zarr", "array", "(N, classes) city probabilities"),
    Artefact("group_probs", "group_probs.zarr", "array", "(N, groups) group probabilities"),
    Artefact("features", "features.zarr", "array", "(N, C) pooled features"),
    Artefact("activations", "activations.zarr", "array", "(N, C, h, w) target-layer activations, fp16"),
    Artefact("cams", "cams.zarr", "array", "(N, K, h, w) raw Grad-CAM of every output of both heads"),
    Artefact("gradients", "gradients.zarr", "array", "(N, K, C) Grad-CAM weights (pooled gradients)"),
    Artefact("channel_attr", "channel_attr.zarr", "array",
             "(N, K, C) channel attribution: activation × gradient summed over the map"),
    # map
    Artefact("umap", "umap.parquet", "table", "2-D UMAP of the pooled features"),
    Artefact("neighbors", "neighbors.zarr", "array", "(N, k) rows of the nearest training images"),
    Artefact("neighbor_dist", "neighbor_dist.zarr", "array", "(N, k) their cosine distances"),
    # channels
    Artefact("top_channels", "top_channels.parquet", "table", "channels that drive each class and group"),
    # concepts
    Artefact("concept_basis", "concepts", "folder", "NMF concept directions and how well they fit"),
    Artefact("concept_maps", "concept_maps.zarr", "array", "(N, concepts, h, w) concept maps"),
    Artefact("concept_importance", "concept_importance.parquet", "table",
             "concept × class importance (gradient × concept activation)"),
    Artefact("concept_patches", "concept_patches.parquet", "table", "top patches of every concept"),
    Artefact("concept_patch_images", "concepts/patches", "folder", "the top patches as pictures"),
    # featvis
    Artefact("featvis", "featvis.parquet", "table", "which feature visualisations exist"),
    Artefact("featvis_images", "featvis", "folder", "lucent renders of concepts and top channels"),
    # reliability
    Artefact("reliability", "reliability.parquet", "table",
             "randomisation, faithfulness and localisation numbers (long form)"),
    Artefact("reliability_curves", "reliability_curves.parquet", "table",
             "mean deletion/insertion curves"),
    # the dashboard's per-image maps
    Artefact("ondemand", "ondemand", "folder", "pixel-level maps computed on demand, one file each"),
)}


def declare(name: str, kind: str, doc: str) -> Artefact:
    """A new artefact (a new stage's): its file follows the naming rule of its kind, so a
    stage module names what it writes without spelling a file."""
    files = {"array": f"{name}.zarr", "table": f"{name}.parquet", "folder": name}
    if kind not in files:
        raise ValueError(f"artefact {name!r}: kind must be one of {', '.join(files)}, not {kind!r}")
    existing = ARTEFACTS.get(name)
    if existing is not None:
        if existing.kind != kind:
            raise ValueError(f"artefact {name!r} is already a {existing.kind}")
        return existing
    ARTEFACTS[name] = Artefact(name, files[kind], kind, doc)
    return ARTEFACTS[name]


def artefact(name: str) -> Artefact:
    try:
        return ARTEFACTS[name]
    except KeyError:
        raise KeyError(f"no artefact {name!r}; known: {', '.join(ARTEFACTS)}") from None
