"""Experiment figures: what each bar, dot, line and band stands for, read back from the figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard.figures import compare as compare_figures
from dashboard.figures import experiment as figures


@pytest.fixture
def tables():
    runs = pd.DataFrame({
        "run": [f"r{i}" for i in range(8)], "backbone": ["b"] * 8,
        "mode": ["finetune"] * 4 + ["scratch"] * 4, "fraction": [1.0, 1.0, 0.5, 0.5] * 2,
        "seed": [0, 1] * 4, "test_city": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]})
    summary = pd.DataFrame({
        "backbone": ["b"] * 4, "mode": ["finetune", "scratch", "finetune", "scratch"],
        "fraction": [1.0, 1.0, 0.5, 0.5], "n_train": [100, 100, 50, 50], "seeds": [2] * 4,
        "test_city": [0.85, 0.45, 0.65, 0.25], "low": [0.8, np.nan, 0.6, 0.2], "high": [0.9, np.nan, 0.7, 0.3]})
    return summary, runs


def test_grid_chart_means_intervals_and_seed_dots(tables):
    summary, runs = tables
    fig = figures.grid_chart(summary, runs)
    means, dots = fig.data
    assert list(means.x) == ["b · finetune", "b · scratch"]  # full data only, best first
    assert list(means.y) == [0.85, 0.45]
    assert list(means.error_y.array) == pytest.approx([0.05, 0.0])  # no interval: no whisker
    assert list(dots.y) == [0.9, 0.8, 0.5, 0.4]
    half = figures.grid_chart(summary, runs, fraction=0.5)
    assert list(half.data[0].y) == [0.65, 0.25]


def test_efficiency_chart_one_line_per_grid_point_against_training_images(tables):
    summary, runs = tables
    fig = figures.efficiency_chart(summary, runs)
    lines = [t for t in fig.data if t.mode == "lines+markers"]
    assert [t.name for t in lines] == ["b · finetune", "b · scratch"]
    assert list(lines[0].x) == [50, 100] and list(lines[0].y) == [0.65, 0.85]
    bands = [t for t in fig.data if t.fill == "toself"]
    assert len(bands) == 2 and list(bands[0].y) == [0.7, 0.9, 0.8, 0.6]
    assert fig.layout.xaxis.type == "log"


def test_layer_cka_heat_map_and_its_sentence():
    layers = ["trunk.s0", "trunk.s1", "trunk.s2"]
    values = {("trunk.s0", "trunk.s0"): 1.0, ("trunk.s1", "trunk.s1"): 0.995, ("trunk.s2", "trunk.s2"): 0.7}
    table = pd.DataFrame([{"layer_a": a, "layer_b": b, "depth_a": i, "depth_b": j,
                           "cka": values.get((a, b), 0.1), "images": 9}
                          for i, a in enumerate(layers) for j, b in enumerate(layers)])
    fig = compare_figures.layer_cka_chart(table, "A", "B")
    assert list(fig.data[0].y) == ["s0", "s1", "s2"]
    assert np.diag(np.asarray(fig.data[0].z)).tolist() == [1.0, 0.995, 0.7]
    assert compare_figures.layer_cka_sentence(table) == (
        "Same architecture: identical (CKA ≥ 0.99) up to s1; from s2 on, CKA falls to 0.70 — where training "
        "made the two runs' features differ.")
    other = table.assign(layer_b=table["layer_b"].str.replace("s", "x"))
    assert compare_figures.layer_cka_sentence(other).startswith("Closest stage of B for each stage of A: s0→x0 (1.00)")
