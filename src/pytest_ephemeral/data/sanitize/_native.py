"""The compiled sanitizer (``_fastcopy.c``), when it is built.

``setup.py`` builds it where a C compiler is at hand; without it, or with
``EPH_SANITIZER=python`` in the environment, the sanitizer runs in Python and
writes the same output, byte for byte (``tests/data/test_fastcopy.py``).
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Final

from ._fakes import LISTS

try:
    from . import _fastcopy
except ImportError:  # pragma: no cover - the same in Python, slower
    _fastcopy = None  # type: ignore[assignment]

__all__ = ["COMPILED", "fastcopy"]

#: Whether the compiled sanitizer is built.
COMPILED: Final = _fastcopy is not None
if _fastcopy is not None:
    _fastcopy.set_words(dict(LISTS))


def fastcopy() -> ModuleType | None:
    """The compiled module, unless it is missing or ``EPH_SANITIZER=python``."""
    if _fastcopy is None or os.environ.get("EPH_SANITIZER", "").lower() == "python":
        return None
    return _fastcopy
