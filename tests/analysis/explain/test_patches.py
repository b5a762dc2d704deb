"""Top patches of a concept: where its map is strongest, one per image, cut from the photo."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from analysis.explain.patches import Patch, crop_patches, patch_box, top_patches


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


def test_top_patches_kept_while_streaming_equal_the_ranking_of_all_images():
    """Only n candidates per concept are kept between chunks; the answer is the one a
    ranking of every image's maximum gives (ties by image index), for any chunk size."""
    rng = np.random.default_rng(1)
    maps = rng.integers(0, 4, (57, 3, 2, 3)).astype(np.float32)  # many ties
    flat = maps.reshape(57, 3, 6)
    for k in range(3):
        best = flat[:, k].max(1)
        order = sorted(range(57), key=lambda i: (-best[i], i))[:5]
        expected = [Patch(i, int(flat[i, k].argmax()) // 3, int(flat[i, k].argmax()) % 3, float(best[i]))
                    for i in order if best[i] > 0]
        for batch in (1, 4, 57, 100):
            assert top_patches(maps, n=5, batch=batch)[k] == expected


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
