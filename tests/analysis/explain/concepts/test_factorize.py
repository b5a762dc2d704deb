"""NMF concepts: recovery of a planted low-rank factorisation, streaming, determinism,
CRAFT importance completeness, top patches, boxes, per-image neuron groups."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from scipy.optimize import nnls
from torch import nn

from analysis.explain.concepts.factorize import (
    ConceptBasis,
    concept_class_importance,
    concept_importance,
    concept_maps,
    fit_concepts,
    neuron_groups,
    residual_norm,
)


def planted(n=30, c=24, h=5, w=6, k=4, seed=0):
    """Activations A = U·W with known non-negative U (sparse-ish) and W, as (n, C, h, w)."""
    rng = np.random.default_rng(seed)
    W = rng.random((k, c)) ** 3
    U = rng.random((n * h * w, k)) ** 2
    A = (U @ W).reshape(n, h, w, c).transpose(0, 3, 1, 2)
    return A.astype(np.float32), U, W


@pytest.fixture(scope="module")
def data():
    A, U, W = planted()
    return A, fit_concepts(A, n_concepts=4, seed=0)


def test_recovers_planted_low_rank_product(data):
    A, basis = data
    assert basis.components.shape == (4, 24)
    assert (basis.components >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(basis.components, axis=1), 1.0, rtol=1e-5)
    assert basis.relative_error < 1e-2
    assert basis.explained > 0.9999
    maps = concept_maps(basis, A)
    assert maps.shape == (30, 4, 5, 6) and (maps >= 0).all()
    rel = np.linalg.norm(residual_norm(basis, A, maps)) / np.linalg.norm(A)
    assert rel < 1e-2


def test_subsampling_is_reproducible_and_bounded():
    A, _, _ = planted(n=40, seed=1)
    a = fit_concepts(A, n_concepts=4, seed=3, max_rows=500, batch=7)
    b = fit_concepts(A, n_concepts=4, seed=3, max_rows=500, batch=13)
    assert a.n_rows == 500 and a.n_images == 40
    np.testing.assert_array_equal(a.components, b.components)  # same rows whatever the chunking
    assert a.relative_error < 1e-2
    c = fit_concepts(A, n_concepts=4, seed=4, max_rows=500)
    assert not np.array_equal(a.components, c.components)


def test_float16_memmap_and_indices(tmp_path):
    A, _, _ = planted(n=20, seed=2)
    mm = np.lib.format.open_memmap(tmp_path / "acts.npy", mode="w+", dtype=np.float16, shape=A.shape)
    mm[:] = A
    mm.flush()
    ro = np.load(tmp_path / "acts.npy", mmap_mode="r")
    basis = fit_concepts(ro, n_concepts=4, seed=0, batch=3, indices=[0, 2, 4, 6, 8, 10])
    assert basis.n_images == 6 and basis.n_rows == 6 * 30
    assert basis.relative_error < 1e-2  # float16 rounding only
    maps = concept_maps(basis, ro, batch=6)
    assert maps.shape == (20, 4, 5, 6)


def test_negative_activations_are_clipped_and_reported():
    A, _, _ = planted(n=10)
    A = A - 0.05
    basis = fit_concepts(A, n_concepts=4)
    assert basis.negative_fraction > 0
    assert (basis.components >= 0).all()
    assert (concept_maps(basis, A) >= 0).all()


def test_deterministic_for_a_seed(data):
    A, basis = data
    again = fit_concepts(A, n_concepts=4, seed=0)
    np.testing.assert_array_equal(basis.components, again.components)
    assert basis.relative_error == again.relative_error
    np.testing.assert_array_equal(concept_maps(basis, A), concept_maps(again, A))


def test_chunked_maps_equal_unchunked(data, tmp_path):
    A, basis = data
    whole = concept_maps(basis, A, batch=len(A))
    chunked = concept_maps(basis, A, batch=7)
    np.testing.assert_allclose(chunked, whole, rtol=1e-6, atol=1e-7)
    out = np.lib.format.open_memmap(tmp_path / "maps.npy", mode="w+", dtype=np.float16, shape=whole.shape)
    concept_maps(basis, A, batch=4, out=out)  # streamed into a float16 memmap
    np.testing.assert_allclose(out, whole, rtol=2e-3, atol=1e-3)


def test_maps_match_scipy_nnls(data):
    """Oracle: scipy's active-set NNLS, row by row."""
    A, _ = data
    basis = ConceptBasis(components=np.random.default_rng(5).random((4, 24)).astype(np.float32),
                         relative_error=0.0, explained=1.0)
    A = A[:3] + np.random.default_rng(6).random(A[:3].shape).astype(np.float32) * 0.3
    maps = concept_maps(basis, A)
    rows = A.transpose(0, 2, 3, 1).reshape(-1, 24).astype(np.float64)
    ref = np.array([nnls(basis.components.T.astype(np.float64), r)[0] for r in rows])
    np.testing.assert_allclose(maps.transpose(0, 2, 3, 1).reshape(-1, 4), ref, atol=1e-5)


