"""A city's portrait: the few named, verified concepts that make the model say this city,
and two or three sentences built from their measured numbers.

Which concepts lead: the *stable* ones whose removal lowers the city's probability,
largest mean effect first, those whose 95 % interval excludes zero before the others;
three to six of them. An unstable concept never leads — when its effect would have
earned it a place, a sentence says so instead of hiding it. Nothing here is written per
dataset: every word comes from the tables of the concept stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

MIN_CARDS, MAX_CARDS = 3, 6
MIN_EFFECT = 0.02  # a concept that moves the probability less is not what makes a city
MIN_PULL = 0.005  # a pull that rounds to +0.00 says nothing
RELATIVE_EFFECT = 0.1  # … nor one with less than this share of the strongest concept's effect


@dataclass(frozen=True)
class ConceptName:
    concept: int
    name: str
    automatic: bool  # True until a user names it
    source: str  # "user", or the candidate's source (cue, scene, colour+position …)

    @property
    def label(self) -> str:
        return self.name if self.name else f"concept {self.concept}"


def resolve_names(candidates: pd.DataFrame | None, given: dict, n_concepts: int) -> dict[int, ConceptName]:
    """The name each concept goes by: the user's (``given``: concept → object with
    ``name``), else its automatic candidate, else "concept k"."""
    auto = {}
    if candidates is not None and len(candidates):
        for r in candidates[candidates["automatic"]].itertuples():
            auto[int(r.concept)] = (str(r.name), str(r.source))
    out = {}
    for k in range(n_concepts):
        if k in given:
            out[k] = ConceptName(k, given[k].name, False, "user")
        elif k in auto:
            out[k] = ConceptName(k, auto[k][0], True, auto[k][1])
        else:
            out[k] = ConceptName(k, f"concept {k}", True, "index")
    return out


@dataclass
class ConceptCard:
    concept: int
    name: ConceptName
    effect: float  # mean drop of the city's probability when the concept is removed
    low: float
    high: float
    images: int  # test images of the city the effect averages over
    stable: bool
    came_back: int
    refits: int
    share: float  # of the city's images that show the concept
    others: float  # of the other cities' images
    where: str
    pulls: list[tuple[str, float]] = field(default_factory=list)  # cities it pulls towards
    clear: bool = False  # set by :func:`choose`: a stable, significant, non-trivial effect

    @property
    def significant(self) -> bool:
        return self.low > 0


@dataclass
class Portrait:
    target: str
    cards: list[ConceptCard]
    left_out: list[ConceptCard]  # unstable concepts whose effect would have earned a place
    sentences: list[str]
    images: int
    completeness: float | None  # concept accuracy / original accuracy on this city


def q(name: ConceptName) -> str:
    """A concept's name as sentences quote it."""
    return f"“{name.label}”"


