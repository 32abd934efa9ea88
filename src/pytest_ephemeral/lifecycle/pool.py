"""The warm pool (DESIGN.md §11): environments of a spec started before a run
asks for them, by a keeper (:mod:`.keeper`), claimed by ``pytest --eph-pool``.

Everything is told by labels on the engine, so it works across processes,
runs and xdist workers with no other shared state:

- a member's containers, networks and volumes carry ``POOL`` (the pool's key,
  from the spec's path) and the keeper as their ``OWNER`` (its reaper removes
  them if it dies);
- ``<env>_pool-ready``: a volume the keeper makes once the environment is up
  and seeded (labels cannot change on a running container);
- ``<env>_pool-claim``: a volume the claimant makes with its identity
  (``CLAIMANT``, and ``OWNER``: the claimant's reaper removes the whole
  environment if the claimant is killed) and a token of its own. Creating a
  volume of a name that exists gives back the existing one, so the claimant
  whose token the volume carries holds the claim, whoever else tried: an
  atomic test-and-set on the engine itself;
- ``<env>_pool-discard``: the claimant could not reset it (or the keeper is
  gone): the keeper removes it and starts another.

A claimant that reaches the keeper's socket asks the keeper instead, which
makes the same claim marker for it (:mod:`.pool_lease`): no Docker client in
the claimant, and the reset after the claimant's run, in the keeper.

The keeper holds a lock file per pool (``pytest-ephemeral-pool-<key>.lock``
in the temp dir, or ``EPH_POOL_DIR``) and writes its identity next to it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import random
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import EphemeralError
from . import labels as L

if TYPE_CHECKING:
    from ..runtime.backend import Backend
    from ..runtime.environment import Environment
    from ..spec.model import Spec
    from .inventory import EnvRecord

__all__ = [
    "Claimant",
    "Member",
    "claim",
    "claim_member",
    "give_back",
    "held",
    "keeper_info",
    "members",
    "pool_key",
    "reset_for_return",
]

READY = "_pool-ready"
CLAIMED = "_pool-claim"
DISCARD = "_pool-discard"
POOL_DIR_ENV = "EPH_POOL_DIR"
STATES = ("starting", "ready", "claimed", "discard", "kept")


class Claimant(Protocol):
    """What claiming and giving back need of the process's lifecycle manager
    (:class:`~.manager.Manager`)."""

    run_id: str
    worker: str
    owner: L.Owner
    pooled: dict[str, str]
    leases: dict[str, Any]  # env id -> pool_lease.Lease: claims the keeper handed out

    @property
    def backend(self) -> Backend: ...

    def _prepare_guards(self) -> None: ...

    def attach(self, spec: Spec, record: EnvRecord) -> Environment | None: ...

    def audit(self, event: str, env: Environment, **details: Any) -> None: ...

    def _say(self, text: str) -> None: ...

    def _mark_kept(self, env_id: str, labels: dict[str, str]) -> None: ...


def pool_key(spec_path: str | os.PathLike[str]) -> str:
    """The pool of a spec file, wherever it is asked from (its resolved path)."""
    return hashlib.sha256(str(Path(spec_path).resolve()).encode()).hexdigest()[:12]


def pool_dir() -> Path:
    return Path(os.environ.get(POOL_DIR_ENV) or tempfile.gettempdir())


def lock_path(key: str) -> Path:
    return pool_dir() / f"pytest-ephemeral-pool-{key}.lock"


def state_path(key: str) -> Path:
    return pool_dir() / f"pytest-ephemeral-pool-{key}.json"


def socket_path(key: str) -> Path:
    """The keeper's socket (:mod:`.pool_lease`): beside its lock file, or (a
    Unix socket's path has at most 107 bytes) in the temp dir under a name
    derived from that path."""
    path = pool_dir() / f"pytest-ephemeral-pool-{key}.sock"
    if len(os.fsencode(path)) < 100:
        return path
    digest = hashlib.sha256(os.fsencode(path)).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / f"eph-pool-{digest}.sock"


def log_path(key: str) -> Path:
    return pool_dir() / f"pytest-ephemeral-pool-{key}.log"


@dataclass(frozen=True, slots=True)
class Member:
    """One environment of a pool, as the engine's labels tell it."""

    id: str
    state: str  # starting | ready | claimed | discard | kept
    spec_hash: str
    pool: str
    spec: str
    keeper: L.Owner | None  # who started it (the owner of its containers)
    claimant: L.Owner | None
    record: EnvRecord

    def as_json(self, current_hash: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "spec_hash": self.spec_hash,
            "stale": current_hash is not None and self.spec_hash != current_hash,
            "pool": self.pool,
            "spec": self.spec,
            "keeper": str(self.keeper) if self.keeper else None,
            "claimant": str(self.claimant) if self.claimant else None,
        }


