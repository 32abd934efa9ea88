"""Where the salt comes from: the environment or a file, never the rules or the spec."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

from pytest_ephemeral.errors import DataError

from ._rules import Rules

__all__ = ["MIN_SALT_BYTES", "SALT_FILE_ENV", "resolve_salt"]

#: Names a file holding the salt, when the salt variable itself is not set.
SALT_FILE_ENV: Final = "EPH_SANITIZE_SALT_FILE"

#: A shorter salt makes the hashes of short values (phone numbers, birth dates)
#: easy to reverse by trying every salt.
MIN_SALT_BYTES: Final = 16

_HOW: Final = "generate one with: python -c 'import secrets; print(secrets.token_hex(32))'"


def resolve_salt(rules: Rules, environ: Mapping[str, str]) -> bytes:
    """The salt for ``rules``, looked up in this order:

    1. the environment variable ``rules.salt_env`` (``EPH_SANITIZE_SALT`` by default);
    2. the file named by the environment variable ``EPH_SANITIZE_SALT_FILE``;
    3. the file named by ``salt_file:`` in the rules (relative to the rules file).

    A file's content is used without its trailing newline. A missing, empty or
    short (under 16 bytes) salt is a :class:`DataError`.
    """
    value = environ.get(rules.salt_env)
    if value:
        return _checked(value.encode("utf-8"), f"environment variable {rules.salt_env}")
    file_name = environ.get(SALT_FILE_ENV)
    if file_name:
        return _from_file(Path(file_name).expanduser(), f"{SALT_FILE_ENV}={file_name}")
    if rules.salt_file is not None:
        return _from_file(rules.salt_file, f"salt_file in {rules.path}")
    raise DataError(
        f"{rules.path}: no salt for sanitizing: set the environment variable {rules.salt_env} "
        f"(or {SALT_FILE_ENV}, or salt_file: in the rules) to a secret of at least "
        f"{MIN_SALT_BYTES} bytes; {_HOW}"
    )


def _from_file(path: Path, origin: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise DataError(
            f"{path}: cannot read the salt file ({reason}), named by {origin}; "
            "create it or fix the path"
        ) from None
    return _checked(data.rstrip(b"\r\n"), f"salt file {path}")


def _checked(salt: bytes, origin: str) -> bytes:
    if not salt.strip():
        raise DataError(f"{origin}: the salt is empty; {_HOW}")
    if len(salt) < MIN_SALT_BYTES:
        raise DataError(
            f"{origin}: the salt is {len(salt)} bytes, too short to protect short values; "
            f"use at least {MIN_SALT_BYTES} bytes ({_HOW})"
        )
    return salt
