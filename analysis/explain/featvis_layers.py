"""Which module lucent hooks, and under which name: a layer given as a ``get_submodule``
path (or a trunk path on a classifier, or lucent's own "_"-joined name) resolved to its
module, lucent's name for it, and the smallest part of the network that reaches it."""

from __future__ import annotations

from torch import nn


def _lucent_names(model: nn.Module) -> dict[str, nn.Module]:
    """Layer name → module exactly as lucent's ``hook_model`` builds them ("_"-joined)."""
    names: dict[str, nn.Module] = {}

    def walk(net: nn.Module, prefix: list[str]) -> None:
        for name, layer in net._modules.items():
            if layer is None:
                continue
            names["_".join(prefix + [name])] = layer
            walk(layer, prefix + [name])

    walk(model, [])
    return names


def resolve_layer(model: nn.Module, layer: str) -> tuple[str, nn.Module]:
    """(``get_submodule`` path in ``model``, module) for a dotted path, a trunk path on a
    classifier (``spec.target_layer`` on a ``TwoHeadClassifier``) or a lucent name."""
    candidates = [layer]
    trunk = getattr(model, "trunk", None)
    if isinstance(trunk, nn.Module):
        candidates.append(f"trunk.{layer}")
    for path in candidates:
        try:
            return path, model.get_submodule(path)
        except AttributeError:
            pass
    module = _lucent_names(model).get(layer)
    if module is not None:
        for path, m in model.named_modules():
            if m is module:
                return path, m
    raise ValueError(f"layer {layer!r} not found in {type(model).__name__}; give a "
                     f"get_submodule path such as the backbone's target_layer")


def lucent_layer_name(model: nn.Module, target_layer: str) -> str:
    """The name under which lucent's ``render_vis(model, …)`` hooks ``target_layer``.

    ``target_layer`` is a ``get_submodule`` path of ``model`` (or, for a classifier with a
    ``trunk``, of its trunk, e.g. ``spec.target_layer``); lucent joins the path with "_"
    ("trunk.block3" → "trunk_block3"). Raises if another module would shadow the name.
    """
    path, module = resolve_layer(model, target_layer)
    name = path.replace(".", "_")
    if _lucent_names(model).get(name) is not module:
        raise ValueError(f"lucent's name {name!r} for {path!r} is shadowed by another module")
    return name


def render_net(model: nn.Module, path: str) -> tuple[nn.Module, str]:
    """(smallest module whose forward reaches ``path``, ``path`` inside it): a Sequential
    trunk is cut after the stage holding the layer (no head, no later stages — they
    would only cost time); other models run whole."""
    for prefix, seq in (("trunk.", getattr(model, "trunk", None)), ("", model)):
        if isinstance(seq, nn.Sequential) and path.startswith(prefix):
            inner = path[len(prefix):]
            names = [n for n, _ in seq.named_children()]
            if inner.split(".")[0] in names:
                return seq[: names.index(inner.split(".")[0]) + 1], inner
    return model, path
