"""How to reach a Redis service, from the spec alone (``--port`` and
``--requirepass`` in its command)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._args import command_argv, option

if TYPE_CHECKING:
    from ...runtime.environment import Service

__all__ = ["RedisSettings", "redis_settings"]


@dataclass(frozen=True, slots=True)
class RedisSettings:
    port: int  # inside the container
    password: str | None


def redis_settings(service: Service) -> RedisSettings:
    cmd = command_argv(service)
    port = option(cmd, "--port")
    password = option(cmd, "--requirepass")
    return RedisSettings(
        port=int(port) if port and port.isdigit() else 6379,
        password=password or None,
    )
