"""The report header line, without importing the Docker SDK or YAML: a suite
that never asks for an environment should not pay for them."""

from __future__ import annotations

import http.client
import json
import os
import socket
from pathlib import Path

from .config import Settings

__all__ = ["engine_version", "header_line"]

CANDIDATES = (
    "ephemeral.yaml",
    "ephemeral.yml",
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def engine_version(address: str, timeout: float = 2.0) -> str | None:
    """The engine's version from ``GET /version``, or None when unreachable."""
    conn: http.client.HTTPConnection
    if address.startswith("unix://"):
        conn = _UnixConnection(address[len("unix://") :], timeout)
    elif address.startswith(("tcp://", "http://")):
        hostport = address.split("://", 1)[1].rstrip("/")
        conn = http.client.HTTPConnection(hostport, timeout=timeout)
    else:
        return None
    try:
        conn.request("GET", "/version")
        resp = conn.getresponse()
        if resp.status != 200:
            return None
        return str(json.loads(resp.read()).get("Version", "?"))
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def find_spec_cheaply(settings: Settings) -> Path | None:
    for given in (settings.spec, settings.spec_ini):
        if given:
            p = Path(given)
            return p if p.is_absolute() else settings.rootdir / p
    for name in CANDIDATES:
        p = settings.rootdir / name
        if p.is_file():
            return p
    return None


def header_line(settings: Settings) -> str | None:
    spec = find_spec_cheaply(settings)
    if spec is None:
        return None
    address = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    version = engine_version(address)
    engine = f"docker {version} at {address}" if version else f"docker UNREACHABLE at {address}"
    try:
        shown = spec.relative_to(settings.rootdir)
    except ValueError:
        shown = spec
    return f"ephemeral: {engine}, spec {shown}"
