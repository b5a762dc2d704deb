"""Where a run goes wrong, from its samples table (scikit-learn as the oracle)."""

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

from analysis.explain import mistakes

CLASSES = ["paris", "seoul", "tokyo"]


def samples_table() -> pd.DataFrame:
    rows = [("paris", "paris", "train"), ("paris", "tokyo", "test"), ("paris", "paris", "val"),
            ("seoul", "tokyo", "test"), ("seoul", "tokyo", "val"), ("seoul", "seoul", "train"),
            ("tokyo", "tokyo", "test"), ("tokyo", "tokyo", "train")]
    group = {"paris": "West", "seoul": "East", "tokyo": "East"}
    df = pd.DataFrame(rows, columns=["class", "pred_class", "split"])
    df.insert(0, "row", np.arange(len(df)))
    df.insert(1, "id", [f"id{i}" for i in range(len(df))])
    df["group"], df["pred_group"] = df["class"].map(group), df["pred_class"].map(group)
    df["correct"] = df["class"] == df["pred_class"]
    df["correct_group"] = df["group"] == df["pred_group"]
    df["p_pred"] = np.linspace(0.4, 0.95, len(df))
    df["p_group"] = np.linspace(0.9, 0.5, len(df))
    return df


def test_confusion_counts_equal_scikit_learn():
    s = samples_table()
    cm = mistakes.confusion_counts(s, CLASSES)
    assert cm.tolist() == [[2, 0, 1], [0, 1, 2], [0, 0, 2]]
    np.testing.assert_array_equal(cm, confusion_matrix(s["class"], s["pred_class"], labels=CLASSES))
    odd = pd.concat([s, s.head(1).assign(pred_class="osaka")])  # a label the run does not know
    np.testing.assert_array_equal(mistakes.confusion_counts(odd, CLASSES), cm)
    g = mistakes.confusion_counts(s, ["East", "West"], head="group")
    np.testing.assert_array_equal(g, confusion_matrix(s["group"], s["pred_group"], labels=["East", "West"]))


def test_error_rates_per_class_and_group():
    s = samples_table()
    rates = mistakes.error_rates(s, CLASSES)
    assert rates["errors"].tolist() == [1, 2, 0] and rates["images"].tolist() == [3, 3, 2]
    np.testing.assert_allclose(rates["error_rate"], [1 / 3, 2 / 3, 0])
    assert mistakes.error_rates(s, ["East", "West"], head="group")["errors"].tolist() == [0, 1]
    by_city = mistakes.group_errors_by_city(s, CLASSES)
    assert list(by_city.columns) == ["city", "images", "errors", "error_rate"]
    assert by_city["errors"].tolist() == [1, 0, 0]  # paris predicted tokyo: the group is wrong too
    empty = mistakes.error_rates(s[s["class"] != "tokyo"], CLASSES)
    assert empty["images"].tolist()[-1] == 0 and np.isnan(empty["error_rate"].iat[-1])


def test_splits_cells_and_confident_mistakes():
    s = samples_table()
    assert len(mistakes.in_split(s, "all")) == 8 and len(mistakes.in_split(s, "test")) == 3
    assert set(mistakes.in_split(s, "held-out")["split"]) == {"val", "test"}
    cell = mistakes.cell_rows(s, "seoul", "tokyo")
    assert cell["id"].tolist() == ["id4", "id3"]  # mistakes: most confident first
    diag = mistakes.cell_rows(s, "paris", "paris")
    assert diag["id"].tolist() == ["id0", "id2"]  # a diagonal cell: least confident first
    assert mistakes.confident_mistakes(s, "city", 2)["id"].tolist() == ["id4", "id3"]
    assert mistakes.confident_mistakes(s, "group", 5)["id"].tolist() == ["id1"]
    cm = mistakes.confusion_counts(s, CLASSES)
    assert mistakes.default_cell(cm, CLASSES) == ("seoul", "tokyo")
    assert mistakes.default_cell(np.diag([3, 2, 1]), CLASSES) == ("paris", "paris")


def test_confusion_counts_of_categorical_labels_and_unknown_ones():
    """The dashboard reads label columns as categoricals: the same counts, and a label
    outside ``labels`` (or missing) is left out either way."""
    s = samples_table()
    cm = mistakes.confusion_counts(s, CLASSES)
    cat = s.assign(**{c: s[c].astype("category") for c in ("class", "pred_class")})
    assert (mistakes.confusion_counts(cat, CLASSES) == cm).all()
    odd = s.assign(pred_class=["elsewhere"] + list(s["pred_class"].iloc[1:]))
    expected = mistakes.confusion_counts(s.iloc[1:], CLASSES)
    assert (mistakes.confusion_counts(odd, CLASSES) == expected).all()
    assert (mistakes.confusion_counts(odd.astype({"pred_class": "category"}), CLASSES) == expected).all()
