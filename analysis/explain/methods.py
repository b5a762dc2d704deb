"""Per-sample attribution methods: one registry, one signature.

Every method is a class registered with ``@register_method(name)`` and built with
``get_method(name, model, target_layer=...)``. Whatever the method, CLI, precompute and
dashboard call it the same way::

    maps = get_method("integrated_gradients", model).attribute(x, ("city", 3))

``inputs`` is a normalised batch ``(N, 3, H, W)`` on any device, ``target`` is
``(head, index)`` with head ``"city"`` or ``"group"`` (a bare int means the city head;
``index`` may also be one int per sample), and the result is a float ``(N, H, W)`` map at
input resolution on the input's device. Methods that differ only in how they reduce the
colour channels say so in ``reduction`` (e.g. saliency = max |grad| over channels,
integrated gradients = signed sum) so that maps can be compared and displayed
(``to_display``) knowing whether their sign means something (``signed``).

The conventions follow torch-cam: inputs are checked up front (one clear ``ValueError``),
the caller's tensor is cloned (never mutated), and the model runs inside
``attribution_session`` which puts it in eval mode, restores every module's previous
train/eval flag and removes every hook registered during the call — also when the call
raises. captum registers hooks itself (guided backprop hooks every ReLU); the session is
the backstop that makes "no hooks left" a guarantee rather than a hope.

Also here: ``randomized_copy`` and friends for the model-parameter-randomisation sanity
check (Adebayo et al., 2018): a map that survives randomising the weights explains the
input, not the model.
"""
from __future__ import annotations

import abc
import copy
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from typing import Any, ClassVar, Union

import torch
import torch.nn.functional as F
from torch import nn

from analysis.explain.targets import Target as TargetValue

HEADS: tuple[str, str] = ("city", "group")
"""Output heads of a two-head classifier, in ``forward``'s order."""

Target = Union[int, tuple[str, Union[int, Sequence[int], torch.Tensor]]]
"""``3`` (city head), ``("group", 1)``, or ``("city", [0, 2, 1])`` — one index per sample."""

MeanStd = tuple[Sequence[float], Sequence[float]]

_HOOK_DICTS = ("_forward_hooks", "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
               "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_backward_hooks",
               "_backward_pre_hooks")
"""Per-module hook dictionaries that ``RemovableHandle.remove`` deletes from."""

_OUTPUT_LAYERS = ("class_out", "group_out")
"""Logit layers of our two-head models: randomised first in the cascade."""


class UnknownMethodError(KeyError):
    """Raised for an attribution method name that is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it one clean line
        return str(self.args[0]) if self.args else ""


# --------------------------------------------------------------------------- model glue
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
    for head, attr in zip(HEADS, _OUTPUT_LAYERS):
        layer = getattr(model, attr, None)
        if not isinstance(layer, nn.Linear):
            return None
        sizes[head] = layer.out_features
    return sizes


def _first_tensor(model: nn.Module) -> torch.Tensor | None:
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


def parse_target(target: Any, n: int) -> tuple[str, int | list[int]]:
    """``(head, index)`` with ``index`` an int or a list of ``n`` ints (structure only; the
    range is checked against the head's size in ``AttributionMethod``)."""
    if isinstance(target, TargetValue):
        head, index = target.head, target.index
        index = index if isinstance(index, int) else list(index)
    elif isinstance(target, tuple) and len(target) == 2 and isinstance(target[0], str):
        head, index = target
    elif isinstance(target, (tuple, list)) or isinstance(target, str):
        raise ValueError(f"target must be an int or (head, index) with head in {HEADS}, got {target!r}")
    else:
        head, index = "city", target
    if head not in HEADS:
        raise ValueError(f"target head must be one of {HEADS}, got {head!r}")
    if isinstance(index, torch.Tensor):
        if index.is_floating_point() or index.is_complex() or index.dtype == torch.bool:
            raise ValueError(f"target index tensor must be integer, got {index.dtype}")
        index = int(index) if index.dim() == 0 else index.flatten().tolist()
    if isinstance(index, bool):
        raise ValueError(f"target index must be an int, got {index!r}")
    if isinstance(index, int):
        return head, index
    if isinstance(index, Sequence) and not isinstance(index, str):
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in index):
            raise ValueError(f"target indices must be ints, got {list(index)!r}")
        if len(index) != n:
            raise ValueError(f"target has {len(index)} indices for {n} inputs; give one per input or one int")
        return head, list(index)
    raise ValueError(f"target index must be an int or one int per input, got {index!r}")


