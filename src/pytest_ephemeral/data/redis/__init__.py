"""Redis services: connection details, ``redis:`` seed files, RESP-dump
snapshots (or seeding again where no port is published)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from .._args import host_port
from .settings import redis_settings

if TYPE_CHECKING:
    from ...runtime.environment import Connection, Service

__all__ = ["connection"]

# RFC 3986 userinfo: sub-delims stay as they are; a space, @, /, :, ?, # or % is encoded
_USERINFO_SAFE = "!$&'()*+,;="


def connection(service: Service) -> Connection | None:
    from ...runtime.environment import Connection

    settings = redis_settings(service)
    port = host_port(service, settings.port)
    if port is None:
        return None
    secret = f":{quote(settings.password, safe=_USERINFO_SAFE)}@" if settings.password else ""
    shown = ":***@" if settings.password else ""
    return Connection(
        url=f"redis://{secret}{service.host}:{port}/0",
        password=settings.password,
        database="0",
        redacted_url=f"redis://{shown}{service.host}:{port}/0",
    )