def members(backend: Backend, key: str | None = None) -> list[Member]:
    """The members of pool ``key`` (None: of every pool) on ``backend``."""
    from .inventory import group

    out: list[Member] = []
    for env_id, rec in sorted(group(backend.list_resources({L.POOL: key})).items()):
        states = {r.labels.get(L.POOL_STATE, "") for r in rec.resources}
        keeper = claimant = None
        spec_hash = ""
        for r in rec.resources:
            lab = r.labels
            if lab.get(L.POOL_STATE) == "starting":
                keeper = keeper or L.Owner.parse(lab.get(L.OWNER, ""))
                spec_hash = spec_hash or lab.get(L.SPEC_HASH, "")
            if lab.get(L.POOL_STATE) == "claimed":
                claimant = L.Owner.parse(lab.get(L.CLAIMANT, ""))
        if rec.kept:
            state = "kept"
        elif "discard" in states:
            state = "discard"
        elif "claimed" in states:
            state = "claimed"
        elif "ready" in states:
            state = "ready"
        else:
            state = "starting"
        pool = next((r.labels[L.POOL] for r in rec.resources if r.labels.get(L.POOL)), "")
        out.append(
            Member(
                env_id,
                state,
                spec_hash or rec.spec_hash,
                pool,
                rec.spec,
                keeper,
                claimant,
                rec,
            )
        )
    return out


def _volume(backend: Backend, name: str) -> None:
    from ..runtime.backend import Resource

    backend.remove([Resource("volume", name, name, {})])


def claim_member(
    backend: Backend, member: Member, claimant: L.Owner, extra: dict[str, str] | None = None
) -> bool:
    """Test-and-set the claim marker of ``member`` for ``claimant``: True when
    this call holds the claim (the marker carries its token), False when
    someone else does."""
    return claim_marker(backend, member.id, member.pool, member.spec_hash, claimant, extra)


def claim_marker(
    backend: Backend,
    env_id: str,
    pool: str,
    spec_hash: str,
    claimant: L.Owner | str,
    extra: dict[str, str] | None = None,
) -> bool:
    """The claim marker of ``env_id`` for ``claimant`` (see :func:`claim_member`;
    the keeper makes it for the claimants it hands environments to)."""
    token = uuid.uuid4().hex
    labels = {
        L.ENV: env_id,
        L.POOL: pool,
        L.POOL_STATE: "claimed",
        L.CLAIM: token,
        L.CLAIMANT: str(claimant),
        L.OWNER: str(claimant),  # removed with the claimant if it is killed (reaper, keeper)
        L.SPEC_HASH: spec_hash,
        L.MARKER: "pool-claim",
        **(extra or {}),
    }
    try:
        held = backend.claim_volume(env_id + CLAIMED, labels)
    except EphemeralError:
        return False  # an engine that refuses an existing name: someone else's
    return held.get(L.CLAIM) == token


def _alive(owner: L.Owner | None) -> bool:
    """Alive, or on another host (cannot be told: trusted)."""
    return owner is not None and owner.alive() is not False


