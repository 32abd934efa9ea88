"""An external PostgreSQL server: each environment's own database (``isolate:
database``, the default) or schema (``isolate: schema``).

``database``: the seed steps run once per seed (its files' hashes, the rules'
hash, a digest of the salt, the role) into a template database
``eph_tpl_<key>``, under an advisory lock so that concurrent runs seed it
once; each environment then gets ``CREATE DATABASE eph_<env> TEMPLATE
eph_tpl_<key>`` — a copy, in milliseconds — and ``eph_fresh`` drops and
copies it again. The template is ours (its comment says so, with an expiry
renewed at each use) and is swept once it has not been used for the TTL.

``schema``: a schema ``eph_<env>`` in the URL's database; the seed steps run
with ``search_path`` set to it (``dump:`` steps are refused: a pg_dump file
names its schemas and would write outside the part); ``eph_fresh`` drops the
schema and seeds it again.

Ownership is the object's comment (``COMMENT ON DATABASE/SCHEMA``, see
:class:`pytest_ephemeral.data.external.Claim`); nothing is dropped whose
comment does not name the environment. Seed files are run with the host's
``psql`` (Debian's ``postgresql-client``) and psycopg, never in a container.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlsplit, urlunsplit

from ...errors import DataError
from ..external import Claim, ExternalError, Found, redact_url
from .psql import parse_failure, sql_ident, sql_literal
from .settings import PgSettings

if TYPE_CHECKING:
    from ...runtime.environment import Connection, Environment, Service
    from ..seed import Step

__all__ = ["DRIVER", "PgPart"]

CONNECT_TIMEOUT: Final = 10
TEMPLATE_PREFIX: Final = "eph_tpl_"
PART_PREFIX: Final = "eph_"
_TEMPLATE: Final = re.compile(
    r"^pytest-ephemeral template key=(?P<key>\S+) (?:expires=(?P<expires>\d+)|seeding)$"
)


def _ident_name(prefix: str, text: str) -> str:
    """A lower-case identifier ``prefix + text`` of at most 63 bytes."""
    name = prefix + re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
    if len(name) <= 63:
        return name
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    return f"{name[: 63 - 13]}_{digest}"


class _Server:
    """What the URL says, and connections to the server."""

    def __init__(self, url: str, service: str) -> None:
        from psycopg.conninfo import conninfo_to_dict

        self.url = url
        self.service = service
        self.shown = redact_url(url)
        try:
            params = conninfo_to_dict(url)
        except Exception as exc:
            raise ExternalError(f"external service {service!r}: {self.shown}: {exc}") from None
        self.params = {k: str(v) for k, v in params.items() if v is not None}
        self.user = self.params.get("user") or os.environ.get("PGUSER") or "postgres"
        self.database = self.params.get("dbname") or self.user
        self.password = self.params.get("password")

    def connect(self, database: str | None = None) -> Any:
        import psycopg
        from psycopg.conninfo import make_conninfo

        params = {**self.params, "dbname": database or self.database}
        params.setdefault("connect_timeout", str(CONNECT_TIMEOUT))
        params.setdefault("application_name", "pytest-ephemeral")
        try:
            return psycopg.connect(make_conninfo("", **params), autocommit=True)
        except psycopg.Error as exc:
            raise ExternalError(
                f"external service {self.service!r}: cannot connect to {self.shown}"
                f"{'' if database is None else f' (database {database})'}: "
                f"{_first_line(exc)}; check the URL and that the server is up"
            ) from None

    def url_for(self, database: str, *, schema: str | None = None) -> str:
        parts = urlsplit(self.url)
        query = parts.query
        if schema is not None:
            options = quote(f"-csearch_path={schema}", safe="")
            query = f"{query}&options={options}" if query else f"options={options}"
        return urlunsplit(parts._replace(path="/" + quote(database), query=query))

    def psql(self, database: str, args: list[str], *, schema: str | None = None) -> tuple[int, str]:
        """The host's psql against ``database`` (password in the environment)."""
        psql = shutil.which("psql")
        if psql is None:
            raise ExternalError(
                f"external service {self.service!r}: seed steps on an external PostgreSQL run "
                "with psql on this machine, and there is none on PATH; install Debian's "
                "postgresql-client (or your system's)"
            )
        keep = {k: v for k, v in self.params.items() if k != "password"}
        keep["dbname"] = database
        conninfo = " ".join(f"{k}={_conn_value(v)}" for k, v in keep.items())
        options = "-c client_min_messages=warning"
        if schema is not None:
            options += f" -c search_path={schema}"
        environ = {**os.environ, "PGOPTIONS": options, "PGCONNECT_TIMEOUT": str(CONNECT_TIMEOUT)}
        if self.password is not None:
            environ["PGPASSWORD"] = self.password
        argv = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null", "-d", conninfo]
        done = subprocess.run(
            [*argv, *args], capture_output=True, text=True, env=environ, check=False
        )
        return done.returncode, done.stdout + done.stderr


