"""Located YAML values: every node knows the line it was written on."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Entry",
    "Line",
    "Map",
    "Node",
    "Scalar",
    "Seq",
    "Source",
    "describe",
    "index",
    "source_of",
    "sub",
]


@dataclass(frozen=True, slots=True, eq=False)
class Source:
    """One file a spec was read from: its path, how it is shown, the folder its
    relative paths start at, and the variables its ``${VAR}`` see."""

    path: Path
    display: str
    base: Path
    environ: Mapping[str, str] = field(repr=False)


class Line(int):
    """A 1-based line number that knows its file (an ``int`` everywhere else).

    A spec can be several files (``-f a -f b``, ``extends``, ``include``); a value
    merged from another file keeps that file's :class:`Source`, so errors and
    relative paths refer to the file the value was written in."""

    source: Source

    def __new__(cls, value: int, source: Source) -> Line:
        line = super().__new__(cls, value)
        line.source = source
        return line

    def __reduce__(self) -> tuple[type[int], tuple[int]]:
        return int, (int(self),)


def source_of(line: int | None) -> Source | None:
    """The file ``line`` was written in, when it knows it."""
    return line.source if isinstance(line, Line) else None


@dataclass(frozen=True, slots=True)
class Scalar:
    """A scalar with its YAML 1.2 value and the exact text it was written as."""

    value: str | int | float | bool | None
    text: str
    line: int
    tag: str | None = None  # "!reset" or "!override" (Compose merge tags), else None


@dataclass(frozen=True, slots=True)
class Seq:
    items: tuple[Node, ...]
    line: int
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """One ``key: value`` pair; ``key_line`` is where the key was written."""

    key: str
    key_line: int
    value: Node


@dataclass(frozen=True, slots=True)
class Map:
    """A mapping in file order (merge keys already applied)."""

    entries: dict[str, Entry]
    line: int
    tag: str | None = None

    def get(self, key: str) -> Entry | None:
        return self.entries.get(key)


Node = Scalar | Seq | Map


_PLAIN_KEY = re.compile(r"[\w.$@/+:-]+")


def sub(path: str, key: str) -> str:
    """The key path of ``key`` under ``path`` (``services`` + ``db`` -> ``services.db``);
    a key with spaces or odd characters is quoted: ``services['my db']``."""
    if not _PLAIN_KEY.fullmatch(key) or not key.isprintable():
        return f"{path}[{key!r}]"
    return f"{path}.{key}" if path else key


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def describe(node: Node) -> str:
    """What ``node`` is, for 'expected X, got Y' messages."""
    if isinstance(node, Map):
        return "a mapping"
    if isinstance(node, Seq):
        return "a list"
    value = node.value
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {node.text}"
    if isinstance(value, int | float):
        return f"the number {node.text}"
    return f"the string {_short(value)!r}"


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
