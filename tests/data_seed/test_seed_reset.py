"""Snapshot and reset against the real engine: every mechanism, ``eph_fresh``
in a real pytest run (with and without xdist), reused environments."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from pytest_ephemeral import Environment, Service
from pytest_ephemeral.config import Settings
from pytest_ephemeral.data.snapshot import describe_snapshots, forget, reset_environment
from pytest_ephemeral.errors import DataError
from pytest_ephemeral.lifecycle import labels as L
from pytest_ephemeral.lifecycle.manager import Manager
from pytest_ephemeral.lifecycle.removal import remove_environment
from pytest_ephemeral.spec.model import Spec

SCHEMA = """\
create table items (id int primary key, name text not null);
insert into items select g, 'item ' || g from generate_series(1, 100) g;
"""


def _psql(service: Service, sql: str) -> str:
    code, out = service.exec(["psql", "-U", "postgres", "-d", "shop", "-tAc", sql])
    assert code == 0, out
    return out.strip()


@pytest.mark.docker
def test_postgres_without_a_published_port_resets_through_psql(
    project: Callable[..., Path],
    pg_service: Callable[..., dict[str, Any]],
    environment: Callable[[Path], Any],
) -> None:
    db = pg_service(ports=False)
    db["seed"] = [{"sql": "seed/schema.sql"}]
    path = project({"name": "pgexec", "services": {"db": db}}, {"seed/schema.sql": SCHEMA})
    with environment(path) as env:
        assert describe_snapshots(env)["db"] == "postgres template database (psql in the container)"
        _psql(env["db"], "delete from items where id > 10")
        reset_environment(env)
        assert _psql(env["db"], "select count(*) from items") == "100"


@pytest.mark.docker
def test_host_reset_ends_open_connections_and_undoes_ddl(
    project: Callable[..., Path],
    pg_service: Callable[..., dict[str, Any]],
    environment: Callable[[Path], Any],
    pg_connect: Callable[..., Any],
) -> None:
    import psycopg

    db = pg_service()
    db["seed"] = [{"sql": "seed/schema.sql"}]
    path = project({"name": "pghost", "services": {"db": db}}, {"seed/schema.sql": SCHEMA})
    with environment(path) as env:
        assert "host connection" in describe_snapshots(env)["db"]
        for round_ in range(3):  # with and without a ready spare copy
            conn = pg_connect(env["db"])
            conn.execute("begin")
            conn.execute("alter table items add column extra text")
            conn.execute("delete from items")
            # left open, in a transaction holding locks: the reset must not wait for it
            reset_environment(env)
            with pytest.raises(psycopg.OperationalError):
                conn.execute("select 1")
            conn.close()
            with pg_connect(env["db"]) as fresh:
                assert fresh.execute("select count(*) from items").fetchone() == (100,), round_
                cols = fresh.execute(
                    "select count(*) from information_schema.columns where table_name = 'items'"
                ).fetchone()
                assert cols == (2,)


@pytest.mark.docker
def test_seeding_the_postgres_database_itself(
    project: Callable[..., Path],
    pg_service: Callable[..., dict[str, Any]],
    environment: Callable[[Path], Any],
    pg_connect: Callable[..., Any],
) -> None:
    db = pg_service("postgres")
    db["environment"] = {"POSTGRES_PASSWORD": "secret"}  # POSTGRES_DB: the user's, postgres
    db["seed"] = [{"sql": "seed/schema.sql"}]
    path = project({"name": "pgitself", "services": {"db": db}}, {"seed/schema.sql": SCHEMA})
    with environment(path) as env:
        assert "host connection" in describe_snapshots(env)["db"]
        with pg_connect(env["db"], "postgres") as conn:
            conn.execute("delete from items")
        reset_environment(env)
        with pg_connect(env["db"], "postgres") as conn:
            assert conn.execute("select count(*) from items").fetchone() == (100,)
            # the snapshot's own connection is not on template1: tests can still create databases
            conn.execute("create database made_by_a_test")


GENERIC_SEED = """\
def touch(env, service):
    code, out = service.exec("echo seeded >> /tmp/seed.log")
    assert code == 0, out