def _conn_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _denied(exc: BaseException) -> bool:
    return getattr(exc, "sqlstate", None) == "42501"


# -- the seed, run from the host ------------------------------------------------------------


def _steps(env: Environment, service: Service) -> list[Step]:
    from ..seed import Step

    return [Step(env, service, i, s) for i, s in enumerate(service.spec.seed, 1)]


def seed_key(env: Environment, service: Service, user: str) -> str:
    """What a template's content depends on: the steps, their files' bytes, the
    rules, the salt (as a digest) and the role."""
    from ..prepare import file_hash

    h = hashlib.sha256(f"v1|{user}".encode())
    salted = False
    for step in service.spec.seed:
        h.update(
            repr(
                (
                    step.kind,
                    step.table,
                    step.target,
                    file_hash(step.file),
                    file_hash(step.sanitize),
                )
            ).encode()
        )
        if step.kind == "python":  # its effect cannot be hashed: one template per environment
            h.update(env.id.encode())
        if step.sanitize is not None and not salted:
            from ..sanitize import load_rules, resolve_salt

            salt = resolve_salt(load_rules(step.sanitize), os.environ)
            h.update(hashlib.sha256(b"eph-template-salt|" + bytes(str(salt), "utf-8")).digest())
            salted = True
    return h.hexdigest()[:24]


def _run_step(
    st: Step, server: _Server, database: str, tmp: Path, *, schema: str | None = None
) -> None:
    step = st.step
    if step.database is not None:
        raise st.error(
            "database: does not apply to an external service's steps (they load into the "
            "environment's own part of the server); remove it"
        )
    if step.kind == "python":
        from ..seed import _RUNNERS

        _RUNNERS["python"](st, tmp)
        return
    if step.kind == "sql":
        assert step.file is not None
        _psql_file(st, server, database, step.file, data=False, schema=schema)
        return
    if step.kind == "csv":
        _csv(st, server, database, schema=schema)
        return
    if step.kind == "dump":
        if schema is not None:
            raise st.error(
                "dump: steps cannot load into a schema (a pg_dump file names its own schemas "
                "and would write outside the environment's part); use isolate: database"
            )
        _dump(st, server, database, tmp)
        return
    raise st.error(f"{step.kind}: steps do not apply to a PostgreSQL service")


def _psql_file(
    st: Step,
    server: _Server,
    database: str,
    path: Path,
    *,
    data: bool,
    schema: str | None = None,
    label: str | None = None,
) -> None:
    code, output = server.psql(database, ["-f", str(path)], schema=schema)
    if code == 0:
        return
    failure = parse_failure(output, code, path, data=data)
    raise st.error(
        failure.describe(label or st.rel(st.step.file)),
        line=failure.line,
        statement=failure.statement,
    )


def _csv(st: Step, server: _Server, database: str, *, schema: str | None) -> None:
    import csv

    step = st.step
    assert step.file is not None and step.table is not None
    try:
        with step.file.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), None)
    except OSError as exc:
        raise DataError(f"cannot read {st.rel(step.file)}: {exc.strerror}") from None
    if not header or not any(h.strip() for h in header):
        raise DataError(f"{st.rel(step.file)}: the first line must be a header naming the columns")
    columns = ", ".join(sql_ident(h.strip()) for h in header)
    command = (
        f"\\copy {step.table} ({columns}) FROM {sql_literal(str(step.file))} "
        "WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')"
    )
    code, output = server.psql(database, ["-c", command], schema=schema)
    if code != 0:
        failure = parse_failure(output, code, None, data=True)
        raise st.error(f"{st.rel(step.file)}: {failure.reason}")


