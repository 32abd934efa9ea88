"""Streaming reader and rewriter for pg_dump's plain (SQL) format.

Recognised, at the start of a statement:

* ``COPY name (cols) FROM stdin;`` followed by rows in COPY's text format
  (tab-separated, ``\\N`` for NULL, backslash escapes) up to a ``\\.`` line;
* ``INSERT INTO name [(cols)] VALUES (...), (...);`` with literal values,
  spanning any number of lines;
* ``CREATE TABLE name (...)``, only to learn the column order for INSERTs
  without a column list.

Everything else (DDL, SET, comments, sequences, psql meta-commands) is passed
through unchanged. Statement boundaries are found with a small scanner that
knows quotes, dollar quotes and comments, so a ``COPY`` or ``INSERT`` inside
a function body or a string is not mistaken for one.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterable, Iterator
from itertools import chain, islice, repeat
from typing import Final

from pytest_ephemeral.errors import DataError

from ._native import fastcopy
from ._plan import CopyFn, Sink, TablePlan
from ._transforms import ValueProblem

__all__ = ["copy_decode", "copy_encode", "process_pgdump"]

# ------------------------------------------------------------------ COPY codec

_COPY_ESCAPE: Final = re.compile(r"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|(.))", re.S)
_COPY_SIMPLE: Final = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_COPY_ENCODE: Final = str.maketrans(
    {
        "\\": "\\\\",
        "\t": "\\t",
        "\n": "\\n",
        "\r": "\\r",
        "\b": "\\b",
        "\f": "\\f",
        "\v": "\\v",
    }
)


def _copy_unescape(match: re.Match[str]) -> str:
    octal, hexa, other = match.groups()
    if other is not None:
        return _COPY_SIMPLE.get(other, other)
    code = int(octal, 8) if octal is not None else int(hexa, 16)
    if code > 0x7F:
        # A byte of a multi-byte character; handled by _copy_decode_bytes.
        raise _NeedBytes
    return chr(code)


class _NeedBytes(Exception):
    pass


def copy_decode(raw: str) -> str:
    """Decode one field of COPY's text format (not ``\\N``, which is NULL)."""
    pieces: list[str] = []
    pos = 0
    find = raw.find
    while True:
        at = find("\\", pos)
        if at < 0:
            pieces.append(raw[pos:])
            return "".join(pieces)
        pieces.append(raw[pos:at])
        char = raw[at + 1 : at + 2]
        if not char:
            pieces.append("\\")
            return "".join(pieces)
        if char in _OCTAL_OR_HEX:
            break  # numeric escapes: rare, left to the regular expression
        pieces.append(_COPY_SIMPLE.get(char, char))
        pos = at + 2
    try:
        return _COPY_ESCAPE.sub(_copy_unescape, raw)
    except _NeedBytes:
        return _copy_decode_bytes(raw)


_OCTAL_OR_HEX: Final = frozenset("01234567x")


def _copy_decode_bytes(raw: str) -> str:
    out = bytearray()
    pos = 0
    for match in _COPY_ESCAPE.finditer(raw):
        out += raw[pos : match.start()].encode()
        octal, hexa, other = match.groups()
        if other is not None:
            out += _COPY_SIMPLE.get(other, other).encode()
        else:
            out.append((int(octal, 8) if octal is not None else int(hexa, 16)) & 0xFF)
        pos = match.end()
    out += raw[pos:].encode()
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueProblem("octal or hex escapes do not form UTF-8 text") from None


def copy_encode(value: str) -> str:
    """Encode a value as one field of COPY's text format."""
    return value.translate(_COPY_ENCODE)


def _copy_field(value: str | None) -> str:
    """A decoded value as a COPY field (``\\N`` for NULL)."""
    if value is None:
        return "\\N"
    return copy_encode(value) if "\\" in value else value


#: Lines an INSERT's string may go on over and still take the fast path.
_FAST_LINES: Final = 64


def _split_copy(body: str) -> list[str]:
    """Split a row on tabs that are not escaped with a backslash."""
    fields: list[str] = []
    start = 0
    for match in _SPLIT.finditer(body):
        if match.group() == "\t":
            fields.append(body[start : match.start()])
            start = match.end()
    fields.append(body[start:])
    return fields


_SPLIT: Final = re.compile(r"\\.|\t", re.S)


def _odd_backslashes(body: str) -> bool:
    count = len(body) - len(body.rstrip("\\"))
    return count % 2 == 1


# ------------------------------------------------------------- SQL recognition

