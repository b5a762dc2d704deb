"""NMF concepts: recovery of a planted low-rank factorisation, streaming, determinism,
CRAFT importance completeness, top patches, boxes, per-image neuron groups."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.optimize import nnls
from torch import nn

from analysis.explain.factorize import (
    ConceptBasis,
    Patch,
    concept_class_importance,
    concept_importance,
    concept_maps,
    crop_patches,
    fit_concepts,
    neuron_groups,
    patch_box,
    residual_norm,
    top_patches,
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


def test_save_load_roundtrip(data, tmp_path):
    _, basis = data
    basis.meta = {"run": "r1", "layer": "layer4"}
    basis.save(tmp_path / "concepts")
    assert sorted(p.name for p in (tmp_path / "concepts").iterdir()) == ["components.npy", "concepts.json"]
    back = ConceptBasis.load(tmp_path / "concepts")
    np.testing.assert_array_equal(back.components, basis.components)
    assert back.relative_error == pytest.approx(basis.relative_error)
    assert back.meta == {"run": "r1", "layer": "layer4"}
    with pytest.raises(FileNotFoundError, match="no concept basis"):
        ConceptBasis.load(tmp_path / "missing")


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
def test_top_patches_pick_planted_maxima():
    rng = np.random.default_rng(0)
    maps = rng.random((20, 3, 4, 5)).astype(np.float32) * 0.5
    maps[7, 0, 2, 3] = 9.0
    maps[7, 0, 1, 1] = 8.0   # same image: must not appear twice
    maps[3, 0, 0, 4] = 7.0
    maps[11, 1, 3, 0] = 5.0
    maps[:, 2] = 0.0
    maps[5, 2, 1, 2] = 1.0   # concept 2 fires in one image only
    top = top_patches(maps, n=3, batch=6)
    assert top[0][:2] == [Patch(7, 2, 3, 9.0), Patch(3, 0, 4, 7.0)]
    assert len({p.image for p in top[0]}) == 3
    assert top[1][0] == Patch(11, 3, 0, 5.0)
    assert top[2] == [Patch(5, 1, 2, 1.0)]


def test_patch_box_inside_image_and_centred():
    assert patch_box(1, 2, (4, 4), (400, 400), scale=1.0) == (200, 100, 300, 200)
    for y in range(7):
        for x in range(7):
            left, top, right, bottom = patch_box(y, x, (7, 7), (300, 500), scale=2.0)
            assert 0 <= left < right <= 500 and 0 <= top < bottom <= 300
            cx, cy = (x + 0.5) * 500 / 7, (y + 0.5) * 300 / 7
            assert left <= cx <= right and top <= cy <= bottom
    assert patch_box(0, 0, (7, 7), (300, 500)) == (0, 0, 107, 64)  # clipped at the corner
    with pytest.raises(ValueError):
        patch_box(7, 0, (7, 7), (300, 500))


def test_crop_patches_from_paths_and_loader(tmp_path, make_photo):
    paths = []
    for i in range(2):
        make_photo(i, (120, 90)).save(tmp_path / f"{i}.png")
        paths.append(tmp_path / f"{i}.png")
    boxes = [patch_box(1, 1, (3, 3), (90, 120)), (0, 0, 30, 60)]
    crops = crop_patches(paths, boxes, size=48)
    assert [c.size for c in crops] == [(48, 48), (48, 48)]
    assert boxes[0] == (20, 15, 100, 75)  # 80×60: aspect kept → 48×36 picture, grey bands
    first = Image.open(paths[0]).convert("RGB").crop(boxes[0]).resize((48, 36))
    got = np.asarray(crops[0], float)
    assert np.abs(got[6:42] - np.asarray(first, float)).mean() < 3
    assert (got[:5] == 128).all() and (got[43:] == 128).all()
    via_loader = crop_patches(lambda i: Image.open(paths[i]), boxes, size=48, indices=[0, 1])
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(crops, via_loader))


# --------------------------------------------------------------------------- one image
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
