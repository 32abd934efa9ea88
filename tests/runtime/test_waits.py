"""Exec-based readiness checks (healthcheck, command) cost the engine ~75 ms
of CPU each: they run at once only while the container listens on TCP, and
otherwise at most every EXEC_IDLE_PERIOD. Against the real engine."""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_ephemeral import Environment
from pytest_ephemeral.backends.docker import DockerBackend
from pytest_ephemeral.lifecycle import labels as L
from pytest_ephemeral.lifecycle.removal import teardown as teardown_environment
from pytest_ephemeral.runtime.backend import ContainerState, ExecResult
from pytest_ephemeral.runtime.engine import EngineOptions, start_environment
from pytest_ephemeral.runtime.waits import EXEC_IDLE_PERIOD, Probe, _listening, listening_ports
from pytest_ephemeral.spec import HealthcheckSpec, WaitSpec, load_spec

PY = "python:3.12-slim"

TABLE = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0B00007F:B10D 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 00000000:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 2 1
   2: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 3 1
"""


def test_socket_table_ignores_dockers_dns_and_connections() -> None:
    # 127.0.0.11 is Docker's embedded DNS; state 01 is an established connection
    assert _listening(TABLE) == {5432}


def test_listening_ports_refuses_a_process_of_another_container() -> None:
    # our own pid exists, but its cgroup does not name this container id
    state = ContainerState("running", 0, None, pid=os.getpid(), container_id="f" * 64)
    assert listening_ports(state) is None
    assert listening_ports(ContainerState("running", 0, None)) is None


@contextlib.contextmanager
def counted(path: Path) -> Iterator[tuple[Environment, CountingBackend]]:
    """An environment of ``path`` started on a backend that counts execs."""
    backend = CountingBackend()
    env_id = f"t-{uuid.uuid4().hex[:8]}"
    env = Environment(env_id, load_spec(path), backend, {L.ENV: env_id}, selector={L.ENV: env_id})
    try:
        start_environment(env, EngineOptions(default_timeout=30))
        yield env, backend
    finally:
        teardown_environment(env)


class CountingBackend(DockerBackend):
    def __init__(self) -> None:
        super().__init__()
        self.execs: list[str] = []
        self._count_lock = threading.Lock()

    def exec(self, container_id: str, cmd: Sequence[str], **settings: Any) -> ExecResult:
        with self._count_lock:
            self.execs.append(container_id)
        return super().exec(container_id, cmd, **settings)


@pytest.mark.docker
def test_check_that_passes_before_any_port_listens_is_rate_limited_not_blocked(
    docker_client: Any, write_spec: Callable[..., Path]
) -> None:
    # port 7000 is published but never listened on; the healthcheck passes after 2 s
    path = write_spec(
        f"""
        services:
          quiet:
            image: {PY}
            command: ["sh", "-c", "sleep 2; touch /tmp/ok; sleep 600"]
            ports: [7000]
            healthcheck:
              test: ["CMD", "test", "-f", "/tmp/ok"]
              interval: 60s
        """
    )
    with counted(path) as (env, backend):
        t = env.timeline["quiet"]
        assert t.ready is not None and t.started is not None
        waited = t.ready - t.started
        assert waited >= 1.5
        # polled every 50 ms without the gate: ~40 execs; with it one per period
        assert len(backend.execs) <= waited / EXEC_IDLE_PERIOD + 3, (len(backend.execs), waited)


@pytest.mark.docker
def test_listening_ports_are_read_from_the_host(
    docker_client: Any, write_spec: Callable[..., Path]
) -> None:
    # the gate's signal: what listens inside, read from /proc on this side
    path = write_spec(
        f"""
        services:
          web:
            image: {PY}
            command: ["python3", "-c", "import socket, time; time.sleep(1); s = socket.socket(); s.bind(('0.0.0.0', 7000)); s.listen(); time.sleep(600)"]
            ports: [7000]
            healthcheck:
              test: ["CMD", "python3", "-c", "import socket; socket.create_connection(('127.0.0.1', 7000))"]
              interval: 60s
        """
    )
    with counted(path) as (env, backend):
        before = len(backend.execs)
        state = backend.state(env["web"].container_id)
        assert listening_ports(state) == {7000}
        assert len(backend.execs) == before  # read from the host, no exec


def test_a_healthcheck_probe_without_a_test_runs_the_images() -> None:
    image = ("CMD-SHELL", "pg_isready -U postgres")
    settings_only = HealthcheckSpec(test=(), interval=1.0)
    probe = Probe.of(WaitSpec("healthcheck"), settings_only, image)
    assert probe.health_cmd == ("/bin/sh", "-c", "pg_isready -U postgres")
    # the spec's own test wins; no test anywhere: nothing to run by hand
    own = HealthcheckSpec(test=("CMD", "redis-cli", "ping"))
    assert Probe.of(WaitSpec("healthcheck"), own, image).health_cmd == ("redis-cli", "ping")
    assert Probe.of(WaitSpec("healthcheck"), settings_only, None).health_cmd is None
