"""Settings the Docker backend cannot honour, on the real engine: noted once
per key (Environment.notes, shown by pytest as EngineWarning in the warnings
summary), or refused on one line naming the service, the key and the fix
where ignoring them would change what a test sees."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_ephemeral import Environment, ServiceStartError
from pytest_ephemeral.backends.docker import DockerBackend
from pytest_ephemeral.lifecycle import labels as L
from pytest_ephemeral.lifecycle.removal import teardown
from pytest_ephemeral.runtime.engine import EngineOptions, start_environment
from pytest_ephemeral.spec import load_spec

PY = "python:3.12-slim"


def _env(path: Path, backend: DockerBackend) -> Environment:
    env_id = f"t-{uuid.uuid4().hex[:8]}"
    return Environment(env_id, load_spec(path), backend, {L.ENV: env_id}, selector={L.ENV: env_id})


def _start(env: Environment) -> None:
    start_environment(env, EngineOptions(default_timeout=60, service_label=L.SERVICE))


@pytest.mark.docker
def test_unhonoured_settings_are_noted_once_per_key(
    docker_client: Any, write_spec: Callable[..., Path]
) -> None:
    service = f"""
            image: {PY}
            command: ["sleep", "600"]
            stop_grace_period: 30s
            cpu_percent: 50
            deploy: {{resources: {{reservations: {{cpus: "0.25"}}}}}}
            wait: {{command: ["true"]}}
    """
    path = write_spec(f"services:\n  web:{service}\n  worker:{service}")
    env = _env(path, DockerBackend())
    try:
        _start(env)
        notes = sorted(env.notes)
        assert len(notes) == 3, notes  # one per key, for both services
        assert all(n.startswith("services.web, services.worker: ") for n in notes)
        text = "\n".join(notes)
        assert "stop_grace_period is not used: environments are removed at once" in text
        assert "deploy.resources.reservations.cpus has no meaning on one Docker engine" in text
        # what the engine itself accepted but discarded, in its own words
        assert "linux does not support CPU percent. Percent discarded." in text
    finally:
        teardown(env)


@pytest.mark.docker
def test_a_volume_subpath_the_engine_would_drop_is_refused(
    docker_client: Any, write_spec: Callable[..., Path]
) -> None:
    path = write_spec(
        f"""
        services:
          app:
            image: {PY}
            command: ["sh", "-c", "mkdir -p /data && sleep 600"]
            volumes:
              - {{type: volume, source: shared, target: /data, volume: {{subpath: sub}}}}
            wait: {{command: ["true"]}}
        volumes:
          shared:
        """
    )
    backend = DockerBackend()
    env = _env(path, backend)
    version = backend._api._version
    try:
        if tuple(int(p) for p in version.split(".")) >= (1, 45):  # an engine that has it
            _start(env)
            return
        with pytest.raises(ServiceStartError) as raised:
            _start(env)
    finally:
        teardown(env)
    message = str(raised.value)
    assert "service 'app'" in message and "\n" not in message
    assert (
        "subpath 'sub' (volume " in message and "at /data) needs Docker Engine API 1.45" in message
    )
    assert f"speaks {version}: upgrade the engine, or mount the whole volume" in message


@pytest.mark.docker
def test_a_runtime_the_engine_lacks_is_named_with_the_ones_it_has(
    docker_client: Any, write_spec: Callable[..., Path]
) -> None:
    path = write_spec(f"services:\n  app:\n    image: {PY}\n    runtime: nosuch-runtime\n")
    env = _env(path, DockerBackend())
    try:
        with pytest.raises(ServiceStartError) as raised:
            _start(env)
    finally:
        teardown(env)
    message = str(raised.value)
    assert "service 'app'" in message and "runtime 'nosuch-runtime' is not a runtime" in message
    assert "(it has: " in message and "runc" in message
    assert "remove runtime: from the service" in message


@pytest.mark.docker
def test_notes_reach_pytests_warnings_summary(
    pytester: pytest.Pytester, docker_client: Any
) -> None:
    pytester.makefile(
        ".yaml",
        ephemeral=textwrap.dedent(
            f"""
            services:
              app:
                image: {PY}
                command: ["sleep", "600"]
                stop_grace_period: 10s
                wait: {{command: ["true"]}}
            """
        ),
    )
    pytester.makepyfile(
        "def test_one(eph):\n    assert eph['app']\n\ndef test_two(eph):\n    assert eph['app']\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=300)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*EngineWarning: services.app: stop_grace_period is not used*"])
    assert result.stdout.str().count("EngineWarning") == 1
    # turned into an error (filterwarnings): the start fails, and what it made is removed
    strict = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-W", "error::pytest_ephemeral.plugin.EngineWarning", timeout=300
    )
    strict.assert_outcomes(errors=2)
    strict.stdout.fnmatch_lines(["*EngineWarning: services.app: stop_grace_period is not used*"])
    flt = {"label": [f"pytest-ephemeral.name={pytester.path.name}"]}
    assert docker_client.api.containers(all=True, filters=flt) == []
    assert docker_client.api.networks(filters=flt) == []
