"""Fixtures for the sanitization tests."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import pytest

from pytest_ephemeral.data.sanitize import Rules, load_rules, sanitize_stream

SALT = b"tests-salt-0123456789abcdef"


@pytest.fixture
def salt() -> bytes:
    return SALT


@pytest.fixture
def make_rules(tmp_path: Path) -> Callable[[str], Rules]:
    """Write a rules file (dedented) into tmp_path and load it."""

    def make(text: str) -> Rules:
        path = tmp_path / "sanitize.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return load_rules(path)

    return make


@pytest.fixture
def sanitize() -> Callable[..., str]:
    """Sanitize a text (pg_dump by default) and return the output as one string."""

    def run(
        text: str,
        rules: Rules,
        *,
        salt: bytes = SALT,
        fmt: Literal["auto", "pgdump", "csv"] = "pgdump",
        table: str | None = None,
    ) -> str:
        lines = textwrap.dedent(text).splitlines(keepends=True)
        return "".join(sanitize_stream(lines, rules, salt, fmt=fmt, table=table))

    return run
