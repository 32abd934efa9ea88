"""The report header line, without importing the Docker SDK or YAML: a suite
that never asks for an environment should not pay for them."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from .backends._engines import EngineConfigError, EngineEndpoint, TLSMaterial, find_engine
from .config import Settings

__all__ = ["engine_info", "engine_line", "engine_name", "engine_version", "header_line"]

CANDIDATES = (
    "ephemeral.yaml",
    "ephemeral.yml",
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
)


def engine_info(endpoint: EngineEndpoint, timeout: float = 2.0) -> dict[str, Any] | None:
    """The engine's ``GET /version`` answer, or None when unreachable (or
    reached over ssh, which this cheap path does not speak).

    One HTTP/1.0 request on a plain socket (TLS wrapped when the endpoint has
    TLS material): ``http.client`` alone would cost more to import than the
    whole request takes."""
    address = endpoint.url
    try:
        if address.startswith("unix://"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(address[len("unix://") :])
            except BaseException:
                sock.close()
                raise
        elif address.startswith("tcp://"):
            host = endpoint.host or ""
            port = int(address.rpartition(":")[2])
            sock = socket.create_connection((host, port), timeout=timeout)
            if endpoint.tls is not None:
                sock = _wrap_tls(sock, endpoint.tls, host)
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
        info = json.loads(body)
        return info if isinstance(info, dict) else None
    except (OSError, ValueError, IndexError):
        return None


def _wrap_tls(sock: socket.socket, tls: TLSMaterial, host: str) -> socket.socket:
    import ssl

    if tls.verify:
        context = ssl.create_default_context(cafile=tls.ca)
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.cert and tls.key:
        context.load_cert_chain(tls.cert, tls.key)
    return context.wrap_socket(sock, server_hostname=host)


def engine_name(info: dict[str, Any]) -> str:
    """``docker`` or ``podman``, from the components a ``/version`` answer names."""
    for component in info.get("Components") or ():
        if isinstance(component, dict) and "podman" in str(component.get("Name", "")).lower():
            return "podman"
    return "docker"


def engine_version(address: str | EngineEndpoint, timeout: float = 2.0) -> str | None:
    """The engine's version from ``GET /version``, or None when unreachable."""
    endpoint = address if isinstance(address, EngineEndpoint) else find_engine(address)
    info = engine_info(endpoint, timeout)
    return None if info is None else str(info.get("Version", "?"))


def engine_line() -> str:
    """``docker 20.10.24 at unix:///var/run/docker.sock (default socket)``: the
    engine, its version and how it was found (one line, never an exception)."""
    try:
        endpoint = find_engine()
    except EngineConfigError as exc:
        return f"docker engine NOT USABLE: {exc}"
    info = engine_info(endpoint)
    if info is not None:
        return f"{engine_name(info)} {info.get('Version', '?')} at {endpoint.describe()}"
    if endpoint.scheme == "ssh":
        return f"docker at {endpoint.describe()}"
    return f"docker UNREACHABLE at {endpoint.describe()}"


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
    engine = engine_line()
    try:
        shown = spec.relative_to(settings.rootdir)
    except ValueError:
        shown = spec
    return f"ephemeral: {engine}, spec {shown}"
