"""Compose-style ``${VAR}`` interpolation of string values."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

__all__ = ["InterpolationError", "interpolate"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")
_FORMS = "write ${NAME}, ${NAME:-default}, ${NAME:?message} or ${NAME:+alternative}"


class InterpolationError(Exception):
    """A value that cannot be interpolated; ``fix`` says what to do."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


def interpolate(text: str, environ: Mapping[str, str], on_unset: Callable[[str], None]) -> str:
    """``text`` with ``$$``, ``$VAR`` and ``${VAR...}`` replaced from ``environ``.

    ``on_unset(name)`` is called for a plain reference to an unset variable
    (which becomes the empty string, as in Compose). A lone ``$`` not followed
    by a name or ``{`` is kept as written, as Compose keeps it.
    """
    if "$" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        j = text.find("$", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        following = text[j + 1 : j + 2]
        if following == "$":
            out.append("$")
            i = j + 2
        elif following == "{":
            end = _closing(text, j + 2)
            if end < 0:
                raise InterpolationError(
                    f"unterminated '${{' in {text!r}",
                    "close it with '}', or write '$$' for a literal '$'",
                )
            out.append(_braced(text[j + 2 : end], environ, on_unset))
            i = end + 1
        elif match := _NAME.match(text, j + 1):
            value = environ.get(match.group())
            if value is None:
                on_unset(match.group())
            out.append(value or "")
            i = match.end()
        else:
            out.append("$")
            i = j + 1
    return "".join(out)


def _closing(text: str, start: int) -> int:
    """Index of the ``}`` closing a ``${`` whose body starts at ``start``, or -1."""
    depth = 0
    i = start
    while i < len(text):
        if text.startswith("$$", i):
            i += 2
            continue
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


def _braced(body: str, environ: Mapping[str, str], on_unset: Callable[[str], None]) -> str:
    match = _NAME.match(body)
    operator = next((op for op in _OPERATORS if match and body.startswith(op, match.end())), None)
    if match is None or (operator is None and match.end() != len(body)):
        raise InterpolationError(f"invalid variable reference '${{{body}}}'", _FORMS)
    name = match.group()
    value = environ.get(name)
    if operator is None:
        if value is None:
            on_unset(name)
        return value or ""
    argument = body[match.end() + len(operator) :]
    colon = operator.startswith(":")
    missing = value is None or (colon and value == "")
    kind = operator[-1]
    if kind == "-":
        return interpolate(argument, environ, on_unset) if missing or value is None else value
    if kind == "?":
        if missing or value is None:
            state = "is not set" if value is None else "is empty"
            detail = interpolate(argument, environ, on_unset).strip()
            raise InterpolationError(
                f"required variable {name} {state}" + (f": {detail}" if detail else ""),
                f"set {name} in the environment before running",
            )
        return value
    return "" if missing else interpolate(argument, environ, on_unset)
