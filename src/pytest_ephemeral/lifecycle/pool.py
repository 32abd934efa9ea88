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

The keeper holds a lock file per pool (``pytest-ephemeral-pool-<key>.lock``
in the temp dir, or ``EPH_POOL_DIR``) and writes its identity next to it.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EphemeralError
from . import labels as L

if TYPE_CHECKING:
    from ..runtime.backend import Backend
    from ..runtime.environment import Environment
    from ..spec.model import Spec
    from .inventory import EnvRecord
    from .manager import Manager

__all__ = [
    "Member",
    "claim",
    "claim_member",
    "give_back",
    "keeper_info",
    "main",
    "members",
    "pool_key",
    "reset_for_return",
]

READY = "_pool-ready"
CLAIMED = "_pool-claim"
DISCARD = "_pool-discard"
POOL_DIR_ENV = "EPH_POOL_DIR"
STATES = ("starting", "ready", "claimed", "discard", "kept")


def pool_key(spec_path: str | os.PathLike[str]) -> str:
    """The pool of a spec file, wherever it is asked from (its resolved path)."""
    return hashlib.sha256(str(Path(spec_path).resolve()).encode()).hexdigest()[:12]


def pool_dir() -> Path:
    return Path(os.environ.get(POOL_DIR_ENV) or tempfile.gettempdir())


def lock_path(key: str) -> Path:
    return pool_dir() / f"pytest-ephemeral-pool-{key}.lock"


def state_path(key: str) -> Path:
    return pool_dir() / f"pytest-ephemeral-pool-{key}.json"


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
    token = uuid.uuid4().hex
    labels = {
        L.ENV: member.id,
        L.POOL: member.pool,
        L.POOL_STATE: "claimed",
        L.CLAIM: token,
        L.CLAIMANT: str(claimant),
        L.OWNER: str(claimant),  # the claimant's reaper removes it if the claimant is killed
        L.SPEC_HASH: member.spec_hash,
        L.MARKER: "pool-claim",
        **(extra or {}),
    }
    try:
        backend.create_volume(member.id + CLAIMED, labels)
    except EphemeralError:
        return False  # an engine that refuses an existing name: someone else's
    return any(r.kind == "volume" for r in backend.list_resources({L.CLAIM: token}))


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


def claim(manager: Manager, spec: Spec) -> Environment | None:
    """A ready environment of ``spec`` from its warm pool, claimed for this
    process (``manager.pooled`` records it; :func:`give_back` at close), or
    None after one notice line saying why not (a cold start follows)."""
    started = time.monotonic()
    key = pool_key(spec.path)
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
            after = time.monotonic() - started
            manager.audit(
                "claimed",
                env,
                pool=key,
                spec_hash=spec.hash,
                claimant=str(manager.owner),
                worker=manager.worker,
                after=round(after, 3),
            )
            manager._say(f"claimed {env.id} from the warm pool in {after:.2f}s")
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


def give_back(manager: Manager, env: Environment, *, keep: bool) -> bool:
    """The end of a claim: reset ``env`` and return it to the pool, or hand it
    to the keeper to remove and replace (it cannot be reset, its keeper is
    gone: then removed here), or with ``keep`` take it out of the pool as a
    kept environment. True when kept."""
    from .removal import release, teardown

    pool = manager.pooled.pop(env.id, "")
    if env.closed:
        return False
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


# -- eph pool -----------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="eph pool",
        description="Keep environments of a spec started and seeded before a run asks for "
        "them; pytest --eph-pool claims one, resets it at the end and gives it back.",
    )
    sub = p.add_subparsers(dest="action", required=True)
    up = sub.add_parser("up", help="start a keeper for the spec's pool")
    up.add_argument("-f", "--file", metavar="SPEC", help="the spec (default: discovered)")
    up.add_argument("--size", type=int, default=2, metavar="N", help="environments (default 2)")
    up.add_argument("--ttl", default="8h", metavar="DURATION", help="the pool's life (default 8h)")
    up.add_argument("--max-starts", type=int, default=0, metavar="N", help="starting at once")
    up.add_argument("--profile", action="append", default=[], metavar="NAME")
    up.add_argument("--image-map", action="append", default=[], metavar="FROM=TO")
    up.add_argument("--timeout", default="60", metavar="SECONDS", help="readiness timeout")
    up.add_argument("--wait", action="store_true", help="return once the pool is full (all ready)")
    ls = sub.add_parser("ls", help="list the pool's environments (all pools without -f)")
    ls.add_argument("-f", "--file", metavar="SPEC")
    ls.add_argument("--json", action="store_true")
    down = sub.add_parser("down", help="stop the keeper and remove the pool's environments")
    down.add_argument("-f", "--file", metavar="SPEC")
    return p


