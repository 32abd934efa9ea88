"""One module per container engine, each translating the engine-neutral
requests of :mod:`pytest_ephemeral.runtime.backend` into its own wire format.

:func:`make_backend` is the built-in factory; the pytest plugin asks the
``pytest_eph_make_backend`` hook first (:mod:`pytest_ephemeral.hooks`), so a
third party can add a backend of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import EphemeralError

if TYPE_CHECKING:
    from ..runtime.backend import Backend

__all__ = ["BUILTIN_BACKENDS", "UnknownBackendError", "make_backend"]

BUILTIN_BACKENDS = ("docker", "swarm")


class UnknownBackendError(EphemeralError):
    """No backend of that name."""


def make_backend(name: str = "docker", address: str | None = None) -> Backend:
    """The built-in backend ``name`` for the engine at ``address`` (None: found
    the way the docker CLI finds it)."""
    if name == "docker":
        from .docker import DockerBackend

        return DockerBackend(address)
    if name == "swarm":
        from .swarm import SwarmBackend

        return SwarmBackend(address)
    raise UnknownBackendError(
        f"unknown backend {name!r} (built in: {', '.join(BUILTIN_BACKENDS)}; "
        "a plugin may add others through the pytest_eph_make_backend hook)"
    )
