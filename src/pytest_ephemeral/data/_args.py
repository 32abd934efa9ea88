"""What every kind reads from a service's spec: its command's options, its
published ports."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from ..errors import EphemeralError

if TYPE_CHECKING:
    from ..runtime.environment import Service

__all__ = ["command_argv", "host_port", "option"]


def host_port(service: Service, container_port: int) -> int | None:
    """The published host port of ``container_port``, or None."""
    try:
        return service.port(container_port)
    except EphemeralError:
        return None


def option(argv: tuple[str, ...], *names: str) -> str | None:
    """The value of ``--name value`` / ``--name=value`` / ``-c name=value`` in ``argv``."""
    for i, word in enumerate(argv):
        for name in names:
            if word == name and i + 1 < len(argv):
                return argv[i + 1]
            if word.startswith(name + "="):
                return word[len(name) + 1 :]
    return None


def command_argv(service: Service) -> tuple[str, ...]:
    cmd = service.spec.command or ()
    if len(cmd) == 1 and " " in cmd[0]:  # a shell-form command string
        try:
            return tuple(shlex.split(cmd[0]))
        except ValueError:
            return cmd
    return cmd
