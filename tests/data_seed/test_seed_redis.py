"""``redis:`` seed files and the Redis snapshot, against the real engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_ephemeral import Service
from pytest_ephemeral.data.seed import SeedError
from pytest_ephemeral.data.snapshot import describe_snapshots, reset_environment

pytestmark = pytest.mark.docker

CACHE_YAML = """\
greeting: hello
price: 1.50
recent: [3, 2, 1]
"user:1": {name: Ada, plan: pro}
tags: !set [red, green]
board: !zset {ada: 10, bob: 7.5}
"""

CACHE_JSON = """\
{"greeting": "replaced by the second file", "flags": {"$set": ["beta"]},
 "ranks": {"$zset": {"x": 1}}}
"""


def _cache(ports: bool = True, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "image": "redis:7-alpine",
        "wait": {"log": "Ready to accept connections"},
        **extra,
    }
    if ports:
        body["ports"] = [6379]
    return body


def cli(service: Service, *args: str) -> str:
    code, output = service.exec(["redis-cli", *args])
    assert code == 0, output
    return output.strip()


def test_redis_file_every_type_then_reset(
    project: Callable[..., Path], environment: Callable[[Path], Any]
) -> None:
    cache = _cache(seed=[{"redis": "seed/cache.yaml"}, {"redis": "seed/cache.json"}])
    path = project(
        {"name": "redisseed", "services": {"cache": cache}},
        {"seed/cache.yaml": CACHE_YAML, "seed/cache.json": CACHE_JSON},
    )
    with environment(path) as env:
        svc = env["cache"]
        assert cli(svc, "GET", "greeting") == "replaced by the second file"
        assert cli(svc, "GET", "price") == "1.50"
        assert cli(svc, "LRANGE", "recent", "0", "-1").split() == ["3", "2", "1"]
        assert cli(svc, "HGET", "user:1", "plan") == "pro"
        assert sorted(cli(svc, "SMEMBERS", "tags").split()) == ["green", "red"]
        assert cli(svc, "ZRANGE", "board", "0", "-1").split() == ["bob", "ada"]
        assert cli(svc, "SMEMBERS", "flags") == "beta"
        assert cli(svc, "TYPE", "ranks") == "zset"
        assert "DUMP/RESTORE" in describe_snapshots(env)["cache"]

        cli(svc, "SET", "greeting", "changed by a test")
        cli(svc, "DEL", "tags")
        cli(svc, "SET", "new", "key")
        cli(svc, "-n", "3", "SET", "elsewhere", "1")
        reset_environment(env)
        assert cli(svc, "GET", "greeting") == "replaced by the second file"
        assert sorted(cli(svc, "SMEMBERS", "tags").split()) == ["green", "red"]
        assert cli(svc, "EXISTS", "new") == "0"
        assert cli(svc, "-n", "3", "DBSIZE") == "0"
        assert cli(svc, "DBSIZE") == "8"


def test_redis_without_a_published_port_resets_by_seeding_again(
    project: Callable[..., Path], environment: Callable[[Path], Any]
) -> None:
    cache = _cache(ports=False, seed=[{"redis": "seed/cache.yaml"}])
    path = project(
        {"name": "redisnoport", "services": {"cache": cache}}, {"seed/cache.yaml": CACHE_YAML}
    )
    with environment(path) as env:
        svc = env["cache"]
        assert describe_snapshots(env)["cache"].startswith("generic fallback: FLUSHALL")
        cli(svc, "SET", "greeting", "changed")
        cli(svc, "SET", "stray", "1")
        reset_environment(env)
        assert cli(svc, "GET", "greeting") == "hello"
        assert cli(svc, "EXISTS", "stray") == "0"


def test_a_bad_redis_file_names_file_and_line(
    project: Callable[..., Path], start_fails: Callable[[Path], Exception]
) -> None:
    cache = _cache(seed=[{"redis": "seed/cache.yaml"}])
    path = project(
        {"name": "redisbad", "services": {"cache": cache}},
        {"seed/cache.yaml": "ok: yes\nlist: [1, [2, 3]]\n"},
    )
    err = start_fails(path)
    assert isinstance(err, SeedError)
    text = str(err)
    assert "service 'cache': seed step 1 of 1 (redis: seed/cache.yaml" in text
    assert "seed/cache.yaml:2: an element of key 'list' must be a single value" in text


def test_redis_errors_from_the_server_are_reported(
    project: Callable[..., Path], start_fails: Callable[[Path], Exception]
) -> None:
    # a server that refuses writes: every command of the file fails
    cache = _cache(
        command=["redis-server", "--min-replicas-to-write", "1"],
        seed=[{"redis": "seed/cache.yaml"}],
    )
    path = project({"name": "redisro", "services": {"cache": cache}}, {"seed/cache.yaml": "a: 1\n"})
    text = str(start_fails(path))
    assert "2 of 2 commands failed" in text
    assert "NOREPLICAS" in text
