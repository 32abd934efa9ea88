"""The leak check: no original value of a sanitized column may survive.

Originals are collected from the input as keyed 64-bit hashes (never as
text) in a compact open-addressing table; then every value of the output, or
of a live database, is hashed the same way and looked up. A hit is reported
as the table and column it was found in, the columns it came from and how
many values — never the value.

Which originals are collected:
  every value of a column whose rule is not ``keep`` or ``noise`` and does not
  say ``leak_check: false``, except NULL, values shorter than 4 characters
  (ignoring surrounding blanks) and values equal to a ``fixed:`` constant of
  the rules. Rows of ``drop: true`` tables are not collected.

Where they are searched for:
  every column of every table, except columns whose rule produces values that
  can equal an original by coincidence: ``fake`` of a kind drawn from short
  word lists (names, cities, phone numbers... see ``VOCABULARY_KINDS``),
  ``hash: {keep_format: true}`` (same shape as the original), ``noise``,
  ``fixed`` and ``null``. Kept columns (explicitly or by ``default: keep``)
  are always searched: they are where copies of sensitive data hide.

Matches are whole values, compared exactly; an original inside a longer text
is not found.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import secrets
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pytest_ephemeral.errors import DataError

from ._engine import _process
from ._fakes import VOCABULARY_KINDS
from ._io import Format, decode_error, detect_format, open_input, table_from_path
from ._pgdump import copy_decode
from ._plan import CopyFn, PlanItem, TablePlan, ValueFn
from ._rules import Fake, Fixed, Hash, Keep, Noise, Null, Rules, Transform

__all__ = [
    "MIN_LEAK_LENGTH",
    "Leak",
    "LeakError",
    "OriginalIndex",
    "check_leaks",
    "check_leaks_files",
    "collect_originals",
    "raise_for_leaks",
]

#: Originals shorter than this (after stripping blanks) are not searched for:
#: "NY", "42" or "yes" turn up everywhere by coincidence.
MIN_LEAK_LENGTH: Final = 4


@dataclass(frozen=True, slots=True)
class Leak:
    """``count`` values found in ``table.column`` that are originals of ``sources``."""

    table: str
    column: str
    count: int
    sources: tuple[str, ...]

    def __str__(self) -> str:
        plural = "s" if self.count != 1 else ""
        return (
            f"{self.count} original value{plural} of {', '.join(self.sources)} "
            f"found in {self.table}.{self.column}"
        )


class LeakError(DataError):
    """The leak check found original values in sanitized data."""

    def __init__(self, message: str, leaks: Iterable[Leak]) -> None:
        super().__init__(message)
        self.leaks = tuple(leaks)


def _collected(transform: Transform) -> bool:
    return not isinstance(transform, Keep | Noise)


def _searched(transform: Transform) -> bool:
    if isinstance(transform, Null | Fixed | Noise):
        return False
    if isinstance(transform, Fake):
        return transform.kind not in VOCABULARY_KINDS
    if isinstance(transform, Hash):
        return not transform.keep_format
    return True


class OriginalIndex:
    """A set of original values, kept as keyed 64-bit hashes (15-30 bytes each).

    The hash key is random per index unless one is given, so the hashes mean
    nothing outside this process. ``rules`` decides which columns are
    collected (:meth:`collects`) and searched (:meth:`searches`).
    """

    __slots__ = (
        "_count",
        "_ids",
        "_key",
        "_keys",
        "_mask",
        "_skip",
        "_slots",
        "rules",
        "sources",
    )

    def __init__(self, rules: Rules, *, key: bytes | None = None) -> None:
        self.rules = rules
        self.sources: list[str] = []
        self._ids: dict[str, int] = {}
        self._key = key[:64] if key else secrets.token_bytes(32)
        self._skip = rules.fixed_values
        capacity = 1 << 12
        self._mask = capacity - 1
        self._keys = array("Q", bytes(8 * capacity))
        self._slots = array("H", bytes(2 * capacity))
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and self.source_of(value) is not None

    def _rule(self, table: str, column: str) -> Transform:
        rule = self.rules.lookup(table)
        if rule is None or rule.drop:
            return Keep()
        col = rule.columns.get(column)
        return Keep() if col is None else col.transform

    def collects(self, table: str, column: str) -> bool:
        """Whether originals of ``table.column`` belong in the index."""
        rule = self.rules.lookup(table)
        if rule is None or rule.drop:
            return False
        col = rule.columns.get(column)
        return col is not None and col.leak_check and _collected(col.transform)

    def searches(self, table: str, column: str) -> bool:
        """Whether sanitized values of ``table.column`` are looked up."""
        return _searched(self._rule(table, column))

    def _hash(self, value: str) -> int:
        digest = hashlib.blake2b(value.encode(), key=self._key, digest_size=8).digest()
        return int.from_bytes(digest, "little") or 1

    def _wanted(self, value: str) -> bool:
        return (
            len(value) >= MIN_LEAK_LENGTH
            and len(value.strip()) >= MIN_LEAK_LENGTH
            and value not in self._skip
        )

    def add(self, source: str, value: str | None) -> None:
        """Remember ``value`` as an original of ``source`` (``"table.column"``)."""
        if value is None or not self._wanted(value):
            return
        ident = self._ids.get(source)
        if ident is None:
            ident = min(len(self.sources), 0xFFFF)
            self._ids[source] = ident
            self.sources.append(source)
        digest = self._hash(value)
        keys = self._keys
        mask = self._mask
        slot = digest & mask
        while True:
            found = keys[slot]
            if found == 0:
                keys[slot] = digest
                self._slots[slot] = ident
                self._count += 1
                if self._count * 3 > (mask + 1) * 2:
                    self._grow()
                return
            if found == digest:
                return
            slot = (slot + 1) & mask

    def source_of(self, value: str) -> str | None:
        """The column ``value`` is an original of, or ``None``."""
        if not self._wanted(value):
            return None
        digest = self._hash(value)
        keys = self._keys
        mask = self._mask
        slot = digest & mask
        while True:
            found = keys[slot]
            if found == 0:
                return None
            if found == digest:
                return self.sources[self._slots[slot]]
            slot = (slot + 1) & mask

    def _grow(self) -> None:
        old_keys, old_slots = self._keys, self._slots
        capacity = 2 * len(old_keys)
        mask = capacity - 1
        keys = array("Q", bytes(8 * capacity))
        slots = array("H", bytes(2 * capacity))
        for digest, ident in zip(old_keys, old_slots, strict=True):
            if digest:
                slot = digest & mask
                while keys[slot]:
                    slot = (slot + 1) & mask
                keys[slot] = digest
                slots[slot] = ident
        self._keys, self._slots, self._mask = keys, slots, mask


Chooser = Callable[[str, str], bool]
Recorder = Callable[[str, str, "str | None"], None]


class _Hits:
    def __init__(self, index: OriginalIndex) -> None:
        self.index = index
        self.found: dict[tuple[str, str], dict[str, int]] = {}

    def look(self, table: str, column: str, value: str | None) -> None:
        if value is None:
            return
        source = self.index.source_of(value)
        if source is not None:
            per_source = self.found.setdefault((table, column), {})
            per_source[source] = per_source.get(source, 0) + 1

    def leaks(self) -> list[Leak]:
        return [
            Leak(table, column, sum(sources.values()), tuple(sorted(sources)))
            for (table, column), sources in sorted(self.found.items())
        ]


def _recording_copy(record: ValueFn) -> CopyFn:
    def copy(raw: str) -> str:
        if raw != "\\N":
            record(copy_decode(raw) if "\\" in raw else raw)
        return raw

    return copy


class _ValueSink:
    """Calls ``record(table, column, value)`` for the chosen columns; changes nothing."""

    def __init__(self, choose: Chooser, record: Recorder) -> None:
        self.choose = choose
        self.record = record

    @property
    def failed(self) -> bool:
        return False

    def plan(
        self, table: str, columns: tuple[str, ...] | None, where: str, *, complete: bool = True
    ) -> TablePlan:
        if columns is None:
            return TablePlan(table, ())
        items: list[PlanItem] = []
        for index, column in enumerate(columns):
            if self.choose(table, column):
                value = self.recorder(table, column)
                items.append(PlanItem(index, column, _recording_copy(value), value))
        return TablePlan(table, columns, tuple(items))

    def recorder(self, table: str, column: str) -> ValueFn:
        record = self.record

        def value(original: str | None) -> str | None:
            record(table, column, original)
            return original

        return value

    def count(self, table: str, rows: int, dropped: bool) -> None:
        pass

    def finish(self) -> None:
        pass


def _scan_file(
    path: Path,
    choose: Chooser,
    record: Recorder,
    fmt: Format,
    table: str | None,
) -> None:
    detected = detect_format(path, fmt)
    if detected == "csv" and table is None:
        table = table_from_path(path)
    sink = _ValueSink(choose, record)
    with open_input(path) as src:
        try:
            collections.deque(_process(src, sink, detected, table, str(path)), maxlen=0)
        except UnicodeDecodeError as exc:
            raise decode_error(path, exc) from None


def _index_key(salt: bytes | None) -> bytes | None:
    return hmac.digest(salt, b"leak-index", "sha256") if salt else None


def collect_originals(
    input: Path,
    rules: Rules,
    *,
    fmt: Format = "auto",
    table: str | None = None,
    salt: bytes | None = None,
) -> OriginalIndex:
    """Hash the original values of the sanitized columns of ``input``.

    With ``salt``, the index's hash key is derived from it (the same in every
    process); without, it is random.
    """
    index = OriginalIndex(rules, key=_index_key(salt))

    def record(table: str, column: str, value: str | None) -> None:
        index.add(f"{table}.{column}", value)

    _scan_file(Path(input), index.collects, record, fmt, table)
    return index


def check_leaks(
    originals: OriginalIndex, seen_values: Iterable[tuple[str, str, object]]
) -> list[Leak]:
    """Look up every ``(table, column, value)`` (e.g. rows read from the seeded
    database) in ``originals``; one :class:`Leak` per table and column with hits.

    Values are compared as text: pass them as PostgreSQL prints them (select
    ``col::text``); other objects are converted with ``str()``. NULLs (None)
    are skipped, as are columns the rules make coincidences likely in (see
    the module documentation).
    """
    hits = _Hits(originals)
    searched: dict[tuple[str, str], bool] = {}
    for table, column, value in seen_values:
        key = (table, column)
        wanted = searched.get(key)
        if wanted is None:
            wanted = searched[key] = originals.searches(table, column)
        if wanted and value is not None:
            hits.look(table, column, value if isinstance(value, str) else str(value))
    return hits.leaks()


def check_leaks_files(
    original: Path,
    sanitized: Path,
    rules: Rules,
    salt: bytes | None = None,
    *,
    fmt: Format = "auto",
    table: str | None = None,
) -> list[Leak]:
    """Check that no original value of a sanitized column of ``original``
    appears anywhere in ``sanitized`` (any table, any column)."""
    index = collect_originals(original, rules, fmt=fmt, table=table, salt=salt)
    hits = _Hits(index)
    _scan_file(Path(sanitized), index.searches, hits.look, fmt, table)
    return hits.leaks()


def raise_for_leaks(leaks: Iterable[Leak], *, where: str) -> None:
    """Raise a :class:`LeakError` (a :class:`DataError`) if there are leaks."""
    found = list(leaks)
    if not found:
        return
    total = sum(leak.count for leak in found)
    raise LeakError(
        f"{where}: leak check failed, {total} original value{'s' if total != 1 else ''} "
        f"survived sanitization: {'; '.join(str(leak) for leak in found)}; give those "
        "columns (or the columns the values were copied into) a transformation",
        found,
    )
