"""PostgreSQL snapshot and reset with template databases.

After seeding, each seeded database ``D`` is copied to ``D__eph_tpl`` (marked
a template, connections not allowed). A reset drops ``D`` (``WITH (FORCE)``,
which ends the connections to it) and makes it again from the template.

With a host connection (psycopg over the published port) the copy is made
ahead of time: a spare ``D__eph_spare`` is created from the template in a
background thread, and a reset is then ``DROP D`` + ``ALTER DATABASE spare
RENAME TO D`` (a few milliseconds), after which the next spare is started.
A reset that comes before the spare is ready waits for it. Without psycopg
or a published port, the same statements run through ``psql`` in the
container (one ``docker exec`` per reset, so ~100 ms).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ...errors import DataError
from .._args import host_port
from .psql import parse_failure, psql_command, sql_ident, sql_literal
from .settings import PgSettings, pg_settings

if TYPE_CHECKING:
    from ...runtime.environment import Environment, Service

__all__ = [
    "PgExecSnapshot",
    "PgHostSnapshot",
    "connect",
    "make_snapshot",
    "names_for",
    "psycopg_available",
]

TPL_SUFFIX: Final = "__eph_tpl"
SPARE_SUFFIX: Final = "__eph_spare"
MAINTENANCE_DB: Final = "eph_maintenance"
CONNECT_TIMEOUT: Final = 10


def _name(database: str, suffix: str) -> str:
    name = database + suffix
    if len(name.encode()) <= 63:
        return name
    digest = hashlib.sha1(database.encode()).hexdigest()[:12]
    return f"eph{suffix}_{digest}"


@dataclass(frozen=True, slots=True)
class Names:
    database: str
    template: str
    spare: str


def names_for(database: str) -> Names:
    return Names(database, _name(database, TPL_SUFFIX), _name(database, SPARE_SUFFIX))


def psycopg_available() -> bool:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return False
    return True


def connect(service: Service, pg: PgSettings, database: str) -> Any:
    """A psycopg connection (autocommit) to ``database`` over the published
    port, or None when there is no psycopg, no published port, or it fails."""
    port = host_port(service, pg.port)
    if port is None:
        return None
    try:
        import psycopg
    except ImportError:
        return None
    try:
        return psycopg.connect(
            host=service.host,
            port=port,
            user=pg.user,
            password=pg.password or "",
            dbname=database,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT,
            application_name="pytest-ephemeral",
        )
    except psycopg.Error:
        return None


def _maintenance_db(databases: Sequence[str]) -> str:
    return "postgres" if "postgres" not in databases else MAINTENANCE_DB


def _snapshot_statements(names: Names, version: int, *, existing: set[str]) -> list[str]:
    """Statements (each its own transaction) that (re)make the template of ``names``."""
    q = sql_ident
    out = [
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = {sql_literal(names.database)} AND pid <> pg_backend_pid()"
    ]
    if names.template in existing:
        out.append(f"ALTER DATABASE {q(names.template)} WITH IS_TEMPLATE false")
        out.append(f"DROP DATABASE {q(names.template)}")
    if names.spare in existing:
        out.append(f"DROP DATABASE {q(names.spare)}")
    out.append(
        f"CREATE DATABASE {q(names.template)} TEMPLATE {q(names.database)}{_strategy(version)}"
    )
    out.append(f"ALTER DATABASE {q(names.template)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false")
    return out


def _strategy(version: int) -> str:
    # FILE_COPY: two cheap checkpoints instead of writing the whole copy to WAL
    return " STRATEGY FILE_COPY" if version >= 150000 else ""


def _drop(database: str, version: int) -> list[str]:
    if version >= 130000:
        return [f"DROP DATABASE IF EXISTS {sql_ident(database)} WITH (FORCE)"]
    return [
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = {sql_literal(database)} AND pid <> pg_backend_pid()",
        f"DROP DATABASE IF EXISTS {sql_ident(database)}",
    ]


def _create(database: str, template: str, owner: str, version: int, *, closed: bool) -> str:
    allow = " ALLOW_CONNECTIONS false" if closed else ""
    return (
        f"CREATE DATABASE {sql_ident(database)} TEMPLATE {sql_ident(template)} "
        f"OWNER {sql_ident(owner)}{allow}{_strategy(version)}"
    )


class _Base:
    mechanism = ""

    def __init__(self, service_name: str, pg: PgSettings, databases: Sequence[str]) -> None:
        self.service_name = service_name
        self.pg = pg
        self.databases = list(dict.fromkeys(databases))
        self.names = [names_for(d) for d in self.databases]
        self.owners: dict[str, str] = {}
        self.version = 0

    def fail(self, what: str, exc: object) -> DataError:
        return DataError(
            f"service {self.service_name!r}: {what} failed: {exc}; "
            "the database may be in use by something that cannot be stopped, "
            "or the server is gone (see the service's logs)"
        )


class PgHostSnapshot(_Base):
    """Template databases, driven over a persistent host connection, with a
    spare copy made in the background after every reset."""

    mechanism = "postgres template database (host connection, spare copy in the background)"

    def __init__(
        self, service: Service, pg: PgSettings, databases: Sequence[str], conn: Any
    ) -> None:
        super().__init__(service.name, pg, databases)
        self.host = service.host
        self.port = host_port(service, pg.port)
        self.conn = conn  # to the maintenance database
        self.version = int(conn.info.server_version)
        self.lock = threading.Lock()
        self.job: threading.Thread | None = None
        self.spare_ready: dict[str, bool] = {}
        self.closed = False

    @classmethod
    def open(
        cls, service: Service, pg: PgSettings, databases: Sequence[str]
    ) -> PgHostSnapshot | None:
        """None when no host connection can be had (no psycopg, port not published...)."""
        maint = _maintenance_db(databases)
        if maint == MAINTENANCE_DB:
            first = connect(service, pg, "template1")
            if first is None:
                return None
            try:
                found = first.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (MAINTENANCE_DB,)
                ).fetchone()
                if found is None:
                    first.execute(f"CREATE DATABASE {MAINTENANCE_DB} TEMPLATE template0")
            finally:
                first.close()
        conn = connect(service, pg, maint)
        if conn is None:
            return None
        return cls(service, pg, databases, conn)

    def _run(self, conn: Any, statements: Sequence[str]) -> None:
        for statement in statements:
            conn.execute(statement)

    def _existing(self) -> set[str]:
        rows = self.conn.execute("SELECT datname FROM pg_database").fetchall()
        return {str(r[0]) for r in rows}

    def take(self) -> None:
        import psycopg

        try:
            existing = self._existing()
            for names in self.names:
                if names.database not in existing:
                    raise DataError(
                        f"service {self.service_name!r}: cannot snapshot database "
                        f"{names.database!r}: it does not exist (seeded databases must exist "
                        "when seeding ends)"
                    )
                row = self.conn.execute(
                    "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                    (names.database,),
                ).fetchone()
                self.owners[names.database] = str(row[0]) if row else self.pg.user
                self._run(self.conn, _snapshot_statements(names, self.version, existing=existing))
        except psycopg.Error as exc:
            raise self.fail("snapshotting the seeded databases", exc) from None
        self._start_spares()

    def adopt(self) -> bool:
        """Use templates an earlier run left (a reused environment). False if missing."""
        import psycopg

        try:
            existing = self._existing()
            if not all(n.template in existing for n in self.names):
                return False
            for names in self.names:
                row = self.conn.execute(
                    "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                    (names.template,),
                ).fetchone()
                self.owners[names.database] = str(row[0]) if row else self.pg.user
                if names.spare in existing:
                    self.conn.execute(f"DROP DATABASE {sql_ident(names.spare)}")
        except psycopg.Error as exc:
            raise self.fail("finding the snapshot of the seeded databases", exc) from None
        self._start_spares()
        return True

    # -- spares ------------------------------------------------------------------
    def _start_spares(self) -> None:
        if self.closed or self.port is None:
            return
        self.spare_ready = {}
        self.job = threading.Thread(
            target=self._make_spares, name=f"eph-spare-{self.service_name}", daemon=True
        )
        self.job.start()

    def _make_spares(self) -> None:
        import psycopg

        try:
            with psycopg.connect(
                host=self.host,
                port=self.port,
                user=self.pg.user,
                password=self.pg.password or "",
                dbname=_maintenance_db(self.databases),
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT,
                application_name="pytest-ephemeral-spare",
            ) as conn:
                for names in self.names:
                    if self.closed:
                        return
                    conn.execute(
                        _create(
                            names.spare,
                            names.template,
                            self.owners[names.database],
                            self.version,
                            closed=True,
                        )
                    )
                    self.spare_ready[names.database] = True
        except Exception:
            return

    def _wait_for_spares(self) -> None:
        job = self.job
        if job is not None:
            job.join()
            self.job = None

    # -- reset -------------------------------------------------------------------
    def reset(self, env: Environment, service: Service) -> None:
        import psycopg

        with self.lock:
            if self.closed:
                raise DataError(f"service {self.service_name!r}: its snapshot is closed")
            self._wait_for_spares()
            try:
                self._reset()
            except psycopg.OperationalError:
                # the connection broke (idle too long, server restarted): once more
                self._reconnect()
                try:
                    self._reset()
                except psycopg.Error as exc:
                    raise self.fail("resetting the seeded databases", exc) from None
            except psycopg.Error as exc:
                raise self.fail("resetting the seeded databases", exc) from None
            self._start_spares()

    def _reset(self) -> None:
        conn = self.conn
        for names in self.names:
            db = names.database
            for statement in _drop(db, self.version):
                conn.execute(statement)
            if self.spare_ready.pop(db, False):
                conn.execute(f"ALTER DATABASE {sql_ident(names.spare)} RENAME TO {sql_ident(db)}")
                conn.execute(f"ALTER DATABASE {sql_ident(db)} WITH ALLOW_CONNECTIONS true")
            else:
                conn.execute(f"DROP DATABASE IF EXISTS {sql_ident(names.spare)}")
                conn.execute(
                    _create(db, names.template, self.owners[db], self.version, closed=False)
                )

    def _reconnect(self) -> None:
        import psycopg

        with contextlib.suppress(Exception):
            self.conn.close()
        try:
            self.conn = psycopg.connect(
                host=self.host,
                port=self.port,
                user=self.pg.user,
                password=self.pg.password or "",
                dbname=_maintenance_db(self.databases),
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT,
                application_name="pytest-ephemeral",
            )
        except psycopg.Error as exc:
            raise self.fail("reconnecting to reset the seeded databases", exc) from None

    def describe(self) -> str:
        return self.mechanism

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(Exception):
            self.conn.close()


class PgExecSnapshot(_Base):
    """The same templates, driven by ``psql`` in the container (no host
    connection): no spare, one exec per reset."""

    mechanism = "postgres template database (psql in the container)"

    def __init__(self, service: Service, pg: PgSettings, databases: Sequence[str]) -> None:
        super().__init__(service.name, pg, databases)
        self.maint = "postgres" if "postgres" not in self.databases else "template1"

    def _psql(self, service: Service, statements: Sequence[str], what: str) -> str:
        args: list[str] = []
        for statement in statements:
            args += ["-c", statement]
        code, output = service.exec(
            psql_command(self.pg, self.maint, ["-t", "-A", *args], discard=False)
        )
        if code != 0:
            raise self.fail(what, parse_failure(output, code, None).reason)
        return output

    def _query(self, service: Service, sql: str, what: str) -> list[str]:
        return [line for line in self._psql(service, [sql], what).splitlines() if line.strip()]

    def _prepare(self, service: Service) -> set[str]:
        self.version = int(self._query(service, "SHOW server_version_num", "asking the version")[0])
        return set(self._query(service, "SELECT datname FROM pg_database", "listing databases"))

    def _owners(self, service: Service, names: Iterator[tuple[str, str]]) -> None:
        for db, source in names:
            rows = self._query(
                service,
                "SELECT pg_get_userbyid(datdba) FROM pg_database "
                f"WHERE datname = {sql_literal(source)}",
                "reading the owner",
            )
            self.owners[db] = rows[0] if rows else self.pg.user

    def take(self, service: Service) -> None:
        existing = self._prepare(service)
        for names in self.names:
            if names.database not in existing:
                raise DataError(
                    f"service {self.service_name!r}: cannot snapshot database "
                    f"{names.database!r}: it does not exist (seeded databases must exist "
                    "when seeding ends)"
                )
        self._owners(service, ((n.database, n.database) for n in self.names))
        statements: list[str] = []
        for names in self.names:
            statements += _snapshot_statements(names, self.version, existing=existing)
        self._psql(service, statements, "snapshotting the seeded databases")

    def adopt(self, service: Service) -> bool:
        existing = self._prepare(service)
        if not all(n.template in existing for n in self.names):
            return False
        self._owners(service, ((n.database, n.template) for n in self.names))
        return True

    def reset(self, env: Environment, service: Service) -> None:
        statements: list[str] = []
        for names in self.names:
            statements += _drop(names.database, self.version)
            statements.append(
                _create(
                    names.database,
                    names.template,
                    self.owners[names.database],
                    self.version,
                    closed=False,
                )
            )
        self._psql(service, statements, "resetting the seeded databases")

    def describe(self) -> str:
        return self.mechanism

    def close(self) -> None:
        pass


def _databases(service: Service) -> list[str]:
    pg = pg_settings(service)
    dbs = [pg.database_for(s.database) for s in service.spec.seed if s.kind != "redis"]
    return list(dict.fromkeys(dbs or [pg.database]))


def make_snapshot(env: Environment, service: Service, adopt: bool) -> _Base:
    """Template databases of the seeded databases: on the host over a
    published port with psycopg when it can, else with psql inside the
    container. ``adopt``: find an earlier run's templates (a reused
    environment) instead of taking new ones."""
    from ..snapshot import no_snapshot

    pg = pg_settings(service)
    dbs = _databases(service)
    host = PgHostSnapshot.open(service, pg, dbs)
    if host is not None:
        try:
            if adopt:
                if not host.adopt():
                    raise no_snapshot(service)
            else:
                host.take()
        except BaseException:
            host.close()
            raise
        return host
    inner = PgExecSnapshot(service, pg, dbs)
    if adopt:
        if not inner.adopt(service):
            raise no_snapshot(service)
    else:
        inner.take(service)
    return inner
