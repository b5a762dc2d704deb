"""The attribution-method registry: every method is a class registered under a name with
``@register_method(name)``, built with ``get_method(name, model, target_layer=...)``.

The method modules are imported by name the first time a class is asked for, so that
adding a method means adding a module to ``METHOD_MODULES`` and its ``MethodCard`` to
:data:`analysis.explain.method_cards.CARDS` — and none of them imports this registry's
callers.

Importing this module does not import PyTorch, and neither do ``list_methods``,
``method_card`` and ``on_demand_methods``: they read the cards, so that the dashboard can
list and label methods on every visit without paying torch's 3–7 s import. Only
``method_class`` and ``get_method`` import the method modules (torch code).
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from analysis.explain.method_cards import CARD_FIELDS, CARDS, MethodCard

if TYPE_CHECKING:
    from torch import nn

    from analysis.explain.attribution import AttributionMethod

METHOD_MODULES = ("analysis.explain.gradcam", "analysis.explain.gradients", "analysis.explain.guided",
                  "analysis.explain.occlusion")
"""Modules whose classes register themselves (imported on first use of the registry)."""


class UnknownMethodError(KeyError):
    """Raised for an attribution method name that is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it one clean line
        return str(self.args[0]) if self.args else ""


METHODS: dict[str, type[AttributionMethod]] = {}
"""Name → class, filled as the method modules are imported (``method_class``, ``get_method``)."""


def register_method(name: str) -> Callable[[type[AttributionMethod]], type[AttributionMethod]]:
    """Class decorator registering an ``AttributionMethod`` subclass under ``name``; the
    method's card (``method_cards.CARDS[name]``) becomes the class's UI attributes."""

    def decorate(cls: type[AttributionMethod]) -> type[AttributionMethod]:
        from analysis.explain.attribution import AttributionMethod  # loaded by the caller already

        if name in METHODS and METHODS[name] is not cls:
            raise ValueError(f"attribution method {name!r} registered twice")
        if not (isinstance(cls, type) and issubclass(cls, AttributionMethod)):
            raise ValueError(f"{cls!r} is not an AttributionMethod subclass")
        if name not in CARDS:
            raise ValueError(f"attribution method {name!r} has no card: add its MethodCard to "
                             "analysis/explain/method_cards.py (the UI lists methods from there)")
        own = [f for f in CARD_FIELDS if f in vars(cls)]
        if own:
            raise ValueError(f"{name}: {', '.join(own)} belong in its MethodCard "
                             "(analysis/explain/method_cards.py), not in the class")
        for field in CARD_FIELDS:
            setattr(cls, field, getattr(CARDS[name], field))
        cls.name = name
        METHODS[name] = cls
        return cls

    return decorate


def _load_methods() -> None:
    """Import the method modules so that their decorators have run."""
    for module in METHOD_MODULES:
        importlib.import_module(module)


def _unknown(name: str) -> UnknownMethodError:
    choices = ", ".join(list_methods())
    return UnknownMethodError(f"unknown attribution method {name!r}; choose one of {choices}")


def method_card(name: str) -> MethodCard:
    """What the UI says about method ``name`` (label, about, cost …), without PyTorch."""
    try:
        return CARDS[name]
    except KeyError:
        raise _unknown(name) from None


def list_methods() -> list[str]:
    """Method names, sorted: the cards' (every card's module registers its class, and no
    class registers without a card — ``tests/analysis/explain/test_registry.py``)."""
    return sorted(CARDS)


def on_demand_methods() -> list[str]:
    """The methods offered per image on the Sample page (sorted by name)."""
    return [m for m in list_methods() if CARDS[m].on_demand]


def method_class(name: str) -> type[AttributionMethod]:
    """The registered class of method ``name`` (its options, its cost in passes)."""
    _load_methods()
    try:
        return METHODS[name]
    except KeyError:
        raise _unknown(name) from None


def get_method(name: str, model: nn.Module, target_layer: str | nn.Module | None = None,
               **options: Any) -> AttributionMethod:
    """The method ``name`` bound to ``model``. ``target_layer`` (a ``trunk.get_submodule``
    path, e.g. ``spec.target_layer``) is used by methods that need a layer and ignored by
    the others, so callers can pass it always; ``options`` go to the method's constructor."""
    return method_class(name)(model, target_layer=target_layer, **options)
