import numpy as np
import pandas as pd
import pytest

from analysis.data.split import assign_splits, group_from_name, parse_fractions


def table(n_per_class: dict[str, int], group_size: int = 1, seed: int = 0) -> pd.DataFrame:
    rows = []
    for cls, n in n_per_class.items():
        for i in range(n):
            rows.append({"id": f"{cls}{i}", "class": cls, "group_id": f"{cls}-g{i // group_size}",
                         "split": None})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("seed", range(5))
def test_stratified_fractions_per_class(seed):
    df = table({"tokyo": 100, "paris": 40})
    df["split"] = assign_splits(df, (0.7, 0.15, 0.15), seed=seed)
    counts = pd.crosstab(df["class"], df["split"])
    assert counts.loc["tokyo"].to_dict() == {"test": 15, "train": 70, "val": 15}
    assert counts.loc["paris"].to_dict() == {"test": 6, "train": 28, "val": 6}


@pytest.mark.parametrize("seed", range(5))
def test_groups_never_straddle_splits(seed):
    rng = np.random.default_rng(seed)
    df = table({"seoul": 80, "kyoto": 60}, group_size=4)
    df = df.sample(frac=1, random_state=seed).reset_index(drop=True)  # order must not matter
    df.loc[rng.choice(len(df), 10), "group_id"] = "shared-across-classes"
    df["split"] = assign_splits(df, (0.6, 0.2, 0.2), seed=seed)
    assert df.groupby("group_id")["split"].nunique().max() == 1
    assert abs((df["split"] == "train").mean() - 0.6) < 0.1


def test_same_seed_same_split_and_different_seed_differs():
    df = table({"tokyo": 50})
    a = assign_splits(df, seed=1)
    assert a.equals(assign_splits(df, seed=1))
    assert not a.equals(assign_splits(df, seed=2))


def test_existing_assignments_are_kept_and_new_group_members_follow():
    df = table({"tokyo": 20}, group_size=2)
    df["split"] = assign_splits(df, seed=0)
    new = pd.DataFrame([{"id": "late", "class": "tokyo", "group_id": df["group_id"].iat[3], "split": None}])
    grown = pd.concat([df, new], ignore_index=True)
    again = assign_splits(grown, seed=5)
    assert again.iloc[:20].tolist() == df["split"].tolist()
    assert again.iat[20] == df["split"].iat[3]
    fresh = assign_splits(grown, seed=5, keep_existing=False)
    assert fresh.isin(["train", "val", "test"]).all()


def test_parse_fractions_and_group_from_name():
    assert parse_fractions("0.8,0.1,0.1") == (0.8, 0.1, 0.1)
    for bad in ("0.5,0.5", "a,b,c", "0.9,0.2,-0.1"):
        with pytest.raises(ValueError):
            parse_fractions(bad)
    pat = r"(?P<group>.+)_heading_\d+"
    assert group_from_name("hongdae_image_0_heading_90", pat) == "hongdae_image_0"
    assert group_from_name("other", pat) is None
    assert group_from_name("abc", None) is None


def test_small_classes_still_fill_val_and_test():
    # 4 images per class: per class only one can leave train; ties must alternate
    df = table({c: 4 for c in "abcdefghij"})
    counts = assign_splits(df, (0.7, 0.15, 0.15)).value_counts().to_dict()
    assert counts == {"train": 30, "val": 5, "test": 5}
