"""Compare figures carry the numbers of their tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard.figures import compare


def test_accuracy_chart_bars_intervals_and_significance_marks():
    acc = pd.DataFrame({"class": ["all", "tokyo"], "acc_a": [0.8, 0.5], "low_a": [0.7, 0.3], "high_a": [0.9, 0.7],
                        "acc_b": [0.85, 0.9], "low_b": [0.75, 0.8], "high_b": [0.95, 1.0],
                        "p_mcnemar": [0.4, 0.01], "significant": [False, True]})
    fig = compare.accuracy_chart(acc, "<i>a</i>", "b")
    a, b = fig.data
    assert list(a.x) == ["all", "tokyo *"] and np.allclose(b.y, [0.85, 0.9])
    assert np.allclose(a.error_y.array, [0.1, 0.2]) and np.allclose(a.error_y.arrayminus, [0.1, 0.2])
    assert a.name == "&lt;i&gt;a&lt;/i&gt;"


def test_agreement_and_map_correlation_charts():
    ag = pd.DataFrame({"cell": ["both right", "only A right", "only B right", "both wrong"],
                       "images": [6, 1, 2, 1], "share": [0.6, 0.1, 0.2, 0.1]})
    assert list(compare.agreement_chart(ag).data[0].text) == ["6 (60%)", "1 (10%)", "2 (20%)", "1 (10%)"]
    corr = pd.DataFrame({"id": list("abcd"), "class": ["x", "x", "y", "y"], "rho": [0.9, 0.5, np.nan, -0.2]})
    boxes = compare.map_correlation_chart(corr).data
    assert [b.name for b in boxes] == ["x", "y"] and list(boxes[1].y) == [-0.2]
