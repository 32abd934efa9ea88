"""Production traffic against an ephemeral environment: record, replay,
compare, decide (DESIGN §9).

- :func:`iter_capture` reads HAR 1.2 (``.har``, ``.har.gz``) and GoReplay
  (``.gor``) captures as a stream;
- :func:`replay` sends them open-loop to a target (and baselines) and
  returns a :class:`ReplayResult`: latencies per endpoint, errors,
  differences without noise, goals decided;
- ``eph record`` / ``eph replay`` and the ``eph_replay`` fixture are built
  on these.

Needs the ``replay`` extra (aiohttp, ijson, hdrhistogram).
"""

from __future__ import annotations

from ._errors import CaptureError, GoalError, ReplayInputError, TargetUnreachableError
from .capture import CapturedRequest, RecordedResponse, iter_capture
from .compare import Difference
from .endpoints import endpoint_of, template_path
from .engine import EndpointStats, ReplayOptions, ReplayResult, replay
from .goals import Goal, GoalResult, parse_goal

__all__ = [
    "CaptureError",
    "CapturedRequest",
    "Difference",
    "EndpointStats",
    "Goal",
    "GoalError",
    "GoalResult",
    "RecordedResponse",
    "ReplayInputError",
    "ReplayOptions",
    "ReplayResult",
    "TargetUnreachableError",
    "endpoint_of",
    "iter_capture",
    "parse_goal",
    "replay",
    "template_path",
]
