"""HTTP services (a service with an ``http:`` wait): their base URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..runtime.environment import Connection, Service

__all__ = ["connection"]


def connection(service: Service) -> Connection | None:
    from ..runtime.environment import Connection

    for wait in service.spec.waits:
        if wait.kind == "http" and wait.port is not None:
            try:
                address = service.address(wait.port)
            except Exception:  # not published: no URL from this machine
                continue
            url = f"http://{address}/"
            return Connection(url=url, redacted_url=url)
    return None
