import pytest

from analysis.classes import (
    BUILTIN_GROUPS,
    UnknownClassError,
    read_classes_toml,
    resolve_groups,
    write_classes_toml,
)


def test_builtin_cities_have_the_study_groups():
    west = {c for c, g in BUILTIN_GROUPS.items() if g == "West"}
    east = {c for c, g in BUILTIN_GROUPS.items() if g == "East"}
    assert west == {"london", "moscow", "nyc", "paris", "vancouver"}
    assert east == {"beijing", "kyoto", "seoul", "singapore", "tokyo"}


def test_suffixed_city_inherits_group_and_says_so(tmp_path):
    got = resolve_groups(["london_uk", "london_on", "seoul"], tmp_path)
    assert got["london_uk"].group == "West"
    assert got["london_on"].source == "inherited from london"
    assert got["seoul"].source == "built-in"


def test_classes_toml_defines_and_overrides(tmp_path):
    write_classes_toml(tmp_path / "classes.toml", {"osaka": "East", "london_on": "Canada"})
    assert read_classes_toml(tmp_path / "classes.toml") == {"osaka": "East", "london_on": "Canada"}
    got = resolve_groups(["osaka", "london_on"], tmp_path)
    assert got["osaka"].group == "East" and got["osaka"].source == "classes.toml"
    assert got["london_on"].group == "Canada"


def test_unknown_class_error_names_the_folder_and_the_fix(tmp_path):
    with pytest.raises(UnknownClassError) as err:
        resolve_groups(["tokyo", "osaka"], tmp_path)
    msg = str(err.value)
    assert "'osaka'" in msg and "classes.toml" in msg and "--group osaka=" in msg
    assert "\n" not in msg


def test_extra_groups_win(tmp_path):
    assert resolve_groups(["osaka"], tmp_path, extra={"osaka": "East"})["osaka"].group == "East"


def test_broken_toml_is_a_clear_error(tmp_path):
    (tmp_path / "classes.toml").write_text("[groups\nosaka = ")
    with pytest.raises(UnknownClassError, match="not valid TOML"):
        resolve_groups(["osaka"], tmp_path)
