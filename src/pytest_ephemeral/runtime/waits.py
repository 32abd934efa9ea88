"""Readiness checks, one function per ``wait:`` form, polled by the engine."""

from __future__ import annotations

import http.client
import re
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..spec.model import HealthcheckSpec, WaitSpec
from .backend import Backend, ContainerState, ExecResult

__all__ = ["EXEC_IDLE_PERIOD", "Probe", "healthcheck_command", "probe_tcp"]

# An exec costs the Docker engine ~75 ms of CPU (runc, the shim, the daemon)
# whatever the command; polled every 50 ms it keeps a CPU busy per starting
# service. So a check that needs an exec runs at once only while something in
# the container listens on TCP (read from the host's /proc, which costs the
# engine nothing); while nothing does, at most once per this many seconds, so
# a service whose check passes before it listens is still found ready.
EXEC_IDLE_PERIOD = 0.5


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


def listening_ports(state: ContainerState) -> set[int] | None:
    """The TCP ports something listens on inside the container, read from the
    host's ``/proc/<pid>/net/tcp{,6}`` (the container's network namespace) at
    no cost to the engine. None when that cannot be told from here: a remote
    engine, another pid namespace, a process that is gone; the container id in
    the process's cgroup guards against reading an unrelated local process."""
    if state.pid <= 0 or not state.container_id:
        return None
    proc = f"/proc/{state.pid}"
    try:
        with open(f"{proc}/cgroup", encoding="ascii", errors="replace") as fh:
            if state.container_id not in fh.read():
                return None
        ports: set[int] = set()
        for table in ("tcp", "tcp6"):
            with open(f"{proc}/net/{table}", encoding="ascii", errors="replace") as fh:
                ports.update(_listening(fh.read()))
    except OSError:
        return None
    return ports


# Docker's embedded DNS server listens inside every container on a user
# network, on 127.0.0.11 (as /proc/net/tcp writes it) and a random port
_DOCKER_DNS = "0B00007F"


def _listening(table: str) -> set[int]:
    out = set()
    for line in table.splitlines()[1:]:
        cols = line.split()
        if len(cols) > 3 and cols[3] == _LISTEN:
            addr, _, port = cols[1].rpartition(":")
            if addr != _DOCKER_DNS:
                out.add(int(port, 16))
    return out


def listening_in_container(backend: Backend, container_id: str, port: int) -> bool:
    """For a port that is not published: read the container's socket tables."""
    res = backend.exec(container_id, ["cat", "/proc/net/tcp", "/proc/net/tcp6"])
    if res.exit_code != 0 and not res.output:
        return False
    return port in _listening(res.output)


@dataclass(slots=True)
class Probe:
    """One pending wait of one container, with whatever it needs to remember."""

    wait: WaitSpec
    regex: re.Pattern[str] | None = None
    health_cmd: tuple[str, ...] | None = None
    last_exec: float = 0.0  # monotonic time of this probe's last exec
    exec_took: float = 0.0  # how long it took

    @classmethod
    def of(
        cls, wait: WaitSpec, healthcheck: HealthcheckSpec | None, image_test: tuple[str, ...] | None
    ) -> Probe:
        regex = (
            re.compile(wait.pattern, re.MULTILINE) if wait.kind == "log" and wait.pattern else None
        )
        cmd = None
        if wait.kind == "healthcheck":
            # a healthcheck with settings but no test keeps the image's test
            test = (
                healthcheck.test
                if healthcheck is not None and not healthcheck.disable and healthcheck.test
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
            hp = state.ports.get((w.port, "tcp"))
            if hp is not None:
                return probe_tcp(host, hp)
            here = listening_ports(state)
            if here is not None:
                return w.port in here
            port = w.port
            return self._exec_due(state, host) and self._timed(
                lambda: ExecResult(
                    0 if listening_in_container(backend, container_id, port) else 1, ""
                )
            )
        if w.kind == "http":
            assert w.port is not None
            hp = state.ports.get((w.port, "tcp"))
            if hp is None:
                return False
            return probe_http(host, hp, w.path, w.status)
        if w.kind == "command":
            return self._exec_due(state, host) and self._timed(
                lambda: backend.exec(container_id, w.command)
            )
        # healthcheck: Docker's own verdict, or (much sooner than its interval)
        # the same test run by hand
        if state.health == "healthy":
            return True
        if self.health_cmd is not None and self._exec_due(state, host):
            return self._timed(lambda: backend.exec(container_id, self.health_cmd or ()))
        return False

    def _exec_due(self, state: ContainerState, host: str) -> bool:
        """Whether to run an exec-based check now (see EXEC_IDLE_PERIOD); even
        while the container listens, an exec is followed by a pause as long
        as it took, so that on a busy engine checks take at most half of it."""
        since = time.monotonic() - self.last_exec
        if since < self.exec_took * 2:
            return False
        return since >= EXEC_IDLE_PERIOD or _any_port_open(state, host)

    def _timed(self, run: Callable[[], ExecResult]) -> bool:
        started = time.monotonic()
        try:
            return run().exit_code == 0
        finally:
            self.last_exec = started
            self.exec_took = time.monotonic() - started


def _any_port_open(state: ContainerState, host: str) -> bool:
    """Something in the container listens on TCP (a sign that it may be ready)."""
    here = listening_ports(state)
    if here is not None:
        declared = {number for number, protocol in state.ports if protocol == "tcp"}
        return bool(here & declared) if declared else bool(here)
    return any(
        probe_tcp(host, hp, timeout=0.2) for key, hp in state.ports.items() if key[1] == "tcp"
    )
