"""Run a service's ``seed:`` steps, in order, once it is ready.

The engine calls :func:`run_seeds` (``EngineOptions.seeder``) after a service
is ready and before the services depending on it start. Step kinds:

``sql: FILE``
    run with ``psql -v ON_ERROR_STOP=1`` in the PostgreSQL container (the file
    is copied in); ``database:`` defaults to ``POSTGRES_DB``, else the user.
``csv: {table, file}``
    ``\\copy table (header columns) FROM file (FORMAT csv, HEADER true)``.
``dump: FILE`` (pg_dump plain format) with optional ``sanitize: RULES``
    sanitized on the host into a temporary file (streaming, with the salt from
    ``EPH_SANITIZE_SALT``...), loaded with psql, then **leak-checked**: no
    original value of a sanitized column may be found in any string column of
    any table of the seeded database.
``python: module:function``
    imported with the spec's folder first on ``sys.path``, called as
    ``function(env, service)``.
``redis: FILE``
    a key/value file (see :mod:`._redisfile`) piped into ``redis-cli --pipe``.

Any failure raises :class:`SeedError` (a :class:`~pytest_ephemeral.errors.DataError`)
naming the service, the step (number and kind), the file and, for SQL, the
line and the statement; the engine then removes the whole environment, so a
half-seeded environment is never used. After the last step the service's state
is snapshotted (see :mod:`.snapshot`) for ``eph_fresh``.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import importlib
import os
import re
import secrets
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ..errors import DataError, EphemeralError
from ._kinds import PgSettings, pg_settings, require_kind, service_kind
from ._psql import parse_failure, run_psql, sql_ident

if TYPE_CHECKING:
    from ..runtime.environment import Environment, Service
    from ..spec.model import SeedStep
    from .sanitize import Leak

__all__ = ["SeedError", "run_seeds", "run_steps"]

_TABLE: Final = re.compile(
    r'^(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)(?:\.(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*))?$'
)
_import_lock = threading.Lock()


class SeedError(DataError):
    """A seed step failed. The attributes say where; ``str()`` says it all.

    ``line`` and ``statement`` are set for SQL errors (``statement`` is cut
    short, and for dumps stops at ``VALUES``: rows are never quoted);
    ``leaks`` for a failed leak check (tables, columns and counts, no values).
    """

    def __init__(
        self,
        message: str,
        *,
        service: str,
        step: int,
        kind: str,
        file: Path | None = None,
        line: int | None = None,
        statement: str | None = None,
        leaks: tuple[Leak, ...] = (),
    ) -> None:
        super().__init__(message)
        self.service = service
        self.step = step
        self.kind = kind
        self.file = file
        self.line = line
        self.statement = statement
        self.leaks = leaks


class _Step:
    """One step being run: knows how to name itself in messages."""

    def __init__(self, env: Environment, service: Service, index: int, step: SeedStep) -> None:
        self.env = env
        self.service = service
        self.index = index
        self.total = len(service.spec.seed)
        self.step = step

    def rel(self, path: Path | None) -> str:
        if path is None:
            return "?"
        try:
            return str(path.relative_to(self.env.spec.root))
        except ValueError:
            return str(path)

    @property
    def what(self) -> str:
        s = self.step
        if s.kind == "python":
            return f"python: {s.target}"
        if s.kind == "csv":
            return f"csv: {s.table} from {self.rel(s.file)}"
        return f"{s.kind}: {self.rel(s.file)}"

    def error(self, problem: str, **details: Any) -> SeedError:
        loc = self.step.location
        where = f"{loc.file.name}:{loc.line}" if loc.line is not None else loc.file.name
        message = (
            f"service {self.service.name!r}: seed step {self.index} of {self.total} "
            f"({self.what}, {where}) failed: {problem}"
        )
        return SeedError(
            message,
            service=self.service.name,
            step=self.index,
            kind=self.step.kind,
            file=self.step.file,
            **details,
        )


# -- the runner ----------------------------------------------------------------------------


def run_seeds(env: Environment, service: Service) -> None:
    """Run every seed step of ``service`` in order, then snapshot it for resets."""
    if not service.spec.seed:
        return
    run_steps(env, service)
    from .snapshot import snapshot_service

    try:
        snapshot_service(env, service)
    except DataError as exc:
        raise DataError(f"{exc} (while snapshotting after the seed steps)") from exc


def run_steps(env: Environment, service: Service) -> None:
    """Run the seed steps only (no snapshot): the generic reset fallback uses it."""
    steps = [_Step(env, service, i, s) for i, s in enumerate(service.spec.seed, 1)]
    for st in steps:  # every step on the right kind of service, before doing anything
        kind = st.step.kind
        if kind in ("sql", "csv", "dump"):
            _checked(st, require_kind, service, "postgres", kind + ":")
        elif kind == "redis":
            _checked(st, require_kind, service, "redis", "redis:")
    if steps and service_kind(service) == "postgres":
        _checked(steps[0], wait_for_postgres, service, pg_settings(service))
    with tempfile.TemporaryDirectory(prefix="eph-seed-") as tmp:
        for st in steps:
            _checked(st, _RUNNERS[st.step.kind], st, Path(tmp))


def _checked(st: _Step, fn: Callable[..., object], *args: Any) -> None:
    """Run ``fn(*args)``; any error of ours becomes a SeedError naming the step."""
    try:
        fn(*args)
    except SeedError:
        raise
    except EphemeralError as exc:
        raise st.error(str(exc)) from exc


# -- PostgreSQL steps -------------------------------------------------------------------------

#: Seconds to wait for the real server after the image's init phase.
PG_READY_TIMEOUT: Final = 60


def wait_for_postgres(service: Service, pg: PgSettings) -> None:
    """Wait until the server accepts TCP connections inside the container.

    The official image's entrypoint first runs a temporary server that listens
    on the Unix socket only (for initdb.d scripts), then stops it and starts
    the real one; ``pg_isready`` on the socket (a typical healthcheck) already
    succeeds during that first phase, and anything seeded then is cut off.
    One exec, polling inside the container."""
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


def _copy_in(st: _Step, host_path: Path, suffix: str) -> str:
    """Copy ``host_path`` into the container's /tmp; its path there."""
    name = f"eph-seed-{secrets.token_hex(6)}{suffix}"
    try:
        st.env.backend.copy_to(st.service.container_id, "/tmp", {name: str(host_path)})
    except EphemeralError as exc:
        raise DataError(f"copying {st.rel(host_path)} into the container failed: {exc}") from None
    return f"/tmp/{name}"


