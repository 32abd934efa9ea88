"""An external Redis server: each environment's own logical database
(``isolate: db``, the default) or key prefix (``isolate: prefix``).

``db``: a database number is claimed atomically — one ``EVAL`` that sets
the marker key ``eph:claim:<n>`` only when database ``n`` is empty — so a
database another run (or anyone) uses is never taken. Database 0 and the
URL's own database are never claimed. ``eph_fresh`` deletes every key but
the marker and seeds again; the end of the environment ``FLUSHDB``-es it
(after checking the marker still names the environment) and the marker
goes with it.

``prefix``: the keys of the seed are written as ``eph:<env>:<key>`` in the
URL's database, and the marker is ``eph:claim:prefix:<env>`` (``SET NX``: a
prefix held by another run is refused). ``eph_fresh`` and the end delete
the prefix's keys (``SCAN MATCH`` + ``UNLINK``) only. Clients must prefix
their keys themselves: ``env["cache"].connection.prefix``.

The marker's value is the ownership record (``Claim`` text), so the reaper
and the sweep find a killed run's parts on the server itself.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Final
from urllib.parse import unquote, urlsplit, urlunsplit

from ...errors import DataError
from ..external import Claim, ExternalError, Found, redact_url
from .file import redis_commands
from .resp import RedisError, Reply, Resp

if TYPE_CHECKING:
    from ...runtime.environment import Connection, Environment, Service

__all__ = ["DRIVER", "RedisPart"]

CLAIM_DB: Final = "eph:claim:"
CLAIM_PREFIX: Final = "eph:claim:prefix:"
DEFAULT_DATABASES: Final = 16
SCAN_COUNT: Final = 1000
# set KEYS[1] = ARGV[1] only if the selected database is empty
_CLAIM_EMPTY: Final = (
    "if redis.call('DBSIZE') == 0 then redis.call('SET', KEYS[1], ARGV[1]) return 1 end return 0"
)


class _Server:
    def __init__(self, url: str, service: str) -> None:
        self.url = url
        self.service = service
        self.shown = redact_url(url)
        try:
            parts = urlsplit(url)
            self.host = parts.hostname or "127.0.0.1"
            self.port = parts.port or 6379
        except ValueError as exc:
            raise ExternalError(f"external service {service!r}: {self.shown}: {exc}") from None
        self.password = unquote(parts.password) if parts.password else None
        path = parts.path.strip("/")
        if path and not path.isdigit():
            raise ExternalError(
                f"external service {service!r}: {self.shown}: the path must be a database "
                "number (redis://host:6379/0)"
            )
        self.home = int(path or 0)

    def client(self) -> Resp:
        try:
            return Resp(self.host, self.port, password=self.password)
        except DataError as exc:
            raise ExternalError(
                f"external service {self.service!r}: cannot connect to {self.shown}: {exc}; "
                "check the URL and that the server is up"
            ) from None
        except RedisError as exc:
            raise ExternalError(
                f"external service {self.service!r}: {self.shown} refused the password: {exc}"
            ) from None

    def url_for(self, db: int) -> str:
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path=f"/{db}"))

    def databases(self, client: Resp) -> int:
        try:
            reply = client.call("CONFIG", "GET", "databases")
        except RedisError:  # CONFIG renamed or not allowed: Redis's default
            return DEFAULT_DATABASES
        if isinstance(reply, list) and len(reply) == 2 and isinstance(reply[1], bytes):
            return int(reply[1])
        return DEFAULT_DATABASES


def _call(client: Resp, *command: str | bytes) -> Reply:
    try:
        return client.call(*command)
    except RedisError as exc:
        raise ExternalError(f"Redis at {client.address}: {command[0]!s} failed: {exc}") from None


def _scan(client: Resp, match: str) -> list[bytes]:
    keys: list[bytes] = []
    cursor = b"0"
    while True:
        reply = _call(client, "SCAN", cursor, "MATCH", match, "COUNT", str(SCAN_COUNT))
        assert isinstance(reply, list) and len(reply) == 2
        cursor = reply[0] if isinstance(reply[0], bytes) else b"0"
        keys += [k for k in reply[1] or [] if isinstance(k, bytes)]  # type: ignore[union-attr]
        if cursor == b"0":
            return keys


def _unlink(client: Resp, keys: list[bytes]) -> None:
    for i in range(0, len(keys), SCAN_COUNT):
        _call(client, "UNLINK", *keys[i : i + SCAN_COUNT])


def _glob(text: str) -> str:
    """``text`` with Redis's glob characters escaped."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _parse_command(encoded: bytes) -> list[bytes]:
    """The arguments of one RESP-encoded command."""
    lines = encoded.split(b"\r\n")
    count = int(lines[0][1:])
    args = []
    pos = len(lines[0]) + 2
    for _ in range(count):
        end = encoded.index(b"\r\n", pos)
        size = int(encoded[pos + 1 : end])
        args.append(encoded[end + 2 : end + 2 + size])
        pos = end + 2 + size + 2
    return args


