"""``data import --engine ray``: the same report, table, stored files and rejects as the
local engine on the same messy folder, on a two-CPU Ray cluster bound to 127.0.0.1."""

import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner
from PIL import Image

from analysis.cli import main
from analysis.data.dataset import Dataset
from analysis.data.examine import RESULT_FIELDS, examine_file
from analysis.data.importer import ImportOptions, import_folder
from analysis.data.ray_import import MAX_BLOCK, block_size, examine_batch

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def ray_cluster():
    """A two-CPU local cluster, started the product's way: ``ray.init(address="local",
    _node_ip_address="127.0.0.1", include_dashboard=False, num_cpus=2)`` with Ray's
    single-machine setting, without which Ray 2.60 listens on every interface
    (see analysis/cluster.py); shut down after the module."""
    pytest.importorskip("ray")
    from analysis.cluster import ray_session

    with ray_session(None, num_cpus=2) as ray:
        yield ray


def messy_folder(photo_tree, make_photo) -> Path:
    """Good photos of two cities plus one of every kind of trouble an import meets."""
    src = photo_tree({"tokyo": 6, "paris": 5})
    tokyo = src / "tokyo"
    make_photo(900, (160, 160)).save(tokyo / "full.jpg", quality=95)
    data = (tokyo / "full.jpg").read_bytes()
    (tokyo / "full.jpg").unlink()
    (tokyo / "corrupt.jpg").write_bytes(data[: len(data) // 2])  # truncated JPEG
    (tokyo / "notes.jpg").write_text("not a photo")  # a non-image with an image's name
    make_photo(901, (30, 30)).save(tokyo / "tiny.png")  # below --min-side
    make_photo(0).resize((192, 160), Image.BICUBIC).save(tokyo / "zz_resized.png")  # ~ tokyo_000
    shutil.copy(tokyo / "tokyo_001.jpg", src / "paris" / "zz_copy.jpg")  # same bytes, other class
    boxed = Image.new("RGB", (96, 104))  # letterboxed: black bars cropped, bytes re-encoded
    boxed.paste(make_photo(902, (96, 80)), (0, 12))
    boxed.save(tokyo / "letterbox.png")
    make_photo(903).convert("CMYK").save(tokyo / "cmyk.jpg")
    make_photo(904).save(src / "loose.jpg")  # wrong layout: not in a class folder
    (src / "seoul").mkdir()  # wrong layout: an empty class folder
    return src


def stored(ds: Dataset) -> dict[str, bytes]:
    return {rel: (ds.root / rel).read_bytes() for rel in ds.read()["path"]}


def test_ray_engine_gives_the_local_engines_report_and_table(tmp_path, photo_tree, make_photo,
                                                             ray_cluster):
    src = messy_folder(photo_tree, make_photo)
    local, ray = Dataset(tmp_path / "local"), Dataset(tmp_path / "ray")
    a = import_folder(src, local, options=ImportOptions(workers=2), progress=False)
    b = import_folder(src, ray, options=ImportOptions(workers=2), progress=False, engine="ray")

    # what the import found (so that "equal" below is not "equally empty")
    reasons = {s.rsplit("/", 1)[-1]: r for s, r in a.rejected}
    assert set(reasons) == {"corrupt.jpg", "notes.jpg", "tiny.png"}
    assert "truncated" in reasons["corrupt.jpg"] and "not an image" in reasons["notes.jpg"]
    assert "too small" in reasons["tiny.png"]
    # classes go in name order: paris/zz_copy.jpg is kept, tokyo_001.jpg is its copy
    dups = sorted(s.rsplit("/", 1)[-1] for s, _, _ in a.duplicates)
    assert dups == ["tokyo_001.jpg", "zz_resized.png"]
    assert any("1 image(s) directly in" in w for w in a.warnings)
    assert any("'seoul' is empty" in w for w in a.warnings)
    assert a.added == 13  # 11 photos + letterbox + CMYK

    # the same report, line by line (timings aside)
    for field in ("added", "already_present", "rejected", "duplicates", "warnings", "files_seen"):
        assert getattr(b, field) == getattr(a, field), field
    timing = re.compile(r"\(\d+ files in [\d.]+ s, \d+ files/s\)")

    def said(report, ds):
        return [timing.sub("", line).replace(str(ds.root), "DS") for line in report.lines()]

    assert said(b, ray) == said(a, local)

    # the same table (all but the import time), the same stored bytes, the same rejects
    pd.testing.assert_frame_equal(ray.read().drop(columns="added"), local.read().drop(columns="added"))
    assert stored(ray) == stored(local)
    assert ray.read().set_index("source").loc[str((src / "tokyo" / "letterbox.png").resolve()),
                                              "height"] == 80
    pd.testing.assert_frame_equal(ray.read_rejects().drop(columns="time"),
                                  local.read_rejects().drop(columns="time"))

    # and a second run through the CLI is as idempotent as the local one
    res = CliRunner().invoke(main, ["data", "import", str(src), "--dataset", str(ray.root),
                                    "--engine", "ray"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "0 added, 13 already present, 2 near-duplicates skipped, 3 rejected" in res.output
    pd.testing.assert_frame_equal(ray.read().drop(columns="added"), local.read().drop(columns="added"))


def test_every_ray_process_stays_on_loopback(ray_cluster):
    psutil = pytest.importorskip("psutil")
    ray = ray_cluster
    ray.data.range(8).map_batches(lambda b: b).materialize()  # workers up too
    session = Path(ray._private.worker._global_node.get_session_dir_path()).name
    procs = [p for p in psutil.process_iter(["cmdline"]) if session in " ".join(p.info["cmdline"] or [])]
    procs += [psutil.Process()] + [c for p in procs for c in p.children(recursive=True)]
    pids = {p.pid for p in procs}
    assert len(pids) > 3  # gcs, raylet, workers… found
    sockets = [c for c in psutil.net_connections("tcp") if c.pid in pids]
    loopback = {"127.0.0.1", "::ffff:127.0.0.1"}
    listening = {c.laddr.ip for c in sockets if c.status == psutil.CONN_LISTEN}
    assert listening and listening <= loopback
    assert {c.raddr.ip for c in sockets if c.raddr} <= loopback
    assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}


def test_results_come_back_in_file_order_even_when_the_first_block_is_slow(tmp_path, make_photo,
                                                                          ray_cluster):
    from analysis.data.ray_import import ray_examined

    make_photo(1, (2400, 2400)).save(tmp_path / "0_big.png")  # its block finishes last
    files = [(str(tmp_path / "0_big.png"), "tokyo")]
    for i in range(1, 24):
        make_photo(i, (64, 64)).save(tmp_path / f"{i:02d}.jpg")
        files.append((str(tmp_path / f"{i:02d}.jpg"), "tokyo"))
    got = list(ray_examined(files, dict(min_side=32, max_pixels=10**7, crop_borders=True)))
    assert [r.source for r in got] == [s for s, _ in files]
    assert got[0].width == 2400 and all(r.error is None for r in got)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_address_with_nobody_listening_is_one_line_within_seconds(tmp_path, photo_tree):
    src = photo_tree({"tokyo": 2})
    address = f"127.0.0.1:{free_port()}"
    started = time.perf_counter()
    res = CliRunner().invoke(main, ["data", "import", str(src), "--dataset", str(tmp_path / "ds"),
                                    "--engine", "ray", "--address", address])
    assert time.perf_counter() - started < 10
    assert res.exit_code == 1
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: no Ray cluster answers at " + address)
    assert not (tmp_path / "ds").exists()  # nothing written
    res = CliRunner().invoke(main, ["data", "import", str(src), "--dataset", str(tmp_path / "ds"),
                                    "--address", address])
    assert res.exit_code == 2 and "only with --engine ray" in res.output


def test_without_ray_installed_the_ray_engine_is_one_line(tmp_path, photo_tree, monkeypatch):
    src = photo_tree({"tokyo": 2})
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if not installed
    res = CliRunner().invoke(main, ["data", "import", str(src), "--dataset", str(tmp_path / "ds"),
                                    "--engine", "ray"])
    assert res.exit_code == 1
    assert res.output.strip().splitlines() == [
        "Error: --engine ray needs Ray: pip install 'ray[data]>=2.40' (or `pip install -e .[ray]`)"]
    assert not (tmp_path / "ds").exists()


def test_the_local_engine_never_imports_ray(tmp_path, photo_tree):
    src = photo_tree({"tokyo": 3})
    code = ("import sys; from click.testing import CliRunner; from analysis.cli import main; "
            f"r = CliRunner().invoke(main, ['data', 'import', {str(src)!r}, '--dataset', "
            f"{str(tmp_path / 'ds')!r}, '--workers', '1'], catch_exceptions=False); "
            "assert r.exit_code == 0, r.output; "
            "assert not [m for m in sys.modules if m == 'ray' or m.startswith('ray.')], 'ray imported'")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_batch_is_examine_file_row_by_row(tmp_path, make_photo):
    make_photo(1).save(tmp_path / "a.jpg")
    (tmp_path / "b.jpg").write_text("x")
    files = [(str(tmp_path / "a.jpg"), "tokyo"), (str(tmp_path / "b.jpg"), "paris"),
             (str(tmp_path / "missing.jpg"), "paris")]
    batch = pa.table({"source": [s for s, _ in files], "cls": [c for _, c in files]})
    rows = examine_batch(batch, min_side=32, max_pixels=10**7, crop_borders=True).to_pylist()
    expected = [examine_file(s, c, min_side=32, max_pixels=10**7) for s, c in files]
    assert rows == [{k: getattr(r, k) for k in RESULT_FIELDS} for r in expected]
    assert rows[0]["error"] is None and rows[1]["error"] and "unreadable" in rows[2]["error"]


def test_block_size_spreads_small_imports_and_bounds_large_ones():
    assert block_size(10, 2) == 2 and block_size(1, 8) == 1
    assert block_size(5_000_000, 2) == MAX_BLOCK
