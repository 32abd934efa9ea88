"""The 20-test suite, the same for every contender (only conftest.py differs):
each test runs a SQL query on db over TCP, PINGs cache and GETs the api's
/visits (which increments a counter in cache)."""

from __future__ import annotations

import json
import socket
import urllib.request

import psycopg
import pytest


def redis_command(address: tuple[str, int], *args: str) -> bytes:
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(payload.encode())
        return sock.recv(4096)


@pytest.mark.parametrize("n", range(20))
def test_touches_every_service(
    n: int, dsn: str, cache_address: tuple[str, int], api_url: str
) -> None:
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        row = conn.execute("select %s::int * 2", (n,)).fetchone()
    assert row == (n * 2,)
    assert redis_command(cache_address, "PING") == b"+PONG\r\n"
    with urllib.request.urlopen(f"{api_url}/visits", timeout=5) as response:
        assert response.status == 200
        assert json.load(response)["visits"] >= 1