"""


@pytest.mark.docker
def test_other_services_reset_by_running_their_seed_steps_again(
    project: Callable[..., Path], environment: Callable[[Path], Any]
) -> None:
    app = {
        "image": "python:3.12-slim",
        "command": ["sleep", "600"],
        "seed": [{"python": "generic_seed:touch"}],
    }
    path = project({"name": "generic", "services": {"app": app}}, {"generic_seed.py": GENERIC_SEED})
    with environment(path) as env:
        assert describe_snapshots(env)["app"] == "generic fallback: the seed steps again"
        reset_environment(env)
        code, out = env["app"].exec(["cat", "/tmp/seed.log"])
        assert (code, out.split()) == (0, ["seeded", "seeded"])


@pytest.mark.docker
def test_reused_environment_finds_its_templates_and_reseeds_redis(
    project: Callable[..., Path],
    pg_service: Callable[..., dict[str, Any]],
    gone: Callable[[str], list[str]],
) -> None:
    db = pg_service()
    db["seed"] = [{"sql": "seed/schema.sql"}]
    cache = {
        "image": "redis:7-alpine",
        "ports": [6379],
        "wait": {"log": "Ready to accept connections"},
        "seed": [{"redis": "seed/cache.yaml"}],
    }
    path = project(
        {"name": "reuseme", "services": {"db": db, "cache": cache}},
        {"seed/schema.sql": SCHEMA, "seed/cache.yaml": "greeting: hello\n"},
    )
    first = Manager(Settings(rootdir=path.parent, keep="always"))
    env_id = ""
    backend = first.backend
    try:
        env_id = first.environment(path).id
        first.close(failed=False)  # kept
        second = Manager(Settings(rootdir=path.parent, reuse=True))
        env = second.environment(path)
        assert env.reused and env.id == env_id
        _psql(env["db"], "delete from items")
        env["cache"].exec(["redis-cli", "SET", "greeting", "changed"])
        reset_environment(env)  # adopts the kept templates; seeds Redis again
        assert _psql(env["db"], "select count(*) from items") == "100"
        assert env["cache"].exec(["redis-cli", "GET", "greeting"]).output.strip() == "hello"
        assert set(describe_snapshots(env)) == {"db", "cache"}
        forget(env)
        second.close(failed=False)
    finally:
        if env_id:
            remove_environment(backend, env_id)
            assert gone(f"{L.ENV}={env_id}") == []


def test_a_shared_or_closed_environment_cannot_be_reset(tmp_path: Path) -> None:
    spec = Spec(name="x", path=tmp_path / "ephemeral.yaml", services={})
    env = Environment("x-1", spec, cast(Any, None), {})
    env.shared = True
    with pytest.raises(DataError, match=r"shared by every xdist worker \(--eph-shared\)"):
        reset_environment(env)
    env.shared, env.closed = False, True
    with pytest.raises(DataError, match="environment x-1 is closed"):
        reset_environment(env)


FRESH_SPEC = """\
name: {name}
services:
  db:
    image: postgres:16-alpine
    environment: {POSTGRES_PASSWORD: secret, POSTGRES_DB: shop}
    ports: [5432]
    healthcheck:
      test: ["CMD", "pg_isready", "-U", "postgres", "-d", "shop"]
      interval: 1s
      retries: 30
    tmpfs: [/var/lib/postgresql/data]
    seed:
      - sql: seed/schema.sql
  cache:
    image: redis:7-alpine
    ports: [6379]
    wait: {log: "Ready to accept connections"}
    seed:
      - redis: seed/cache.yaml
"""

FRESH_TESTS = """\
import pytest

def count(eph):
    code, out = eph["db"].exec(["psql", "-U", "postgres", "-d", "shop", "-tAc",
                                "select count(*) from items"])
    assert code == 0, out
    return int(out)

def greeting(eph):
    return eph["cache"].exec(["redis-cli", "GET", "greeting"]).output.strip()

@pytest.mark.parametrize("n", range(4))
def test_each_test_starts_from_the_seeded_state(eph_fresh, n):
    assert count(eph_fresh) == 100
    assert greeting(eph_fresh) == "hello"
    eph_fresh["db"].exec(["psql", "-U", "postgres", "-d", "shop", "-c", "delete from items"])
    eph_fresh["cache"].exec(["redis-cli", "SET", "greeting", "changed"])

def test_without_fresh_sees_what_the_last_test_left(eph):
    pass
"""


@pytest.mark.docker
@pytest.mark.parametrize("workers", [None, "2"])
def test_eph_fresh_in_a_real_run(
    pytester: pytest.Pytester, gone: Callable[[str], list[str]], workers: str | None
) -> None:
    name = f"fresh-{uuid.uuid4().hex[:8]}"
    pytester.makefile(".yaml", ephemeral=FRESH_SPEC.replace("{name}", name))
    seed = pytester.mkdir("seed")
    (seed / "schema.sql").write_text(SCHEMA)
    (seed / "cache.yaml").write_text("greeting: hello\n")
    pytester.makepyfile(test_fresh=textwrap.dedent(FRESH_TESTS))
    args = ["-p", "no:cacheprovider"] + (["-n", workers] if workers else [])
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=5)
    assert gone(f"{L.SPEC_NAME}={name}") == []
