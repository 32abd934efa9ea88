"""Kubernetes, on paper (DESIGN.md section 8): an environment written as the
manifests it would be on a cluster, validated offline against the Kubernetes
schemas. No control plane runs here, so this is not a backend yet; the design
of the backend is in ``docs/reference/kubernetes.md``.

``kubernetes-validate`` (the ``kubernetes`` extra) is imported only to validate.
"""

from __future__ import annotations

from ._errors import InvalidManifestError, RenderError
from ._names import namespace_name
from ._render import LabelKeys, Rendering, render
from ._validate import validate_manifests

__all__ = [
    "InvalidManifestError",
    "LabelKeys",
    "RenderError",
    "Rendering",
    "namespace_name",
    "render",
    "validate_manifests",
]
