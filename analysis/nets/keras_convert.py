"""Convert the Keras VGG16-Places365 ``.h5`` into a torchvision VGG16 state dict.

Why by hand: the only public VGG16-Places365 weights that load without Caffe are the
Keras release, and we want torchvision's layout (``features.N`` / ``classifier.N``) so the
same trunk, Grad-CAM target and head code serve ImageNet and Places365 alike. We read the
file layer by layer with h5py (no TensorFlow needed) and fix three layout differences:

* conv kernels are HWIO in Keras, OIHW in torch;
* dense kernels are (in, out) in Keras, (out, in) in torch;
* ``fc1`` reads the flattened pool5 map: Keras flattens channels-last (h, w, c), torch
  channels-first (c, h, w), so fc1's input axis is permuted accordingly.

The Keras model was converted from Caffe and expects *BGR* input with mean subtraction on
the 0..255 scale. With ``bgr_to_rgb=True`` (default) conv1_1's input channels are reversed
so the torch model takes RGB; the registry then normalises with mean = Caffe's means in RGB
order / 255 and std = 1/255, which reproduces Keras' ``preprocess_input`` exactly.

The converter is parametrised by layer shapes so that tests can use a reduced-width fake
with the real layer names.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

VGG16_CONV_LAYERS: tuple[str, ...] = (
    "block1_conv1", "block1_conv2",
    "block2_conv1", "block2_conv2",
    "block3_conv1", "block3_conv2", "block3_conv3",
    "block4_conv1", "block4_conv2", "block4_conv3",
    "block5_conv1", "block5_conv2", "block5_conv3",
)
VGG16_DENSE_LAYERS: tuple[str, ...] = ("fc1", "fc2", "predictions")

# torchvision's vgg16: conv i sits at features.<index> (ReLU and MaxPool between them)
_TORCH_CONV_INDEX = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
_TORCH_DENSE_INDEX = (0, 3, 6)

VGG16_WIDTHS = (64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512)

# keras.applications.imagenet_utils.preprocess_input(mode="caffe"): BGR means on 0..255
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


class KerasConversionError(ValueError):
    """The .h5 does not hold VGG16 weights in a layout we understand (one-line message)."""


def torch_key(layer: str) -> str:
    """torchvision VGG16 module path for a Keras layer name (``block5_conv3`` → ``features.28``)."""
    if layer in VGG16_CONV_LAYERS:
        return f"features.{_TORCH_CONV_INDEX[VGG16_CONV_LAYERS.index(layer)]}"
    if layer in VGG16_DENSE_LAYERS:
        return f"classifier.{_TORCH_DENSE_INDEX[VGG16_DENSE_LAYERS.index(layer)]}"
    raise KerasConversionError(f"not a VGG16 layer name: {layer!r}")


def keras_vgg16_shapes(widths: tuple[int, ...] = VGG16_WIDTHS, hidden: int = 4096,
                       classes: int = 365, pool5_hw: tuple[int, int] = (7, 7),
                       include_top: bool = True) -> dict[str, dict[str, tuple[int, ...]]]:
    """Keras shapes ``{layer: {"kernel": …, "bias": …}}`` of a VGG16 with these sizes.

    The defaults are the real vgg16-places365 file; tests pass smaller widths.
    """
    shapes: dict[str, dict[str, tuple[int, ...]]] = {}
    cin = 3
    for layer, cout in zip(VGG16_CONV_LAYERS, widths, strict=True):
        shapes[layer] = {"kernel": (3, 3, cin, cout), "bias": (cout,)}
        cin = cout
    if include_top:
        flat = pool5_hw[0] * pool5_hw[1] * cin
        for layer, (n_in, n_out) in zip(
            VGG16_DENSE_LAYERS, [(flat, hidden), (hidden, hidden), (hidden, classes)], strict=True
        ):
            shapes[layer] = {"kernel": (n_in, n_out), "bias": (n_out,)}
    return shapes


def read_keras_h5(path: Path | str) -> dict[str, dict[str, np.ndarray]]:
    """Read ``{layer: {"kernel", "bias"}}`` for the VGG16 layers present in a Keras .h5.

    Handles ``model.save`` files (``model_weights/<layer>/<layer>/kernel:0``),
    ``save_weights`` files (``<layer>/<layer>/kernel:0``) and flat ones
    (``<layer>/kernel:0`` or ``<layer>/kernel``); within a layer group the datasets are
    identified by name (kernel/bias, or Keras-1 ``_W``/``_b``) or else by rank (the bias
    is the 1-D one).
    """
    import h5py

    path = Path(path)
    out: dict[str, dict[str, np.ndarray]] = {}
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise KerasConversionError(f"{path}: not a readable HDF5 file ({exc})") from None
    with f:
        base = f["model_weights"] if "model_weights" in f else f
        for layer in VGG16_CONV_LAYERS + VGG16_DENSE_LAYERS:
            if layer not in base:
                continue
            arrays = _layer_arrays(base[layer], h5py)
            if arrays:
                out[layer] = arrays
    if not out:
        raise KerasConversionError(
            f"{path}: no VGG16 layers (block1_conv1 … predictions) found; is this the "
            "vgg16-places365 Keras weights file?"
        )
    return out


def _layer_arrays(group, h5py) -> dict[str, np.ndarray]:
    datasets: list[tuple[str, object]] = []
    group.visititems(lambda name, obj: datasets.append((name, obj))
                     if isinstance(obj, h5py.Dataset) else None)
    found: dict[str, np.ndarray] = {}
    for name, ds in datasets:
        leaf = name.rsplit("/", 1)[-1].split(":")[0].lower()
        if leaf in ("kernel", "w") or leaf.endswith("_w"):
            found["kernel"] = np.asarray(ds[()])
        elif leaf in ("bias", "b") or leaf.endswith("_b"):
            found["bias"] = np.asarray(ds[()])
    if len(found) < 2 and len(datasets) == 2:  # e.g. Keras 3 "vars/0", "vars/1": use rank
        arrays = [np.asarray(ds[()]) for _, ds in datasets]
        found = {("bias" if a.ndim == 1 else "kernel"): a for a in arrays}
    return found


def keras_to_torch_vgg16(layers: dict[str, dict[str, np.ndarray]], *, bgr_to_rgb: bool = True,
                         pool5_hw: tuple[int, int] | None = None) -> dict[str, torch.Tensor]:
    """Turn Keras arrays into a torchvision VGG16 state dict (pure; see module doc).

    ``pool5_hw`` is the spatial size fc1 was trained on; None infers a square one from
    fc1's input size and block5_conv3's channels (7×7 for the real file).
    """
    sd: dict[str, torch.Tensor] = {}
    last_channels = None
    for layer in VGG16_CONV_LAYERS:
        if layer not in layers:
            raise KerasConversionError(f"conv layer {layer} missing from the Keras weights")
        k, b = layers[layer]["kernel"], layers[layer]["bias"]
        if k.ndim != 4 or k.shape[:2] != (3, 3):
            raise KerasConversionError(
                f"{layer}: kernel shape {k.shape} is not HWIO 3x3 (a Theano/channels-first file?)"
            )
        if last_channels is not None and k.shape[2] != last_channels:
            raise KerasConversionError(f"{layer}: expects {k.shape[2]} input channels, got {last_channels}")
        w = np.transpose(k, (3, 2, 0, 1))  # HWIO -> OIHW
        if layer == "block1_conv1" and bgr_to_rgb:
            w = w[:, ::-1]
        key = torch_key(layer)
        sd[f"{key}.weight"] = torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32))
        sd[f"{key}.bias"] = torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32))
        last_channels = k.shape[3]

    dense = [n for n in VGG16_DENSE_LAYERS if n in layers]
    if dense and dense != list(VGG16_DENSE_LAYERS):
        raise KerasConversionError(f"dense layers incomplete: found {dense}")
    for layer in dense:
        k, b = layers[layer]["kernel"], layers[layer]["bias"]
        if layer == "fc1":
            k = _fc1_channels_first(k, last_channels, pool5_hw)
        key = torch_key(layer)
        sd[f"{key}.weight"] = torch.from_numpy(np.ascontiguousarray(k.T, dtype=np.float32))
        sd[f"{key}.bias"] = torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32))
    return sd


def _fc1_channels_first(kernel: np.ndarray, channels: int, hw: tuple[int, int] | None) -> np.ndarray:
    """Reorder fc1's input rows from Keras' (h, w, c) flatten to torch's (c, h, w)."""
    n_in, n_out = kernel.shape
    if hw is None:
        side = int(round((n_in / channels) ** 0.5))
        hw = (side, side)
    h, w = hw
    if h * w * channels != n_in:
        raise KerasConversionError(
            f"fc1 has {n_in} inputs, not {h}x{w}x{channels}; pass pool5_hw"
        )
    return kernel.reshape(h, w, channels, n_out).transpose(2, 0, 1, 3).reshape(n_in, n_out)


def convert_keras_vgg16(path: Path | str, *, bgr_to_rgb: bool = True,
                        pool5_hw: tuple[int, int] | None = None) -> dict[str, torch.Tensor]:
    """Read a Keras VGG16(-Places365) ``.h5`` and return a torchvision VGG16 state dict.

    With the top (``fc1`` … ``predictions``) the result loads into
    ``torchvision.models.vgg16(num_classes=365)``; without it, into ``.features``.
    """
    return keras_to_torch_vgg16(read_keras_h5(path), bgr_to_rgb=bgr_to_rgb, pool5_hw=pool5_hw)
