"""The engine and the lifecycle over the in-memory backend: ordering along
the dependency graph, failures, removal through the one removal path — fast,
no Docker."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_ephemeral import ServiceStartError
from pytest_ephemeral.config import Settings
from pytest_ephemeral.errors import EngineUnavailableError, EnvironmentNotFoundError
from pytest_ephemeral.lifecycle import control
from pytest_ephemeral.lifecycle import labels as L
from pytest_ephemeral.lifecycle.manager import Manager

from ..fakes import FakeBackend

# the fake's execs all succeed: command waits are ready at once
SPEC = """
services:
  db:
    image: img
    ports: [5432]
    wait: {command: ["true"]}
  cache:
    image: img
    ports: [6379]
    wait: {command: ["true"]}
  api:
    image: img
    depends_on:
      db: {condition: service_healthy}
      cache: {condition: service_started}
    ports: [8000]
    wait: {command: ["true"]}
"""


@pytest.fixture
def spec_dir(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str) -> Path:
        (tmp_path / "ephemeral.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
        return tmp_path

    return write


def _manager(root: Path, backend: FakeBackend, **settings: object) -> Manager:
    manager = Manager(
        Settings(rootdir=root, timeout=5, **settings),  # type: ignore[arg-type]
        backend_factory=lambda: backend,
    )
    manager._prepare_guards = lambda: None  # type: ignore[method-assign]  # no reaper, no sweep
    return manager


def test_services_start_after_their_dependencies(spec_dir: Callable[[str], Path]) -> None:
    backend = FakeBackend()
    manager = _manager(spec_dir(SPEC), backend)
    env = manager.environment()
    assert backend.started.index("api") > backend.started.index("db")
    assert backend.started.index("api") > backend.started.index("cache")
    assert env["api"].port(8000) >= 40000
    assert env["db"].ports == {"5432/tcp": env["db"].port(5432)}
    # every resource carries the environment's label: the one removal path finds them
    assert all(r.labels[L.ENV] == env.id for r in backend.list_resources({L.ENV: None}))
    manager.close(failed=False)
    assert backend.resources() == 0


def test_a_failed_service_removes_everything_already_made(
    spec_dir: Callable[[str], Path],
) -> None:
    backend = FakeBackend()
    backend.exits["db"] = 3
    manager = _manager(spec_dir(SPEC), backend)
    with pytest.raises(ServiceStartError, match=r"'db'.*exited with status 3"):
        manager.environment()
    assert backend.resources() == 0
    assert "api" not in backend.started  # never started: its dependency failed
    assert manager.environments == {}


def test_a_missing_image_is_named(spec_dir: Callable[[str], Path]) -> None:
    backend = FakeBackend(images=())
    manager = _manager(spec_dir("services:\n  web: {image: nothere:1}\n"), backend)
    with pytest.raises(ServiceStartError, match="nothere:1"):
        manager.environment()
    assert backend.resources() == 0


def test_kept_environments_stay_and_eph_down_removes_them(
    spec_dir: Callable[[str], Path],
) -> None:
    backend = FakeBackend()
    manager = _manager(spec_dir(SPEC), backend, keep="always")
    env = manager.environment()
    kept = manager.close(failed=False)
    assert [e.id for e in kept] == [env.id]
    (record,) = control.environments(backend)
    assert record.kept and record.expires is not None
    removed = control.down(backend, [control.find(backend, env.id[:10])])
    assert removed[0].errors == () and backend.resources() == 0


def test_an_unreachable_engine_is_not_counted_as_removed(
    spec_dir: Callable[[str], Path],
) -> None:
    backend = FakeBackend()
    manager = _manager(spec_dir(SPEC), backend, keep="always")
    env = manager.environment()
    manager.close(failed=False)
    record = control.find(backend, env.id)
    backend.down = True
    (removed,) = control.down(backend, [record])
    assert removed.errors  # reported, not silently "removed"
    backend.down = False
    with pytest.raises(EngineUnavailableError):
        backend.down = True
        control.environments(backend)


def _pool(root: Path, backends: list[FakeBackend]) -> Manager:
    manager = _manager(root, backends[0], hosts=tuple(b.address for b in backends))
    manager._pool = list(backends)
    return manager


def test_a_pool_of_engines_spreads_environments_by_room(
    spec_dir: Callable[[str], Path], tmp_path: Path
) -> None:
    small, big = (
        FakeBackend(address="fake://small", cpus=2),
        FakeBackend(address="fake://big", cpus=8),
    )
    root = spec_dir(SPEC)
    (root / "other.yaml").write_text(SPEC.replace("db:", "db2:"), encoding="utf-8")
    (root / "third.yaml").write_text(SPEC.replace("db:", "db3:"), encoding="utf-8")
    manager = _pool(root, [small, big])
    first = manager.environment()
    second = manager.environment("other.yaml")
    third = manager.environment("third.yaml")
    # the big engine takes the first ones; each environment lives whole on one engine
    assert first.backend is big
    for env in (first, second, third):
        assert {r.labels[L.ENV] for r in env.backend.list_resources({L.ENV: env.id})} == {env.id}
    assert small.resources() > 0 and big.resources() > 0  # spread over both
    placed, unreachable = control.environments_on([small, big])
    assert {p.record.id for p in placed} == {first.id, second.id, third.id} and not unreachable
    manager.close(failed=False)
    assert small.resources() == big.resources() == 0


def test_an_engine_of_the_pool_that_stops_answering_is_named_and_skipped(
    spec_dir: Callable[[str], Path],
) -> None:
    up, gone = FakeBackend(address="fake://up"), FakeBackend(address="fake://gone", cpus=64)
    gone.down = True
    manager = _pool(spec_dir(SPEC), [up, gone])
    env = manager.environment()
    assert env.backend is up
    placed, unreachable = control.environments_on([up, gone])
    assert [p.record.id for p in placed] == [env.id]
    assert unreachable == ["cannot reach the fake engine"]
    with pytest.raises(EnvironmentNotFoundError, match="unreachable"):
        control.find_on([up, gone], "nothing-like-this")
    manager.close(failed=False)
