import imagehash
from PIL import Image

from analysis.data.dedupe import clusters, hamming_matrix, hashes_to_uint64, nearest_within, phash_hex


def test_hamming_matches_imagehash(make_photo):
    imgs = [make_photo(s) for s in range(6)] + [make_photo(0).resize((150, 120))]
    hexes = [phash_hex(im) for im in imgs]
    ours = hamming_matrix(hashes_to_uint64(hexes), hashes_to_uint64(hexes))
    ref = [[imagehash.hex_to_hash(a) - imagehash.hex_to_hash(b) for b in hexes] for a in hexes]
    assert ours.tolist() == ref


def test_nearest_within_and_clusters(make_photo):
    a = phash_hex(make_photo(1))
    a_resized = phash_hex(make_photo(1).resize((200, 170), Image.BILINEAR))
    b = phash_hex(make_photo(2))
    hits = nearest_within([a_resized, b], [b, a], threshold=6)
    assert hits[0][0] == 1 and hits[0][1] < 6
    assert hits[1] == (0, 0)
    assert nearest_within([a], [b], threshold=6) == [None]
    labels = clusters([a, b, a_resized], threshold=6)
    assert labels.tolist() == [0, 1, 0]


def test_clusters_join_chains():
    # 0 ~ 1 (distance 4) and 1 ~ 2 (distance 4) but 0 and 2 are 8 apart: one cluster
    hexes = ["0000000000000000", "000000000000000f", "00000000000000ff"]
    assert clusters(hexes, threshold=5).tolist() == [0, 0, 0]
    assert clusters(hexes, threshold=4).tolist() == [0, 1, 2]


def _random_hashes(n, seed=0, planted=300):
    """Random 64-bit hashes with planted near-copies (0–8 bits flipped), as hex."""
    import numpy as np

    rng = np.random.default_rng(seed)
    h = rng.integers(0, 2**63, size=n, dtype=np.uint64) | (rng.integers(0, 2, n, dtype=np.uint64) << np.uint64(63))
    for _ in range(planted):
        src, dst = rng.integers(n, size=2)
        v = int(h[src])
        for bit in rng.choice(64, size=int(rng.integers(0, 9)), replace=False):
            v ^= 1 << int(bit)
        h[dst] = v
    return [f"{int(v):016x}" for v in h]


def _all_pairs_nearest(query, reference, threshold):
    """The oracle: every pair compared (the former implementation)."""
    import numpy as np

    d = hamming_matrix(hashes_to_uint64(query), hashes_to_uint64(reference))
    best = d.argmin(axis=1)
    return [(int(j), int(d[i, j])) if d[i, j] < threshold else None for i, j in enumerate(best)]


def test_the_index_answers_exactly_what_all_pairs_answer():
    import numpy as np

    from analysis.data.dedupe import HashIndex

    hexes = _random_hashes(3000)
    for threshold in (1, 4, 6, 9):
        got = nearest_within(hexes[:800], hexes[800:], threshold)
        assert got == _all_pairs_nearest(hexes[:800], hexes[800:], threshold)
    # clusters: the same components as connecting every pair closer than the threshold
    d = hamming_matrix(hashes_to_uint64(hexes[:1500]), hashes_to_uint64(hexes[:1500]))
    from scipy.sparse.csgraph import connected_components

    _, comp = connected_components(d < 6, directed=False)
    labels = clusters(hexes[:1500], threshold=6)
    assert len(set(labels)) == len(set(comp))
    assert all(len({c for c in comp[labels == lab]}) == 1 for lab in set(labels))
    # added one at a time (as an import goes) = added at once
    one = HashIndex(6)
    for h in hexes[:200]:
        one.add([h])
    assert len(one) == 200 and one.nearest(hexes[200:400]) == nearest_within(hexes[200:400], hexes[:200], 6)
    assert HashIndex(0).nearest(hexes[:3]) == [None, None, None]
