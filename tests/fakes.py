"""An in-memory :class:`~pytest_ephemeral.runtime.backend.Backend` for fast
engine and lifecycle tests: containers "run" at once, publish ports, and can
be told to exit, turn unhealthy or print log lines."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from pytest_ephemeral.errors import EngineUnavailableError, EphemeralError, ImageNotFoundError
from pytest_ephemeral.runtime.backend import (
    ContainerRequest,
    ContainerState,
    EngineCapacity,
    ExecResult,
    ModuleHandle,
    ModuleRequest,
    PortKey,
    Resource,
)
from pytest_ephemeral.runtime.streams import EventWatch, LogFollower


@dataclass
class FakeContainer:
    request: ContainerRequest
    status: str = "created"
    exit_code: int = 0
    ports: dict[PortKey, int] = field(default_factory=dict)
    logs: str = ""


@dataclass
class FakeExec:
    """One exec as the engine asked for it."""

    cmd: list[str]
    user: str | None
    workdir: str | None
    environment: dict[str, str]
    privileged: bool


class FakeBackend:
    """Records every call in ``calls``; ``images`` is what is "on the engine",
    ``registry`` what a pull can fetch."""

    name = "fake"

    def __init__(
        self, images: Sequence[str] = ("img",), *, address: str = "fake://", cpus: int = 2
    ) -> None:
        self._address = address
        self.cpus = cpus
        self.images = set(images)
        self.created: dict[str, float] = {}  # image -> when it was made or pulled (epoch)
        self.registry: dict[str, str] = {}  # what pull_image can fetch: image -> digest
        self.containers: dict[str, FakeContainer] = {}
        self.others: dict[str, Resource] = {}
        self.calls: list[str] = []
        self.execs: list[FakeExec] = []  # every exec with its settings
        self.started: list[str] = []  # service names, in start order
        self.exits: dict[str, int] = {}  # service name -> exit code at start
        self.down = False
        self._ids = itertools.count(1)
        self._ports = itertools.count(40000)
        self._lock = threading.Lock()

    @property
    def address(self) -> str:
        return self._address

    @property
    def publish_host(self) -> str:
        return "127.0.0.1"

    def _check(self, what: str) -> None:
        with self._lock:
            self.calls.append(what)
        if self.down:
            raise EngineUnavailableError("cannot reach the fake engine")

    def version(self) -> str:
        return "0"

    def capacity(self) -> EngineCapacity:
        self._check("capacity")
        running = sum(1 for c in self.containers.values() if c.status == "running")
        return EngineCapacity(cpus=self.cpus, memory=1 << 30, running=running)

    def image_exists(self, image: str) -> bool:
        self._check(f"image_exists {image}")
        return image in self.images

    def image_healthcheck(self, image: str) -> tuple[str, ...] | None:
        return None

    def image_created(self, image: str) -> float | None:
        self._check(f"image_created {image}")
        return self.created.get(image, 0.0) if image in self.images else None

    def pull_image(self, image: str, progress: Callable[[str], None] | None = None) -> None:
        """ "Pulls" from ``registry``: images there (name -> digest) can be pulled."""
        self._check(f"pull {image}")
        if image not in self.registry and image.split("@")[-1] not in self.registry.values():
            raise ImageNotFoundError(f"image {image!r}: the fake registry has no such image")
        if progress is not None:
            progress(f"pulled {image}")
        self.images.add(image)
        self.created[image] = time.time()

    def registry_digest(self, image: str) -> str:
        self._check(f"registry_digest {image}")
        if image not in self.registry:
            raise ImageNotFoundError(f"image {image!r}: the fake registry has no such image")
        return self.registry[image]

    def build_image(
        self,
        context: str,
        dockerfile: str,
        tag: str,
        *args: object,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self._check(f"build {tag}")
        if progress is not None:
            progress("step 1/1: FROM fake")
        self.images.add(tag)

    def create_network(self, name: str, labels: Mapping[str, str]) -> str:
        return self._other("network", name, labels)

    def create_volume(self, name: str, labels: Mapping[str, str]) -> str:
        return self._other("volume", name, labels)

    def claim_volume(self, name: str, labels: Mapping[str, str]) -> Mapping[str, str]:
        with self._lock:
            for res in self.others.values():
                if res.kind == "volume" and res.name == name:
                    return dict(res.labels)
        self._other("volume", name, labels)
        return dict(labels)

    def _other(self, kind: str, name: str, labels: Mapping[str, str]) -> str:
        self._check(f"create {kind} {name}")
        rid = f"{kind}-{next(self._ids)}"
        with self._lock:
            self.others[rid] = Resource(kind, rid, name, dict(labels))  # type: ignore[arg-type]
        return rid

    def create_container(self, request: ContainerRequest) -> str:
        self._check(f"create container {request.name}")
        if request.image not in self.images:
            raise ImageNotFoundError(f"image {request.image!r} is not on the engine")
        cid = f"c{next(self._ids):063d}"
        with self._lock:
            self.containers[cid] = FakeContainer(request)
        return cid

    def start_container(self, container_id: str) -> None:
        self._check(f"start {container_id}")
        c = self.containers[container_id]
        service = c.request.aliases[0] if c.request.aliases else c.request.name
        with self._lock:
            self.started.append(service)
            c.ports = {(p.container_port, p.protocol): next(self._ports) for p in c.request.ports}
            if service in self.exits:
                c.status, c.exit_code = "exited", self.exits[service]
            else:
                c.status = "running"

    def state(self, container_id: str) -> ContainerState:
        self._check(f"state {container_id}")
        c = self.containers[container_id]
        return ContainerState(
            c.status, c.exit_code, None, ports=dict(c.ports), container_id=container_id
        )

    def logs(
        self, container_id: str, *, since: float | None = None, tail: int | None = None
    ) -> str:
        return self.containers[container_id].logs if container_id in self.containers else ""

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
        self._check(f"exec {list(cmd)}")
        with self._lock:
            self.execs.append(
                FakeExec(list(cmd), user, workdir, dict(environment or {}), privileged)
            )
        return ExecResult(0, "")

    def start_module(self, request: ModuleRequest, created: Callable[[str], None]) -> ModuleHandle:
        raise EphemeralError("the fake backend cannot run testcontainers modules")

    def copy_to(self, container_id: str, dest_dir: str, files: Mapping[str, str]) -> None:
        self._check(f"copy_to {dest_dir}")

    def watch_events(self, labels: Mapping[str, str]) -> EventWatch | None:
        return None

    def follow_logs(self, container_id: str) -> LogFollower | None:
        return None

    def list_resources(self, labels: Mapping[str, str | None]) -> list[Resource]:
        self._check("list")

        def match(have: Mapping[str, str]) -> bool:
            return all(k in have and (v is None or have[k] == v) for k, v in labels.items())

        with self._lock:
            out = [
                Resource("container", cid, c.request.name, dict(c.request.labels), c.status)
                for cid, c in self.containers.items()
                if match(c.request.labels)
            ]
            out += [r for r in self.others.values() if match(r.labels)]
        return out

    def remove(self, resources: Sequence[Resource]) -> list[str]:
        self._check(f"remove {len(resources)}")
        with self._lock:
            for r in resources:
                self.containers.pop(r.id, None)
                self.others.pop(r.id, None)
        return []

    def close(self) -> None:
        pass

    def resources(self) -> int:
        return len(self.containers) + len(self.others)
