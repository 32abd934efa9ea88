"""The API version negotiated with the engine: a tiny real HTTP server on a
unix socket answers ``/version`` as Docker 29 does (ApiVersion 1.52,
MinAPIVersion 1.44), refuses older clients as Docker 29 does, and records the
path of every request the backend then sends."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import docker.constants
import pytest

from pytest_ephemeral.backends.docker import DockerBackend
from pytest_ephemeral.errors import EngineUnavailableError, EphemeralError

DOCKER_29 = {"Version": "29.0.0", "ApiVersion": "1.52", "MinAPIVersion": "1.44", "Os": "linux"}
DOCKER_20 = {"Version": "20.10.24", "ApiVersion": "1.41", "MinAPIVersion": "1.12", "Os": "linux"}


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


class FakeEngine:
    """Answers /version with ``answer``, the listings with empty lists, and
    every request below ``MinAPIVersion`` with Docker's own 400."""

    def __init__(self, path: Path, answer: dict[str, str]) -> None:
        self.answer = answer
        self.paths: list[str] = []
        engine = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                engine.paths.append(self.path)
                route = self.path.split("?", 1)[0]
                status, body = 200, engine.route(route)
                if body is None:
                    status, body = 404, {"message": f"page not found: {route}"}
                elif isinstance(body, tuple):
                    status, body = body
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet (and a unix socket has no client address to print)

        self.server = socketserver.ThreadingUnixStreamServer(str(path), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"unix://{path}"

    def route(self, route: str) -> Any:
        if route == "/version":
            return self.answer
        version, _, rest = route.lstrip("/").partition("/")
        if not version.startswith("v"):
            return None
        if _key(version[1:]) < _key(self.answer["MinAPIVersion"]):
            return 400, {
                "message": f"client version {version[1:]} is too old. Minimum supported API "
                f"version is {self.answer['MinAPIVersion']}, please upgrade your client to a "
                "newer version"
            }
        if rest == "version":
            return self.answer
        return {"containers/json": [], "networks": [], "volumes": {"Volumes": []}}.get(rest)

    def versioned(self) -> list[str]:
        """The /vX.Y prefixes of the requests other than the unversioned /version."""
        return [p.split("/")[1] for p in self.paths if p != "/version"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("DOCKER_API_VERSION", raising=False)
    made: list[FakeEngine] = []

    def make(answer: dict[str, str]) -> FakeEngine:
        e = FakeEngine(tmp_path / f"engine{len(made)}.sock", answer)
        made.append(e)
        return e

    yield make
    for e in made:
        e.close()


def test_negotiated_with_docker_29(engine: Any) -> None:
    e = engine(DOCKER_29)
    backend = DockerBackend(e.url)
    assert e.paths == []  # no round trip at construction
    try:
        assert backend.list_resources({"x": None}) == []
        assert backend.version() == "29.0.0"  # the negotiation's answer serves it
        backend.list_resources({"x": None})
    finally:
        backend.close()
    expected = min(_key("1.52"), _key(docker.constants.DEFAULT_DOCKER_API_VERSION))
    chosen = {tuple(int(p) for p in v[1:].split(".")) for v in e.versioned()}
    assert chosen == {expected}, e.paths
    assert expected >= _key("1.44")  # what Docker 29 accepts
    assert e.paths.count("/version") == 1 and e.paths[0] == "/version"  # asked once, first


def test_negotiated_with_docker_20(engine: Any) -> None:
    e = engine(DOCKER_20)
    backend = DockerBackend(e.url)
    try:
        backend.list_resources({"x": None})
    finally:
        backend.close()
    assert set(e.versioned()) == {"v1.41"}, e.paths


def test_docker_api_version_wins(engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_API_VERSION", "1.47")
    e = engine(DOCKER_29)
    backend = DockerBackend(e.url)
    try:
        backend.list_resources({"x": None})
    finally:
        backend.close()
    assert e.paths and "/version" not in e.paths  # not asked: the variable decides
    assert set(e.versioned()) == {"v1.47"}, e.paths


def test_a_forced_version_the_engine_refuses_is_one_line(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_API_VERSION", "1.41")
    e = engine(DOCKER_29)
    backend = DockerBackend(e.url)
    try:
        with pytest.raises(EphemeralError) as err:
            backend.list_resources({"x": None})
    finally:
        backend.close()
    assert "client version 1.41 is too old" in str(err.value)
    assert "\n" not in str(err.value)


def test_no_version_in_common_is_one_clear_line(engine: Any) -> None:
    e = engine({"Version": "99.0", "ApiVersion": "1.90", "MinAPIVersion": "1.80"})
    backend = DockerBackend(e.url)
    try:
        with pytest.raises(EngineUnavailableError) as err:
            backend.list_resources({"x": None})
    finally:
        backend.close()
    text = str(err.value)
    assert f"the engine at {e.url} speaks Docker API 1.80 to 1.90" in text
    assert "pip install -U docker" in text and "\n" not in text
    assert e.versioned() == []  # nothing sent in a version the engine refuses
