"""What is on the engine, grouped by environment, from labels alone."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..data.external import Claim
    from ..runtime.backend import Backend, Resource
from . import labels as L

__all__ = ["EnvRecord", "inventory", "judge_claim", "should_sweep", "sweep_externals"]


@dataclass(slots=True)
class EnvRecord:
    id: str
    resources: list[Resource] = field(default_factory=list)
    kept: bool = False
    expires: float | None = None
    owner: L.Owner | None = None
    run: str = ""
    spec_hash: str = ""
    spec: str = ""
    name: str = ""
    created: float | None = None

    @property
    def containers(self) -> list[Resource]:
        return [r for r in self.resources if r.kind == "container"]

    def services(self) -> dict[str, Resource]:
        """Service name -> its container (helpers a backend adds, such as the
        Swarm backend's port forwarders, carry no service label: not services)."""
        return {
            r.labels[L.SERVICE]: r
            for r in self.resources
            if r.kind == "container" and L.SERVICE in r.labels
        }


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def group(resources: Iterable[Resource]) -> dict[str, EnvRecord]:
    envs: dict[str, EnvRecord] = {}
    for r in resources:
        env_id = r.labels.get(L.ENV)
        if not env_id:
            continue
        rec = envs.setdefault(env_id, EnvRecord(env_id))
        rec.resources.append(r)
        lab = r.labels
        if lab.get(L.KEPT) == "true":
            rec.kept = True
            exp = _float(lab.get(L.EXPIRES))
            if exp is not None:
                rec.expires = max(rec.expires or 0.0, exp)
        rec.owner = rec.owner or L.Owner.parse(lab.get(L.OWNER, ""))
        rec.run = rec.run or lab.get(L.RUN, "")
        rec.spec_hash = rec.spec_hash or lab.get(L.SPEC_HASH, "")
        rec.spec = rec.spec or lab.get(L.SPEC_PATH, "")
        rec.name = rec.name or lab.get(L.SPEC_NAME, "")
        created = _float(lab.get(L.CREATED))
        if created is not None:
            rec.created = min(rec.created or created, created)
    return envs


def inventory(backend: Backend) -> dict[str, EnvRecord]:
    return group(backend.list_resources({L.ENV: None}))


def should_sweep(rec: EnvRecord, now: float | None = None) -> str | None:
    """Why ``rec`` may be removed by a sweep, or None when it must stay."""
    now = time.time() if now is None else now
    if rec.kept:
        if rec.expires is not None and rec.expires < now:
            return "kept past its TTL"
        return None
    if rec.owner is None:
        return None  # not ours to judge
    alive = rec.owner.alive()
    if alive is False:
        return f"its owner (pid {rec.owner.pid}) is gone"
    return None


def judge_claim(claim: Claim, now: float | None = None) -> str | None:
    """Why a part of an external server may be dropped, or None: past its
    expiry (from any machine), or its owner is gone (on the owner's machine)."""
    now = time.time() if now is None else now
    if claim.expires < now:
        return "kept past its TTL" if claim.kept else "past its expiry"
    owner = L.Owner.parse(claim.owner)
    if claim.kept or owner is None:
        return None
    if owner.alive() is False:
        return f"its owner (pid {owner.pid}) is gone"
    return None


def sweep_externals(
    servers: Iterable[tuple[str, str, str]], now: float | None = None
) -> dict[str, str]:
    """Drop the parts of external servers that nobody holds (as :func:`sweep`
    does on the engine); {part: reason}. Each is an audit event."""
    from ..data.external import sweep as sweep_parts
    from .audit import record

    dropped, _errors = sweep_parts(servers, lambda claim: judge_claim(claim, now))
    for found, why in dropped:
        event = "expired" if "TTL" in why or "expiry" in why else "reaped"
        env = found.claim.env if found.claim.env != "template" else ""
        record(event, env=env, part=str(found), why=why, by="sweep")
    return {str(found): why for found, why in dropped}


def sweep(backend: Backend, now: float | None = None) -> dict[str, str]:
    """Remove environments nobody holds; returns {env id: reason}. Two sweeps at
    once are safe: removing what is already gone is not an error."""
    removed: dict[str, str] = {}
    for env_id, rec in inventory(backend).items():
        why = should_sweep(rec, now)
        if why is None:
            continue
        from .removal import remove_environment

        # the audit trail: a kept one past its TTL "expired", a dead owner's "reaped"
        event = "expired" if rec.kept else "reaped"
        if remove_environment(backend, env_id, rec.resources, event=event, why=why, by="sweep"):
            continue  # not removed (engine unreachable, ...): not reported as removed
        removed[env_id] = why
    return removed