class RedisPart:
    def __init__(self, server: _Server, isolate: str, claim: Claim) -> None:
        self.server_ = server
        self.server = server.shown
        self.isolate = isolate
        self.claim = claim
        self.db = server.home
        self.prefix = f"eph:{claim.env}:" if isolate == "prefix" else None
        self.marker = f"{CLAIM_PREFIX}{claim.env}" if isolate == "prefix" else ""
        self.name = ""
        self.client: Resp | None = None

    def _client(self) -> Resp:
        if self.client is None:
            self.client = self.server_.client()
            _call(self.client, "SELECT", str(self.db))
        return self.client

    # -- claiming ------------------------------------------------------------------------------
    def take(self) -> None:
        client = self.server_.client()
        try:
            if self.isolate == "prefix":
                self._take_prefix(client)
            else:
                self._take_db(client)
        except BaseException:
            client.close()
            raise
        self.client = client

    def _take_prefix(self, client: Resp) -> None:
        _call(client, "SELECT", str(self.db))
        got = _call(client, "SET", self.marker, self.claim.text(), "NX")
        if got is None:
            holder = _call(client, "GET", self.marker)
            text = holder.decode("utf-8", "replace") if isinstance(holder, bytes) else "?"
            raise ExternalError(
                f"external service {self.server_.service!r}: key prefix {self.prefix} on "
                f"{self.server} is in use ({text}); remove that environment (eph down / eph "
                "prune) — the prefix is not shared"
            )
        self.name = self.prefix or ""

    def _take_db(self, client: Resp) -> None:
        count = self.server_.databases(client)
        held = []
        for n in range(1, count):
            if n == self.server_.home:
                continue
            marker = f"{CLAIM_DB}{n}"
            replies = client.pipeline(
                [("SELECT", str(n)), ("EVAL", _CLAIM_EMPTY, "1", marker, self.claim.text())]
            )
            for reply in replies:
                if isinstance(reply, RedisError):
                    raise ExternalError(
                        f"external service {self.server_.service!r}: claiming a database on "
                        f"{self.server} failed: {reply}"
                    )
            if replies[1] == 1:
                self.db = n
                self.marker = marker
                self.name = str(n)
                return
            owner = _call(client, "GET", marker)
            if isinstance(owner, bytes) and Claim.parse(owner.decode("utf-8", "replace")):
                held.append(n)
        raise ExternalError(
            f"external service {self.server_.service!r}: no free logical database on "
            f"{self.server}: databases 1-{count - 1} hold data or are claimed "
            f"({len(held)} by other environments); raise 'databases' in redis.conf, "
            "remove leftovers (eph prune), or use isolate: prefix"
        )

    # -- seeding -----------------------------------------------------------------------------
    def _commands(self, service: Service) -> list[list[bytes]]:
        commands: list[list[bytes]] = []
        for step in service.spec.seed:
            if step.kind != "redis":
                raise ExternalError(
                    f"service {service.name!r}: {step.kind}: steps do not apply to Redis"
                )
            assert step.file is not None
            for encoded in redis_commands(step.file):
                args = _parse_command(encoded)
                if self.prefix is not None:
                    args[1] = self.prefix.encode() + args[1]  # every seed command: (CMD key ...)
                commands.append(args)
        return commands

    def seed(self, env: Environment, service: Service) -> None:
        commands = self._commands(service)
        replies = self._client().pipeline(commands)
        errors = [r for r in replies if isinstance(r, RedisError)]
        if errors:
            raise ExternalError(
                f"service {service.name!r}: {len(errors)} of {len(commands)} seed commands "
                f"failed on {self.server}: {errors[0]}"
            )

    def connection(self) -> Connection:
        from ...runtime.environment import Connection

        url = self.server_.url_for(self.db)
        return Connection(
            url=url,
            password=self.server_.password,
            database=str(self.db),
            redacted_url=redact_url(url),
            prefix=self.prefix,
        )

    def _clear(self) -> None:
        """Every key of the part, except the marker."""
        client = self._client()
        match = _glob(self.prefix) + "*" if self.prefix is not None else "*"
        keys = [k for k in _scan(client, match) if k != self.marker.encode()]
        _unlink(client, keys)

    def reset(self, env: Environment, service: Service) -> None:
        self._check()
        self._clear()
        self.seed(env, service)

    def describe(self) -> str:
        return f"external redis {self.isolate} (keys deleted, seed again)"

    def _check(self) -> None:
        held = _call(self._client(), "GET", self.marker)
        claim = Claim.parse(held.decode("utf-8", "replace") if isinstance(held, bytes) else None)
        if claim is None or claim.env != self.claim.env:
            raise ExternalError(
                f"{self.name} on {self.server} is no longer held by {self.claim.env} "
                "(its marker key is gone or names another environment): left alone"
            )

    def mark(self, expires: float, kept: bool) -> None:
        self.claim = self.claim.renewed(expires, kept=kept)
        self._check()
        _call(self._client(), "SET", self.marker, self.claim.text())

    def drop(self) -> None:
        _drop(self._client(), self.isolate, self.marker, self.prefix, self.claim.env)

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close()
            self.client = None


