"""Event and log streams that replace polling during a start: their contract
with fake streams, and the engine against the real one with and without them."""

from __future__ import annotations

import queue
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from pytest_ephemeral import Environment, ServiceStartError
from pytest_ephemeral.backends.docker import DockerBackend, _EventStream
from pytest_ephemeral.lifecycle import labels as L
from pytest_ephemeral.lifecycle.removal import teardown as teardown_environment
from pytest_ephemeral.runtime.engine import EngineOptions, start_environment
from pytest_ephemeral.runtime.streams import EventWatch, LogFollower
from pytest_ephemeral.spec import load_spec

PY = "python:3.12-slim"
END = object()


class FakeStream:
    """Items put in from the test; close() ends the iteration like the SDK's."""

    def __init__(self) -> None:
        self.items: queue.Queue[Any] = queue.Queue()
        self.closed = False

    def __iter__(self) -> Iterator[Any]:
        while True:
            item = self.items.get()
            if item is END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self.closed = True
        self.items.put(END)


def settle(predicate: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_event_watch_reports_each_change_once() -> None:
    stream = FakeStream()
    watch = EventWatch(_EventStream(stream))  # Docker's event JSON, translated
    cid = "a" * 64
    assert not watch.changed(cid)
    # an exec's events do not count: they change nothing an inspect would say
    stream.items.put({"Type": "container", "Action": "exec_start: sh", "id": cid})
    stream.items.put({"Type": "container", "Action": "health_status: healthy", "id": cid})
    assert settle(lambda: watch.changed(cid[:12]))  # a short id matches too
    assert not watch.changed(cid)  # once
    stream.items.put({"Type": "container", "Action": "die", "id": "b" * 64})
    assert settle(lambda: watch.changed("b" * 64))
    assert not watch.changed(cid)
    watch.close()
    assert stream.closed and not watch.broken


def test_event_watch_that_breaks_asks_for_polling() -> None:
    stream = FakeStream()
    watch = EventWatch(_EventStream(stream))  # Docker's event JSON, translated
    stream.items.put(ConnectionResetError("engine restarted"))
    assert settle(lambda: watch.broken)
    assert watch.changed("anything") and watch.changed("anything")  # every time


def test_log_follower_joins_chunks_split_inside_a_character() -> None:
    stream = FakeStream()
    follower = LogFollower(stream)
    data = "bereit: grün\n".encode()
    cut = data.index(b"\xbc")  # the middle of "ü"
    stream.items.put(data[:cut])
    stream.items.put(data[cut:])
    assert settle(lambda: follower.text() == "bereit: grün\n")
    stream.items.put(END)  # the container's output ended
    assert settle(lambda: follower.broken)
    assert follower.text() == "bereit: grün\n"


class PollingBackend(DockerBackend):
    """An engine that streams nothing: the engine must poll."""

    def watch_events(self, labels: Mapping[str, str]) -> EventWatch | None:
        return None

    def follow_logs(self, container_id: str) -> LogFollower | None:
        return None


@pytest.mark.docker
@pytest.mark.parametrize("backend_type", [DockerBackend, PollingBackend])
def test_waits_with_and_without_streams(
    docker_client: Any, write_spec: Callable[..., Path], backend_type: type[DockerBackend]
) -> None:
    path = write_spec(
        f"""
        services:
          logline:
            image: {PY}
            command: ["python3", "-u", "-c", "import time; print('warming'); time.sleep(0.5); print('ready now'); time.sleep(600)"]
            wait: {{log: "ready n[o]w"}}
          job:
            image: {PY}
            command: ["sh", "-c", "sleep 0.5; echo done"]
            wait: {{completed: true}}
          checked:
            image: {PY}
            command: ["sh", "-c", "sleep 0.5; touch /tmp/ok; sleep 600"]
            healthcheck:
              test: ["CMD", "test", "-f", "/tmp/ok"]
              interval: 1s
            wait: {{healthcheck: true}}
        """
    )
    env_id = f"t-{uuid.uuid4().hex[:8]}"
    env = Environment(
        env_id, load_spec(path), backend_type(), {L.ENV: env_id}, selector={L.ENV: env_id}
    )
    try:
        start_environment(env, EngineOptions(default_timeout=30))
        assert set(env.services) == {"logline", "job", "checked"}
        assert "ready now" in env["logline"].logs()
        assert env["job"].logs().strip() == "done"
    finally:
        teardown_environment(env)


@pytest.mark.docker
def test_a_crash_is_seen_through_the_event_stream(
    docker_client: Any, write_spec: Callable[..., Path]
) -> None:
    # never ready by its wait; its exit must end the start (not the 60 s timeout)
    path = write_spec(
        f"""
        services:
          crash:
            image: {PY}
            command: ["sh", "-c", "sleep 0.5; echo bye; exit 3"]
            wait: {{log: never-printed}}
        """
    )
    env_id = f"t-{uuid.uuid4().hex[:8]}"
    env = Environment(
        env_id, load_spec(path), DockerBackend(), {L.ENV: env_id}, selector={L.ENV: env_id}
    )
    try:
        with pytest.raises(ServiceStartError, match="exited with status 3"):
            start_environment(env, EngineOptions(default_timeout=60))
    finally:
        teardown_environment(env)
