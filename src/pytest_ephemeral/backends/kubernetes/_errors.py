from __future__ import annotations

from ...errors import EphemeralError

__all__ = ["RenderError"]


class RenderError(EphemeralError):
    """A spec cannot be written as Kubernetes manifests as it stands: one line
    naming the backend, the service and key, and the fix."""
