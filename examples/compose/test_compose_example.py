"""An existing Compose file, used as the spec: a one-shot migration, a
healthchecked Redis and a queue worker that depends on both."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from pytest_ephemeral import Environment

sys.path.insert(0, str(Path(__file__).with_name("worker")))
from resp import command


def test_migration_ran_before_the_worker(eph: Environment) -> None:
    redis = eph["redis"]
    address = (redis.host, redis.port(6379))
    assert command("GET", "schema:version", address=address, timeout=5) == "3"
    assert "migrated to schema 3" in eph["migrate"].logs()
    assert "worker ready (schema 3)" in eph["worker"].logs()


def test_worker_processes_jobs(eph: Environment) -> None:
    redis = eph["redis"]
    address = (redis.host, redis.port(6379))
    command("RPUSH", "jobs", "hello", address=address, timeout=5)
    deadline = time.monotonic() + 10
    result = None
    while time.monotonic() < deadline and result is None:
        result = command("HGET", "results", "hello", address=address, timeout=5)
        time.sleep(0.05)
    assert result == "HELLO"


def test_services_reach_each_other_by_name(eph: Environment) -> None:
    code, out = eph["worker"].exec(
        [
            "python3",
            "-c",
            "import socket; socket.create_connection(('redis', 6379), 2); print('ok')",
        ]
    )
    assert (code, out.strip()) == (0, "ok")