_IDENT: Final = r'(?:"(?:[^"]|"")+"|[^\W\d][\w$]*)'
_NAME: Final = rf"{_IDENT}(?:\s*\.\s*{_IDENT})?"
_COLS: Final = rf"\((?P<cols>\s*{_IDENT}(?:\s*,\s*{_IDENT})*\s*)\)"
_IDENT_RE: Final = re.compile(_IDENT)
_FIRST_WORD: Final = re.compile(r"[A-Za-z]+")
_COPY_RE: Final = re.compile(
    rf"COPY\s+(?P<name>{_NAME})\s*(?:{_COLS})?\s*FROM\s+stdin\b(?P<rest>[^\n]*)", re.I
)
_INSERT_RE: Final = re.compile(
    rf"INSERT\s+INTO\s+(?P<name>{_NAME})\s*(?:{_COLS})?\s*"
    r"(?:OVERRIDING\s+(?:SYSTEM|USER)\s+VALUE\s+)?VALUES\b\s*",
    re.I,
)
_INSERT_NAME_RE: Final = re.compile(rf"INSERT\s+INTO\s+(?P<name>{_NAME})", re.I)
_CREATE_RE: Final = re.compile(
    r"CREATE\s+(?:(?:GLOBAL|LOCAL)\s+)?(?:(?:TEMPORARY|TEMP|UNLOGGED)\s+)?TABLE\s+"
    rf"(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>{_NAME})\s*\(",
    re.I,
)
_SCS_RE: Final = re.compile(
    r"SET\s+(?:SESSION\s+)?standard_conforming_strings\s*(?:=|TO)\s*'?(?P<value>on|off)\b",
    re.I,
)
_COMMENTS: Final = re.compile(r"/\*.*?\*/|--[^\n]*", re.S)
_CONSTRAINT_WORDS: Final = frozenset(
    {"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "EXCLUDE", "LIKE"}
)
_NUMBER: Final = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _ident(token: str) -> str:
    if token.startswith('"'):
        return token[1:-1].replace('""', '"')
    return token.lower()


def _name(text: str) -> str:
    return ".".join(_ident(part) for part in _IDENT_RE.findall(text))


def _columns(text: str) -> tuple[str, ...]:
    return tuple(_ident(part) for part in _IDENT_RE.findall(text))


# ---------------------------------------------------------- statement scanner

# Scanner states: "" outside anything; "'" standard string; "E" string with
# backslash escapes; '"' quoted identifier; "/*" block comment; "$tag$" dollar quote.
_OUT: Final = ""
_SCAN_OUT: Final = re.compile(r"--|/\*|(?<![\w$])[Ee]'|'|\"|(?<![\w$])\$(?:[^\W\d]\w*)?\$|;")
_SCAN_E: Final = re.compile(r"\\.|''|'", re.S)


def _scan(text: str, pos: int, state: str, backslash_quotes: bool) -> tuple[str, int, int]:
    """Scan ``text`` from ``pos`` in ``state``; return the state at the end, the
    position just after the ``;`` that ends the statement (-1 if none), and
    where the last quote or comment opened in ``text`` (-1 if none did)."""
    opened = -1
    while True:
        if state == _OUT:
            match = _SCAN_OUT.search(text, pos)
            if match is None:
                return _OUT, -1, opened
            token = match.group()
            pos = match.end()
            if token == ";":
                return _OUT, pos, opened
            if token == "--":
                newline = text.find("\n", pos)
                if newline < 0:
                    return _OUT, -1, opened
                pos = newline + 1
                continue
            opened = match.start()
            if token == "'":
                state = "E" if backslash_quotes else "'"
            elif token in ("E'", "e'"):
                state = "E"
            else:
                state = token  # '"', "/*" or a dollar tag
        elif state == "'" or state == '"':
            end = text.find(state, pos)
            if end < 0:
                return state, -1, opened
            if text.startswith(state, end + 1):
                pos = end + 2
            else:
                pos = end + 1
                state = _OUT
        elif state == "E":
            match = _SCAN_E.search(text, pos)
            if match is None:
                return state, -1, opened
            pos = match.end()
            if match.group() == "'":
                state = _OUT
        else:
            closer = "*/" if state == "/*" else state
            end = text.find(closer, pos)
            if end < 0:
                return state, -1, opened
            pos = end + len(closer)
            state = _OUT


# ------------------------------------------------------------ INSERT values

_TOKEN_STD: Final = re.compile(
    r"(?P<ws>\s+|--[^\n]*\n?|/\*.*?\*/)"
    r"|(?P<str>'(?:[^']|'')*')"
    r"|(?P<estr>[Ee]'(?:[^'\\]|\\.|'')*')"
    r"|(?P<ident>\"(?:[^\"]|\"\")*\")"
    r"|(?P<punct>[(),;\[\]])"
    r"|(?P<cast>::)"
    r"|(?P<word>[^\s'\"(),;\[\]:]+|:)",
    re.S,
)
_TOKEN_OLD: Final = re.compile(
    _TOKEN_STD.pattern.replace("'(?:[^']|'')*'", r"'(?:[^'\\]|\\.|'')*'", 1), re.S
)
_E_ESCAPE: Final = re.compile(
    r"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))|''",
    re.S,
)

Token = tuple[str, int, int]

# One row of plain literals: 'text' (standard strings), NULL, numbers, booleans.
_LIT: Final = r"(?:'(?:[^']|'')*'|NULL|null|true|false|[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
_ROW_FAST: Final = re.compile(rf"\(\s*({_LIT}(?:\s*,\s*{_LIT})*)\s*\)\s*;[ \t]*\r?\n?")
_LITERAL: Final = re.compile(r"'(?:[^']|'')*'|[^\s,']+")


def _plain_literal(text: str) -> str | None:
    """The value of a plain literal of a one-row INSERT ('text', NULL, a number)."""
    if text[0] == "'":
        return text[1:-1].replace("''", "'")
    return None if text.upper() == "NULL" else text


def _row_literals_re(line: str, pos: int) -> list[tuple[int, int]] | None:
    """Where the literals of the one row of plain literals at ``line[pos:]``
    are (up to the end of the line), or ``None``."""
    row = _ROW_FAST.fullmatch(line, pos)
    if row is None:
        return None
    return [m.span() for m in _LITERAL.finditer(line, row.start(1), row.end(1))]


try:  # the same in C (the compiled part of the sanitizer; tests compare the two)
    from ._fastindex import insert_literals as _row_literals
except ImportError:  # pragma: no cover - no C compiler at install
    _row_literals = _row_literals_re


def _e_unescape(match: re.Match[str]) -> str:
    if match.group() == "''":
        return "'"
    octal, hexa, u4, u8, other = match.groups()
    if other is not None:
        return _COPY_SIMPLE.get(other, other)
    if octal is not None or hexa is not None:
        code = int(octal, 8) if octal is not None else int(hexa, 16)
        if code > 0x7F:
            raise ValueProblem("octal or hex escapes above 0x7f are not supported in E'' strings")
        return chr(code)
    return chr(int(u4 or u8, 16))


class _Value:
    """One value of an INSERT row: its span and its non-blank tokens."""

    __slots__ = ("end", "start", "tokens")

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.start = tokens[0][1]
        self.end = tokens[-1][2]


# ------------------------------------------------------------------ processor

#: Rows a COPY is read in at once for a sink that only looks (see ``observe``).
_BLOCK_ROWS: Final = 2048


class _PgDump:
    def __init__(self, sink: Sink, source: str, *, quiet: bool, blocks: bool = False) -> None:
        self.sink = sink
        # COPY rows rewritten a block at a time in C, when it is built; with
        # ``blocks`` such a block is yielded as one string of many lines.
        self.fast = fastcopy()
        self.blocks = blocks
        # The plan and the text before the row of the last one-line INSERT
        # fast_insert() took: the lines after it are tried in a batch.
        self.last_insert: tuple[TablePlan, str] | None = None
        self.copied = 0  # rows of the last COPY read by copy_blocks()
        self.source = source
        self.quiet = quiet or sink.failed
        self.lineno = 0
        self.state = _OUT
        self.at_start = True
        self.backslash_quotes = False  # standard_conforming_strings = off
        self.ddl: list[str] | None = None
        self.tables: dict[str, tuple[str, ...]] = {}
        self.plans: dict[tuple[str, tuple[str, ...] | None], TablePlan] = {}
        self.column_lists: dict[str, tuple[str, ...]] = {}
        self.names: dict[str, str] = {}
        # Rows of one-line INSERTs, counted here and told to the sink in one go.
        self.insert_rows: dict[tuple[str, bool], int] = {}
        self.observed = 0  # rows of the last COPY read by observe()
        # One-line INSERTs for a sink that only looks, handed to its items'
        # block functions a block of rows at a time (see flush_observed):
        # the plan, and the line and the touched values of each row.
        self.observed_plan: TablePlan | None = None
        self.observed_rows: list[tuple[int, list[str | None]]] = []

    def where(self, line: int | None = None) -> str:
        return f"{self.source}:{self.lineno if line is None else line}"

    def plan(
        self, table: str, columns: tuple[str, ...] | None, where: str, *, complete: bool = True
    ) -> TablePlan:
        key = (table, columns)
        plan = self.plans.get(key)
        if plan is None:
            plan = self.sink.plan(table, columns, where, complete=complete)
            self.plans[key] = plan
            if self.sink.failed:
                self.quiet = True
        return plan

    def known_columns(self, table: str) -> tuple[str, ...] | None:
        found = self.tables.get(table)
        if found is None and "." in table:
            found = self.tables.get(table.rpartition(".")[2])
        if found is None and "." not in table:
            matches = [cols for name, cols in self.tables.items() if name.endswith("." + table)]
            found = matches[0] if len(matches) == 1 else None
        return found

    # -- main loop ---------------------------------------------------------

    def run(self, lines: Iterable[str]) -> Iterator[str]:
        it = iter(lines)
        pending: str | None = None
        while True:
            if pending is not None:
                line, pending = pending, None
            else:
                next_line = next(it, None)
                if next_line is None:
                    break
                line = next_line
                self.lineno += 1
            if self.at_start and self.state == _OUT:
                stripped = line.lstrip()
                if not stripped or stripped.startswith("--") or stripped.startswith("\\"):
                    if not self.quiet:
                        yield line
                    continue
                first = _FIRST_WORD.match(stripped)
                keyword = first.group().upper() if first is not None else ""
                if keyword == "COPY":
                    match = _COPY_RE.match(stripped)
                    if match is not None:
                        leftover = yield from self.copy(it, line, match)
                        if leftover:
                            it = chain(leftover, it)
                        continue
                elif keyword == "INSERT":
                    pending, unread = yield from self.insert(it, line)
                    if unread:
                        it = chain(unread, it)
                    continue
                if self.observed_rows:
                    self.flush_observed()
                elif keyword == "CREATE" and _CREATE_RE.match(stripped):
                    self.ddl = []
                elif keyword == "SET":
                    scs = _SCS_RE.match(stripped)
                    if scs is not None:
                        self.backslash_quotes = scs.group("value").lower() == "off"
            out, pending = self.statement_line(line)
            if not self.quiet:
                yield out
        self.flush_observed()
        self.flush_counts()
        self.sink.finish()

    def statement_line(self, line: str) -> tuple[str, str | None]:
        """Pass one line of an ordinary statement; split off what follows its end."""
        begin = self.state
        state, end, _opened = _scan(line, 0, begin, self.backslash_quotes)
        if end < 0:
            if self.at_start and state in (_OUT, "/*"):
                text = ("/*" if begin == "/*" else "") + line + ("*/" if state == "/*" else "")
                if not _COMMENTS.sub("", text).strip():
                    # Only comments so far: the next statement has not begun.
                    self.state = state
                    return line, None
            self.state = state
            self.at_start = False
            if self.ddl is not None:
                self.ddl.append(line)
                if len(self.ddl) > 100_000:  # not a table definition we need
                    self.ddl = None
            return line, None
        self.state = _OUT
        self.at_start = True
        head, rest = line[:end], line[end:]
        if self.ddl is not None:
            self.ddl.append(head)
            self.learn_table("".join(self.ddl))
            self.ddl = None
        if not rest.strip() or rest.lstrip().startswith("--"):
            return line, None
        return head, rest

    def learn_table(self, statement: str) -> None:
        match = _CREATE_RE.search(statement)
        if match is None:
            return
        tokens = self.tokens(statement, match.end())
        columns: list[str] = []
        depth = 1
        expect_name = True
        for kind, start, end in tokens:
            text = statement[start:end]
            if kind == "punct":
                if text in "([":
                    depth += 1
                elif text in ")]":
                    depth -= 1
                    if depth == 0:
                        break
                elif text == "," and depth == 1:
                    expect_name = True
                continue
            if expect_name and depth == 1:
                expect_name = False
                if kind == "ident":
                    columns.append(_ident(text))
                elif kind == "word" and text.upper() not in _CONSTRAINT_WORDS:
                    columns.append(text.lower())
        self.tables[_name(match.group("name"))] = tuple(columns)

    # -- COPY ----------------------------------------------------------------

    def copy(
        self, it: Iterator[str], header: str, match: re.Match[str]
    ) -> Generator[str, None, list[str]]:
        """The rows of one COPY; returns the lines read past its end (by the
        block reader of :meth:`observe`), which come next."""
        start = self.lineno
        table = _name(match.group("name"))
        cols_text = match.group("cols")
        columns = _columns(cols_text) if cols_text is not None else self.known_columns(table)
        plan = self.plan(table, columns, self.where(start))
        options = match.group("rest").strip()
        if options not in ("", ";") and (plan.items or plan.drop):
            raise DataError(
                f"{self.where(start)}: COPY of {table} has options ({options}); only "
                "pg_dump's default text format can be sanitized; dump without COPY options"
            )
        if columns is None and plan.touched:
            raise self.unknown_columns("COPY", table, start)
        quiet = self.quiet
        if not quiet:
            yield header
        # Rows in another format (COPY options) are only passed through.
        width = len(columns) if columns is not None and options in ("", ";") else -1
        lineno = start
        rows = 0
        items = tuple((item.index, item.copy) for item in plan.items)
        index = -1
        leftover: list[str] = []
        try:
            if quiet or plan.drop or not items:
                emit = not quiet and not plan.drop
                tabs = width - 1
                for line in it:
                    lineno += 1
                    if (
                        tabs < 1
                        or line.count("\t") != tabs
                        or "\\\t" in line
                        or line.endswith("\\\n")
                    ):
                        body, eol = _split_eol(line)
                        if body == "\\.":
                            if not quiet:
                                yield line
                            break
                        if _odd_backslashes(body):
                            fields, body, extra = self.slow_fields(body, it)
                            lineno += extra
                            line = body + eol
                        else:
                            fields = _split_copy(body)
                        if width >= 0 and len(fields) != width:
                            raise self.width_error(table, len(fields), width, lineno, start)
                    rows += 1
                    if emit:
                        yield line
                else:
                    raise self.truncated(table, start)
            elif plan.observe and width > 1 and all(i.block is not None for i in plan.items):
                leftover = yield from self.observe(it, plan, width, start)
                lineno = self.lineno
                rows = self.observed
            elif self.fast is not None and width > 1:
                leftover = yield from self.copy_blocks(it, plan, width, start)
                lineno = self.lineno
                rows = self.copied
            else:
                last = width - 1
                inner = tuple((i, f) for i, f in items if i != last)
                last_fn = next((f for i, f in items if i == last), None)
                for line in it:
                    lineno += 1
                    fields = line.split("\t")
                    if len(fields) != width or last == 0 or "\\\t" in line or line.endswith("\\\n"):
                        # The rare cases: end marker, escaped tabs, a row continued
                        # on the next line, a wrong field count, one column.
                        body, eol = _split_eol(line)
                        if body == "\\.":
                            yield line
                            break
                        if _odd_backslashes(body):
                            fields, body, extra = self.slow_fields(body, it)
                            lineno += extra
                        else:
                            fields = _split_copy(body)
                        if len(fields) != width:
                            raise self.width_error(table, len(fields), width, lineno, start)
                        for index, function in items:
                            fields[index] = function(fields[index])
                        rows += 1
                        yield "\t".join(fields) + eol
                        continue
                    for index, function in inner:
                        fields[index] = function(fields[index])
                    if last_fn is not None:
                        index = last
                        tail = fields[last]
                        if tail[-1:] == "\n" and tail[-2:-1] != "\r":
                            fields[last] = last_fn(tail[:-1]) + "\n"
                        else:
                            core, eol = _split_eol(tail)
                            fields[last] = last_fn(core) + eol
                    rows += 1
                    yield "\t".join(fields)
                else:
                    raise self.truncated(table, start)
        except ValueProblem as exc:
            column = columns[index] if columns is not None and index >= 0 else "?"
            raise self.value_error(lineno, table, column, exc) from None
        finally:
            self.lineno = lineno
        self.sink.count(table, rows, plan.drop)
        return leftover

    def observe(
        self, it: Iterator[str], plan: TablePlan, width: int, start: int
    ) -> Generator[str, None, list[str]]:
        """The rows of a COPY for a sink that only looks (the leak check), a
        block of rows at a time: each column's fields of the block go to its
        item's ``block`` function in one call, split at C speed. A block with
        anything unusual (the end marker, escaped tabs, continued rows,
        ``\\r\\n``, a wrong field count) is read line by line, as
        :meth:`copy` reads. Sets ``lineno`` and ``observed`` (rows); returns
        the lines read past the end marker."""
        # Items that read the rows in place, and the others (given the fields).
        in_place = tuple((item.index, item.rows) for item in plan.items if item.rows is not None)
        blocks = tuple((item.index, item.block) for item in plan.items if item.block is not None)
        given = tuple((i, f) for i, f in blocks if all(i != j for j, _rows in in_place))
        split = _block_columns if self.fast is None else self.fast.columns
        wanted = tuple(index for index, _function in given)
        lineno = start
        rows = 0
        index = -1
        try:
            for block in self.row_blocks(it):
                # the plain rows at the start of the block in one go, the rest line by line
                columns, taken = split(block, width, wanted)
                if taken:
                    head = block if taken == len(block) else block[:taken]
                    try:
                        for (_index, function), fields in zip(given, columns, strict=True):
                            function(fields)
                        for index, rows_of in in_place:
                            rows_of(head, width, index)
                    except ValueProblem:
                        taken = 0  # found again below, on its line
                    else:
                        lineno += taken
                        rows += taken
                        if taken == len(block):
                            continue
                rest = iter(block[taken:] if taken else block)
                for line in rest:
                    lineno += 1
                    fields, _eol, extra = self.read_row(
                        line, rest, it, plan.table, width, start, lineno
                    )
                    if fields is None:
                        return list(rest)
                    lineno += extra
                    for index, function in blocks:
                        function([fields[index]])
                    rows += 1
            raise self.truncated(plan.table, start)
        except ValueProblem as exc:
            column = plan.columns[index] if index >= 0 else "?"
            raise self.value_error(lineno, plan.table, column, exc) from None
        finally:
            self.lineno = lineno
            self.observed = rows
        if False:  # a generator that yields nothing: the rows are not written
            yield ""

    def row_blocks(self, it: Iterator[str]) -> Iterator[list[str]]:
        """The lines of a COPY, a block of up to ``_BLOCK_ROWS`` at a time."""
        while block := list(islice(it, _BLOCK_ROWS)):
            yield block

    def copy_blocks(
        self, it: Iterator[str], plan: TablePlan, width: int, start: int
    ) -> Generator[str, None, list[str]]:
        """The rows of a COPY rewritten a block of rows at a time by the
        compiled ``copy_rows``; a block with anything unusual (the end
        marker, escaped tabs, continued rows, ``\\r\\n``, a wrong field
        count) or a value that raises is read line by line, as :meth:`copy`
        reads. Sets ``lineno`` and ``copied`` (rows); returns the lines read
        past the end marker."""
        assert self.fast is not None
        copy_rows = self.fast.copy_rows
        functions: list[CopyFn | None] = [None] * width
        for item in plan.items:
            functions[item.index] = item.copy_only or item.copy
        by_column = tuple(functions)
        items = tuple((item.index, item.copy) for item in plan.items)
        # The original fields of a block for the items that show them (an
        # observer's): read in place, or split again, once copy_rows took it.
        in_place = tuple((item.index, item.rows) for item in plan.items if item.rows is not None)
        blocks = tuple(
            (item.index, item.block)
            for item in plan.items
            if item.block is not None and item.rows is None
        )
        shown = tuple(index for index, _block in blocks)
        columns = self.fast.columns
        lineno = start
        rows = 0
        index = -1
        try:
            for block in self.row_blocks(it):
                # the plain rows at the start of the block in one go, the rest line by line
                try:
                    out, taken = copy_rows(block, width, by_column)
                except ValueProblem:
                    out, taken = "", 0  # found again below, on its line
                if taken and (blocks or in_place):
                    head = block if taken == len(block) else block[:taken]
                    originals, _taken = columns(head, width, shown)
                    try:
                        for (_index, look), fields in zip(blocks, originals, strict=True):
                            look(fields)
                        for at, rows_of in in_place:
                            rows_of(head, width, at)
                    except ValueProblem:
                        taken = 0  # found again below, on its line
                if taken:
                    lineno += taken
                    rows += taken
                    if self.blocks:
                        yield out
                    else:
                        yield from _lines_of(out)
                    if taken == len(block):
                        continue
                rest = iter(block[taken:] if taken else block)
                for line in rest:
                    lineno += 1
                    fields, eol, extra = self.read_row(
                        line, rest, it, plan.table, width, start, lineno
                    )
                    if fields is None:
                        yield line
                        return list(rest)
                    lineno += extra
                    for index, function in items:
                        fields[index] = function(fields[index])
                    rows += 1
                    yield "\t".join(fields) + eol
            raise self.truncated(plan.table, start)
        except ValueProblem as exc:
            column = plan.columns[index] if index >= 0 else "?"
            raise self.value_error(lineno, plan.table, column, exc) from None
        finally:
            self.lineno = lineno
            self.copied = rows

    def read_row(
        self,
        line: str,
        rest: Iterator[str],
        it: Iterator[str],
        table: str,
        width: int,
        start: int,
        lineno: int,
    ) -> tuple[list[str] | None, str, int]:
        """One line of a COPY read on its own (``rest`` of its block, then
        ``it``, for a row continued on the next lines): its fields (``None``
        at the end marker), its end of line, and how many more lines it took."""
        body, eol = _split_eol(line)
        if body == "\\.":
            return None, eol, 0
        extra = 0
        if _odd_backslashes(body):
            fields, body, extra = self.slow_fields(body, chain(rest, it))
        else:
            fields = _split_copy(body)
        if len(fields) != width:
            raise self.width_error(table, len(fields), width, lineno + extra, start)
        return fields, eol, extra

    def slow_fields(self, body: str, it: Iterator[str]) -> tuple[list[str], str, int]:
        """Split a row with escaped tabs, or one continued on the next line
        (a backslash before the newline)."""
        extra = 0
        while _odd_backslashes(body):
            following = next(it, None)
            if following is None:
                break
            extra += 1
            more, _eol = _split_eol(following)
            body = body + "\n" + more
        return _split_copy(body), body, extra

    def value_error(self, line: int, table: str, column: str, exc: ValueProblem) -> DataError:
        return DataError(
            f"{self.source}:{line}: table {table}, column {column}: {exc}; "
            "fix the rule for that column or the data"
        )

    def width_error(self, table: str, found: int, width: int, line: int, start: int) -> DataError:
        return DataError(
            f"{self.source}:{line}: COPY row of {table} has {found} fields, but its COPY "
            f"header (line {start}) names {width} columns; the dump is damaged or was edited "
            "by hand (fields are separated by one tab, NULL is \\N)"
        )

    def truncated(self, table: str, start: int) -> DataError:
        return DataError(
            f"{self.source}:{start}: the COPY data of {table} that starts here never ends "
            "(no line '\\.' before the end of the file); the dump is truncated, dump it again"
        )

    def unknown_columns(self, what: str, table: str, start: int) -> DataError:
        return DataError(
            f"{self.source}:{start}: {what} into {table} has no column list and the dump has no "
            "CREATE TABLE for it, so its columns are unknown; dump with pg_dump "
            "--column-inserts, or keep the table definitions in the dump"
        )

    # -- INSERT --------------------------------------------------------------

    def insert(
        self, it: Iterator[str], first: str
    ) -> Generator[str, None, tuple[str | None, list[str]]]:
        """One INSERT statement, from its first line; returns what follows its
        end on its last line, and lines read ahead that are not part of it."""
        start = self.lineno
        ahead: list[str] = []
        if not self.backslash_quotes and not self.quiet:
            statement = first
            quotes = first.count("'")
            # A string that goes on over the next lines (an address, a note):
            # read on to where the quotes pair up, for the fast path.
            while quotes % 2 and len(ahead) < _FAST_LINES:
                line = next(it, None)
                if line is None:
                    break
                ahead.append(line)
                quotes += line.count("'")
            if ahead:
                statement = first + "".join(ahead)
            if (
                quotes % 2 == 0
                and "$" not in statement
                and "--" not in statement
                and "/*" not in statement
            ):
                self.lineno = start + len(ahead)
                self.last_insert = None
                fast = self.fast_insert(statement, start)
                if fast is not None:
                    if fast and not self.quiet:
                        yield fast
                    if self.last_insert is None:
                        return None, []
                    unread = yield from self.insert_batch(it, *self.last_insert)
                    return None, unread
                self.lineno = start
        self.flush_observed()
        unread = iter(ahead)
        it = chain(unread, it)
        parts = [first]
        state, end, _opened = _scan(first, 0, _OUT, self.backslash_quotes)
        opened = start
        while end < 0:
            line = next(it, None)
            if line is None:
                if state != _OUT:
                    what = f"a string or quoted name opened on line {opened} is never closed"
                else:
                    what = "there is no ';' before the end of the file"
                raise DataError(
                    f"{self.where(start)}: the INSERT statement that starts here never ends: "
                    f"{what}; the dump is truncated or not valid SQL"
                )
            self.lineno += 1
            parts.append(line)
            state, end, opened_at = _scan(line, 0, state, self.backslash_quotes)
            if opened_at >= 0:
                opened = self.lineno
        remainder: str | None = None
        tail = parts[-1][end:]
        if tail.strip() and not tail.lstrip().startswith("--"):
            parts[-1] = parts[-1][:end]
            remainder = tail
        statement = "".join(parts)
        out = self.rewrite_insert(statement, start)
        if out and not self.quiet:
            yield out
        return remainder, list(unread)

    def column_list(self, text: str) -> tuple[str, ...]:
        found = self.column_lists.get(text)
        if found is None:
            if len(self.column_lists) > 1000:
                self.column_lists.clear()
            found = self.column_lists[text] = _columns(text)
        return found

    def flush_counts(self) -> None:
        for (table, dropped), rows in self.insert_rows.items():
            self.sink.count(table, rows, dropped)
        self.insert_rows.clear()

    def fast_insert(self, line: str, start: int) -> str | None:
        """A one-line, one-row INSERT with plain literals (what pg_dump --inserts
        writes), rewritten without the tokenizer; ``None``: take the slow path."""
        lead = len(line) - len(line.lstrip())
        match = _INSERT_RE.match(line, lead)
        if match is None:
            return None
        literals = _row_literals(line, match.end())
        if literals is None:
            return None
        raw_name = match.group("name")
        table = self.names.get(raw_name)
        if table is None:
            if len(self.names) > 1000:
                self.names.clear()
            table = self.names[raw_name] = _name(raw_name)
        cols_text = match.group("cols")
        columns = self.column_list(cols_text) if cols_text is not None else None
        if columns is None:
            columns = self.known_columns(table)
            if columns is None:
                return None
        plan = self.plans.get((table, columns))
        if plan is None:
            plan = self.plan(table, columns, self.where(start), complete=cols_text is None)
        if self.quiet:
            return line
        if len(literals) != len(columns):
            return None  # the slow path says what is wrong
        counted = (table, plan.drop)
        self.insert_rows[counted] = self.insert_rows.get(counted, 0) + 1
        if self.fast is not None and (
            not plan.observe or all(item.block is not None for item in plan.items)
        ):
            self.last_insert = (plan, line[: match.end()])
        if plan.drop:
            return ""
        if not plan.items:
            return line
        if plan.observe and all(item.block is not None for item in plan.items):
            if plan is not self.observed_plan:
                self.flush_observed()
                self.observed_plan = plan
            values = [_plain_literal(line[slice(*literals[item.index])]) for item in plan.items]
            self.observed_rows.append((start, values))
            if len(self.observed_rows) >= _BLOCK_ROWS:
                self.flush_observed()
            return ""  # a sink that only looks: nothing is written
        pieces: list[str] = []
        pos = 0
        for item in plan.items:
            begin, end = literals[item.index]
            text = line[begin:end]
            quoted = text[0] == "'"
            original = _plain_literal(text)
            try:
                new = item.value(original)
            except ValueProblem as exc:
                raise self.value_error(start, table, item.column, exc) from None
            pieces.append(line[pos:begin])
            pieces.append(self.encode_literal(new, quoted))
            pos = end
        pieces.append(line[pos:])
        return "".join(pieces)

    def insert_batch(
        self, it: Iterator[str], plan: TablePlan, prefix: str
    ) -> Generator[str, None, list[str]]:
        """The one-line INSERTs that follow one fast_insert() took, into the
        same table with the same text before the row, rewritten (or, for a
        sink that only looks, handed to the block functions) a block of lines
        at a time by the compiled ``insert_rows``; returns the lines it did
        not take (the first of them ends the batch: another statement, a
        string over several lines, anything unusual), which are read as
        usual. A value that raises sends the whole block back, to be read
        line by line, where the error names its line."""
        assert self.fast is not None
        insert_rows = self.fast.insert_rows
        width = len(plan.columns)
        functions: tuple[object, ...] | None = None  # None: nothing is written
        looks = tuple(item for item in plan.items if item.block is not None)
        if not (plan.drop or plan.observe):
            by_column: list[object] = [None] * width
            for item in plan.items:
                change = item.copy_only or item.copy
                by_column[item.index] = (
                    change if isinstance(change, self.fast.Keyed) else item.value_only or item.value
                )
            functions = tuple(by_column)
        shown = tuple(item.index for item in looks)
        counted = (plan.table, plan.drop)
        while True:
            block = list(islice(it, _BLOCK_ROWS))
            if not block:
                return []
            try:
                out, done, rows, fields = insert_rows(block, prefix, width, functions, shown)
                for item, values in zip(looks, fields, strict=True):
                    assert item.block is not None
                    item.block(values)
            except ValueProblem:
                return block
            self.lineno += done
            self.insert_rows[counted] = self.insert_rows.get(counted, 0) + rows
            if out:
                yield out
            if done < len(block):
                return block[done:]

    def flush_observed(self) -> None:
        """Hand the values of the one-line INSERTs kept for a sink that only
        looks to its items' block functions, as COPY fields (as ``observe``
        does for a COPY). A value that raises is found again row by row, for
        the error to name its line."""
        plan, rows = self.observed_plan, self.observed_rows
        if plan is None or not rows:
            return
        self.observed_rows = []
        try:
            for i, item in enumerate(plan.items):
                assert item.block is not None
                item.block([_copy_field(values[i]) for _line, values in rows])
        except ValueProblem:
            for line, values in rows:
                for i, item in enumerate(plan.items):
                    try:
                        item.value(values[i])
                    except ValueProblem as exc:
                        raise self.value_error(line, plan.table, item.column, exc) from None
            raise  # pragma: no cover - a block raised what no value raises

    def tokens(self, statement: str, pos: int) -> list[Token]:
        regex = _TOKEN_OLD if self.backslash_quotes else _TOKEN_STD
        return [
            (str(m.lastgroup), m.start(), m.end())
            for m in regex.finditer(statement, pos)
            if m.lastgroup != "ws"
        ]

    def rewrite_insert(self, statement: str, start: int) -> str:
        lead = len(statement) - len(statement.lstrip())
        match = _INSERT_RE.match(statement, lead)
        where = self.where(start)
        if match is None:
            named = _INSERT_NAME_RE.match(statement, lead)
            if named is not None:
                table = _name(named.group("name"))
                if self.plan(table, None, where).touched:
                    raise DataError(
                        f"{where}: cannot sanitize this INSERT into {table}: only INSERT ... "
                        "VALUES with literal values can be; dump with pg_dump --column-inserts"
                    )
            return statement
        table = _name(match.group("name"))
        cols_text = match.group("cols")
        columns = _columns(cols_text) if cols_text is not None else self.known_columns(table)
        plan = self.plan(table, columns, where, complete=cols_text is None)
        if columns is None:
            if plan.touched:
                raise self.unknown_columns("INSERT", table, start)
            return statement
        if self.quiet:
            return statement
        rows = self.parse_rows(statement, match.end(), start, table)
        for row, row_line in rows:
            if len(row) != len(columns):
                raise DataError(
                    f"{self.source}:{row_line}: an INSERT row of {table} has {len(row)} values "
                    f"for {len(columns)} columns; fix the statement"
                )
        self.sink.count(table, len(rows), plan.drop)
        if plan.drop:
            return ""
        if not plan.items:
            return statement
        pieces: list[str] = []
        pos = 0
        for row, row_line in rows:
            for item in plan.items:
                value = row[item.index]
                try:
                    literal = self.literal(statement, value)
                    if literal is None:
                        raise ValueProblem(
                            "value is an expression, not a literal; only literals can be "
                            "sanitized (dump with pg_dump --column-inserts)"
                        )
                    original, quoted, suffix = literal
                    new = item.value(original)
                except ValueProblem as exc:
                    raise self.value_error(row_line, table, item.column, exc) from None
                pieces.append(statement[pos : value.start])
                pieces.append(self.encode_literal(new, quoted) + suffix)
                pos = value.end
        pieces.append(statement[pos:])
        return "".join(pieces)

    def parse_rows(
        self, statement: str, pos: int, start: int, table: str
    ) -> list[tuple[list[_Value], int]]:
        tokens = self.tokens(statement, pos)
        rows: list[tuple[list[_Value], int]] = []
        i = 0
        count = len(tokens)
        while i < count:
            _kind, tstart, tend = tokens[i]
            if statement[tstart:tend] != "(":
                raise DataError(
                    f"{self.source}:{start + statement.count(chr(10), 0, tstart)}: INSERT into "
                    f"{table}: expected '(' to start a row of VALUES; fix the statement"
                )
            row_line = start + statement.count("\n", 0, tstart)
            i += 1
            depth = 1
            row: list[_Value] = []
            current: list[Token] = []
            while i < count:
                token = tokens[i]
                text = statement[token[1] : token[2]]
                i += 1
                if token[0] == "punct":
                    if text in "([":
                        depth += 1
                    elif text in ")]":
                        depth -= 1
                        if depth == 0:
                            if current:
                                row.append(_Value(current))
                            break
                    elif text == "," and depth == 1:
                        if current:
                            row.append(_Value(current))
                        current = []
                        continue
                current.append(token)
            rows.append((row, row_line))
            if i < count and statement[tokens[i][1] : tokens[i][2]] == ",":
                i += 1
                continue
            break
        return rows

    def literal(self, statement: str, value: _Value) -> tuple[str | None, bool, str] | None:
        """(decoded value or None for NULL, was it quoted, cast suffix); None for
        anything that is not a literal."""
        tokens = value.tokens
        kind, start, end = tokens[0]
        text = statement[start:end]
        suffix = ""
        if len(tokens) > 1:
            if tokens[1][0] != "cast" or kind not in ("str", "estr"):
                return None
            suffix = statement[tokens[1][1] : value.end]
        if kind == "str":
            inner = text[1:-1]
            if self.backslash_quotes:
                return _E_ESCAPE.sub(_e_unescape, inner), True, suffix
            return inner.replace("''", "'"), True, suffix
        if kind == "estr":
            return _E_ESCAPE.sub(_e_unescape, text[2:-1]), True, suffix
        if kind == "word":
            upper = text.upper()
            if upper == "NULL":
                return None, False, ""
            if upper == "DEFAULT":
                return None
            return text, False, ""
        return None

    def encode_literal(self, value: str | None, quoted: bool) -> str:
        if value is None:
            return "NULL"
        if not quoted and _NUMBER.fullmatch(value):
            return value
        if self.backslash_quotes:
            return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
        return "'" + value.replace("'", "''") + "'"


def _block_columns(
    block: list[str], width: int, wanted: tuple[int, ...]
) -> tuple[tuple[list[str], ...], int]:
    """The fields of the columns ``wanted`` of a block of plain COPY rows
    and how many rows they are (the whole block, or none when a line is
    anything else), split at C speed by ``str``'s methods: what
    ``_fastcopy.columns`` does when it is built, for the rows at the start."""
    n = len(block)
    joined = "".join(block)
    tabs = width - 1
    if (
        joined.count("\n") != n
        or joined.count("\t") != tabs * n
        or "\\\t" in joined
        or "\\\n" in joined
        or "\r" in joined
        or list(map(str.count, block, repeat("\t"))).count(tabs) != n
    ):
        return (), 0
    flat = joined.replace("\n", "\t").split("\t")
    end = width * n
    return tuple(flat[index:end:width] for index in wanted), n


def _lines_of(block: str) -> Iterator[str]:
    """The lines of a block of COPY rows, each with its newline."""
    lines = block.split("\n")
    lines.pop()  # the empty string after the last newline
    return (line + "\n" for line in lines)


def _split_eol(line: str) -> tuple[str, str]:
    if line.endswith("\r\n"):
        return line[:-2], "\r\n"
    if line.endswith("\n"):
        return line[:-1], "\n"
    return line, ""


def process_pgdump(
    lines: Iterable[str], sink: Sink, source: str, *, quiet: bool = False, blocks: bool = False
) -> Iterator[str]:
    """Rewrite a pg_dump plain-format stream line by line through ``sink``.

    With ``quiet``, nothing is written: the input is only read (for header
    checks). With ``blocks``, the output may come as strings of many lines
    (for a file: fewer, larger writes). ``sink.finish()`` is called at the
    end of the input.
    """
    return _PgDump(sink, source, quiet=quiet, blocks=blocks).run(lines)
