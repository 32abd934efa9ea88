"""Find the statement of a SQL file that psql reported an error at.

psql says ``psql:FILE:N: ERROR: ...`` where ``N`` is the line on which the
failing statement ended (for ``COPY ... FROM stdin``: the line of its ``\\.``),
and ``LINE k:`` counts lines inside the statement. This scanner reads the file
as psql does — quotes, ``E''`` strings, dollar quotes, nested block comments,
line comments, backslash meta-commands, COPY data blocks — up to line ``N``,
in constant memory, and returns where the statement starts and its text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["Statement", "locate"]

#: Characters of statement text kept for messages.
MAX_TEXT: Final = 2000

_DOLLAR: Final = re.compile(r"\$([A-Za-z_\x80-\uffff][\w\x80-\uffff]*)?\$")
_COPY_STDIN: Final = re.compile(r"^\s*COPY\b.*\bFROM\s+STDIN\b", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class Statement:
    """Lines ``start``..``end`` (1-based) of the file; ``text`` (possibly cut);
    ``copy``: a ``COPY ... FROM stdin`` whose data follows line ``end``."""

    start: int
    end: int
    text: str
    copy: bool = False


class _Scanner:
    def __init__(self) -> None:
        self.buf: list[str] = []
        self.size = 0
        self.start: int | None = None
        self.quote: str | None = None  # "'" or '"' or "e" (E'' string) or "$tag$"
        self.comment = 0  # block comment depth
        self.in_copy = False
        self.done: list[Statement] = []

    def add(self, text: str) -> None:
        if self.size < MAX_TEXT:
            self.buf.append(text[: MAX_TEXT - self.size])
            self.size += len(text)

    def finish(self, end: int) -> None:
        text = "".join(self.buf).strip()
        start = self.start if self.start is not None else end
        copy = bool(_COPY_STDIN.match(text))
        self.done.append(Statement(start, end, text, copy))
        self.buf, self.size, self.start = [], 0, None
        self.in_copy = copy

    def line(self, number: int, line: str) -> None:
        if self.in_copy:
            if line.rstrip("\r\n") == "\\.":
                self.in_copy = False
            return
        if (
            self.start is None
            and self.quote is None
            and not self.comment
            and line.lstrip().startswith("\\")
        ):
            # a psql meta-command: the rest of the line
            self.start = number
            self.add(line.strip())
            self.finish(number)
            self.in_copy = False
            return
        i, n = 0, len(line)
        while i < n:
            c = line[i]
            q = self.quote
            if q is not None:
                if q == "'" or q == "e":
                    if q == "e" and c == "\\":
                        self.add(line[i : i + 2])
                        i += 2
                        continue
                    if c == "'":
                        if i + 1 < n and line[i + 1] == "'":
                            self.add("''")
                            i += 2
                            continue
                        self.quote = None
                    self.add(c)
                    i += 1
                    continue
                if q == '"':
                    if c == '"':
                        self.quote = None
                    self.add(c)
                    i += 1
                    continue
                # dollar quote
                if line.startswith(q, i):
                    self.add(q)
                    i += len(q)
                    self.quote = None
                    continue
                self.add(c)
                i += 1
                continue
            if self.comment:
                if line.startswith("*/", i):
                    self.comment -= 1
                    i += 2
                elif line.startswith("/*", i):
                    self.comment += 1
                    i += 2
                else:
                    i += 1
                continue
            if line.startswith("--", i):
                break
            if line.startswith("/*", i):
                self.comment += 1
                i += 2
                continue
            if c.isspace():
                if self.start is not None:
                    self.add(" ")
                i += 1
                continue
            if self.start is None:
                self.start = number
            if c == ";":
                self.add(";")
                self.finish(number)
                i += 1
                continue
            if c == "'":
                estring = i > 0 and line[i - 1] in "eE" and not _word_before(line, i - 1)
                self.quote = "e" if estring else "'"
                self.add(c)
                i += 1
                continue
            if c == '"':
                self.quote = '"'
                self.add(c)
                i += 1
                continue
            if c == "$":
                m = _DOLLAR.match(line, i)
                if m and not (i and (line[i - 1].isalnum() or line[i - 1] == "_")):
                    self.quote = m.group(0)
                    self.add(m.group(0))
                    i = m.end()
                    continue
            self.add(c)
            i += 1


def _word_before(line: str, i: int) -> bool:
    """Whether the ``E`` at ``i`` is the end of a longer word (``WHERE'x'`` is not E'')."""
    return i > 0 and (line[i - 1].isalnum() or line[i - 1] == "_")


def locate(path: Path, line: int) -> Statement | None:
    """The statement psql reported at ``line`` of ``path`` (see the module
    documentation), or None when the file cannot be read or has none there."""
    scanner = _Scanner()
    try:
        with path.open(encoding="utf-8", errors="replace", newline="") as fh:
            number = 0
            for number, text in enumerate(fh, 1):
                copying = scanner.in_copy
                scanner.line(number, text)
                if copying and number >= line:
                    return scanner.done[-1]  # an error in (or at the end of) COPY data
                for stmt in scanner.done:
                    if stmt.end >= line:
                        return stmt if stmt.start <= line else None
                del scanner.done[:-1]  # only the last can still be a COPY with data
    except OSError:
        return None
    if scanner.start is not None and scanner.start <= line:
        text = "".join(scanner.buf).strip()
        return Statement(scanner.start, number, text)  # unterminated at the end of the file
    return None
