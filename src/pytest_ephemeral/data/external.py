"""``external:`` services (DESIGN §10): each environment's isolated part of
a persistent server the team keeps, behind one engine-neutral seam.

A service with ``external: {url, isolate}`` is never started. Once the
engine reaches it (after its dependencies), :func:`claim_part` asks the
kind's driver (``ServiceKind.external``: ``data/postgres/external.py``,
``data/redis/external.py``) for a part of the server of this environment's
own — a database or a schema, a logical database or a key prefix — seeds it,
and keeps it on the environment (``env.snapshots``, like a snapshot: the
part *is* the service's snapshot, so ``eph_fresh`` resets it). Teardown drops
it (:func:`drop_parts`). Nothing outside the part is created, changed or
dropped, except one shared, seeded template database per seed (PostgreSQL,
``isolate: database``), which is ours and named so.

Ownership is recorded on the server itself (a comment on the database or
schema, the value of a Redis claim key), as :class:`Claim` text::

    pytest-ephemeral env=shop-1a2b3c4d-gw0 owner=host/boot/pid/start expires=1767300000

so a killed run's parts are found and dropped from any machine:
:func:`reap` (the reaper: every part of one dead owner) and :func:`sweep`
(the sweep and ``eph prune``: every part the lifecycle's judge lets go).
The lifecycle decides who is alive; this module only reads and drops.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlsplit, urlunsplit

from ..errors import DataError

if TYPE_CHECKING:
    from ..runtime.environment import Connection, Environment, Service

#: ``report(event, details)``: what the lifecycle's audit trail is told.
Report = Callable[[str, dict[str, Any]], None]

__all__ = [
    "Claim",
    "Driver",
    "ExternalError",
    "Found",
    "Part",
    "Report",
    "adopt_parts",
    "claim_part",
    "drop_env_parts",
    "drop_parts",
    "mark_parts",
    "part_of",
    "reap",
    "redact_url",
    "sweep",
]

TAG: Final = "pytest-ephemeral"
_CLAIM: Final = re.compile(
    rf"^{TAG} env=(?P<env>\S+) owner=(?P<owner>\S+) expires=(?P<expires>\d+)(?P<kept> kept)?$"
)
_PARTS_KEY: Final = "__eph_external_parts__"
_lock = threading.RLock()


class ExternalError(DataError):
    """An external server cannot give an environment an isolated part."""


@dataclass(frozen=True, slots=True)
class Claim:
    """Who holds a part: the environment, its owner process, until when."""

    env: str
    owner: str
    expires: float
    kept: bool = False

    def text(self) -> str:
        kept = " kept" if self.kept else ""
        return f"{TAG} env={self.env} owner={self.owner} expires={self.expires:.0f}{kept}"

    @classmethod
    def parse(cls, text: str | None) -> Claim | None:
        m = _CLAIM.match((text or "").strip())
        if m is None:
            return None
        return cls(m["env"], m["owner"], float(m["expires"]), kept=bool(m["kept"]))

    def renewed(self, expires: float, *, kept: bool) -> Claim:
        return replace(self, expires=expires, kept=kept)


@dataclass(frozen=True, slots=True)
class Found:
    """A part found on a server: what it is and who claims it."""

    server: str  # redacted URL
    isolate: str
    name: str
    claim: Claim

    def __str__(self) -> str:
        return f"{self.isolate} {self.name} on {self.server}"


class Part(Protocol):
    """One environment's isolated part of an external server (also the
    service's snapshot: ``reset``/``describe``/``close``)."""

    isolate: str
    name: str
    server: str

    def seed(self, env: Environment, service: Service) -> None: ...

    def connection(self) -> Connection: ...

    def reset(self, env: Environment, service: Service) -> None: ...

    def describe(self) -> str: ...

    def mark(self, expires: float, kept: bool) -> None: ...

    def drop(self) -> None: ...

    def close(self) -> None: ...


class Driver(Protocol):
    """A kind's external driver (``ServiceKind.external``)."""

    def claim(self, env: Environment, service: Service, claim: Claim) -> Part: ...

    def adopt(self, env: Environment, service: Service) -> Part | None: ...

    def owned(self, url: str, isolate: str) -> list[Found]: ...

    def drop_found(self, url: str, found: Found) -> None: ...


