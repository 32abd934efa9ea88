"""The warm pool's keeper: a detached process (``eph pool up`` starts it, in a
session of its own, not its child) that keeps ``size`` environments of one
spec in its pool (:mod:`.pool`), each created through :class:`Manager` as any
other (labels, guards, seeds; its reaper removes them if the keeper dies).

Every ``POLL`` seconds it looks at its pool on the engine and:

- removes what must go: handed back for replacement (``discard``), claimed by
  a process that is gone, of another version of the spec (stale), started by
  a keeper that is gone, left half-started; a ready one is claimed first, so
  it is never removed under a claimant that just took it;
- starts what is missing, in the background, each start holding one of
  ``--max-starts`` slots (``runtime/slots.py``) like any other start;
- re-reads the spec when its file changes.

It stops on SIGTERM (``eph pool down``) or at its TTL, removing its pool.
One keeper per pool: a lock file (``pool.lock_path``); a second one says so.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import sys
import threading
import time
import uuid
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from ..errors import EngineUnavailableError, EphemeralError
from . import labels as L
from . import pool as P

if TYPE_CHECKING:
    from ..runtime.environment import Environment
    from ..spec.model import Spec
    from .manager import Manager
    from .pool_lease import LeaseServer

__all__ = ["Keeper", "main"]

POLL = 0.5


def _log(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} keeper[{os.getpid()}]: {text}", flush=True)


class Keeper:
    def __init__(self, config: dict[str, Any], manager: Manager) -> None:
        self.key = str(config["key"])
        self.path = Path(str(config["spec"]))
        self.size = int(config["size"])
        self.expires = time.time() + float(config["ttl"])
        self.manager = manager
        self.backend = manager.backend
        self.stop = threading.Event()
        self.starting: dict[str, threading.Thread] = {}
        self.removing: dict[str, threading.Thread] = {}  # removals under way, in parallel
        self.failures = 0
        self.next_start = 0.0
        self._mtime: tuple[int, int] | None = None
        self.spec: Spec | None = None
        self.spec_error = ""
        self._lock = threading.Lock()
        self._engine_down = False
        # ready members of the current spec this keeper can hand out over its
        # socket (pool_lease), oldest first; and those handed out, by env id
        self.ready: dict[str, Environment] = {}
        self.leased: dict[str, Environment] = {}
        self.leases: LeaseServer | None = None

    # -- the spec ----------------------------------------------------------------------
    def reload(self) -> None:
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = (0, 0)
        if stamp == self._mtime:
            return
        self._mtime = stamp
        old = self.spec.hash if self.spec is not None else None
        try:
            self.spec = self.manager.load(self.path)
            self.spec_error = ""
        except EphemeralError as exc:
            self.spec, self.spec_error = None, str(exc)
            _log(f"the spec has errors, nothing is started until it is fixed: {exc}")
            return
        if old is not None and old != self.spec.hash:
            _log(f"the spec changed (hash {old[:12]} -> {self.spec.hash[:12]}): replacing")
        self.failures, self.next_start = 0, 0.0

    # -- one round ----------------------------------------------------------------------
    def judge(self, m: P.Member) -> tuple[str | None, bool]:
        """(why ``m`` must be removed or None, whether it counts toward the size)."""
        me = self.manager.owner
        current = self.spec.hash if self.spec is not None else None
        if m.state == "kept":
            return None, False  # out of the pool (a claimant's --eph-keep)
        if m.state == "discard":
            return "handed back for replacement", False
        if m.state == "claimed":
            if m.claimant is not None and m.claimant.alive() is False:
                return f"its claimant (pid {m.claimant.pid}) is gone", False
            return None, m.spec_hash == current
        if m.keeper != me:
            if m.keeper is not None and m.keeper.alive() is not False:
                return None, False  # not ours, and its keeper lives (another host)
            return "its keeper is gone", False
        if m.state == "starting":
            return "left half-started", False  # not one of ours being started
        if m.spec_hash != current:
            return f"stale (spec hash {m.spec_hash[:12]}, the spec's is now {current})", False
        return None, True

    def round(self) -> None:
        self.reload()
        # What is being started or removed, and what is held ready, before the
        # engine is asked: a start that ends while the members are listed shows
        # there as still starting, and must not be judged (or forgotten) from
        # that listing as a half-started one.
        with self._lock:
            starting = set(self.starting)
            removing = set(self.removing)
            held = set(self.ready)
        try:
            found = P.members(self.backend, self.key)
        except EngineUnavailableError as exc:
            if not self._engine_down:
                _log(f"the engine does not answer ({exc}); trying again every 5s")
            self._engine_down = True
            self.stop.wait(5)
            return
        if self._engine_down:
            _log("the engine answers again")
            self._engine_down = False
        live = 0
        for m in found:
            if m.id in starting or m.id in removing:
                continue
            why, counts = self.judge(m)
            if why is None:
                live += counts
                continue
            self.remove_later(m, why)
        self.reconcile(found, held)
        need = self.size - live - len(starting)
        if need > 0 and self.spec is not None and time.monotonic() >= self.next_start:
            for _ in range(need):
                self.start_one(self.spec)

    # -- claims handed out over the socket (pool_lease) -------------------------------
    def reconcile(self, found: list[P.Member], held: set[str]) -> None:
        """Keep the in-memory ready list true to the engine: forget what is no
        longer ready there (claimed by labels, removed), and take in ready
        members of ours it does not hold (handed back by labels). ``held``:
        the ids in the ready list before ``found`` was listed (one that came
        in since is newer than the listing)."""
        me = self.manager.owner
        ready_now = {
            m.id: m
            for m in found
            if m.state == "ready"
            and m.keeper == me
            and self.spec is not None
            and m.spec_hash == self.spec.hash
        }
        with self._lock:
            for env_id in [i for i in self.ready if i not in ready_now and i in held]:
                del self.ready[env_id]
            missing = [
                m for i, m in ready_now.items() if i not in self.ready and i not in self.leased
            ]
        for m in missing:
            if self.spec is None:
                break
            with contextlib.suppress(EphemeralError):
                env = self.manager.attach(self.spec, m.record)
                if env is not None:
                    with self._lock:
                        if m.id not in self.leased:
                            self.ready[m.id] = env

    def lease_claim(self, request: dict[str, Any]) -> tuple[Environment | None, dict[str, Any]]:
        from .pool_lease import env_to_wire

        spec = self.spec
        wanted = str(request.get("hash", ""))
        if spec is None or wanted != spec.hash:
            why = "its spec has errors" if spec is None else "it keeps another version of the spec"
            return None, {"ok": False, "why": why, "hash": spec.hash if spec else ""}
        claimant = str(request.get("owner", ""))
        owner = L.Owner.parse(claimant)
        if owner is None:
            return None, {"ok": False, "why": "a claim without a claimant"}
        extra = {L.RUN: str(request.get("run", "")), L.WORKER: str(request.get("worker", ""))}
        while True:
            with self._lock:
                if not self.ready:
                    return None, {"ok": False, "why": "none ready"}
                env_id = next(iter(self.ready))
                env = self.ready.pop(env_id)
                if env.spec.hash != wanted:
                    continue  # stale: the round removes it
                self.leased[env_id] = env
            try:
                held = P.claim_marker(self.backend, env_id, self.key, spec.hash, claimant, extra)
            except EphemeralError:
                held = False
            if held:
                _log(f"handed {env_id} to pid {owner.pid}")
                return env, {"ok": True, "env": env_to_wire(env, self.key)}
            with self._lock:  # claimed by labels meanwhile: that claimant's now
                self.leased.pop(env_id, None)

    def lease_returned(self, env: Environment) -> None:
        """A claimant handed ``env`` back: reset and return it, or replace it."""
        why = P.reset_for_return(env)
        if why is None:
            try:
                P._volume(self.backend, env.id + P.CLAIMED)
            except EphemeralError as exc:
                why = f"the claim could not be released: {exc}"
        with self._lock:
            self.leased.pop(env.id, None)
            if why is None and not self.stop.is_set():
                self.ready[env.id] = env
        if why is None:
            _log(f"{env.id} reset and returned to the pool")
            return
        self._replace(env, why)

    def lease_released(self, env: Environment) -> None:
        """The claimant keeps ``env`` (or gives it back by labels itself)."""
        with self._lock:
            self.leased.pop(env.id, None)

    def lease_dropped(self, env: Environment) -> None:
        """The claimant went away without a word (killed): what its tests did
        to ``env`` cannot be told, so it is replaced."""
        with self._lock:
            self.leased.pop(env.id, None)
        self._replace(env, "its claimant disconnected without handing it back (killed?)")

    def _replace(self, env: Environment, why: str) -> None:
        from .removal import remove_environment

        with self._lock:  # the rounds leave it alone meanwhile
            self.removing[env.id] = threading.current_thread()
        try:
            errors = remove_environment(
                self.backend, env.id, env.resources, why=why, by="pool keeper"
            )
            _log(f"removed {env.id}: {why}" + (f" ({'; '.join(errors)})" if errors else ""))
        finally:
            with self._lock:
                self.removing.pop(env.id, None)

    def remove_later(self, m: P.Member, why: str) -> None:
        """Remove ``m`` in the background (several at once: a run that hands
        back four is refilled in the time of one removal, not four)."""
        thread = threading.Thread(target=self.remove, args=(m, why), daemon=True)
        with self._lock:
            self.removing[m.id] = thread
        thread.start()

    def remove(self, m: P.Member, why: str) -> None:
        try:
            if m.state == "ready" and not P.claim_member(self.backend, m, self.manager.owner):
                return  # a claimant took it just now: it is theirs until they give it back
            errors = P.remove_members(self.backend, [m], why)
            _log(f"removed {m.id}: {why}" + (f" ({'; '.join(errors)})" if errors else ""))
        except EphemeralError as exc:
            _log(f"removing {m.id} failed: {exc}")
        finally:
            with self._lock:
                self.removing.pop(m.id, None)

    def start_one(self, spec: Spec) -> None:
        env_id = f"{L.safe_name(spec.name)[:24]}-pool-{uuid.uuid4().hex[:8]}"
        thread = threading.Thread(
            target=self._start, args=(spec, env_id), name=f"start-{env_id}", daemon=True
        )
        with self._lock:
            self.starting[env_id] = thread
        thread.start()

    def _start(self, spec: Spec, env_id: str) -> None:
        from .removal import release, remove_environment

        started = time.monotonic()
        try:
            labels = {L.POOL: self.key, L.POOL_STATE: "starting"}
            env = self.manager.start_unlisted(spec, env_id, labels, cancel=self.stop)
            P.snapshot_unseeded(env)  # so that a return can empty them again
            self.backend.create_volume(
                env_id + P.READY,
                {
                    L.ENV: env_id,
                    L.POOL: self.key,
                    L.POOL_STATE: "ready",
                    L.SPEC_HASH: spec.hash,
                    L.OWNER: str(self.manager.owner),
                    L.RUN: self.manager.run_id,
                    L.MARKER: "pool-ready",
                },
            )
            release(env)
            with self._lock:
                if not self.stop.is_set():
                    self.ready[env_id] = env
            self.failures = 0
            _log(f"{env_id} ready in {time.monotonic() - started:.2f}s")
        except BaseException as exc:  # one start: logged, retried later with a back-off
            if not self.stop.is_set():
                self.failures += 1
                delay = min(60.0, 2.0**self.failures)
                self.next_start = time.monotonic() + delay
                _log(f"{env_id} did not start: {exc} (next try in {delay:.0f}s)")
            with contextlib.suppress(EphemeralError):
                remove_environment(self.backend, env_id, why="keeper: start failed")
        finally:
            with self._lock:
                self.starting.pop(env_id, None)

    # -- the whole life --------------------------------------------------------------
    def run(self) -> int:
        _log(f"keeping {self.size} environment(s) of {self.path} (pool {self.key})")
        while not self.stop.is_set():
            if time.time() >= self.expires:
                _log("the pool's TTL is over")
                break
            try:
                self.round()
            except EphemeralError as exc:
                _log(f"round failed: {exc}")
            write_state(self)
            self.stop.wait(POLL)
        self.stop.set()
        self.shutdown()
        return 0

    def shutdown(self) -> None:
        if self.leases is not None:
            with contextlib.suppress(OSError):
                self.leases.stop()
        with self._lock:
            self.ready.clear()
            threads = list(self.starting.values()) + list(self.removing.values())
        for thread in threads:
            thread.join(timeout=60)
        with contextlib.suppress(EphemeralError):
            found = P.members(self.backend, self.key)
            mine = [m for m in found if m.state != "kept"]
            errors = P.remove_members(self.backend, mine, "the pool is down")
            _log(f"removed {len(mine)} environment(s)" + (f": {errors}" if errors else ""))


def write_state(keeper: Keeper) -> None:
    info = {
        "pid": os.getpid(),
        "owner": str(keeper.manager.owner),
        "spec": str(keeper.path),
        "spec_hash": keeper.spec.hash if keeper.spec is not None else "",
        "spec_error": keeper.spec_error,
        "size": keeper.size,
        "expires": round(keeper.expires),
        "address": keeper.backend.address,
        "token": keeper_token,
    }
    path = P.state_path(keeper.key)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    text = json.dumps(info)
    with contextlib.suppress(OSError):
        if path.read_text(encoding="utf-8") == text:
            return
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


keeper_token = ""


def _stop(keeper: Keeper) -> Any:
    def handler(signum: int, frame: FrameType | None) -> None:
        _log(f"signal {signum}: stopping")
        keeper.stop.set()

    return handler


def main(argv: list[str]) -> int:
    global keeper_token
    from ..config import Settings
    from .manager import Manager

    config: dict[str, Any] = json.loads(argv[0])
    key = str(config["key"])
    keeper_token = str(config.get("token", ""))
    lock = open(P.lock_path(key), "a+")  # noqa: SIM115 - held for the keeper's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        info = P.keeper_info(key) or {}
        text = (
            f"the warm pool of {config['spec']} already has a keeper (pid "
            f"{info.get('pid', '?')}); eph pool down -f {config['spec']} first to change it"
        )
        _log(text)
        refused = P.pool_dir() / f"pytest-ephemeral-pool-{key}.{keeper_token}.refused"
        refused.write_text(text, encoding="utf-8")
        return 1
    address = config.get("address") or None
    settings = Settings(
        rootdir=Path(str(config["rootdir"])),
        spec=str(config["spec"]),
        profiles=tuple(config.get("profiles", ())),
        image_map=dict(config.get("image_map", {})),
        timeout=float(config.get("timeout", 60.0)),
        max_starts=int(config.get("max_starts", 0)),
        backend=str(config.get("backend", "docker")),
        hosts=(str(address),) if address else (),
    )
    manager = Manager(settings, worker="pool", progress=_log)
    keeper = Keeper(config, manager)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _stop(keeper))
    try:
        keeper.reload()
        from .pool_lease import LeaseServer

        try:
            keeper.leases = LeaseServer(
                P.socket_path(key),
                keeper.lease_claim,
                keeper.lease_returned,
                keeper.lease_released,
                keeper.lease_dropped,
            )
        except OSError as exc:  # claimants claim by labels then: slower, as safe
            _log(f"no socket for claimants at {P.socket_path(key)}: {exc}")
        else:
            keeper.leases.start()
        write_state(keeper)
        return keeper.run()
    finally:
        with contextlib.suppress(OSError):
            P.state_path(key).unlink()  # before the lock goes: a new keeper writes its own
        lock.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
