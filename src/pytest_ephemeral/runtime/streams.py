"""Streams from the engine that replace polling while an environment starts.

Polling ``inspect`` every 50 ms per service, and re-reading a service's whole
log for a ``log:`` wait, cost the Docker engine CPU that many environments
starting at once would rather spend on starting containers. Instead:

- :class:`EventWatch`: one ``/events`` stream per environment (filtered by
  its label) marks a container *changed* when it dies, turns (un)healthy or
  is killed; the engine inspects it again only then (and, as a safety net,
  every :data:`RECHECK` seconds).
- :class:`LogFollower`: one ``follow`` stream per ``log:`` wait gathers the
  output as it is written.

Both are best effort: when a stream cannot be opened or breaks, they say so
(``broken``), and the engine falls back to polling.
"""

from __future__ import annotations

import codecs
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

__all__ = ["RECHECK", "ContainerEvent", "EventWatch", "LogFollower", "Stream"]

# the longest the engine goes without inspecting a starting container
RECHECK = 1.0


@dataclass(frozen=True, slots=True)
class ContainerEvent:
    """Something happened to a container that may change its readiness."""

    container_id: str
    kind: Literal["died", "health", "stopped", "removed", "other"]


class Stream(Protocol):
    """A cancellable stream of items (a backend's events or log chunks)."""

    def __iter__(self) -> Iterator[Any]: ...

    def close(self) -> None: ...


class _Reader:
    """A daemon thread that feeds every item of ``stream`` to ``handle``."""

    def __init__(self, stream: Stream, name: str) -> None:
        self._stream = stream
        self.broken = False
        self.closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self._stream:
                self.handle(item)
        except Exception:  # any failure means: poll instead
            pass
        if not self.closed:
            self.broken = True  # it ended on its own: nothing more will come

    def handle(self, item: Any) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(Exception):
            self._stream.close()


class EventWatch(_Reader):
    """Which containers of one environment changed since last asked. The
    stream yields :class:`~.backend.ContainerEvent` values (each backend
    translates its engine's events into them)."""

    def __init__(self, stream: Stream, name: str = "eph-events") -> None:
        self._lock = threading.Lock()
        self._changed: set[str] = set()
        super().__init__(stream, name)

    def handle(self, item: Any) -> None:
        if isinstance(item, ContainerEvent) and item.kind != "other" and item.container_id:
            with self._lock:
                self._changed.add(item.container_id)

    def changed(self, container_id: str) -> bool:
        """True (once) when an event about ``container_id`` came since the last
        call; always True when the stream is broken (then every cycle polls)."""
        if self.broken:
            return True
        with self._lock:
            hits = {c for c in self._changed if c.startswith(container_id)}
            self._changed -= hits
        return bool(hits)


class LogFollower(_Reader):
    """A container's output as it is written (stdout and stderr)."""

    def __init__(self, stream: Stream, name: str = "eph-logs") -> None:
        self._lock = threading.Lock()
        self._parts: list[str] = []
        self._decode = codecs.getincrementaldecoder("utf-8")("replace").decode
        super().__init__(stream, name)

    def handle(self, item: Any) -> None:
        text = self._decode(item) if isinstance(item, bytes) else str(item)
        with self._lock:
            self._parts.append(text)

    def text(self) -> str:
        with self._lock:
            if len(self._parts) > 1:
                self._parts[:] = ["".join(self._parts)]
            return self._parts[0] if self._parts else ""
