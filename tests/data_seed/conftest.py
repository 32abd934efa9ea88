"""Helpers for the seed and reset tests: start an environment with the real
engine through a Manager (as the plugin does), always close it, and check
that nothing of it is left on the Docker engine."""

from __future__ import annotations

import contextlib
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_ephemeral import Environment
from pytest_ephemeral.config import Settings
from pytest_ephemeral.errors import EphemeralError
from pytest_ephemeral.lifecycle import labels as L
from pytest_ephemeral.lifecycle.manager import Manager

SALT = "data-seed-tests-salt-0123456789"


def _pg_service(db: str = "shop", *, ports: bool = True, **seed: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "image": "postgres:16-alpine",
        "environment": {"POSTGRES_PASSWORD": "secret", "POSTGRES_DB": db},
        "healthcheck": {
            "test": ["CMD", "pg_isready", "-U", "postgres", "-d", db],
            "interval": "1s",
            "retries": 30,
        },
        "tmpfs": ["/var/lib/postgresql/data"],
    }
    if ports:
        body["ports"] = [5432]
    return body


@pytest.fixture
def pg_service() -> Callable[..., dict[str, Any]]:
    """``pg_service(db="shop", ports=True)``: a PostgreSQL service (add ``seed``)."""
    return _pg_service


def left_behind(client: Any, run_id: str, *, label: str | None = None) -> list[str]:
    """Containers, networks and volumes of the run ``run_id`` (or carrying
    ``label``, ``key=value``) still on the engine."""
    api = client.api
    flt = {"label": [label or f"{L.RUN}={run_id}"]}
    names = [f"container {c['Names'][0]}" for c in api.containers(all=True, filters=flt)]
    names += [f"network {n['Name']}" for n in api.networks(filters=flt)]
    names += [f"volume {v['Name']}" for v in api.volumes(filters=flt).get("Volumes") or []]
    return names


@pytest.fixture
def gone(docker_client: Any) -> Callable[[str], list[str]]:
    """``gone("key=value")``: polls (up to 15 s) until nothing carries the
    label; returns what is still there."""

    def wait(label: str) -> list[str]:
        deadline = time.monotonic() + 15
        left = left_behind(docker_client, "", label=label)
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = left_behind(docker_client, "", label=label)
        return left

    return wait


@pytest.fixture(autouse=True)
def _salt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPH_SANITIZE_SALT", SALT)
    monkeypatch.delenv("EPH_SANITIZE_SALT_FILE", raising=False)


@pytest.fixture
def project(tmp_path: Path) -> Callable[..., Path]:
    """``project(spec, {"seed/x.sql": text})``: write ``ephemeral.yaml`` (the
    dict, dumped as YAML) and the files (text is dedented); returns the spec's path."""

    def write(spec: dict[str, Any], files: dict[str, str | bytes] | None = None) -> Path:
        for rel, content in (files or {}).items():
            path = tmp_path / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(textwrap.dedent(content), encoding="utf-8")
        spec_path = tmp_path / "ephemeral.yaml"
        spec_path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
        return spec_path

    return write


@pytest.fixture
def environment(
    docker_client: Any,
) -> Callable[[Path], contextlib.AbstractContextManager[Environment]]:
    """``with environment(spec_path) as env:`` — started by a Manager, closed
    after, and checked to have left nothing behind."""

    @contextlib.contextmanager
    def start(path: Path) -> Iterator[Environment]:
        manager = Manager(Settings(rootdir=path.parent, timeout=60.0))
        try:
            yield manager.environment(path)
        finally:
            manager.close(failed=False)
            assert left_behind(docker_client, manager.run_id) == []

    return start


@pytest.fixture
def start_fails(docker_client: Any) -> Callable[[Path], EphemeralError]:
    """Start ``path`` expecting an error; check the environment is gone (no
    half-seeded environment survives); return the error."""

    def fail(path: Path) -> EphemeralError:
        manager = Manager(Settings(rootdir=path.parent, timeout=60.0))
        try:
            with pytest.raises(EphemeralError) as info:
                manager.environment(path)
            # the engine removed it before raising: nothing of the run is left,
            # and the manager does not hold it either
            assert left_behind(docker_client, manager.run_id) == []
            assert manager.environments == {}
        finally:
            manager.close(failed=True)
        return info.value

    return fail


@pytest.fixture
def pg_connect() -> Callable[..., Any]:
    """``pg_connect(service, dbname="shop")``: a psycopg connection (autocommit)."""
    import psycopg

    def connect(service: Any, dbname: str = "shop") -> Any:
        return psycopg.connect(
            host=service.host,
            port=service.port(5432),
            user="postgres",
            password="secret",
            dbname=dbname,
            autocommit=True,
        )

    return connect
