"""What the engine hands a backend for Compose keys, over the in-memory
backend: post_start hooks with their settings, a healthcheck that keeps the
image's test, tmpfs options, notes about settings a backend cannot honour."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from pytest_ephemeral import Environment
from pytest_ephemeral.runtime.backend import ContainerRequest
from pytest_ephemeral.runtime.engine import EngineOptions, start_environment
from pytest_ephemeral.spec import load_spec

from ..fakes import FakeBackend, FakeExec


class ImageWithHealthcheck(FakeBackend):
    """Every image carries a healthcheck of its own (as postgres images may)."""

    def image_healthcheck(self, image: str) -> tuple[str, ...] | None:
        return ("CMD-SHELL", "probe-from-the-image")


def _start(path: Path, backend: FakeBackend) -> Environment:
    env_id = f"t-{uuid.uuid4().hex[:8]}"
    env = Environment(env_id, load_spec(path), backend, {"env": env_id}, selector={"env": env_id})
    start_environment(env, EngineOptions(default_timeout=5))
    return env


def test_post_start_hooks_run_with_their_settings(write_spec: Callable[..., Path]) -> None:
    path = write_spec(
        """
        services:
          app:
            image: img
            post_start:
              - command: ["sh", "-c", "touch ready"]
                user: "1000"
                working_dir: /srv
                environment: {MODE: hook}
                privileged: true
              - command: ["true"]
        """
    )
    backend = FakeBackend()
    _start(path, backend)
    assert backend.execs[:2] == [
        FakeExec(["sh", "-c", "touch ready"], "1000", "/srv", {"MODE": "hook"}, True),
        FakeExec(["true"], None, None, {}, False),
    ]


def test_a_healthcheck_without_a_test_keeps_the_images_test(
    write_spec: Callable[..., Path],
) -> None:
    # Compose: settings only (interval...) keep the image's own test
    path = write_spec("services:\n  db:\n    image: img\n    healthcheck: {interval: 1s}\n")
    backend = ImageWithHealthcheck()
    env = _start(path, backend)
    assert env["db"].spec.healthcheck is not None and env["db"].spec.healthcheck.test == ()
    # readiness ran the image's test by hand (the fake's containers never report health)
    assert ["/bin/sh", "-c", "probe-from-the-image"] in [e.cmd for e in backend.execs]


def test_tmpfs_options_are_split_from_the_path(write_spec: Callable[..., Path]) -> None:
    path = write_spec(
        "services:\n  db:\n    image: img\n    tmpfs: [/run, '/tmp:size=64m,mode=1777']\n"
    )
    backend = FakeBackend()
    _start(path, backend)
    (container,) = backend.containers.values()
    assert dict(container.request.tmpfs) == {"/run": "", "/tmp": "size=64m,mode=1777"}


class NotingBackend(FakeBackend):
    """Says, for every container, that it cannot honour a stop grace period."""

    def create_container(self, request: ContainerRequest) -> str:
        if request.note is not None and request.options.stop_grace_period is not None:
            request.note("stop_grace_period", "stop_grace_period is not used")
        return super().create_container(request)


def test_notes_of_the_backend_are_collected_once_per_key(
    write_spec: Callable[..., Path],
) -> None:
    path = write_spec(
        """
        services:
          a: {image: img, stop_grace_period: 30s, deploy: {replicas: 2}}
          b: {image: img, stop_grace_period: 1m}
          c: {image: img}
        """
    )
    env = _start(path, NotingBackend())
    # one line for the key, naming every service it concerns (a's two replicas once)
    assert len(env.notes) == 1
    services, _, text = env.notes[0].partition(": ")
    assert sorted(services.split(", ")) == ["services.a", "services.b"]
    assert text == "stop_grace_period is not used"
    assert _start(write_spec("services:\n  c: {image: img}\n"), NotingBackend()).notes == []
