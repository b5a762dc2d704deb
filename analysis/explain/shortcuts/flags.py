"""Shortcut flags: each a sentence with its numbers, what to look at, and where.

``link`` is a dashboard address relative to the app (page and query), so the Overview,
the Portrait page and ``streetlens shortcuts`` point at the same evidence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from urllib.parse import urlencode

import numpy as np
import pandas as pd

PROPERTY_MARGIN = 0.2  # balanced accuracy this far above chance …
PROPERTY_P = 0.01  # … and this unlikely under shuffled labels
CONCEPT_REGION_SHARE = 0.35  # a concept with this much of its mean map in one border region sits in the
# frame (a watermark concept on real photos: 41 % in the bottom strip of a 7×7 map, split over two corners)


@dataclass(frozen=True)
class Flag:
    kind: str  # frame, concept, properties, duplicates
    target: str  # the class it concerns ("" for the whole dataset)
    text: str
    look: str  # what to look at
    score: float  # the number that raised it (a share, an accuracy)
    link: str


def _link(page: str, run: str, **query) -> str:
    return f"{page}?{urlencode({'run': run, **{k: v for k, v in query.items() if v is not None}})}"


def frame_flag_rows(flags: pd.DataFrame, run: str) -> list[Flag]:
    return [Flag("frame", r.target,
                 f"{r.target}: the Grad-CAM of its own logit peaks in the {r.region} in {r.share:.0%} of its "
                 f"photos ({r.others:.0%} for the other cities).",
                 f"a watermark, logo or border in the {r.region} of {r.target} photos", float(r.share),
                 _link("sample", run, true=r.target))
            for r in flags.itertuples()]


def concept_flag_rows(effects: pd.DataFrame, class_maps: np.ndarray, classes, names: dict, stable: dict,
                      run: str, region_of, min_share: float = CONCEPT_REGION_SHARE) -> list[Flag]:
    """Concepts that clearly raise a class (interval above zero) and sit in one border
    region of that class's photos. ``region_of(map) -> (region, share)``."""
    out = []
    for r in effects.itertuples():
        if not (r.low > 0) or r.target not in classes:
            continue
        t = list(classes).index(r.target)
        region, share = region_of(class_maps[int(r.concept), t])
        if share < min_share:
            continue
        name = names[int(r.concept)].label if int(r.concept) in names else f"concept {int(r.concept)}"
        unstable = "" if stable.get(int(r.concept), True) else " (an unstable concept)"
        out.append(Flag("concept", r.target,
                        f"“{name}”{unstable} raises {r.target} by {r.effect:.2f} and {share:.0%} of its map in "
                        f"{r.target} photos lies in the {region}.",
                        f"what “{name}” shows in the {region}: street content, or a stamp?", float(share),
                        _link("portrait", run, city=r.target, concept=int(r.concept))))
    return out


def property_flag_rows(result: dict, run: str, margin: float = PROPERTY_MARGIN, p: float = PROPERTY_P) -> list[Flag]:
    acc, chance, pv = result["balanced_accuracy"], result["chance"], result["p_value"]
    if not np.isfinite(acc) or acc < chance + margin or pv > p:
        return []
    best = result["by_property"][0] if result["by_property"] else None
    alone = f"; {best[0].replace('_', ' ')} alone reaches {best[1]:.2f}" if best else ""
    return [Flag("properties", "",
                 f"The city can be told from file properties alone: balanced accuracy {acc:.2f} vs chance "
                 f"{chance:.2f} (cross-validated logistic regression, p = {pv:.3f}){alone}.",
                 "image sizes, compression and borders per city: resample or re-encode them alike",
                 float(acc), _link("datasets", run))]


def duplicate_flag_rows(dups: pd.DataFrame, held_out: int, run: str) -> list[Flag]:
    """A flag when held-out photos have a near-duplicate *of the same city* in training:
    those test the model on what it memorised. Twins across cities (two similar streets of
    different cities) do not inflate accuracy, so they are no shortcut."""
    if dups.empty:
        return []
    same = dups[dups["class"].astype(str) == dups["train_class"].astype(str)]
    if same.empty:
        return []
    first = same.sort_values("distance").iloc[0]
    share = len(same) / held_out if held_out else float("nan")
    return [Flag("duplicates", "",
                 f"{len(same)} validation/test photos ({share:.1%}) have a near-duplicate of the same city in "
                 f"the training set (perceptual hash within {int(same['distance'].max())} bits): the model is "
                 "tested on photos it has practically seen.",
                 "the near-duplicate pairs: keep each pair on one side of the split (`streetlens data split` "
                 "keeps groups together)",
                 float(share), _link("sample", run, id=first["id"]))]


def flags_frame(flags: list[Flag]) -> pd.DataFrame:
    return pd.DataFrame([asdict(f) for f in flags], columns=list(Flag.__dataclass_fields__))
