"""Concepts as the CLI and the dashboard show them, read from a run's cache: the name
each concept goes by, the list of concepts, a city's portrait, and naming a concept.

One place for these, so a page, ``streetlens concepts list`` and an export always say
the same name and the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.explain.concepts.portrait import ConceptName, Portrait, build_portrait, resolve_names
from analysis.store import CacheError, RunCache

PORTRAIT_SPLIT = "test"
NEEDED = ("concept_effects", "concept_stability", "concept_prevalence")


def n_concepts(cache: RunCache) -> int:
    components, _ = cache.read_concept_basis()
    return int(components.shape[0])


def concept_names(cache: RunCache) -> dict[int, ConceptName]:
    """The name every concept goes by (the user's, else the automatic candidate)."""
    candidates = cache.table("concept_name_candidates") if cache.has("concept_name_candidates") else None
    return resolve_names(candidates, cache.names().names(), n_concepts(cache))


def missing(cache: RunCache) -> list[str]:
    """Artefacts a portrait needs that the cache lacks (empty when it can be drawn)."""
    return [a for a in NEEDED if not cache.has(a)]


def effects(cache: RunCache, split: str = PORTRAIT_SPLIT) -> pd.DataFrame:
    table = cache.table("concept_effects")
    return table[table["split"] == split]


def portrait(cache: RunCache, city: str) -> Portrait:
    """``city``'s portrait (CacheError naming the stage to run when something is missing)."""
    gone = missing(cache)
    if gone:
        raise CacheError(f"{cache.root} has no {', '.join(gone)}: run `streetlens analyze {cache.name}`")
    comp = cache.table("concept_completeness") if cache.has("concept_completeness") else None
    return build_portrait(city, effects(cache), cache.table("concept_stability"),
                          cache.table("concept_prevalence"), concept_names(cache), comp)


def concept_table(cache: RunCache, classes: Sequence[str]) -> pd.DataFrame:
    """One row per concept: its name, whether automatic, its stability, and the cities it
    raises most (mean effect over each city's test images)."""
    names = concept_names(cache)
    stab = cache.table("concept_stability").set_index("concept") if cache.has("concept_stability") else None
    eff = effects(cache) if cache.has("concept_effects") else None
    rows = []
    for k, name in names.items():
        row = {"concept": k, "name": name.label, "automatic": name.automatic, "source": name.source}
        if stab is not None and k in stab.index:
            row["came_back"] = f"{int(stab.loc[k, 'came_back'])} of {int(stab.loc[k, 'refits'])}"
            row["stable"] = bool(stab.loc[k, "stable"])
        if eff is not None:
            e = eff[eff["concept"] == k].sort_values("effect", ascending=False)
            row["raises"] = ", ".join(f"{r.target} {r.effect:+.2f}" for r in e.head(3).itertuples() if r.effect > 0)
        rows.append(row)
    return pd.DataFrame(rows)


def name_concept(cache: RunCache, concept: int, name: str | None, by: str = "user") -> str | None:
    """Give ``concept`` a name (kept with its direction, so it survives a refit), or clear
    it with ``name=None``; returns the name as kept."""
    components, _ = cache.read_concept_basis()
    if not 0 <= int(concept) < len(components):
        raise ValueError(f"no concept {concept}: {cache.name} has concepts 0 to {len(components) - 1}")
    book = cache.names()
    if name is None:
        book.clear(int(concept), by=by)
        return None
    return book.set(int(concept), name, direction=np.asarray(components[int(concept)]), by=by)
