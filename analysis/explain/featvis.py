"""Feature visualisation with lucent: images that a channel or a concept direction loves.

Why a wrapper instead of calling ``lucent.optvis.render.render_vis`` directly — lucent
0.1.8 has habits that would corrupt the caller's model or the picture:

* it registers a forward hook on EVERY module and never removes them → we remove every
  hook it added (try/finally, also when the optimisation raises);
* it silently upsamples images below 224 px → we pass ``fixed_image_size=size``;
* its default ``preprocess`` appends ImageNet normalisation (or InceptionV1's) → we pass
  ``preprocess=False`` and instead wrap the network in ``Normalized``, which applies the
  backbone's own mean/std (EfficientNet-Lite0 wants 0.5/0.5, Caffe VGG something else);
* it draws transform randomness from numpy's and torch's global generators → we seed
  both from ``seed`` inside a forked RNG state, so the same call gives the same pixels
  and the caller's random streams are untouched;
* its parameters and transforms use a module-global device (CUDA when available) → we
  point those globals at the model's device for the duration of the call;
* it leaves the model's mode alone and lets weight gradients accumulate → we put the
  model in eval mode (BatchNorm running statistics: batch elements must not see each
  other) and freeze its parameters (no weight gradients: faster, ``.grad`` stays clean),
  then restore each module's mode and each parameter's ``requires_grad``;
* it dropped lucid's ReLU gradient redirection, so channels that are 0 on the grey start
  image never move → ``_RedirectedReLU`` (on by default, as in lucid).

Layer choice: optimise a layer whose output is not capped. EfficientNet-Lite0's target
``bn2`` ends in ReLU6: the optimisation soon drives every position to 6.0, the
gradient vanishes and the images stay washed-out grey; render ``bn2.drop`` instead (the
same 1280 channels before the ReLU6). ResNet's ``layer4`` (plain ReLU) is fine as is.

Several objectives are rendered in ONE optimisation: a batched image parameterisation
(one image per objective) and the sum of per-element objectives
(``objectives.channel(layer, c, batch=i)``). Batch elements are independent in eval
mode, so this is the same as rendering them one by one, for less: on a GPU a batch of 8
costs about what one image does; on a 2-core CPU the gain is smaller (EfficientNet-Lite0
0.073 vs 0.097 s per image-step at 128 px, ResNet18 none).
"""
from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn

from analysis.explain.featvis_layers import lucent_layer_name, render_net, resolve_layer
from analysis.explain.relu_redirect import redirect_relus
from analysis.explain.scaling import checked_mean_std
from analysis.nets.precision import autocast, backward_precision
from analysis.nets.registry import MeanStd

ObjectiveSpec = tuple[str, object]
"""("channel", c) or ("direction", vector of length C)."""

PARAMETERISATIONS = {"fft": (True, True), "pixel": (False, True)}
"""Name → (fft, decorrelate) of the image parameterisation: lucent's default (Fourier
basis, decorrelated colours) or plain pixels (decorrelated colours too)."""
TRANSFORMS = ("standard", "jitter", "none")
"""Robustness transforms by name: lucent's ``standard_transforms`` (pad 12, jitter 8,
scale 0.9–1.1, rotate ±10°, jitter 4), a light jitter (pad 4, jitter 4) or none."""


def transform_preset(name: str) -> list:
    """The lucent transforms called ``name`` (one of :data:`TRANSFORMS`)."""
    _import_lucent()
    from lucent.optvis import transform

    if name == "standard":
        return list(transform.standard_transforms)
    if name == "jitter":
        return [transform.pad(4, mode="constant", constant_value=0.5), transform.jitter(4)]
    if name == "none":
        return []
    raise ValueError(f"unknown transforms {name!r}; use one of {', '.join(TRANSFORMS)}")


class Normalized(nn.Module):
    """``net((x − mean) / std)`` for x in [0, 1]: lucent's images meet the backbone's own
    normalisation (see ``BackboneSpec.mean_std``). ``precision`` "bf16" runs ``net`` under
    bfloat16 autocast (the hooked activations the objectives read are then bf16 too)."""

    def __init__(self, net: nn.Module, mean_std: MeanStd | None = None, precision: str = "fp32"):
        super().__init__()
        mean, std = checked_mean_std(mean_std)
        self.net = net
        self.precision = precision
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with autocast(x.device, self.precision):
            y = self.net((x - self.mean) / self.std)
        return y.float() if isinstance(y, torch.Tensor) else y


