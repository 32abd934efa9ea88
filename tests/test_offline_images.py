"""The local stand-ins for public images behave like the public images.

The images come from ``scripts/build-offline-images`` (DESIGN.md section 6).
These tests talk to the Docker engine directly with the Docker SDK (the
``docker_client`` fixture of conftest.py, which fails, never skips, when the
engine cannot be reached). Every container and network they make
carries the label ``pytest-ephemeral-test=1`` and is removed at teardown.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import docker
import docker.errors
import pytest
from docker.models.containers import Container
from docker.models.networks import Network

pytestmark = pytest.mark.docker

POSTGRES = "postgres:16-alpine"
REDIS = "redis:7-alpine"
PYTHON = "python:3.12-slim"
LABELS = {"pytest-ephemeral-test": "1"}
TIMEOUT = 60.0


class Scope:
    """Makes labelled containers and networks and removes them all on close."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.suffix = uuid.uuid4().hex[:8]
        self._containers: list[Container] = []
        self._networks: list[Network] = []

    def network(self) -> Network:
        network = self.client.networks.create(f"eph-test-{self.suffix}", labels=LABELS)
        self._networks.append(network)
        return network

    def container(
        self,
        image: str,
        command: list[str] | None = None,
        *,
        network: Network,
        alias: str | None = None,
        files: dict[str, bytes] | None = None,
        **kwargs: Any,
    ) -> Container:
        """Create, register for removal, copy `files` in, then start."""
        endpoint = self.client.api.create_endpoint_config(aliases=[alias] if alias else None)
        container = self.client.containers.create(
            image,
            command,
            labels=LABELS,
            network=network.name,
            networking_config={network.name: endpoint},
            **kwargs,
        )
        self._containers.append(container)
        for path, content in (files or {}).items():
            directory, _, name = path.rpartition("/")
            container.put_archive(directory, _tar(name, content))
        container.start()
        return container

    def run(self, image: str, command: list[str], *, network: Network, **kwargs: Any) -> str:
        """Run a client container to its end; return its output, fail on a non-zero exit."""
        container = self.container(image, command, network=network, **kwargs)
        status = container.wait(timeout=TIMEOUT)["StatusCode"]
        output: str = container.logs(stdout=True, stderr=True).decode()
        assert status == 0, f"{image} {command} exited with {status}:\n{output}"
        return output

    def close(self) -> None:
        for container in reversed(self._containers):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True, v=True)
        for network in reversed(self._networks):
            with contextlib.suppress(docker.errors.NotFound):
                network.remove()


def _tar(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        info.mode = 0o644
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _wait_until(check: Callable[[], bool], what: str, container: Container) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not check():
        container.reload()
        if container.status == "exited" or time.monotonic() > deadline:
            logs = container.logs().decode(errors="replace")
            pytest.fail(f"{what}: not reached (container {container.status}); its log:\n{logs}")
        time.sleep(0.1)


def _postgres_ready(server: Container, user: str) -> bool:
    # TCP on localhost: the temporary init server listens on the socket only.
    exit_code: int = server.exec_run(["pg_isready", "-h", "localhost", "-U", user]).exit_code
    return exit_code == 0


@pytest.fixture(scope="module")
def offline_images(docker_client: docker.DockerClient) -> docker.DockerClient:
    """The engine (conftest's `docker_client`), once the images are known to be there."""
    missing = []
    for image in (POSTGRES, REDIS, PYTHON):
        try:
            docker_client.images.get(image)
        except docker.errors.ImageNotFound:
            missing.append(image)
    if missing:
        pytest.fail(
            f"images {', '.join(missing)} are missing: run scripts/build-offline-images",
            pytrace=False,
        )
    return docker_client


@pytest.fixture
def scope(offline_images: docker.DockerClient) -> Iterator[Scope]:
    made = Scope(offline_images)
    try:
        yield made
    finally:
        made.close()


def test_postgres_login_by_service_name_with_init_script(scope: Scope) -> None:
    network = scope.network()
    init_sql = "CREATE TABLE greeting (word text);\nINSERT INTO greeting VALUES ('grüß dich');\n"
    server = scope.container(
        POSTGRES,
        network=network,
        alias="db",
        environment={
            "POSTGRES_USER": "app",
            "POSTGRES_PASSWORD": "s3cret",
            "POSTGRES_DB": "appdb",
        },
        files={"/docker-entrypoint-initdb.d/01-greeting.sql": init_sql.encode()},
    )
    _wait_until(lambda: _postgres_ready(server, "app"), "postgres ready", server)

    query = (
        "SHOW server_encoding; SELECT current_user, current_database(); SELECT word FROM greeting"
    )
    output = scope.run(
        POSTGRES,
        ["psql", "-h", "db", "-U", "app", "-d", "appdb", "-Atc", query],
        network=network,
        environment={"PGPASSWORD": "s3cret"},
    )
    assert output.splitlines() == ["UTF8", "app|appdb", "grüß dich"]

    wrong = scope.container(
        POSTGRES,
        ["psql", "-h", "db", "-U", "app", "-d", "appdb", "-c", "SELECT 1"],
        network=network,
        environment={"PGPASSWORD": "wrong"},
    )
    assert wrong.wait(timeout=TIMEOUT)["StatusCode"] != 0
    assert b"password authentication failed" in wrong.logs()


def test_postgres_on_tmpfs_data_dir(scope: Scope) -> None:
    network = scope.network()
    server = scope.container(
        POSTGRES,
        network=network,
        environment={"POSTGRES_PASSWORD": "secret"},
        tmpfs={"/var/lib/postgresql/data": ""},
    )
    _wait_until(lambda: _postgres_ready(server, "postgres"), "postgres ready", server)

    exit_code, output = server.exec_run(["psql", "-U", "postgres", "-Atc", "SHOW server_encoding"])
    assert (exit_code, output.decode().strip()) == (0, "UTF8")
    # Once for the temporary init server, once for the real one, as upstream.
    assert server.logs().count(b"database system is ready to accept connections") == 2


@pytest.mark.parametrize(
    "command",
    [None, ["redis-server", "--appendonly", "yes"]],
    ids=["default-command", "overridden-command"],
)
def test_redis_reachable_from_another_container(scope: Scope, command: list[str] | None) -> None:
    network = scope.network()
    server = scope.container(REDIS, command, network=network, alias="cache")
    _wait_until(lambda: b"Ready to accept connections" in server.logs(), "redis ready", server)

    assert scope.run(REDIS, ["redis-cli", "-h", "cache", "ping"], network=network).strip() == "PONG"
    appendonly = scope.run(
        REDIS, ["redis-cli", "-h", "cache", "config", "get", "appendonly"], network=network
    )
    assert appendonly.split() == ["appendonly", "yes" if command else "no"]


def test_python_http_server(scope: Scope) -> None:
    network = scope.network()
    server = scope.container(
        PYTHON, ["python3", "-m", "http.server", "8000"], network=network, alias="web"
    )
    fetch = (
        "import time, urllib.request\n"
        "for _ in range(100):\n"
        "    try:\n"
        "        print(urllib.request.urlopen('http://web:8000/', timeout=5).status)\n"
        "        break\n"
        "    except OSError:\n"
        "        time.sleep(0.1)\n"
    )
    assert scope.run(PYTHON, ["python", "-c", fetch], network=network).strip() == "200"
    assert b'"GET / HTTP/1.1" 200' in server.logs()
