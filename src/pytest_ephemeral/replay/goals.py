"""Goals: ``METRIC[@ENDPOINT] OP VALUE``, decided after a replay.

- METRIC: ``p50 p90 p95 p99 max`` (latency, from the scheduled send time),
  ``error_rate`` and ``diff_rate`` (shares of the requests), ``rps``
  (answers per second).
- ENDPOINT: as the report names it, ``GET /items/{id}``; without it, the
  whole replay.
- OP: ``<  <=  >  >=``.
- VALUE: absolute (``250ms``, ``1.5s``, ``800us``; ``1%`` or ``0.01`` for a
  rate; a number for ``rps``), or relative to the baseline: ``+20%`` (at
  most 20 % above the baseline's value) or ``-10%``.

Examples: ``p95 < 250ms``, ``p99@GET /items/{id} <= +20%``,
``error_rate < 1%``, ``diff_rate == 0`` is written ``diff_rate <= 0``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ._errors import GoalError

__all__ = ["LATENCY_METRICS", "METRICS", "Goal", "GoalResult", "parse_goal"]

LATENCY_METRICS: Final = ("p50", "p90", "p95", "p99", "max")
RATE_METRICS: Final = ("error_rate", "diff_rate")
METRICS: Final = (*LATENCY_METRICS, *RATE_METRICS, "rps")

_OPS: Final[dict[str, Callable[[float, float], bool]]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_GOAL: Final = re.compile(
    r"^\s*(?P<metric>[a-z_0-9]+)\s*(?:@\s*(?P<endpoint>.+?))?\s*(?P<op><=|>=|<|>)\s*"
    r"(?P<value>\S+)\s*$"
)
_NUMBER: Final = re.compile(r"^(?P<num>[0-9]*\.?[0-9]+)(?P<unit>[a-z%]*)$")
_UNITS_MS: Final = {"ms": 1.0, "s": 1000.0, "us": 0.001}
_HOW: Final = (
    "write METRIC[@ENDPOINT] OP VALUE, e.g. 'p95 < 250ms', 'p99@GET /items/{id} <= +20%', "
    "'error_rate < 1%' (metrics: " + " ".join(METRICS) + ")"
)

#: ``(metric, endpoint or None, side "target" | "baseline") -> value or None``
Metrics = Callable[[str, "str | None", str], "float | None"]


@dataclass(frozen=True, slots=True)
class Goal:
    """A parsed goal. ``relative`` goals hold a fraction (``+20%`` -> 0.2) in
    ``value``; absolute ones the value in the metric's unit (ms, share, 1/s)."""

    text: str
    metric: str
    endpoint: str | None
    op: str
    value: float
    relative: bool

    def evaluate(self, metrics: Metrics) -> GoalResult:
        measured = metrics(self.metric, self.endpoint, "target")
        threshold = self.value
        note = ""
        if self.relative:
            base = metrics(self.metric, self.endpoint, "baseline")
            if base is None:
                where = f" for {self.endpoint}" if self.endpoint else ""
                return GoalResult(self, measured, None, False, f"no baseline value{where}")
            threshold = base * (1.0 + self.value)
        if measured is None:
            return GoalResult(self, None, threshold, False, f"no requests to {self.endpoint}")
        return GoalResult(self, measured, threshold, _OPS[self.op](measured, threshold), note)


@dataclass(frozen=True, slots=True)
class GoalResult:
    goal: Goal
    value: float | None
    threshold: float | None
    ok: bool
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        unit = (
            "ms"
            if self.goal.metric in LATENCY_METRICS
            else ("1/s" if self.goal.metric == "rps" else "share")
        )
        out: dict[str, Any] = {
            "goal": self.goal.text,
            "value": None if self.value is None else round(self.value, 4),
            "threshold": None if self.threshold is None else round(self.threshold, 4),
            "unit": unit,
            "ok": self.ok,
        }
        if self.note:
            out["note"] = self.note
        return out

    def line(self) -> str:
        unit = self.as_dict()["unit"]
        value = "-" if self.value is None else f"{self.value:.4g}{'' if unit == 'share' else unit}"
        limit = "-" if self.threshold is None else f"{self.threshold:.4g}"
        mark = "ok" if self.ok else "FAILED"
        extra = f" ({self.note})" if self.note else ""
        return f"{mark:6} {self.goal.text}: {value} (limit {limit}){extra}"


def parse_goal(text: str, *, where: str = "--goal") -> Goal:
    """Parse one goal; a :class:`GoalError` names ``where`` and the fix."""
    m = _GOAL.match(text)
    if not m:
        raise GoalError(f"{where} {text!r}: not a goal; {_HOW}")
    metric = m["metric"]
    if metric not in METRICS:
        raise GoalError(
            f"{where} {text!r}: unknown metric {metric!r}; valid metrics: {' '.join(METRICS)}"
        )
    endpoint = m["endpoint"]
    if endpoint is not None:
        method, _, path = endpoint.strip().partition(" ")
        if not path.startswith("/") or not method.isalpha():
            raise GoalError(
                f"{where} {text!r}: endpoint {endpoint!r} must be 'METHOD /path' as the report "
                "names it, e.g. 'GET /items/{id}'"
            )
        endpoint = f"{method.upper()} {path.strip()}"
    raw = m["value"]
    relative = raw[:1] in "+-" and raw.endswith("%")
    if relative:
        try:
            value = float(raw[:-1]) / 100.0
        except ValueError:
            raise GoalError(f"{where} {text!r}: {raw!r} is not a percentage like +20%") from None
        if metric == "diff_rate":
            raise GoalError(
                f"{where} {text!r}: diff_rate has no baseline value to be relative to; "
                "give an absolute share such as 'diff_rate < 1%'"
            )
        return Goal(text.strip(), metric, endpoint, m["op"], value, True)
    num = _NUMBER.match(raw)
    if not num:
        raise GoalError(f"{where} {text!r}: {raw!r} is not a value; {_HOW}")
    number, unit = float(num["num"]), num["unit"]
    if metric in LATENCY_METRICS:
        if unit not in _UNITS_MS:
            raise GoalError(f"{where} {text!r}: a latency needs a unit (ms, s or us), e.g. 250ms")
        value = number * _UNITS_MS[unit]
    elif metric in RATE_METRICS:
        if unit == "%":
            value = number / 100.0
        elif unit == "" and number <= 1.0:
            value = number
        else:
            raise GoalError(
                f"{where} {text!r}: a rate is a percentage (1%) or a share from 0 to 1 (0.01)"
            )
    else:
        if unit not in ("", "rps", "/s"):
            raise GoalError(f"{where} {text!r}: rps is a plain number of answers per second")
        value = number
    return Goal(text.strip(), metric, endpoint, m["op"], value, False)
