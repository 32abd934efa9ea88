"""Claims handed out by the warm pool's keeper itself, over a Unix socket.

The labels of :mod:`.pool` make a claim possible with no keeper at all, but
a claimant that does it itself pays for the Docker client (its imports) and
for listing the pool on the engine before its first test can start. The
keeper has both already, and knows its ready environments in memory, so a
claimant that can reach it asks it instead:

- claimant -> keeper: ``{"op": "claim", "hash": ..., "owner": ..., "run": ...,
  "worker": ...}``, one JSON line;
- keeper: takes one of its ready environments of that spec hash, makes its
  claim marker on the engine (``pool.claim_marker``: the claimant's identity,
  the same test-and-set as a claimant's own claim, so the two ways never hand
  one environment out twice) and answers with the environment's description
  (``env_to_wire``), or ``{"ok": false, "why": ...}``;
- the connection stays open for the whole claim: it is the lease. At the end
  the claimant sends ``{"op": "return"}`` (the keeper resets the environment
  to its seeded state and puts it back, or removes and replaces it: after the
  claimant's own teardown, not in it) or ``{"op": "release"}`` (the claimant
  keeps it, ``--eph-keep``, or hands it back itself). A claimant that dies
  without either closes the connection by dying: the keeper removes that
  environment at once and starts another.

The claimant's environment talks to the engine through a backend made on
first use only (:class:`LazyBackend`): a test that only connects to its
services never imports the Docker client.

When the socket is missing or the keeper does not answer within
``TIMEOUT``, the claimant falls back to claiming by labels itself.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from . import labels as L

if TYPE_CHECKING:
    from ..runtime.backend import Backend
    from ..runtime.environment import Environment
    from ..spec.model import Spec

__all__ = [
    "LazyBackend",
    "Lease",
    "LeaseServer",
    "ask_keeper",
    "env_from_wire",
    "env_to_wire",
]

#: how long a claimant waits for the keeper's answer (connect, claim marker)
TIMEOUT: Final = 5.0
_MAX_LINE: Final = 1 << 20


class LazyBackend:
    """A backend made on first use (``make()``), then used as the backend itself."""

    def __init__(self, make: Callable[[], Backend]) -> None:
        self._make = make

    def __getattr__(self, name: str) -> Any:
        return getattr(self._make(), name)


# -- the environment on the wire ----------------------------------------------------


def env_to_wire(env: Environment, pool: str) -> dict[str, Any]:
    """What a claimant needs to use ``env`` without asking the engine."""
    return {
        "id": env.id,
        "pool": pool,
        "labels": dict(env.labels),
        "selector": dict(env.selector),
        "resources": [[r.kind, r.id, r.name, dict(r.labels), r.status] for r in env.resources],
        "services": {
            name: {
                "container_id": svc.container_id,
                "host": svc.host,
                "ports": svc.ports,  # {"5432/tcp": 49153}
            }
            for name, svc in env.services.items()
        },
    }


def env_from_wire(spec: Spec, wire: dict[str, Any], backend: Backend) -> Environment | None:
    """The :class:`Environment` ``wire`` describes, for ``spec``; None when it
    does not match the spec's services."""
    from ..runtime.backend import Resource
    from ..runtime.environment import Environment, Service, ServiceTimes

    services = wire.get("services") or {}
    if set(services) != set(spec.services):
        return None
    env = Environment(
        str(wire["id"]),
        spec,
        backend,
        dict(wire.get("labels") or {}),
        resources=[
            Resource(kind, rid, name, dict(labels), status)
            for kind, rid, name, labels, status in wire.get("resources") or []
        ],
    )
    env.selector = dict(wire.get("selector") or {L.ENV: env.id})
    for name, svc in services.items():
        ports = {}
        for key, host_port in (svc.get("ports") or {}).items():
            number, _, proto = str(key).partition("/")
            ports[(int(number), proto or "tcp")] = int(host_port)
        env.services[name] = Service(
            name, spec.services[name], backend, str(svc["container_id"]), str(svc["host"]), ports
        )
        env.timeline[name] = ServiceTimes()
    return env


# -- the claimant's side ----------------------------------------------------------------


