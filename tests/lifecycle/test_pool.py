"""The warm pool against a real engine: ``eph pool up`` starts a detached keeper,
``pytest --eph-pool`` claims (also under xdist), resets and returns; claims are
exclusive; a killed claimant's environment is replaced; a stale spec, a killed
keeper, a second keeper and ``eph pool down`` (DESIGN.md §11)."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_ephemeral.config import Settings
from pytest_ephemeral.lifecycle import labels as L
from pytest_ephemeral.lifecycle import pool as P
from pytest_ephemeral.lifecycle.manager import Manager
from pytest_ephemeral.runtime.environment import Environment

from ..conftest import labelled, wait_until_clean

pytestmark = pytest.mark.docker

REDIS_SPEC = """\
name: {name}
services:
  cache:
    image: redis:7-alpine
    ports: [6379]
    wait: {{log: "Ready to accept connections"}}
    seed:
      - redis: seed/cache.yaml
"""

PY_SPEC = """\
name: {name}
services:
  app:
    image: python:3.12-slim
    command: ["sleep", "600"]
    environment: {{VERSION: "{version}"}}
    wait: {{command: ["true"]}}
"""

# a session fixture per worker: what the claimed environment held when first seen
CONFTEST = """\
import os
from pathlib import Path

import pytest

@pytest.fixture(scope="session")
def first_seen(eph):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    value = eph["cache"].exec(["redis-cli", "GET", "greeting"]).output.strip()
    Path(os.environ["POOL_MARKS"], f"{worker}.json").write_text(
        '{"env": "%s", "seen": "%s"}' % (eph.id, value)
    )
    return eph
"""

CHANGE_TESTS = """\
import time

def test_one(first_seen):
    first_seen["cache"].exec(["redis-cli", "SET", "greeting", "changed"])
    time.sleep(0.5)

def test_two(first_seen):
    first_seen["cache"].exec(["redis-cli", "SET", "greeting", "changed"])
    time.sleep(0.5)
"""


def eph(*args: str, cwd: Path, check: bool = False) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pytest_ephemeral.cli import main; sys.exit(main())",
            *args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def pool_ls(cwd: Path, spec: Path) -> list[dict[str, Any]]:
    done = eph("pool", "ls", "-f", str(spec), "--json", cwd=cwd, check=True)
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


def wait_for(what: Callable[[], bool], within: float = 90.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(0.3)
    return what()


def ready_ids(cwd: Path, spec: Path) -> set[str]:
    return {r["id"] for r in pool_ls(cwd, spec) if r["state"] == "ready"}


def _logged(key: str, text: str) -> bool:
    return text in P.log_path(key).read_text()


def _other_ready(cwd: Path, spec: Path, env_id: str) -> bool:
    return ready_ids(cwd, spec) - {env_id} != set()


@pytest.fixture
def pool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Lock and state files of these tests' keepers: in the test's own folder."""
    folder = tmp_path / "pool-state"
    folder.mkdir()
    monkeypatch.setenv(P.POOL_DIR_ENV, str(folder))
    return folder


@pytest.fixture
def redis_pool(
    pytester: pytest.Pytester, pool_dir: Path, docker_client: Any
) -> Iterator[tuple[Path, str]]:
    """A seeded Redis spec in pytester's folder, with a warm pool of 2 kept for it."""
    name = f"pool-{uuid.uuid4().hex[:8]}"
    spec = pytester.makefile(".yaml", ephemeral=REDIS_SPEC.format(name=name))
    (pytester.mkdir("seed") / "cache.yaml").write_text("greeting: hello\n")
    pytester.makeconftest(CONFTEST)
    key = P.pool_key(spec)
    try:
        eph("pool", "up", "-f", str(spec), "--size", "2", "--wait", cwd=pytester.path, check=True)
        yield spec, key
    finally:
        eph("pool", "down", "-f", str(spec), cwd=pytester.path)
        assert wait_until_clean(docker_client, f"{L.POOL}={key}") == []
        assert wait_until_clean(docker_client, f"{L.SPEC_NAME}={name}") == []


