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
