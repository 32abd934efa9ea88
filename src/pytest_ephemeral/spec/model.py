"""The immutable spec model: what a loaded, validated, interpolated spec says.

Every path in the model is absolute (resolved relative to the spec file);
every duration is in seconds (float); every mapping is read-only.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

__all__ = [
    "BuildSpec",
    "DependsOn",
    "HealthcheckSpec",
    "Location",
    "PortSpec",
    "SeedStep",
    "ServiceSpec",
    "Spec",
    "VolumeMount",
    "WaitSpec",
    "frozen_map",
]

Condition = Literal["service_started", "service_healthy", "service_completed_successfully"]
WaitKind = Literal["log", "port", "http", "command", "healthcheck", "completed"]
SeedKind = Literal["sql", "csv", "dump", "python", "redis"]

EMPTY: Mapping[str, str] = MappingProxyType({})


def frozen_map(items: Mapping[str, str] | None = None) -> Mapping[str, str]:
    """A read-only copy of ``items`` (insertion order kept)."""
    return MappingProxyType(dict(items or {}))


@dataclass(frozen=True, slots=True)
class Location:
    """Where something was written: file, 1-based line (if known), key path."""

    file: Path
    line: int | None
    key: str

    def __str__(self) -> str:
        line = f":{self.line}" if self.line is not None else ""
        return f"{self.file}{line}: {self.key}"


@dataclass(frozen=True, slots=True)
class PortSpec:
    """A container port to publish. ``host_port`` None: Docker chooses (always, by default)."""

    container_port: int
    protocol: Literal["tcp", "udp"] = "tcp"
    host_ip: str = "127.0.0.1"
    host_port: int | None = None


@dataclass(frozen=True, slots=True)
class BuildSpec:
    context: Path
    dockerfile: str = "Dockerfile"
    args: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    target: str | None = None


@dataclass(frozen=True, slots=True)
class HealthcheckSpec:
    """Compose healthcheck. ``test`` is ("CMD", ...), ("CMD-SHELL", "...") or ("NONE",)."""

    test: tuple[str, ...]
    interval: float | None = None
    timeout: float | None = None
    retries: int | None = None
    start_period: float | None = None
    disable: bool = False


@dataclass(frozen=True, slots=True)
class WaitSpec:
    """One readiness condition. Fields used depend on ``kind``:

    - ``log``: ``pattern`` (a valid Python regular expression, searched per line)
    - ``port``: ``port`` (container port; the service must accept connections)
    - ``http``: ``port``, ``path`` (default "/"), ``status`` (default 200)
    - ``command``: ``command`` (exec'd in the container until it exits 0)
    - ``healthcheck``: the spec's or the image's healthcheck reports healthy
    - ``completed``: the (one-shot) container exited with status 0
    """

    kind: WaitKind
    pattern: str | None = None
    port: int | None = None
    path: str = "/"
    status: int = 200
    command: tuple[str, ...] = ()

    def describe(self) -> str:
        """What this wait waits for, in words (for ``eph validate`` and errors)."""
        if self.kind == "log":
            return f"log matches /{self.pattern}/"
        if self.kind == "port":
            return f"port {self.port} accepts connections"
        if self.kind == "http":
            return f"http GET :{self.port}{self.path} answers {self.status}"
        if self.kind == "command":
            return f"command {shlex.join(self.command)} exits 0"
        if self.kind == "healthcheck":
            return "healthcheck reports healthy"
        return "completed (exits with status 0)"


@dataclass(frozen=True, slots=True)
class DependsOn:
    service: str
    condition: Condition = "service_started"


@dataclass(frozen=True, slots=True)
class VolumeMount:
    """``type`` volume: ``source`` is a top-level volume name, or None (anonymous);
    ``type`` bind: ``source`` is an absolute host path."""

    type: Literal["volume", "bind"]
    target: str
    source: str | None = None
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class SeedStep:
    """One seed step, run in order after the service is ready.

    - ``sql``: ``file``; ``database`` optional
    - ``csv``: ``file``, ``table``; ``database`` optional
    - ``dump``: ``file`` (pg_dump plain format), ``sanitize`` (rules file) optional
    - ``python``: ``target`` "module:function", called with (environment, service)
    - ``redis``: ``file`` of key/value pairs
    """

    kind: SeedKind
    location: Location
    file: Path | None = None
    table: str | None = None
    sanitize: Path | None = None
    target: str | None = None
    database: str | None = None


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    location: Location
    image: str | None = None
    build: BuildSpec | None = None
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    environment: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    ports: tuple[PortSpec, ...] = ()
    expose: tuple[int, ...] = ()
    depends_on: tuple[DependsOn, ...] = ()
    healthcheck: HealthcheckSpec | None = None
    volumes: tuple[VolumeMount, ...] = ()
    tmpfs: tuple[str, ...] = ()
    # network name -> aliases on that network. Empty mapping: the env's default network.
    networks: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    labels: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    user: str | None = None
    working_dir: str | None = None
    cpus: float | None = None
    mem_limit: int | None = None  # bytes
    profiles: tuple[str, ...] = ()
    privileged: bool = False
    waits: tuple[WaitSpec, ...] = ()  # all must hold; empty: engine default
    wait_timeout: float | None = None  # None: the run's default (--eph-timeout)
    seed: tuple[SeedStep, ...] = ()


@dataclass(frozen=True, slots=True)
class Spec:
    """A whole topology. ``services`` keeps file order; ``hash`` is stable across
    runs and machines for the same effective content (not for formatting)."""

    name: str
    path: Path
    services: Mapping[str, ServiceSpec]
    networks: tuple[str, ...] = ("default",)
    volumes: tuple[str, ...] = ()
    hash: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def root(self) -> Path:
        return self.path.parent
