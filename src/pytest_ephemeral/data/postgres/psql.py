"""psql inside a PostgreSQL container: run a file or a command with
ON_ERROR_STOP, and turn its error output into a precise message."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .settings import PgSettings
from .sqlscan import locate

if TYPE_CHECKING:
    from ...runtime.environment import Service

__all__ = ["PsqlFailure", "psql_command", "run_psql", "sql_ident", "sql_literal"]

#: Characters of a statement shown in an error message.
SHOWN: Final = 200

_PREFIXED: Final = re.compile(
    r"^psql:(?P<file>.+?):(?P<line>\d+):\s*(?P<sev>ERROR|FATAL|PANIC|error):\s*(?P<msg>.*)$"
)
_BARE: Final = re.compile(r"^(?P<sev>ERROR|FATAL|PANIC):\s*(?P<msg>.*)$")
_CLIENT: Final = re.compile(r"^psql: (?:error: )?(?P<msg>.*)$")
_LINE: Final = re.compile(r"^LINE (?P<n>\d+):")
_COPY_CONTEXT: Final = re.compile(r"^CONTEXT:\s+COPY (?P<table>\S+), line (?P<n>\d+)")
_DETAIL: Final = re.compile(r"^(?P<kind>DETAIL|HINT):\s*(?P<msg>.*)$")


def sql_ident(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def psql_command(
    pg: PgSettings,
    database: str,
    args: Sequence[str],
    *,
    cleanup: Sequence[str] = (),
    discard: bool = True,
) -> list[str]:
    """``sh -c`` argv running psql over the container's local socket as the
    service's user, quiet, stopping at the first error, query output discarded
    (unless not ``discard``).
    The password (when local connections need one) comes from the container's
    own ``POSTGRES_PASSWORD``, so it never appears in the command."""
    psql = [
        "psql",
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-v",
        "VERBOSITY=default",
        *(["-o", "/dev/null"] if discard else []),
        "-p",
        str(pg.port),
        "-U",
        pg.user,
        "-d",
        database,
        *args,
    ]
    script = (
        'PGPASSWORD="${POSTGRES_PASSWORD:-}" PGOPTIONS="-c client_min_messages=warning" '
        + shlex.join(psql)
        + " 2>&1"
    )
    if cleanup:
        script += f"; rc=$?; rm -f {shlex.join(cleanup)}; exit $rc"
    return ["/bin/sh", "-c", script]


@dataclass(frozen=True, slots=True)
class PsqlFailure:
    """What went wrong in one psql run, ready for a message.

    ``line``: the line of the file the error is on (or None); ``statement``:
    the failing statement's text as it may be shown; ``reason``: psql's
    message (with DETAIL/HINT when ``details`` allowed them)."""

    reason: str
    line: int | None = None
    statement: str | None = None
    statement_line: int | None = None

    def describe(self, file_label: str | None) -> str:
        where = ""
        if file_label is not None:
            where = f"{file_label}:{self.line}: " if self.line is not None else f"{file_label}: "
        text = f"{where}{self.reason}"
        if self.statement:
            at = f" at line {self.statement_line}" if self.statement_line is not None else ""
            text += f"; in the statement{at}: {self.statement}"
        return text


def _shorten(text: str, *, data: bool) -> str:
    """One line, at most SHOWN characters; for dumps (``data``), nothing after
    ``VALUES`` (the rows may be personal data)."""
    flat = " ".join(text.split())
    if data:
        m = re.search(r"\bVALUES\b", flat, re.IGNORECASE)
        if m:
            flat = flat[: m.end()] + " (...)"
    if len(flat) > SHOWN:
        flat = flat[: SHOWN - 3].rstrip() + "..."
    return flat


def parse_failure(
    output: str,
    exit_code: int,
    host_file: Path | None,
    *,
    data: bool = False,
) -> PsqlFailure:
    """Read psql's output of a failed run of ``host_file`` (copied into the
    container under another name). ``data``: the file is a dump, so never
    quote rows or DETAIL lines (they hold values)."""
    lines = [line.rstrip() for line in output.splitlines()]
    reason: str | None = None
    file_line: int | None = None
    stmt_line_in: int | None = None
    copy_row: int | None = None
    extra: list[str] = []
    for i, line in enumerate(lines):
        m = _PREFIXED.match(line)
        if m:
            reason = f"{m['sev'].upper()}: {m['msg'].strip()}"
            file_line = int(m["line"])
            rest = lines[i + 1 :]
            break
        m2 = _BARE.match(line) or None
        if m2:
            reason = f"{m2['sev']}: {m2['msg'].strip()}"
            rest = lines[i + 1 :]
            break
        m3 = _CLIENT.match(line)
        if m3:
            reason = m3["msg"].strip()
            rest = lines[i + 1 :]
            break
    else:
        rest = []
    for line in rest:
        if (m4 := _LINE.match(line)) and stmt_line_in is None:
            stmt_line_in = int(m4["n"])
        elif (m5 := _COPY_CONTEXT.match(line)) and copy_row is None:
            copy_row = int(m5["n"])
        elif (m6 := _DETAIL.match(line)) and not data:
            extra.append(f"{m6['kind']}: {m6['msg'].strip()}")
        elif _PREFIXED.match(line) or _BARE.match(line):
            break
    if reason is None:
        tail = " | ".join(line for line in lines[-5:] if line.strip())
        if exit_code == 127 or "not found" in tail:
            reason = "psql is not in the container (is this a PostgreSQL image?)"
        else:
            reason = f"psql exited with status {exit_code}" + (f": {tail}" if tail else "")
    if extra:
        reason += " (" + "; ".join(extra) + ")"
    if file_line is None or host_file is None:
        return PsqlFailure(reason)
    stmt = locate(host_file, file_line)
    if stmt is None:
        return PsqlFailure(reason, line=file_line)
    if stmt.copy and copy_row is not None:
        # the row ``copy_row`` of the data block after the COPY statement
        return PsqlFailure(
            reason + f" (row {copy_row} of the COPY data)",
            line=stmt.end + copy_row,
            statement=_shorten(stmt.text, data=True),
            statement_line=stmt.start,
        )
    line_no = stmt.start + (stmt_line_in - 1 if stmt_line_in else 0)
    if stmt_line_in is None:
        line_no = stmt.start
    return PsqlFailure(
        reason,
        line=line_no,
        statement=_shorten(stmt.text, data=data),
        statement_line=stmt.start,
    )


def run_psql(
    service: Service,
    pg: PgSettings,
    database: str,
    args: Sequence[str],
    *,
    cleanup: Sequence[str] = (),
    discard: bool = True,
) -> tuple[int, str]:
    """Run psql in ``service``; (exit code, output)."""
    code, output = service.exec(psql_command(pg, database, args, cleanup=cleanup, discard=discard))
    return code, output
