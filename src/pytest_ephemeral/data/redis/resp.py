"""A very small Redis client over a published port: pipelined commands, the
replies back. Enough for snapshot (SCAN, DUMP, PTTL) and restore
(FLUSHALL, RESTORE); no dependency."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import Union

from ...errors import DataError
from .file import encode_command

__all__ = ["RedisError", "Reply", "Resp"]

Reply = Union[bytes, int, None, "RedisError", list["Reply"]]


class RedisError(Exception):
    """An error reply (``-ERR ...``); returned in pipelines, raised by :meth:`Resp.call`."""


class Resp:
    """One connection. Not thread-safe."""

    def __init__(
        self, host: str, port: int, *, password: str | None = None, timeout: float = 10.0
    ) -> None:
        self.address = f"{host}:{port}"
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise DataError(f"cannot connect to Redis at {self.address}: {exc}") from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb", buffering=1 << 16)
        if password:
            self.call("AUTH", password)

    def close(self) -> None:
        try:
            self.reader.close()
        finally:
            self.sock.close()

    def __enter__(self) -> Resp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self) -> Reply:
        line = self.reader.readline()
        if not line.endswith(b"\r\n"):
            raise DataError(f"Redis at {self.address} closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest
        if kind == b"-":
            return RedisError(rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data: bytes = self.reader.read(size + 2)
            if len(data) != size + 2:
                raise DataError(f"Redis at {self.address} closed the connection")
            return data[:-2]
        if kind == b"*":
            size = int(rest)
            if size < 0:
                return None
            return [self._read() for _ in range(size)]
        raise DataError(f"Redis at {self.address} sent an unexpected reply {line[:40]!r}")

    def pipeline(self, commands: Sequence[Sequence[str | bytes]]) -> list[Reply]:
        """Send every command, then read every reply (errors as :class:`RedisError` values)."""
        if not commands:
            return []
        try:
            # in slices, so the send buffer never holds everything at once
            replies: list[Reply] = []
            step = 1000
            for i in range(0, len(commands), step):
                part = commands[i : i + step]
                self.sock.sendall(b"".join(encode_command(*c) for c in part))
                replies.extend(self._read() for _ in part)
            return replies
        except OSError as exc:
            raise DataError(f"lost the connection to Redis at {self.address}: {exc}") from None

    def call(self, *command: str | bytes) -> Reply:
        reply = self.pipeline([command])[0]
        if isinstance(reply, RedisError):
            raise reply
        return reply
