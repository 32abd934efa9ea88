"""PostgreSQL services: connection details, seed steps (``sql``, ``csv``,
``dump`` with sanitization and the leak check), template-database snapshots."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from .._args import host_port
from .settings import pg_settings

if TYPE_CHECKING:
    from ...runtime.environment import Connection, Service

__all__ = ["connection"]

# RFC 3986 userinfo: sub-delims stay as they are; a space, @, /, :, ?, # or % is encoded
_USERINFO_SAFE = "!$&'()*+,;="


def connection(service: Service) -> Connection | None:
    from ...runtime.environment import Connection

    port = host_port(service, 5432)
    if port is None:
        return None
    pg = pg_settings(service)
    # a password (or user) with a space, @ or / must be percent-encoded in a URL
    secret = f":{quote(pg.password, safe=_USERINFO_SAFE)}" if pg.password else ""
    shown = ":***" if pg.password else ""
    tail = f"@{service.host}:{port}/{pg.database}"
    return Connection(
        url=f"postgresql://{quote(pg.user, safe=_USERINFO_SAFE)}{secret}{tail}",
        user=pg.user,
        password=pg.password,
        database=pg.database,
        redacted_url=f"postgresql://{pg.user}{shown}{tail}",
    )
