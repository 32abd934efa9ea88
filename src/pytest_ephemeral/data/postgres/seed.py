"""PostgreSQL's seed steps: ``sql:`` files, ``csv:`` tables, ``dump:`` files
(pg_dump plain format, sanitized on the host and leak-checked after loading).
See :mod:`pytest_ephemeral.data.seed` for the runner."""

from __future__ import annotations

import csv
import gzip
import os
import re
import secrets
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ...errors import DataError
from ..seed import Step, copy_in
from .psql import parse_failure, run_psql, sql_ident
from .settings import PgSettings, pg_settings

if TYPE_CHECKING:
    from ...runtime.environment import Service

__all__ = ["run_csv", "run_dump", "run_sql", "wait_for_postgres"]

_TABLE: Final = re.compile(
    r'^(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)(?:\.(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*))?$'
)

# -- PostgreSQL steps -------------------------------------------------------------------------

#: Seconds to wait for the real server after the image's init phase.
PG_READY_TIMEOUT: Final = 60


def wait_for_postgres(service: Service, pg: PgSettings | None = None) -> None:
    """Wait until the server accepts TCP connections inside the container.

    The official image's entrypoint first runs a temporary server that listens
    on the Unix socket only (for initdb.d scripts), then stops it and starts
    the real one; ``pg_isready`` on the socket (a typical healthcheck) already
    succeeds during that first phase, and anything seeded then is cut off.
    One exec, polling inside the container."""
    pg = pg or pg_settings(service)
    tries = PG_READY_TIMEOUT * 10
    check = f"pg_isready -q -h 127.0.0.1 -p {pg.port}"
    script = (
        "command -v pg_isready >/dev/null 2>&1 || exit 0; "  # nothing to poll with: go on
        f"i=0; while [ $i -lt {tries} ]; do {check} && exit 0; i=$((i+1)); sleep 0.1; done; {check}"
    )
    code, output = service.exec(["/bin/sh", "-c", script + " 2>&1"])
    if code != 0:
        raise DataError(
            f"PostgreSQL did not accept connections on 127.0.0.1:{pg.port} inside the "
            f"container within {PG_READY_TIMEOUT}s ({' '.join(output.split())[:200] or code}); "
            "see the service's logs"
        )


def _psql_file(
    st: Step, pg: PgSettings, host_path: Path, *, data: bool, label: str, note: str = ""
) -> None:
    database = pg.database_for(st.step.database)
    inside = copy_in(st, host_path, ".sql")
    code, output = run_psql(st.service, pg, database, ["-f", inside], cleanup=[inside])
    if code == 0:
        return
    failure = parse_failure(output, code, host_path, data=data)
    raise st.error(
        failure.describe(label) + note + _hint(failure.reason, database),
        line=failure.line,
        statement=failure.statement,
    )


def _hint(reason: str, database: str) -> str:
    if "does not exist" in reason and f'database "{database}"' in reason:
        return (
            f"; create database {database!r} in an earlier step or name an existing one "
            "with database:"
        )
    return ""


def run_sql(st: Step, tmp: Path) -> None:
    assert st.step.file is not None  # the spec loader guarantees it
    pg = pg_settings(st.service)
    _psql_file(st, pg, st.step.file, data=False, label=st.rel(st.step.file))


def run_csv(st: Step, tmp: Path) -> None:
    step = st.step
    assert step.file is not None and step.table is not None
    if not _TABLE.match(step.table):
        raise DataError(
            f"table {step.table!r} is not a table name (write table or schema.table, "
            'quoting mixed-case names: "Orders")'
        )
    try:
        with step.file.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), None)
    except OSError as exc:
        raise DataError(f"cannot read {st.rel(step.file)}: {exc.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{st.rel(step.file)}: not a UTF-8 CSV file ({exc})") from None
    if not header or not any(h.strip() for h in header):
        raise DataError(f"{st.rel(step.file)}: the first line must be a header naming the columns")
    pg = pg_settings(st.service)
    database = pg.database_for(step.database)
    inside = copy_in(st, step.file, ".csv")
    columns = ", ".join(sql_ident(h.strip()) for h in header)
    command = (
        f"\\copy {step.table} ({columns}) FROM '{inside}' "
        "WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')"
    )
    code, output = run_psql(st.service, pg, database, ["-c", command], cleanup=[inside])
    if code == 0:
        return
    failure = parse_failure(output, code, None, data=True)
    reason = failure.reason
    context = re.search(r"CONTEXT:\s+COPY \S+, line (\d+)", output)
    where = st.rel(step.file)
    line = None
    if context:
        line = int(context.group(1))
        where += f":{line}"
    if "does not exist" in reason and "relation" in reason:
        reason += f"; create table {step.table} in an earlier step (e.g. sql: schema.sql)"
    elif "column" in reason and "does not exist" in reason:
        reason += "; the CSV header must name columns of the table exactly"
    raise st.error(f"{where}: {reason}", line=line)


def _plain_dump(st: Step, tmp: Path) -> Path:
    """The dump as a plain file (gunzipped into ``tmp`` when it is ``.gz``)."""
    path = st.step.file
    assert path is not None
    if path.suffix != ".gz":
        return path
    out = tmp / f"dump-{secrets.token_hex(4)}.sql"
    try:
        with gzip.open(path, "rb") as src, out.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except (OSError, EOFError) as exc:
        raise DataError(f"{st.rel(path)}: cannot decompress: {exc}") from None
    return out


def run_dump(st: Step, tmp: Path) -> None:
    step = st.step
    assert step.file is not None
    pg = pg_settings(st.service)
    label = st.rel(step.file)
    if step.sanitize is None:
        _psql_file(st, pg, _plain_dump(st, tmp), data=True, label=label)
        return
    from ..sanitize import collect_originals, load_rules, resolve_salt, sanitize_file

    rules = load_rules(step.sanitize)
    salt = resolve_salt(rules, os.environ)
    safe = tmp / f"sanitized-{secrets.token_hex(4)}.sql"
    sanitize_file(step.file, safe, rules, salt=salt, fmt="pgdump")
    # hash the originals while the sanitized dump loads (the load waits on the container)
    with ThreadPoolExecutor(1, thread_name_prefix="eph-originals") as pool:
        originals: Future[Any] = pool.submit(
            collect_originals, step.file, rules, fmt="pgdump", salt=salt
        )
        try:
            _psql_file(
                st,
                pg,
                safe,
                data=True,
                label=label,
                note=" (line numbers of the sanitized copy: the same unless tables are dropped)",
            )
        except BaseException:
            originals.cancel()
            raise
        index = originals.result()
    _leak_check(st, pg, index)


def _leak_check(st: Step, pg: PgSettings, index: Any) -> None:
    from ..sanitize import check_leaks
    from .leakcheck import live_values
    from .snapshot import connect

    database = pg.database_for(st.step.database)
    conn = connect(st.service, pg, database)
    try:
        leaks = check_leaks(index, live_values(st.service, pg, database, conn))
    finally:
        if conn is not None:
            conn.close()
    if not leaks:
        return
    total = sum(leak.count for leak in leaks)
    found = "; ".join(
        f"{leak.table}.{leak.column}: {leak.count} value{'s' if leak.count != 1 else ''} "
        f"(originals of {', '.join(leak.sources)})"
        for leak in leaks
    )
    raise st.error(
        f"leak check: {total} original value{'s' if total != 1 else ''} of sanitized columns "
        f"found in database {database!r} after seeding: {found}; give those columns (or the "
        f"columns the values were copied into) a transformation in {st.rel(st.step.sanitize)}",
        leaks=tuple(leaks),
    )
