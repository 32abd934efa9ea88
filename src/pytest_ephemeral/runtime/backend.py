"""The narrow interface between the topology engine and a container engine.

The engine speaks only this interface, in engine-neutral terms: ports are
``(number, protocol)`` pairs, durations are seconds, mounts are
:class:`Mount` values, events are :class:`ContainerEvent` values, failures are
:mod:`pytest_ephemeral.errors` classes. Each module of
:mod:`pytest_ephemeral.backends` translates them to and from one engine's wire
format (``backends/docker.py``: the Docker API, also Podman and remote hosts).
Unit tests implement it with an in-memory fake (``tests/fakes.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, NamedTuple, Protocol

from ..spec.model import EngineOptions, HealthcheckSpec, ResourceSpec
from .streams import ContainerEvent

if TYPE_CHECKING:
    from .streams import EventWatch, LogFollower

__all__ = [
    "Backend",
    "ContainerEvent",
    "ContainerRequest",
    "ContainerState",
    "EngineCapacity",
    "ExecResult",
    "FileEntry",
    "ModuleHandle",
    "ModuleRequest",
    "Mount",
    "PortBinding",
    "PortKey",
    "Resource",
    "ResourceKind",
    "port_key",
]

ResourceKind = Literal["container", "network", "volume"]

#: A container port as the engine-neutral key: ``(5432, "tcp")``.
PortKey = tuple[int, str]


def port_key(container_port: int, protocol: str = "tcp") -> PortKey:
    return (int(container_port), protocol)


@dataclass(frozen=True, slots=True)
class PortBinding:
    """Publish ``container_port`` on ``host_ip``; ``host_port`` None: the engine chooses."""

    container_port: int
    protocol: str = "tcp"
    host_ip: str = "127.0.0.1"
    host_port: int | None = None


@dataclass(frozen=True, slots=True)
class EngineCapacity:
    """How much room an engine has, for placing a new environment."""

    cpus: int
    memory: int  # bytes
    running: int  # containers running now


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A file the container gets before it starts (a Compose secret or
    config): the host file ``source`` copied to ``target`` with its owner and
    mode. Copied, not bound, so it works on a remote engine too."""

    target: str
    source: str
    mode: int = 0o444
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True, slots=True)
class Mount:
    """A named volume (``source`` is the engine's volume name), a bind mount
    (``source`` is a host path) or an anonymous volume (``source`` None)."""

    kind: Literal["volume", "bind"]
    target: str
    source: str | None = None
    read_only: bool = False
    subpath: str | None = None  # a named volume's folder to mount instead of its root


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
    ports: tuple[PortBinding, ...] = ()
    expose: tuple[PortKey, ...] = ()
    mounts: tuple[Mount, ...] = ()
    tmpfs: Mapping[str, str] = field(default_factory=dict)  # path -> mount options
    healthcheck: HealthcheckSpec | None = None
    user: str | None = None
    working_dir: str | None = None
    nano_cpus: int | None = None
    mem_limit: int | None = None
    privileged: bool = False
    hostname: str | None = None
    files: tuple[FileEntry, ...] = ()
    resources: ResourceSpec = field(default_factory=ResourceSpec)
    # Compose's engine options (runtime, ulimits, sysctls, cap_add, ...): the
    # backend passes each one it can, and says which it cannot
    options: EngineOptions = field(default_factory=EngineOptions)
    # the backend tells a setting it cannot honour: note(key, text), e.g.
    # ("stop_grace_period", "stop_grace_period is not used: ..."); the engine
    # collects them once per key and environment (Environment.notes)
    note: Callable[[str, str], None] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ModuleRequest:
    """A service a third-party module starts itself (a testcontainers-python
    class ``target``, ``"module:Class"``), with its own configuration and wait
    logic, joined to the environment as any service: on ``network`` under
    ``aliases``, carrying ``labels``, published on ``host_ip``."""

    target: str
    image: str | None
    args: Mapping[str, object]
    name: str
    network: str
    aliases: tuple[str, ...]
    labels: Mapping[str, str]
    environment: Mapping[str, str] = field(default_factory=dict)
    host_ip: str = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class ModuleHandle:
    container_id: str
    module: object  # the started module object (``env["svc"].container``)