# --------------------------------------------------------------------------- state guards
@contextlib.contextmanager
def _guarded(model: nn.Module) -> Iterator[None]:
    """Eval mode + frozen parameters inside; on exit, remove every forward hook added
    meanwhile and restore each module's training flag and each parameter's
    ``requires_grad``, whether the body returned or raised."""
    modules = list(model.modules())
    before = {id(m): set(m._forward_hooks) for m in modules}
    training = [(m, m.training) for m in modules]
    grads = [(p, p.requires_grad) for p in model.parameters()]
    try:
        model.eval()
        for p, _ in grads:
            p.requires_grad_(False)
        yield
    finally:
        for m in modules:
            for key in set(m._forward_hooks) - before[id(m)]:
                m._forward_hooks.pop(key, None)
                m._forward_hooks_with_kwargs.pop(key, None)
                m._forward_hooks_always_called.pop(key, None)
        for m, flag in training:
            m.training = flag
        for p, flag in grads:
            p.requires_grad_(flag)


@contextlib.contextmanager
def _seeded_on(device: torch.device, seed: int) -> Iterator[None]:
    """Seed torch and numpy (lucent's jitter/scale/rotate use ``np.random``) and point
    lucent's module-global devices at ``device``; all restored afterwards."""
    from lucent.optvis import transform
    from lucent.optvis.param import spatial

    devices = ([device.index if device.index is not None else torch.cuda.current_device()]
               if device.type == "cuda" else [])
    np_state = np.random.get_state()
    old = spatial.device, transform.device
    with torch.random.fork_rng(devices=devices, device_type="cuda" if devices else "cpu"):
        try:
            torch.manual_seed(seed)
            np.random.seed(seed)
            spatial.device = transform.device = device
            yield
        finally:
            spatial.device, transform.device = old
            np.random.set_state(np_state)


def image_param(size: int, batch: int, device: torch.device, fft: bool = True,
                decorrelate: bool = True, sd: float | None = None):
    """``lucent.optvis.param.image(size, batch=batch)`` on an explicit device.

    Same construction (lucent's ``fft_image`` / ``pixel_image`` and colour-decorrelation
    matrix, then a sigmoid into [0, 1]); lucent's own ``to_valid_rgb`` puts its colour
    matrix on CUDA whenever CUDA exists, which fails for a model kept on the CPU.
    """
    from lucent.optvis.param import color, spatial

    params, image_f = (spatial.fft_image if fft else spatial.pixel_image)([batch, 3, size, size], sd=sd)
    matrix = torch.tensor(color.color_correlation_normalized.T, device=device)

    def image() -> torch.Tensor:
        x = image_f()
        if decorrelate:
            x = (x.permute(0, 2, 3, 1) @ matrix).permute(0, 3, 1, 2)
        return torch.sigmoid(x)

    return params, image


