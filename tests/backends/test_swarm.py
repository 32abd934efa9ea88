"""The Swarm backend on a real three-node swarm (scripts/setup.d/60-swarm.sh:
this engine as manager, two dockerds in network namespaces as workers):
services of one environment on different nodes reaching each other by name
over the overlay network, published on 127.0.0.1 through forwarders, every
wait form, seeds and reset, keep and reuse, the reaper after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest

from pytest_ephemeral.backends.swarm import SwarmBackend

from ..conftest import wait_until_clean

PY = "python:3.12-slim"

TOPOLOGY = f"""
services:
  api:
    image: {PY}
    command: ["python3", "-m", "http.server", "8000"]
    ports: [8000]
    wait: {{http: {{port: 8000, path: /}}}}
  cache:
    image: redis:7-alpine
    ports: [6379]
    healthcheck: {{test: ["CMD", "redis-cli", "ping"], interval: 1s, retries: 30}}
    seed:
      - redis: seed/cache.yaml
  worker:
    image: {PY}
    depends_on:
      api: {{condition: service_healthy}}
      cache: {{condition: service_healthy}}
    command: ["sh", "-c", "python3 -c \\"import urllib.request; print('api says', urllib.request.urlopen('http://api:8000/').status)\\"; sleep 600"]
    volumes: [scratch:/scratch]
    wait: {{log: "api says 200"}}
  job:
    image: {PY}
    command: ["sh", "-c", "echo once"]
    wait: {{completed: true}}
  ticker:
    image: {PY}
    command: ["sleep", "600"]
    wait: {{command: ["true"]}}
volumes:
  scratch: {{}}
"""

TESTS = """
import urllib.request
from pytest_ephemeral.backends.swarm import SwarmBackend

def test_topology(eph):
    assert isinstance(eph.backend, SwarmBackend)
    # published on 127.0.0.1 of this machine, through the forwarder
    assert urllib.request.urlopen(f"http://{eph['api'].address(8000)}/").status == 200
    assert eph["api"].host == "127.0.0.1"
    # reached each other by name over the overlay network (the worker's log wait)
    assert "api says 200" in eph["worker"].logs()
    nodes = {name: eph.backend.node_of(svc.container_id) for name, svc in eph.services.items()}
    assert len(set(nodes.values())) >= 2, nodes  # across the swarm's nodes
    code, out = eph["cache"].exec(["redis-cli", "get", "greeting"])
    assert out.strip() == "hello"

def test_reset(eph_fresh):
    eph_fresh["cache"].exec(["redis-cli", "set", "greeting", "changed"])

def test_reset_again(eph_fresh):
    code, out = eph_fresh["cache"].exec(["redis-cli", "get", "greeting"])
    assert out.strip() == "hello"
"""


def _project(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", ephemeral=textwrap.dedent(TOPOLOGY))
    (pytester.path / "seed").mkdir()
    (pytester.path / "seed" / "cache.yaml").write_text("greeting: hello\n")
    pytester.makepyfile(test_swarm=TESTS)


def _engines() -> list[Any]:
    backend = SwarmBackend()
    return backend._engines()


@pytest.mark.docker
def test_an_environment_across_the_swarm(pytester: pytest.Pytester, docker_client: Any) -> None:
    _project(pytester)
    result = pytester.runpytest_subprocess("--eph-backend", "swarm", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    label = f"pytest-ephemeral.name={pytester.path.name}"
    assert docker_client.api.services(filters={"label": label}) == []
    for engine in _engines():  # no volume left on any node
        assert engine.list_resources({"pytest-ephemeral.name": pytester.path.name}) == []


@pytest.mark.docker
def test_keep_and_reuse_on_the_swarm(pytester: pytest.Pytester, docker_client: Any) -> None:
    _project(pytester)
    pytester.makepyfile(test_swarm="def test_a(eph):\n    assert eph['api'].port(8000)\n")
    first = pytester.runpytest_subprocess("--eph-backend", "swarm", "--eph-keep=always")
    first.assert_outcomes(passed=1)
    first.stdout.fnmatch_lines(["*KEPT*", "*eph down *"])
    second = pytester.runpytest_subprocess("--eph-backend", "swarm", "--eph-reuse")
    second.assert_outcomes(passed=1)
    second.stdout.fnmatch_lines(["*reused*"])
    kept = [line.split()[0] for line in first.outlines if "KEPT)" in line]
    assert kept, first.outlines
    down = subprocess.run(
        [sys.executable, "-m", "pytest_ephemeral.cli", "down", *kept],
        env={**os.environ, "EPH_BACKEND": "swarm"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert down.returncode == 0, down.stderr
    label = f"pytest-ephemeral.name={pytester.path.name}"
    assert docker_client.api.services(filters={"label": label}) == []


@pytest.mark.docker
@pytest.mark.slow
def test_a_killed_run_is_reaped_on_the_swarm(pytester: pytest.Pytester, docker_client: Any) -> None:
    pytester.makefile(
        ".yaml",
        ephemeral=f"services:\n  s:\n    image: {PY}\n    command: [sleep, '600']\n    wait: {{command: ['true']}}\n",
    )
    pytester.makepyfile(
        test_k="import time\ndef test_k(eph):\n    print('READY', flush=True)\n    time.sleep(600)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-s", "-p", "pytester", "--eph-backend", "swarm"],
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        if "READY" in line or time.monotonic() > deadline:
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    label = f"pytest-ephemeral.name={pytester.path.name}"
    deadline = time.monotonic() + 15
    while docker_client.api.services(filters={"label": label}) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert docker_client.api.services(filters={"label": label}) == []
    assert wait_until_clean(docker_client, label) == []


def test_a_build_on_the_swarm_is_refused_with_the_fix(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", ephemeral="services:\n  app:\n    build: .\n")
    (pytester.path / "Dockerfile").write_text(f"FROM {PY}\n")
    pytester.makepyfile("def test_a(eph): pass")
    result = pytester.runpytest_subprocess("--eph-backend", "swarm")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*--eph-backend swarm: cannot build*push it to a registry*"])


def test_an_engine_that_is_not_a_manager_is_named(pytester: pytest.Pytester) -> None:
    # the second engine (scripts/setup.d/30-engine2.sh) is in no swarm
    pytester.makefile(".yaml", ephemeral=f"services:\n  s:\n    image: {PY}\n")
    pytester.makepyfile("def test_a(eph): pass")
    env = {**os.environ, "DOCKER_HOST": "tcp://10.99.0.2:2375"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--eph-backend", "swarm"],
        cwd=pytester.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "is not a swarm manager" in proc.stdout, proc.stdout[-2000:]
    assert "docker swarm init" in proc.stdout


@pytest.mark.docker
def test_a_swarm_without_room_says_so(pytester: pytest.Pytester) -> None:
    # a reservation no node of this swarm can give: the scheduler never places it
    pytester.makefile(
        ".yaml",
        ephemeral=f"services:\n  big:\n    image: {PY}\n    command: [sleep, '600']\n"
        "    deploy: {resources: {reservations: {cpus: '64'}}}\n",
    )
    pytester.makepyfile("def test_a(eph): pass")
    result = pytester.runpytest_subprocess("--eph-backend", "swarm", "--eph-timeout", "60")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*service 'big'*no node of the swarm has room*"])
