"""The layer × k sweep: default layers, a k a layer cannot have, the measures of every
setting on the tiny CNN (completeness through the model itself), the recommendation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from analysis.explain.concepts.factorize import ConceptBasis, fit_concepts
from analysis.explain.concepts.sweep import (check_settings, default_layers, layer_activations, recommend,
                                             reconstructed_predictions, sweep)
from analysis.nets import TwoHeadClassifier, get_backbone


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return TwoHeadClassifier(get_backbone("tiny_cnn").build("random"), 32, 3, 2).eval()


def batches(x):
    return lambda: (x[a:a + 4] for a in range(0, len(x), 4))


def test_default_layers(tiny):
    assert default_layers(tiny.trunk, "block3", ("block3",)) == ["block3", "block2"]
    spec = get_backbone("efficientnet_lite0")
    trunk = spec.build("random")
    assert default_layers(trunk, spec.target_layer, spec.last_block) == ["bn2", "stage5"]


def test_a_k_larger_than_the_channels_is_one_clear_error():
    with pytest.raises(ValueError, match=r"k=24 is more than the 16 channels of layer block1: choose k ≤ 16"):
        check_settings({"block1": 16, "block3": 32}, [6, 24])
    with pytest.raises(ValueError, match="at least 1"):
        check_settings({"block3": 32}, [0])


def test_replacing_a_layer_by_an_exact_reconstruction_changes_nothing(tiny):
    x = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    acts = layer_activations(tiny, "block2", batches(x)())
    assert acts.min() >= 0  # after a ReLU: one concept per channel rebuilds it exactly
    c = acts.shape[1]
    identity = ConceptBasis(np.eye(c, dtype=np.float32), 0.0, 1.0)
    with torch.no_grad():
        logits = tiny(x)[0]
    np.testing.assert_array_equal(reconstructed_predictions(tiny, "block2", identity, batches(x)()),
                                  logits.argmax(1).numpy())
    one = fit_concepts(acts, 1, max_rows=10_000)  # one concept: a coarse copy, predictions may change
    assert reconstructed_predictions(tiny, "block2", one, batches(x)()).shape == (8,)


def test_sweep_measures_every_setting(tiny):
    x = torch.rand(12, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        labels = tiny(x)[0].argmax(1).numpy()  # the model is right on all of them: accuracy 1
    t = sweep(tiny, ["block3", "block2"], [2, 4], batches(x), batches(x), labels, refits=2, max_rows=2000)
    assert t[["layer", "k"]].values.tolist() == [["block3", 2], ["block3", 4], ["block2", 2], ["block2", 4]]
    assert (t["accuracy"] == 1.0).all() and t["completeness"].between(0, 1).all()
    assert (t["completeness"] == t["concept_accuracy"]).all()
    assert t["relative_error"].between(0, 1).all() and t["stable_share"].between(0, 1).all()
    e = t.set_index(["layer", "k"])["relative_error"]
    assert e[("block3", 4)] <= e[("block3", 2)] + 1e-6  # more concepts rebuild at least as well


def test_recommend_prefers_complete_and_stable_then_fewer_concepts():
    t = pd.DataFrame([
        {"layer": "a", "k": 6, "completeness": 0.95, "stable_share": 0.8},
        {"layer": "a", "k": 12, "completeness": 0.97, "stable_share": 0.8},
        {"layer": "b", "k": 12, "completeness": 0.99, "stable_share": 0.5},
    ])
    i, reason = recommend(t)
    assert i == 0 and reason.startswith("a with k=6: its concepts keep 95% of the accuracy and 80% of them")
    t2 = t.assign(completeness=[0.5, 0.6, 0.7])
    i2, reason2 = recommend(t2)
    assert i2 == 2 and "no setting keeps 90%" in reason2
