"""The base of every per-sample attribution method, and the plumbing they share.

Whatever the method, CLI, precompute and dashboard call it the same way::

    maps = get_method("integrated_gradients", model).attribute(x, Target("city", 3))

``inputs`` is a normalised batch ``(N, 3, H, W)`` on any device, ``target`` a
:class:`~analysis.explain.targets.Target` (head ``"city"`` or ``"group"``, one index or one
per sample), and the result is a float ``(N, H, W)`` map at input resolution on the input's
device. Methods that differ only in how they reduce the colour channels say so in
``reduction`` (e.g. saliency = max |grad| over channels, integrated gradients = signed sum)
so that maps can be compared and displayed (``scaling.to_display``) knowing whether their
sign means something (``signed``).

The conventions follow torch-cam: inputs are checked up front (one clear ``ValueError``),
the caller's tensor is cloned (never mutated), and the model runs inside
``attribution_session`` which puts it in eval mode, restores every module's previous
train/eval flag and removes every hook registered during the call — also when the call
raises. captum registers hooks itself (guided backprop hooks every ReLU); the session is
the backstop that makes "no hooks left" a guarantee rather than a hope.
"""
from __future__ import annotations

import abc
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import chain
from typing import Any, ClassVar

import torch
from torch import nn

from analysis.explain.scaling import checked_mean_std
from analysis.explain.targets import HEADS, Target, batch_target
from analysis.nets.registry import MeanStd

_HOOK_DICTS = ("_forward_hooks", "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
               "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_backward_hooks",
               "_backward_pre_hooks")
"""Per-module hook dictionaries that ``RemovableHandle.remove`` deletes from."""

OUTPUT_LAYERS = ("class_out", "group_out")
"""Logit layers of our two-head models (the heads' sizes; randomised first in the cascade)."""


