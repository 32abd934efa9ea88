"""Shared test helpers. Tests that need Docker carry the ``docker`` marker and
fail loudly (never skip) when the engine is unreachable."""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_ephemeral.lifecycle import labels as L

LABEL = L.ENV
IMAGE_MAP = ""  # the offline images carry the public names: no mapping needed

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


def pytest_configure(config: pytest.Config) -> None:
    # this run's own xdist worker variables must not reach the inner pytest
    # runs the tests start (pytester subprocesses inherit os.environ): an inner
    # run without -n would take itself for worker gw1 of this run
    for name in [n for n in os.environ if n.startswith("PYTEST_XDIST_")]:
        del os.environ[name]


@pytest.fixture(scope="session")
def docker_client() -> Iterator[object]:
    import docker

    client = None
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        if client is not None:
            client.close()
        pytest.fail(
            f"these tests need a running Docker engine and none is reachable ({exc}); "
            "start dockerd (bash .ci/run does) or set DOCKER_HOST",
            pytrace=False,
        )
    yield client
    client.close()


def labelled(client: Any, label: str) -> list[str]:
    """Names of containers, networks and volumes carrying ``label`` (k or k=v).

    Uses the low-level API: one listing each, no per-item inspection that would
    race with a removal in progress."""
    api = client.api
    flt = {"label": [label]}
    names = [
        f"container {c['Names'][0].lstrip('/')}" for c in api.containers(all=True, filters=flt)
    ]
    names += [f"network {n['Name']}" for n in api.networks(filters=flt)]
    names += [f"volume {v['Name']}" for v in api.volumes(filters=flt).get("Volumes") or []]
    return names


def wait_until_clean(client: Any, label: str, within: float = 15.0) -> list[str]:
    """Poll until nothing carries ``label`` (or ``within`` seconds pass); returns leftovers."""
    deadline = time.monotonic() + within
    left = labelled(client, label)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = labelled(client, label)
    return left


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., Path]:
    """Write a spec (dedented YAML) and optional extra files into tmp_path."""

    def write(text: str, name: str = "ephemeral.yaml", **files: str) -> Path:
        for rel, content in files.items():
            p = tmp_path / rel.replace("__", "/")
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(textwrap.dedent(content))
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write


# -- the suite's own leak check: after any run of these tests, nothing the
# -- plugin labels may remain on the engine
_session_started = 0.0


def pytest_sessionstart(session: pytest.Session) -> None:
    global _session_started
    _session_started = time.time()


def _leftovers() -> list[str]:
    import docker

    client = docker.from_env()
    try:
        api = client.api
        found = []
        flt = {"label": [L.ENV]}
        items = [
            ("container", c["Labels"], c["Names"][0]) for c in api.containers(all=True, filters=flt)
        ]
        items += [("network", n["Labels"], n["Name"]) for n in api.networks(filters=flt)]
        items += [
            ("volume", v["Labels"], v["Name"])
            for v in api.volumes(filters=flt).get("Volumes") or []
        ]
        for kind, labels, name in items:
            created = float(labels.get(L.CREATED) or 0)
            owner = L.Owner.parse(labels.get(L.OWNER, ""))
            if created < _session_started - 1 or labels.get(L.KEPT) == "true":
                continue
            # another live process's environment (a concurrent run) is not ours to judge
            if owner is not None and owner.alive() and owner.pid != os.getpid():
                continue
            found.append(f"{kind} {name} ({labels.get(L.ENV)})")
        return found
    finally:
        client.close()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not any(item.get_closest_marker("docker") for item in session.items):
        return
    try:
        left = _leftovers()
        deadline = time.monotonic() + 15
        while left and time.monotonic() < deadline:
            time.sleep(0.5)
            left = _leftovers()
    except Exception as exc:
        print(f"\nleak check skipped: {exc}")
        return
    if left:
        print("\nLEAKED by this test run (still on the engine after 15 s):")
        for line in left:
            print(f"  {line}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# Tests that change something every other test on the machine shares run one
# after another on one xdist worker (``--dist loadgroup``, as scripts/run-tests
# runs them): the local registry and the images pulled from it, the servers of
# hybrid environments, the second engine (a test kills it), and engine-wide
# removals (``eph down --all``, ``eph prune``, the warm pool's keeper).
_SHARED_GROUPS = {
    "tests/backends/test_pull.py": "registry",
    "tests/backends/test_build.py": "registry",
    "tests/backends/test_lock.py": "registry",
    "tests/lifecycle/test_external.py": "servers",
    "tests/backends/test_engines.py": "engine2",
    "tests/backends/test_hosts.py": "engine2",
    "tests/test_cli.py": "engine-wide",
    "tests/lifecycle/test_pool.py": "engine-wide",
    "tests/backends/test_swarm.py": "engine-wide",
}


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(str(config.rootpath))
    for item in items:
        try:
            where = Path(str(item.path)).relative_to(root).as_posix()
        except ValueError:
            continue
        group = _SHARED_GROUPS.get(where)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
        if where in _ALONE:
            item.add_marker(pytest.mark.alone)


# Tests that check the state of a whole server or engine (every isolated part on
# the test PostgreSQL; the second engine, which one of them kills): under load
# from other workers their teardown lags behind their checks. scripts/run-tests
# runs them after the rest, in one process (-m alone).
_ALONE = {
    "tests/lifecycle/test_external.py",
    "tests/backends/test_engines.py",
    "tests/backends/test_hosts.py",
}