def _err(text: str) -> None:
    print(f"eph pool: {text}", file=sys.stderr)


def main(argv: Sequence[str]) -> int:
    from ..errors import EngineUnavailableError, SpecError

    args = _parser().parse_args(list(argv))
    try:
        if args.action == "up":
            return _up(args)
        if args.action == "ls":
            return _ls(args)
        return _down(args)
    except (SpecError, _Usage) as exc:
        _err(str(exc))
        return 2
    except EngineUnavailableError as exc:
        _err(f"{exc} (the pool lives on that engine)")
        return 3
    except EphemeralError as exc:
        _err(str(exc))
        return 1
    except KeyboardInterrupt:
        _err("interrupted")
        return 130


def _settings(args: argparse.Namespace) -> Any:
    from ..config import Settings, image_map_from, parse_duration

    return Settings(
        rootdir=Path.cwd(),
        spec=args.file,
        timeout=parse_duration(str(getattr(args, "timeout", "60")), "--timeout"),
        image_map=image_map_from(getattr(args, "image_map", []), [], os.environ),
        profiles=tuple(getattr(args, "profile", [])),
        max_starts=int(getattr(args, "max_starts", 0) or 0),
        backend=os.environ.get("EPH_BACKEND", "docker"),
        hosts=tuple(h.strip() for h in os.environ.get("EPH_HOSTS", "").split(",")[:1] if h.strip()),
    )


def _spec_path(settings: Any) -> Path:
    from .manager import Manager

    try:
        return Manager(settings).spec_path()
    except (IndexError, EphemeralError) as exc:
        text = str(exc).replace("(from --eph-spec)", "(from -f)")
        raise _Usage(f"no spec found: {text}; name it with -f SPEC") from None


class _Usage(EphemeralError):
    """Bad input on the command line (exit 2)."""


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


def _up(args: argparse.Namespace) -> int:
    from ..config import parse_duration
    from .manager import Manager

    if args.size < 1:
        _err(f"--size {args.size}: give at least 1 (the environments the pool keeps ready)")
        return 2
    ttl = parse_duration(args.ttl, "--ttl")
    settings = _settings(args)
    path = _spec_path(settings)
    manager = Manager(settings)
    spec = manager.load(path)  # bad spec: one line, exit 2, before any keeper starts
    key = pool_key(path)
    if held(key):
        info = keeper_info(key) or {}
        _err(
            f"the warm pool of {_short(path)} already has a keeper (pid {info.get('pid', '?')}, "
            f"size {info.get('size', '?')}); eph pool down -f {_short(path)} first to change it"
        )
        return 1
    backend = manager.backend
    backend.version()  # an engine that is gone: one line, exit 3, before the keeper
    token = uuid.uuid4().hex[:12]
    config = {
        "key": key,
        "spec": str(path),
        "size": args.size,
        "ttl": ttl,
        "token": token,
        "rootdir": str(settings.rootdir),
        "profiles": list(settings.profiles),
        "image_map": dict(settings.image_map),
        "timeout": settings.timeout,
        "max_starts": settings.max_starts,
        "backend": settings.backend,
        "address": backend.address,
    }
    log = log_path(key)
    refused = pool_dir() / f"pytest-ephemeral-pool-{key}.{token}.refused"
    subprocess.run(
        [
            "/bin/sh",
            "-c",
            'log="$1"; shift; "$@" >>"$log" 2>&1 </dev/null &',
            "eph-pool-keeper",
            str(log),
            sys.executable,
            "-m",
            "pytest_ephemeral.lifecycle.keeper",
            json.dumps(config),
        ],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
        cwd=str(settings.rootdir),
        check=True,
    )
    deadline = time.monotonic() + 30
    keeper: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        if refused.exists():
            _err(refused.read_text(encoding="utf-8").strip())
            with contextlib.suppress(OSError):
                refused.unlink()
            return 1
        keeper = keeper_info(key)
        if keeper is not None and keeper.get("token") == token:
            break
        time.sleep(0.05)
    else:
        _err(f"the keeper did not start in 30s; see {log}")
        return 1
    print(
        f"eph pool: keeper pid {keeper['pid']} keeps {args.size} environment(s) of "
        f"{_short(path)} ready for {args.ttl} (log: {log}); eph pool ls -f {_short(path)}"
    )
    if args.wait:
        budget = settings.timeout * max(1, len(spec.services)) * args.size + 120
        return _wait_full(backend, key, spec.hash, args.size, budget)
    return 0