def _psql_file(
    st: _Step, pg: PgSettings, host_path: Path, *, data: bool, label: str, note: str = ""
) -> None:
    database = pg.database_for(st.step.database)
    inside = _copy_in(st, host_path, ".sql")
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


def _sql(st: _Step, tmp: Path) -> None:
    assert st.step.file is not None  # the spec loader guarantees it
    pg = pg_settings(st.service)
    _psql_file(st, pg, st.step.file, data=False, label=st.rel(st.step.file))


def _csv(st: _Step, tmp: Path) -> None:
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
    inside = _copy_in(st, step.file, ".csv")
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


def _plain_dump(st: _Step, tmp: Path) -> Path:
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


def _dump(st: _Step, tmp: Path) -> None:
    step = st.step
    assert step.file is not None
    pg = pg_settings(st.service)
    label = st.rel(step.file)
    if step.sanitize is None:
        _psql_file(st, pg, _plain_dump(st, tmp), data=True, label=label)
        return
    from .sanitize import collect_originals, load_rules, resolve_salt, sanitize_file

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


def _leak_check(st: _Step, pg: PgSettings, index: Any) -> None:
    from ._leakcheck import live_values
    from ._pgsnap import connect
    from .sanitize import check_leaks

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


# -- python and redis steps ----------------------------------------------------------------------


@contextlib.contextmanager
def _spec_on_path(root: Path) -> Iterator[None]:
    entry = str(root)
    with _import_lock:
        sys.path.insert(0, entry)
        try:
            yield
        finally:
            with contextlib.suppress(ValueError):
                sys.path.remove(entry)


def _python(st: _Step, tmp: Path) -> None:
    target = st.step.target
    assert target is not None
    module_name, _, func_name = target.partition(":")
    try:
        with _spec_on_path(st.env.spec.root):
            _forget_foreign(module_name, st.env.spec.root)
            module = importlib.import_module(module_name)
    except Exception as exc:
        raise st.error(
            f"cannot import {module_name!r} (looked in {st.env.spec.root} first): "
            f"{type(exc).__name__}: {_first_line(exc)}"
        ) from exc
    fn = getattr(module, func_name, None)
    if not callable(fn):
        raise st.error(
            f"module {module_name!r} ({getattr(module, '__file__', '?')}) has no function "
            f"{func_name!r}"
        )
    try:
        fn(st.env, st.service)
    except Exception as exc:
        raise st.error(
            f"{target}(env, service) raised {type(exc).__name__}: {_first_line(exc)}"
        ) from exc


def _forget_foreign(module_name: str, root: Path) -> None:
    """If ``module_name``'s top-level package is in the spec's folder but an
    imported module of that name comes from elsewhere (another spec's
    ``seeds.py``), drop it (and its submodules) so the spec's own is imported."""
    top = module_name.split(".", 1)[0]
    local = root / f"{top}.py"
    if not local.is_file():
        local = root / top / "__init__.py"
        if not local.is_file():
            return
    loaded = sys.modules.get(top)
    where = getattr(loaded, "__file__", None)
    if loaded is None or (where is not None and Path(where).resolve() == local.resolve()):
        return
    for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"


def _redis(st: _Step, tmp: Path) -> None:
    from ._redisseed import load_redis_file

    assert st.step.file is not None
    load_redis_file(st.env, st.service, st.step.file, tmp)


_RUNNERS: Final[dict[str, Callable[[_Step, Path], None]]] = {
    "sql": _sql,
    "csv": _csv,
    "dump": _dump,
    "python": _python,
    "redis": _redis,
}
