"""``external:`` services against a real PostgreSQL and a real Redis running
outside Docker (started by scripts/setup.d/50-servers.sh): an isolated,
seeded part per environment under ``-n 2`` and for two concurrent runs,
``eph_fresh`` on it, containers reaching it, SIGKILL -> the reaper drops the
parts, the server's own data untouched, and bad input as one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_ephemeral.config import Settings
from pytest_ephemeral.data.redis.resp import Resp
from pytest_ephemeral.data.snapshot import reset_environment
from pytest_ephemeral.errors import EphemeralError
from pytest_ephemeral.lifecycle.manager import Manager

PG_ADMIN = "postgresql://eph_admin:eph-admin@127.0.0.1:55432/legacy"
PG_PLAIN = "postgresql://eph_plain:eph-plain@127.0.0.1:55432/legacy"
REDIS = "redis://:eph-redis@127.0.0.1:56379/0"
SETUP = "scripts/setup.d/50-servers.sh"

SCHEMA = """\
create table items (id int primary key, name text not null);
insert into items values (1, 'one'), (2, 'two');
"""
CACHE = "greeting: hello\nrecent: [3, 2, 1]\n"
SEEDS = {"seed/schema.sql": SCHEMA, "seed/cache.yaml": CACHE}


@pytest.fixture(scope="module")
def servers() -> None:
    import psycopg

    try:
        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
        with Resp("127.0.0.1", 56379, password="eph-redis", timeout=3) as r:
            r.call("PING")
    except Exception as exc:
        pytest.fail(
            f"these tests need the PostgreSQL (55432) and Redis (56379) outside Docker that "
            f"{SETUP} starts, and they do not answer ({exc}); run bash {SETUP}",
            pytrace=False,
        )


@pytest.fixture
def urls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PG_URL", PG_ADMIN)
    monkeypatch.setenv("PG_PLAIN_URL", PG_PLAIN)
    monkeypatch.setenv("REDIS_URL", REDIS)
    monkeypatch.setenv("EPH_AUDIT_FILE", str(tmp_path / "audit.jsonl"))


def pg(sql: str, database: str = "postgres") -> list[tuple[Any, ...]]:
    import psycopg

    url = f"postgresql://postgres:eph-super@127.0.0.1:55432/{database}"
    with psycopg.connect(url, autocommit=True) as conn:
        return list(conn.execute(sql).fetchall())


def parts_on_pg() -> list[str]:
    """Our environments' databases and schemas (templates aside)."""
    dbs = pg(
        "select datname from pg_database where shobj_description(oid, 'pg_database') "
        "like 'pytest-ephemeral env=%'"
    )
    schemas = pg(
        "select nspname from pg_namespace where obj_description(oid, 'pg_namespace') "
        "like 'pytest-ephemeral env=%'",
        "legacy",
    )
    return sorted([f"db {r[0]}" for r in dbs] + [f"schema {r[0]}" for r in schemas])


def redis(*command: str, db: int = 0) -> Any:
    with Resp("127.0.0.1", 56379, password="eph-redis") as r:
        r.call("SELECT", str(db))
        return r.call(*command)


def claims_on_redis() -> list[str]:
    found = []
    for n in range(16):
        keys = redis("KEYS", "eph:claim:*", db=n)
        found += [f"{n}:{k.decode()}" for k in keys]
    return sorted(found)


def team_state() -> tuple[Any, ...]:
    """What the servers hold that is not ours: it must never change."""
    return (
        pg("select id, owner from public.accounts order by id", "legacy"),
        sorted(
            r[0]
            for r in pg(
                "select datname from pg_database where coalesce(shobj_description(oid, "
                "'pg_database'), '') not like 'pytest-ephemeral %'"
            )
        ),
        sorted(
            r[0]
            for r in pg(
                "select table_schema || '.' || table_name from information_schema.tables "
                "where table_schema not in ('pg_catalog', 'information_schema') "
                "and table_schema not like 'eph\\_%'",
                "legacy",
            )
        ),
        redis("GET", "team:config", db=0),
        redis("GET", "team:other", db=3),
    )


