"""Finding the spec file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_ephemeral.errors import SpecError
from pytest_ephemeral.spec import DEFAULT_NAMES, discover_spec


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("services: {}\n")
    return path


def test_default_names_in_order(tmp_path: Path) -> None:
    for name in reversed(DEFAULT_NAMES):
        touch(tmp_path / name)
        assert discover_spec(tmp_path) == tmp_path / name
    assert DEFAULT_NAMES == (
        "ephemeral.yaml",
        "ephemeral.yml",
        "compose.yaml",
        "compose.yml",
        "docker-compose.yaml",
        "docker-compose.yml",
    )


def test_explicit_wins_and_is_relative_to_rootdir(tmp_path: Path) -> None:
    touch(tmp_path / "ephemeral.yaml")
    other = touch(tmp_path / "specs" / "other.yaml")
    assert discover_spec(tmp_path, explicit="specs/other.yaml", ini="nope.yaml") == other
    assert discover_spec(tmp_path, explicit=str(other)) == other


def test_ini_comes_second(tmp_path: Path) -> None:
    touch(tmp_path / "ephemeral.yaml")
    ini = touch(tmp_path / "ci.yaml")
    assert discover_spec(tmp_path, ini="ci.yaml") == ini


def test_explicit_folder_is_searched(tmp_path: Path) -> None:
    spec = touch(tmp_path / "examples" / "shop" / "compose.yml")
    assert discover_spec(tmp_path, explicit="examples/shop") == spec


def test_missing_explicit(tmp_path: Path) -> None:
    touch(tmp_path / "ephemeral.yaml")
    with pytest.raises(SpecError) as info:
        discover_spec(tmp_path, explicit="nope.yaml")
    message = str(info.value)
    assert "spec file 'nope.yaml' (from --eph-spec) not found: looked for" in message
    assert str(tmp_path / "nope.yaml") in message
    assert "\n" not in message


def test_missing_ini(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"from ini option eph_spec\) not found"):
        discover_spec(tmp_path, ini="nope.yaml")


def test_nothing_found_lists_the_names(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        discover_spec(tmp_path)
    message = str(info.value)
    assert f"no spec found in rootdir {tmp_path}: looked for " + ", ".join(DEFAULT_NAMES) in message
    assert "--eph-spec" in message


def test_empty_explicit_is_ignored(tmp_path: Path) -> None:
    spec = touch(tmp_path / "compose.yaml")
    assert discover_spec(tmp_path, explicit="", ini=" ") == spec


def test_not_found_names_every_path_tried(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        discover_spec(tmp_path)
    message = str(info.value)
    for name in DEFAULT_NAMES:
        assert str(tmp_path / name) in message
    assert "--eph-spec not given, ini eph_spec not set" in message


def test_command_line_path_starts_at_the_invocation_dir(tmp_path: Path) -> None:
    root, here = tmp_path / "root", tmp_path / "root" / "sub"
    spec = touch(here / "ci.yaml")
    touch(root / "ci.yaml")
    assert discover_spec(root, explicit="ci.yaml", invocation_dir=here) == spec
    with pytest.raises(SpecError) as info:
        discover_spec(root, explicit="nope.yaml", invocation_dir=here)
    assert f"a relative path starts at the invocation dir {here}" in str(info.value)


def test_ini_path_starts_at_the_ini_folder(tmp_path: Path) -> None:
    root, ini_dir = tmp_path / "root", tmp_path / "config"
    spec = touch(ini_dir / "specs" / "e.yaml")
    assert discover_spec(root, ini="specs/e.yaml", ini_dir=ini_dir) == spec
    with pytest.raises(SpecError) as info:
        discover_spec(root, ini="nope.yaml", ini_dir=ini_dir)
    assert f"starts at the ini file's folder {ini_dir}" in str(info.value)


def test_several_files_in_order(tmp_path: Path) -> None:
    from pytest_ephemeral.spec import discover_specs

    base, override = touch(tmp_path / "compose.yaml"), touch(tmp_path / "compose.ci.yaml")
    found = discover_specs(tmp_path, ["compose.yaml", "compose.ci.yaml"], ["ignored.yaml"])
    assert found == (base, override)
    assert discover_specs(tmp_path, (), ["compose.ci.yaml", " "]) == (override,)
    assert discover_specs(tmp_path) == (base,)


def test_resolve_spec_path(tmp_path: Path) -> None:
    from pytest_ephemeral.spec import resolve_spec_path

    assert resolve_spec_path("a/b.yaml", tmp_path) == tmp_path / "a" / "b.yaml"
    assert resolve_spec_path(str(tmp_path / "x.yaml"), Path("/elsewhere")) == tmp_path / "x.yaml"
    assert resolve_spec_path("~/s.yaml", tmp_path) == Path.home() / "s.yaml"
