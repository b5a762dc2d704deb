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