def _import_lucent() -> None:
    """Import lucent once with kornia 0.4's import-time ``torch.jit.script`` deprecation
    warnings silenced (noise that says nothing about the caller's code)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=FutureWarning)
        import lucent.optvis.render  # noqa: F401


def direction_dot_cossim(layer: str, direction: torch.Tensor, batch: int | None = None,
                         cossim_pow: float = 1.0):
    """Activation Atlas' direction objective: dot(a, v̂) · max(cos(a, v), 0.1)^pow, averaged
    over positions.

    lucent's ``objectives.direction`` is the cosine alone: it is satisfied by a faint
    activation that merely points the right way, which renders washed-out images. The
    dot product alone drifts to whatever channels are easiest to excite. The product
    asks for a strong activation along the concept.
    """
    from lucent.optvis.objectives import handle_batch, wrap_objective

    unit = direction.reshape(1, -1, 1, 1) / direction.norm().clamp_min(1e-12)

    @wrap_objective()
    def dot_cossim(layer, direction, batch=None):
        @handle_batch(batch)
        def inner(model):
            acts = model(layer)
            dot = (acts * unit).sum(1)
            cos = dot / acts.norm(dim=1).clamp_min(1e-4)
            return -(dot * cos.clamp_min(0.1) ** cossim_pow).mean()

        return inner

    return dot_cossim(layer, direction, batch=batch)


def _objective(layer: str, spec: ObjectiveSpec, batch: int, n_channels: int | None, device,
               direction_objective: str = "dot_cossim"):
    from lucent.optvis import objectives

    kind, value = spec
    if kind == "channel":
        c = int(value)
        if n_channels is not None and not 0 <= c < n_channels:
            raise ValueError(f"channel {c} out of range for a layer with {n_channels} channels")
        return objectives.channel(layer, c, batch=batch)
    if kind == "direction":
        vec = torch.as_tensor(np.asarray(value, dtype=np.float32), device=device).flatten()
        if n_channels is not None and vec.numel() != n_channels:
            raise ValueError(f"direction has {vec.numel()} entries, the layer {n_channels} channels")
        if direction_objective == "cossim":
            return objectives.direction(layer, vec, batch=batch)
        return direction_dot_cossim(layer, vec, batch=batch)
    raise ValueError(f"unknown objective {kind!r}; use ('channel', c) or ('direction', vector)")


def _channels(module: nn.Module, net: nn.Module, size: int, device) -> int | None:
    """Channel count of ``module``'s output (one tiny forward; None if it fails)."""
    seen: list[int] = []
    handle = module.register_forward_hook(lambda m, i, o: seen.append(o.shape[1]))
    try:
        with torch.no_grad():
            net(torch.full((1, 3, size, size), 0.5, device=device))
    except RuntimeError:
        return None
    finally:
        handle.remove()
    return seen[0] if seen else None


# --------------------------------------------------------------------------- render
def render_features(model: nn.Module, layer_name: str, objectives: Sequence[ObjectiveSpec], *,
                    size: int = 128, steps: int = 256, **kw) -> list[Image.Image]:
    """Render one ``size``×``size`` image per objective (after ``steps`` steps); the
    options are :func:`render_checkpoints`'."""
    return render_checkpoints(model, layer_name, objectives, size=size, checkpoints=(steps,), **kw)[steps]


