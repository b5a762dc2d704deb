"""The attribution-method registry: every method is a class registered under a name with
``@register_method(name)``, built with ``get_method(name, model, target_layer=...)``.

The method modules are imported by name the first time the registry is asked, so that
adding a method means adding a module to ``METHOD_MODULES`` — and none of them imports
this registry's callers.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

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


def register_method(name: str) -> Callable[[type[AttributionMethod]], type[AttributionMethod]]:
    """Class decorator registering an ``AttributionMethod`` subclass under ``name``."""

    def decorate(cls: type[AttributionMethod]) -> type[AttributionMethod]:
        if name in METHODS and METHODS[name] is not cls:
            raise ValueError(f"attribution method {name!r} registered twice")
        if not (isinstance(cls, type) and issubclass(cls, AttributionMethod)):
            raise ValueError(f"{cls!r} is not an AttributionMethod subclass")
        if cls.resolution not in ("input", "feature"):
            raise ValueError(f"{name}: resolution must be 'input' or 'feature'")
        cls.name = name
        if not cls.label:
            cls.label = name.replace("_", " ")
        METHODS[name] = cls
        return cls

    return decorate


def _load_methods() -> None:
    """Import the method modules so that their decorators have run."""
    for module in METHOD_MODULES:
        importlib.import_module(module)


def method_class(name: str) -> type[AttributionMethod]:
    """The registered class of method ``name`` (its description for the UI, its cost)."""
    _load_methods()
    try:
        return METHODS[name]
    except KeyError:
        raise UnknownMethodError(
            f"unknown attribution method {name!r}; choose one of {', '.join(sorted(METHODS))}"
        ) from None


def list_methods() -> list[str]:
    """Registered method names, sorted."""
    _load_methods()
    return sorted(METHODS)


def get_method(name: str, model: nn.Module, target_layer: str | nn.Module | None = None,
               **options: Any) -> AttributionMethod:
    """The method ``name`` bound to ``model``. ``target_layer`` (a ``trunk.get_submodule``
    path, e.g. ``spec.target_layer``) is used by methods that need a layer and ignored by
    the others, so callers can pass it always; ``options`` go to the method's constructor."""
    _load_methods()
    try:
        cls = METHODS[name]
    except KeyError:
        raise UnknownMethodError(
            f"unknown attribution method {name!r}; choose one of {', '.join(sorted(METHODS))}"
        ) from None
    return cls(model, target_layer=target_layer, **options)