class HeadSelect(nn.Module):
    """The model seen through one head: ``forward(x) -> logits of head``.

    captum wants ``forward_func(x) -> (N, K)``; our classifiers return two heads. Wrapping
    (rather than copying) keeps every hook that captum registers on the real modules.
    """

    def __init__(self, model: nn.Module, head: str = "city"):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {head!r}")
        self.model = model
        self.head = head
        self.index = HEADS.index(head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        if isinstance(out, (tuple, list)):
            return out[self.index]
        if self.index == 0:  # a one-head model: its only output is the city head
            return out
        raise ValueError("model returns a single output; it has no 'group' head")


def head_sizes(model: nn.Module) -> dict[str, int] | None:
    """Number of logits per head, read from the output layers without a forward pass
    (None when the model does not expose ``class_out``/``group_out``)."""
    sizes = {}
    for head, attr in zip(HEADS, OUTPUT_LAYERS):
        layer = getattr(model, attr, None)
        if not isinstance(layer, nn.Linear):
            return None
        sizes[head] = layer.out_features
    return sizes


def first_tensor(model: nn.Module) -> torch.Tensor | None:
    return next(chain(model.parameters(), model.buffers()), None)


def resolve_layer(model: nn.Module, target_layer: str | nn.Module | None) -> tuple[str, nn.Module]:
    """``(path, module)`` of the attribution layer.

    A string is a ``trunk.get_submodule`` path (``BackboneSpec.target_layer``), falling back
    to a ``model.get_submodule`` path; None means the trunk's last stage, whose output IS the
    feature map the head pools (see ``analysis.nets.registry``).
    """
    trunk = getattr(model, "trunk", None)
    if isinstance(target_layer, nn.Module):
        for name, module in model.named_modules():
            if module is target_layer:
                return name, module
        raise ValueError("target_layer module is not part of the model")
    if target_layer is None:
        if not isinstance(trunk, nn.Module) or not list(trunk.children()):
            raise ValueError("model has no trunk with stages; pass target_layer explicitly")
        name, module = list(trunk.named_children())[-1]
        return f"trunk.{name}", module
    if not isinstance(target_layer, str):
        raise ValueError(f"target_layer must be a layer path or module, got {type(target_layer).__name__}")
    if isinstance(trunk, nn.Module):
        try:
            return f"trunk.{target_layer}", trunk.get_submodule(target_layer)
        except AttributeError:
            pass
    try:
        return target_layer, model.get_submodule(target_layer)
    except AttributeError:
        raise ValueError(f"no layer {target_layer!r} in the model's trunk or the model") from None


def trunk_output_layer(model: nn.Module) -> nn.Module:
    """The trunk's last stage (output = feature map)."""
    return resolve_layer(model, None)[1]


@contextmanager
def attribution_session(model: nn.Module) -> Iterator[nn.Module]:
    """Run ``model`` for attribution: eval mode, gradients on, and on exit (even after an
    exception) every module's train/eval flag restored and every hook added meanwhile
    removed. Flags are restored per module because a caller may keep, say, frozen
    BatchNorms in eval inside a training model."""
    modules = list(model.modules())
    modes = [m.training for m in modules]
    before = [{d: set(getattr(m, d, {}) or {}) for d in _HOOK_DICTS} for m in modules]
    full = [getattr(m, "_is_full_backward_hook", None) for m in modules]
    model.eval()
    try:
        with torch.enable_grad(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU")
            warnings.filterwarnings("ignore", message=".*did not already require gradients")
            yield model
    finally:
        for m, mode, hooks, was_full in zip(modules, modes, before, full):
            for d, keys in hooks.items():
                table = getattr(m, d, None)
                if table:
                    for key in [k for k in table if k not in keys]:
                        del table[key]
            if hasattr(m, "_is_full_backward_hook"):
                m._is_full_backward_hook = was_full
            m.training = mode


def module_hooks(model: nn.Module) -> dict[str, int]:
    """Hooks per module name (only modules that have any): what tests and callers check
    to be empty after an attribution."""
    counts = {}
    for name, m in model.named_modules():
        n = sum(len(getattr(m, d, {}) or {}) for d in _HOOK_DICTS)
        if n:
            counts[name or "<root>"] = n
    return counts


# ----------------------------------------------------------------- checks and helpers
def check_inputs(inputs: Any) -> torch.Tensor:
    """Raise one clear ValueError unless ``inputs`` is a finite float (N, 3, H, W) batch."""
    if not isinstance(inputs, torch.Tensor):
        raise ValueError(f"inputs must be a torch.Tensor (N, 3, H, W), got {type(inputs).__name__}")
    if inputs.dim() != 4:
        raise ValueError(f"inputs must be a 4-D batch (N, 3, H, W), got shape {tuple(inputs.shape)}; "
                         "add a batch dimension with x[None]")
    if not inputs.is_floating_point():
        raise ValueError(f"inputs must be a float tensor (normalised image), got {inputs.dtype}")
    n, c, h, w = inputs.shape
    if c != 3:
        raise ValueError(f"inputs must have 3 colour channels, got {c} (shape {tuple(inputs.shape)})")
    if n < 1 or h < 1 or w < 1:
        raise ValueError(f"inputs must not be empty, got shape {tuple(inputs.shape)}")
    if not bool(torch.isfinite(inputs).all()):
        raise ValueError("inputs contain NaN or infinite values")
    return inputs


def reduce_channels(attr: torch.Tensor, how: str) -> torch.Tensor:
    """(N, 3, H, W) -> (N, H, W): ``"sum"`` (signed; what completeness-style methods add
    up), ``"max_abs"`` (Simonyan et al.'s saliency) or ``"mean"``."""
    if how == "sum":
        return attr.sum(1)
    if how == "max_abs":
        return attr.abs().amax(1)
    if how == "mean":
        return attr.mean(1)
    raise ValueError(f"unknown channel reduction {how!r}")


def resolve_baseline(baseline: Any, x: torch.Tensor, mean_std: MeanStd | None) -> torch.Tensor:
    """A reference image like ``x`` (same shape, device, dtype).

    ``"black"`` is pixel value 0 *before* normalisation: ``-mean / std`` per channel when
    ``mean_std`` is known, else 0 (inputs taken as un-normalised). A zero tensor in the
    normalised space is the dataset-mean grey, not black, hence the distinction.
    ``"zero"`` is 0 in the model's input space; a float is a constant there; a tensor is
    broadcast to ``x``'s shape.
    """
    if isinstance(baseline, str):
        if baseline == "zero" or (baseline == "black" and mean_std is None):
            return torch.zeros_like(x)
        if baseline == "black":
            mean, std = (torch.as_tensor(v, dtype=x.dtype, device=x.device).reshape(1, -1, 1, 1)
                         for v in checked_mean_std(mean_std))
            return (-mean / std).expand_as(x).contiguous()
        raise ValueError(f"baseline must be 'black', 'zero', a number or a tensor, got {baseline!r}")
    if isinstance(baseline, (int, float)) and not isinstance(baseline, bool):
        return torch.full_like(x, float(baseline))
    if isinstance(baseline, torch.Tensor):
        b = baseline.detach().to(device=x.device, dtype=x.dtype)
        try:
            return b.expand_as(x).clone()
        except RuntimeError:
            raise ValueError(f"baseline of shape {tuple(b.shape)} does not broadcast to inputs "
                             f"{tuple(x.shape)}") from None
    raise ValueError(f"baseline must be 'black', 'zero', a number or a tensor, got {type(baseline).__name__}")


class AttributionMethod(abc.ABC):
    """Base of every attribution method: ``attribute(inputs, target) -> (N, H, W)``.

    Subclasses implement ``_attribute(x, forward, target)`` where ``x`` is already a checked,
    private clone, ``forward`` is the ``HeadSelect`` of the target head (the model is in
    eval mode, inside ``attribution_session``) and ``target`` is an int or one int per
    sample; they return (N, H, W). Class attributes describe the method; those the UI shows
    come from its card (``analysis.explain.method_cards``).
    """

    name: ClassVar[str] = ""
    # What the UI says about the method (label, resolution, signed, display, on_demand, cost,
    # about) is its card in ``analysis.explain.method_cards``, copied onto the class when it
    # registers; the defaults here are for an unregistered subclass.
    label: ClassVar[str] = ""
    resolution: ClassVar[str] = "input"
    signed: ClassVar[bool] = True
    """Whether negative values mean something; an instance may change it with its options
    (``Gradient(absolute=False)``)."""
    display: ClassVar[str] = "magnitude"
    on_demand: ClassVar[bool] = False
    cost: ClassVar[str] = "about a second"
    about: ClassVar[str] = ""
    needs_layer: ClassVar[bool] = False
    """Whether ``target_layer`` matters (Grad-CAM family)."""
    reduction: ClassVar[str] = ""
    """How the colour channels are reduced to one map (documentation)."""
    demand_options: ClassVar[dict] = {}
    """Constructor options when computed on demand (``mean_std`` is added from the run
    for methods that take it)."""

    @classmethod
    def passes(cls, options: dict) -> int:
        """About how many forward passes one image costs with ``options`` (progress bars)."""
        return 1

    def __init__(self, model: nn.Module, target_layer: str | nn.Module | None = None):
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.target_layer = target_layer
        if self.needs_layer:
            self.layer_name, self.layer = resolve_layer(model, target_layer)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    def attribute(self, inputs: torch.Tensor, target: Target) -> torch.Tensor:
        """Float (N, H, W) maps for ``target`` on the input's device."""
        maps = self._run(inputs, target, self._attribute)
        expected = (inputs.shape[0], *inputs.shape[2:])
        if tuple(maps.shape) != expected:  # e.g. captum's silent empty tensor on failure
            raise RuntimeError(f"{self.name} produced maps of shape {tuple(maps.shape)}, expected {expected}")
        return maps

    def _run(self, inputs: torch.Tensor, target: Target, impl: Callable) -> Any:
        """Checks, clone, session; then ``impl(x, forward, index)``."""
        x = check_inputs(inputs)
        target = batch_target(target, x.shape[0])
        head, index = target.head, target.index if isinstance(target.index, int) else list(target.index)
        ref = first_tensor(self.model)
        if ref is not None and ref.device != x.device:
            raise ValueError(f"model is on {ref.device} but inputs are on {x.device}; "
                             "move the model to the inputs' device (attribution runs there)")
        if ref is not None and ref.is_floating_point() and ref.dtype != x.dtype:
            raise ValueError(f"inputs are {x.dtype} but the model is {ref.dtype}; convert the inputs")
        sizes = head_sizes(self.model)
        if sizes is not None:
            target.check_range(sizes[head])
        forward = HeadSelect(self.model, head)
        # inference_mode(False): a caller inside inference_mode (the dashboard) still gets
        # autograd; the clone of an inference tensor made here is a normal tensor.
        with torch.inference_mode(False), attribution_session(self.model):
            x = x.detach().clone()
            if sizes is None:  # unknown architecture: one probe forward tells the size
                with torch.no_grad():
                    target.check_range(forward(x[:1]).shape[-1])
            out = impl(x, forward, index)
        if isinstance(out, tuple):
            return tuple(o.detach() for o in out)
        return out.detach()

    @abc.abstractmethod
    def _attribute(self, x: torch.Tensor, forward: HeadSelect, target: int | list[int]) -> torch.Tensor:
        """(N, H, W) maps; see the class docstring."""