def redact_url(url: str) -> str:
    """``url`` without its password (for messages, the audit trail and summaries)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an unparsable URL)"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


def _driver(kind_name: str) -> Driver:
    from .kinds import kind_named

    kind = kind_named(kind_name)
    hook = kind.hook(kind.external)
    if hook is None:
        raise ExternalError(f"{kind.label} services cannot be external")
    return hook  # type: ignore[return-value]


def _parts(env: Environment) -> dict[str, Part]:
    with _lock:
        parts = env.snapshots.setdefault(_PARTS_KEY, {})
    return parts  # type: ignore[return-value]


def part_of(env: Environment, service: Service) -> Part | None:
    return _parts(env).get(service.name)


def claim_part(
    env: Environment, service: Service, claim: Claim, report: Report | None = None
) -> Part:
    """Claim ``service``'s isolated part for ``env`` (registered on ``env`` at
    once, so teardown drops it whatever happens next), set its connection and
    run its seed steps into it."""
    ext = service.spec.external
    assert ext is not None
    part = _driver(ext.kind).claim(env, service, claim)
    with _lock:
        _parts(env)[service.name] = part
    service.connection = part.connection()
    if report is not None:
        report(
            "claimed",
            {
                "service": service.name,
                "server": part.server,
                "isolate": part.isolate,
                "part": part.name,
                "expires": round(claim.expires),
            },
        )
    if service.spec.seed:
        part.seed(env, service)
    return part


def adopt_parts(env: Environment) -> bool:
    """Find the parts of an environment another process made (a shared one, a
    kept one reused) and set its external services' connections. False when
    one is gone (the environment is not whole); nothing is changed on the servers."""
    found: dict[str, Part] = {}
    for name, service in env.services.items():
        ext = service.spec.external
        if ext is None:
            continue
        try:
            part = _driver(ext.kind).adopt(env, service)
        except DataError:
            part = None
        if part is None:
            for other in found.values():
                other.close()
            return False
        found[name] = part
        service.connection = part.connection()
    with _lock:
        _parts(env).update(found)
    return True


def mark_parts(env: Environment, expires: float, *, kept: bool) -> list[str]:
    """Record a new expiry (and kept) on every part of ``env``; the errors."""
    errors = []
    for name, part in list(_parts(env).items()):
        try:
            part.mark(expires, kept)
        except DataError as exc:
            errors.append(f"service {name!r}: {exc}")
    return errors


def drop_parts(env: Environment) -> list[str]:
    """Drop every part of ``env`` (teardown); the errors (never raises)."""
    with _lock:
        held: Any = env.snapshots.pop(_PARTS_KEY, None) or {}
    parts: dict[str, Part] = dict(held)
    errors = []
    for name, part in parts.items():
        try:
            part.drop()
        except Exception as exc:  # one part's failure must not keep the others
            errors.append(f"external service {name!r}: dropping {part.name} failed: {exc}")
        finally:
            part.close()
    return errors


def _each(urls: Iterable[tuple[str, str, str]]) -> Iterable[tuple[str, str, str, Driver]]:
    for url, kind, isolate in dict.fromkeys(urls):
        try:
            yield url, kind, isolate, _driver(kind)
        except DataError:
            continue


def sweep(
    servers: Iterable[tuple[str, str, str]], judge: Callable[[Claim], str | None]
) -> tuple[list[tuple[Found, str]], list[str]]:
    """On each ``(url, kind, isolate)`` server: drop every part the ``judge``
    gives a reason for. Returns ([(part, why)], errors)."""
    dropped: list[tuple[Found, str]] = []
    errors: list[str] = []
    for url, _kind, isolate, driver in _each(servers):
        try:
            found = driver.owned(url, isolate)
        except DataError as exc:
            errors.append(str(exc))
            continue
        for item in found:
            why = judge(item.claim)
            if why is None:
                continue
            try:
                driver.drop_found(url, item)
            except DataError as exc:
                errors.append(str(exc))
                continue
            dropped.append((item, why))
    return dropped, errors


def reap(
    servers: Iterable[tuple[str, str, str]], owner: str
) -> tuple[list[tuple[Found, str]], list[str]]:
    """Drop every part that ``owner`` (a dead process) holds, kept ones aside."""
    return sweep(
        servers,
        lambda c: f"its owner {owner} is gone" if c.owner == owner and not c.kept else None,
    )


def drop_env_parts(servers: Sequence[tuple[str, str, str]], env_id: str) -> list[str]:
    """Drop the parts of environment ``env_id`` (``eph down`` of a kept one); errors."""
    _dropped, errors = sweep(servers, lambda c: "removed" if c.env == env_id else None)
    return errors


def servers_of(spec: Any) -> list[tuple[str, str, str]]:
    """``(url, kind, isolate)`` of every external service of a spec."""
    return [
        (s.external.url, s.external.kind, s.external.isolate)
        for s in spec.services.values()
        if getattr(s, "external", None) is not None
    ]