def _check_range(index: int | list[int], head: str, size: int) -> None:
    bad = [i for i in ([index] if isinstance(index, int) else index) if not 0 <= i < size]
    if bad:
        raise ValueError(f"target index {bad[0]} out of range for the {head} head "
                         f"with {size} outputs (valid: 0..{size - 1})")


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


def upsample(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, h, w) -> (N, H, W), bilinear with half-pixel centres (``align_corners=False``,
    as OpenCV's resize that pytorch-grad-cam uses), so feature-resolution maps line up
    with the image."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(maps[:, None], size=tuple(size), mode="bilinear", align_corners=False)[:, 0]


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
            mean = torch.as_tensor(mean_std[0], dtype=x.dtype, device=x.device).reshape(1, -1, 1, 1)
            std = torch.as_tensor(mean_std[1], dtype=x.dtype, device=x.device).reshape(1, -1, 1, 1)
            if mean.shape[1] != 3 or std.shape[1] != 3:
                raise ValueError("mean_std must give 3 means and 3 stds")
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


def to_display(maps: torch.Tensor, signed: bool = False, percentile: float = 99.0) -> torch.Tensor:
    """Scale (H, W) or (N, H, W) maps for display, each map on its own.

    Divides by the ``percentile``-th percentile of |map| and clips, so a few extreme
    pixels (common in gradients) do not wash out the rest. ``signed=False`` shows
    magnitude in [0, 1] (|map|, for a sequential colour map); ``signed=True`` keeps the
    sign in [-1, 1] (for a diverging one). An all-zero map stays zero.
    """
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    squeeze = maps.dim() == 2
    m = maps.detach().float()[None] if squeeze else maps.detach().float()
    if m.dim() != 3:
        raise ValueError(f"maps must be (H, W) or (N, H, W), got {tuple(maps.shape)}")
    flat = m.abs().flatten(1)
    scale = torch.quantile(flat, percentile / 100.0, dim=1)
    scale = torch.where(scale > 0, scale, flat.amax(1))
    scale = torch.where(scale > 0, scale, torch.ones_like(scale)).reshape(-1, 1, 1)
    out = (m / scale).clamp(-1, 1) if signed else (m.abs() / scale).clamp(0, 1)
    return out[0] if squeeze else out


# ------------------------------------------------------------------------ base class
class AttributionMethod(abc.ABC):
    """Base of every attribution method: ``attribute(inputs, target) -> (N, H, W)``.

    Subclasses implement ``_attribute(x, forward, target)`` where ``x`` is already a checked,
    private clone, ``forward`` is the ``HeadSelect`` of the target head (the model is in
    eval mode, inside ``attribution_session``) and ``target`` is an int or one int per
    sample; they return (N, H, W). Class attributes describe the method to the UI.
    """

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    """Human-readable name for the UI."""
    resolution: ClassVar[str] = "input"
    """"input": pixel-level detail; "feature": computed at the feature map and upsampled."""
    needs_layer: ClassVar[bool] = False
    """Whether ``target_layer`` matters (Grad-CAM family)."""
    signed: ClassVar[bool] = True
    """Whether negative values mean something (evidence against the target)."""
    reduction: ClassVar[str] = ""
    """How the colour channels are reduced to one map (documentation)."""
    about: ClassVar[str] = ""
    """One or two sentences for the UI: what the map shows, and its known weakness."""
    display: ClassVar[str] = "magnitude"
    """How the map is best shown by default: "magnitude" or "signed" (red for, blue against)."""
    on_demand: ClassVar[bool] = False
    """Offered per image on the Sample page (too costly for the whole dataset)."""
    cost: ClassVar[str] = "about a second"
    """What a user waits the first time, on a CPU (then the map is read from disk)."""
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
        head, index = parse_target(target, x.shape[0])
        ref = _first_tensor(self.model)
        if ref is not None and ref.device != x.device:
            raise ValueError(f"model is on {ref.device} but inputs are on {x.device}; "
                             "move the model to the inputs' device (attribution runs there)")
        if ref is not None and ref.is_floating_point() and ref.dtype != x.dtype:
            raise ValueError(f"inputs are {x.dtype} but the model is {ref.dtype}; convert the inputs")
        sizes = head_sizes(self.model)
        if sizes is not None:
            _check_range(index, head, sizes[head])
        forward = HeadSelect(self.model, head)
        # inference_mode(False): a caller inside inference_mode (the dashboard) still gets
        # autograd; the clone of an inference tensor made here is a normal tensor.
        with torch.inference_mode(False), attribution_session(self.model):
            x = x.detach().clone()
            if sizes is None:  # unknown architecture: one probe forward tells the size
                with torch.no_grad():
                    _check_range(index, head, forward(x[:1]).shape[-1])
            out = impl(x, forward, index)
        if isinstance(out, tuple):
            return tuple(o.detach() for o in out)
        return out.detach()

    @abc.abstractmethod
    def _attribute(self, x: torch.Tensor, forward: HeadSelect, target: int | list[int]) -> torch.Tensor:
        """(N, H, W) maps; see the class docstring."""


# -------------------------------------------------------------------------- registry
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
    from analysis.explain import gradients, guided, occlusion  # noqa: F401


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


# -------------------------------------------------------- Grad-CAM (all-class module)
@register_method("gradcam")
class GradCam(AttributionMethod):
    """Grad-CAM from streetlens's all-class implementation (``analysis.explain.gradcam``).

    Why a registry entry around it: precompute computes all classes at once; this gives the
    same maps through the common signature (and is cross-checked against captum's
    ``LayerGradCam`` in ``gradcam_captum``). Uses ``all_class_cams(model, x).raw``
    (N, Kc + Kg, h, w: city logits, then group), ``gradcam_map`` (ReLU) and ``upsample``
    (bilinear, as pytorch-grad-cam). Channels: feature-map channels weighted by their
    pooled gradients, summed; ReLU keeps evidence *for* the class (``relu=False``: the
    raw, signed map).
    """

    label = "Grad-CAM"
    resolution = "feature"
    needs_layer = True
    signed = False
    reduction = "feature channels weighted by mean gradient, summed; ReLU"

    def __init__(self, model: nn.Module, target_layer: str | nn.Module | None = None, relu: bool = True):
        super().__init__(model, target_layer)
        if self.layer is not trunk_output_layer(model):
            raise ValueError("the all-class Grad-CAM works on the trunk output only; "
                             "use 'gradcam_captum' for another layer")
        self.relu = relu

    def _attribute(self, x, forward, target):
        try:
            from analysis.explain.gradcam import all_class_cams, gradcam_map
            from analysis.explain.gradcam import upsample as cam_upsample
        except ImportError as e:
            raise ImportError(f"'gradcam' needs analysis.explain.gradcam ({e}); "
                              "use 'gradcam_captum' meanwhile") from e
        result = all_class_cams(self.model, x, keep_features=False)
        offset = 0 if forward.head == "city" else result.n_classes  # K = city logits, then group
        ks = [target] * x.shape[0] if isinstance(target, int) else target
        raw = result.raw.detach()
        maps = torch.stack([gradcam_map(raw[i], offset + k) if self.relu else raw[i, offset + k]
                            for i, k in enumerate(ks)])
        return cam_upsample(maps, tuple(x.shape[-2:])).to(x.dtype)


# ------------------------------------------------- model-parameter randomisation check
def trunk_stages_top_down(model: nn.Module) -> list[str]:
    """``model.get_submodule`` paths of the trunk stages that hold parameters, last stage
    first: the order in which the cascading randomisation destroys the trunk."""
    trunk = getattr(model, "trunk", None)
    if not isinstance(trunk, nn.Module):
        raise ValueError("model has no trunk")
    return [f"trunk.{name}" for name, stage in reversed(list(trunk.named_children()))
            if any(True for _ in stage.parameters())]


def head_layers_top_down(model: nn.Module) -> list[str]:
    """Parameterised layers outside the trunk, logits first (``class_out``, ``group_out``),
    then the rest in reverse order of definition."""
    names = [n for n, m in model.named_modules()
             if n and n != "trunk" and not n.startswith("trunk.")
             and any(True for _ in m.parameters(recurse=False))]
    first = [n for n in _OUTPUT_LAYERS if n in names]
    return first + [n for n in reversed(names) if n not in first]


def cascade_order(model: nn.Module) -> list[str]:
    """Head layers top-down, then trunk stages top-down (Adebayo et al.'s cascade)."""
    return head_layers_top_down(model) + trunk_stages_top_down(model)


def _reinitialise(module: nn.Module) -> None:
    """Fresh random weights: each submodule's own ``reset_parameters`` (its usual init);
    parameters of modules without one are redrawn from a normal of the same std."""
    for sub in module.modules():
        own = list(sub.parameters(recurse=False))
        if not own:
            continue
        reset = getattr(sub, "reset_parameters", None)
        if callable(reset):
            reset()
        else:
            for p in own:
                std = float(p.detach().float().std()) if p.numel() > 1 else 0.0
                nn.init.normal_(p, 0.0, std if std > 0 and std == std else 0.02)


def randomized_copy(model: nn.Module, layers: Sequence[str] | str, seed: int = 0,
                    depth: int | None = None) -> nn.Module:
    """A deep copy of ``model`` with the weights of ``layers`` re-initialised.

    ``layers`` are ``model.get_submodule`` paths, or ``"cascade-from-top"`` for the first
    ``depth`` entries of ``cascade_order`` (all when None): head layers first, then trunk
    stages in reverse order. The original is never touched. The same seed gives the same
    weights, and a deeper cascade extends a shallower one (same draws for shared layers),
    so successive cascade steps differ only by the newly randomised layer.
    """
    if isinstance(layers, str):
        if layers != "cascade-from-top":
            raise ValueError(f"layers must be a list of layer paths or 'cascade-from-top', got {layers!r}")
        order = cascade_order(model)
        if depth is not None and not 0 <= depth <= len(order):
            raise ValueError(f"depth must be in 0..{len(order)}, got {depth}")
        names = order if depth is None else order[:depth]
    else:
        names = list(layers)
        if depth is not None:
            raise ValueError("depth only applies to 'cascade-from-top'")
    for name in names:
        try:
            model.get_submodule(name)
        except AttributeError:
            raise ValueError(f"no layer {name!r} in the model; choose from {cascade_order(model)}") from None
    clone = copy.deepcopy(model)
    ref = _first_tensor(clone)
    cuda = [ref.device.index or 0] if ref is not None and ref.device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda), torch.no_grad():
        torch.manual_seed(seed)
        for name in names:
            _reinitialise(clone.get_submodule(name))
    return clone


def cascade(model: nn.Module, seed: int = 0) -> Iterator[tuple[str, nn.Module]]:
    """``(last randomised layer, copy)`` for each step of the cascading randomisation."""
    for depth, name in enumerate(cascade_order(model), start=1):
        yield name, randomized_copy(model, "cascade-from-top", seed=seed, depth=depth)