def join_and(items: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def concept_cards(target, effects, stability, prevalence, names) -> list[ConceptCard]:
    """A card for every concept on ``target`` (before :func:`choose` picks the leaders)."""
    eff = effects[effects["target"] == target].set_index("concept")
    stab = stability.set_index("concept")
    prev = prevalence[prevalence["target"] == target].set_index("concept")
    pulls = effects.pivot_table(index="concept", columns="target", values="pull", aggfunc="first")
    cards = []
    for k, e in eff.iterrows():
        k = int(k)
        row = pulls.loc[k].sort_values(ascending=False) if k in pulls.index else pd.Series(dtype=float)
        cards.append(ConceptCard(
            concept=k, name=names[k], effect=float(e["effect"]), low=float(e["low"]), high=float(e["high"]),
            images=int(e["images"]), stable=bool(stab.loc[k, "stable"]) if k in stab.index else False,
            came_back=int(stab.loc[k, "came_back"]) if k in stab.index else 0,
            refits=int(stab.loc[k, "refits"]) if k in stab.index else 0,
            share=float(prev.loc[k, "share"]) if k in prev.index else float("nan"),
            others=float(prev.loc[k, "others"]) if k in prev.index else float("nan"),
            where=str(prev.loc[k, "where"]) if k in prev.index else "",
            pulls=[(str(c), float(v)) for c, v in row.items() if v >= MIN_PULL and str(c) != target][:3]))
    return cards


def choose(cards: list[ConceptCard]) -> tuple[list[ConceptCard], list[ConceptCard]]:
    """(leading cards, left-out unstable ones) — see the module docstring.

    A *clear* concept is stable, its interval excludes zero, and its effect is at least
    :data:`MIN_EFFECT` and :data:`RELATIVE_EFFECT` of the strongest stable one's; up to
    :data:`MAX_CARDS` clear ones lead, filled up to :data:`MIN_CARDS` with the next stable
    concepts that still move it by :data:`MIN_EFFECT` (not clear: their cards and the sentences say so)."""
    positive = sorted((c for c in cards if c.effect > 0 and np.isfinite(c.effect)), key=lambda c: -c.effect)
    stable = [c for c in positive if c.stable]
    floor = max(MIN_EFFECT, RELATIVE_EFFECT * stable[0].effect) if stable else MIN_EFFECT
    for c in stable:
        c.clear = c.significant and c.effect >= floor
    lead = [c for c in stable if c.clear][:MAX_CARDS]
    weak = [c for c in stable if not c.clear and c.effect >= MIN_EFFECT]  # never a concept that barely matters
    lead += weak[:max(0, MIN_CARDS - len(lead))]
    left_out = [c for c in positive if not c.stable and c.significant and c.effect >= floor]
    return lead, left_out


@dataclass(frozen=True)
class Joint:
    """The city's mean probability on its test photos with nothing removed, with its top
    ``k`` concepts removed together (ranked on validation photos), and with ``k`` random
    ones (from the ``concept_curves`` deletion curves)."""

    k: int
    before: float
    ranked: float
    random: float

    @property
    def drop(self) -> float:
        return self.before - self.ranked


def joint_removal(curves: pd.DataFrame | None, target: str, k: int = 3) -> Joint | None:
    """:class:`Joint` from the deletion curves (None when they lack the city or step ``k``)."""
    if curves is None or not len(curves):
        return None
    d = curves[(curves["target"] == target) & (curves["curve"] == "deletion")]
    p = {(o, int(st)): float(v) for o, st, v in zip(d["order"], d["step"], d["p"])}
    if ("ranked", 0) not in p or ("ranked", k) not in p or ("random", k) not in p:
        return None
    return Joint(k, p[("ranked", 0)], p[("ranked", k)], p[("random", k)])


def sentences(target: str, lead: list[ConceptCard], left_out: list[ConceptCard],
              completeness: float | None, joint: Joint | None = None) -> list[str]:
    """Two or three sentences from the numbers of the cards. When one concept at a time
    barely moves a confident model but several together do (the top concept's effect is
    less than half of the top ``k``'s joint drop), a sentence says so instead of the
    closing remark: single effects saturate on a probability near 1."""
    if not lead:
        return [f"No stable concept raises the model's probability of {target}: its decision rests on "
                "what the concepts do not capture (see completeness), or on unstable concepts."]
    top = lead[0]
    out = []
    first = (f"Removing {q(top.name)} lowers the model's probability of {target} by {top.effect:.2f} on "
             f"average (95 % interval {top.low:.2f} to {top.high:.2f}, {top.images} test photos)")
    more = [c for c in lead[1:3] if c.clear]
    if more:
        first += "; " + join_and([f"{q(c.name)} by {c.effect:.2f}" for c in more])
    out.append(first + ".")
    if np.isfinite(top.share) and np.isfinite(top.others):
        where = "" if not top.where or top.where == "nowhere in particular" else \
            f", {top.where}" if top.where.startswith("all over") else f", mostly in the {top.where}"
        out.append(f"{q(top.name)} shows in {top.share:.0%} of {target} photos and {top.others:.0%} of the "
                   f"others{where}.")
    saturated = joint is not None and joint.drop >= 2 * top.effect and joint.drop >= MIN_EFFECT
    if saturated:
        out.append(f"One at a time they move it little, but removing its top {joint.k} concepts together takes "
                   f"the probability of {target} from {joint.before:.2f} to {joint.ranked:.2f} "
                   f"({joint.k} random concepts: to {joint.random:.2f}).")
    if left_out:
        c = left_out[0]
        out.append(f"{q(c.name)} would matter too ({c.effect:.2f}) but came back in only {c.came_back} of "
                   f"{c.refits} refits of the concepts, so it is left out.")
    elif saturated:
        pass
    elif not all(c.clear for c in lead):
        clear = [c for c in lead if c.clear]
        weak = [c for c in lead if not c.clear]
        out.append(f"Beyond {join_and([q(c.name) for c in clear])}, no stable concept clearly moves the "
                   f"probability of {target} ({join_and([q(c.name) for c in weak])}: {weak[0].effect:.2f} or less)."
                   if clear else f"No concept clearly moves the probability of {target}: the concepts "
                   "explain it poorly.")
    elif len(lead) < MIN_CARDS:
        out.append(f"No other stable concept lowers the probability of {target} by {MIN_EFFECT} or more "
                   "when removed.")
    elif completeness is not None and np.isfinite(completeness):
        out.append(f"Rebuilt from the concepts alone, the activations keep {completeness:.0%} of the model's "
                   f"accuracy on {target}.")
    return out


def build_portrait(target: str, effects: pd.DataFrame, stability: pd.DataFrame, prevalence: pd.DataFrame,
                   names: dict[int, ConceptName], completeness: pd.DataFrame | None = None,
                   curves: pd.DataFrame | None = None) -> Portrait:
    """The portrait of ``target`` from the concept stages' tables (effects of one split;
    ``curves``: the concept deletion curves, for the joint effect of the top concepts)."""
    cards = concept_cards(target, effects, stability, prevalence, names)
    lead, left_out = choose(cards)
    comp = None
    if completeness is not None and len(completeness):
        row = completeness[completeness["target"] == target]
        comp = float(row["ratio"].iloc[0]) if len(row) else None
    images = max((c.images for c in cards), default=0)
    joint = joint_removal(curves, target)
    return Portrait(target, lead, left_out, sentences(target, lead, left_out, comp, joint), images, comp)
