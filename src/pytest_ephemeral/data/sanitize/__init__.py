"""Sanitization of production dumps: rules, the streaming engine, the leak check.

Typical use (the seed runner and ``eph sanitize`` do exactly this)::

    rules = load_rules(Path("seed/sanitize.yaml"))
    salt = resolve_salt(rules, os.environ)
    report = sanitize_file(Path("prod.sql"), Path("safe.sql"), rules, salt=salt)
    raise_for_leaks(
        check_leaks_files(Path("prod.sql"), Path("safe.sql"), rules, salt),
        where="safe.sql",
    )
"""

from __future__ import annotations

from ._engine import SanitizeReport, SanitizeStream, check_rules, sanitize_file, sanitize_stream
from ._leaks import (
    MIN_LEAK_LENGTH,
    Leak,
    LeakError,
    OriginalIndex,
    check_leaks,
    check_leaks_files,
    collect_originals,
    raise_for_leaks,
)
from ._rules import (
    DEFAULT_SALT_ENV,
    FAKE_KINDS,
    TRANSFORMATIONS,
    UNIQUE_FAKE_KINDS,
    ColumnRule,
    Fake,
    Fixed,
    Hash,
    Keep,
    Mask,
    Noise,
    Null,
    Rules,
    TableRule,
    Transform,
    load_rules,
)
from ._salt import SALT_FILE_ENV, resolve_salt
from ._suggest import suggest_rules
from ._text import DETECTORS

__all__ = [
    "DEFAULT_SALT_ENV",
    "DETECTORS",
    "FAKE_KINDS",
    "MIN_LEAK_LENGTH",
    "SALT_FILE_ENV",
    "TRANSFORMATIONS",
    "UNIQUE_FAKE_KINDS",
    "ColumnRule",
    "Fake",
    "Fixed",
    "Hash",
    "Keep",
    "Leak",
    "LeakError",
    "Mask",
    "Noise",
    "Null",
    "OriginalIndex",
    "Rules",
    "SanitizeReport",
    "SanitizeStream",
    "TableRule",
    "Transform",
    "check_leaks",
    "check_leaks_files",
    "check_rules",
    "collect_originals",
    "load_rules",
    "raise_for_leaks",
    "resolve_salt",
    "sanitize_file",
    "sanitize_stream",
    "suggest_rules",
]
