"""Streaming reader and rewriter for CSV with a header row.

Comma-separated, double quotes, the first row names the columns (as
PostgreSQL's ``COPY ... WITH (FORMAT csv, HEADER)`` writes it). An empty
field is NULL: it stays empty unless the rule is ``fixed``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from pytest_ephemeral.errors import DataError

from ._plan import Sink
from ._transforms import ValueProblem

__all__ = ["process_csv"]


class _LastLine:
    """A file-like object that keeps what ``csv.writer`` wrote last."""

    __slots__ = ("text",)

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text = text
        return len(text)


def process_csv(
    lines: Iterable[str], sink: Sink, source: str, table: str, *, quiet: bool = False
) -> Iterator[str]:
    """Rewrite CSV rows of ``table`` through ``sink``; one output string per row."""
    reader = csv.reader(lines, strict=True)
    last = _LastLine()
    writer = csv.writer(last, lineterminator="\n")
    column = "?"
    try:
        header = next(reader, None)
        if header is None:
            raise DataError(
                f"{source}:1: the CSV file is empty; it needs a header row naming the columns"
            )
        columns = tuple(name.strip() for name in header)
        if len(set(columns)) != len(columns) or "" in columns:
            raise DataError(
                f"{source}:1: the CSV header has empty or repeated column names; "
                "the first row must name every column once"
            )
        plan = sink.plan(table, columns, f"{source}:1")
        if quiet or sink.failed:
            sink.finish()
            return
        writer.writerow(header)
        yield last.text
        width = len(columns)
        items = tuple((item.index, item.column, item.value) for item in plan.items)
        rows = 0
        for row in reader:
            if len(row) != width:
                if not row:
                    continue  # a blank line
                raise DataError(
                    f"{source}:{reader.line_num}: this CSV row has {len(row)} fields, the "
                    f"header has {width}; fix the row (quote fields that contain commas)"
                )
            rows += 1
            if plan.drop:
                continue
            for index, name, function in items:
                column = name
                new = function(row[index] or None)
                row[index] = "" if new is None else new
            writer.writerow(row)
            yield last.text
        sink.count(table, rows, plan.drop)
    except csv.Error as exc:
        raise DataError(
            f"{source}:{reader.line_num}: not valid CSV ({exc}); fix the quoting of that row"
        ) from None
    except ValueProblem as exc:
        raise DataError(
            f"{source}:{reader.line_num}: table {table}, column {column}: {exc}; "
            "fix the rule for that column or the data"
        ) from None
    sink.finish()
