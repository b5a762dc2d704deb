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
    for rel in df["path"]:  # annotations are addressed by the same relative path
        assert isinstance(load_cues(ds.root, rel), list)
    assert summarize(ds).counts.loc["all", "total"] == 8
    again = synthesize_dataset(ds, per_class=4, size=64, classes=["london", "tokyo"], progress=False)
    assert again.added == 0 and again.already_present == 8


def test_unknown_demo_city_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no demo style for osaka"):
        synthesize_dataset(Dataset(tmp_path / "d"), per_class=1, classes=["osaka"], progress=False)
