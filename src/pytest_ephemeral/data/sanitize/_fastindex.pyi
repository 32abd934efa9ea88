# The compiled index of originals (_fastindex.c); see _leaks.OriginalIndex.
from collections.abc import Callable
from typing import final

def siphash(key: bytes, data: bytes, /) -> int: ...
def plain(text: str, /) -> bool: ...
def may_detect(text: str, /) -> bool: ...
def insert_literals(line: str, pos: int, /) -> list[tuple[int, int]] | None: ...
def keys_of(value: str, /) -> list[str] | None: ...
def set_common_words(words: frozenset[str], /) -> None: ...

@final
class Index:
    def __init__(self, key: bytes) -> None: ...
    def value_tag(self, value: str, /) -> int: ...
    def add_key(self, tag: int, key: str, /) -> None: ...
    def key_tag(self, key: str, /) -> int: ...
    def first(self, token: str, /) -> bool: ...
    def add(self, tag: int, value: str, in_text: bool, later: list[str], /) -> int: ...
    def collect(
        self,
        tag: int,
        raws: list[str],
        skip: frozenset[str],
        in_text: bool,
        decode: Callable[[str], str],
        later: list[str],
        /,
    ) -> int: ...
    def look(
        self,
        raws: list[str],
        skip: frozenset[str],
        decode: Callable[[str], str],
        in_text: bool,
        detecting: bool,
        clean: set[str] | None,
        limit: int,
        /,
    ) -> tuple[list[tuple[set[int], int]], list[tuple[str, int]], list[tuple[str, int]], int]: ...
    def collect_rows(
        self,
        tag: int,
        lines: list[str],
        width: int,
        index: int,
        skip: frozenset[str],
        in_text: bool,
        decode: Callable[[str], str],
        later: list[str],
        /,
    ) -> int: ...
    def look_rows(
        self,
        lines: list[str],
        width: int,
        index: int,
        skip: frozenset[str],
        decode: Callable[[str], str],
        in_text: bool,
        detecting: bool,
        clean: set[str] | None,
        limit: int,
        /,
    ) -> tuple[list[tuple[set[int], int]], list[tuple[str, int]], list[tuple[str, int]], int]: ...
    def search(self, text: str, found: set[int], /) -> bool: ...
    def export(self) -> tuple[object, ...]: ...
    @classmethod
    def restore(cls, state: tuple[object, ...], /) -> Index: ...
    @property
    def count(self) -> int: ...
    @property
    def flags(self) -> tuple[int, int, int, int]: ...
