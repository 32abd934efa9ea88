"""How to reach a PostgreSQL service, from the spec alone (the official
image's variables, a ``-p`` / ``-c port=`` in its command)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._args import command_argv, option

if TYPE_CHECKING:
    from ...runtime.environment import Service

__all__ = ["PgSettings", "pg_settings"]


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
    cmd = command_argv(service)
    value = option(cmd, "-p", "--port")
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
