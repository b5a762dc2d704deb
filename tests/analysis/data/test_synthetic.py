import pytest

from analysis.data.dataset import Dataset
from analysis.data.summary import summarize
from analysis.data.synth import load_cues
from analysis.data.synthetic import synthesize_dataset


def test_synth_dataset_is_registered_like_an_import(tmp_path):
    ds = Dataset(tmp_path / "demo")
    report = synthesize_dataset(ds, per_class=4, size=64, classes=["london", "tokyo"],
                                progress=False)
    assert report.added == 8
    df = ds.read()
    assert sorted(df["class"].unique()) == ["london", "tokyo"]
    assert dict(zip(df["class"], df["group"])) == {"london": "West", "tokyo": "East"}
    assert df["licence"].str.startswith("CC0").all() and df["source"].str.startswith("synth:").all()
    for rel, city in zip(df["path"], df["class"]):  # annotations share the table's relative paths
        cues = load_cues(ds.root, rel)
        assert cues, rel
        # every image shows evidence of its own city (its road markings at least) ...
        assert any(city in cue.classes for cue in cues), (rel, [c.kind for c in cues])
        for cue in cues:  # ... and each cue's mask is inside its box, in a 64 px picture
            x0, y0, x1, y1 = cue.box
            assert cue.mask.shape == (64, 64) and cue.mask[y0:y1, x0:x1].sum() == cue.mask.sum() > 0
    assert summarize(ds).counts.loc["all", "total"] == 8
    again = synthesize_dataset(ds, per_class=4, size=64, classes=["london", "tokyo"], progress=False)
    assert again.added == 0 and again.already_present == 8


def test_unknown_demo_city_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no demo style for osaka"):
        synthesize_dataset(Dataset(tmp_path / "d"), per_class=1, classes=["osaka"], progress=False)
