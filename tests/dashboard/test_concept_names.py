"""The name every page shows for a concept: the user's, else the automatic one marked,
unstable ones marked; a broken names file said once and automatic names meanwhile."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.precompute.stage import all_stages
from analysis.store import RunCache
from dashboard.concept_names import concept_labels


def test_labels_user_automatic_unstable_and_a_broken_file(tmp_path):
    all_stages()
    cache = RunCache(tmp_path / "r")
    cache.root.mkdir(parents=True)
    cache.write_concept_basis(np.eye(3, 4), {"layer": "x"})
    assert concept_labels(cache) == {0: "concept 0", 1: "concept 1", 2: "concept 2"}  # nothing named yet
    cache.write_table("concept_name_candidates", pd.DataFrame({
        "concept": [0, 1], "rank": [0, 0], "name": ["bus", "sky"], "score": [0.4, 0.3],
        "source": ["cue", "colour"], "detail": ["", ""], "automatic": [True, True]}))
    cache.write_table("concept_stability", pd.DataFrame({"concept": [0, 1, 2], "stable": [True, False, True],
                                                         "came_back": [5, 1, 5], "refits": [5, 5, 5]}))
    cache.names().set(0, "<b>double decker</b>")
    assert concept_labels(cache) == {0: "<b>double decker</b>", 1: "sky (auto) ⚠ unstable", 2: "concept 2"}
    cache.names().path.write_text("{", encoding="utf-8")
    said = []
    assert concept_labels(cache, warn=said.append)[0] == "bus (auto)"
    assert len(said) == 1 and "not valid JSON" in said[0] and "\n" not in said[0]
    assert cache.names().path.read_text(encoding="utf-8") == "{"
