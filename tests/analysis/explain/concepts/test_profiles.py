"""Presence, prevalence per class, mean maps and the words for where a map sits."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.explain.concepts.profiles import concept_maxima, mean_maps, presence, prevalence, where_words


def test_presence_is_relative_to_each_concept():
    maxima = np.array([[10.0, 0.1], [1.0, 0.1], [9.0, 0.0], [10.0, 0.09]])
    p = presence(maxima, 0.5)
    assert p[:, 0].tolist() == [True, False, True, True]
    assert p[:, 1].tolist() == [True, True, False, True]  # small values, but its own scale


def test_prevalence_own_class_vs_the_others():
    present = np.array([[1, 0], [1, 1], [0, 1], [0, 1]], bool)
    own, others = prevalence(present, np.array([0, 0, 1, 1]), 3)
    np.testing.assert_allclose(own[:, :2], [[1.0, 0.0], [0.5, 1.0]])
    np.testing.assert_allclose(others[:, :2], [[0.0, 1.0], [1.0, 0.5]])
    assert np.isnan(own[:, 2]).all()


def test_mean_maps_normalise_each_image_first():
    maps = np.zeros((3, 1, 2, 2))
    maps[0, 0, 0, 0] = 100.0  # a strong image does not outweigh a weak one
    maps[1, 0, 1, 1] = 1.0
    maps[2, 0, 1, 1] = 5.0  # other class
    m = mean_maps(maps, np.array([0, 0, 1]), 2)
    np.testing.assert_allclose(m[0, 0], [[1, 0], [0, 1]])
    np.testing.assert_allclose(m[0, 1], [[0, 0], [0, 1]])
    assert concept_maxima(maps)[:, 0].tolist() == [100.0, 1.0, 5.0]


@pytest.mark.parametrize("rows, cols, words", [
    (slice(6, 7), slice(0, 7), "bottom strip"),
    (slice(0, 2), slice(0, 7), "top band"),
    (slice(0, 7), slice(0, 1), "left edge"),
    (slice(3, 4), slice(3, 4), "centre"),
    (slice(0, 1), slice(6, 7), "upper right"),
    (slice(6, 7), slice(3, 4), "bottom centre"),
    (slice(0, 7), slice(0, 7), "all over the frame"),
])
def test_where_words(rows, cols, words):
    m = np.zeros((7, 7))
    m[rows, cols] = 1
    assert where_words(m) == words


def test_where_words_of_an_empty_map():
    assert where_words(np.zeros((3, 3))) == "nowhere in particular"


def test_where_words_look_above_the_floor_of_a_mean_map():
    """A real mean map is never zero anywhere: a watermark in both bottom corners of a
    14×14 map over a floor of weak activation is at the bottom, not all over the frame
    (the Seoul "Google" / "© Google" marks of the Street View crops)."""
    m = np.ones((14, 14))
    m[12:, :4] = m[12:, 10:] = 6.0  # 32 % of the mass in the two corners, the rest spread
    assert where_words(m) == "bottom strip"
    assert where_words(np.full((14, 14), 0.3)) == "all over the frame"  # flat: no place stands out
    m = np.full((7, 7), 0.2)
    m[3, 3] = 1.0
    assert where_words(m) == "centre"
