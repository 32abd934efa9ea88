from __future__ import annotations

from ...errors import EphemeralError

__all__ = ["InvalidManifestError", "RenderError"]


class RenderError(EphemeralError):
    """A spec cannot be written as Kubernetes manifests as it stands: one line
    naming the backend, the service and key, and the fix."""


class InvalidManifestError(RenderError):
    """A rendered manifest fails the Kubernetes schemas: a bug of the renderer."""
