"""What a city's Portrait page and its export show beyond :class:`Portrait` itself: each
card's patches (the city's own first), its naming candidates, the cue it overlaps in
this city (demo), the shortcut flags that concern the city, and the effect of every
concept. Read from a run's cache, shared by the page, the figure export and the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.explain.concepts.portrait import choose, concept_cards
from analysis.precompute import concept_views
from analysis.store import RunCache

N_PATCHES = 8


@dataclass
class CardEvidence:
    """One card's pictures and evidence (file paths relative to the cache)."""

    concept: int
    patches: pd.DataFrame  # rank, row, id, file, class, own (from this city)
    own_patches: int  # how many of them come from the city's photos
    featvis: str | None  # relative file of its feature visualisation, when rendered
    mean_map: np.ndarray | None  # (h, w) mean concept map over the city's images
    cue: tuple[str, float] | None  # the ground-truth cue it overlaps best in this city (demo)
    candidates: pd.DataFrame = field(default_factory=pd.DataFrame)  # name, score, source, detail


def classes_of(samples: pd.DataFrame, rows) -> np.ndarray:
    """The class (as text; "" when absent) of cache rows ``rows``, looked up by binary search
    in ``samples``'s ``row`` and ``class`` columns (in row order, as the table is read)."""
    rows = np.asarray(rows, dtype=np.int64)
    have = samples["row"].to_numpy(np.int64)
    if not len(have):
        return np.full(len(rows), "", dtype=object)
    if not bool((have[1:] >= have[:-1]).all()):
        order = np.argsort(have, kind="stable")
        samples, have = samples.iloc[order], have[order]
    pos = np.searchsorted(have, rows).clip(0, len(have) - 1)
    found = have[pos] == rows
    cls = samples["class"].iloc[pos].astype(str).to_numpy(dtype=object)
    return np.where(found, cls, "")


def card_patches(cache: RunCache, concept: int, city: str, n: int = N_PATCHES,
                 samples: pd.DataFrame | None = None) -> pd.DataFrame:
    """The concept's ``n`` strongest patches, those from ``city``'s photos first (a card
    about Tokyo shows the concept in Tokyo), filled up with the others' in rank order.
    ``samples``: the samples table's ``row`` and ``class`` columns, if the caller has them
    (otherwise just those two columns are read)."""
    cols = ["rank", "row", "id", "file", "class", "own"]
    if not cache.has("concept_patches"):
        return pd.DataFrame(columns=cols)
    patches = cache.table("concept_patches")
    patches = patches[patches["concept"] == int(concept)].sort_values("rank")
    if samples is None:
        samples = cache.table_columns("samples", ["row", "class"])
    cls = classes_of(samples, patches["row"].to_numpy())
    patches = patches.assign(**{"class": cls, "own": cls == city})
    out = pd.concat([patches[patches["own"]], patches[~patches["own"]]]).head(n)
    return out[cols].reset_index(drop=True)


def featvis_file(cache: RunCache, kind: str, index: int) -> str | None:
    if not cache.has("featvis"):
        return None
    table = cache.table("featvis")
    row = table[(table["kind"] == kind) & (table["index"] == int(index))]
    return str(row["file"].iloc[0]) if len(row) else None


def name_candidates(cache: RunCache, concept: int) -> pd.DataFrame:
    """The automatic name candidates of ``concept``, best first, with score and source."""
    if not cache.has("concept_name_candidates"):
        return pd.DataFrame(columns=["name", "score", "source", "detail", "automatic"])
    table = cache.table("concept_name_candidates")
    table = table[table["concept"] == int(concept)].sort_values("rank")
    return table[["name", "score", "source", "detail", "automatic"]].reset_index(drop=True)


def city_cue(cache: RunCache, concept: int, city: str) -> tuple[str, float] | None:
    """The ground-truth cue whose masks ``concept`` overlaps best on ``city``'s images."""
    if not cache.has("concept_city_cues"):
        return None
    cues = cache.table("concept_city_cues")
    row = cues[(cues["concept"] == int(concept)) & (cues["target"] == city)]
    return (str(row["cue"].iloc[0]), float(row["iou"].iloc[0])) if len(row) else None


def mean_map(cache: RunCache, concept: int, city: str, classes: Sequence[str]) -> np.ndarray | None:
    """The concept's mean map over ``city``'s images (``classes``: the run's label order)."""
    classes = list(classes)
    if not cache.has("concept_class_maps") or city not in classes:
        return None
    maps = cache.array("concept_class_maps")
    return np.asarray(maps[int(concept), classes.index(city)], dtype=np.float32)


def evidence(cache: RunCache, concept: int, city: str, classes: Sequence[str],
             samples: pd.DataFrame | None = None) -> CardEvidence:
    patches = card_patches(cache, concept, city, samples=samples)
    return CardEvidence(concept=int(concept), patches=patches, own_patches=int(patches["own"].sum()),
                        featvis=featvis_file(cache, "concept", concept), mean_map=mean_map(cache, concept, city, classes),
                        cue=city_cue(cache, concept, city), candidates=name_candidates(cache, concept))


def city_effects(cache: RunCache, city: str, given: dict | None = None) -> pd.DataFrame:
    """Every concept's effect on ``city`` (test split) with its name and stability: the
    chart above the cards, so a reader sees the cards are the top of a measured ranking."""
    eff = concept_views.effects(cache)
    eff = eff[eff["target"] == city][["concept", "effect", "low", "high", "images"]]
    names = concept_views.concept_names(cache, given)
    stab = cache.table("concept_stability").set_index("concept")["stable"]
    return eff.assign(name=eff["concept"].map(lambda k: names[int(k)].label),
                      automatic=eff["concept"].map(lambda k: names[int(k)].automatic),
                      stable=eff["concept"].map(lambda k: bool(stab.get(int(k), False))),
                      ).sort_values("effect", ascending=False).reset_index(drop=True)


def all_cards(cache: RunCache, city: str, given: dict | None = None) -> list:
    """A card for every concept on ``city`` (a link may open one that does not lead)."""
    cards = concept_cards(city, concept_views.effects(cache), cache.table("concept_stability"),
                          cache.table("concept_prevalence"), concept_views.concept_names(cache, given))
    choose(cards)  # marks which are clear
    return cards


def city_flags(cache: RunCache, city: str) -> pd.DataFrame:
    """Shortcut flags about ``city`` (those naming it as their target)."""
    if not cache.has("shortcut_flags"):
        return pd.DataFrame(columns=["kind", "target", "text", "look", "score", "link"])
    flags = cache.table("shortcut_flags")
    return flags[flags["target"].astype(str) == city].reset_index(drop=True)


def property_line(cache: RunCache) -> str | None:
    """How well file properties alone predict the city, as one line (None before the
    shortcuts stage ran)."""
    if not cache.has("property_scores"):
        return None
    s = cache.table("property_scores").iloc[0]
    p = "" if not np.isfinite(s["p_value"]) else f", permutation p = {s['p_value']:.3f}"
    return (f"file properties alone (size, aspect, file size, JPEG quality, EXIF, letterbox) → city: "
            f"balanced accuracy {s['balanced_accuracy']:.2f} vs chance {s['chance']:.2f}{p}")
