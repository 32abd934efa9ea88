"""A minimal Redis (RESP) client, standard library only."""

import os
import socket

ADDRESS = (os.environ.get("REDIS_HOST", "redis"), 6379)


def _read(f):  # type: ignore[no-untyped-def]
    line = f.readline().rstrip(b"\r\n")
    kind, rest = line[:1], line[1:]
    if kind in (b"+", b"-"):
        return rest.decode()
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode()
    if kind == b"*":
        return [_read(f) for _ in range(int(rest))]
    raise ValueError(f"bad reply {line!r}")


def command(*args, address=ADDRESS, timeout=None):  # type: ignore[no-untyped-def]
    payload = f"*{len(args)}\r\n" + "".join(f"${len(str(a).encode())}\r\n{a}\r\n" for a in args)
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(payload.encode())
        with sock.makefile("rb") as f:
            return _read(f)