def _dump(st: Step, server: _Server, database: str, tmp: Path) -> None:
    from .seed import _plain_dump

    step = st.step
    assert step.file is not None
    label = st.rel(step.file)
    if step.sanitize is None:
        _psql_file(st, server, database, _plain_dump(st, tmp), data=True, label=label)
        return
    from ..sanitize import check_leaks, collect_originals, load_rules, resolve_salt, sanitize_file
    from .leakcheck import live_values

    rules = load_rules(step.sanitize)
    salt = resolve_salt(rules, os.environ)
    safe = tmp / "sanitized.sql"
    sanitize_file(step.file, safe, rules, salt=salt, fmt="pgdump")
    _psql_file(st, server, database, safe, data=True, label=label)
    index = collect_originals(step.file, rules, fmt="pgdump", salt=salt)
    pg = PgSettings(server.user, server.password, database, 5432)
    conn = server.connect(database)
    try:
        leaks = check_leaks(index, live_values(st.service, pg, database, conn))
    finally:
        conn.close()
    if leaks:
        total = sum(leak.count for leak in leaks)
        found = "; ".join(f"{leak.table}.{leak.column}: {leak.count}" for leak in leaks)
        raise st.error(
            f"leak check: {total} original value{'s' if total != 1 else ''} of sanitized "
            f"columns found after seeding: {found}; give those columns a transformation in "
            f"{st.rel(step.sanitize)}",
            leaks=tuple(leaks),
        )


def _seed_into(
    env: Environment, service: Service, server: _Server, database: str, schema: str | None
) -> None:
    with tempfile.TemporaryDirectory(prefix="eph-external-seed-") as tmp:
        for st in _steps(env, service):
            try:
                _run_step(st, server, database, Path(tmp), schema=schema)
            except DataError as exc:
                if getattr(exc, "step", None) is not None:
                    raise
                raise st.error(str(exc)) from None


# -- the part ---------------------------------------------------------------------------------


