"""The forward stage's pace: start-up (the first shard back) and images per second after it."""

from analysis.precompute.stages.forward import throughput


def test_pace_after_the_first_shard_by_hand():
    # first shard of 256 images back after 2 s; 1,280 images in 10 s → 1,024 images in 8 s
    assert throughput([(2.0, 256)], 10.0, 1280) == {"first_shard_s": 2.0, "steady_img_per_s": 128.0}


def test_no_pace_from_a_single_shard_or_nothing_done():
    assert throughput([], 5.0, 0) == {}
    assert throughput([(3.0, 256)], 3.0, 256) == {}  # one shard: nothing after it to time
