"""What ``eph ls/down/logs/exec/prune`` do, on the same lifecycle as pytest:
environments found by labels, removed through :mod:`.removal` only."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import EnvironmentNotFoundError, EphemeralError
from .audit import record, redact_argv
from .inventory import EnvRecord, inventory, sweep
from .removal import remove_environment

if TYPE_CHECKING:
    from ..runtime.backend import Backend, ExecResult, Resource

__all__ = [
    "Placed",
    "Removed",
    "down",
    "environments",
    "environments_on",
    "exec_in",
    "find",
    "find_on",
    "logs",
    "prune",
    "prune_on",
    "service_of",
]


def environments(backend: Backend) -> list[EnvRecord]:
    """Every environment on the engine, oldest first."""
    return sorted(inventory(backend).values(), key=lambda r: r.created or 0)


def find(backend: Backend, env_id: str) -> EnvRecord:
    """The environment ``env_id`` (or the one whose id starts with it)."""
    records = inventory(backend)
    if env_id in records:
        return records[env_id]
    matches = [k for k in records if k.startswith(env_id)]
    if len(matches) == 1:
        return records[matches[0]]
    known = ", ".join(sorted(records)) or "none"
    hint = "several match; give more of the id" if matches else f"known: {known}; see `eph ls`"
    raise EnvironmentNotFoundError(f"no environment {env_id!r} on the engine ({hint})")


def service_of(rec: EnvRecord, name: str) -> Resource:
    services = rec.services()
    if name not in services:
        known = ", ".join(services) or "none left: its containers are gone; eph down it"
        raise EnvironmentNotFoundError(
            f"environment {rec.id} has no service {name!r} (services: {known})"
        )
    return services[name]


@dataclass(frozen=True, slots=True)
class Removed:
    env_id: str
    resources: int
    errors: tuple[str, ...]


def removable(backend: Backend) -> tuple[list[EnvRecord], list[EnvRecord]]:
    """``eph down --all``: (what may go, what a live run holds)."""
    free: list[EnvRecord] = []
    held: list[EnvRecord] = []
    for rec in inventory(backend).values():
        live = not rec.kept and rec.owner is not None and rec.owner.alive() is not False
        (held if live else free).append(rec)
    return free, held


def down(backend: Backend, records: Iterable[EnvRecord]) -> list[Removed]:
    return [
        Removed(
            rec.id,
            len(rec.resources),
            tuple(remove_environment(backend, rec.id, rec.resources)),
        )
        for rec in records
    ]


def _servers_here() -> list[tuple[str, str, str]]:
    """The external servers of the spec in the current folder, if there is one."""
    from ..data.external import servers_of
    from ..spec import discover_spec, load_spec

    try:
        return servers_of(load_spec(discover_spec(Path.cwd(), None, None)))
    except EphemeralError:
        return []


def prune(backend: Backend) -> dict[str, str]:
    """Remove environments whose owner is gone and that are not kept, and kept
    ones past their TTL: {env id: why}; on the external servers of the spec
    in the current folder, the parts such environments held."""
    from .inventory import sweep_externals

    removed = sweep(backend)
    servers = _servers_here()
    if servers:
        removed.update(sweep_externals(servers))
    return removed


def logs(backend: Backend, rec: EnvRecord, service: str | None, tail: int | None) -> dict[str, str]:
    names = [service] if service is not None else list(rec.services())
    containers = {name: service_of(rec, name) for name in names}
    # a look inside: recorded first, and not done when it cannot be recorded
    record("logs", env=rec.id, run=rec.run, strict=True, services=names, tail=tail)
    return {name: backend.logs(c.id, tail=tail) for name, c in containers.items()}


def audit_exec(rec: EnvRecord, service: str, cmd: list[str], *, interactive: bool) -> None:
    """The audit line of ``eph exec`` (before the command runs; raises
    :class:`~.audit.AuditError` when it cannot be written)."""
    record(
        "exec",
        env=rec.id,
        run=rec.run,
        strict=True,
        service=service,
        command=redact_argv(cmd),
        interactive=interactive,
    )


def exec_in(backend: Backend, rec: EnvRecord, service: str, cmd: list[str]) -> ExecResult:
    container = service_of(rec, service)
    audit_exec(rec, service, cmd, interactive=False)
    return backend.exec(container.id, cmd)


# -- several engines (--eph-hosts / EPH_HOSTS) -----------------------------------------


@dataclass(frozen=True, slots=True)
class Placed:
    """An environment and the engine it lives on."""

    backend: Backend
    record: EnvRecord


def environments_on(backends: Sequence[Backend]) -> tuple[list[Placed], list[str]]:
    """Every environment of every engine, and one line per engine that does
    not answer (its environments are neither listed nor counted as removed)."""
    from ..errors import EngineUnavailableError

    placed: list[Placed] = []
    unreachable: list[str] = []
    for backend in backends:
        try:
            placed += [Placed(backend, rec) for rec in environments(backend)]
        except EngineUnavailableError as exc:
            unreachable.append(str(exc))
    return placed, unreachable


def find_on(backends: Sequence[Backend], env_id: str) -> Placed:
    if len(backends) == 1:
        return Placed(backends[0], find(backends[0], env_id))
    placed, unreachable = environments_on(backends)
    exact = [p for p in placed if p.record.id == env_id]
    matches = exact or [p for p in placed if p.record.id.startswith(env_id)]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(sorted(p.record.id for p in placed)) or "none"
    hint = "several match; give more of the id" if matches else f"known: {known}; see `eph ls`"
    if unreachable and not matches:
        hint += "; not asked (unreachable): " + "; ".join(unreachable)
    raise EnvironmentNotFoundError(f"no environment {env_id!r} on the engines ({hint})")


def prune_on(backends: Sequence[Backend]) -> tuple[dict[str, str], list[str]]:
    from ..errors import EngineUnavailableError

    removed: dict[str, str] = {}
    unreachable: list[str] = []
    for backend in backends:
        try:
            removed.update(prune(backend))
        except EngineUnavailableError as exc:
            unreachable.append(str(exc))
    return removed, unreachable