def _wait_full(backend: Backend, key: str, spec_hash: str, size: int, budget: float) -> int:
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        ready = [
            m for m in members(backend, key) if m.state == "ready" and m.spec_hash == spec_hash
        ]
        if len(ready) >= size:
            print(f"eph pool: {len(ready)} ready")
            return 0
        info = keeper_info(key)
        if info is None or not info.get("alive"):
            _err(f"the keeper stopped before the pool was full; see {log_path(key)}")
            return 1
        time.sleep(0.2)
    _err(f"the pool was not full after {budget:.0f}s; see {log_path(key)}")
    return 1


def _ls(args: argparse.Namespace) -> int:
    settings = _settings(args)
    key = current = None
    if args.file:
        from ..spec import load_spec

        path = _spec_path(settings)
        key = pool_key(path)
        with contextlib.suppress(EphemeralError):
            current = load_spec(path).hash
    from .manager import Manager

    backend = Manager(settings).backend
    found = members(backend, key)
    keys = {m.pool for m in found} | ({key} if key else set())
    for k in sorted(keys):
        info = keeper_info(k)
        if info is not None and not info.get("alive"):
            spec = _short(Path(str(info.get("spec", "?"))))
            _err(
                f"the keeper of the warm pool of {spec} (pid {info.get('pid')}) is gone: its "
                f"reaper removes its environments; eph pool up -f {spec} starts a new one"
            )
    rows = [m.as_json(current if key else _keeper_hash(m.pool)) for m in found]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no warm pool environments" + (f" for {args.file}" if args.file else ""))
        return 0
    print(f"{'ID':40} {'STATE':9} {'SPEC_HASH':13} CLAIMANT")
    for row in rows:
        hash_text = row["spec_hash"][:12] + ("*" if row["stale"] else "")
        claimant = row["claimant"] or ""
        print(f"{row['id']:40} {row['state']:9} {hash_text:13} {claimant}")
    if any(row["stale"] for row in rows):
        print(
            "* stale: of an earlier version of the spec (never handed out; the keeper removes it)"
        )
    return 0


def _keeper_hash(key: str) -> str | None:
    info = keeper_info(key)
    return str(info["spec_hash"]) if info and info.get("spec_hash") else None


def _down(args: argparse.Namespace) -> int:
    import signal

    from .manager import Manager
    from .removal import remove_environment

    settings = _settings(args)
    path = _spec_path(settings)
    key = pool_key(path)
    info = keeper_info(key)
    stopped = ""
    if info is not None and info.get("alive"):
        pid = int(info["pid"])
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        owner = L.Owner.parse(str(info.get("owner", "")))
        deadline = time.monotonic() + 60
        while owner is not None and owner.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        stopped = f"keeper pid {pid} stopped, "
    backend = Manager(settings).backend
    errors: list[str] = []
    removed = 0
    for m in members(backend, key):
        if m.state == "kept":
            continue  # out of the pool: eph down ID
        errors += remove_environment(backend, m.id, m.record.resources, why="eph pool down")
        removed += 1
    if not held(key):
        with contextlib.suppress(OSError):
            state_path(key).unlink()
    for error in errors:
        _err(error)
    if not stopped and not removed:
        print(f"eph pool: no warm pool for {_short(path)}")
        return 0
    print(f"eph pool: {stopped}{removed} environment(s) of {_short(path)} removed")
    return 1 if errors else 0


def remove_members(backend: Backend, found: Iterable[Member], why: str) -> list[str]:
    """Remove ``found`` (used by the keeper and ``eph pool down``)."""
    from .removal import remove_environment

    errors: list[str] = []
    for m in found:
        errors += remove_environment(backend, m.id, m.record.resources, why=why, by="pool keeper")
    return errors
