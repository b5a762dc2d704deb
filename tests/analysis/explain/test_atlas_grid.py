"""The activation atlas's grid against hand-computed oracles: a plane of 8 images whose
cells, counts, means and typical images can be worked out on paper; chunked == whole;
every cell's images are one slice of the Morton-ordered points."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.explain import atlas_grid as ag

# x, y on [0, 4] (the plane is the square [0, 4]², so at level 2 the cells are 2 wide)
XY = np.array([[0.0, 0.0], [0.5, 0.9], [1.9, 1.5],   # cell (0, 0) at level 2
               [3.0, 0.2], [3.9, 1.0],               # cell (1, 0)
               [0.2, 3.9],                           # cell (0, 1)
               [2.5, 2.5], [4.0, 4.0]])              # cell (1, 1)
FEATS = np.array([[0, 0], [1, 0], [5, 0],            # mean (2, 0): typical row 1 (distance 1)
                  [1, 1], [3, 3],                    # mean (2, 2): a tie → the lower row, 3
                  [7, 7],
                  [0, 2], [0, 4]], np.float32)       # mean (0, 3): tie → 6
LABELS = pd.DataFrame({"y_class": [0, 0, 1, 1, 1, 2, 2, 0], "pred": [0, 1, 1, 1, 0, 2, 2, 2],
                       "correct": [True, False, True, True, False, True, True, False],
                       "split": ["train", "train", "val", "test", "train", "val", "train", "test"],
                       "p_pred": np.linspace(0.5, 0.9, 8)})
SPLITS = ("train", "val", "test")


def grid(chunk=None, levels=(2, 4)):
    return ag.aggregate(XY[:, 0], XY[:, 1], FEATS, LABELS, 3, SPLITS, levels, chunk=chunk)


def test_plane_is_the_bounding_square():
    p = ag.Plane.around(np.array([0.0, 4.0]), np.array([1.0, 2.0]))
    assert p.x0 == 0 and p.side == pytest.approx(4.0) and p.y0 == pytest.approx(-0.5)
    ix, iy = p.cells(np.array([0.0, 3.999, 4.0]), np.array([1.0, 1.0, 2.0]), 4)
    assert ix.tolist() == [0, 3, 3] and iy.tolist() == [1, 1, 2]


def test_counts_means_and_typical_images_at_the_coarse_level():
    cells = grid().cells.set_index(["level", "ix", "iy"])
    c2 = cells.loc[2]
    assert c2["count"].to_dict() == {(0, 0): 3, (1, 0): 2, (0, 1): 1, (1, 1): 2}
    assert c2["typical"].to_dict() == {(0, 0): 1, (1, 0): 3, (0, 1): 5, (1, 1): 6}
    assert c2.loc[(0, 0), "typical_dist"] == pytest.approx(1.0)
    assert c2.loc[(1, 0), "x0"] == pytest.approx(2.0) and c2.loc[(1, 0), "y1"] == pytest.approx(2.0)
    # class mix, majority, predictions, accuracy, splits of cell (0, 0): rows 0, 1, 2
    row = c2.loc[(0, 0)]
    assert [row[f"n_class_{k}"] for k in range(3)] == [2, 1, 0]
    assert [row[f"n_pred_{k}"] for k in range(3)] == [1, 2, 0]
    assert row["majority"] == 0 and row["majority_share"] == pytest.approx(2 / 3)
    assert row["pred_majority"] == 1 and row["accuracy"] == pytest.approx(2 / 3)
    assert (row["n_split_train"], row["n_split_val"], row["n_split_test"]) == (2, 1, 0)


def test_means_are_the_cells_mean_features():
    g = grid()
    for i, r in g.cells.iterrows():
        p = ag.Plane.around(XY[:, 0], XY[:, 1])
        ix, iy = p.cells(XY[:, 0], XY[:, 1], int(r["level"]))
        inside = (ix == r["ix"]) & (iy == r["iy"])
        assert inside.sum() == r["count"]
        np.testing.assert_allclose(g.means[i], FEATS[inside].mean(axis=0), rtol=1e-6)
        d = ((FEATS[inside] - FEATS[inside].mean(axis=0)) ** 2).sum(axis=1)
        assert r["typical"] == np.flatnonzero(inside)[np.argmin(d)]


def test_every_level_counts_every_image_once():
    cells = grid().cells
    assert cells.groupby("level")["count"].sum().to_dict() == {2: 8, 4: 8}


@pytest.mark.parametrize("chunk", [1, 3, 5])
def test_chunked_equals_whole(chunk):
    whole, part = grid(), grid(chunk=chunk)
    pd.testing.assert_frame_equal(whole.cells, part.cells)
    np.testing.assert_allclose(whole.means, part.means, rtol=1e-6)
    np.testing.assert_array_equal(whole.points, part.points)


def test_chunked_equals_whole_on_random_clusters():
    rng = np.random.default_rng(0)
    n = 3000
    centres = rng.normal(size=(5, 2)) * 5
    xy = centres[rng.integers(0, 5, n)] + rng.normal(size=(n, 2))
    feats = rng.normal(size=(n, 16)).astype(np.float32)
    labels = pd.DataFrame({"y_class": rng.integers(0, 4, n), "pred": rng.integers(0, 4, n),
                           "correct": rng.random(n) < 0.7, "split": rng.choice(list(SPLITS), n),
                           "p_pred": rng.random(n)})
    a = ag.aggregate(xy[:, 0], xy[:, 1], feats, labels, 4, SPLITS, (8, 16, 32))
    b = ag.aggregate(xy[:, 0], xy[:, 1], feats, labels, 4, SPLITS, (8, 16, 32), chunk=257)
    pd.testing.assert_frame_equal(a.cells.drop(columns="typical_dist"), b.cells.drop(columns="typical_dist"))
    np.testing.assert_allclose(a.means, b.means, rtol=1e-5, atol=1e-6)
    # brute force typical image of every cell
    for i, r in a.cells.iterrows():
        ix, iy = a.plane.cells(xy[:, 0], xy[:, 1], int(r["level"]))
        rows = np.flatnonzero((ix == r["ix"]) & (iy == r["iy"]))
        d = ((feats[rows] - feats[rows].mean(axis=0)) ** 2).sum(axis=1)
        # the argmin, up to rounding (the two images of a 2-image cell are equally far)
        assert d[rows == r["typical"]][0] <= d.min() * (1 + 1e-5) + 1e-9


def test_each_cells_images_are_one_slice_of_the_points():
    g = grid(levels=(1, 2, 4))
    cols = list(ag.POINT_COLUMNS)
    for _, r in g.cells.iterrows():
        part = g.points[int(r["start"]):int(r["start"] + r["count"])]
        ix, iy = g.plane.cells(part[:, cols.index("x")], part[:, cols.index("y")], int(r["level"]))
        assert (ix == r["ix"]).all() and (iy == r["iy"]).all()
        assert g.points[int(r["typical_pos"]), cols.index("row")] == r["typical"]
    assert sorted(g.points[:, cols.index("row")].astype(int)) == list(range(8))
    row = g.points[g.points[:, cols.index("row")] == 4][0]
    assert row[cols.index("class")] == 1 and row[cols.index("pred")] == 0
    assert row[cols.index("correct")] == 0 and row[cols.index("split")] == 0


def test_levels_must_be_powers_of_two():
    assert ag.parse_levels("16, 8,64") == (8, 16, 64)
    with pytest.raises(ValueError, match="powers of two"):
        ag.parse_levels("8,12")
    with pytest.raises(ValueError, match="powers of two"):
        ag.parse_levels("eight")


def test_morton_ranges_nest():
    lo, hi = ag.morton_range(2, 8, np.array([1]), np.array([1]))
    fine = ag.morton(np.arange(4, 8)[:, None], np.arange(4, 8)[None, :], 3).ravel()
    assert sorted(fine) == list(range(int(lo[0]), int(hi[0])))
