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
    "EngineOptions",
    "ExternalService",
    "HealthcheckSpec",
    "Hook",
    "Location",
    "ParityAccept",
    "ParitySpec",
    "PortSpec",
    "ResourceSpec",
    "SecretMount",
    "SeedStep",
    "ServiceSpec",
    "Spec",
    "SpecWarning",
    "TestcontainersSpec",
    "VolumeMount",
    "WaitSpec",
    "frozen_map",
]

Condition = Literal["service_started", "service_healthy", "service_completed_successfully"]
WaitKind = Literal["log", "port", "http", "command", "healthcheck", "completed"]
SeedKind = Literal["sql", "csv", "dump", "python", "redis"]
WarningCategory = Literal[
    "ignored",  # a Compose key whose effect a test cannot see: dropped
    "translated",  # honoured differently (container_name -> alias, external -> per environment)
    "isolation",  # works, but weakens isolation between runs (fixed host port, Docker socket)
    "security",  # works, but reachable from elsewhere (a non-loopback host address)
    "interpolation",  # an unset variable became the empty string
    "note",  # obsolete or overridden by the plugin (version, COMPOSE_PROJECT_NAME)
]
ExternalKind = Literal["postgres", "redis"]
PullPolicy = Literal["missing", "always", "never", "build", "daily", "weekly", "every"]

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
class SpecWarning:
    """One warning of a load, once per key and file: ``count`` places share it.

    ``key`` is the key it is about, without the service (``container_name``,
    ``deploy.restart_policy``, ``volumes.data.external``); ``line`` is the first
    place; ``message`` is the whole one-line text (``str()`` of the warning), the
    same text as in :attr:`Spec.warnings`. The pytest plugin shows these as a
    ``PytestWarning`` subclass; ``category`` says what kind of warning it is."""

    category: WarningCategory
    key: str
    file: str
    line: int | None
    count: int
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class PortSpec:
    """A container port to publish. ``host_port`` None: Docker chooses (always, by default).

    A Compose port range (``"8000-8002"``) becomes one PortSpec per port; a fixed
    host range (``"9000-9002:8000-8002"``) pairs them in order."""

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
    """Compose healthcheck. ``test`` is ("CMD", ...), ("CMD-SHELL", "...") or ("NONE",);
    ``()`` when the spec changes only the settings (``interval`` ...) and keeps the
    image's own test, as Compose does (Docker: an empty Test inherits the image's)."""

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
    ``type`` bind: ``source`` is an absolute host path.

    ``create_host_path`` (bind only): the source did not exist when the spec was
    loaded and Compose would create it: the backend creates the folder (``mkdir
    -p``) before it creates the container. False: the source exists (or, with
    ``bind: {create_host_path: false}``, must exist)."""

    type: Literal["volume", "bind"]
    target: str
    source: str | None = None
    read_only: bool = False
    create_host_path: bool = False
    subpath: str | None = None  # volume only: mount this folder of the volume


@dataclass(frozen=True, slots=True)
class SecretMount:
    """A Compose secret or config a service is given, as a file in the container.

    The backend puts a file at ``target`` (absolute, in the container) whose
    content is the host ``file`` (bind it read-only, or copy it in) or, when
    ``file`` is None, ``content`` (from ``environment:`` or a config's
    ``content:``; write it in before the container starts). ``uid``/``gid``/
    ``mode`` are the file's owner and permissions when given (Compose's defaults:
    0, 0, 0o444)."""

    kind: Literal["secret", "config"]
    name: str  # the top-level secrets:/configs: name
    target: str
    file: Path | None = None
    content: str | None = field(default=None, repr=False)
    uid: str | None = None
    gid: str | None = None
    mode: int | None = None


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    """Limits and reservations (``deploy.resources`` and the service-level keys).

    ``cpus`` and ``memory`` mirror :attr:`ServiceSpec.cpus` and
    :attr:`ServiceSpec.mem_limit`. Reservations are a scheduler's business: a
    backend that places containers (Swarm, Kubernetes) honours them; the Docker
    backend passes ``memory_reserved`` as the soft limit and may warn about
    ``cpus_reserved``."""

    cpus: float | None = None
    memory: int | None = None  # bytes
    pids: int | None = None
    cpus_reserved: float | None = None
    memory_reserved: int | None = None  # bytes


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Container options Compose passes to the engine, carried engine-neutrally.

    Every field at its default means "the engine's default": a backend passes each
    field that is set, and warns (once) about one it cannot honour. Sizes are
    bytes, durations seconds, CPU periods microseconds."""

    runtime: str | None = None
    platform: str | None = None
    hostname: str | None = None
    domainname: str | None = None
    init: bool | None = None
    read_only: bool = False
    tty: bool = False
    stdin_open: bool = False
    stop_signal: str | None = None
    stop_grace_period: float | None = None
    shm_size: int | None = None
    cpu_shares: int | None = None
    cpu_period: int | None = None
    cpu_quota: int | None = None
    cpu_rt_period: int | None = None
    cpu_rt_runtime: int | None = None
    cpu_count: int | None = None
    cpu_percent: int | None = None
    cpuset: str | None = None
    memswap_limit: int | None = None  # bytes; -1: unlimited swap
    mem_swappiness: int | None = None
    oom_kill_disable: bool | None = None
    oom_score_adj: int | None = None
    blkio_weight: int | None = None
    # name -> (soft, hard); Compose's 'nofile: 20000' is (20000, 20000)
    ulimits: Mapping[str, tuple[int, int]] = field(default_factory=lambda: MappingProxyType({}))
    sysctls: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    storage_opt: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    extra_hosts: tuple[tuple[str, str], ...] = ()  # (hostname, address), in order
    group_add: tuple[str, ...] = ()
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()

    def given(self) -> dict[str, object]:
        """The fields that differ from the engine's default, by name."""
        default = EngineOptions()
        return {
            name: getattr(self, name)
            for name in self.__dataclass_fields__
            if getattr(self, name) != getattr(default, name)
        }


