"""What tests get: a running :class:`Environment` of :class:`Service` objects."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import EphemeralError
from ..spec.model import ServiceSpec, Spec
from .backend import Backend, ExecResult, PortKey, Resource

__all__ = ["Connection", "Environment", "Service", "ServiceTimes"]


@dataclass(slots=True)
class ServiceTimes:
    """Seconds since the environment started being created."""

    image: float | None = None
    created: float | None = None
    started: float | None = None
    ready: float | None = None
    seeded: float | None = None


@dataclass(frozen=True, slots=True)
class Connection:
    """How a client reaches a service of a known kind (set by the data layer's
    kind registry): ``url`` with the password in it, and its parts."""

    url: str
    user: str | None = None
    password: str | None = None
    database: str | None = None
    redacted_url: str = ""
    # an external Redis with ``isolate: prefix``: the key prefix of the environment's part
    prefix: str | None = None


class Service:
    """One running service: its addresses, and a way to look inside."""

    __slots__ = (
        "_backend",
        "_ports",
        "connection",
        "container",
        "container_id",
        "host",
        "name",
        "spec",
    )

    def __init__(
        self,
        name: str,
        spec: ServiceSpec,
        backend: Backend,
        container_id: str,
        host: str,
        ports: Mapping[PortKey, int],
    ) -> None:
        self.name = name
        self.spec = spec
        self.container_id = container_id
        self.host = host
        self._backend = backend
        self._ports = dict(ports)
        #: set by the data layer for kinds it knows (PostgreSQL, Redis, HTTP)
        self.connection: Connection | None = None
        #: the started module object, for a service from a testcontainers module
        self.container: object | None = None

    def __repr__(self) -> str:
        return f"<Service {self.name} {self.container_id[:12]} ports={self.ports}>"

    @property
    def ports(self) -> dict[str, int]:
        """Published ports: ``{"5432/tcp": 49153}``."""
        return {f"{number}/{protocol}": hp for (number, protocol), hp in self._ports.items()}

    @property
    def url(self) -> str | None:
        """A connection URL for kinds the plugin knows (``postgresql://...``,
        ``redis://...``, ``http://...``), with the real password; None otherwise."""
        return self.connection.url if self.connection is not None else None

    def port(self, container_port: int, protocol: str = "tcp") -> int:
        """The host port on which ``container_port`` is published."""
        try:
            return self._ports[(int(container_port), protocol)]
        except KeyError:
            known = ", ".join(sorted(self.ports)) or "none"
            raise EphemeralError(
                f"service {self.name!r} does not publish port {container_port}/{protocol} "
                f"(published: {known}); add it to services.{self.name}.ports in the spec"
            ) from None

    def address(self, container_port: int, protocol: str = "tcp") -> str:
        """``"127.0.0.1:49153"`` for ``container_port``."""
        return f"{self.host}:{self.port(container_port, protocol)}"

    def exec(self, cmd: str | Sequence[str], *, user: str | None = None) -> ExecResult:
        """Run ``cmd`` in the container; returns ``(exit_code, output)``.

        A string is run by ``/bin/sh -c``; a list as it is."""
        argv = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        return self._backend.exec(self.container_id, argv, user=user)

    def logs(self, *, since: float | None = None, tail: int | None = None) -> str:
        """The container's output (stdout and stderr), optionally since a UNIX time."""
        return self._backend.logs(self.container_id, since=since, tail=tail)


@dataclass
class Environment:
    """A running topology. ``env["db"]`` is a :class:`Service`."""

    id: str
    spec: Spec
    backend: Backend
    labels: Mapping[str, str]
    services: dict[str, Service] = field(default_factory=dict)
    # the labels that find this environment's resources on the engine
    selector: Mapping[str, str] = field(default_factory=dict)
    timeline: dict[str, ServiceTimes] = field(default_factory=dict)
    resources: list[Resource] = field(default_factory=list)
    started_at: float = 0.0
    ready_after: float | None = None
    kept: bool = False
    reused: bool = False
    shared: bool = False
    attached: bool = False  # attached to an environment another process created
    closed: bool = False
    # per service: the state a reset returns to (set by the data layer)
    snapshots: dict[str, object] = field(default_factory=dict, repr=False)
    # settings of the spec the backend could not honour, one line per key
    # (the front doors show them: pytest's warnings summary, eph's stderr)
    notes: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    def __getitem__(self, name: str) -> Service:
        try:
            return self.services[name]
        except KeyError:
            known = ", ".join(self.services) or "none"
            raise KeyError(
                f"environment {self.id} has no service {name!r} (services: {known})"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self.services

    def __iter__(self) -> Iterator[str]:
        return iter(self.services)

    def __len__(self) -> int:
        return len(self.services)

    def __repr__(self) -> str:
        return f"<Environment {self.id} services={list(self.services)}>"

    def record(self, resource: Resource) -> None:
        with self._lock:
            self.resources.append(resource)

    def _in_spec_order(self) -> list[tuple[str, Service]]:
        return [(n, self.services[n]) for n in self.spec.services if n in self.services]

    def summary(self) -> dict[str, Any]:
        """A JSON-able description: id, services with addresses, timeline."""
        return {
            "id": self.id,
            "name": self.name,
            "spec": str(self.spec.path),
            "kept": self.kept,
            "reused": self.reused,
            "shared": self.shared,
            "attached": self.attached,
            "ready_after": self.ready_after,
            "services": {
                name: {
                    "container_id": svc.container_id,
                    "host": svc.host,
                    "ports": svc.ports,
                    "image": svc.spec.image or "(built)",
                    "url": svc.connection.redacted_url if svc.connection else None,
                }
                for name, svc in self._in_spec_order()
            },
            "timeline": {
                name: {
                    "image": t.image,
                    "created": t.created,
                    "started": t.started,
                    "ready": t.ready,
                    "seeded": t.seeded,
                }
                for name, t in self.timeline.items()
            },
        }
