"""Where the salt comes from."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_ephemeral.data.sanitize import Rules, resolve_salt
from pytest_ephemeral.errors import DataError

MakeRules = Callable[[str], Rules]
GOOD = "a-salt-of-sufficient-length"


def test_default_environment_variable(make_rules: MakeRules) -> None:
    rules = make_rules("tables: {}\n")
    assert resolve_salt(rules, {"EPH_SANITIZE_SALT": GOOD}) == GOOD.encode()


def test_variable_named_by_the_rules(make_rules: MakeRules) -> None:
    rules = make_rules("salt_env: SHOP_SALT\n")
    assert resolve_salt(rules, {"SHOP_SALT": GOOD, "EPH_SANITIZE_SALT": "x" * 20}) == GOOD.encode()
    with pytest.raises(DataError, match="SHOP_SALT"):
        resolve_salt(rules, {"EPH_SANITIZE_SALT": "x" * 20})


def test_salt_file_from_the_environment(make_rules: MakeRules, tmp_path: Path) -> None:
    rules = make_rules("tables: {}\n")
    secret = tmp_path / "salt.txt"
    secret.write_bytes(GOOD.encode() + b"\n")
    assert resolve_salt(rules, {"EPH_SANITIZE_SALT_FILE": str(secret)}) == GOOD.encode()


def test_salt_file_from_the_rules_is_relative_to_them(
    make_rules: MakeRules, tmp_path: Path
) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "salt").write_text(GOOD + "\n")
    rules = make_rules("salt_file: keys/salt\n")
    assert resolve_salt(rules, {}) == GOOD.encode()
    # The environment wins over the rules.
    assert resolve_salt(rules, {"EPH_SANITIZE_SALT": "y" * 16}) == b"y" * 16


def test_missing_salt_is_a_clear_error(make_rules: MakeRules) -> None:
    rules = make_rules("tables: {}\n")
    with pytest.raises(DataError) as info:
        resolve_salt(rules, {})
    message = str(info.value)
    assert "no salt" in message
    assert "EPH_SANITIZE_SALT" in message
    assert "secrets.token_hex" in message


def test_short_empty_and_unreadable_salts(make_rules: MakeRules, tmp_path: Path) -> None:
    rules = make_rules("tables: {}\n")
    with pytest.raises(DataError, match="too short"):
        resolve_salt(rules, {"EPH_SANITIZE_SALT": "short"})
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(DataError, match="empty"):
        resolve_salt(rules, {"EPH_SANITIZE_SALT_FILE": str(empty)})
    with pytest.raises(DataError, match="cannot read the salt file"):
        resolve_salt(rules, {"EPH_SANITIZE_SALT_FILE": str(tmp_path / "missing")})
