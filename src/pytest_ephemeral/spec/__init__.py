"""The spec: a Compose-shaped YAML file describing an environment's services.

:func:`discover_spec` finds it, :func:`load_spec` reads, checks and resolves
it into the immutable :class:`Spec`, :func:`render_topology` shows it to a
person. Every problem is a :class:`~pytest_ephemeral.errors.SpecError` whose
one-line message names the file, line and key, and says what to do.

Only the model is imported eagerly: the loader (and PyYAML) load on first use
of a function, so importing the model (as the runtime does) costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .model import (
    BuildSpec,
    DependsOn,
    EngineOptions,
    ExternalService,
    HealthcheckSpec,
    Hook,
    Location,
    ParityAccept,
    ParitySpec,
    PortSpec,
    ResourceSpec,
    SecretMount,
    SeedStep,
    ServiceSpec,
    Spec,
    SpecWarning,
    TestcontainersSpec,
    VolumeMount,
    WaitSpec,
)

if TYPE_CHECKING:
    from ._discover import DEFAULT_NAMES, discover_spec, discover_specs, resolve_spec_path
    from ._graph import start_order
    from ._loader import load_spec, normalize_name
    from ._render import REDACTED, is_secret_name, redact, render_topology

__all__ = [
    "DEFAULT_NAMES",
    "REDACTED",
    "BuildSpec",
    "DependsOn",
    "EngineOptions",
    "ExternalService",
    "HealthcheckSpec",
    "Hook",
    "Location",
    "ParityAccept",
    "ParitySpec",
    "PortSpec",
    "ResourceSpec",
    "SecretMount",
    "SeedStep",
    "ServiceSpec",
    "Spec",
    "SpecWarning",
    "TestcontainersSpec",
    "VolumeMount",
    "WaitSpec",
    "discover_spec",
    "discover_specs",
    "is_secret_name",
    "load_spec",
    "normalize_name",
    "redact",
    "render_topology",
    "resolve_spec_path",
    "start_order",
]

_LAZY = {
    "DEFAULT_NAMES": "._discover",
    "discover_spec": "._discover",
    "discover_specs": "._discover",
    "resolve_spec_path": "._discover",
    "start_order": "._graph",
    "load_spec": "._loader",
    "normalize_name": "._loader",
    "REDACTED": "._render",
    "is_secret_name": "._render",
    "redact": "._render",
    "render_topology": "._render",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
