"""The registry's side of the cards: listing and labelling read the cards without importing
PyTorch; registering a class needs its card, copies it onto the class and refuses a class
that describes itself. (The methods' contract: test_methods.py.)"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from analysis.explain.attribution import AttributionMethod
from analysis.explain.method_cards import CARDS, MethodCard
from analysis.explain.registry import (METHODS, UnknownMethodError, list_methods, method_card, method_class,
                                       on_demand_methods, register_method)

ROOT = Path(__file__).resolve().parents[3]

NO_TORCH = """
import sys
from analysis.explain import ondemand, registry
from analysis.explain.concepts.effect import area
from analysis.explain.reliability import verdict
from analysis.explain.reliability.maps import DEFAULT_METHODS, method_label, method_signed
names = registry.list_methods()
labels = [method_label(m) for m in DEFAULT_METHODS] + [registry.method_card(m).about for m in names]
offered = ondemand.on_demand_methods()
signed = method_signed("integrated_gradients")
before = [m for m in ("torch", "torchvision", "captum") if m in sys.modules]
registry.method_class("gradcam")
print(before, "torch" in sys.modules)
"""


def test_listing_and_labelling_do_not_import_torch_until_a_class_is_asked_for():
    done = subprocess.run([sys.executable, "-c", NO_TORCH], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": ""}, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["[]", "True"]


def test_names_and_cards():
    assert list_methods() == sorted(CARDS)
    assert on_demand_methods() == ["guided_backprop", "guided_gradcam", "integrated_gradients"]
    assert method_card("gradcam").label == "Grad-CAM"
    with pytest.raises(UnknownMethodError, match="unknown attribution method 'lime'.*integrated_gradients"):
        method_card("lime")
    with pytest.raises(UnknownMethodError, match="integrated_gradients"):
        method_class("lime")


@pytest.fixture
def card():
    CARDS["test_only"] = MethodCard("Test only", resolution="feature", signed=False, display="magnitude",
                                    on_demand=True, cost="a while", about="For the tests.")
    yield CARDS["test_only"]
    CARDS.pop("test_only")
    METHODS.pop("test_only", None)


def test_registering_copies_the_card_onto_the_class(card):
    @register_method("test_only")
    class TestOnly(AttributionMethod):
        reduction = "none"

    assert method_class("test_only") is TestOnly and TestOnly.name == "test_only"
    assert (TestOnly.label, TestOnly.resolution, TestOnly.signed, TestOnly.on_demand, TestOnly.cost,
            TestOnly.about) == ("Test only", "feature", False, True, "a while", "For the tests.")
    assert "test_only" in on_demand_methods()


def test_a_class_without_a_card_is_refused():
    class Nameless(AttributionMethod):
        pass

    with pytest.raises(ValueError, match="no card.*method_cards.py"):
        register_method("test_nameless")(Nameless)
    assert "test_nameless" not in METHODS


def test_a_class_that_describes_itself_is_refused(card):
    class Labelled(AttributionMethod):
        label = "Mine"
        cost = "free"

    with pytest.raises(ValueError, match="label, cost belong in its MethodCard"):
        register_method("test_only")(Labelled)
    assert "test_only" not in METHODS
