import pandas as pd

from analysis.explain.concepts.importance import concept_names, importance_matrix

IMP = pd.DataFrame({
    "concept": [0, 0, 0, 1, 1, 1, 2, 2, 2, 0, 0],
    "head": ["city"] * 9 + ["group"] * 2,
    "target": ["paris", "seoul", "tokyo"] * 3 + ["East", "West"],
    "importance": [0.5, -0.1, 0.2, -0.3, 0.9, 0.4, -0.2, -0.1, -0.5, 0.1, 0.3],
})


def test_each_concept_is_named_after_the_class_it_helps_most():
    assert concept_names(IMP) == {0: "concept 0 · paris", 1: "concept 1 · seoul", 2: "concept 2"}
    assert concept_names(IMP, "group") == {0: "concept 0 · West"}


def test_importance_matrix_is_concepts_by_targets():
    m = importance_matrix(IMP, "city", targets=["tokyo", "paris", "nowhere"])
    assert list(m.columns) == ["tokyo", "paris"] and list(m.index) == [0, 1, 2]
    assert m.loc[1, "tokyo"] == 0.4
