"""The registry of service kinds the data layer knows: PostgreSQL, Redis, and
HTTP services. One place decides what a service is (from its image name, or
from the tools its container carries) and, per kind, how to connect to it,
which seed steps it runs and how it is snapshotted and reset:

============  ====================================  ==========================
kind          seed steps                            snapshot / reset
============  ====================================  ==========================
``postgres``  ``sql``, ``csv``, ``dump``            template databases
``redis``     ``redis``                             a RESP dump, else re-seed
``http``      (none)                                (none)
============  ====================================  ==========================

Each kind's code lives in its own sub-package (``data/postgres/``,
``data/redis/``), imported only when a service of that kind needs it.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from ..errors import DataError, EphemeralError

if TYPE_CHECKING:
    from ..runtime.environment import Connection, Environment, Service

__all__ = [
    "KINDS",
    "ServiceKind",
    "connect",
    "kind_named",
    "kind_of",
    "require_kind",
    "step_runner",
]

REDACTED = "***"


@dataclass(frozen=True, slots=True)
class ServiceKind:
    """One kind of service. Hooks are ``"module:function"`` names under this
    package, resolved on first use (so a kind costs nothing until needed)."""

    name: str
    label: str  # for messages: "PostgreSQL"
    images: frozenset[str] = frozenset()  # repository names (last path part, no tag)
    tool: str | None = None  # a command in the container that tells the kind
    connection: str | None = None  # (service) -> Connection | None
    steps: Mapping[str, str] = field(default_factory=dict)  # step kind -> runner
    snapshot: str | None = None  # (env, service, adopt) -> snapshot or None
    before_steps: str | None = None  # (service) -> None: wait until it takes data
    external: str | None = None  # the driver of an external: server (data/external.py)

    def hook(self, which: str | None) -> Callable[..., Any] | None:
        if which is None:
            return None
        module, _, function = which.partition(":")
        return getattr(importlib.import_module(module, __package__), function)  # type: ignore[no-any-return]


KINDS: Final[tuple[ServiceKind, ...]] = (
    ServiceKind(
        "postgres",
        "PostgreSQL",
        images=frozenset(
            {"postgres", "postgresql", "postgis", "timescaledb", "timescaledb-ha", "pgvector"}
        ),
        tool="psql",
        connection=".postgres:connection",
        steps={
            "sql": ".postgres.seed:run_sql",
            "csv": ".postgres.seed:run_csv",
            "dump": ".postgres.seed:run_dump",
        },
        snapshot=".postgres.snapshot:make_snapshot",
        before_steps=".postgres.seed:wait_for_postgres",
        external=".postgres.external:DRIVER",
    ),
    ServiceKind(
        "redis",
        "Redis",
        images=frozenset({"redis", "redis-stack", "redis-stack-server", "valkey", "keydb"}),
        tool="redis-cli",
        connection=".redis:connection",
        steps={"redis": ".redis.seed:run_redis"},
        snapshot=".redis.snapshot:make_snapshot",
        external=".redis.external:DRIVER",
    ),
    ServiceKind("http", "HTTP", connection=".http:connection"),
)

_by_name = {k.name: k for k in KINDS}
_probed: dict[str, str] = {}  # container id -> kind name ("" for none); ids are unique
_probed_lock = threading.Lock()


def kind_named(name: str) -> ServiceKind:
    return _by_name[name]


def image_kind(image: str | None) -> ServiceKind | None:
    """The kind an image's repository name says (``postgres:16``,
    ``postgis/postgis``, ``valkey/valkey``...), or None."""
    if not image:
        return None
    repo = image.rsplit("@", 1)[0].lower().rsplit("/", 1)[-1].split(":", 1)[0]
    for kind in KINDS:
        if repo in kind.images:
            return kind
    return None


def kind_of(service: Service, *, probe: bool = True) -> ServiceKind | None:
    """The service's kind from its image name; for other or built images, from
    the tools the container carries (one exec, remembered per container; only
    with ``probe``). HTTP services are those with an ``http`` wait. None: a
    kind the data layer does not know."""
    if service.spec.external is not None:  # the URL's scheme said
        return _by_name[service.spec.external.kind]
    kind = image_kind(service.spec.image)
    if kind is not None:
        return kind
    if probe and service.container_id:
        with _probed_lock:
            known = _probed.get(service.container_id)
        if known is None:
            known = _probe(service)
            with _probed_lock:
                _probed[service.container_id] = known
        if known:
            return _by_name[known]
    if any(w.kind == "http" for w in service.spec.waits):
        return _by_name["http"]
    return None


def _probe(service: Service) -> str:
    tools = [k for k in KINDS if k.tool]
    script = (
        "; ".join(f"command -v {k.tool} >/dev/null 2>&1 && echo {k.name}" for k in tools) + "; true"
    )
    try:
        code, output = service.exec(["/bin/sh", "-c", script])
    except EphemeralError:
        return ""
    words = output.split() if code == 0 else []
    return next((k.name for k in tools if k.name in words), "")


def connect(service: Service) -> Connection | None:
    """Set ``service.connection`` for a kind the registry knows (from the spec
    and the published ports; no request to the service). An external service's
    connection is its part's, set when the part is claimed."""
    if service.spec.external is not None:
        return service.connection
    kind = kind_of(service, probe=False)
    hook = kind.hook(kind.connection) if kind is not None else None
    if hook is None:
        return None
    connection: Connection | None = hook(service)
    service.connection = connection
    return connection


def require_kind(service: Service, wanted: str, what: str) -> ServiceKind:
    """The kind ``wanted``, or a :class:`DataError` when ``service`` is not of it."""
    kind = kind_of(service)
    if kind is not None and kind.name == wanted:
        return kind
    want = _by_name[wanted]
    image = service.spec.image or "a built image"
    raise DataError(
        f"{what} steps need a {want.label} service, but service {service.name!r} "
        f"({image}) is not one (no {want.label} image name, no {want.tool} in the container); "
        f"move the step to the {want.label} service's seed: list"
    )


def step_runner(step_kind: str) -> tuple[ServiceKind, Callable[..., None]] | None:
    """The kind that runs seed steps of ``step_kind``, and its runner."""
    for kind in KINDS:
        if step_kind in kind.steps:
            runner = kind.hook(kind.steps[step_kind])
            assert runner is not None
            return kind, runner
    return None


def make_snapshot(env: Environment, service: Service, *, adopt: bool) -> object | None:
    """The kind's snapshot of ``service`` (None: the kind has none; the caller
    falls back to seeding again). An external service has none here: its
    part is its snapshot (see :mod:`.snapshot`)."""
    if service.spec.external is not None:
        return None
    kind = kind_of(service)
    hook = kind.hook(kind.snapshot) if kind is not None else None
    return hook(env, service, adopt) if hook is not None else None
