"""Readiness checks, one function per ``wait:`` form, polled by the engine."""

from __future__ import annotations

import http.client
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from ..spec.model import HealthcheckSpec, WaitSpec
from .backend import Backend, ContainerState

__all__ = ["Probe", "healthcheck_command", "probe_tcp"]


def healthcheck_command(test: Sequence[str]) -> tuple[str, ...] | None:
    """The argv that runs a Docker/Compose healthcheck ``test`` by hand."""
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD":
        return tuple(test[1:])
    if test[0] == "CMD-SHELL":
        return ("/bin/sh", "-c", " ".join(test[1:]))
    return ("/bin/sh", "-c", " ".join(test))


def probe_tcp(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something listens behind ``host:port``.

    A published port is fronted by docker-proxy, which accepts the connection
    even when nothing listens in the container yet, and then closes it at
    once. So a connection only counts when it is not closed straight away."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(0.05)
            try:
                data = sock.recv(1)
            except TimeoutError:
                return True  # open and waiting for the client to speak
            except OSError:
                return False
            return bool(data)
    except OSError:
        return False


def probe_http(host: str, port: int, path: str, status: int, timeout: float = 1.0) -> bool:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": "pytest-ephemeral"})
        return conn.getresponse().status == status
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


_LISTEN = "0A"


def listening_in_container(backend: Backend, container_id: str, port: int) -> bool:
    """For a port that is not published: read the container's socket tables."""
    res = backend.exec(container_id, ["cat", "/proc/net/tcp", "/proc/net/tcp6"])
    if res.exit_code != 0 and not res.output:
        return False
    want = f":{port:04X}"
    for line in res.output.splitlines()[1:]:
        cols = line.split()
        if len(cols) > 3 and cols[1].endswith(want) and cols[3] == _LISTEN:
            return True
    return False


@dataclass(slots=True)
class Probe:
    """One pending wait of one container, with whatever it needs to remember."""

    wait: WaitSpec
    regex: re.Pattern[str] | None = None
    health_cmd: tuple[str, ...] | None = None

    @classmethod
    def of(
        cls, wait: WaitSpec, healthcheck: HealthcheckSpec | None, image_test: tuple[str, ...] | None
    ) -> Probe:
        regex = (
            re.compile(wait.pattern, re.MULTILINE) if wait.kind == "log" and wait.pattern else None
        )
        cmd = None
        if wait.kind == "healthcheck":
            test = (
                healthcheck.test
                if healthcheck is not None and not healthcheck.disable
                else image_test
            )
            cmd = healthcheck_command(test) if test else None
        return cls(wait, regex, cmd)

    def check(
        self,
        backend: Backend,
        container_id: str,
        state: ContainerState,
        host: str,
        logs: str | None,
    ) -> bool:
        w = self.wait
        if w.kind == "log":
            return bool(logs is not None and self.regex is not None and self.regex.search(logs))
        if w.kind == "completed":
            return state.exited and state.exit_code == 0
        if not state.running:
            return False
        if w.kind == "port":
            assert w.port is not None  # validated by the spec loader
            hp = state.ports.get(f"{w.port}/tcp")
            if hp is not None:
                return probe_tcp(host, hp)
            return listening_in_container(backend, container_id, w.port)
        if w.kind == "http":
            assert w.port is not None
            hp = state.ports.get(f"{w.port}/tcp")
            if hp is None:
                return False
            return probe_http(host, hp, w.path, w.status)
        if w.kind == "command":
            return backend.exec(container_id, w.command).exit_code == 0
        # healthcheck: Docker's own verdict, or (much sooner than its interval)
        # the same test run by hand
        if state.health == "healthy":
            return True
        if self.health_cmd is not None:
            return backend.exec(container_id, self.health_cmd).exit_code == 0
        return False
