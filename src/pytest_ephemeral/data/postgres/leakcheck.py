"""Read the live values of a seeded PostgreSQL database for the leak check:
every value of every string-typed column (text, varchar, char, citext, and
domains over them) of every table outside the system schemas, as
``(schema.table, column, value)``.

Over a host connection (psycopg) the rows stream with ``COPY ... TO STDOUT``
in constant memory; without one, each table is read with ``psql`` in the
container (its output is held in memory, table by table).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from ...errors import DataError
from .psql import parse_failure, psql_command, sql_ident
from .settings import PgSettings

if TYPE_CHECKING:
    from ...runtime.environment import Service

__all__ = ["live_values"]

COLUMNS_SQL: Final = """
SELECT n.nspname, c.relname, a.attname
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
WHERE c.relkind IN ('r', 'm') AND a.attnum > 0 AND NOT a.attisdropped
  AND t.typcategory = 'S'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
ORDER BY n.nspname, c.relname, a.attnum
"""


def _tables(rows: Iterator[tuple[str, str, str]]) -> dict[tuple[str, str], list[str]]:
    tables: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in rows:
        tables.setdefault((schema, table), []).append(column)
    return tables


def _select(schema: str, table: str, columns: list[str]) -> str:
    cols = ", ".join(f"{sql_ident(c)}::text" for c in columns)
    return f"SELECT {cols} FROM {sql_ident(schema)}.{sql_ident(table)}"


def live_values(
    service: Service, pg: PgSettings, database: str, conn: Any | None
) -> Iterator[tuple[str, str, str | None]]:
    """Every string value of ``database``; ``conn``: a psycopg connection to
    it, or None to read through psql in the container."""
    if conn is not None:
        yield from _over_connection(conn)
    else:
        yield from _over_psql(service, pg, database)


def _over_connection(conn: Any) -> Iterator[tuple[str, str, str | None]]:
    tables = _tables(iter(conn.execute(COLUMNS_SQL).fetchall()))
    for (schema, table), columns in tables.items():
        name = f"{schema}.{table}"
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY ({_select(schema, table, columns)}) TO STDOUT") as copy,
        ):
            for row in copy.rows():
                for column, value in zip(columns, row, strict=True):
                    yield name, column, value


def _psql_rows(service: Service, pg: PgSettings, database: str, sql: str) -> str:
    code, output = service.exec(
        psql_command(
            pg, database, ["-c", f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)"], discard=False
        )
    )
    if code != 0:
        raise DataError(
            f"reading database {database!r} for the leak check failed: "
            f"{parse_failure(output, code, None).reason}"
        )
    return output


def _over_psql(
    service: Service, pg: PgSettings, database: str
) -> Iterator[tuple[str, str, str | None]]:
    listing = _psql_rows(service, pg, database, " ".join(COLUMNS_SQL.split()))
    rows = csv.reader(io.StringIO(listing))
    tables = _tables((r[0], r[1], r[2]) for r in rows if len(r) == 3)
    for (schema, table), columns in tables.items():
        name = f"{schema}.{table}"
        text = _psql_rows(service, pg, database, _select(schema, table, columns))
        for row in csv.reader(io.StringIO(text)):
            # NULL and '' both read as '': neither can be a leaked original
            for column, value in zip(columns, row, strict=False):
                yield name, column, value or None