def keeper_info(key: str) -> dict[str, Any] | None:
    """What the keeper of pool ``key`` wrote about itself, with ``alive``; None
    when no keeper ever ran (or ``eph pool down`` cleaned up)."""
    try:
        info: dict[str, Any] = json.loads(state_path(key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    owner = L.Owner.parse(str(info.get("owner", "")))
    info["alive"] = _alive(owner)
    return info


def claim(manager: Claimant, spec: Spec) -> Environment | None:
    """A ready environment of ``spec`` from its warm pool, claimed for this
    process (``manager.pooled`` records it; :func:`give_back` at close), or
    None after one notice line saying why not (a cold start follows)."""
    started = time.monotonic()
    key = pool_key(spec.path)
    env = _from_keeper(manager, spec, key, started)
    if env is not None:
        return env
    backend = manager.backend
    found = members(backend, key)
    fresh = [m for m in found if m.spec_hash == spec.hash and m.state != "kept"]
    ready = [m for m in fresh if m.state == "ready" and _alive(m.keeper)]
    name = _short(spec.path)
    if ready:
        manager._prepare_guards()  # our reaper before our claim marker exists
        random.shuffle(ready)  # several workers at once: spread, rather than all try one
        for m in ready:
            extra = {L.RUN: manager.run_id, L.WORKER: manager.worker}
            if not claim_member(backend, m, manager.owner, extra):
                continue
            env = manager.attach(spec, m.record)
            if env is None:  # not whole any more: ours to remove
                from .removal import remove_environment

                remove_environment(backend, m.id, m.record.resources, why="not whole when claimed")
                continue
            manager.pooled[env.id] = m.pool
            _claimed(manager, env, spec, key, started)
            return env
    keeper = keeper_info(key)
    if not found and (keeper is None or not keeper.get("alive")):
        if keeper is not None:
            why = f"the keeper of the warm pool of {name} (pid {keeper.get('pid')}) is gone"
        else:
            why = f"no warm pool for {name}"
        manager._say(f"{why} (eph pool up -f {name} --size N starts one): a cold start")
    elif found and not fresh:
        hashes = ", ".join(sorted({m.spec_hash[:12] for m in found}))
        manager._say(
            f"the warm pool of {name} holds environments of another version of it (spec "
            f"hash {hashes}; this run's is {spec.hash[:12]}: the file changed, or other "
            "profiles): not used, its keeper replaces them; a cold start"
        )
    else:
        counts: dict[str, int] = {}
        for m in fresh:
            counts[m.state] = counts.get(m.state, 0) + 1
        detail = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "none"
        manager._say(f"the warm pool of {name} has no ready environment ({detail}): a cold start")
    return None


def _from_keeper(manager: Claimant, spec: Spec, key: str, started: float) -> Environment | None:
    """A claim handed out by the keeper over its socket (:mod:`.pool_lease`),
    or None (no keeper answering, none ready: the caller claims by labels)."""
    if any(s.external is not None for s in spec.services.values()):
        return None  # the parts on external servers are adopted by the claimant's own claim
    from .pool_lease import LazyBackend, ask_keeper, env_from_wire

    request = {
        "hash": spec.hash,
        "owner": str(manager.owner),
        "run": manager.run_id,
        "worker": manager.worker,
    }
    lease, answer = ask_keeper(socket_path(key), request)
    if lease is None:
        return None
    env = env_from_wire(spec, answer["env"], LazyBackend(lambda: manager.backend))
    if env is None:  # not of this spec after all: back to the keeper, untouched
        lease.give_back()
        return None
    from ..data.kinds import connect

    for service in env.services.values():
        connect(service)
    manager.pooled[env.id] = key
    manager.leases[env.id] = lease
    _claimed(manager, env, spec, key, started, by="keeper")
    return env


def _claimed(
    manager: Claimant, env: Environment, spec: Spec, key: str, started: float, by: str = ""
) -> None:
    after = time.monotonic() - started
    manager.audit(
        "claimed",
        env,
        pool=key,
        spec_hash=spec.hash,
        claimant=str(manager.owner),
        worker=manager.worker,
        after=round(after, 3),
        **({"by": by} if by else {}),
    )
    how = " (handed out by its keeper)" if by == "keeper" else ""
    manager._say(f"claimed {env.id} from the warm pool in {after:.2f}s{how}")


def snapshot_unseeded(env: Environment) -> None:
    """Snapshot the services without ``seed:`` whose kind can take one (their
    first, empty state), so that :func:`reset_for_return` can put them back
    to it: the keeper does this once a member is up. A kind that keeps its
    snapshot in the server (PostgreSQL's template databases) needs it; one
    that cannot take one is left to be told at the return."""
    from ..data.kinds import kind_of, make_snapshot
    from ..errors import DataError

    for service in env.services.values():
        if service.spec.seed or service.spec.external is not None:
            continue
        if kind_of(service, probe=False) is None:
            continue
        with contextlib.suppress(DataError):
            snap: Any = make_snapshot(env, service, adopt=False)
            if snap is not None:
                snap.close()


def reset_for_return(env: Environment) -> str | None:
    """Put ``env`` back to the state its seed left (``data.snapshot``), so the
    next claimant sees what the first one did; a service without ``seed:``
    steps back to empty where its kind can (Redis: ``FLUSHALL``). Returns
    why it cannot be returned (a failed reset, a service whose state cannot
    be told: its files may have changed), or None."""
    from ..data.kinds import kind_of, make_snapshot
    from ..data.snapshot import reset_environment
    from ..errors import DataError

    try:
        reset_environment(env)
    except DataError as exc:
        return f"not reset: {exc}"
    for name, service in env.services.items():
        if service.spec.seed:
            continue
        snap: Any = None
        if kind_of(service, probe=False) is not None:
            with contextlib.suppress(DataError):
                snap = make_snapshot(env, service, adopt=True)
        if snap is None:
            return (
                f"service {name!r} has no seed: steps and no kind whose data can be emptied, "
                "so what the tests changed in it cannot be undone"
            )
        try:
            snap.reset(env, service)
        except DataError as exc:
            return f"service {name!r} not emptied: {exc}"
        finally:
            snap.close()
    return None


def give_back(manager: Claimant, env: Environment, *, keep: bool) -> bool:
    """The end of a claim: reset ``env`` and return it to the pool, or hand it
    to the keeper to remove and replace (it cannot be reset, its keeper is
    gone: then removed here), or with ``keep`` take it out of the pool as a
    kept environment. True when kept."""
    from .removal import release, teardown

    pool = manager.pooled.pop(env.id, "")
    lease = manager.leases.pop(env.id, None)
    if env.closed:
        if lease is not None:
            lease.release()
        return False
    if lease is not None:
        if keep:
            lease.release()  # the keeper forgets it: kept by labels, below
        elif lease.give_back():
            env.closed = True  # the keeper resets and returns it (or replaces it), after us
            manager.audit("returned", env, pool=pool, by="keeper")
            return False
        # else the keeper is gone: handed back by labels, below
    backend = env.backend
    if keep:
        labels = {k: v for k, v in env.labels.items() if k != L.SERVICE}
        # the kept marker carries the keeper as OWNER, so its reaper leaves it too
        manager._mark_kept(env.id, labels)
        env.kept = True
        for suffix in (READY, CLAIMED):
            with contextlib.suppress(EphemeralError):
                _volume(backend, env.id + suffix)
        release(env)
        manager.audit("unpooled", env, pool=pool, why="kept")
        manager._say(f"kept {env.id}: out of the warm pool now (eph down {env.id} removes it)")
        return True
    keeper = L.Owner.parse(env.labels.get(L.OWNER, ""))
    why = None if _alive(keeper) else "its keeper is gone"
    if why is None:
        why = reset_for_return(env)
    if why is None:
        release(env)
        try:
            _volume(backend, env.id + CLAIMED)
        except EphemeralError as exc:  # still claimed: the reaper's, when we are gone
            why = f"the claim could not be released: {exc}"
        else:
            env.closed = True
            manager.audit("returned", env, pool=pool)
            return False
    if why == "its keeper is gone":
        teardown(env, why=f"returned to the warm pool: {why}")
        return False
    labels = {
        L.ENV: env.id,
        L.POOL: pool,
        L.POOL_STATE: "discard",
        L.OWNER: env.labels.get(L.OWNER, ""),
        L.MARKER: "pool-discard",
    }
    release(env)
    try:
        backend.create_volume(env.id + DISCARD, labels)
    except EphemeralError:
        teardown(env, why=f"returned to the warm pool: {why}")
        return False
    env.closed = True
    manager.audit("discarded", env, pool=pool, why=why)
    manager._say(f"{env.id}: {why}; its keeper removes it and starts another")
    return False


def _short(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(Path.cwd()))
    return str(path)


def remove_members(backend: Backend, found: Iterable[Member], why: str) -> list[str]:
    """Remove ``found`` (used by the keeper and ``eph pool down``)."""
    from .removal import remove_environment

    errors: list[str] = []
    for m in found:
        errors += remove_environment(backend, m.id, m.record.resources, why=why, by="pool keeper")
    return errors


def held(key: str) -> bool:
    """Whether a keeper holds pool ``key``'s lock now."""
    path = lock_path(key)
    if not path.exists():
        return False
    with open(path, "a+") as fd:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
    return False
