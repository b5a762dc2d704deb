"""The method cards: one per registered method and no other, copied as they are onto the
method classes (what the UI reads without PyTorch is what the classes say), and checked
when written."""
from __future__ import annotations

import pytest

from analysis.explain.method_cards import CARD_FIELDS, CARDS, MethodCard
from analysis.explain.registry import METHODS, method_class


def test_every_card_has_its_registered_class_and_back():
    method_class("gradcam")  # imports every method module
    assert sorted(CARDS) == sorted(METHODS)
    for name, card in CARDS.items():
        cls = METHODS[name]
        assert {f: getattr(cls, f) for f in CARD_FIELDS} == {f: getattr(card, f) for f in CARD_FIELDS}, name


def test_what_the_pages_show():
    assert [n for n, c in CARDS.items() if c.on_demand] == ["guided_backprop", "guided_gradcam",
                                                              "integrated_gradients"]
    assert CARDS["integrated_gradients"].display == "signed"
    assert CARDS["guided_backprop"].display == "magnitude"
    assert CARDS["integrated_gradients"].cost == "about 5–20 s on a CPU"
    assert CARDS["gradcam"].resolution == "feature" and not CARDS["gradcam"].signed
    assert all(c.about for c in CARDS.values() if c.on_demand)


@pytest.mark.parametrize("bad, message", [({"label": ""}, "needs a label"),
                                          ({"resolution": "pixel"}, "resolution"),
                                          ({"display": "heat"}, "display")])
def test_a_card_checks_its_values(bad, message):
    with pytest.raises(ValueError, match=message):
        MethodCard(**{"label": "X", "resolution": "input", "signed": True, **bad})
