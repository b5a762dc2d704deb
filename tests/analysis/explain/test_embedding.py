"""The feature space: UMAP layout, nearest training images, and the nearest-neighbour
index for a new photo (scikit-learn as the oracle)."""

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from analysis.explain.embedding import TrainingIndex, nearest_training_images, umap_2d, unit_rows


def clusters(seed=0, per=40, dim=16):
    rng = np.random.default_rng(seed)
    centres = np.eye(3, dim) * 5
    feats = np.concatenate([c + rng.normal(0, 0.3, (per, dim)) for c in centres]).astype(np.float32)
    return feats, np.repeat(np.arange(3), per)


def test_umap_2d_keeps_clusters_apart_and_is_seeded():
    """Exact cosine kNN handed to UMAP: three direction clusters stay three clusters (each
    point's nearest 2-D neighbours come from its own cluster), and one seed gives one
    layout."""
    feats, labels = clusters()
    xy = umap_2d(feats, n_neighbors=10, seed=0)
    assert xy.shape == (120, 2) and xy.dtype == np.float32
    d = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    np.fill_diagonal(d, np.inf)
    nearest = np.argsort(d, axis=1)[:, :5]
    assert (labels[nearest] == labels[:, None]).mean() > 0.95
    np.testing.assert_array_equal(xy, umap_2d(feats, n_neighbors=10, seed=0))
    # fewer points than neighbours: PCA
    assert umap_2d(feats[:6], n_neighbors=10, seed=0).shape == (6, 2)


def test_nearest_training_images_match_scikit_learn_cosine():
    feats, _ = clusters(seed=1, per=10)
    is_train = np.arange(len(feats)) % 3 != 0
    rows, dist = nearest_training_images(feats, is_train, k=4)
    train = np.flatnonzero(is_train)
    oracle = NearestNeighbors(n_neighbors=5, metric="cosine", algorithm="brute").fit(feats[train])
    d_ref, i_ref = oracle.kneighbors(feats)
    for i in range(len(feats)):
        expected = [(train[j], d) for j, d in zip(i_ref[i], d_ref[i]) if train[j] != i][:4]
        assert list(rows[i]) == [j for j, _ in expected]  # never itself, nearest first
        np.testing.assert_allclose(dist[i], [d for _, d in expected], atol=1e-5)


def test_training_index_finds_the_most_similar_training_rows():
    feats, _ = clusters(seed=2, per=8)
    samples = pd.DataFrame({"row": np.arange(len(feats)),
                            "split": ["train" if i % 2 else "test" for i in range(len(feats))]})
    index = TrainingIndex.from_samples(samples, feats)
    query = feats[3] * 2.0  # cosine: the scale does not matter
    rows, sims = index.nearest(query, 3)
    train = np.flatnonzero(samples["split"] == "train")
    expected = train[np.argsort(-(unit_rows(feats[train]) @ unit_rows(query[None])[0]))[:3]]
    assert list(rows) == list(expected) and rows[0] == 3 and abs(sims[0] - 1.0) < 1e-5
    assert np.all(np.diff(sims) <= 1e-6) and index.dim == feats.shape[1]
    no_train = samples.assign(split="test")  # no training rows: every row is a candidate
    assert len(TrainingIndex.from_samples(no_train, feats).rows) == len(feats)



def test_beyond_fit_max_umap_is_fitted_on_a_sample_and_the_rest_placed_in_their_own_cluster():
    feats, labels = clusters(seed=2, per=60)  # 180 images, fit on 90
    xy = umap_2d(feats, n_neighbors=10, seed=0, fit_max=90, chunk=50, workers=1)
    sample = np.sort(np.random.default_rng(0).choice(180, size=90, replace=False))
    # the sampled images are exactly UMAP of the sample
    np.testing.assert_array_equal(xy[sample], umap_2d(feats[sample], n_neighbors=10, seed=0))
    placed = np.setdiff1d(np.arange(180), sample)
    d = np.linalg.norm(xy[placed][:, None] - xy[sample][None], axis=2)
    nearest_sampled = sample[d.argmin(1)]
    assert (labels[nearest_sampled] == labels[placed]).mean() > 0.95  # placed in their own cluster
    # the placed images' transform runs in worker processes: their number does not matter
    np.testing.assert_array_equal(xy, umap_2d(feats, n_neighbors=10, seed=0, fit_max=90, chunk=50, workers=2))
    # up to fit_max: fitted on all, as before
    np.testing.assert_array_equal(umap_2d(feats, 10, 0, fit_max=180), umap_2d(feats, 10, 0, fit_max=10**9))


def test_nearest_training_images_do_not_depend_on_the_chunk():
    feats, _ = clusters(seed=3, per=20)
    is_train = np.arange(len(feats)) % 2 == 0
    a = nearest_training_images(feats, is_train, k=3, chunk=7)
    b = nearest_training_images(feats, is_train, k=3, chunk=4096)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
