"""The sanitizer: rules + salt applied to a stream, and the file-level API."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal

from pytest_ephemeral.errors import DataError

from ._csv import process_csv
from ._io import Format, atomic_output, decode_error, detect_format, open_input, table_from_path
from ._native import fastcopy
from ._pgdump import copy_decode, copy_encode, process_pgdump
from ._plan import CopyFn, PlanItem, Sink, TablePlan, ValueFn
from ._rules import Keep, Rules, TableRule, Transform
from ._salt import MIN_SALT_BYTES
from ._transforms import Compiled, HashState, Render, compile_transform, redraw

__all__ = [
    "SanitizeReport",
    "SanitizeStream",
    "check_rules",
    "sanitize_file",
    "sanitize_stream",
]

#: Replacements remembered per transformation (value -> output); the cache is
#: emptied when full, which keeps memory flat whatever the input size.
CACHE_SIZE: Final = 4096


@dataclass(frozen=True, slots=True)
class SanitizeReport:
    """What a sanitization did.

    ``rows``: rows read per table, in the order the tables came;
    ``dropped``: rows removed per table (``drop: true``);
    ``columns``: the columns that were transformed, per table;
    ``elapsed``: wall-clock seconds.
    """

    rows: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    dropped: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    columns: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    elapsed: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.elapsed if self.elapsed > 0 else 0.0

    def summary(self) -> str:
        """One line: rows, tables, time and rate."""
        tables = len(self.rows)
        dropped = sum(self.dropped.values())
        extra = f", {dropped:,} dropped" if dropped else ""
        return (
            f"{self.total_rows:,} rows in {tables} table{'s' if tables != 1 else ''}{extra}, "
            f"{sum(len(c) for c in self.columns.values())} columns transformed, "
            f"{self.elapsed:.2f} s ({self.rows_per_second:,.0f} rows/s)"
        )


class _SanitizeSink:
    """Applies the rules; collects coverage problems to report them all at once."""

    def __init__(
        self,
        rules: Rules,
        salt: bytes | None,
        source: str,
        *,
        whole_input: bool,
        observer: Sink | None = None,
    ) -> None:
        self.rules = rules
        self.observer = observer
        self.salt = salt
        self.source = source
        self.whole_input = whole_input
        self.problems: list[str] = []
        self.uncovered: dict[str, tuple[str, list[str]]] = {}
        self.seen: set[str] = set()
        self.rows: dict[str, int] = {}
        self.dropped: dict[str, int] = {}
        self.columns: dict[str, tuple[str, ...]] = {}
        self.functions: dict[Transform, tuple[CopyFn, ValueFn]] = {}
        self.native = fastcopy()
        # Column lists of INSERTs may leave columns out: a rule's column is
        # missing only if no INSERT of the table names it (checked at the end).
        self.partial: dict[str, tuple[TableRule, str, set[str]]] = {}
        self.complete: set[str] = set()

    @property
    def failed(self) -> bool:
        return bool(self.problems or self.uncovered)

    def plan(
        self, table: str, columns: tuple[str, ...] | None, where: str, *, complete: bool = True
    ) -> TablePlan:
        rule = self.rules.lookup(table)
        if rule is not None:
            self.seen.add(rule.name)
        default = self.rules.default_for(rule)
        if rule is not None and rule.drop:
            return TablePlan(table, columns or (), drop=True, touched=True)
        if columns is None:
            changes = rule is not None and any(
                not isinstance(col.transform, Keep) for col in rule.columns.values()
            )
            return TablePlan(table, (), touched=changes or default == "refuse")
        self.check(table, rule, columns, default, where, complete)
        if self.failed or self.salt is None:
            return TablePlan(table, columns, touched=True)
        items: list[PlanItem] = []
        for index, column in enumerate(columns):
            col_rule = rule.columns.get(column) if rule is not None else None
            if col_rule is None or isinstance(col_rule.transform, Keep):
                continue
            copy, value = self.compiled(col_rule.transform, self.salt)
            items.append(PlanItem(index, column, copy, value))
        known = self.columns.get(table, ())
        self.columns[table] = known + tuple(i.column for i in items if i.column not in known)
        touched = bool(items)
        if self.observer is not None:
            shown = self.observer.plan(table, columns, where, complete=complete)
            items = _observed(items, shown.items)
        return TablePlan(table, columns, tuple(items), touched=touched)

    def check(
        self,
        table: str,
        rule: TableRule | None,
        columns: tuple[str, ...],
        default: str,
        where: str,
        complete: bool,
    ) -> None:
        if rule is not None and complete:
            self.complete.add(table)
            self.missing_columns(table, rule, columns, where)
        elif rule is not None:
            _rule, _where, seen = self.partial.setdefault(table, (rule, where, set()))
            seen.update(columns)
        if default == "refuse":
            uncovered = [c for c in columns if rule is None or c not in rule.columns]
            if uncovered:
                _where, known = self.uncovered.setdefault(table, (where, []))
                known.extend(c for c in uncovered if c not in known)

    def missing_columns(
        self, table: str, rule: TableRule, columns: Iterable[str], where: str
    ) -> None:
        known = tuple(columns)
        for name in rule.columns:
            if name in known:
                continue
            message = (
                f"{self.rules.path}:{rule.columns[name].line}: column {name!r} of table "
                f"{table} is not in the input ({where} has: {', '.join(known)}); "
                "fix the column name or remove its rule"
            )
            if message not in self.problems:
                self.problems.append(message)

    def compiled(self, transform: Transform, salt: bytes) -> tuple[CopyFn, ValueFn]:
        found = self.functions.get(transform)
        if found is None:
            compiled = compile_transform(transform, salt)
            if compiled is None:  # keep; never planned
                raise DataError(f"{self.rules.path}: internal error: keep compiled")
            copy, value = _copy_function(compiled), _value_function(compiled)
            native = compiled.native
            if self.native is not None and native is not None and native[2] in self.native.KINDS:
                # The same function, compiled; the Python one takes what it leaves.
                key, label, kind, param = native
                keyed = self.native.Keyed(
                    key, label, kind, param, compiled.redraws, compiled.safe, copy, compiled.fn
                )
                copy, value = keyed, keyed.value
            found = (copy, value)
            self.functions[transform] = found
        return found

    def count(self, table: str, rows: int, dropped: bool) -> None:
        self.rows[table] = self.rows.get(table, 0) + rows
        if dropped:
            self.dropped[table] = self.dropped.get(table, 0) + rows

    def finish(self) -> None:
        for table, (rule, where, seen) in self.partial.items():
            if table not in self.complete:
                self.missing_columns(table, rule, sorted(seen), where)
        if self.whole_input:
            for name, rule in self.rules.tables.items():
                if name not in self.seen and not rule.optional:
                    self.problems.append(
                        f"{self.rules.path}:{rule.line}: table {name!r} is not in {self.source}; "
                        "fix the table name, remove its rules, or mark it 'optional: true'"
                    )
        if not self.failed:
            return
        parts: list[str] = []
        if self.uncovered:
            total = sum(len(cols) for _, cols in self.uncovered.values())
            listing = "; ".join(
                f"{table} ({where}): {', '.join(cols)}"
                for table, (where, cols) in self.uncovered.items()
            )
            first = next(iter(self.uncovered.values()))[1][0]
            parts.append(
                f"{self.rules.path}: default is refuse, but {total} column"
                f"{'s' if total != 1 else ''} of the input have no rule: {listing}; add a rule "
                f"for each (e.g. '{first}: keep' under the table's columns) or set "
                "'default: keep'"
            )
        parts.extend(self.problems)
        if len(parts) == 1:
            raise DataError(parts[0])
        raise DataError(f"{len(parts)} problems with the rules: " + " | ".join(parts))

    def report(self, elapsed: float) -> SanitizeReport:
        return SanitizeReport(
            rows=MappingProxyType(dict(self.rows)),
            dropped=MappingProxyType(dict(self.dropped)),
            columns=MappingProxyType(dict(self.columns)),
            elapsed=elapsed,
        )


def _observed(items: list[PlanItem], shown: tuple[PlanItem, ...]) -> list[PlanItem]:
    """``items`` that also show the original values of the columns of
    ``shown`` (the plan of an observer: its functions look and return what
    they got) before changing them; a shown column no item changes gets an
    item that only shows."""
    by_index = {item.index: item for item in items}
    for look in shown:
        item = by_index.get(look.index)
        if item is None:
            by_index[look.index] = PlanItem(
                look.index, look.column, look.copy, look.value, look.block, rows=look.rows
            )
            continue
        by_index[look.index] = PlanItem(
            item.index,
            item.column,
            _both_copy(look.copy, item.copy),
            _both_value(look.value, item.value),
            look.block,
            item.copy,
            item.value,
            look.rows,
        )
    return [by_index[index] for index in sorted(by_index)]


def _both_copy(show: CopyFn, change: CopyFn) -> CopyFn:
    def copy(raw: str) -> str:
        show(raw)
        return change(raw)

    return copy


def _both_value(show: ValueFn, change: ValueFn) -> ValueFn:
    def value(original: str | None) -> str | None:
        show(original)
        return change(original)

    return value


def _copy_function(compiled: Compiled) -> CopyFn:
    if compiled.keyed is not None and compiled.render is not None:
        return _keyed_copy_function(
            compiled.keyed, compiled.render, compiled.safe, compiled.redraws
        )
    fn = compiled.fn
    safe = compiled.safe
    echoes = compiled.echoes
    null_out = "\\N" if compiled.on_null is None else copy_encode(compiled.on_null)
    cache: dict[str, str] = {}
    get = cache.get
    limit = CACHE_SIZE

    def copy(raw: str) -> str:
        out = get(raw)
        if out is not None:
            return out
        if raw == "\\N":
            return null_out
        if "\\" in raw:
            new = fn(copy_decode(raw))
            plain = False
        else:
            new = fn(raw)
            plain = echoes  # a raw field without escapes has no special characters
        if new is None:
            out = "\\N"
        elif safe or plain:
            out = new
        else:
            out = copy_encode(new)
        if len(cache) >= limit:
            cache.clear()
        cache[raw] = out
        return out

    return copy


def _keyed_copy_function(
    keyed: tuple[HashState, HashState], render: Render, safe: bool, redraws: bool = False
) -> CopyFn:
    """The hot path: ``render(HMAC(salt, label + value), value)`` with the HMAC
    inlined, the COPY decoding skipped for fields without escapes, and a cache
    that turns itself off when the values do not repeat (unique columns)."""
    inner_copy = keyed[0].copy
    outer_copy = keyed[1].copy
    cache: dict[str, str] = {}
    get = cache.get
    limit = CACHE_SIZE
    caching = True
    hits = 0

    def copy(raw: str) -> str:
        nonlocal caching, hits
        if caching:
            out = get(raw)
            if out is not None:
                hits += 1
                return out
        if raw == "\\N":
            return raw
        if "\\" in raw:
            value = copy_decode(raw)
            h = inner_copy()
            h.update(value.encode())
            o = outer_copy()
            o.update(h.digest())
            digest = o.digest()
            out = render(digest, value)
            if redraws and out == value:
                out = redraw(render, digest, value)
            if not safe:
                out = copy_encode(out)
        else:
            # No escapes: the value is the raw text, and it has no characters
            # that need escaping, so neither has an output that only echoes them.
            h = inner_copy()
            h.update(raw.encode())
            o = outer_copy()
            o.update(h.digest())
            digest = o.digest()
            out = render(digest, raw)
            if redraws and out == raw:
                out = redraw(render, digest, raw)
        if caching:
            if len(cache) >= limit:
                cache.clear()
                # Fewer than 1 hit in 16 lookups since the last fill: stop caching.
                caching = hits * 16 >= limit
                hits = 0
            cache[raw] = out
        return out

    return copy


def _value_function(compiled: Compiled) -> ValueFn:
    fn = compiled.fn
    on_null = compiled.on_null

    def value(original: str | None) -> str | None:
        return on_null if original is None else fn(original)

    return value


# ---------------------------------------------------------------------- streams


class SanitizeStream(Iterator[str]):
    """The sanitized lines; :attr:`report` tells what was done so far."""

    def __init__(self, lines: Iterator[str], sink: _SanitizeSink) -> None:
        self._lines = lines
        self._sink = sink
        self._start = time.perf_counter()

    def __iter__(self) -> Iterator[str]:
        return self._lines

    def __next__(self) -> str:
        return next(self._lines)

    @property
    def report(self) -> SanitizeReport:
        return self._sink.report(time.perf_counter() - self._start)


def _check_salt(salt: bytes) -> None:
    if not isinstance(salt, bytes) or len(salt) < MIN_SALT_BYTES:
        raise DataError(
            f"the salt must be at least {MIN_SALT_BYTES} bytes; get it with resolve_salt() "
            "from the environment or a salt file"
        )


def _peek_format(lines: Iterable[str]) -> tuple[Literal["pgdump", "csv"], Iterator[str]]:
    it = iter(lines)
    seen: list[str] = []
    fmt: Literal["pgdump", "csv"] = "csv"
    for line in it:
        seen.append(line)
        stripped = line.strip()
        if stripped:
            upper = stripped.upper()
            if upper.startswith(("--", "\\", "SET ", "COPY ", "INSERT ", "CREATE ", "SELECT ")):
                fmt = "pgdump"
            break
    return fmt, chain(seen, it)


def _process(
    lines: Iterable[str],
    sink: Sink,
    fmt: Literal["pgdump", "csv"],
    table: str | None,
    source: str,
    *,
    quiet: bool = False,
    blocks: bool = False,
) -> Iterator[str]:
    if fmt == "csv":
        if table is None:
            raise DataError(f"{source}: CSV input needs a table name (--table / table=)")
        return process_csv(lines, sink, source, table, quiet=quiet)
    return process_pgdump(lines, sink, source, quiet=quiet, blocks=blocks)


def sanitize_stream(
    lines: Iterable[str],
    rules: Rules,
    salt: bytes,
    *,
    fmt: Format = "pgdump",
    table: str | None = None,
    source: str = "<stream>",
) -> SanitizeStream:
    """Sanitize ``lines`` (text lines, each ending in a newline) as they come.

    Memory stays flat whatever the input size. Problems with the rules are
    raised as a :class:`DataError` as soon as the output would be wrong —
    i.e. after some lines may already have been produced; use
    :func:`check_rules` first, or :func:`sanitize_file`, when nothing may be
    loaded half-way. ``source`` names the input in error messages.
    """
    _check_salt(salt)
    if fmt == "auto":
        detected, lines = _peek_format(lines)
    else:
        detected = fmt
    sink = _SanitizeSink(rules, salt, source, whole_input=detected == "pgdump")
    return SanitizeStream(_process(lines, sink, detected, table, source), sink)


def sanitize_file(
    input: Path,
    output: Path,
    rules: Rules,
    *,
    salt: bytes,
    fmt: Format = "auto",
    table: str | None = None,
    observer: Sink | None = None,
) -> SanitizeReport:
    """Sanitize ``input`` into ``output`` (same format), all or nothing.

    The output is written to a temporary file next to ``output`` and renamed
    when everything succeeded; on any error ``output`` is left as it was.
    Every coverage problem (unruled columns with ``default: refuse``, rules
    naming tables or columns the input lacks) is reported in one error.
    ``*.gz`` files are read and written gzipped. For CSV, ``table`` defaults
    to the file name without its suffix.

    ``observer``: another sink that is shown the original values of the
    columns it chooses as they are read, in the same pass (the leak check's
    collection of originals, :meth:`OriginalIndex.collector`).
    """
    _check_salt(salt)
    input, output = Path(input), Path(output)
    detected = detect_format(input, fmt)
    if output.exists() and output.resolve() == input.resolve():
        raise DataError(f"{output}: the output must not be the input; write to another file")
    if detected == "csv" and table is None:
        table = table_from_path(input)
    sink = _SanitizeSink(
        rules, salt, str(input), whole_input=detected == "pgdump", observer=observer
    )
    start = time.perf_counter()
    with open_input(input) as src:
        try:
            with atomic_output(output) as dst:
                dst.writelines(_process(src, sink, detected, table, str(input), blocks=True))
        except UnicodeDecodeError as exc:
            raise decode_error(input, exc) from None
    return sink.report(time.perf_counter() - start)


def check_rules(
    input: Path,
    rules: Rules,
    *,
    fmt: Format = "auto",
    table: str | None = None,
) -> None:
    """Check ``rules`` against the tables and columns of ``input`` without
    writing anything: every problem in one :class:`DataError`. Reads the
    whole input (quickly: COPY rows are only counted)."""
    input = Path(input)
    detected = detect_format(input, fmt)
    if detected == "csv" and table is None:
        table = table_from_path(input)
    sink = _SanitizeSink(rules, None, str(input), whole_input=detected == "pgdump")
    with open_input(input) as src:
        try:
            for _ in _process(src, sink, detected, table, str(input), quiet=True):
                pass
        except UnicodeDecodeError as exc:
            raise decode_error(input, exc) from None
