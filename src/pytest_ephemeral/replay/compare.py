"""Diffy-style comparison of the target's answers with the baseline's.

Each answer is flattened into fields: ``status``, ``header.<name>`` and, for
a JSON body, one field per JSON path (``body.items[0].price``; a text body
is the one field ``body``). Fields are reported with array indices folded
(``body.items[*].price``), per endpoint.

Noise: the same request is also answered twice by the baseline (or once by
each of two baselines); a field that differs between those two answers
(a timestamp, a request id, a random order) is noise for its endpoint and
never reported, however often it differs from the target.

Headers that change with every answer for transport reasons (``date``,
``connection``, ``keep-alive``, ``transfer-encoding``, ``content-length``)
are not compared; the body they describe is.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

__all__ = [
    "Answer",
    "Comparator",
    "Difference",
    "flatten",
    "redact_target",
]

IGNORED_HEADERS: Final = frozenset(
    {"date", "connection", "keep-alive", "transfer-encoding", "content-length"}
)
ABSENT: Final = "<absent>"
MAX_EXAMPLES: Final = 3
_INDEX: Final = re.compile(r"\[\d+\]")
_SECRET_NAME: Final = re.compile(r"token|key|secret|pass|auth|session|sig|cookie", re.I)
_TEXT_LIMIT: Final = 4096


@dataclass(frozen=True, slots=True)
class Answer:
    """What one server answered: status, headers (names lower case), body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def content_type(self) -> str:
        for name, value in self.headers:
            if name == "content-type":
                return value.lower()
        return ""


def _scalar(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _walk(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        if not value:
            out[prefix] = "{}"
        for key, item in value.items():
            _walk(f"{prefix}.{key}", item, out)
    elif isinstance(value, list):
        if not value:
            out[prefix] = "[]"
        for i, item in enumerate(value):
            _walk(f"{prefix}[{i}]", item, out)
    else:
        out[prefix] = _scalar(value)


def flatten(answer: Answer) -> dict[str, str]:
    """The fields of an answer: ``{"status": "200", "header.x": "..", "body.a": "1"}``."""
    out: dict[str, str] = {"status": str(answer.status)}
    seen: dict[str, list[str]] = {}
    for name, value in answer.headers:
        if name not in IGNORED_HEADERS:
            seen.setdefault(name, []).append(value)
    for name, values in seen.items():
        out[f"header.{name}"] = ", ".join(values)
    body = answer.body
    if not body:
        return out
    if "json" in answer.content_type or body[:1] in (b"{", b"["):
        try:
            _walk("body", json.loads(body), out)
            return out
        except (ValueError, UnicodeDecodeError):
            pass
    if len(body) > _TEXT_LIMIT:
        out["body"] = f"<{len(body)} bytes, sha256 {hashlib.sha256(body).hexdigest()[:16]}>"
    else:
        out["body"] = body.decode("utf-8", "replace")
    return out


def differing(a: Mapping[str, str], b: Mapping[str, str]) -> set[str]:
    """Exact field paths whose values differ (a field on one side only differs)."""
    return {k for k in a.keys() | b.keys() if a.get(k, ABSENT) != b.get(k, ABSENT)}


def fold(path: str) -> str:
    return _INDEX.sub("[*]", path)


def redact_target(target: str) -> str:
    """A request's path and query for a report: values of secret-looking query
    parameters (token, key, password, session...) replaced by ``***``."""
    path, sep, query = target.partition("?")
    if not sep:
        return path
    pairs = [(k, "***" if _SECRET_NAME.search(k) else v) for k, v in parse_qsl(query, True)]
    return f"{path}?{urlencode(pairs)}"


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_SECRET_HEADERS: Final = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})


def example_value(path: str, value: str) -> str:
    """A field's value as an example in a report: the values of credentials
    (auth and cookie headers, fields named like token/key/secret/password/
    session) become a short hash, so a difference still shows but the secret
    does not."""
    if value == ABSENT:
        return value
    last = path.rsplit(".", 1)[-1]
    if (
        path.startswith("header.")
        and (path[7:] in _SECRET_HEADERS or _SECRET_NAME.search(path[7:]))
    ) or (path.startswith("body.") and _SECRET_NAME.search(last)):
        return f"<redacted, sha256 {hashlib.sha256(value.encode()).hexdigest()[:12]}>"
    return _short(value)


