"""Concept stability: does a concept come back when the concepts are fitted again?

A concept found once may be an accident of the sample the NMF saw. We refit the concepts
on bootstrap resamples of the training images (each refit draws its own images and its
own positions), match every refit's concepts to the reference ones by the Hungarian
assignment on cosine similarity (as Overcomplete matches dictionary atoms), and say a
concept *came back* in a refit when its match has cosine ≥ :data:`RETURNS`. Its
stability is the share of refits it came back in ("4 of 5") — a count a user can read,
and robust to the one odd refit that a mean of cosines is not. A concept that only one
sample produces is matched to leftovers and comes back rarely. The same matching carries
user-given names over to a re-analysis.

Measured on the demo (12 concepts, 27,440 training positions): refits of 8,000 positions
at ``tol=1e-3`` came back as often as at ``1e-4`` for 11 of 12 concepts in 60 % of the
time (7 s vs 12 s for five); refits on all positions took 3× longer and were no less
noisy. So the default is 5 refits of 8,000 positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.explain.concepts.stream import fit_basis
from analysis.progress import bar

RETURNS = 0.8
"""Matched cosine from which on a concept came back in a refit. Refits of the demo's
concepts match at 0.9–1.0 when a concept recurs and at 0.2–0.6 when it does not."""
STABLE = 0.6
"""Share of refits a stable concept comes back in (3 of 5)."""


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of every row of ``a`` (K, C) with every row of ``b`` (M, C)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na = np.linalg.norm(a, axis=1, keepdims=True)
    nb = np.linalg.norm(b, axis=1, keepdims=True)
    return (a / np.where(na == 0, 1, na)) @ (b / np.where(nb == 0, 1, nb)).T


def match(reference: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every reference concept, the index of its match among ``other``'s concepts (-1
    when ``other`` has fewer) and their cosine (0 when unmatched); one-to-one, maximising
    the total similarity."""
    from scipy.optimize import linear_sum_assignment  # here: 0.55 s of a page's first import

    sim = cosine_matrix(reference, other)
    rows, cols = linear_sum_assignment(-sim)
    index = np.full(len(reference), -1, dtype=np.int64)
    cosine = np.zeros(len(reference))
    index[rows] = cols
    cosine[rows] = sim[rows, cols]
    return index, cosine


@dataclass
class Stability:
    """The refits' verdict on each reference concept."""

    similarity: np.ndarray  # (refits, K) cosine of each concept's match in each refit
    threshold: float = STABLE
    returns: float = RETURNS

    @property
    def came_back(self) -> np.ndarray:
        """(K,) in how many refits each concept came back."""
        return (self.similarity >= self.returns).sum(0)

    @property
    def score(self) -> np.ndarray:
        """(K,) the share of refits each concept came back in."""
        return self.came_back / max(len(self.similarity), 1)

    @property
    def stable(self) -> np.ndarray:
        return self.score >= self.threshold


def refit_with(fit: str) -> str:
    """How the refits of concepts fitted by ``fit`` are fitted: the same way, except that sketched
    concepts are refitted by the plain NMF, so that a refit differs by its sample and not by a
    sketch of its own. With sketched refits, 3 of 12 concepts of a real run that came back in 3
    of 5 plain refits came back in 2."""
    return "full" if fit == "sketch" else fit


def concept_stability(activations, reference: np.ndarray, indices: Sequence[int] | None = None,
                      refits: int = 5, max_rows: int = 8_000, seed: int = 0,
                      threshold: float = STABLE, progress: bool = False, tol: float = 1e-3,
                      fit: str = "full") -> Stability:
    """Refit ``len(reference)`` concepts ``refits`` times on bootstrap resamples of the
    images ``indices`` of ``activations`` (N, C, h, w) and match them to ``reference``.

    ``fit``: how each refit is fitted ("sketch", "full", "minibatch" or "auto", ``stream.fit_basis``);
    callers pass ``refit_with`` of the reference's fit."""
    if refits < 1:
        raise ValueError(f"need at least one refit, got {refits}")
    images = np.arange(len(activations)) if indices is None else np.asarray(indices, dtype=np.int64)
    if images.size == 0:
        raise ValueError("no images to refit the concepts on")
    k = len(reference)
    rng = np.random.default_rng(seed)
    sims = []
    for r in bar(range(refits), total=refits, desc="concept refits", disable=not progress):
        sample = np.sort(rng.choice(images, size=images.size, replace=True))
        basis = fit_basis(activations, k, fit=fit, seed=seed + 1 + r, max_rows=max_rows, indices=sample, tol=tol)
        sims.append(match(reference, basis.components)[1])
    return Stability(np.array(sims), threshold)
