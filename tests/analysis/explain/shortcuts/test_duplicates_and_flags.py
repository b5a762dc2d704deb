"""Near-duplicates across the split, and the flags' sentences and links."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.explain.concepts.portrait import ConceptName
from analysis.explain.shortcuts import flags
from analysis.explain.shortcuts.duplicates import cross_split_duplicates
from analysis.explain.shortcuts.frame import concept_region_share


def test_cross_split_duplicates_by_hamming_distance():
    rows = pd.DataFrame({"id": ["a", "b", "c", "d"], "split": ["train", "test", "val", "test"],
                         "class": ["x", "x", "y", "y"],
                         "phash": ["0000000000000000", "0000000000000007", "ffffffffffffffff", "00000000000003ff"]})
    d = cross_split_duplicates(rows, threshold=5)
    assert d[["id", "train_id", "distance"]].values.tolist() == [["b", "a", 3]]  # d is 10 bits away
    assert len(cross_split_duplicates(rows, threshold=10)) == 2


def test_flags_carry_their_numbers_and_links():
    frame = pd.DataFrame([{"target": "seoul", "region": "bottom strip", "share": 0.78, "others": 0.09}])
    f = flags.frame_flag_rows(frame, "r")[0]
    assert f.text == ("seoul: the Grad-CAM of its own logit peaks in the bottom strip in 78% of its photos "
                      "(9% for the other cities).")
    assert f.link == "sample?run=r&true=seoul"
    maps = np.zeros((2, 1, 7, 7))
    maps[1, 0, -1, :] = 1
    eff = pd.DataFrame([{"concept": 1, "target": "seoul", "effect": 0.4, "low": 0.2},
                        {"concept": 0, "target": "seoul", "effect": 0.5, "low": -0.1}])
    names = {1: ConceptName(1, "<b>logo</b>", True, "colour")}
    c = flags.concept_flag_rows(eff, maps, ["seoul"], names, {1: False}, "r", concept_region_share)
    assert len(c) == 1 and c[0].link == "portrait?run=r&city=seoul&concept=1"
    assert "“<b>logo</b>” (an unstable concept) raises seoul by 0.40" in c[0].text
    good = {"balanced_accuracy": 0.95, "chance": 0.33, "p_value": 0.001, "by_property": [("file_kb", 0.9)]}
    assert "file kb alone reaches 0.90" in flags.property_flag_rows(good, "r")[0].text
    assert flags.property_flag_rows({**good, "p_value": 0.2}, "r") == []
    assert flags.duplicate_flag_rows(pd.DataFrame(columns=["id", "distance"]), 10, "r") == []
    twins = pd.DataFrame({"id": ["b", "e"], "class": ["x", "y"], "train_id": ["a", "f"], "train_class": ["x", "z"],
                          "distance": [3, 1]})
    d = flags.duplicate_flag_rows(twins, 40, "r")  # only b↔a is the same city
    assert len(d) == 1 and d[0].link == "sample?run=r&id=b" and d[0].text.startswith("1 validation/test photos (2.5%)")
    assert flags.duplicate_flag_rows(twins.iloc[1:], 40, "r") == []  # twins across cities are no leak
    table = flags.flags_frame(c)
    assert list(table.columns) == ["kind", "target", "text", "look", "score", "link"]
