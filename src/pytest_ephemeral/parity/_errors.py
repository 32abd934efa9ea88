from __future__ import annotations

from ..errors import EphemeralError

__all__ = ["ParityError"]


class ParityError(EphemeralError):
    """A manifest, a Compose file or the spec's ``parity:`` block cannot be used
    as written. The message is one line: the file (and document), what is wrong,
    and the fix."""