@dataclass(frozen=True, slots=True)
class Hook:
    """A Compose ``post_start`` command: exec'd in the container right after it
    starts, before readiness is checked; a non-zero exit fails the service."""

    command: tuple[str, ...]
    user: str | None = None
    privileged: bool = False
    working_dir: str | None = None
    environment: Mapping[str, str] = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True, slots=True)
class ExternalService:
    """A service that is a server the team keeps (DESIGN §10): never started.

    ``url`` comes from interpolation (the environment or an ini value), never from
    the spec's own text; ``kind`` is read from its scheme. ``isolate`` says which
    part each environment gets: postgres ``database`` (default) or ``schema``;
    redis ``db`` (a logical database, default) or ``prefix`` (a key prefix)."""

    url: str = field(repr=False)
    kind: ExternalKind
    isolate: str
    location: Location


@dataclass(frozen=True, slots=True)
class TestcontainersSpec:
    """A service started by a testcontainers-python module (DESIGN §12).

    ``target`` is ``"module:Class"`` as written (not imported by the spec layer);
    ``image`` is passed as the class's image when given; ``args`` are keyword
    arguments of the class (YAML values as read: str, int, float, bool, None,
    lists and mappings of them)."""

    __test__ = False  # not a pytest test class, despite the name

    target: str
    location: Location
    image: str | None = None
    args: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]

    @property
    def class_name(self) -> str:
        return self.target.partition(":")[2]


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
    # -- added for the Compose coverage (issue 11); every default means "as before" --
    # extra network aliases on every network of the service (container_name, links)
    aliases: tuple[str, ...] = ()
    secrets: tuple[SecretMount, ...] = ()
    configs: tuple[SecretMount, ...] = ()
    resources: ResourceSpec = field(default_factory=ResourceSpec)
    replicas: int = 1  # deploy.replicas / scale: containers behind the service's name
    engine: EngineOptions = field(default_factory=EngineOptions)
    post_start: tuple[Hook, ...] = ()
    # Compose pull_policy: missing (default), always, never, build, daily, weekly,
    # every (pull_refresh is then the period in seconds)
    pull_policy: PullPolicy = "missing"
    pull_refresh: float | None = None
    external: ExternalService | None = None  # no image, no build: a kept server
    testcontainers: TestcontainersSpec | None = None  # started by a testcontainers module


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
    # -- added for the Compose coverage (issue 11) and the plugin's new keys --
    diagnostics: tuple[SpecWarning, ...] = ()  # the warnings, structured (same order)
    files: tuple[Path, ...] = ()  # every file read: the -f files in order, extends, include
    exports: Mapping[str, str] = field(default_factory=lambda: EMPTY)  # NAME -> TEMPLATE
    parity: ParitySpec | None = None

    @property
    def root(self) -> Path:
        return self.path.parent


@dataclass(frozen=True, slots=True)
class ParityAccept:
    """An accepted difference against production: ``field`` of ``service``, and why."""

    service: str
    field: str
    why: str


@dataclass(frozen=True, slots=True)
class ParitySpec:
    """``parity:`` (DESIGN §10): production descriptions to compare against
    (absolute paths; files or folders), accepted differences, and the names
    production gives the spec's services (``map``: spec name -> production name)."""

    against: tuple[Path, ...] = ()
    accept: tuple[ParityAccept, ...] = ()
    map: Mapping[str, str] = field(default_factory=lambda: EMPTY)
