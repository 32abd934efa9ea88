"""The narrow interface between the topology engine and a container engine.

The engine speaks only this interface; :mod:`.docker_backend` implements it on
the Docker SDK. Unit tests may implement it with fakes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol

__all__ = [
    "Backend",
    "ContainerRequest",
    "ContainerState",
    "ExecResult",
    "Resource",
    "ResourceKind",
]

ResourceKind = Literal["container", "network", "volume"]


class ExecResult(NamedTuple):
    """What ``Service.exec`` returns: unpack as ``code, output = svc.exec(...)``."""

    exit_code: int
    output: str


@dataclass(frozen=True, slots=True)
class ContainerRequest:
    """Everything needed to create one container."""

    name: str
    image: str
    labels: Mapping[str, str]
    network: str
    aliases: tuple[str, ...]
    extra_networks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    # container port spec ("5432/tcp") -> (host ip, host port or None for "Docker chooses")
    ports: Mapping[str, tuple[str, int | None]] = field(default_factory=dict)
    expose: tuple[str, ...] = ()
    # (source or None, target, read_only, type) type: "volume" | "bind"
    mounts: tuple[tuple[str | None, str, bool, str], ...] = ()
    tmpfs: Mapping[str, str] = field(default_factory=dict)
    healthcheck: Mapping[str, object] | None = None
    user: str | None = None
    working_dir: str | None = None
    nano_cpus: int | None = None
    mem_limit: int | None = None
    privileged: bool = False
    hostname: str | None = None


@dataclass(frozen=True, slots=True)
class ContainerState:
    status: str  # created | running | exited | dead | ...
    exit_code: int
    health: str | None  # None: no healthcheck; "starting" | "healthy" | "unhealthy"
    oom_killed: bool = False
    error: str = ""
    # "5432/tcp" -> host port
    ports: Mapping[str, int] = field(default_factory=dict)
    ip_address: str | None = None
    pid: int = 0  # the main process, in the engine's pid namespace (0: not running)
    container_id: str = ""

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def exited(self) -> bool:
        return self.status in ("exited", "dead")


@dataclass(frozen=True, slots=True)
class Resource:
    kind: ResourceKind
    id: str
    name: str
    labels: Mapping[str, str]
    status: str = ""


class Backend(Protocol):
    """What the engine needs from a container engine. Every method may raise
    :class:`~pytest_ephemeral.errors.EphemeralError` subclasses; ids are opaque."""

    @property
    def address(self) -> str: ...

    def version(self) -> str: ...

    def image_exists(self, image: str) -> bool: ...

    def image_healthcheck(self, image: str) -> tuple[str, ...] | None: ...

    def build_image(
        self,
        context: str,
        dockerfile: str,
        tag: str,
        args: Mapping[str, str],
        target: str | None,
        labels: Mapping[str, str],
        base_map: Mapping[str, str],
    ) -> None: ...

    def create_network(self, name: str, labels: Mapping[str, str]) -> str: ...

    def create_volume(self, name: str, labels: Mapping[str, str]) -> str: ...

    def create_container(self, request: ContainerRequest) -> str: ...

    def start_container(self, container_id: str) -> None: ...

    def state(self, container_id: str) -> ContainerState: ...

    def logs(
        self, container_id: str, *, since: float | None = None, tail: int | None = None
    ) -> str: ...

    def exec(
        self, container_id: str, cmd: Sequence[str], *, user: str | None = None
    ) -> ExecResult: ...

    def copy_to(self, container_id: str, dest_dir: str, files: Mapping[str, str]) -> None:
        """Copy host files into ``dest_dir`` of the container: ``{name in
        container: host path}``. Streams; memory does not grow with file size."""
        ...

    def list_resources(self, labels: Mapping[str, str | None]) -> list[Resource]: ...

    def remove(self, resources: Sequence[Resource]) -> list[str]: ...

    def close(self) -> None: ...
