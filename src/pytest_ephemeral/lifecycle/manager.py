"""The lifecycle policy shared by both front doors (the pytest plugin and
``eph``): which environment a caller gets (new, reused, shared), its id and
labels, teardown registered before anything is created (reaper, SIGTERM,
sweep), keep and TTL at the end. Removal goes through :mod:`.removal`."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..errors import EphemeralError
from . import labels as L
from .removal import release, remove_environment, teardown

if TYPE_CHECKING:
    from ..data.external import Claim
    from ..runtime.backend import Backend
    from ..runtime.engine import EngineOptions
    from ..runtime.environment import Environment, Service
    from ..spec.model import Spec
    from .inventory import EnvRecord

__all__ = ["Manager", "new_run_id"]


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


class Manager:
    """Creates, tracks and finally removes (or keeps) the environments of one
    process. Created cheaply; touches Docker only when an environment is asked for."""

    def __init__(
        self,
        settings: Settings,
        *,
        run_id: str | None = None,
        worker: str = "main",
        backend_factory: Callable[[], Backend] | None = None,
        progress: Callable[[str], None] | None = None,
        controller: L.Owner | None = None,
    ) -> None:
        self.settings = settings
        self.run_id = run_id or new_run_id()
        self.worker = worker
        self._backend_factory = backend_factory
        self._backend: Backend | None = None
        self._progress = progress
        self._lock = threading.RLock()
        self.environments: dict[Path, Environment] = {}
        self.kept: list[Environment] = []
        self._sweeper: threading.Thread | None = None
        self._old_sigterm: object = None
        self.owner = L.current_owner()
        # under xdist: the controller process, owner of shared environments
        self.controller = controller
        self.sweep_report: dict[str, str] = {}
        # the controller's early start of the shared environment (see start_shared_early)
        self._early: threading.Thread | None = None
        self._early_cancel = threading.Event()
        # env id -> what reusing a kept environment did to its data (reset_reused)
        self.reset_notes: dict[str, tuple[str, ...]] = {}
        self._pool: list[Backend] | None = None
        self._placed: dict[str, int] = {}  # engine address -> environments placed there
        # env id -> claim token: the environments claimed from the warm pool (lifecycle/pool.py)
        self.pooled: dict[str, str] = {}
        # env id -> pool_lease.Lease: the claims of those handed out by the pool's keeper
        self.leases: dict[str, Any] = {}
        # specs loaded off the main thread whose warnings are still to be shown
        self._unwarned: list[Spec] = []
        # told about every loaded spec that has warnings (the plugin shows them)
        self.on_spec_warnings: Callable[[Spec], None] | None = None
        # told about every started environment with settings its backend could
        # not honour (Environment.notes; the plugin shows them as warnings)
        self.on_engine_notes: Callable[[Environment], None] | None = None
        # external servers (url, kind, isolate) of the specs used here: swept too
        self._servers: dict[tuple[str, str, str], None] = {}
        if settings.audit_file:  # ini eph_audit_file: this process's trail
            from .audit import configure

            configure(settings.audit_file)

    # -- engine ----------------------------------------------------------------
    @property
    def backend(self) -> Backend:
        if self._backend is None:
            if self._backend_factory is not None:
                self._backend = self._backend_factory()
            else:
                from ..backends import make_backend

                self._backend = make_backend(self.settings.backend, self._hosts()[0])
        return self._backend

    def _hosts(self) -> tuple[str | None, ...]:
        return tuple(self.settings.hosts) or (None,)

    @property
    def backends(self) -> list[Backend]:
        """One backend per engine of ``--eph-hosts`` (the first is :attr:`backend`),
        or just :attr:`backend`."""
        if self._pool is None:
            first = self.backend
            hosts = self._hosts()
            if len(hosts) == 1:
                self._pool = [first]
            else:
                from ..backends import make_backend

                self._pool = [first] + [
                    make_backend(self.settings.backend, host) for host in hosts[1:]
                ]
        return self._pool

    def _pick(self) -> Backend:
        """The engine with the most room for a new environment: the most CPUs
        per running container (this process's own placements counted at once,
        before the engine reports them). xdist workers start at the same
        moment and would all pick the same engine, so each prefers its own in
        turn (worker N the engine N mod the pool's size) while that one has at
        least half the best room. An engine that does not answer is skipped,
        with one line; none answering is an error naming them."""
        from ..errors import EngineUnavailableError

        pool = self.backends
        if len(pool) == 1:
            return pool[0]
        rooms: dict[int, float] = {}
        failures: list[str] = []
        for i, backend in enumerate(pool):
            try:
                cap = backend.capacity()
            except EngineUnavailableError as exc:
                failures.append(str(exc))
                continue
            running = cap.running + 3 * self._placed.get(backend.address, 0)
            rooms[i] = cap.cpus / (1 + running)
        if not rooms:
            raise EngineUnavailableError("no engine of --eph-hosts answers: " + "; ".join(failures))
        for failure in failures:
            self._say(f"skipping an engine: {failure}")
        best = max(rooms, key=lambda i: (rooms[i], -i))
        digits = "".join(ch for ch in self.worker if ch.isdigit())
        preferred = int(digits) % len(pool) if digits else 0
        chosen = preferred if rooms.get(preferred, 0.0) >= rooms[best] / 2 else best
        backend = pool[chosen]
        self._placed[backend.address] = self._placed.get(backend.address, 0) + 1
        shown = ", ".join(f"{pool[i].address} {room:.2f}" for i, room in rooms.items())
        self._say(f"placing on {backend.address} (room: {shown})")
        return backend

    def warm_up(self) -> threading.Thread:
        """Import the engine and make the Docker client in the background (no
        request is sent), so that the first ``environment()`` starts at once.
        Called when the tests collected here ask for an environment, before
        the first of them runs (an xdist worker waits for its tests there)."""

        def run() -> None:
            with contextlib.suppress(Exception), self._lock:
                if self.settings.pool and self._claim_early():
                    return  # the keeper handed one out: no engine client needed yet
                from ..runtime import engine  # noqa: F401
                from ..spec import load_spec  # noqa: F401

                self.backend  # noqa: B018 - the import and the client are the point
                if not (self.settings.shared and self.controller is not None):
                    self._watch(self.owner)  # this process will create an environment

        thread = threading.Thread(target=run, name="eph-warm-up", daemon=True)
        thread.start()
        return thread

    def _claim_early(self) -> bool:
        """With ``--eph-pool``: claim the default spec's environment from its
        keeper now, while pytest schedules the tests (see :meth:`warm_up`)."""
        if self.settings.shared and self.controller is not None:
            return False
        from .pool import _from_keeper, pool_key

        path = self.spec_path()
        if path in self.environments:
            return True
        spec = self.load(path, warn=False)
        env = _from_keeper(self, spec, pool_key(spec.path), time.monotonic())
        if env is None:
            return False
        if spec.diagnostics:
            self._unwarned.append(spec)  # shown by environment(), on the main thread
        self.environments[spec.path.resolve()] = env
        return True

    def spec_path(self, path: str | os.PathLike[str] | None = None) -> Path:
        """The spec for ``path`` (relative: to the rootdir), or the default spec
        (the first of its files when several merge)."""
        if path is not None:
            p = Path(path)
            return (p if p.is_absolute() else self.settings.rootdir / p).resolve()
        return self._default_specs()[0]

    def _default_specs(self) -> tuple[Path, ...]:
        from ..spec._discover import discover_specs

        s = self.settings
        found = discover_specs(
            s.rootdir,
            s.specs or ((s.spec,) if s.spec else ()),
            s.specs_ini or ((s.spec_ini,) if s.spec_ini else ()),
            invocation_dir=s.invocation_dir,
            ini_dir=s.ini_dir,
        )
        return tuple(p.resolve() for p in found)

    def load(self, path: Path, *, warn: bool = True) -> Spec:
        from ..spec import load_spec

        defaults = self._default_specs() if path == self._first_default() else (path,)
        spec = load_spec(defaults if len(defaults) > 1 else path, profiles=self.settings.profiles)
        if warn and self.on_spec_warnings is not None and spec.diagnostics:
            self.on_spec_warnings(spec)
        return spec

    def _first_default(self) -> Path | None:
        s = self.settings
        if not (s.specs and len(s.specs) > 1) and not (s.specs_ini and len(s.specs_ini) > 1):
            return None  # one file: nothing to merge
        return self._default_specs()[0]

    # -- environments ------------------------------------------------------------
    def environment(self, path: str | os.PathLike[str] | None = None) -> Environment:
        """The environment for ``path`` (default: the discovered spec), created on
        first use and then cached for this process."""
        spec_path = self.spec_path(path)
        with self._lock:
            while self._unwarned:
                early = self._unwarned.pop()
                if self.on_spec_warnings is not None:
                    self.on_spec_warnings(early)
            env = self.environments.get(spec_path)
            if env is not None:
                return env
            spec = self.load(spec_path)
            if self.settings.shared and self.controller is not None:
                return self._shared(spec)
            if self.settings.pool:  # --eph-pool: a ready one from the warm pool, if any
                from .pool import claim

                env = claim(self, spec)  # None: none ready, a cold start (a notice was said)
                if env is not None:
                    self.environments[spec.path.resolve()] = env
                    return env
            return self._create(spec)

    def start_unlisted(
        self,
        spec: Spec,
        env_id: str,
        labels: dict[str, str],
        *,
        cancel: threading.Event | None = None,
    ) -> Environment:
        """A new environment of ``spec`` that this manager does not hold (the
        warm pool's keeper starts several of one spec and hands them out):
        guards, labels (``labels`` added to the usual ones), start and seeds as
        for any other; on failure what exists is removed. The caller removes it."""
        self._prepare_guards()
        env = self._new(spec, env_id, {**self.labels_for(spec, env_id), **labels})
        self._start(env, cancel=cancel)
        return env

    def _env_id(self, spec: Spec) -> str:
        base = f"{L.safe_name(spec.name)}-{self.run_id[:8]}-{L.safe_name(self.worker)}"
        taken = {e.id for e in self.environments.values()}
        return base if base not in taken else f"{base}-{spec.hash[:6]}"

    def _prepare_guards(self) -> None:
        """Teardown registered before anything exists: the reaper for SIGKILL,
        a SIGTERM handler that unwinds like Ctrl-C, a sweep of dead runs."""
        self._watch(self.owner)
        self._trap_sigterm()
        if self._sweeper is None:
            # other runs' leftovers: removed alongside our start, not before it
            self._sweeper = threading.Thread(target=self._sweep, name="eph-sweep", daemon=True)
            self._sweeper.start()

    def _trap_sigterm(self) -> None:
        if threading.current_thread() is threading.main_thread() and self._old_sigterm is None:
            with contextlib.suppress(ValueError):
                self._old_sigterm = signal.signal(signal.SIGTERM, _sigterm_to_interrupt)

    def _sweep(self) -> None:
        from .inventory import sweep

        for backend in self.backends:
            with contextlib.suppress(EphemeralError):
                self.sweep_report.update(sweep(backend))
        if self._servers:
            from .inventory import sweep_externals

            self.sweep_report.update(sweep_externals(self._servers))

    def _watch_externals(self, spec: Spec, owner: L.Owner) -> None:
        """The external servers ``spec`` names: swept with the engines, and
        watched by a reaper of their own (which drops ``owner``'s parts);
        registered before any part is claimed."""
        from ..data.external import servers_of
        from .reaper import spawn_reaper

        servers = servers_of(spec)
        if servers:
            self._servers.update(dict.fromkeys(servers))
            spawn_reaper(owner, backend="-", externals=servers)

    def _claim(self, env: Environment) -> Claim:
        """The ownership record of ``env``'s parts of external servers."""
        from ..data.external import Claim

        owner = env.labels.get(L.OWNER) or str(self.owner)
        return Claim(env.id, owner, time.time() + self.settings.ttl, kept=env.kept)

    def _watch(self, owner: L.Owner) -> None:
        """A reaper for ``owner``'s resources (once per owner and process)."""
        from .reaper import spawn_reaper

        for backend in self.backends:
            spawn_reaper(owner, backend=backend.name, address=backend.address)

    def labels_for(
        self,
        spec: Spec,
        env_id: str,
        *,
        kept: bool = False,
        expires: float | None = None,
        owner: L.Owner | None = None,
    ) -> dict[str, str]:
        labels = L.env_labels(
            env_id=env_id,
            run_id=self.run_id,
            owner=owner or self.owner,
            spec_hash=spec.hash,
            spec_path=str(spec.path),
            spec_name=spec.name,
            worker=self.worker,
            kept=kept,
            expires=expires,
        )
        from .audit import audit_path

        trail = audit_path()
        if trail is not None:  # a sweep or reaper elsewhere records its end in this trail too
            labels[L.AUDIT] = str(trail.absolute())
        externals = [n for n, s in spec.services.items() if s.external is not None]
        if externals:  # eph down finds the parts to drop through the spec
            labels[L.EXTERNAL] = ",".join(externals)
        return labels

    def _new(
        self, spec: Spec, env_id: str, labels: dict[str, str], backend: Backend | None = None
    ) -> Environment:
        """A new Environment, whole on one engine: ``backend``, else the one
        of ``--eph-hosts`` with the most room."""
        from ..runtime.environment import Environment

        env = Environment(env_id, spec, backend or self._pick(), labels)
        env.selector = {L.ENV: env_id}
        return env

    def _start(self, env: Environment, *, cancel: threading.Event | None = None) -> None:
        """Start ``env`` (registered by the caller before this); on any failure
        remove what exists, then re-raise. Then connection details and seeds."""
        from ..runtime.engine import start_environment

        self.audit(
            "created",
            env,
            spec=str(env.spec.path),
            spec_hash=env.spec.hash,
            services=list(env.spec.services),
            worker=self.worker,
            shared=env.shared,
            kept=env.kept,
            backend=env.backend.name,
            engine=env.backend.address,
        )
        try:
            start_environment(env, self.engine_options(cancel=cancel, spec=env.spec))
            if env.notes and self.on_engine_notes is not None:
                # inside: a note turned into an error (filterwarnings) removes it too
                self.on_engine_notes(env)
        except BaseException as exc:
            teardown(env, why=f"the start failed: {type(exc).__name__}")
            raise
        self.audit("ready", env, after=env.ready_after)

    def audit(self, event: str, env: Environment, **details: Any) -> None:
        """One line of the audit trail about ``env`` (never raises)."""
        from .audit import record

        record(event, env=env.id, run=self.run_id, **details)

    def _create(self, spec: Spec, *, kept: bool = False) -> Environment:
        if self.settings.reuse and not kept:
            env = self._reuse(spec)
            if env is not None:
                self.environments[spec.path.resolve()] = env
                # so this run sees what the first one saw (issue 17)
                self.reset_notes[env.id] = tuple(reset_reused(env))
                self._say(f"reusing kept {env.id}")
                for line in self.reset_notes[env.id]:
                    self._say(f"  {line}")
                return env
        self._watch_externals(spec, self.owner)  # before the sweep starts: it sweeps them too
        self._prepare_guards()
        env_id = self._env_id(spec)
        expires = time.time() + self.settings.ttl if kept else None
        env = self._new(spec, env_id, self.labels_for(spec, env_id, kept=kept, expires=expires))
        env.kept = kept
        # registered before anything is created: close() removes whatever exists
        self.environments[spec.path.resolve()] = env
        self._say(f"starting {env_id} ({_services(len(spec.services))}) ...")
        try:
            self._start(env)
        except BaseException:
            self.environments.pop(spec.path.resolve(), None)
            raise
        self._say(_ready_line(env))
        return env

    def _say(self, text: str) -> None:
        if self._progress is not None:
            self._progress(text)

    def start_shared_early(self) -> str | None:
        """Controller of an xdist run with ``--eph-shared``: begin creating the
        default spec's shared environment now, in the background, while the
        workers start, instead of when the first test asks for it. Workers
        wait for it under the shared lock, then attach. Returns the id being
        started, or None when there is nothing to start (no spec found, a spec
        with errors: the workers report those at the tests)."""
        try:
            spec = self.load(self.spec_path())
        except EphemeralError:
            return None
        self._trap_sigterm()  # only the main thread can; the rest in the background

        def run() -> None:
            # a worker quicker to ask than this thread to take the lock creates
            # the environment itself, and this thread then finds it: no harm
            with contextlib.suppress(BaseException):
                self._shared(spec, owner=self.owner, quiet=True, cancel=self._early_cancel)

        self._early = threading.Thread(target=run, name="eph-shared-early", daemon=True)
        self._early.start()
        return self._shared_id(spec)

    def finish_early(self, timeout: float = 60.0) -> None:
        """Controller: stop an early start still under way (the run is over)
        and wait for it to leave, so what it made is in ``environments``."""
        if self._early is not None:
            self._early_cancel.set()
            self._early.join(timeout)

    def _shared_id(self, spec: Spec) -> str:
        return f"{L.safe_name(spec.name)}-{self.run_id[:8]}-shared"

    def _shared(
        self,
        spec: Spec,
        *,
        owner: L.Owner | None = None,
        quiet: bool = False,
        cancel: threading.Event | None = None,
    ) -> Environment:
        """The run's one environment for ``spec``, created by whichever process
        asks first (the controller early, or the first worker), attached to by
        the others; owned by the controller."""
        from ..runtime.engine import StartCancelled
        from .inventory import group
        from .shared import shared_lock

        controller = owner or self.controller
        assert controller is not None  # only called under xdist
        env_id = self._shared_id(spec)
        budget = self.settings.timeout * max(1, len(spec.services)) + 300
        # imports and the client before the wait, not after it: while another
        # process creates the environment, this one has nothing else to do
        backend = self.backend
        with shared_lock(self.run_id, spec.hash, budget) as error_file:
            if error_file.exists():
                raise EphemeralError(error_file.read_text(encoding="utf-8"))
            if self.settings.reuse:  # a kept environment of this spec serves every worker
                kept = self._reuse(spec)
                if kept is not None:
                    kept.shared = True
                    kept.attached = owner is None  # the controller reports it, once
                    self.reset_notes[kept.id] = (
                        "not reset: shared by every xdist worker (--eph-shared), whose tests "
                        "use its data at once; data from earlier runs stays (eph down "
                        f"{kept.id} for a fresh one)",
                    )
                    self.environments[spec.path.resolve()] = kept
                    return kept
            record = group(backend.list_resources({L.ENV: env_id})).get(env_id)
            if record is not None:
                env = self._attach(spec, record)
                if env is not None:
                    env.shared = True
                    env.attached = True
                    self.environments[spec.path.resolve()] = env
                    return env
                remove_environment(self.backend, env_id, record.resources)
            self._watch_externals(spec, controller)
            self._prepare_guards()
            self._watch(controller)  # the controller may be killed before it cleans up
            labels = self.labels_for(spec, env_id, owner=controller)
            labels[L.SHARED] = "true"
            env = self._new(spec, env_id, labels, backend)  # shared: on the first engine
            env.shared = True
            self.environments[spec.path.resolve()] = env
            if not quiet:  # the early start runs beside xdist's own output
                self._say(f"starting shared {env_id} ({_services(len(spec.services))}) ...")
            try:
                self._start(env, cancel=cancel)
            except BaseException as exc:
                self.environments.pop(spec.path.resolve(), None)
                if isinstance(exc, EphemeralError) and not isinstance(exc, StartCancelled):
                    error_file.write_text(str(exc), encoding="utf-8")
                raise
            if not quiet:
                self._say(_ready_line(env))
            return env

    def close_shared(self, *, failed: bool) -> list[str]:
        """Controller: remove (or keep) the run's shared environments once every
        worker is done. Returns the ids of the kept ones."""
        from .inventory import group
        from .shared import shared_paths

        keep = self.settings.keep == "always" or (self.settings.keep == "failed" and failed)
        kept: list[str] = []
        records = group(self.backend.list_resources({L.RUN: self.run_id, L.SHARED: "true"}))
        for env_id, rec in records.items():
            if keep:
                labels = dict(rec.resources[0].labels)
                labels.pop(L.SERVICE, None)
                self._mark_kept(env_id, labels)
                kept.append(env_id)
                continue
            remove_environment(self.backend, env_id, rec.resources)
            for path in shared_paths(self.run_id, rec.spec_hash):
                with contextlib.suppress(OSError):
                    path.unlink()
        return kept

    def engine_options(
        self, *, cancel: threading.Event | None = None, spec: Spec | None = None
    ) -> EngineOptions:
        from ..runtime.engine import EngineOptions
        from ..runtime.slots import start_slot
        from .lock import locked_digests

        s = self.settings
        return EngineOptions(
            progress=self._say,  # pulls and build steps, beside "starting ..."
            pull=s.pull,
            image_digests=locked_digests(spec) if spec is not None else {},
            default_timeout=s.timeout,
            image_map=dict(s.image_map),
            host_ip=s.host_ip,
            slot=lambda: start_slot(s.effective_max_starts),
            seeder=_seeder(self.audit, self._claim),
            cancel=cancel,
            service_label=L.SERVICE,
            build_labels={f"{L.PREFIX}.build": "true"},
        )

    def _attach(
        self, spec: Spec, record: EnvRecord, backend: Backend | None = None
    ) -> Environment | None:
        from ..runtime.engine import attach_environment

        containers = record.services()
        labels = dict(containers[next(iter(containers))].labels) if containers else {}
        labels.pop(L.SERVICE, None)
        env = attach_environment(
            backend or self.backend,
            spec,
            record.id,
            containers,
            record.resources,
            labels,
            {L.ENV: record.id},
        )
        if env is not None:
            _connect(env)
            from ..data.external import adopt_parts

            if not adopt_parts(env):  # an external service's part is gone: not whole
                return None
        return env

    def attach(self, spec: Spec, record: EnvRecord) -> Environment | None:
        """An :class:`Environment` for a running one found by its labels (``eph
        env``), with connection details; None when it is not whole and running.
        Not this process's: nothing is removed or kept for it at close."""
        return self._attach(spec, record)

    def _reuse(self, spec: Spec) -> Environment | None:
        from .inventory import inventory

        for backend in self.backends:
            for rec in inventory(backend).values():
                if not rec.kept or rec.spec_hash != spec.hash:
                    continue
                env = self._attach(spec, rec, backend)
                if env is not None:
                    env.reused = True
                    env.kept = True
                    self.audit("reused", env, spec_hash=spec.hash, created_by_run=rec.run)
                    return env
                # kept but broken (a container gone or stopped): remove, recreate
                remove_environment(backend, rec.id, rec.resources)
        return None

    # -- the end -------------------------------------------------------------------
    def mark_kept(self, env: Environment) -> None:
        """Record on the engine that ``env`` is kept, with its expiry."""
        expires = time.time() + self.settings.ttl
        self._mark_kept(env.id, self.labels_for(env.spec, env.id, kept=True, expires=expires))
        env.kept = True
        from ..data.external import mark_parts

        for error in mark_parts(env, expires, kept=True):  # on the external servers too
            self._say(f"{env.id}: {error}")

    def _mark_kept(self, env_id: str, labels: dict[str, str]) -> None:
        """A marker resource that says, on the engine itself, that ``env_id``
        is kept until its expiry (labels alone: works for any backend)."""
        expires = time.time() + self.settings.ttl
        labels = {
            **labels,
            L.KEPT: "true",
            L.EXPIRES: f"{expires:.0f}",
            L.MARKER: "kept",
        }
        with contextlib.suppress(EphemeralError):
            self.backend.create_volume(f"{env_id}_kept-{int(expires)}", labels)
        from .audit import record

        record("kept", env=env_id, run=labels.get(L.RUN, self.run_id), expires=round(expires))

    def close(self, *, failed: bool) -> list[Environment]:
        """Remove this process's environments, or keep them as the settings say.
        Returns the kept ones."""
        keep = self.settings.keep == "always" or (self.settings.keep == "failed" and failed)
        kept: list[Environment] = []
        if self._sweeper is not None:
            self._sweeper.join(timeout=60)
        with self._lock:
            envs = list(self.environments.values())
            self.environments.clear()
        for env in envs:
            if env.id in self.pooled:  # claimed from the warm pool: back to it, or removed
                from .pool import give_back

                if give_back(self, env, keep=keep):
                    kept.append(env)
                continue
            if env.closed or env.shared:
                release(env)
                if env.shared and env.reused:
                    kept.append(env)  # a kept environment, reused by every worker: stays
                continue  # a shared environment is the controller's to remove
            if keep or (env.reused and self.settings.reuse):
                if not env.reused:
                    self.mark_kept(env)
                release(env)
                kept.append(env)
                continue
            teardown(env)
        self.kept.extend(kept)
        if self._old_sigterm is not None and threading.current_thread() is threading.main_thread():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signal.SIGTERM, self._old_sigterm)  # type: ignore[arg-type]
            self._old_sigterm = None
        return kept


def _services(n: int) -> str:
    return f"{n} service" if n == 1 else f"{n} services"


def _ready_line(env: Environment) -> str:
    slowest = sorted(((t.ready or 0.0, name) for name, t in env.timeline.items()), reverse=True)[:3]
    detail = ", ".join(f"{name} {ready:.2f}s" for ready, name in slowest)
    return f"{env.id} ready in {env.ready_after or 0:.2f}s (slowest: {detail})"


def _sigterm_to_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _seeder(
    audit: Callable[..., None], claim: Callable[[Environment], Claim]
) -> Callable[[Environment, Service], None]:
    """Called by the engine for every service once it is ready: its connection
    details (kinds the data layer knows), then its seed steps, if any; what
    the data layer reports (``seeded``, ``leak_check``) goes to the audit trail."""

    def prepare(env: Environment, service: Service) -> None:
        from ..data.prepare import prepare_service

        def report(event: str, details: dict[str, object]) -> None:
            audit(event, env, **details)

        held = claim(env) if service.spec.external is not None else None
        prepare_service(env, service, report=report, claim=held)

    return prepare


def reset_reused(env: Environment) -> list[str]:
    """Put a reused kept environment back to the state its seed left, service by
    service (``data.snapshot``: template databases, Redis dumps, or the seed steps
    again); a service without ``seed:`` steps back to empty where its kind can
    (Redis: ``FLUSHALL``). One line per service: what was done, or why not."""
    from ..data.kinds import kind_of, make_snapshot
    from ..data.snapshot import reset_service
    from ..errors import DataError

    lines: list[str] = []
    stale: list[str] = []
    for name, service in env.services.items():
        if service.spec.seed:
            try:
                reset_service(env, name)
            except DataError as exc:
                lines.append(f"{name}: not reset: {exc}")
            else:
                lines.append(f"{name}: reset to its seeded state")
            continue
        emptied = False
        snap: object | None = None
        if kind_of(service, probe=False) is not None:  # by image name only: never an app
            with contextlib.suppress(DataError):
                snap = make_snapshot(env, service, adopt=True)
        if snap is not None:
            try:
                snap.reset(env, service)  # type: ignore[attr-defined]
                emptied = True
            except DataError:
                pass
            finally:
                snap.close()  # type: ignore[attr-defined]
        if emptied:
            lines.append(f"{name}: emptied (no seed: steps: its seeded state is empty)")
        else:
            stale.append(name)
    if stale:
        lines.append(
            f"{', '.join(stale)}: not reset: no seed: steps, so no seeded state to return to; "
            f"data from earlier runs stays (add seed: steps, or eph down {env.id} for a fresh one)"
        )
    return lines


def _connect(env: Environment) -> None:
    from ..data.kinds import connect

    for service in env.services.values():
        connect(service)
