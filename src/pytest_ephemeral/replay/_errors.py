"""The replay layer's errors: bad input (exit 2) and an unreachable target."""

from __future__ import annotations

from ..errors import EphemeralError

__all__ = ["CaptureError", "GoalError", "ReplayInputError", "TargetUnreachableError"]


class ReplayInputError(EphemeralError):
    """Input the replay cannot use (a capture, a goal, an option): exit status 2."""


class CaptureError(ReplayInputError):
    """A capture file that is not HAR or ``.gor``, is truncated or malformed,
    or has an entry without what a request needs. The message names the file
    and, where there is one, the entry number (1-based)."""


class GoalError(ReplayInputError):
    """A ``--goal`` expression that does not parse or cannot be evaluated."""


class TargetUnreachableError(ReplayInputError):
    """The target (or a baseline) does not accept connections before the replay starts."""
