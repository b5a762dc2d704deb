"""The CLI as a user meets it: exit codes, one-line errors, the commands of the README."""

from click.testing import CliRunner

from analysis.cli import main
from analysis.data.dataset import Dataset


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_import_summary_sheet_split(tmp_path, photo_tree):
    src = photo_tree({"seoul": 6, "london_on": 6})
    root = tmp_path / "data"
    res = run("data", "import", src, "--dataset", "streets", "--data-root", root, "--workers", 1)
    assert res.exit_code == 0, res.output
    assert "12 added" in res.output
    res = run("data", "summary", "--dataset", "streets", "--data-root", root)
    assert res.exit_code == 0 and "london_on" in res.output and "seoul" in res.output
    res = run("data", "sheet", "--dataset", root / "streets", "--per-class", 4)
    assert res.exit_code == 0 and res.output.count(".png") == 2
    res = run("data", "split", "--dataset", root / "streets", "--fractions", "0.5,0.25,0.25")
    assert res.exit_code == 0
    assert (Dataset(root / "streets").read()["split"] == "train").sum() == 6


def test_user_errors_are_one_line(tmp_path, photo_tree):
    src = photo_tree({"osaka": 2})
    res = run("data", "import", src, "--dataset", tmp_path / "ds")
    assert res.exit_code == 1
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:") and "'osaka'" in lines[0]
    res = run("data", "summary", "--dataset", tmp_path / "nothing")
    assert res.exit_code == 1 and "not a streetlens dataset" in res.output
    res = run("data", "import", src, "--dataset", tmp_path / "ds", "--group", "osaka")
    assert res.exit_code == 2 and "CLASS=GROUP" in res.output
    res = run("data", "import", src, "--dataset", tmp_path / "ds", "--group", "osaka=East",
              "--fractions", "1,1,1")
    assert res.exit_code == 1 and "summing to 1" in res.output
    res = run("data", "import", src, "--dataset", tmp_path / "ds", "--group", "osaka=East",
              "--workers", 1)
    assert res.exit_code == 0 and "2 added" in res.output