class PgPart:
    """An environment's database (``isolate: database``) or schema."""

    def __init__(self, server: _Server, isolate: str, name: str, claim: Claim) -> None:
        self.server_ = server
        self.server = server.shown
        self.isolate = isolate
        self.name = name
        self.claim = claim
        self.template: str | None = None
        self.conn: Any = None  # to the URL's database: DDL on our part only

    # -- making -----------------------------------------------------------------------------
    def _maint(self) -> Any:
        if self.conn is None or self.conn.closed:
            self.conn = self.server_.connect()
        return self.conn

    def _comment(self, what: str, name: str, text: str) -> None:
        self._maint().execute(f"COMMENT ON {what} {sql_ident(name)} IS {sql_literal(text)}")

    def create(self, env: Environment, service: Service) -> None:
        import psycopg

        conn = self._maint()
        if self.isolate == "schema":
            try:
                conn.execute(f"CREATE SCHEMA {sql_ident(self.name)}")
            except psycopg.errors.DuplicateSchema:
                raise self._in_use("schema") from None
            except psycopg.Error as exc:
                raise self._refused("create a schema in", exc) from None
            self._claimed("SCHEMA", f"DROP SCHEMA IF EXISTS {sql_ident(self.name)} CASCADE")
            return
        template = "template0"
        if service.spec.seed:
            template = self._template(env, service)
        self.template = template
        self._copy(template)

    def _copy(self, template: str) -> None:
        import psycopg

        conn = self._maint()
        try:
            conn.execute(f"CREATE DATABASE {sql_ident(self.name)} TEMPLATE {sql_ident(template)}")
        except psycopg.errors.DuplicateDatabase:
            raise self._in_use("database") from None
        except psycopg.Error as exc:
            raise self._refused("create databases on", exc) from None
        self._claimed("DATABASE", f"DROP DATABASE IF EXISTS {sql_ident(self.name)} WITH (FORCE)")

    def _claimed(self, what: str, undo: str) -> None:
        """Write the ownership record on what was just made; if that fails, it
        is unmade (nothing without a record stays behind)."""
        try:
            self._comment(what, self.name, self.claim.text())
        except BaseException:
            with contextlib.suppress(Exception):
                self._maint().execute(undo)
            raise

    def _in_use(self, what: str) -> ExternalError:
        holder = self._holder(what)
        return ExternalError(
            f"external service {self.server_.service!r}: {what} {self.name} already exists on "
            f"{self.server} ({holder}); this environment's id is taken: remove the other "
            f"environment (eph down / eph prune) or, if it is not ours, rename it"
        )

    def _holder(self, what: str) -> str:
        with contextlib.suppress(Exception):
            if what == "database":
                sql = (
                    "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                    "WHERE datname = %s"
                )
            else:
                sql = (
                    "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace "
                    "WHERE nspname = %s"
                )
            row = self._maint().execute(sql, (self.name,)).fetchone()
            claim = Claim.parse(row[0] if row else None)
            if claim is not None:
                return f"held by environment {claim.env}, owner {claim.owner}"
        return "not made by pytest-ephemeral"

    def _refused(self, what: str, exc: BaseException) -> ExternalError:
        s = self.server_
        if _denied(exc):
            fix = (
                f"grant it: ALTER ROLE {s.user} CREATEDB, or use isolate: schema"
                if what.startswith("create databases")
                else f"grant it: GRANT CREATE ON DATABASE {s.database} TO {s.user}"
            )
            return ExternalError(
                f"external service {s.service!r}: role {s.user!r} may not {what} {self.server} "
                f"({_first_line(exc)}); {fix}"
            )
        return ExternalError(
            f"external service {s.service!r}: cannot {what} {self.server}: {_first_line(exc)}"
        )

    def _template(self, env: Environment, service: Service) -> str:
        """The seeded template of this seed, made once (under an advisory lock)."""
        import psycopg

        s = self.server_
        key = seed_key(env, service, s.user)
        name = TEMPLATE_PREFIX + key
        conn = self._maint()
        lock = int(hashlib.sha256(name.encode()).hexdigest()[:15], 16)
        conn.execute("SELECT pg_advisory_lock(%s)", (lock,))
        try:
            row = conn.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                (name,),
            ).fetchone()
            state = _TEMPLATE.match(row[0] or "") if row else None
            if state is not None and state["expires"]:
                self._renew_template(name, key)
                return name
            if row is not None:  # half-made by a run that died while seeding it
                conn.execute(f"DROP DATABASE IF EXISTS {sql_ident(name)} WITH (FORCE)")
            try:
                conn.execute(f"CREATE DATABASE {sql_ident(name)} TEMPLATE template0")
            except psycopg.Error as exc:
                raise self._refused("create databases on", exc) from None
            self._comment("DATABASE", name, f"pytest-ephemeral template key={key} seeding")
            try:
                _seed_into(env, service, s, name, None)
            except BaseException:
                with contextlib.suppress(Exception):
                    conn.execute(f"DROP DATABASE IF EXISTS {sql_ident(name)} WITH (FORCE)")
                raise
            self._renew_template(name, key)
            return name
        finally:
            with contextlib.suppress(Exception):
                conn.execute("SELECT pg_advisory_unlock(%s)", (lock,))

    def _renew_template(self, name: str, key: str) -> None:
        expires = max(self.claim.expires, time.time())
        self._comment(
            "DATABASE", name, f"pytest-ephemeral template key={key} expires={expires:.0f}"
        )

    # -- the Part protocol ------------------------------------------------------------------
    def seed(self, env: Environment, service: Service) -> None:
        if self.isolate == "schema":
            _seed_into(env, service, self.server_, self.server_.database, self.name)
        # isolate: database: the template was seeded before the copy

    def connection(self) -> Connection:
        from ...runtime.environment import Connection

        s = self.server_
        if self.isolate == "schema":
            url, database = s.url_for(s.database, schema=self.name), s.database
        else:
            url, database = s.url_for(self.name), self.name
        return Connection(
            url=url,
            user=s.user,
            password=s.password,
            database=database,
            redacted_url=redact_url(url),
        )

    def reset(self, env: Environment, service: Service) -> None:
        import psycopg

        conn = self._maint()
        try:
            if self.isolate == "schema":
                conn.execute(f"DROP SCHEMA IF EXISTS {sql_ident(self.name)} CASCADE")
                conn.execute(f"CREATE SCHEMA {sql_ident(self.name)}")
                self._comment("SCHEMA", self.name, self.claim.text())
                self.seed(env, service)
                return
            conn.execute(f"DROP DATABASE IF EXISTS {sql_ident(self.name)} WITH (FORCE)")
        except psycopg.Error as exc:
            raise ExternalError(
                f"external service {service.name!r}: resetting {self.isolate} {self.name} "
                f"failed: {_first_line(exc)}"
            ) from None
        self._copy(self.template or "template0")

    def describe(self) -> str:
        if self.isolate == "schema":
            return "external postgres schema (dropped and seeded again)"
        return "external postgres database (a copy of the seeded template database)"

    def mark(self, expires: float, kept: bool) -> None:
        import psycopg

        self.claim = self.claim.renewed(expires, kept=kept)
        what = "SCHEMA" if self.isolate == "schema" else "DATABASE"
        try:
            self._comment(what, self.name, self.claim.text())
        except psycopg.Error as exc:
            raise ExternalError(f"marking {self.name} kept failed: {_first_line(exc)}") from None

    def drop(self) -> None:
        _drop(self._maint(), self.isolate, self.name, self.claim.env)

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None


