"""A pool of two real engines (--eph-hosts): this machine's engine and the
second dockerd of scripts/setup.d/30-engine2.sh, reached over tcp. Per-worker
environments spread over both, each whole on one engine, reachable from here
on the address of its engine; eph ls/down cover both."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from typing import Any

import pytest

ENGINE2 = "tcp://10.99.0.2:2375"
LOCAL = "unix:///var/run/docker.sock"
PY = "python:3.12-slim"

SPEC = f"""
services:
  web:
    image: {PY}
    command: ["python3", "-m", "http.server", "8000"]
    ports: [8000]
    wait: {{http: {{port: 8000, path: /}}}}
  side:
    image: {PY}
    command: ["sleep", "600"]
    depends_on: {{web: {{condition: service_healthy}}}}
    wait: {{command: ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://web:8000/')"]}}
"""

TEST = """
import os, urllib.request

def test_where(eph, worker_id):
    web = eph["web"]
    assert urllib.request.urlopen(f"http://{web.address(8000)}/").status == 200
    engine = eph.backend.address
    # every service of the environment on the same engine
    assert {s.host for s in eph.services.values()} == {web.host}
    with open(os.path.join(os.environ["EPH_TEST_OUT"], worker_id), "w") as fh:
        fh.write(f"{engine} {web.host}")
"""


@pytest.fixture
def engine2() -> str:
    probe = subprocess.run(
        ["docker", "-H", ENGINE2, "version", "--format", "{{.Server.Version}}"],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    if probe.returncode != 0:
        pytest.fail(
            f"the second engine at {ENGINE2} does not answer ({probe.stderr.strip()}); "
            "bash scripts/setup.d/30-engine2.sh starts it",
            pytrace=False,
        )
    return ENGINE2


@pytest.mark.docker
def test_per_worker_environments_spread_over_two_engines(
    pytester: pytest.Pytester, engine2: str, tmp_path: Any
) -> None:
    pytester.makefile(".yaml", ephemeral=textwrap.dedent(SPEC))
    for i in range(4):
        pytester.makepyfile(**{f"test_w{i}": TEST.replace("test_where", f"test_where{i}")})
    out = tmp_path / "where"
    out.mkdir()
    os.environ["EPH_TEST_OUT"] = str(out)
    try:
        result = pytester.runpytest_subprocess(
            "-n",
            "2",
            "--dist",
            "loadfile",
            "--eph-hosts",
            f"{LOCAL},{engine2}",
            "-p",
            "no:cacheprovider",
        )
    finally:
        del os.environ["EPH_TEST_OUT"]
    result.assert_outcomes(passed=4)
    placed = {p.name: p.read_text().split() for p in out.iterdir()}
    for engine, host in placed.values():  # reached on the address of its engine
        assert host == ("10.99.0.2" if engine == engine2 else "127.0.0.1")
    # each placement follows the rule: the worker's own engine in turn (gwN: the
    # engine N mod 2) while it has at least half the best room, else the best
    decisions = re.findall(r"\[(gw\d)\] placing on (\S+) \(room: ([^)]*)\)", result.stdout.str())
    assert {worker for worker, _e, _r in decisions} == {"gw0", "gw1"}, result.stdout.str()
    order = [LOCAL, engine2]
    for worker, chosen, rooms_text in decisions:
        rooms = {e: float(r) for e, r in (part.rsplit(" ", 1) for part in rooms_text.split(", "))}
        assert set(rooms) == set(order)
        preferred = order[int(worker[2:]) % 2]
        best = max(rooms.values())
        expected = preferred if rooms[preferred] >= best / 2 else max(rooms, key=rooms.__getitem__)
        assert chosen == expected, (worker, chosen, rooms)
        assert placed[worker][0] == chosen
    # nothing left on either engine
    for host in (LOCAL, engine2):
        ls = subprocess.run(
            [sys.executable, "-m", "pytest_ephemeral.cli", "ls", "--json"],
            env={**os.environ, "EPH_HOSTS": host},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert [r for r in json.loads(ls.stdout) if r["name"] == pytester.path.name] == []


@pytest.mark.docker
def test_eph_commands_cover_every_engine(pytester: pytest.Pytester, engine2: str) -> None:
    pytester.makefile(".yaml", ephemeral=textwrap.dedent(SPEC))
    env = {**os.environ, "EPH_HOSTS": f"{LOCAL},{engine2}"}

    def eph(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest_ephemeral.cli", *args],
            cwd=pytester.path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    up = eph("up", "--json")
    assert up.returncode == 0, up.stderr
    env_id = json.loads(up.stdout)["id"]
    ls = eph("ls")
    assert env_id in ls.stdout and "ENGINE" in ls.stdout
    down = eph("down", env_id)
    assert down.returncode == 0 and f"removed {env_id}" in down.stdout, down.stderr
    # an engine of the pool that does not answer: named, the others still served
    env["EPH_HOSTS"] = f"{LOCAL},tcp://127.0.0.1:9"
    ls = eph("ls")
    assert ls.returncode == 3
    assert "127.0.0.1:9" in ls.stderr and "not counted as removed" in ls.stderr