@pytest.fixture
def team_data(servers: None) -> Iterator[tuple[Any, ...]]:
    """The team's own data on both servers, checked unchanged afterwards."""
    redis("SET", "team:config", "keep me", db=0)
    redis("SET", "team:other", "db 3 is in use by the team", db=3)
    before = team_state()
    yield before
    assert team_state() == before
    assert redis("GET", "team:other", db=3) == b"db 3 is in use by the team"


def write_project(root: Path, spec: str, files: dict[str, str] | None = None) -> Path:
    for rel, text in (files or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    (root / "ephemeral.yaml").write_text(textwrap.dedent(spec))
    return root / "ephemeral.yaml"


SPEC = """\
name: {name}
services:
  db:
    external: {{url: "${{PG_URL}}"}}
    seed:
      - sql: seed/schema.sql
  cache:
    external: {{url: "${{REDIS_URL}}"}}
    seed:
      - redis: seed/cache.yaml
"""

INNER_TESTS = """
import os, psycopg, time
from pathlib import Path

def who():
    return os.environ.get("PYTEST_XDIST_WORKER", "main")

def test_write_own_rows(eph):
    url = eph["db"].url
    Path(os.environ["OUT"], who()).write_text(url.rsplit("/", 1)[1] + " " + eph["cache"].url)
    # both workers' environments exist at once (else a part could be used twice, in turn)
    deadline = time.monotonic() + 120
    while len(list(Path(os.environ["OUT"]).iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    with psycopg.connect(url, autocommit=True) as c:
        assert c.execute("select count(*) from items").fetchone() == (2,)
        c.execute("insert into items values (%s, %s)", (100 + len(who()), who()))
        assert c.execute("select name from items where id >= 100").fetchall() == [(who(),)]
        # the part is a database of its own: the team's tables are not in it
        assert c.execute("select to_regclass('public.accounts')").fetchone() == (None,)

def test_fresh_gives_back_the_seed(eph_fresh):
    with psycopg.connect(eph_fresh["db"].url) as c:
        assert c.execute("select count(*) from items").fetchone() == (2,)
"""


@pytest.mark.docker
def test_every_xdist_worker_gets_its_own_seeded_part(
    pytester: pytest.Pytester, urls: None, team_data: Any, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    write_project(
        pytester.path,
        SPEC.format(name="hybridx"),
        SEEDS,
    )
    pytester.makepyfile(test_inner=INNER_TESTS)
    os.environ["OUT"] = str(out)
    try:
        result = pytester.runpytest_subprocess(
            "-n", "2", "--dist", "each", "-p", "no:cacheprovider"
        )
    finally:
        del os.environ["OUT"]
    result.assert_outcomes(passed=4)
    seen = {p.name: p.read_text().split() for p in out.iterdir()}
    assert set(seen) == {"gw0", "gw1"}
    dbs = {v[0] for v in seen.values()}
    caches = {v[1] for v in seen.values()}
    assert len(dbs) == 2 and all(d.startswith("eph_hybridx_") for d in dbs)
    assert len(caches) == 2 and not any(c.endswith("/0") or c.endswith("/3") for c in caches)
    assert parts_on_pg() == [] and claims_on_redis() == []


HOLD = """
import json, sys, time
from pathlib import Path
from pytest_ephemeral.config import Settings
from pytest_ephemeral.lifecycle.manager import Manager
spec = Path(sys.argv[1])
manager = Manager(Settings(rootdir=spec.parent, timeout=60.0))
try:
    env = manager.environment(spec)
    print(json.dumps({n: s.url for n, s in env.services.items()}), flush=True)
    time.sleep(float(sys.argv[2]))
finally:
    manager.close(failed=False)
"""


def _hold(spec: Path, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", HOLD, str(spec), str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _first_line(proc: subprocess.Popen[str]) -> dict[str, str]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        assert proc.stderr is not None
        pytest.fail(f"the holder ended early: {proc.stderr.read()[-2000:]}")
    return dict(json.loads(line))


@pytest.mark.docker
def test_two_concurrent_runs_get_different_parts(
    tmp_path: Path, urls: None, team_data: Any
) -> None:
    spec = write_project(tmp_path, SPEC.format(name="hybridc"), SEEDS)
    first, second = _hold(spec, 3), _hold(spec, 3)
    try:
        a, b = _first_line(first), _first_line(second)
        assert a["db"] != b["db"] and a["cache"] != b["cache"]
        held = parts_on_pg()
        assert len(held) == 2, held
        assert len(claims_on_redis()) == 2
        # the seed is there in both, and each writes only its own
        import psycopg

        for url in (a["db"], b["db"]):
            with psycopg.connect(url) as c:
                assert c.execute("select count(*) from items").fetchone() == (2,)
        assert redis("GET", "greeting", db=int(a["cache"].rsplit("/", 1)[1])) == b"hello"
    finally:
        for proc in (first, second):
            assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
    assert parts_on_pg() == [] and claims_on_redis() == []


@pytest.mark.docker
@pytest.mark.slow
def test_a_sigkilled_run_s_parts_are_dropped_by_the_reaper(
    tmp_path: Path, urls: None, team_data: Any
) -> None:
    spec = write_project(
        tmp_path,
        SPEC.format(name="hybridk")
        + """\
  notes:
    external: {url: "${REDIS_URL}", isolate: prefix}
    seed:
      - redis: seed/cache.yaml
""",
        SEEDS,
    )
    holder = _hold(spec, 600)
    try:
        urls_held = _first_line(holder)
        assert len(parts_on_pg()) == 1 and len(claims_on_redis()) == 2
        assert redis("KEYS", "eph:hybridk-*") != []
    finally:
        holder.kill()
        holder.wait()
        for stream in (holder.stdout, holder.stderr):
            if stream is not None:
                stream.close()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (
        parts_on_pg() or claims_on_redis() or redis("KEYS", "eph:hybridk-*")
    ):
        time.sleep(0.3)
    assert parts_on_pg() == [] and claims_on_redis() == []
    assert redis("KEYS", "eph:hybridk-*") == []
    trail = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    reaped = [
        r["details"]["part"] for r in trail if r["event"] == "reaped" and "part" in r["details"]
    ]
    assert len(reaped) == 3, reaped
    assert any(urls_held["db"].rsplit("/", 1)[1] in p for p in reaped)
    assert all("eph-admin" not in p and "eph-redis" not in p for p in reaped)  # no passwords


@pytest.mark.docker
def test_schema_and_prefix_parts_and_a_container_that_reaches_them(
    tmp_path: Path, urls: None, team_data: Any
) -> None:
    """isolate: schema as a role without CREATEDB, isolate: prefix, eph_fresh on
    both, and a container of the environment that reaches both servers."""
    spec = write_project(
        tmp_path,
        """\
        name: hybrids
        services:
          db:
            external: {url: "${PG_PLAIN_URL}", isolate: schema}
            seed:
              - sql: seed/schema.sql
          cache:
            external: {url: "${REDIS_URL}", isolate: prefix}
            seed:
              - redis: seed/cache.yaml
          app:
            image: python:3.12-slim
            depends_on: [db, cache]
            environment:
              DB: "{db.host}:{db.port}/{db.database}"
              CACHE: "{cache.host}:{cache.port} {cache.prefix}"
            command:
              - python
              - -c
              - |
                import os, socket, time
                for key in ("DB", "CACHE"):
                    host, port = os.environ[key].split("/")[0].split()[0].split(":")
                    socket.create_connection((host, int(port)), 5).close()
                print("reached", os.environ["DB"], os.environ["CACHE"], flush=True)
                time.sleep(600)
            wait: {log: reached, timeout: 60s}
        """,
        SEEDS,
    )
    import psycopg

    manager = Manager(Settings(rootdir=tmp_path, timeout=60.0))
    try:
        env = manager.environment(spec)
        db, cache = env["db"], env["cache"]
        assert db.connection is not None and cache.connection is not None
        schema = db.connection.url.split("search_path%3D")[1]
        assert schema.startswith("eph_hybrids_") and db.connection.database == "legacy"
        prefix = cache.connection.prefix
        assert prefix == f"eph:{env.id}:" and cache.connection.database == "0"
        logs = env["app"].logs()
        assert f"reached db:55432/legacy cache:56379 {prefix}" in logs, logs
        with psycopg.connect(db.connection.url, autocommit=True) as c:  # search_path: the schema
            assert c.execute("select count(*) from items").fetchone() == (2,)
            c.execute("delete from items")
        assert redis("GET", f"{prefix}greeting") == b"hello"
        assert redis("LRANGE", f"{prefix}recent", "0", "-1") == [b"3", b"2", b"1"]
        redis("DEL", f"{prefix}greeting")
        redis("SET", f"{prefix}stray", "written by a test")
        reset_environment(env)  # eph_fresh
        with psycopg.connect(db.connection.url) as c:
            assert c.execute("select count(*) from items").fetchone() == (2,)
        assert redis("GET", f"{prefix}greeting") == b"hello"
        assert redis("GET", f"{prefix}stray") is None
        assert redis("GET", "greeting") is None  # nothing outside the prefix
    finally:
        manager.close(failed=False)
    assert parts_on_pg() == [] and claims_on_redis() == []
    assert redis("KEYS", "eph:hybrids-*") == []


# -- bad input: one line, and never going on as if isolated -------------------------------------


def _start_fails(spec: Path, *, run_id: str | None = None) -> str:
    manager = Manager(Settings(rootdir=spec.parent, timeout=30.0), run_id=run_id)
    try:
        with pytest.raises(EphemeralError) as info:
            manager.environment(spec)
        assert manager.environments == {}
    finally:
        manager.close(failed=True)
    return str(info.value)


@pytest.mark.docker
def test_unreachable_server_and_no_right_to_create_databases(
    tmp_path: Path, urls: None, team_data: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = write_project(
        tmp_path,
        """\
        name: hybridbad
        services:
          db:
            external: {url: "${PG_URL}"}
        """,
    )
    monkeypatch.setenv("PG_URL", "postgresql://eph_admin:eph-admin@127.0.0.1:1/legacy")
    text = _start_fails(spec)
    assert "external service 'db': cannot connect to postgresql://eph_admin:***@127.0.0.1:1" in text
    assert "eph-admin" not in text and "\n" not in text.split("failed to start: ")[-1]

    monkeypatch.setenv("PG_URL", PG_PLAIN)
    text = _start_fails(spec)
    assert "role 'eph_plain' may not create databases" in text
    assert "ALTER ROLE eph_plain CREATEDB, or use isolate: schema" in text

    monkeypatch.setenv("PG_URL", "redis://127.0.0.1:56379/0")
    (tmp_path / "ephemeral.yaml").write_text(
        "name: hybridbad\nservices:\n  cache:\n    external: {url: '${PG_URL}'}\n"
    )
    text = _start_fails(spec)
    assert "external service 'cache'" in text and ("NOAUTH" in text or "password" in text)
    assert parts_on_pg() == [] and claims_on_redis() == []


@pytest.mark.docker
def test_a_prefix_held_by_a_live_run_and_no_free_database(
    tmp_path: Path, urls: None, team_data: Any
) -> None:
    from pytest_ephemeral.data.external import Claim
    from pytest_ephemeral.lifecycle import labels as L

    spec = write_project(
        tmp_path,
        """\
        name: hybridheld
        services:
          cache:
            external: {url: "${REDIS_URL}", isolate: prefix}
        """,
    )
    run_id = "feedc0de0000"
    env_id = f"hybridheld-{run_id[:8]}-main"
    marker = f"eph:claim:prefix:{env_id}"
    live = Claim(env_id, str(L.current_owner()), time.time() + 3600).text()
    redis("SET", marker, live)
    try:
        text = _start_fails(spec, run_id=run_id)
        assert f"key prefix eph:{env_id}: on redis://:***@127.0.0.1:56379/0 is in use" in text
        assert redis("GET", marker) == live.encode()  # the other run's claim is left alone
    finally:
        redis("DEL", marker)

    spec.write_text("name: hybridfull\nservices:\n  cache:\n    external: {url: '${REDIS_URL}'}\n")
    filled = [n for n in range(1, 16) if redis("DBSIZE", db=n) == 0]
    for n in filled:
        redis("SET", "team:filler", "someone's data", db=n)
    try:
        text = _start_fails(spec)
        assert "no free logical database on redis://:***@127.0.0.1:56379/0" in text
        assert "raise 'databases' in redis.conf" in text
        for n in filled:
            assert redis("KEYS", "*", db=n) == [b"team:filler"]  # never claimed, never flushed
    finally:
        for n in filled:
            redis("DEL", "team:filler", db=n)
    assert claims_on_redis() == []


@pytest.mark.docker
def test_in_pytest_a_bad_external_is_one_line_and_no_test_runs_against_it(
    pytester: pytest.Pytester, urls: None, servers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PG_URL", PG_PLAIN)
    write_project(
        pytester.path,
        """\
        name: hybridline
        services:
          db:
            external: {url: "${PG_URL}"}
        """,
    )
    pytester.makepyfile(test_x="def test_x(eph):\n    raise AssertionError('ran')\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*role 'eph_plain' may not create databases on*"])
    result.stdout.no_fnmatch_line("*AssertionError: ran*")
    result.stdout.no_fnmatch_line("*Traceback*")
    assert parts_on_pg() == []


@pytest.mark.docker
def test_kept_parts_are_marked_and_eph_down_drops_them(
    tmp_path: Path, urls: None, team_data: Any
) -> None:
    write_project(tmp_path, SPEC.format(name="hybridkeep"), SEEDS)
    eph = [sys.executable, "-m", "pytest_ephemeral.cli"]
    up = subprocess.run(
        [*eph, "up", "--json", "--ttl", "10m"], cwd=tmp_path, capture_output=True, text=True
    )
    assert up.returncode == 0, up.stderr
    env_id = json.loads(up.stdout)["id"]
    try:
        comments = pg(
            "select shobj_description(oid, 'pg_database') from pg_database "
            "where shobj_description(oid, 'pg_database') like 'pytest-ephemeral env=%'"
        )
        assert len(comments) == 1 and comments[0][0].endswith(" kept")
        assert f"env={env_id} " in comments[0][0]
        marker = claims_on_redis()
        assert len(marker) == 1
        db = int(marker[0].split(":")[0])
        assert redis("GET", f"eph:claim:{db}", db=db).decode().endswith(" kept")
        # the creating process is gone, but a kept part is no one's to sweep
        prune = subprocess.run([*eph, "prune"], cwd=tmp_path, capture_output=True, text=True)
        assert prune.returncode == 0 and len(parts_on_pg()) == 1
    finally:
        down = subprocess.run([*eph, "down", env_id], cwd=tmp_path, capture_output=True, text=True)
    assert down.returncode == 0, down.stderr
    assert parts_on_pg() == [] and claims_on_redis() == []


@pytest.mark.docker
def test_eph_prune_drops_dead_and_expired_parts_and_keeps_live_ones(
    tmp_path: Path, urls: None, team_data: Any
) -> None:
    """The sweep judges the ownership records on the servers: a dead owner on
    this machine, or an expiry passed (an owner on another machine)."""
    import psycopg

    from pytest_ephemeral.data.external import Claim
    from pytest_ephemeral.lifecycle import labels as L

    write_project(
        tmp_path,
        """\
        name: hybridprune
        services:
          db:
            external: {url: "${PG_URL}"}
          notes:
            external: {url: "${REDIS_URL}", isolate: prefix}
        """,
    )
    me = L.current_owner()
    dead = L.Owner(me.host, me.boot, 999_999, "1")  # no such process on this machine
    elsewhere = L.Owner("another-host", "b00t", 42, "7")
    soon, past = time.time() + 3600, time.time() - 60
    records = {
        "eph_prune_dead": Claim("prune-dead", str(dead), soon),
        "eph_prune_live": Claim("prune-live", str(me), soon),
        "eph_prune_remote": Claim("prune-remote", str(elsewhere), soon),
        "eph_prune_expired": Claim("prune-expired", str(elsewhere), past),
    }
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        for name, claim in records.items():
            conn.execute(f"CREATE DATABASE {name} TEMPLATE template0")
            conn.execute(f"COMMENT ON DATABASE {name} IS '{claim.text()}'")
    for claim in records.values():
        redis("SET", f"eph:claim:prefix:{claim.env}", claim.text())
        redis("SET", f"eph:{claim.env}:data", "x")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest_ephemeral.cli", "prune"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        left = sorted(p.split()[1] for p in parts_on_pg())
        assert left == ["eph_prune_live", "eph_prune_remote"]
        kept = sorted(k.decode() for k in redis("KEYS", "eph:prune-*"))
        assert kept == ["eph:prune-live:data", "eph:prune-remote:data"]
        assert "its owner (pid 999999) is gone" in done.stdout
        assert "past its expiry" in done.stdout
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            for name in records:
                conn.execute(f"DROP DATABASE IF EXISTS {name}")
        for claim in records.values():
            redis("DEL", f"eph:claim:prefix:{claim.env}", f"eph:{claim.env}:data")


SHARED_TESTS = """
import os, psycopg
from pathlib import Path

def test_part(eph):
    who = os.environ.get("PYTEST_XDIST_WORKER", "main")
    Path(os.environ["OUT"], who).write_text(eph["db"].url.rsplit("/", 1)[1])
    with psycopg.connect(eph["db"].url) as c:
        assert c.execute("select count(*) from items").fetchone() == (2,)
"""


@pytest.mark.docker
def test_shared_workers_and_a_reused_kept_environment_find_the_part_again(
    pytester: pytest.Pytester, urls: None, team_data: Any, tmp_path: Path
) -> None:
    """--eph-shared: the workers attach to one environment, whose part the
    others find on the server; --eph-keep then --eph-reuse: the next run finds
    the kept part; eph down drops it."""
    out = tmp_path / "out"
    out.mkdir()
    write_project(pytester.path, SPEC.format(name="hybridsh"), SEEDS)
    pytester.makepyfile(test_shared=SHARED_TESTS)
    os.environ["OUT"] = str(out)
    try:
        shared = pytester.runpytest_subprocess(
            "-n", "2", "--dist", "each", "--eph-shared", "-p", "no:cacheprovider"
        )
        shared.assert_outcomes(passed=2)
        names = {p.read_text() for p in out.iterdir()}
        assert len(names) == 1 and len(list(out.iterdir())) == 2
        assert parts_on_pg() == [] and claims_on_redis() == []

        for p in out.iterdir():
            p.unlink()
        first = pytester.runpytest_subprocess("--eph-keep=always", "-p", "no:cacheprovider")
        first.assert_outcomes(passed=1)
        kept_db = (out / "main").read_text()
        assert parts_on_pg() == [f"db {kept_db}"]
        again = pytester.runpytest_subprocess("--eph-reuse", "-p", "no:cacheprovider")
        again.assert_outcomes(passed=1)
        assert (out / "main").read_text() == kept_db  # the same part, found again
        assert parts_on_pg() == [f"db {kept_db}"]
    finally:
        del os.environ["OUT"]
        listing = subprocess.run(
            [sys.executable, "-m", "pytest_ephemeral.cli", "ls", "--json"],
            capture_output=True,
            text=True,
        )
        for rec in json.loads(listing.stdout or "[]"):
            if rec["name"] == "hybridsh":
                subprocess.run(
                    [sys.executable, "-m", "pytest_ephemeral.cli", "down", rec["id"]],
                    cwd=pytester.path,
                    capture_output=True,
                )
    assert parts_on_pg() == [] and claims_on_redis() == []