def _drop(conn: Any, isolate: str, name: str, env_id: str) -> None:
    """Drop ``name`` if (and only if) its comment still says ``env_id`` holds it."""
    if isolate == "schema":
        row = conn.execute(
            "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s",
            (name,),
        ).fetchone()
    else:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
    if row is None:
        return  # gone already
    claim = Claim.parse(row[0])
    template = _TEMPLATE.match(row[0] or "")
    if (claim is None or claim.env != env_id) and not (template and env_id == "template"):
        raise ExternalError(f"{isolate} {name} is not held by {env_id}: left alone")
    if isolate == "schema":
        conn.execute(f"DROP SCHEMA IF EXISTS {sql_ident(name)} CASCADE")
    else:
        conn.execute(f"DROP DATABASE IF EXISTS {sql_ident(name)} WITH (FORCE)")


# -- the driver -------------------------------------------------------------------------------


class _Driver:
    def claim(self, env: Environment, service: Service, claim: Claim) -> PgPart:
        ext = service.spec.external
        assert ext is not None
        server = _Server(ext.url, service.name)
        part = PgPart(server, ext.isolate, _ident_name(PART_PREFIX, env.id), claim)
        try:
            part.create(env, service)
        except BaseException:
            part.close()
            raise
        return part

    def adopt(self, env: Environment, service: Service) -> PgPart | None:
        """The part an earlier process made for ``env``, if its record is there."""
        ext = service.spec.external
        assert ext is not None
        server = _Server(ext.url, service.name)
        name = _ident_name(PART_PREFIX, env.id)
        part = PgPart(server, ext.isolate, name, Claim(env.id, "-", 0))
        holder = part._holder("schema" if ext.isolate == "schema" else "database")
        if f"environment {env.id}," not in holder:
            part.close()
            return None
        row = (
            part._maint()
            .execute(
                "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s"
                if ext.isolate == "schema"
                else "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                "WHERE datname = %s",
                (name,),
            )
            .fetchone()
        )
        part.claim = Claim.parse(row[0] if row else None) or part.claim
        if ext.isolate != "schema":
            part.template = (
                TEMPLATE_PREFIX + seed_key(env, service, server.user)
                if service.spec.seed
                else "template0"
            )
        return part

    def owned(self, url: str, isolate: str) -> list[Found]:
        server = _Server(url, "(sweep)")
        conn = server.connect()
        try:
            found = []
            if isolate == "schema":
                rows = conn.execute(
                    "SELECT nspname, obj_description(oid, 'pg_namespace') FROM pg_namespace "
                    "WHERE obj_description(oid, 'pg_namespace') LIKE 'pytest-ephemeral %%'"
                ).fetchall()
            else:
                rows = conn.execute(
                    "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
                    "WHERE shobj_description(oid, 'pg_database') LIKE 'pytest-ephemeral %%'"
                ).fetchall()
            for name, comment in rows:
                claim = Claim.parse(comment)
                if claim is not None:
                    found.append(Found(server.shown, isolate, str(name), claim))
                    continue
                template = _TEMPLATE.match(comment or "")
                if template and template["expires"]:
                    expires = float(template["expires"])
                    found.append(
                        Found(server.shown, "database", str(name), Claim("template", "-", expires))
                    )
            return found
        except Exception as exc:
            raise ExternalError(f"listing the parts on {server.shown} failed: {exc}") from None
        finally:
            conn.close()

    def drop_found(self, url: str, found: Found) -> None:
        server = _Server(url, "(sweep)")
        conn = server.connect()
        try:
            _drop(conn, found.isolate, found.name, found.claim.env)
        except ExternalError:
            raise
        except Exception as exc:
            raise ExternalError(f"dropping {found} failed: {_first_line(exc)}") from None
        finally:
            conn.close()


DRIVER: Final = _Driver()
