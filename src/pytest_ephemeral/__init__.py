"""pytest-ephemeral: production-like, throwaway container environments for
integration tests, from one spec.

Importing this package is cheap: the Docker SDK and YAML are imported only
when an environment is created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    DataError,
    EngineUnavailableError,
    EnvironmentNotFoundError,
    EphemeralError,
    ServiceStartError,
    SpecError,
)

if TYPE_CHECKING:
    from .runtime.backend import ExecResult
    from .runtime.environment import Environment, Service

__all__ = [
    "DataError",
    "EngineUnavailableError",
    "Environment",
    "EnvironmentNotFoundError",
    "EphemeralError",
    "ExecResult",
    "Service",
    "ServiceStartError",
    "SpecError",
    "__version__",
]


_LAZY = {
    "Environment": "runtime.environment",
    "Service": "runtime.environment",
    "ExecResult": "runtime.backend",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("pytest-ephemeral")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            return "0+unknown"
    raise AttributeError(name)