def test_record_round_trip_through_the_store(data, tmp_path):
    from analysis.store import RunCache

    _, basis = data
    basis.meta = {"run": "r1", "layer": "layer4"}
    cache = RunCache(tmp_path / "r1")
    cache.write_concept_basis(*basis.record())
    back = ConceptBasis.from_record(*cache.read_concept_basis())
    np.testing.assert_array_equal(back.components, basis.components)
    assert back.relative_error == pytest.approx(basis.relative_error)
    assert (back.n_rows, back.seed, back.meta) == (basis.n_rows, basis.seed, {"run": "r1", "layer": "layer4"})
    components, info = basis.record()
    with pytest.raises(ValueError, match="recompute the concepts"):
        ConceptBasis.from_record(components[:2], info)


def test_bad_input_is_one_clear_error(data):
    A, basis = data
    with pytest.raises(ValueError, match=r"\(N, C, h, w\)"):
        fit_concepts(A[0], n_concepts=2)
    with pytest.raises(ValueError, match="channels"):
        concept_maps(basis, A[:, :10])
    with pytest.raises(ValueError, match="all zero"):
        fit_concepts(np.zeros((2, 4, 3, 3), np.float32), n_concepts=2)


# --------------------------------------------------------------------------- importance
def test_completeness_for_linear_head_after_gap(data):
    """Σ_k importance_k ≈ gradient × activation = logit − bias, within ‖g‖·‖A − UW‖."""
    A, basis = data
    torch.manual_seed(0)
    head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(24, 3))
    fmap = torch.tensor(A, dtype=torch.float64, requires_grad=True)
    head = head.double()
    logits = head(fmap)
    maps = concept_maps(basis, A)
    resid = residual_norm(basis, A, maps)
    for t in range(3):
        (g,) = torch.autograd.grad(logits[:, t].sum(), fmap, retain_graph=True)
        g = g.numpy()
        per_image = concept_importance(maps, g, basis, reduce=None)
        assert per_image.shape == (30, 4)
        grad_x_act = (g * A.astype(np.float64)).sum((1, 2, 3))
        linear_part = (logits[:, t] - head[2].bias[t]).detach().numpy()
        np.testing.assert_allclose(grad_x_act, linear_part, rtol=1e-6, atol=1e-9)
        bound = np.sqrt((g ** 2).sum((1, 2, 3))) * resid
        assert (np.abs(per_image.sum(1) - grad_x_act) <= bound + 1e-9).all()
        assert np.abs(per_image.sum(1) - grad_x_act).max() < 1e-2 * np.abs(grad_x_act).max()
        # spatially constant gradient: the (n, C) form gives the same numbers
        const = concept_importance(maps, g[:, :, 0, 0], basis, reduce=None)
        np.testing.assert_allclose(const, per_image, rtol=1e-6, atol=1e-10)
        np.testing.assert_allclose(concept_importance(maps, g, basis), per_image.mean(0))


def test_concept_class_matrix_averages_over_each_class(data):
    A, basis = data
    rng = np.random.default_rng(1)
    maps = concept_maps(basis, A)
    grads = rng.standard_normal((30, 3, 24))
    labels = np.arange(30) % 3
    labels[labels == 2] = 0  # class 2 has no images
    chunks = [(maps[s:s + 8], grads[s:s + 8], labels[s:s + 8]) for s in range(0, 30, 8)]
    matrix, counts = concept_class_importance(chunks, basis, n_targets=3)
    assert matrix.shape == (4, 3)
    assert counts.tolist() == [20, 10, 0]
    for t in (0, 1):
        sel = labels == t
        np.testing.assert_allclose(matrix[:, t], concept_importance(maps[sel], grads[sel, t], basis))
    assert np.isnan(matrix[:, 2]).all()
    everyone, n = concept_class_importance([(maps, grads, None)], basis, n_targets=3)
    assert n.tolist() == [30, 30, 30]
    np.testing.assert_allclose(everyone[:, 2], concept_importance(maps, grads[:, 2], basis))


# --------------------------------------------------------------------------- patches
def test_neuron_groups_shapes_nonnegative_fast():
    rng = np.random.default_rng(0)
    acts = np.maximum(rng.standard_normal((512, 14, 14)), 0).astype(np.float32)
    t = time.perf_counter()
    maps, dirs = neuron_groups(acts, k=6, seed=0)
    elapsed = time.perf_counter() - t
    assert maps.shape == (6, 14, 14) and dirs.shape == (6, 512)
    assert (maps >= 0).all() and (dirs >= 0).all()
    np.testing.assert_allclose(np.linalg.norm(dirs, axis=1), 1.0, rtol=1e-5)
    assert elapsed < 2.0  # < 1 s on an idle core; slack for a busy CI box
    maps2, dirs2 = neuron_groups(acts, k=6, seed=0)
    np.testing.assert_array_equal(maps, maps2)


def test_neuron_groups_find_planted_groups():
    A, _, _ = planted(n=1, c=32, h=8, w=8, k=3, seed=4)
    maps, dirs = neuron_groups(A[0], k=3)
    recon = np.einsum("khw,kc->chw", maps, dirs)
    assert np.linalg.norm(recon - A[0]) / np.linalg.norm(A[0]) < 1e-2
    zero_maps, zero_dirs = neuron_groups(np.zeros((8, 3, 3)), k=2)
    assert zero_maps.shape == (2, 3, 3) and not zero_maps.any()
