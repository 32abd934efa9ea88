from collections.abc import Callable, Mapping

KINDS: tuple[str, ...]
SHA: str

class Keyed:
    def __init__(
        self,
        key: bytes,
        label: str,
        kind: str,
        param: float,
        redraws: bool,
        safe: bool,
        copy_fallback: Callable[[str], str],
        value_fallback: Callable[[str], str | None],
        /,
    ) -> None: ...
    def __call__(self, raw: str, /) -> str: ...
    def value(self, original: str | None, /) -> str | None: ...
    def digest(self, value: str, /) -> bytes: ...

def set_words(lists: Mapping[str, tuple[str, ...]], /) -> None: ...
def copy_rows(
    lines: list[str], width: int, functions: tuple[Callable[[str], str] | None, ...], /
) -> tuple[str, int]: ...
def insert_rows(
    lines: list[str],
    prefix: str,
    width: int,
    functions: tuple[object, ...] | None,
    shown: tuple[int, ...],
    /,
) -> tuple[str | None, int, int, tuple[list[str], ...]]: ...
def columns(
    lines: list[str], width: int, wanted: tuple[int, ...], /
) -> tuple[tuple[list[str], ...], int]: ...
def sha256(data: bytes, /) -> bytes: ...
