"""The quickstart suite: real PostgreSQL, Redis and an HTTP service."""

from __future__ import annotations

import json
import socket
import urllib.request

from pytest_ephemeral import Environment


def redis_command(address: tuple[str, int], *args: str) -> bytes:
    payload = f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(payload.encode())
        return sock.recv(4096)


def test_database_accepts_queries(eph: Environment) -> None:
    code, out = eph["db"].exec(["psql", "-U", "postgres", "-d", "shop", "-tAc", "select 6 * 7"])
    assert code == 0, out
    assert out.strip() == "42"


def test_database_is_published_on_localhost(eph: Environment) -> None:
    db = eph["db"]
    assert db.host == "127.0.0.1"
    host, port = db.address(5432).split(":")
    with socket.create_connection((host, int(port)), timeout=5):
        pass


def test_cache_answers(eph: Environment) -> None:
    cache = eph["cache"]
    assert redis_command((cache.host, cache.port(6379)), "PING") == b"+PONG\r\n"


def test_api_counts_visits_in_redis(eph: Environment) -> None:
    api = eph["api"]
    url = f"http://{api.address(8000)}/visits"
    first = json.load(urllib.request.urlopen(url, timeout=5))["visits"]
    second = json.load(urllib.request.urlopen(url, timeout=5))["visits"]
    assert second == first + 1
    cache = eph["cache"]
    stored = redis_command((cache.host, cache.port(6379)), "GET", "visits")
    assert stored.split(b"\r\n")[1] == str(second).encode()


def test_api_sees_its_dependencies(eph: Environment) -> None:
    health = json.load(
        urllib.request.urlopen(f"http://{eph['api'].address(8000)}/health", timeout=5)
    )
    assert health == {"db": True, "cache": True}