def render_checkpoints(model: nn.Module, layer_name: str, objectives: Sequence[ObjectiveSpec], *,
                       size: int = 128, checkpoints: Sequence[int] = (256,), seed: int = 0, batch: int = 8,
                       mean_std=None, device: str | torch.device | None = None, lr: float = 0.05,
                       transforms: list | str | None = None, fft: bool = True, decorrelate: bool = True,
                       param: str | None = None, redirect_relu: bool = True,
                       direction_objective: str = "dot_cossim", precision: str = "fp32",
                       progress: bool = True, on_step: Callable[[int, int], None] | None = None
                       ) -> dict[int, list[Image.Image]]:
    """Render one ``size``×``size`` image per objective, ``batch`` objectives per
    optimisation; step → the images after that many steps, for each of ``checkpoints``
    (all from one optimisation: the last checkpoint's steps are all it costs).

    ``model``: a classifier with a ``trunk`` or any module; ``layer_name``: its
    ``get_submodule`` path (``spec.target_layer`` works on a classifier) or lucent name.
    ``objectives``: ``("channel", c)`` or ``("direction", vector (C,))`` — e.g. a concept
    from ``ConceptBasis.components``. ``mean_std``: the backbone's normalisation for
    inputs in [0, 1] (``spec.mean_std(weights)``); None feeds [0, 1] unnormalised.
    ``transforms``: lucent robustness transforms, a list or a name of :data:`TRANSFORMS`
    (default "standard": pad, jitter, scale, rotate). ``param``: a name of
    :data:`PARAMETERISATIONS`, overriding ``fft`` / ``decorrelate``. ``on_step(done,
    total)``: called after every optimisation step (for a progress bar).
    ``redirect_relu``: lucid's ReLU gradient redirection, so
    channels that are dead on the grey start image still get optimised.
    ``direction_objective``: "dot_cossim" (``direction_dot_cossim``) or "cossim"
    (lucent's ``objectives.direction``).
    ``device``: defaults to the model's; the model is moved there for the call and back
    afterwards. ``precision``: "fp32", "bf16" (autocast; about 2× faster for wideresnet18 on
    an AMX CPU, the same structures in the pictures) or "auto"
    (:func:`analysis.nets.precision.backward_precision`).
    """
    _import_lucent()
    from lucent.optvis import render
    from lucent.optvis.objectives import Objective

    checkpoints = sorted({int(c) for c in checkpoints})
    if not checkpoints or checkpoints[0] < 1 or size < 8 or batch < 1:
        raise ValueError(f"need size >= 8, steps >= 1, batch >= 1; got {size}, {checkpoints}, {batch}")
    if not objectives:
        return {c: [] for c in checkpoints}
    if direction_objective not in ("dot_cossim", "cossim"):
        raise ValueError(f"direction_objective must be 'dot_cossim' or 'cossim', got {direction_objective!r}")
    if param is not None:
        if param not in PARAMETERISATIONS:
            raise ValueError(f"unknown parameterisation {param!r}; use one of {', '.join(PARAMETERISATIONS)}")
        fft, decorrelate = PARAMETERISATIONS[param]
    steps = checkpoints[-1]
    path, module = resolve_layer(model, layer_name)
    first = next(model.parameters(), None)
    home = first.device if first is not None else torch.device("cpu")
    device = home if device is None else torch.device(device)
    inner, inner_path = render_net(model, path)
    net = Normalized(inner, mean_std, precision=backward_precision(precision, inner, device)).to(device)
    lucent_name = lucent_layer_name(net, "net." + inner_path)
    if transforms is None or isinstance(transforms, str):
        tf = transform_preset(transforms or "standard")
    else:
        tf = list(transforms)

    images: dict[int, list[Image.Image]] = {c: [] for c in checkpoints}
    total = steps * -(-len(objectives) // batch)
    moved = device != home
    try:
        if moved:
            model.to(device)
        with _guarded(model), _guarded(net):
            n_channels = _channels(module, net, size, device)
            if redirect_relu:
                redirect_relus(net)  # removed with lucent's hooks by _guarded
            if on_step is not None:  # one forward per step; removed by _guarded
                done = [0]

                def count(*_):
                    done[0] += 1
                    on_step(done[0], total)

                net.register_forward_hook(count)
            for start in range(0, len(objectives), batch):
                group = objectives[start:start + batch]
                with _seeded_on(device, seed + start):
                    objective = Objective.sum([_objective(lucent_name, spec, i, n_channels, device,
                                                          direction_objective)
                                               for i, spec in enumerate(group)])
                    out = render.render_vis(
                        net, objective,
                        param_f=lambda: image_param(size, len(group), device, fft=fft,
                                                    decorrelate=decorrelate),
                        optimizer=lambda params: torch.optim.Adam(params, lr=lr),
                        transforms=tf, thresholds=tuple(checkpoints), preprocess=False,
                        progress=progress, show_image=False, fixed_image_size=size)
                for c, batch_images in zip(checkpoints, out):
                    arr = np.clip(batch_images * 255 + 0.5, 0, 255).astype(np.uint8)
                    images[c] += [Image.fromarray(a, "RGB") for a in arr]
    finally:
        if moved:
            model.to(home)
    return images


def layer_activation(model: nn.Module, layer_name: str, images: Sequence[Image.Image] | torch.Tensor,
                     mean_std=None) -> torch.Tensor:
    """Mean activation per channel (n, C) of ``layer_name`` for images in [0, 1] — to check
    that a rendering excites what it was optimised for."""
    path, module = resolve_layer(model, layer_name)
    if not isinstance(images, torch.Tensor):
        images = torch.stack([torch.from_numpy(np.asarray(im.convert("RGB"), dtype=np.float32) / 255)
                              .permute(2, 0, 1) for im in images])
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    net = Normalized(render_net(model, path)[0], mean_std).to(device)
    seen: list[torch.Tensor] = []
    with _guarded(model):
        handle = module.register_forward_hook(lambda m, i, o: seen.append(o.detach()))
        try:
            with torch.no_grad():
                net(images.to(device))
        finally:
            handle.remove()
    return seen[0].mean((2, 3)).cpu()