@dataclass(frozen=True, slots=True)
class Difference:
    """A field that differs between target and baseline, never between baseline answers."""

    endpoint: str
    field: str
    count: int
    examples: tuple[Mapping[str, str], ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "field": self.field,
            "count": self.count,
            "examples": [dict(e) for e in self.examples],
        }


@dataclass(slots=True)
class _EndpointState:
    compared: int = 0
    skipped: int = 0
    diffs: Counter[str] = field(default_factory=Counter)
    noise: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    # the set of folded fields that differed, per request: diff_rate at the end
    shapes: Counter[frozenset[str]] = field(default_factory=Counter)


class Comparator:
    """Accumulates comparisons, one request at a time, in memory that grows
    with the number of distinct differing fields, not with the requests."""

    def __init__(self) -> None:
        self._endpoints: dict[str, _EndpointState] = {}

    def _state(self, endpoint: str) -> _EndpointState:
        state = self._endpoints.get(endpoint)
        if state is None:
            state = self._endpoints[endpoint] = _EndpointState()
        return state

    def skip(self, endpoint: str) -> None:
        """A request whose answers could not all be had (an error on one side)."""
        self._state(endpoint).skipped += 1

    def add(
        self,
        endpoint: str,
        target: str,
        candidate: Answer,
        primary: Answer,
        secondary: Answer | None,
    ) -> None:
        """Compare ``candidate`` (the target's answer) with ``primary`` (the
        baseline's); ``secondary`` (the baseline's second answer) marks noise."""
        state = self._state(endpoint)
        state.compared += 1
        cand, prim = flatten(candidate), flatten(primary)
        if secondary is not None:
            for path in differing(prim, flatten(secondary)):
                state.noise[fold(path)] += 1
        exact = differing(cand, prim)
        folded = frozenset(fold(p) for p in exact)
        state.shapes[folded] += 1
        for path in sorted(exact):
            key = fold(path)
            state.diffs[key] += 1
            examples = state.examples.setdefault(key, [])
            if len(examples) < MAX_EXAMPLES:
                examples.append(
                    {
                        "request": redact_target(target),
                        "field": path,
                        "target": example_value(path, cand.get(path, ABSENT)),
                        "baseline": example_value(path, prim.get(path, ABSENT)),
                    }
                )

    def endpoints(self) -> Iterable[str]:
        return self._endpoints.keys()

    def compared(self, endpoint: str | None = None) -> int:
        if endpoint is not None:
            state = self._endpoints.get(endpoint)
            return state.compared if state is not None else 0
        return sum(s.compared for s in self._endpoints.values())

    def noise_fields(self, endpoint: str) -> set[str]:
        return set(self._endpoints[endpoint].noise)

    def differences(self) -> list[Difference]:
        """Unexplained differences: fields that differed from the baseline and
        never between the baseline's own answers, most frequent first."""
        out = []
        for endpoint, state in self._endpoints.items():
            for key, count in state.diffs.items():
                if key in state.noise:
                    continue
                out.append(Difference(endpoint, key, count, tuple(state.examples.get(key, []))))
        out.sort(key=lambda d: (-d.count, d.endpoint, d.field))
        return out

    def diff_rate(self, endpoint: str | None = None) -> float:
        """Share of compared requests with at least one unexplained difference."""
        names = [endpoint] if endpoint else list(self._endpoints)
        compared = hits = 0
        for name in names:
            state = self._endpoints.get(name)
            if state is None:
                continue
            compared += state.compared
            noise = set(state.noise)
            hits += sum(n for shape, n in state.shapes.items() if shape - noise)
        return hits / compared if compared else 0.0

    def noise_summary(self) -> dict[str, list[str]]:
        return {ep: sorted(s.noise) for ep, s in self._endpoints.items() if s.noise}
