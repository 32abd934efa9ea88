"""The spec: a Compose-shaped YAML file describing an environment's services.

:func:`discover_spec` finds it, :func:`load_spec` reads, checks and resolves
it into the immutable :class:`Spec`, :func:`render_topology` shows it to a
person. Every problem is a :class:`~pytest_ephemeral.errors.SpecError` whose
one-line message names the file, line and key, and says what to do.
"""

from __future__ import annotations

from ._discover import DEFAULT_NAMES, discover_spec
from ._graph import start_levels
from ._loader import load_spec, normalize_name
from ._render import REDACTED, is_secret_name, redact, render_topology
from .model import (
    BuildSpec,
    DependsOn,
    HealthcheckSpec,
    Location,
    PortSpec,
    SeedStep,
    ServiceSpec,
    Spec,
    VolumeMount,
    WaitSpec,
)

__all__ = [
    "DEFAULT_NAMES",
    "REDACTED",
    "BuildSpec",
    "DependsOn",
    "HealthcheckSpec",
    "Location",
    "PortSpec",
    "SeedStep",
    "ServiceSpec",
    "Spec",
    "VolumeMount",
    "WaitSpec",
    "discover_spec",
    "is_secret_name",
    "load_spec",
    "normalize_name",
    "redact",
    "render_topology",
    "start_order",
]


def start_order(spec: Spec) -> list[list[str]]:
    """The services of ``spec`` in start levels: every service of a level depends only
    on services of earlier levels; file order within a level."""
    return start_levels(spec.services)
