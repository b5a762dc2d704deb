"""Keras VGG16-Places365 → torchvision converter, checked against a numpy implementation of
the Keras computation (channels-last, BGR input, Keras flatten order)."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from torch import nn

from analysis.nets.keras_convert import (
    VGG16_CONV_LAYERS,
    KerasConversionError,
    convert_keras_vgg16,
    keras_to_torch_vgg16,
    keras_vgg16_shapes,
    torch_key,
)
from analysis.nets.vgg import split_vgg, vgg16_classifier, vgg16_features

WIDTHS = (4, 4, 6, 6, 8, 8, 8, 8, 8, 8, 8, 8, 8)
HIDDEN, CLASSES = 12, 5
INPUT_HW = (64, 96)          # pool5 becomes 2x3: non-square catches an h/w mix-up
POOL5_HW = (2, 3)


def fake_layers(seed=0, shapes=None):
    rng = np.random.default_rng(seed)
    shapes = shapes or keras_vgg16_shapes(WIDTHS, HIDDEN, CLASSES, POOL5_HW)
    return {layer: {k: (rng.standard_normal(s) * (0.3 if k == "kernel" else 0.1)).astype(np.float32)
                    for k, s in d.items()} for layer, d in shapes.items()}


def write_h5(path, layers, layout):
    with h5py.File(path, "w") as f:
        base = f.create_group("model_weights") if layout == "model" else f
        base.attrs["layer_names"] = [n.encode() for n in layers]
        for name, arrays in layers.items():
            g = base.create_group(name)
            if layout in ("model", "save_weights"):
                g.attrs["weight_names"] = [f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()]
                g = g.create_group(name)
                g.create_dataset("kernel:0", data=arrays["kernel"])
                g.create_dataset("bias:0", data=arrays["bias"])
            elif layout == "flat":
                g.create_dataset("kernel:0", data=arrays["kernel"])
                g.create_dataset("bias:0", data=arrays["bias"])
            elif layout == "keras1":
                g.create_dataset(f"{name}_W:0", data=arrays["kernel"])
                g.create_dataset(f"{name}_b:0", data=arrays["bias"])


# ---- numpy reference of the Keras model (NHWC) --------------------------------------
def np_conv_same_relu(x, kernel, bias):
    n, h, w, _ = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.zeros((n, h, w, kernel.shape[3]), np.float64)
    for dy in range(3):
        for dx in range(3):
            out += xp[:, dy:dy + h, dx:dx + w, :] @ kernel[dy, dx]
    return np.maximum(out + bias, 0)


def np_maxpool(x):
    n, h, w, c = x.shape
    return x[:, : h // 2 * 2, : w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def keras_reference(layers, x_bgr_nhwc):
    """Returns (block5_conv3 output NHWC, logits before the softmax)."""
    x = x_bgr_nhwc.astype(np.float64)
    i = 0
    for block_size in (2, 2, 3, 3, 3):
        for _ in range(block_size):
            layer = layers[VGG16_CONV_LAYERS[i]]
            x = np_conv_same_relu(x, layer["kernel"], layer["bias"])
            i += 1
        conv5 = x
        x = np_maxpool(x)
    x = x.reshape(len(x), -1)                      # Keras Flatten: (h, w, c) order
    x = np.maximum(x @ layers["fc1"]["kernel"] + layers["fc1"]["bias"], 0)
    x = np.maximum(x @ layers["fc2"]["kernel"] + layers["fc2"]["bias"], 0)
    return conv5, x @ layers["predictions"]["kernel"] + layers["predictions"]["bias"]


def torch_model(state_dict):
    features = vgg16_features(WIDTHS)
    classifier = vgg16_classifier(WIDTHS[-1] * POOL5_HW[0] * POOL5_HW[1], HIDDEN, CLASSES)
    holder = nn.Module()
    holder.features, holder.classifier = features, classifier
    holder.load_state_dict(state_dict, strict=True)
    trunk, head = split_vgg(features, classifier, POOL5_HW)
    return trunk.eval(), head.eval()


@pytest.fixture(scope="module")
def reference():
    layers = fake_layers()
    rng = np.random.default_rng(1)
    x_rgb = rng.uniform(-1, 1, (2, 3, *INPUT_HW)).astype(np.float32)   # torch NCHW, RGB
    x_keras = np.ascontiguousarray(x_rgb.transpose(0, 2, 3, 1)[..., ::-1])  # NHWC, BGR
    conv5, logits = keras_reference(layers, x_keras)
    return layers, x_rgb, conv5, logits


@pytest.mark.parametrize("layout", ["model", "save_weights", "flat", "keras1"])
def test_h5_roundtrip_matches_keras_reference(tmp_path, reference, layout):
    layers, x_rgb, conv5, logits = reference
    path = tmp_path / f"fake_{layout}.h5"
    write_h5(path, layers, layout)
    sd = convert_keras_vgg16(path, pool5_hw=POOL5_HW)
    assert set(sd) == {f"{torch_key(n)}.{p}" for n in layers for p in ("weight", "bias")}
    trunk, head = torch_model(sd)
    with torch.no_grad():
        fmap = trunk(torch.from_numpy(x_rgb))
        out = head(fmap)
    np.testing.assert_allclose(fmap.numpy(), conv5.transpose(0, 3, 1, 2), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out.numpy(), logits, rtol=1e-4, atol=1e-4)


def test_reference_is_sensitive_to_flatten_order_and_bgr(reference):
    layers, x_rgb, _, logits = reference
    sd = keras_to_torch_vgg16(layers, pool5_hw=POOL5_HW)
    # fc1 rows left in Keras (h, w, c) order, read by torch as (c, h, w): must differ
    sd["classifier.0.weight"] = torch.from_numpy(np.ascontiguousarray(layers["fc1"]["kernel"].T))
    trunk, head = torch_model(sd)
    with torch.no_grad():
        out = head(trunk(torch.from_numpy(x_rgb))).numpy()
    assert not np.allclose(out, logits, atol=1e-3)

    trunk_bgr, head_bgr = torch_model(keras_to_torch_vgg16(layers, bgr_to_rgb=False, pool5_hw=POOL5_HW))
    with torch.no_grad():
        out = head_bgr(trunk_bgr(torch.from_numpy(x_rgb))).numpy()
    assert not np.allclose(out, logits, atol=1e-3)


def test_full_size_names_and_shapes_load_into_torchvision_vgg16():
    import torchvision

    layers = {n: {k: np.zeros(s, np.float32) for k, s in d.items()}
              for n, d in keras_vgg16_shapes().items()}
    assert layers["fc1"]["kernel"].shape == (7 * 7 * 512, 4096)
    assert layers["predictions"]["kernel"].shape == (4096, 365)
    sd = keras_to_torch_vgg16(layers)
    with torch.device("meta"):
        model = torchvision.models.vgg16(num_classes=365)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in sd.items()} == expected
    assert torch_key("block5_conv3") == "features.28" and torch_key("fc1") == "classifier.0"


def test_notop_file_converts_features_only(tmp_path):
    layers = fake_layers(shapes=keras_vgg16_shapes(WIDTHS, include_top=False))
    write_h5(tmp_path / "notop.h5", layers, "save_weights")
    sd = convert_keras_vgg16(tmp_path / "notop.h5")
    assert all(k.startswith("features.") for k in sd) and len(sd) == 26


def test_bad_files_one_line_errors(tmp_path):
    (tmp_path / "x.h5").write_bytes(b"not hdf5")
    with pytest.raises(KerasConversionError, match="not a readable HDF5 file"):
        convert_keras_vgg16(tmp_path / "x.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_group("dense_1").create_dataset("kernel:0", data=np.zeros((2, 2)))
    with pytest.raises(KerasConversionError, match="no VGG16 layers"):
        convert_keras_vgg16(tmp_path / "other.h5")
    layers = fake_layers()
    with pytest.raises(KerasConversionError, match="pass pool5_hw"):
        keras_to_torch_vgg16(layers)  # 2x3 pool5 cannot be inferred as square
    layers["block2_conv1"] = {"kernel": np.zeros((6, 4, 3, 3), np.float32), "bias": np.zeros(6, np.float32)}
    with pytest.raises(KerasConversionError, match="not HWIO"):
        keras_to_torch_vgg16(layers)
