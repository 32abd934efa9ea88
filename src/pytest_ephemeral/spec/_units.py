"""Durations (Compose/Go style) and byte sizes (Docker style), both ways."""

from __future__ import annotations

import math
import re

__all__ = [
    "DURATION_FORMS",
    "SIZE_FORMS",
    "format_duration",
    "format_size",
    "parse_duration",
    "parse_size",
]

DURATION_FORMS = "a number of seconds, or Go-style units: 90, 2.5s, 500ms, 1m30s, 1h"
SIZE_FORMS = "a number of bytes, or a number with a unit: 100b, 256k, 512m, 1g"

_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_DURATION = re.compile(rf"(?:{_NUMBER}(?:ns|us|µs|ms|s|m|h))+")
_DURATION_PART = re.compile(rf"({_NUMBER})(ns|us|µs|ms|s|m|h)")
_BARE = re.compile(_NUMBER)
_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_SIZE = re.compile(rf"({_NUMBER}) ?([kmgtp])?(i)?(b)?", re.IGNORECASE)
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}


def parse_duration(value: str | int | float) -> float:
    """Seconds in ``value``; ValueError (with a reason) if it is not a duration >= 0."""
    if isinstance(value, bool):
        raise ValueError("is a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip()
        if text.startswith("-"):
            raise ValueError("is negative")
        if _BARE.fullmatch(text):
            seconds = float(text)
        elif _DURATION.fullmatch(text):
            seconds = sum(float(n) * _SECONDS[u] for n, u in _DURATION_PART.findall(text))
        else:
            raise ValueError("is not a duration")
    if not math.isfinite(seconds):
        raise ValueError("is not a finite duration")
    if seconds < 0:
        raise ValueError("is negative")
    return seconds


def parse_size(value: str | int | float) -> int:
    """Bytes in ``value`` (binary units: 1k = 1024); ValueError if not a size > 0."""
    if isinstance(value, bool):
        raise ValueError("is a boolean")
    if isinstance(value, float):
        raise ValueError("is not a whole number of bytes")
    if isinstance(value, int):
        size = value
    else:
        text = value.strip()
        if text.startswith("-"):
            raise ValueError("is negative")
        match = _SIZE.fullmatch(text)
        if match is None:
            raise ValueError("is not a size")
        number, unit, _, _ = match.groups()
        size = int(float(number) * 1024 ** _POWERS[(unit or "").lower()])
    if size <= 0:
        raise ValueError("is not positive")
    return size


def format_duration(seconds: float) -> str:
    """``90.0`` -> ``1m30s``, ``0.5`` -> ``500ms``, ``2.5`` -> ``2.5s``."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        if seconds * 1000 >= 1:
            return f"{seconds * 1000:g}ms"
        return f"{seconds * 1e6:g}us"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(f"{int(hours)}h")
    if minutes:
        parts.append(f"{int(minutes)}m")
    if secs:
        parts.append(f"{round(secs, 3):g}s")
    return "".join(parts)


def format_size(size: int) -> str:
    """``536870912`` -> ``512m``; the largest unit that divides exactly."""
    for unit, power in (("t", 4), ("g", 3), ("m", 2), ("k", 1)):
        if size % 1024**power == 0:
            return f"{size // 1024**power}{unit}"
    return f"{size}b"