@dataclass(frozen=True, slots=True)
class ContainerState:
    status: str  # created | running | exited | dead | ...
    exit_code: int
    health: str | None  # None: no healthcheck; "starting" | "healthy" | "unhealthy"
    oom_killed: bool = False
    error: str = ""
    ports: Mapping[PortKey, int] = field(default_factory=dict)  # published: -> host port
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
    """What the engine and the lifecycle need from a container engine. Every
    method may raise :class:`~pytest_ephemeral.errors.EphemeralError`
    subclasses (:class:`~pytest_ephemeral.errors.EngineUnavailableError` when
    the engine cannot be reached, :class:`~pytest_ephemeral.errors.PortTakenError`,
    :class:`~pytest_ephemeral.errors.ImageNotFoundError`); ids are opaque."""

    #: the backend's name (``docker``, ``swarm``...), for messages and the reaper
    name: str

    @property
    def address(self) -> str:
        """Where the engine was reached (a URL), for messages."""
        ...

    @property
    def publish_host(self) -> str:
        """The address published ports are reached on from this machine."""
        ...

    def version(self) -> str: ...

    def capacity(self) -> EngineCapacity:
        """CPUs, memory and running containers, for ``--eph-hosts`` placement."""
        ...

    def image_exists(self, image: str) -> bool: ...

    def image_healthcheck(self, image: str) -> tuple[str, ...] | None: ...

    def image_created(self, image: str) -> float | None:
        """When the engine's copy of ``image`` was made or last refreshed
        (epoch seconds), None when the engine lacks it: the age that the
        ``daily`` / ``weekly`` / ``every_`` pull policies compare."""
        ...

    def pull_image(self, image: str, progress: Callable[[str], None] | None = None) -> None:
        """Fetch ``image`` from its registry, with the credentials the engine's
        client configuration holds, once at a time per image across this
        machine's processes; progress lines through ``progress``. Raises
        :class:`~pytest_ephemeral.errors.ImageNotFoundError` (no such image or
        tag) or :class:`~pytest_ephemeral.errors.RegistryError` (unreachable,
        authentication refused), each one line naming the image, the
        registry, the cause and the fix."""
        ...

    def registry_digest(self, image: str) -> str:
        """The digest (``sha256:...``) the registry holds now for ``image``'s
        tag, without pulling it (``eph lock``)."""
        ...

    def build_image(
        self,
        context: str,
        dockerfile: str,
        tag: str,
        args: Mapping[str, str],
        target: str | None,
        labels: Mapping[str, str],
        base_map: Mapping[str, str],
        progress: Callable[[str], None] | None = None,
    ) -> None:
        """Build ``tag`` from the context (``.dockerignore`` applied as
        :func:`~pytest_ephemeral.runtime.images.context_files` does), ``FROM``
        images mapped through ``base_map``; each step as a progress line
        ("step 2/5: RUN ...")."""
        ...

    def create_network(self, name: str, labels: Mapping[str, str]) -> str: ...

    def create_volume(self, name: str, labels: Mapping[str, str]) -> str: ...

    def claim_volume(self, name: str, labels: Mapping[str, str]) -> Mapping[str, str]:
        """Create the volume ``name`` with ``labels``, or find the one that
        exists under that name: the labels of the volume that exists now. An
        atomic test-and-set on the engine: whoever's labels they are holds it."""
        ...

    def create_container(self, request: ContainerRequest) -> str: ...

    def start_container(self, container_id: str) -> None: ...

    def state(self, container_id: str) -> ContainerState: ...

    def logs(
        self, container_id: str, *, since: float | None = None, tail: int | None = None
    ) -> str: ...

    def exec(
        self,
        container_id: str,
        cmd: Sequence[str],
        *,
        user: str | None = None,
        workdir: str | None = None,
        environment: Mapping[str, str] | None = None,
        privileged: bool = False,
    ) -> ExecResult:
        """Run ``cmd`` in the running container (as ``user``, in ``workdir``,
        with ``environment`` added, with extended privileges when
        ``privileged``: a Compose ``post_start`` hook's settings); the exit
        status and the output (stdout and stderr)."""
        ...

    def start_module(self, request: ModuleRequest, created: Callable[[str], None]) -> ModuleHandle:
        """Start a module's service and wait as the module waits; ``created``
        is told the container id as soon as it exists (teardown finds it).
        A backend that cannot run such modules raises an EphemeralError
        naming itself."""
        ...

    def copy_to(self, container_id: str, dest_dir: str, files: Mapping[str, str]) -> None:
        """Copy host files into ``dest_dir`` of the container: ``{name in
        container: host path}``. Streams; memory does not grow with file size."""
        ...

    def watch_events(self, labels: Mapping[str, str]) -> EventWatch | None:
        """Container events of everything carrying ``labels``, as they happen
        (None when the engine cannot stream them: the engine polls instead)."""
        ...

    def follow_logs(self, container_id: str) -> LogFollower | None:
        """The container's output as it is written (None: poll :meth:`logs`)."""
        ...

    def list_resources(self, labels: Mapping[str, str | None]) -> list[Resource]:
        """Everything carrying ``labels`` (a None value: the key with any value)."""
        ...

    def remove(self, resources: Sequence[Resource]) -> list[str]:
        """Remove in parallel, containers first, without stop grace periods;
        returns the errors (already gone is not an error)."""
        ...

    def close(self) -> None: ...
