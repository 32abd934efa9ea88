"""The report header line, without importing the Docker SDK or YAML: a suite
that never asks for an environment should not pay for them."""

from __future__ import annotations

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


def engine_version(address: str, timeout: float = 2.0) -> str | None:
    """The engine's version from ``GET /version``, or None when unreachable.

    One HTTP/1.0 request on a plain socket: ``http.client`` alone would cost
    more to import than the whole request takes."""
    try:
        if address.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(address[len("unix://") :])
        elif address.startswith(("tcp://", "http://")):
            host, _, port = address.split("://", 1)[1].rstrip("/").rpartition(":")
            sock = socket.create_connection((host, int(port)), timeout=timeout)
        else:
            return None
        with sock:
            sock.sendall(b"GET /version HTTP/1.0\r\nHost: docker\r\n\r\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.") or head.split()[1] != b"200":
            return None
        return str(json.loads(body).get("Version", "?"))
    except (OSError, ValueError, IndexError):
        return None


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
