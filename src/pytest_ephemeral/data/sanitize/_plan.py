"""What the format readers ask of their consumer: a plan per table.

The readers (pg_dump, CSV) know the syntax; a *sink* knows what to do with
the values. When a reader meets a table's column list (a COPY header, an
INSERT column list, a CSV header) it asks the sink for a :class:`TablePlan`:
which columns to touch and how. The sanitizer, the collector of originals
and the leak search are three sinks over the same readers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["BlockFn", "CopyFn", "PlanItem", "RowsFn", "Sink", "TablePlan", "ValueFn"]

#: A COPY field in text format (escaped, ``\N`` for NULL) to its replacement.
CopyFn = Callable[[str], str]
#: A decoded value (``None`` for NULL) to its replacement.
ValueFn = Callable[[str | None], str | None]
#: The COPY fields of one column for a block of rows (escaped, ``\N`` for
#: NULL), in row order; for sinks that only look (:attr:`TablePlan.observe`).
BlockFn = Callable[[list[str]], None]
#: A block of plain COPY rows (lines of ``width`` fields, as the reader
#: checked them), the row width and a column's index: what a
#: :data:`BlockFn` does for that column's fields, read in place.
RowsFn = Callable[[list[str], int, int], None]


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One column a plan touches: its position, name and functions.

    In a plan that changes values and also shows the originals to another
    sink (see ``observer`` of the sanitizer), ``copy`` and ``value`` do both,
    ``block`` takes the original fields of a block of rows, and
    ``copy_only`` and ``value_only`` change without showing: for a reader
    that rewrites a block at a time and hands ``block`` the original fields
    itself.
    """

    index: int
    column: str
    copy: CopyFn
    value: ValueFn
    block: BlockFn | None = None
    copy_only: CopyFn | None = None
    value_only: ValueFn | None = None
    #: ``block`` for plain COPY rows read in place (see :data:`RowsFn`).
    rows: RowsFn | None = None


@dataclass(frozen=True, slots=True)
class TablePlan:
    """What to do with the rows of one table: drop them, or apply ``items``.

    ``touched`` says whether the sink changes this table at all; a reader
    that cannot parse a table's rows (unknown columns, an INSERT ... SELECT)
    may pass them through only when it is false.

    ``observe``: the sink changes nothing and only looks at the values (the
    leak check's passes); a reader need not write the rows, and one that can
    split many rows at once (COPY) hands each item's :attr:`PlanItem.block`
    the column's fields of a block of rows instead of calling ``copy`` per
    field.
    """

    table: str
    columns: tuple[str, ...]
    items: tuple[PlanItem, ...] = ()
    drop: bool = False
    touched: bool = False
    observe: bool = False


class Sink(Protocol):
    """The consumer of a reader (see the module docstring)."""

    @property
    def failed(self) -> bool:
        """True once the sink has found problems that make output pointless.

        The reader then stops writing and only reads headers, so that the
        sink can report every problem at once from :meth:`finish`.
        """
        ...

    def plan(
        self, table: str, columns: tuple[str, ...] | None, where: str, *, complete: bool = True
    ) -> TablePlan:
        """The plan for ``table``; ``columns`` is ``None`` when the input does not
        say (an INSERT without a column list and no CREATE TABLE to learn it
        from). ``complete`` is false for an INSERT's own column list, which may
        leave out columns that have defaults."""
        ...

    def count(self, table: str, rows: int, dropped: bool) -> None:
        """``rows`` more rows of ``table`` were read (and dropped, if ``dropped``)."""
        ...

    def finish(self) -> None:
        """The input ended; raise every problem found."""
        ...
