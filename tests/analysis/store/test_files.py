import os
import stat

import pytest

from analysis.store import atomic_path, file_fingerprint, write_json_atomic
from analysis.store.files import current_umask


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_atomic_writes_get_the_mode_of_any_new_file(tmp_path, mask):
    """mkstemp makes 0600 files; what lands under the final name respects the umask like
    everything else the process writes (0644 under the usual 022)."""
    old = os.umask(mask)
    try:
        assert current_umask() == mask
        write_json_atomic(tmp_path / "a.json", {"x": 1})
        (tmp_path / "plain.txt").write_text("x")
    finally:
        os.umask(old)
    got = stat.S_IMODE((tmp_path / "a.json").stat().st_mode)
    assert got == 0o666 & ~mask == stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode)


def test_a_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "t.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("crash")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["t.bin"]


def test_file_fingerprint_changes_with_the_content(tmp_path):
    a = tmp_path / "a"
    a.write_bytes(b"1")
    first = file_fingerprint(a)
    a.write_bytes(b"2")
    assert len(first) == 16 and file_fingerprint(a) != first
