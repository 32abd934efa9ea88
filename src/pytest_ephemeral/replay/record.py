"""``eph record``: a recording reverse proxy in front of a service of a running
environment, writing what passes through as HAR.

The proxy is a container on the environment's network (so it reaches the
service by its name, as the other services do), published on 127.0.0.1,
and labelled with the environment's labels: ``eph down`` and the reaper
remove it with the environment. Its program is :mod:`._proxy` (standard
library only, because the offline ``python:3.12-slim`` image has no
aiohttp); entries come back over a second published port as JSON lines and
are sanitized and written here, on the host, so the file is complete and
sanitized before it ever leaves the machine that runs ``eph``.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import json
import secrets
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

from ..errors import EphemeralError
from ..lifecycle import labels as L
from ._errors import ReplayInputError
from .sanitize import HttpSanitizer

if TYPE_CHECKING:
    from ..lifecycle.inventory import EnvRecord
    from ..runtime.backend import Backend, Resource

__all__ = ["RECORDER", "HarWriter", "Recorder", "find_service", "start_recorder"]

#: label on the recorder container: the ``SERVICE:PORT`` it records
RECORDER = f"{L.PREFIX}.recorder"
PROXY_PORT = 8080
FEED_PORT = 8081
IMAGE = "python:3.12-slim"
# labels of the environment the recorder takes over (not the service's own)
_ENV_LABELS = (L.ENV, L.RUN, L.OWNER, L.SPEC_HASH, L.SPEC_PATH, L.SPEC_NAME, L.KEPT, L.EXPIRES)


def docker_backend() -> Backend:
    """The project's Docker backend."""
    from ..backends.docker import DockerBackend

    backend: Backend = DockerBackend()
    return backend


def find_service(backend: Backend, env_id: str, service: str) -> tuple[EnvRecord, Resource]:
    """The environment (by id or unique id prefix) and its service's container."""
    from ..lifecycle.inventory import inventory

    records = inventory(backend)
    rec = records.get(env_id)
    if rec is None:
        matches = [k for k in records if k.startswith(env_id)]
        if len(matches) != 1:
            known = ", ".join(sorted(records)) or "none"
            hint = "several match; give more of the id" if matches else f"known: {known}"
            raise ReplayInputError(f"no environment {env_id!r} on the engine ({hint}; see eph ls)")
        rec = records[matches[0]]
    services = {k: v for k, v in rec.services().items() if RECORDER not in v.labels}
    if service not in services:
        known = ", ".join(sorted(services)) or "none"
        raise ReplayInputError(
            f"environment {rec.id} has no service {service!r} (services: {known})"
        )
    return rec, services[service]


def _host_port(ports: Any, number: int) -> int | None:
    for key, value in dict(ports).items():
        if key in ((number, "tcp"), f"{number}/tcp"):
            return int(value)
    return None


def _request(
    name: str,
    labels: dict[str, str],
    network: str,
    command: tuple[str, ...],
    listen_port: int | None,
) -> Any:
    from ..runtime import backend as B

    binding = getattr(B, "PortBinding", None)
    if binding is not None:
        ports: Any = (
            binding(PROXY_PORT, "tcp", "127.0.0.1", listen_port),
            binding(FEED_PORT, "tcp", "127.0.0.1", None),
        )
    else:  # pragma: no cover - the older interface
        ports = {
            f"{PROXY_PORT}/tcp": ("127.0.0.1", listen_port),
            f"{FEED_PORT}/tcp": ("127.0.0.1", None),
        }
    return B.ContainerRequest(
        name=name,
        image=IMAGE,
        labels=labels,
        network=network,
        aliases=(),
        command=command,
        ports=ports,
    )


@dataclass(frozen=True, slots=True)
class Recorder:
    """A started recorder: where to send traffic, where its entries come from."""

    backend: Backend
    container: Resource
    address: str  # 127.0.0.1:PORT of the proxy
    feed: tuple[str, int]
    upstream: str  # SERVICE:PORT

    def entries(self, stop: Callable[[], bool]) -> Iterator[dict[str, Any]]:
        """The recorded entries as they come; ends when ``stop()`` says so and
        every entry recorded until then has been read."""
        conn = http.client.HTTPConnection(*self.feed, timeout=10)
        gone = EphemeralError(
            f"the recorder {self.container.name} stopped (its container was removed or "
            "died); the entries until then are written"
        )
        try:
            try:
                conn.request("GET", "/entries")
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException):
                raise gone from None
            stopping = False
            while True:
                try:
                    line = resp.readline()
                except (OSError, http.client.HTTPException):
                    line = b""
                if not line:
                    raise gone
                text = line.strip()
                if text:
                    yield json.loads(text)
                    continue
                # an empty line: nothing waiting right now
                if stopping:
                    return
                if stop():
                    stopping = True  # one more round: take what is still on its way
        finally:
            conn.close()

    def close(self) -> None:
        self.backend.remove([self.container])