def _drop(client: Resp, isolate: str, marker: str, prefix: str | None, env_id: str) -> None:
    held = _call(client, "GET", marker)
    claim = Claim.parse(held.decode("utf-8", "replace") if isinstance(held, bytes) else None)
    if claim is None:
        return  # gone already
    if claim.env != env_id:
        raise ExternalError(f"{marker} is held by {claim.env}, not {env_id}: left alone")
    if isolate == "prefix":
        assert prefix is not None
        _unlink(client, _scan(client, _glob(prefix) + "*"))
        _call(client, "DEL", marker)
    else:
        _call(client, "FLUSHDB")  # the marker with the rest


class _Driver:
    def claim(self, env: Environment, service: Service, claim: Claim) -> RedisPart:
        ext = service.spec.external
        assert ext is not None
        part = RedisPart(_Server(ext.url, service.name), ext.isolate, claim)
        part.take()
        return part

    def adopt(self, env: Environment, service: Service) -> RedisPart | None:
        """The part an earlier process claimed for ``env``, if its marker is there."""
        ext = service.spec.external
        assert ext is not None
        server = _Server(ext.url, service.name)
        for found in self.owned(ext.url, ext.isolate):
            if found.claim.env != env.id:
                continue
            part = RedisPart(server, ext.isolate, found.claim)
            if ext.isolate == "db":
                part.db = int(found.name)
                part.marker = f"{CLAIM_DB}{part.db}"
            part.name = found.name
            return part
        return None

    def owned(self, url: str, isolate: str) -> list[Found]:
        server = _Server(url, "(sweep)")
        found: list[Found] = []
        with server.client() as client:
            if isolate == "prefix":
                _call(client, "SELECT", str(server.home))
                for key in _scan(client, _glob(CLAIM_PREFIX) + "*"):
                    value = _call(client, "GET", key)
                    claim = Claim.parse(value.decode() if isinstance(value, bytes) else None)
                    if claim is not None:
                        found.append(Found(server.shown, "prefix", f"eph:{claim.env}:", claim))
                return found
            for n in range(1, server.databases(client)):
                if n == server.home:
                    continue
                _call(client, "SELECT", str(n))
                value = _call(client, "GET", f"{CLAIM_DB}{n}")
                claim = Claim.parse(value.decode() if isinstance(value, bytes) else None)
                if claim is not None:
                    found.append(Found(server.shown, "db", str(n), claim))
        return found

    def drop_found(self, url: str, found: Found) -> None:
        server = _Server(url, "(sweep)")
        with server.client() as client:
            if found.isolate == "prefix":
                _call(client, "SELECT", str(server.home))
                marker = CLAIM_PREFIX + found.claim.env
                _drop(client, "prefix", marker, found.name, found.claim.env)
                return
            n = int(found.name)
            _call(client, "SELECT", str(n))
            _drop(client, "db", f"{CLAIM_DB}{n}", None, found.claim.env)


DRIVER: Final = _Driver()
