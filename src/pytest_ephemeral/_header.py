"""The report header line, without importing the Docker SDK or YAML: a suite
that never asks for an environment should not pay for them."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from .backends._engines import EngineConfigError, EngineEndpoint, TLSMaterial, find_engine
from .config import Settings

__all__ = [
    "engine_info",
    "engine_line",
    "engine_name",
    "engine_ping",
    "engine_version",
    "header_line",
]

CANDIDATES = (
    "ephemeral.yaml",
    "ephemeral.yml",
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
)


def _get(endpoint: EngineEndpoint, path: str, timeout: float) -> tuple[bytes, bytes] | None:
    """``GET path`` of the engine: (response head, body) of a 200 answer, or
    None (unreachable, another status, or ssh, which this cheap path does not speak).

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
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except (OSError, ValueError):
        return None
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = head.split(maxsplit=2)
    if len(status) < 2 or not status[0].startswith(b"HTTP/1.") or status[1] != b"200":
        return None
    return head, body


def engine_info(endpoint: EngineEndpoint, timeout: float = 2.0) -> dict[str, Any] | None:
    """The engine's ``GET /version`` answer, or None when unreachable."""
    answer = _get(endpoint, "/version", timeout)
    if answer is None:
        return None
    try:
        info = json.loads(answer[1])
    except ValueError:
        return None
    return info if isinstance(info, dict) else None


def engine_ping(endpoint: EngineEndpoint, timeout: float = 2.0) -> tuple[str, str] | None:
    """(``docker`` or ``podman``, version) from the ``Server`` header of the
    engine's ``GET /_ping`` answer (``Docker/20.10.24 (linux)``,
    ``Libpod/4.3.1 (linux)``): the cheapest request every engine answers
    (Podman's ``/version`` runs its helpers' ``--version``, seconds on a busy
    machine). None when unreachable or when the header names neither."""
    answer = _get(endpoint, "/_ping", timeout)
    if answer is None:
        return None
    for line in answer[0].split(b"\r\n")[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "server":
            product, _, version = value.strip().partition(" ")[0].partition("/")
            kind = {"docker": "docker", "libpod": "podman"}.get(product.lower())
            return (kind, version or "?") if kind else None
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
    """The engine's version, or None when unreachable."""
    endpoint = address if isinstance(address, EngineEndpoint) else find_engine(address)
    pinged = engine_ping(endpoint, timeout)
    if pinged is not None:
        return pinged[1]
    info = engine_info(endpoint, timeout)
    return None if info is None else str(info.get("Version", "?"))


def engine_line() -> str:
    """``docker 20.10.24 at unix:///var/run/docker.sock (default socket)``: the
    engine, its version and how it was found (one line, never an exception)."""
    try:
        endpoint = find_engine()
    except EngineConfigError as exc:
        return f"docker engine NOT USABLE: {exc}"
    pinged = engine_ping(endpoint)
    if pinged is None:
        info = engine_info(endpoint)  # an engine whose /_ping names no Server
        if info is not None:
            pinged = (engine_name(info), str(info.get("Version", "?")))
    if pinged is not None:
        return f"{pinged[0]} {pinged[1]} at {endpoint.describe()}"
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