class Lease:
    """A claim held through the keeper: the open connection."""

    def __init__(self, sock: socket.socket, env_id: str) -> None:
        self._sock = sock
        self._file = sock.makefile("rwb")
        self.env_id = env_id

    def _ask(self, message: dict[str, Any]) -> dict[str, Any] | None:
        try:
            self._file.write(json.dumps(message).encode() + b"\n")
            self._file.flush()
            line = self._file.readline(_MAX_LINE)
            answer = json.loads(line) if line else None
        except (OSError, ValueError):
            return None
        return answer if isinstance(answer, dict) else None

    def give_back(self) -> bool:
        """Hand the environment back to the keeper to reset and return (or
        replace); False when the keeper did not take it (gone meanwhile)."""
        answer = self._ask({"op": "return"})
        self.close()
        return bool(answer and answer.get("ok"))

    def release(self) -> None:
        """End the lease without handing the environment back (the claimant
        keeps it, or gives it back by labels itself)."""
        self._ask({"op": "release"})
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(OSError):
            self._sock.close()


def ask_keeper(
    path: Path, request: dict[str, Any], timeout: float = TIMEOUT
) -> tuple[Lease | None, dict[str, Any]]:
    """Ask the keeper listening at ``path`` for a claim: (the lease, the
    answer), or (None, the answer with ``why``) when it could not give one."""
    if not path.exists():
        return None, {"ok": False, "why": "no keeper socket", "reached": False}
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
        sock.sendall(json.dumps({"op": "claim", **request}).encode() + b"\n")
        reader = sock.makefile("rb")
        line = reader.readline(_MAX_LINE)
        reader.close()
        answer = json.loads(line) if line else None
    except (OSError, ValueError) as exc:
        sock.close()
        return None, {"ok": False, "why": f"the keeper did not answer ({exc})", "reached": False}
    if (
        not isinstance(answer, dict)
        or not answer.get("ok")
        or not isinstance(answer.get("env"), dict)
    ):
        sock.close()
        answer = answer if isinstance(answer, dict) else {"ok": False, "why": "a bad answer"}
        answer.setdefault("reached", True)
        return None, answer
    sock.settimeout(60.0)  # the return waits for the keeper to take it back
    return Lease(sock, str(answer["env"]["id"])), answer


# -- the keeper's side ------------------------------------------------------------------


class LeaseServer:
    """The keeper's socket: one thread per connection (a claim and its lease).

    ``claim(request)`` -> (a handle, the answer); ``returned(handle)``,
    ``released(handle)`` and ``dropped(handle)`` (the claimant disconnected
    without a word: it died) end the lease."""

    def __init__(
        self,
        path: Path,
        claim: Callable[[dict[str, Any]], tuple[Any, dict[str, Any]]],
        returned: Callable[[Any], None],
        released: Callable[[Any], None],
        dropped: Callable[[Any], None],
    ) -> None:
        self.path = path
        server_self = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                server_self._serve(self.rfile, self.wfile)

        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a dead keeper's (this one holds the pool's lock)
        self._server = socketserver.ThreadingUnixStreamServer(str(path), Handler)
        self._server.daemon_threads = True
        self._claim, self._returned, self._released, self._dropped = (
            claim,
            returned,
            released,
            dropped,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="eph-pool-leases", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _serve(self, rfile: Any, wfile: Any) -> None:
        def send(answer: dict[str, Any]) -> None:
            with contextlib.suppress(OSError):
                wfile.write(json.dumps(answer).encode() + b"\n")
                wfile.flush()

        try:
            line = rfile.readline(_MAX_LINE)
            request = json.loads(line) if line else None
        except (OSError, ValueError):
            return
        if not isinstance(request, dict) or request.get("op") != "claim":
            send({"ok": False, "why": "the first message must be a claim"})
            return
        handle, answer = self._claim(request)
        send(answer)
        if handle is None:
            return
        try:
            line = rfile.readline(_MAX_LINE)
            message = json.loads(line) if line else None
        except (OSError, ValueError):
            message = None
        op = message.get("op") if isinstance(message, dict) else None
        if op == "return":
            send({"ok": True})
            self._returned(handle)
        elif op == "release":
            send({"ok": True})
            self._released(handle)
        else:
            self._dropped(handle)
