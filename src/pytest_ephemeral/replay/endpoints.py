"""Endpoints: requests grouped by method and templated path (``GET /items/{id}``).

A path segment becomes ``{id}`` when it looks like an identifier rather than
a name: a number, a UUID, a long hexadecimal string, or a long token mixing
letters and digits. The query string is not part of the endpoint.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

__all__ = ["endpoint_of", "template_path"]

_NUMBER: Final = re.compile(r"^-?\d+(?:\.\d+)?$")
_UUID: Final = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)
_HEX: Final = re.compile(r"^(?=.*\d)[0-9a-fA-F]{12,}$")
_TOKEN: Final = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_=-]{20,}$")


def _is_id(segment: str) -> bool:
    return bool(
        _NUMBER.match(segment)
        or _UUID.match(segment)
        or _HEX.match(segment)
        or _TOKEN.match(segment)
    )


@lru_cache(maxsize=4096)
def template_path(path: str) -> str:
    """``/items/42/reviews/7`` -> ``/items/{id}/reviews/{id}``."""
    path = path.partition("?")[0] or "/"
    return "/".join("{id}" if seg and _is_id(seg) else seg for seg in path.split("/")) or "/"


def endpoint_of(method: str, target: str) -> str:
    """``("GET", "/items/42?x=1")`` -> ``"GET /items/{id}"``."""
    return f"{method.upper()} {template_path(target.partition('?')[0])}"
