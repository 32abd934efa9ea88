"""Redis snapshot and reset: ``DUMP`` every key (with its ``PTTL``) of every
database after seeding, held in memory; a reset is ``FLUSHALL`` and a
pipelined ``RESTORE`` of every key, over one connection to the published port."""

from __future__ import annotations

import contextlib
import re
import threading
from typing import TYPE_CHECKING, Final

from ...errors import DataError
from .._args import host_port
from .resp import RedisError, Reply, Resp
from .settings import RedisSettings, redis_settings

if TYPE_CHECKING:
    from ...runtime.environment import Environment, Service

__all__ = ["RedisDumpSnapshot", "RedisReseed", "make_snapshot"]

_KEYSPACE: Final = re.compile(rb"^db(\d+):keys=(\d+)", re.MULTILINE)
SCAN_COUNT: Final = 1000


class RedisDumpSnapshot:
    mechanism = "redis DUMP/RESTORE (host connection)"

    def __init__(self, service: Service, settings: RedisSettings, port: int) -> None:
        self.service_name = service.name
        self.host = service.host
        self.port = port
        self.password = settings.password
        self.lock = threading.Lock()
        self.client: Resp | None = None
        # db -> [(key, pttl (0: none), payload)]
        self.keys: dict[int, list[tuple[bytes, int, bytes]]] = {}
        self.closed = False

    @classmethod
    def open(cls, service: Service, settings: RedisSettings) -> RedisDumpSnapshot | None:
        port = host_port(service, settings.port)
        if port is None:
            return None
        return cls(service, settings, port)

    def _client(self) -> Resp:
        if self.client is None:
            self.client = Resp(self.host, self.port, password=self.password)
        return self.client

    def _fail(self, what: str, exc: object) -> DataError:
        return DataError(f"service {self.service_name!r}: {what} failed: {exc}")

    def take(self) -> None:
        with self.lock:
            try:
                self._take(self._client())
            except RedisError as exc:
                raise self._fail("snapshotting Redis", exc) from None

    def _take(self, client: Resp) -> None:
        info = client.call("INFO", "keyspace")
        text = info if isinstance(info, bytes) else b""
        keys: dict[int, list[tuple[bytes, int, bytes]]] = {}
        for db_text, _count in _KEYSPACE.findall(text):
            db = int(db_text)
            client.call("SELECT", str(db))
            found: list[tuple[bytes, int, bytes]] = []
            cursor = b"0"
            while True:
                reply = client.call("SCAN", cursor, "COUNT", str(SCAN_COUNT))
                if not isinstance(reply, list) or len(reply) != 2:
                    raise RedisError(f"unexpected SCAN reply {reply!r:.80}")
                cursor_reply, batch = reply
                names = (
                    [k for k in batch if isinstance(k, bytes)] if isinstance(batch, list) else []
                )
                replies = client.pipeline([c for k in names for c in (("DUMP", k), ("PTTL", k))])
                for i, key in enumerate(names):
                    payload, ttl = replies[2 * i], replies[2 * i + 1]
                    if isinstance(payload, bytes):  # None: expired or deleted meanwhile
                        found.append((key, ttl if isinstance(ttl, int) and ttl > 0 else 0, payload))
                cursor = cursor_reply if isinstance(cursor_reply, bytes) else b"0"
                if cursor == b"0":
                    break
            keys[db] = found
        client.call("SELECT", "0")
        self.keys = keys

    def reset(self, env: Environment, service: Service) -> None:
        with self.lock:
            if self.closed:
                raise DataError(f"service {self.service_name!r}: its snapshot is closed")
            try:
                self._reset()
            except DataError:
                # the connection broke: once more on a new one
                self._drop_client()
                try:
                    self._reset()
                except (DataError, RedisError) as exc:
                    raise self._fail("resetting Redis", exc) from None
            except RedisError as exc:
                raise self._fail("resetting Redis", exc) from None

    def _reset(self) -> None:
        client = self._client()
        commands: list[tuple[str | bytes, ...]] = [("FLUSHALL",)]
        for db, entries in self.keys.items():
            commands.append(("SELECT", str(db)))
            commands.extend(("RESTORE", key, str(ttl), payload) for key, ttl, payload in entries)
        commands.append(("SELECT", "0"))
        replies: list[Reply] = client.pipeline(commands)
        errors = [r for r in replies if isinstance(r, RedisError)]
        if errors:
            raise RedisError(f"{len(errors)} command(s) failed, first: {errors[0]}")

    def _drop_client(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close()
            self.client = None

    def describe(self) -> str:
        total = sum(len(v) for v in self.keys.values())
        return f"{self.mechanism}, {total} keys"

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self._drop_client()


class RedisReseed:
    """Without a published port: ``FLUSHALL``, then the seed steps again."""

    def reset(self, env: Environment, service: Service) -> None:
        from ..seed import run_steps
        from .seed import flushall

        flushall(env, service)
        run_steps(env, service)

    def describe(self) -> str:
        return "generic fallback: FLUSHALL, then the seed steps again (no published port)"

    def close(self) -> None:
        pass


def make_snapshot(
    env: Environment, service: Service, adopt: bool
) -> RedisDumpSnapshot | RedisReseed:
    """A RESP dump of every key over the published port, restored on reset."""
    redis = RedisDumpSnapshot.open(service, redis_settings(service))
    if redis is None:
        return RedisReseed()
    try:
        if adopt:  # the data may have been changed since seeding: seed again first
            RedisReseed().reset(env, service)
        redis.take()
    except BaseException:
        redis.close()
        raise
    return redis
