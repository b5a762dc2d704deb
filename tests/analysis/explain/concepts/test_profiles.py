"""Presence, prevalence per class, mean maps and the words for where a map sits."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.explain.concepts.profiles import concept_maxima, mean_maps, prevalence, presence, where_words


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
