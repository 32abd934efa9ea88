"""What a seeded service is (PostgreSQL, Redis, something else) and how to
talk to it: user, database, password, port, from the spec alone."""

from __future__ import annotations

import shlex
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from ..errors import DataError, EphemeralError

if TYPE_CHECKING:
    from ..runtime.environment import Service

__all__ = [
    "Kind",
    "PgSettings",
    "RedisSettings",
    "host_port",
    "pg_settings",
    "redis_settings",
    "require_kind",
    "service_kind",
]

Kind = Literal["postgres", "redis", "other"]

#: Repository names (the last path part, without the tag) known to be one or the other.
_PG_IMAGES: Final = frozenset(
    {"postgres", "postgresql", "postgis", "timescaledb", "timescaledb-ha", "pgvector"}
)
_REDIS_IMAGES: Final = frozenset({"redis", "redis-stack", "redis-stack-server", "valkey", "keydb"})

_kinds: dict[str, Kind] = {}  # container id -> kind; tiny, never stale (ids are unique)
_kinds_lock = threading.Lock()


def _image_kind(image: str | None) -> Kind | None:
    if not image:
        return None
    repo = image.rsplit("@", 1)[0].lower().rsplit("/", 1)[-1].split(":", 1)[0]
    if repo in _PG_IMAGES:
        return "postgres"
    if repo in _REDIS_IMAGES:
        return "redis"
    return None


def service_kind(service: Service) -> Kind:
    """``postgres`` or ``redis`` from the image name (``postgres:16``,
    ``postgis/postgis``, ``redis:7``, ``valkey/valkey``...); for other or built
    images, from the tools the container carries (``psql`` / ``redis-cli``).
    The probe costs one exec and is remembered per container."""
    kind = _image_kind(service.spec.image)
    if kind is not None:
        return kind
    with _kinds_lock:
        known = _kinds.get(service.container_id)
    if known is not None:
        return known
    probe = (
        "command -v psql >/dev/null 2>&1 && echo postgres; "
        "command -v redis-cli >/dev/null 2>&1 && echo redis; true"
    )
    try:
        code, output = service.exec(["/bin/sh", "-c", probe])
    except EphemeralError:
        code, output = 1, ""
    words = output.split() if code == 0 else []
    found: Kind = "postgres" if "postgres" in words else "redis" if "redis" in words else "other"
    with _kinds_lock:
        _kinds[service.container_id] = found
    return found


def host_port(service: Service, container_port: int) -> int | None:
    """The published host port of ``container_port``, or None."""
    try:
        return service.port(container_port)
    except EphemeralError:
        return None


def _option(argv: tuple[str, ...], *names: str) -> str | None:
    """The value of ``--name value`` / ``--name=value`` / ``-c name=value`` in ``argv``."""
    for i, word in enumerate(argv):
        for name in names:
            if word == name and i + 1 < len(argv):
                return argv[i + 1]
            if word.startswith(name + "="):
                return word[len(name) + 1 :]
    return None


def _command(service: Service) -> tuple[str, ...]:
    cmd = service.spec.command or ()
    if len(cmd) == 1 and " " in cmd[0]:  # a shell-form command string
        try:
            return tuple(shlex.split(cmd[0]))
        except ValueError:
            return cmd
    return cmd


@dataclass(frozen=True, slots=True)
class PgSettings:
    """How to reach a PostgreSQL service, as the official image's variables say."""

    user: str
    password: str | None
    database: str  # POSTGRES_DB, default: the user
    port: int  # inside the container

    def database_for(self, step_database: str | None) -> str:
        return step_database or self.database


def pg_settings(service: Service) -> PgSettings:
    env = service.spec.environment
    user = env.get("POSTGRES_USER") or "postgres"
    port = 5432
    cmd = _command(service)
    value = _option(cmd, "-p", "--port")
    if value is None:
        for i, word in enumerate(cmd):
            if word == "-c" and i + 1 < len(cmd) and cmd[i + 1].startswith("port="):
                value = cmd[i + 1][5:]
    if value is not None and value.isdigit():
        port = int(value)
    return PgSettings(
        user=user,
        password=env.get("POSTGRES_PASSWORD") or None,
        database=env.get("POSTGRES_DB") or user,
        port=port,
    )


@dataclass(frozen=True, slots=True)
class RedisSettings:
    port: int  # inside the container
    password: str | None


def redis_settings(service: Service) -> RedisSettings:
    cmd = _command(service)
    port = _option(cmd, "--port")
    password = _option(cmd, "--requirepass")
    return RedisSettings(
        port=int(port) if port and port.isdigit() else 6379,
        password=password or None,
    )


def require_kind(service: Service, wanted: Kind, what: str) -> None:
    """A :class:`DataError` unless ``service`` is of kind ``wanted``."""
    kind = service_kind(service)
    if kind == wanted:
        return
    image = service.spec.image or "a built image"
    tool = "psql" if wanted == "postgres" else "redis-cli"
    label = "PostgreSQL" if wanted == "postgres" else "Redis"
    raise DataError(
        f"{what} steps need a {label} service, but service {service.name!r} "
        f"({image}) is not one (no {label} image name, no {tool} in the container); "
        f"move the step to the {label} service's seed: list"
    )