def marks(folder: Path) -> dict[str, dict[str, str]]:
    return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}


def test_claimed_reset_and_returned_also_under_xdist(
    pytester: pytest.Pytester,
    redis_pool: tuple[Path, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec, _key = redis_pool
    pool = ready_ids(pytester.path, spec)
    assert len(pool) == 2
    pytester.makepyfile(test_change=CHANGE_TESTS)
    trail = tmp_path / "audit.jsonl"
    monkeypatch.setenv("EPH_AUDIT_FILE", str(trail))
    claimed: list[str] = []
    for run, args in enumerate([(), (), ("-n", "2")]):
        folder = tmp_path / f"marks-{run}"
        folder.mkdir()
        monkeypatch.setenv("POOL_MARKS", str(folder))
        result = pytester.runpytest_subprocess("--eph-pool", "-p", "no:cacheprovider", *args)
        result.assert_outcomes(passed=2)
        seen = marks(folder)
        assert seen, result.stdout.str()
        # each worker got one of the pool's environments, in its seeded state,
        # though every earlier run changed it: reset before it was returned
        assert {m["seen"] for m in seen.values()} == {"hello"}
        envs = [m["env"] for m in seen.values()]
        assert set(envs) <= pool
        assert len(set(envs)) == len(envs)  # two workers never share one
        claimed += envs
        assert "a cold start" not in result.stdout.str()
        if not args:  # progress lines show without xdist: the keeper handed it out
            assert "(handed out by its keeper)" in result.stdout.str()
        # returned, not replaced: the same two, ready again
        assert wait_for(lambda: ready_ids(pytester.path, spec) == pool, 30)
    # the audit trail has each claim and each return
    records = [json.loads(line) for line in trail.read_text().splitlines()]
    for event in ("claimed", "returned"):
        assert sorted(r["env"] for r in records if r["event"] == event) == sorted(claimed)


def test_two_claimants_never_get_one_environment(
    pytester: pytest.Pytester, redis_pool: tuple[Path, str]
) -> None:
    spec, key = redis_pool
    settings = Settings(rootdir=pytester.path, spec=str(spec), pool=True)
    managers = [Manager(settings) for _ in range(5)]
    loaded = managers[0].load(spec)
    got: list[Environment | None] = [None] * len(managers)
    barrier = threading.Barrier(len(managers))

    def claim(i: int) -> None:
        managers[i].backend  # noqa: B018 - the client before the race, not in it
        barrier.wait()
        got[i] = P.claim(managers[i], loaded)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(managers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        ids = [env.id for env in got if env is not None]
        assert len(ids) == 2 and len(set(ids)) == 2, ids
        states = {r["id"]: r["state"] for r in pool_ls(pytester.path, spec)}
        assert {states[i] for i in ids} == {"claimed"}
        # and on the engine, one claim marker each
        claims = managers[0].backend.list_resources({L.POOL: key, L.POOL_STATE: "claimed"})
        assert sorted(r.labels[L.ENV] for r in claims) == sorted(ids)
    finally:
        for m, env in zip(managers, got, strict=True):
            if env is not None:
                m.environments[env.spec.path] = env
            m.close(failed=False)
    assert wait_for(lambda: len(ready_ids(pytester.path, spec)) == 2, 30)


LIGHT_TESTS = r"""
import socket
import sys

def test_first(eph):
    # the keeper handed the environment out: no Docker client in this process
    assert not any(m == "docker" or m.startswith("docker.") for m in sys.modules)
    assert eph["cache"].url.startswith("redis://")
    with socket.create_connection(("127.0.0.1", eph["cache"].port(6379)), 5) as s:
        s.sendall(b"GET greeting\r\n")
        assert s.recv(64) == b"$5\r\nhello\r\n"
"""


def test_a_claim_from_the_keeper_needs_no_engine_client(
    pytester: pytest.Pytester, redis_pool: tuple[Path, str]
) -> None:
    spec, key = redis_pool
    pool = ready_ids(pytester.path, spec)
    pytester.makepyfile(test_light=LIGHT_TESTS)
    result = pytester.runpytest_subprocess("--eph-pool", "-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=1)
    assert "(handed out by its keeper)" in result.stdout.str()
    assert wait_for(lambda: ready_ids(pytester.path, spec) == pool, 30)
    log = P.log_path(key).read_text(encoding="utf-8")
    assert "reset and returned to the pool" in log


def test_a_kept_claim_leaves_the_pool_and_is_replaced(
    pytester: pytest.Pytester, redis_pool: tuple[Path, str], docker_client: Any
) -> None:
    """--eph-keep=always on a claim the keeper handed out: the claimant ends
    the lease and keeps the environment itself; the keeper starts another."""
    spec, _key = redis_pool
    pool = ready_ids(pytester.path, spec)
    pytester.makepyfile(test_light=LIGHT_TESTS)
    result = pytester.runpytest_subprocess(
        "--eph-pool", "--eph-keep=always", "-p", "no:cacheprovider", "-s"
    )
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    assert "(handed out by its keeper)" in out
    assert "out of the warm pool now" in out
    rows = {r["id"]: r["state"] for r in pool_ls(pytester.path, spec)}
    kept = [i for i, state in rows.items() if state == "kept"]
    assert len(kept) == 1 and kept[0] in pool, rows
    # the keeper fills the pool up again beside the kept one, which stays
    assert wait_for(lambda: len(ready_ids(pytester.path, spec) - set(kept)) == 2, 90)
    assert docker_client.containers.list(filters={"label": f"{L.ENV}={kept[0]}"})
    eph("down", kept[0], cwd=pytester.path, check=True)
    assert wait_until_clean(docker_client, f"{L.ENV}={kept[0]}") == []


PG_SPEC = """\
name: {name}
services:
  db:
    image: postgres:16-alpine
    environment: {{POSTGRES_PASSWORD: pw, POSTGRES_DB: shop}}
    ports: [5432]
    wait: {{command: ["pg_isready", "-h", "127.0.0.1", "-U", "postgres", "-d", "shop"]}}
"""

PG_TESTS = """\
import os
from pathlib import Path

def test_leave_a_table(eph):
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "shop", "-tAc"]
    code, out = eph["db"].exec(psql + ["SELECT count(*) FROM pg_tables WHERE tablename = 'leftover'"])
    assert code == 0, out
    Path(os.environ["POOL_MARKS"], "seen").write_text(eph.id + " " + out.strip())
    code, out = eph["db"].exec(psql + ["CREATE TABLE leftover (x int)"])
    assert code == 0, out
"""


def test_an_unseeded_postgres_is_emptied_and_returned(
    pytester: pytest.Pytester,
    pool_dir: Path,
    docker_client: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No seed: steps, a kind that can be snapshotted: the keeper snapshots its
    first, empty state, and a return puts it back there (not a replacement)."""
    name = f"pool-{uuid.uuid4().hex[:8]}"
    spec = pytester.makefile(".yaml", ephemeral=PG_SPEC.format(name=name))
    key = P.pool_key(spec)
    cwd = pytester.path
    monkeypatch.setenv("POOL_MARKS", str(tmp_path))
    pytester.makepyfile(test_pg=PG_TESTS)
    try:
        eph("pool", "up", "-f", str(spec), "--size", "1", "--wait", cwd=cwd, check=True)
        pool = ready_ids(cwd, spec)
        for _ in range(2):
            result = pytester.runpytest_subprocess("--eph-pool", "-p", "no:cacheprovider")
            result.assert_outcomes(passed=1)
            env_id, seen = (tmp_path / "seen").read_text().split()
            assert env_id in pool and seen == "0"  # the table of the run before is gone
            assert wait_for(lambda: ready_ids(cwd, spec) == pool, 60), P.log_path(key).read_text()
        assert f"{env_id} reset and returned to the pool" in P.log_path(key).read_text()
    finally:
        eph("pool", "down", "-f", str(spec), cwd=cwd)
        assert wait_until_clean(docker_client, f"{L.SPEC_NAME}={name}") == []


KILL_TESTS = """\
import os, signal

def test_killed(first_seen):
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.slow
def test_a_killed_claimant_s_environment_is_replaced(
    pytester: pytest.Pytester,
    redis_pool: tuple[Path, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec, _key = redis_pool
    before = ready_ids(pytester.path, spec)
    monkeypatch.setenv("POOL_MARKS", str(tmp_path))
    pytester.makepyfile(test_kill=KILL_TESTS)
    result = pytester.runpytest_subprocess("--eph-pool", "-p", "no:cacheprovider")
    assert result.ret == -signal.SIGKILL
    claimed = marks(tmp_path)["main"]["env"]
    assert claimed in before

    def healed() -> bool:
        rows = pool_ls(pytester.path, spec)
        ready = {r["id"] for r in rows if r["state"] == "ready"}
        return claimed not in {r["id"] for r in rows} and len(ready) == 2

    assert wait_for(healed, 90), pool_ls(pytester.path, spec)


def test_no_keeper_is_a_cold_start_with_one_notice(
    pytester: pytest.Pytester, pool_dir: Path, docker_client: Any
) -> None:
    name = f"pool-{uuid.uuid4().hex[:8]}"
    pytester.makefile(".yaml", ephemeral=PY_SPEC.format(name=name, version="1"))
    pytester.makepyfile(test_cold="def test_cold(eph):\n    assert eph['app'].container_id\n")
    result = pytester.runpytest_subprocess("--eph-pool", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    notices = [line for line in out.splitlines() if "a cold start" in line]
    assert notices == [
        "ephemeral: no warm pool for ephemeral.yaml (eph pool up -f ephemeral.yaml --size N "
        "starts one): a cold start"
    ], out
    assert wait_until_clean(docker_client, f"{L.SPEC_NAME}={name}") == []


FILE_TESTS = """\
import os
from pathlib import Path

def test_file(eph):
    code, out = eph["app"].exec(["sh", "-c", "if test -e /tmp/left; then echo left; else echo none; fi; touch /tmp/left"])
    Path(os.environ["POOL_MARKS"], "seen").write_text(eph.id + " " + out.strip())
"""


@pytest.mark.slow
def test_keeper_life_stale_spec_takeover_and_down(
    pytester: pytest.Pytester,
    pool_dir: Path,
    docker_client: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = f"pool-{uuid.uuid4().hex[:8]}"
    spec = pytester.makefile(".yaml", ephemeral=PY_SPEC.format(name=name, version="1"))
    key = P.pool_key(spec)
    cwd = pytester.path
    try:
        eph("pool", "up", "-f", str(spec), "--size", "1", "--wait", cwd=cwd, check=True)
        first = pool_ls(cwd, spec)
        assert [r["state"] for r in first] == ["ready"]

        # a second keeper for the same spec: one line, refused
        second = eph("pool", "up", "-f", str(spec), "--size", "3", cwd=cwd)
        assert second.returncode == 1
        assert second.stderr.count("\n") == 1
        assert "already has a keeper" in second.stderr

        # a container whose files a test changed cannot be reset: never handed
        # to the next claimant, but removed and replaced by the keeper
        monkeypatch.setenv("POOL_MARKS", str(tmp_path))
        pytester.makepyfile(test_file=FILE_TESTS)
        for _ in range(2):
            result = pytester.runpytest_subprocess("--eph-pool", "-p", "no:cacheprovider")
            result.assert_outcomes(passed=1)
            env_id, seen = (tmp_path / "seen").read_text().split()
            assert seen == "none"  # nothing left by the claimant before
            # handed back to the keeper, which found it cannot be reset
            removed = f"removed {env_id}: service 'app'"
            assert wait_for(functools.partial(_logged, key, removed), 30), P.log_path(
                key
            ).read_text()
            assert wait_for(functools.partial(_other_ready, cwd, spec, env_id), 90)
            assert env_id not in {r["id"] for r in pool_ls(cwd, spec)}

        # the spec changes: the stale environment is removed, a new one started
        old = ready_ids(cwd, spec)
        spec.write_text(PY_SPEC.format(name=name, version="2"))
        fresh_hash = Manager(Settings(rootdir=cwd)).load(spec).hash

        def replaced() -> bool:
            rows = pool_ls(cwd, spec)
            return [(r["state"], r["spec_hash"]) for r in rows] == [("ready", fresh_hash)]

        assert wait_for(replaced, 90), pool_ls(cwd, spec)
        assert not old & ready_ids(cwd, spec)

        # the keeper is killed: ls says so, its reaper removes its environments,
        # and a new eph pool up takes over
        info = P.keeper_info(key)
        assert info is not None and info["alive"]
        os.kill(int(info["pid"]), signal.SIGKILL)
        assert wait_for(lambda: not (P.keeper_info(key) or {}).get("alive", False), 10)
        gone = eph("pool", "ls", "-f", str(spec), cwd=cwd)
        assert gone.returncode == 0
        assert f"(pid {info['pid']}) is gone" in gone.stderr
        assert "eph pool up -f" in gone.stderr
        again = eph("pool", "up", "-f", str(spec), "--size", "1", "--wait", cwd=cwd)
        assert again.returncode == 0, again.stdout + again.stderr
        new = P.keeper_info(key)
        assert new is not None and new["alive"] and new["pid"] != info["pid"]
        rows = pool_ls(cwd, spec)
        assert [r["state"] for r in rows] == ["ready"]
        assert rows[0]["keeper"] == new["owner"]
    finally:
        down = eph("pool", "down", "-f", str(spec), cwd=cwd)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "stopped" in down.stdout
    assert labelled(docker_client, f"{L.POOL}={key}") == []
    assert wait_until_clean(docker_client, f"{L.SPEC_NAME}={name}") == []
    assert P.keeper_info(key) is None
    assert "no warm pool" in eph("pool", "down", "-f", str(spec), cwd=cwd).stdout


def test_pool_on_an_engine_that_is_gone(pytester: pytest.Pytester, pool_dir: Path) -> None:
    spec = pytester.makefile(".yaml", ephemeral=PY_SPEC.format(name="gone", version="1"))
    env = {**os.environ, "DOCKER_HOST": f"unix://{pytester.path}/no-engine.sock"}
    for action in (["up", "--size", "1"], ["ls"]):
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from pytest_ephemeral.cli import main; sys.exit(main())",
                "pool",
                action[0],
                "-f",
                str(spec),
                *action[1:],
            ],
            cwd=pytester.path,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert done.returncode == 3, done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert "the pool lives on that engine" in done.stderr
    assert P.keeper_info(P.pool_key(spec)) is None  # no keeper was left behind


def test_bad_size_is_one_line(pytester: pytest.Pytester, pool_dir: Path) -> None:
    spec = pytester.makefile(".yaml", ephemeral=PY_SPEC.format(name="bad", version="1"))
    done = eph("pool", "up", "-f", str(spec), "--size", "0", cwd=pytester.path)
    assert done.returncode == 2
    assert done.stderr == (
        "eph pool: --size 0: give at least 1 (the environments the pool keeps ready)\n"
    )
    missing = eph("pool", "up", "-f", "nope.yaml", cwd=pytester.path)
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1
    assert "nope.yaml' (from -f) not found" in missing.stderr
    assert missing.stderr.rstrip().endswith("name it with -f SPEC")