def start_recorder(
    backend: Backend,
    env_id: str,
    target: str,
    *,
    listen_port: int | None = None,
    ready_timeout: float = 30.0,
) -> Recorder:
    """Start the recording proxy for ``SERVICE:PORT`` of environment ``env_id``."""
    from ..runtime.backend import Resource

    service, sep, port_text = target.rpartition(":")
    if not sep or not service or not port_text.isdigit():
        raise ReplayInputError(
            f"{target!r} is not SERVICE:PORT; write the service and its container port, "
            "e.g. api:8000"
        )
    rec, container = find_service(backend, env_id, service)
    networks = [r for r in rec.resources if r.kind == "network"]
    if not networks:
        raise ReplayInputError(
            f"environment {rec.id} has no network left (it is being removed?); see eph ls"
        )
    labels = {k: container.labels[k] for k in _ENV_LABELS if k in container.labels}
    labels[RECORDER] = target
    labels[L.CREATED] = f"{time.time():.0f}"
    name = (
        f"eph-record-{L.safe_name(rec.name or 'env')}-{rec.id[:8]}-{service}-{secrets.token_hex(2)}"
    )
    proxy_file = Path(__file__).with_name("_proxy.py")
    request = _request(
        name,
        labels,
        networks[0].name,
        ("python3", "/tmp/_proxy.py", service, port_text, str(PROXY_PORT), str(FEED_PORT)),
        listen_port,
    )
    container_id = backend.create_container(request)
    resource = Resource("container", container_id, name, labels)
    try:
        backend.copy_to(container_id, "/tmp", {"_proxy.py": str(proxy_file)})
        backend.start_container(container_id)
        deadline = time.monotonic() + ready_timeout
        while True:
            state = backend.state(container_id)
            if state.exited:
                raise EphemeralError(
                    f"the recorder for {target} exited ({state.exit_code}): "
                    f"{backend.logs(container_id, tail=5).strip()}"
                )
            proxy_port = _host_port(state.ports, PROXY_PORT)
            feed_port = _host_port(state.ports, FEED_PORT)
            if proxy_port and feed_port and _ready(feed_port):
                break
            if time.monotonic() > deadline:
                raise EphemeralError(
                    f"the recorder for {target} did not come up within {ready_timeout:.0f}s; "
                    f"its log: {backend.logs(container_id, tail=5).strip() or '(empty)'}"
                )
            time.sleep(0.1)
    except BaseException:
        backend.remove([resource])
        raise
    return Recorder(backend, resource, f"127.0.0.1:{proxy_port}", ("127.0.0.1", feed_port), target)


def _ready(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/ready")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


class HarWriter:
    """Writes a HAR 1.2 file entry by entry (``.gz``: gzip), so memory stays flat
    and an interrupted recording still leaves every entry written so far."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            if path.suffix == ".gz":
                self._fh: IO[str] = gzip.open(path, "wt", encoding="utf-8")  # noqa: SIM115
            else:
                self._fh = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        except OSError as exc:
            raise ReplayInputError(
                f"{path}: cannot write the capture ({exc.strerror or exc}); fix --output"
            ) from None
        from .. import __version__

        creator = {"name": "pytest-ephemeral eph record", "version": str(__version__)}
        self._fh.write(
            '{"log":{"version":"1.2","creator":' + json.dumps(creator) + ',"pages":[],"entries":[\n'
        )
        self.count = 0

    def write(self, entry: dict[str, Any]) -> None:
        self._fh.write(("," if self.count else "") + json.dumps(entry, ensure_ascii=False) + "\n")
        self._fh.flush()
        self.count += 1

    def close(self) -> None:
        self._fh.write("]}}\n")
        self._fh.close()


def record(
    env_id: str,
    target: str,
    output: Path,
    *,
    sanitize: Path | None = None,
    count: int | None = None,
    duration: float | None = None,
    listen_port: int | None = None,
    announce: Callable[[str], None] = print,
    backend: Backend | None = None,
) -> int:
    """Record until ``count`` entries, ``duration`` seconds, SIGINT or SIGTERM;
    returns the number of entries written."""
    sanitizer = HttpSanitizer.from_rules(sanitize)
    backend = backend or docker_backend()
    recorder = start_recorder(backend, env_id, target, listen_port=listen_port)
    stop_at = time.monotonic() + duration if duration else None
    stopping = False

    def on_term(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    old = signal.signal(signal.SIGTERM, on_term)
    writer: HarWriter | None = None
    try:
        writer = HarWriter(output)
        announce(
            f"recording {target} of {recorder.container.labels.get(L.ENV, env_id)} at "
            f"http://{recorder.address} -> {output} (Ctrl-C to stop)"
        )

        def stop() -> bool:
            return (
                stopping
                or (count is not None and writer is not None and writer.count >= count)
                or (stop_at is not None and time.monotonic() >= stop_at)
            )

        try:
            for entry in recorder.entries(stop):
                writer.write(sanitizer.entry(entry))
                if count is not None and writer.count >= count:
                    break
        except KeyboardInterrupt:
            pass
        return writer.count
    finally:
        signal.signal(signal.SIGTERM, old)
        if writer is not None:
            with contextlib.suppress(OSError):
                writer.close()
        recorder.close()
