"""Loading and validating the rules file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_ephemeral.data.sanitize import (
    FAKE_KINDS,
    TRANSFORMATIONS,
    Fake,
    Fixed,
    Hash,
    Keep,
    Mask,
    Noise,
    Null,
    Rules,
    load_rules,
)
from pytest_ephemeral.errors import DataError, EphemeralError

MakeRules = Callable[[str], Rules]


def error_of(make_rules: MakeRules, text: str) -> str:
    with pytest.raises(DataError) as info:
        make_rules(text)
    message = str(info.value)
    assert "\n" not in message, "errors are one line"
    return message


def test_a_full_rules_file_loads(make_rules: MakeRules, tmp_path: Path) -> None:
    rules = make_rules(
        """\
        version: 1
        default: refuse
        salt_env: SHOP_SALT
        salt_file: secrets/salt
        tables:
          public.users:
            columns:
              id: keep
              email: {fake: email, unique: true}
              phone: {hash: {keep_format: true}}
              token: hash
              iban: {hash: {length: 32}, unique: true}
              card: {mask: {keep_last: 4, char: "#"}}
              notes: null
              old_notes: ~
              nick: {null: true}
              role: {fixed: customer}
              gone: {fixed: null}
              literal: {fixed: "null"}
              balance: {noise: {relative: 0.1}}
              score: {noise: {absolute: 5}}
              born: {noise: {days: 30}}
              bio: {fake: text, leak_check: false}
          audit_log:
            drop: true
          sessions:
            default: keep
            optional: true
            columns: {}
        """
    )
    assert rules.default == "refuse"
    assert rules.salt_env == "SHOP_SALT"
    assert rules.salt_file == tmp_path / "secrets" / "salt"
    users = rules.tables["public.users"]
    cols = {name: rule.transform for name, rule in users.columns.items()}
    assert cols == {
        "id": Keep(),
        "email": Fake("email", unique=True),
        "phone": Hash(keep_format=True),
        "token": Hash(),
        "iban": Hash(length=32, unique=True),
        "card": Mask(keep_last=4, char="#"),
        "notes": Null(),
        "old_notes": Null(),
        "nick": Null(),
        "role": Fixed("customer"),
        "gone": Fixed(None),
        "literal": Fixed("null"),
        "balance": Noise("relative", 0.1),
        "score": Noise("absolute", 5.0),
        "born": Noise("days", 30.0),
        "bio": Fake("text"),
    }
    assert users.columns["bio"].leak_check is False
    assert users.columns["email"].line == 9
    assert rules.tables["audit_log"].drop
    assert rules.tables["sessions"].optional
    assert rules.tables["sessions"].default == "keep"
    assert rules.fixed_values == frozenset({"customer", "null"})


def test_default_is_refuse(make_rules: MakeRules) -> None:
    assert make_rules("tables: {}\n").default == "refuse"


def test_unknown_transformation_lists_the_valid_ones_with_file_and_line(
    make_rules: MakeRules, tmp_path: Path
) -> None:
    message = error_of(
        make_rules,
        """\
        tables:
          users:
            columns:
              id: keep
              email: {fakee: email}
        """,
    )
    assert message.startswith(f"{tmp_path / 'sanitize.yaml'}:5: ")
    assert "unknown transformation 'fakee'" in message
    for name in TRANSFORMATIONS:
        assert name in message


def test_unknown_shorthand_transformation(make_rules: MakeRules) -> None:
    message = error_of(make_rules, "tables:\n  users:\n    columns:\n      email: scramble\n")
    assert ":4: " in message
    assert "unknown transformation 'scramble'" in message
    assert "keep, fake, hash, mask, null, fixed, noise" in message


def test_unknown_fake_kind_lists_the_kinds(make_rules: MakeRules) -> None:
    message = error_of(make_rules, "tables:\n  t:\n    columns:\n      c: {fake: emali}\n")
    assert ":4: " in message
    assert "unknown fake kind 'emali'" in message
    assert ", ".join(FAKE_KINDS) in message


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ("defaults: keep\n", 1, "unknown key 'defaults' in the rules file"),
        ("tables:\n  t:\n    colums: {}\n", 3, "unknown key 'colums' in table 't'"),
        ("default: maybe\n", 1, "default must be keep or refuse"),
        ("salt: abc\n", 1, "the salt must not be written in the rules file"),
        ("tables:\n  t:\n    columns:\n      c: {hash: {size: 3}}\n", 4, "unknown key 'size'"),
        (
            "tables:\n  t:\n    columns:\n      c: {fake: first_name, unique: true}\n",
            4,
            "fake: first_name cannot stay unique",
        ),
        ("tables:\n  t:\n    columns:\n      c: {mask: {}, unique: true}\n", 4, "mask cannot"),
        (
            "tables:\n  t:\n    columns:\n      c: {noise: {relative: 0.1, days: 3}}\n",
            4,
            "needs exactly one of relative, absolute or days",
        ),
        ("tables:\n  t:\n    columns:\n      c: {noise: {relative: 0}}\n", 4, "positive"),
        ("tables:\n  t:\n    columns:\n      c: {noise: {days: 1.5}}\n", 4, "whole number"),
        ("tables:\n  t:\n    columns:\n      c: {fake: email, hash: true}\n", 4, "more than one"),
        ("tables:\n  t:\n    columns:\n      c:\n", 4, "has no transformation"),
        ("tables:\n  t:\n    columns:\n      c: {unique: true}\n", 4, "has no transformation"),
        ("tables:\n  t:\n    columns:\n      c: fake\n", 4, "fake needs a value"),
        (
            "tables:\n  t:\n    columns:\n      c: {hash: {keep_format: true, length: 9}}\n",
            4,
            "keep_format keeps the length",
        ),
        ("tables:\n  t:\n    columns:\n      c: {hash: {length: 4}}\n", 4, "between 8 and 64"),
        (
            "tables:\n  t:\n    columns:\n      c: {hash: {length: 8}, unique: true}\n",
            4,
            "cannot stay unique",
        ),
        ("tables:\n  t:\n    columns:\n      c: {mask: {char: '**'}}\n", 4, "one printable"),
        ("tables:\n  t:\n    columns:\n      c: {keep: false}\n", 4, "can only be true"),
        ("tables:\n  t:\n    columns:\n      c: {fixed: [1, 2]}\n", 4, "single value"),
        ("tables:\n  t:\n    drop: true\n    columns:\n      c: keep\n", 4, "drop: true"),
        ("tables:\n  t:\n", 2, "has no rules"),
        ("tables:\n  t:\n    columns:\n      c: keep\n      c: hash\n", 5, "appears twice"),
        ("tables: [a, b]\n", 1, "tables must be a mapping"),
        ("version: 2\n", 1, "only version 1"),
        ("salt_env: 'not a name'\n", 1, "environment variable name"),
    ],
)
def test_invalid_rules_name_the_line(
    make_rules: MakeRules, text: str, line: int, expected: str
) -> None:
    message = error_of(make_rules, text)
    assert f"sanitize.yaml:{line}: " in message
    assert expected in message


def test_yaml_syntax_error_names_the_line(make_rules: MakeRules) -> None:
    message = error_of(make_rules, "tables:\n  t:\n    columns: {a: keep\n")
    assert "sanitize.yaml:4: not valid YAML" in message


def test_empty_and_missing_files(make_rules: MakeRules, tmp_path: Path) -> None:
    assert "is empty" in error_of(make_rules, "")
    with pytest.raises(DataError, match="rules file not found"):
        load_rules(tmp_path / "nope.yaml")


def test_errors_are_ephemeral_errors(make_rules: MakeRules) -> None:
    with pytest.raises(EphemeralError):
        make_rules("default: nope\n")


def test_table_lookup_with_and_without_schema(make_rules: MakeRules) -> None:
    rules = make_rules(
        """\
        tables:
          users: {columns: {a: keep}}
          audit.events: {columns: {b: keep}}
          public.orders: {columns: {c: keep}}
          orders: {columns: {d: keep}}
        """
    )
    assert rules.lookup("public.users") is rules.tables["users"]
    assert rules.lookup("users") is rules.tables["users"]
    assert rules.lookup("events") is rules.tables["audit.events"]
    assert rules.lookup("other.events") is None
    assert rules.lookup("public.orders") is rules.tables["public.orders"]
    assert rules.lookup("shop.orders") is rules.tables["orders"]
    assert rules.lookup("nothing") is None


def test_table_patterns_match_partitions(make_rules: MakeRules) -> None:
    rules = make_rules(
        """\
        tables:
          public.events_2024: {columns: {a: keep}}
          public.events_*: {columns: {b: keep}}
          log_?: {columns: {c: keep}}
        """
    )
    assert rules.lookup("public.events_2024") is rules.tables["public.events_2024"]
    assert rules.lookup("public.events_2025") is rules.tables["public.events_*"]
    assert rules.lookup("audit.events_2025") is None
    assert rules.lookup("audit.log_1") is rules.tables["log_?"]
    assert rules.lookup("log_12") is None
