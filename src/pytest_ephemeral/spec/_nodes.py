"""Located YAML values: every node knows the line it was written on."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Entry", "Map", "Node", "Scalar", "Seq", "describe", "index", "sub"]


@dataclass(frozen=True, slots=True)
class Scalar:
    """A scalar with its YAML 1.2 value and the exact text it was written as."""

    value: str | int | float | bool | None
    text: str
    line: int


@dataclass(frozen=True, slots=True)
class Seq:
    items: tuple[Node, ...]
    line: int


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
