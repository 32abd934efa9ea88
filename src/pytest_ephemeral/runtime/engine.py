"""The topology engine: plan, parallel start along the dependency graph,
readiness, teardown. One path for every front door (pytest, ``eph``)."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import re
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import EphemeralError, PortTakenError, ServiceStartError
from ..spec.model import BuildSpec, ServiceSpec, Spec, WaitSpec
from ..spec.model import EngineOptions as SpecEngineOptions
from .backend import (
    Backend,
    ContainerRequest,
    ContainerState,
    FileEntry,
    ModuleRequest,
    Mount,
    PortBinding,
    Resource,
    port_key,
)
from .environment import Connection, Environment, Service, ServiceTimes
from .images import context_files, dockerfile_bases, image_with_digest, should_pull
from .streams import RECHECK, EventWatch, LogFollower
from .waits import Probe

__all__ = [
    "EngineOptions",
    "StartCancelled",
    "attach_environment",
    "remove_resources",
    "start_environment",
]

LOG_TAIL = 50


@dataclass(frozen=True, slots=True)
class EngineOptions:
    default_timeout: float = 60.0
    image_map: Mapping[str, str] = field(default_factory=dict)
    host_ip: str = "127.0.0.1"
    # called around each environment start to bound concurrent starts
    slot: Callable[[], contextlib.AbstractContextManager[object]] | None = None
    # called for every service once it is ready (the lifecycle's hook for the
    # data layer: connection details, seed steps): (environment, service) -> None
    seeder: Callable[[Environment, Service], None] | None = None
    # set from outside to stop a start in progress (it then raises StartCancelled)
    cancel: threading.Event | None = None
    # the label naming a container's service, and the labels of built images
    # (the lifecycle owns label names; the engine only applies them)
    service_label: str = ""
    build_labels: Mapping[str, str] = field(default_factory=dict)
    # progress lines while a start runs (pulls, build steps); engine-neutral text
    progress: Callable[[str], None] | None = None
    # --eph-pull: overrides every service's pull_policy (None: each service's own)
    pull: str | None = None
    # image name in the spec -> digest (sha256:...) from the spec's lock file
    image_digests: Mapping[str, str] = field(default_factory=dict)


class StartCancelled(EphemeralError):
    """The start was cancelled from outside (the run ended first)."""


class _Aborted(Exception):
    """Another service failed; this one stops quietly."""


def map_image(image: str, image_map: Mapping[str, str]) -> str:
    return image_map.get(image, image)


# folders whose changes never bust the build cache (they are still sent)
_DIGEST_SKIPS = frozenset((".git", "__pycache__", ".venv"))


def context_digest(context: Path, recipe: str, dockerfile: str | None = None) -> str:
    """A digest of a build context: the ``recipe`` (Dockerfile name, args,
    target) and every file that is sent (``.dockerignore`` applied, as for
    the context itself: :func:`~pytest_ephemeral.runtime.images.context_files`),
    by path and content (a symbolic link by its target)."""
    h = hashlib.sha256(recipe.encode())
    for rel in context_files(context, dockerfile):
        if _DIGEST_SKIPS.intersection(rel.split("/")):
            continue
        path = context / rel
        h.update(b"\0" + rel.encode() + b"\0")
        with contextlib.suppress(OSError):
            if path.is_symlink():
                h.update(b"->" + str(path.readlink()).encode())
            elif path.is_file():
                h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _effective_waits(
    svc: ServiceSpec, image_test: tuple[str, ...] | None, needs_completion: bool
) -> tuple[WaitSpec, ...]:
    waits = list(svc.waits)
    if needs_completion and not any(w.kind == "completed" for w in waits):
        waits.append(WaitSpec("completed"))
    if waits:
        return tuple(waits)
    hc = svc.healthcheck
    if (hc is not None and not hc.disable and hc.test and hc.test[0] != "NONE") or (
        image_test is not None and (hc is None or not hc.disable)
    ):
        return (WaitSpec("healthcheck"),)
    return tuple(WaitSpec("port", port=p.container_port) for p in svc.ports if p.protocol == "tcp")


def _safe(text: str) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "-", text.lower()).strip("-.") or "x"


class _Start:
    """The state of one environment start: a thread per service, events per
    milestone, one abort flag."""

    def __init__(self, env: Environment, opts: EngineOptions) -> None:
        self.env = env
        self.opts = opts
        self.backend = env.backend
        self.spec = env.spec
        self.t0 = time.monotonic()
        self.abort = threading.Event()
        self.started = {n: threading.Event() for n in self.spec.services}
        self.ready = {n: threading.Event() for n in self.spec.services}
        self.errors: list[BaseException] = []
        self.lock = threading.Lock()
        self.needs_completion = {
            d.service
            for s in self.spec.services.values()
            for d in s.depends_on
            if d.condition == "service_completed_successfully"
        }
        self.default_network = f"{env.id}_default"
        self.built: dict[str, threading.Lock] = {}
        # what the backend could not honour: key -> (text, services)
        self.noted: dict[str, tuple[str, list[str]]] = {}

    def now(self) -> float:
        return round(time.monotonic() - self.t0, 3)

    def labels(self, **extra: str) -> dict[str, str]:
        return {**self.env.labels, **extra}

    def run(self) -> None:
        env = self.env
        networks = {"default": self.default_network}
        for net in self.spec.networks:
            if net != "default":
                networks[net] = f"{env.id}_{net}"
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(self._make_network, networks.values()))
            list(pool.map(self._make_volume, [f"{env.id}_{v}" for v in self.spec.volumes]))
        self.networks = networks
        # before any container exists, so that no event of theirs is missed
        self.events: EventWatch | None = (
            self.backend.watch_events(dict(env.selector)) if env.selector else None
        )
        try:
            self._run_services()
        finally:
            if self.events is not None:
                self.events.close()
            order = list(self.spec.services)
            self.env.notes = [
                f"{', '.join(f'services.{s}' for s in sorted(services, key=order.index))}: {text}"
                for text, services in self.noted.values()
            ]

    def _note(self, name: str, key: str, text: str) -> None:
        """A setting of ``name`` the backend cannot honour: once per key."""
        with self.lock:
            _text, services = self.noted.setdefault(key, (text, []))
            if name not in services:
                services.append(name)

    def _run_services(self) -> None:
        env = self.env
        threads = [
            threading.Thread(
                target=self._service, args=(name,), name=f"eph-{env.id}-{name}", daemon=True
            )
            for name in self.spec.services
        ]
        for t in threads:
            t.start()
        cancel = self.opts.cancel
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.1)
                    if cancel is not None and cancel.is_set() and not self.abort.is_set():
                        self.abort.set()
                        stop = StartCancelled(f"the start of {env.id} was cancelled")
                        self.errors.insert(0, stop)
        except BaseException:
            self.abort.set()
            for t in threads:
                t.join(10)
            raise
        if self.errors:
            # the first real failure, not the services aborted because of it
            raise self.errors[0]
        env.ready_after = self.now()

    def _make_network(self, name: str) -> None:
        if self.abort.is_set() or (self.opts.cancel is not None and self.opts.cancel.is_set()):
            return
        nid = self.backend.create_network(name, self.labels())
        self.env.record(Resource("network", nid, name, self.labels()))

    def _make_volume(self, name: str) -> None:
        vid = self.backend.create_volume(name, self.labels())
        self.env.record(Resource("volume", vid, name, self.labels()))

    def _fail(self, exc: BaseException) -> None:
        with self.lock:
            if not isinstance(exc, _Aborted):
                self.errors.append(exc)
        self.abort.set()

    def _wait_event(self, event: threading.Event, deadline: float, what: str, name: str) -> None:
        while not event.wait(0.02):
            if self.abort.is_set():
                raise _Aborted
            if time.monotonic() > deadline:
                raise ServiceStartError(name, f"timed out waiting for {what}", env_id=self.env.id)

    def _service(self, name: str) -> None:
        try:
            self._service_inner(name)
        except BaseException as exc:
            self._fail(exc)

    def _say(self, text: str) -> None:
        if self.opts.progress is not None:
            with contextlib.suppress(Exception):  # progress is never worth a failure
                self.opts.progress(text)

    def _policy(self, svc: ServiceSpec) -> tuple[str, float | None]:
        """The service's pull policy and period; ``--eph-pull`` wins."""
        if self.opts.pull is not None:
            return self.opts.pull, None
        return svc.pull_policy, svc.pull_refresh

    def _ensure(
        self, name: str, image: str, policy: str, refresh: float | None, given: str
    ) -> bool:
        """Make sure the engine has ``image`` as ``policy`` says: pull it when
        missing (or always, or when older than the period), or refuse.
        Returns whether it was pulled."""
        backend = self.backend
        exists = backend.image_exists(image)
        created = None
        if exists and policy in ("daily", "weekly", "every"):
            created = backend.image_created(image)
        if policy == "build" and not exists:
            policy = "never"  # an image-only service whose image is to be built elsewhere
        mapped = f" (mapped from {given!r})" if image != given else ""
        if not should_pull(policy, refresh, exists, created, time.time()):
            if exists:
                return False
            raise ServiceStartError(
                name,
                f"image {image!r}{mapped} is not on the engine and pull_policy is {policy} "
                "(the spec's pull_policy or --eph-pull); pull or build it first, "
                "allow pulls with --eph-pull missing, or map it to a local image with "
                "--eph-image-map FROM=TO",
                env_id=self.env.id,
            )
        with self.lock:  # one pull per image within this start (the backend: across processes)
            lock = self.built.setdefault(f"pull {image}", threading.Lock())
        with lock:
            if f"pulled {image}" in self.built:
                return True
            try:
                backend.pull_image(image, self.opts.progress)
            except EphemeralError as exc:
                raise ServiceStartError(name, f"{exc}{mapped}", env_id=self.env.id) from None
            self.built[f"pulled {image}"] = lock
        return True

    def _image(self, name: str, svc: ServiceSpec) -> str:
        policy, refresh = self._policy(svc)
        if svc.build is not None:
            return self._build(name, svc.build, policy, refresh)
        if svc.image is None:  # the loader guarantees image or build
            raise ServiceStartError(name, "neither image nor build given", env_id=self.env.id)
        image = map_image(svc.image, self.opts.image_map)
        digest = self.opts.image_digests.get(svc.image)
        if digest:  # the lock file pins it
            image = image_with_digest(image, digest)
        self._ensure(name, image, policy, refresh, svc.image)
        return image

    def _build(self, name: str, b: BuildSpec, policy: str, refresh: float | None) -> str:
        backend = self.backend
        recipe = f"{b.dockerfile}|{sorted(b.args.items())}|{b.target}"
        digest = context_digest(b.context, recipe, b.dockerfile)
        tag = f"eph-build/{_safe(self.spec.name)}-{_safe(name)}:{digest}"
        with self.lock:
            lock = self.built.setdefault(tag, threading.Lock())
        with lock:
            # the hot path: built before, and the policy refreshes no base
            if policy in ("missing", "never") and backend.image_exists(tag):
                return tag
            # the images it builds on, pulled as the policy says (the image map first);
            # a base refreshed means a new build (Docker's layer cache keeps it quick)
            base_policy = "missing" if policy == "build" else policy
            try:
                text = (b.context / b.dockerfile).read_text(encoding="utf-8")
            except OSError as exc:
                raise ServiceStartError(
                    name, f"cannot read {b.context / b.dockerfile}: {exc}", env_id=self.env.id
                ) from None
            base_map = dict(self.opts.image_map)
            pulled = False
            for base in dockerfile_bases(text, b.args):
                mapped = map_image(base, self.opts.image_map)
                pinned = self.opts.image_digests.get(base)
                if pinned:  # the lock file pins it
                    mapped = base_map[base] = image_with_digest(mapped, pinned)
                pulled = self._ensure(name, mapped, base_policy, refresh, base) or pulled
            refreshed_only = policy not in ("build", "missing", "never") and not pulled
            if refreshed_only and backend.image_exists(tag):  # bases fresh, built before
                return tag
            self._say(f"building {name} ({b.context}) ...")

            def step(line: str) -> None:
                self._say(f"building {name}: {line}")

            try:
                backend.build_image(
                    str(b.context),
                    b.dockerfile,
                    tag,
                    b.args,
                    b.target,
                    self.opts.build_labels,
                    base_map,
                    progress=step if self.opts.progress is not None else None,
                )
            except EphemeralError as exc:
                text = str(exc)
                first, _, rest = text.partition("\n")
                raise ServiceStartError(
                    name,
                    f"build failed: {first}",
                    env_id=self.env.id,
                    log_tail=rest.splitlines()[-LOG_TAIL:],
                ) from None
        return tag

    def _request(
        self, name: str, svc: ServiceSpec, image: str, files: tuple[FileEntry, ...], replica: int
    ) -> ContainerRequest:
        env = self.env
        nets = self._networks_of(name, svc)
        mounts = tuple(
            Mount(
                kind=m.type,
                target=m.target,
                source=f"{env.id}_{m.source}" if m.type == "volume" and m.source else m.source,
                read_only=m.read_only,
                subpath=m.subpath,
            )
            for m in svc.volumes
        )
        service_label = {self.opts.service_label: name} if self.opts.service_label else {}
        return ContainerRequest(
            name=f"{env.id}-{name}" + (f"-{replica}" if replica > 1 else ""),
            image=image,
            labels=self.labels(**service_label, **dict(svc.labels)),
            network=nets[0][0],
            aliases=nets[0][1],
            extra_networks=dict(nets[1:]),
            command=svc.command,
            entrypoint=svc.entrypoint,
            environment=self._external_fields(name, svc.environment),
            ports=tuple(
                PortBinding(
                    p.container_port, p.protocol, p.host_ip or self.opts.host_ip, p.host_port
                )
                for p in svc.ports
            ),
            expose=tuple(port_key(p) for p in svc.expose),
            mounts=mounts,
            # "/tmp:size=64m": the path, then its mount options
            tmpfs=dict(t.partition(":")[::2] for t in svc.tmpfs),
            healthcheck=svc.healthcheck,
            user=svc.user,
            working_dir=svc.working_dir,
            nano_cpus=int(svc.cpus * 1e9) if svc.cpus else None,
            mem_limit=svc.mem_limit,
            privileged=svc.privileged,
            hostname=svc.engine.hostname or name,
            files=files,
            resources=svc.resources,
            options=self._external_hosts(svc.engine),
            note=lambda key, text: self._note(name, key, text),
        )

    def _external_service(self, name: str, svc: ServiceSpec) -> None:
        """A server the team keeps: no container. The seeder (the data layer)
        claims the environment's part of it, which makes it ready."""
        times = self.env.timeline.setdefault(name, ServiceTimes())
        self._dependencies(name, svc)
        if self.abort.is_set():
            raise _Aborted
        service = Service(name, svc, self.backend, "", self.backend.publish_host, {})
        times.created = self.now()
        if self.opts.seeder is not None:
            self.opts.seeder(self.env, service)
        with self.lock:
            self.env.services[name] = service
        times.started = times.ready = self.now()
        if svc.seed:
            times.seeded = times.ready
        self.started[name].set()  # "started" only once its part exists: others may use it
        self.ready[name].set()

    def _external_hosts(self, options: SpecEngineOptions) -> SpecEngineOptions:
        """Containers reach an external server on this machine's loopback by its
        service name, which points at the engine's host (``host-gateway``);
        the server must listen there too (see the hybrid how-to)."""
        names = tuple(
            (n, "host-gateway")
            for n, s in self.spec.services.items()
            if s.external is not None and _loopback(s.external.url)
        )
        if not names:
            return options
        return dataclasses.replace(options, extra_hosts=(*names, *options.extra_hosts))

    def _external_fields(self, name: str, environment: Mapping[str, str]) -> Mapping[str, str]:
        """``{db.url}``, ``{db.host}``, ``{db.port}``, ``{db.user}``, ``{db.password}``,
        ``{db.database}``, ``{db.prefix}`` of an external service in environment
        values, as a container reaches it (its isolated part exists only now)."""
        externals = {n for n, s in self.spec.services.items() if s.external is not None}
        if not externals or not any("{" in v for v in environment.values()):
            return environment

        def field(m: re.Match[str]) -> str:
            ext, what = m["svc"], m["field"]
            service = self.env.services.get(ext)
            if service is None or service.connection is None:
                raise ServiceStartError(
                    name,
                    f"its environment uses {{{ext}.{what}}}, but {ext!r} is not ready before it "
                    f"starts; add depends_on: [{ext}] to services.{name}",
                    env_id=self.env.id,
                )
            return _inside(service.connection, ext, what)

        pattern = re.compile(
            r"\{(?P<svc>" + "|".join(map(re.escape, sorted(externals))) + r")\."
            r"(?P<field>url|host|port|user|password|database|prefix)\}"
        )
        return {k: pattern.sub(field, v) for k, v in environment.items()}

    def _networks_of(self, name: str, svc: ServiceSpec) -> list[tuple[str, tuple[str, ...]]]:
        """(network, aliases) of every network ``svc`` joins, its first one first."""
        extra = tuple(svc.aliases)  # container_name, links
        if svc.networks:
            return [
                (self.networks[n], (name, *aliases, *extra)) for n, aliases in svc.networks.items()
            ]
        return [(self.default_network, (name, *extra))]

    def _files(self, svc: ServiceSpec, tmp: Path) -> tuple[FileEntry, ...]:
        """Secrets and configs as files to copy in (content written to ``tmp``)."""
        entries = []
        for i, f in enumerate((*svc.secrets, *svc.configs)):
            source = f.file
            if source is None:
                source = tmp / f"{i}-{f.name}"
                source.write_text(f.content or "", encoding="utf-8")
            entries.append(
                FileEntry(
                    target=f.target,
                    source=str(source),
                    mode=f.mode if f.mode is not None else 0o444,
                    uid=int(f.uid) if f.uid and f.uid.isdigit() else 0,
                    gid=int(f.gid) if f.gid and f.gid.isdigit() else 0,
                )
            )
        return tuple(entries)

    def _host_paths(self, svc: ServiceSpec) -> None:
        """Bind sources Compose would create (``create_host_path``)."""
        for m in svc.volumes:
            if m.type == "bind" and m.create_host_path and m.source:
                Path(m.source).mkdir(parents=True, exist_ok=True)

    def _create(self, name: str, svc: ServiceSpec, image: str, replica: int) -> str:
        with tempfile.TemporaryDirectory(prefix="eph-files-") as tmp:
            request = self._request(name, svc, image, self._files(svc, Path(tmp)), replica)
            try:
                cid = self.backend.create_container(request)
            except EphemeralError as exc:
                raise ServiceStartError(name, str(exc), env_id=self.env.id) from None
        self.env.record(Resource("container", cid, request.name, request.labels))
        return cid

    def _start_one(self, name: str, cid: str) -> None:
        try:
            self.backend.start_container(cid)
        except PortTakenError as exc:
            raise ServiceStartError(name, str(exc), env_id=self.env.id) from None
        except EphemeralError as exc:
            raise ServiceStartError(
                name, str(exc), env_id=self.env.id, log_tail=self._tail(cid)
            ) from None

    def _post_start(self, name: str, svc: ServiceSpec, cid: str) -> None:
        for hook in svc.post_start:
            # the hook's own settings, only those given
            settings: dict[str, Any] = {"user": hook.user}
            if hook.working_dir:
                settings["workdir"] = hook.working_dir
            if hook.environment:
                settings["environment"] = dict(hook.environment)
            if hook.privileged:
                settings["privileged"] = True
            result = self.backend.exec(cid, hook.command, **settings)
            if result.exit_code != 0:
                raise ServiceStartError(
                    name,
                    f"post_start command {list(hook.command)!r} exited with status "
                    f"{result.exit_code}: {' '.join(result.output.split())[:300]}",
                    env_id=self.env.id,
                    log_tail=self._tail(cid),
                )

    def _service_inner(self, name: str) -> None:
        svc = self.spec.services[name]
        if svc.testcontainers is not None:
            self._module_service(name, svc)
            return
        if svc.external is not None:
            self._external_service(name, svc)
            return
        times = self.env.timeline.setdefault(name, ServiceTimes())
        timeout = svc.wait_timeout or self.opts.default_timeout
        image = self._image(name, svc)
        times.image = self.now()
        image_test = None
        hc = svc.healthcheck
        # no healthcheck, or one with settings but no test: the image's test counts
        if not svc.waits and (hc is None or (not hc.test and not hc.disable)):
            image_test = self.backend.image_healthcheck(image)
        self._dependencies(name, svc)
        if self.abort.is_set():
            raise _Aborted
        self._host_paths(svc)
        # deploy.replicas / scale: that many containers behind the service's name
        cids = [self._create(name, svc, image, i) for i in range(1, max(1, svc.replicas) + 1)]
        cid = cids[0]
        times.created = self.now()
        if self.abort.is_set():
            raise _Aborted
        for one in cids:
            self._start_one(name, one)
            self._post_start(name, svc, one)
        times.started = self.now()
        self.started[name].set()
        waits = _effective_waits(svc, image_test, name in self.needs_completion)
        for other in cids[1:]:
            self._await_ready(name, svc, other, waits, timeout, image, image_test)
        state = self._await_ready(name, svc, cid, waits, timeout, image, image_test)
        service = Service(name, svc, self.backend, cid, self.backend.publish_host, state.ports)
        with self.lock:
            self.env.services[name] = service
        times.ready = self.now()
        if self.opts.seeder is not None:  # connection details, then seed steps
            self.opts.seeder(self.env, service)
            if svc.seed:
                times.seeded = self.now()
        self.ready[name].set()

    def _dependencies(self, name: str, svc: ServiceSpec) -> None:
        """Wait until every ``depends_on`` condition of ``svc`` holds."""
        for dep in svc.depends_on:
            if dep.condition == "service_started":
                event, what = self.started[dep.service], f"{dep.service!r} to start"
            else:
                event, what = (
                    self.ready[dep.service],
                    f"{dep.service!r} to be "
                    + (
                        "healthy"
                        if dep.condition == "service_healthy"
                        else "completed successfully"
                    ),
                )
            # the dependency's own timeout bounds this wait
            dep_timeout = self.spec.services[dep.service].wait_timeout or self.opts.default_timeout
            self._wait_event(event, time.monotonic() + dep_timeout + 600, what, name)

    def _module_service(self, name: str, svc: ServiceSpec) -> None:
        """A service a testcontainers module starts, with its own configuration
        and wait logic, on this environment's network, with its labels."""
        assert svc.testcontainers is not None
        times = self.env.timeline.setdefault(name, ServiceTimes())
        self._dependencies(name, svc)
        if self.abort.is_set():
            raise _Aborted
        tc = svc.testcontainers
        request = ModuleRequest(
            target=tc.target,
            image=map_image(tc.image, self.opts.image_map) if tc.image else None,
            args=tc.args,
            name=f"{self.env.id}-{name}",
            network=self._networks_of(name, svc)[0][0],
            aliases=self._networks_of(name, svc)[0][1],
            labels=self.labels(
                **({self.opts.service_label: name} if self.opts.service_label else {})
            ),
            environment=svc.environment,
            host_ip=self.opts.host_ip,
        )
        times.image = self.now()
        try:
            handle = self.backend.start_module(
                request,
                lambda cid: self.env.record(
                    Resource("container", cid, request.name, request.labels)
                ),
            )
        except EphemeralError as exc:
            raise ServiceStartError(name, str(exc), env_id=self.env.id) from None
        times.created = times.started = self.now()
        self.started[name].set()
        waits = _effective_waits(svc, None, name in self.needs_completion)
        state = self._await_ready(
            name,
            svc,
            handle.container_id,
            waits,
            svc.wait_timeout or self.opts.default_timeout,
            "",
            None,
        )
        service = Service(
            name, svc, self.backend, handle.container_id, self.backend.publish_host, state.ports
        )
        service.container = handle.module
        with self.lock:
            self.env.services[name] = service
        times.ready = self.now()
        if self.opts.seeder is not None:
            self.opts.seeder(self.env, service)
        self.ready[name].set()

    def _tail(self, cid: str) -> list[str]:
        try:
            return self.backend.logs(cid, tail=LOG_TAIL).splitlines()[-LOG_TAIL:]
        except EphemeralError:
            return []

    def _await_ready(
        self,
        name: str,
        svc: ServiceSpec,
        cid: str,
        waits: tuple[WaitSpec, ...],
        timeout: float,
        image: str,
        image_test: tuple[str, ...] | None,
    ) -> ContainerState:
        backend = self.backend
        probes = [Probe.of(w, svc.healthcheck, image_test) for w in waits]
        if any(p.wait.kind == "healthcheck" and p.health_cmd is None for p in probes):
            image_test = backend.image_healthcheck(image)
            probes = [Probe.of(w, svc.healthcheck, image_test) for w in waits]
        started = time.monotonic()
        deadline = started + timeout
        needs_logs = any(p.wait.kind == "log" for p in probes)
        follower: LogFollower | None = backend.follow_logs(cid) if needs_logs else None
        try:
            return self._poll_ready(name, cid, probes, started, deadline, timeout, follower)
        finally:
            if follower is not None:
                follower.close()

    def _poll_ready(
        self,
        name: str,
        cid: str,
        probes: list[Probe],
        started: float,
        deadline: float,
        timeout: float,
        follower: LogFollower | None,
    ) -> ContainerState:
        backend = self.backend
        needs_logs = any(p.wait.kind == "log" for p in probes)
        completing = any(p.wait.kind == "completed" for p in probes)
        events = self.events
        state: ContainerState | None = None
        inspected = 0.0
        while True:
            if self.abort.is_set():
                raise _Aborted
            cycle = time.monotonic()
            # inspect when an event says something changed (or every RECHECK s);
            # without an event stream, every cycle
            if (
                state is None
                or events is None
                or events.changed(cid)
                or cycle - inspected >= RECHECK
            ):
                state = backend.state(cid)
                inspected = cycle
            if state.exited and not (completing and state.exit_code == 0):
                why = f"the container exited with status {state.exit_code}"
                if state.oom_killed:
                    why += " (killed: out of memory; raise mem_limit)"
                if state.error:
                    why += f" ({state.error})"
                if probes and not completing:
                    why += f" before it was ready (waiting for {probes[0].wait.describe()})"
                raise ServiceStartError(name, why, env_id=self.env.id, log_tail=self._tail(cid))
            if state.health == "unhealthy" and any(p.wait.kind == "healthcheck" for p in probes):
                raise ServiceStartError(
                    name,
                    "its healthcheck reports unhealthy",
                    env_id=self.env.id,
                    log_tail=self._tail(cid),
                )
            logs = None
            if follower is not None and not follower.broken:
                logs = follower.text()
            elif needs_logs:
                logs = backend.logs(cid)
            probes = [
                p for p in probes if not p.check(backend, cid, state, backend.publish_host, logs)
            ]
            if not probes and (state.running or completing):
                return state
            if time.monotonic() > deadline:
                pending = "; ".join(p.wait.describe() for p in probes)
                raise ServiceStartError(
                    name,
                    f"not ready after {timeout:g}s (waiting for {pending}); "
                    f"raise wait.timeout or --eph-timeout if it is just slow",
                    env_id=self.env.id,
                    log_tail=self._tail(cid),
                )
            # a check every 50 ms for the first seconds (most services are ready
            # then), backing off to 250 ms; the period counts the check itself
            period = 0.05 if cycle - started < 5 else 0.25
            time.sleep(max(0.0, period - (time.monotonic() - cycle)))


def _loopback(url: str) -> bool:
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    return host in ("localhost", "::1") or host.startswith("127.")


def _inside(connection: Connection, name: str, what: str) -> str:
    """A field of an external service's connection as containers see it: a
    loopback host becomes the service's name (mapped to the engine's host)."""
    parts = urlsplit(connection.url)
    host = parts.hostname or ""
    inside = name if _loopback(connection.url) else host
    if what == "url":
        if inside == host:
            return connection.url
        netloc = parts.netloc.rsplit("@", 1)
        hostport = netloc[-1].replace(f"[{host}]" if ":" in host else host, inside, 1)
        return urlunsplit(parts._replace(netloc="@".join([*netloc[:-1], hostport])))
    values = {
        "host": inside,
        "port": str(parts.port or ""),
        "user": connection.user or "",
        "password": connection.password or "",
        "database": connection.database or "",
        "prefix": connection.prefix or "",
    }
    return values[what]


def start_environment(env: Environment, opts: EngineOptions) -> Environment:
    """Create and start everything of ``env`` along the dependency graph.

    Every resource is recorded on ``env`` as soon as it exists. On a failure
    (or KeyboardInterrupt) the error propagates and what exists stays
    recorded: the caller, which registered the teardown before calling, removes
    it (``pytest_ephemeral.lifecycle.removal``)."""
    env.started_at = time.time()
    cm = opts.slot() if opts.slot is not None else contextlib.nullcontext()
    with cm:
        _Start(env, opts).run()
    return env


def remove_resources(
    backend: Backend, selector: Mapping[str, str], known: Sequence[Resource] = ()
) -> list[str]:
    """Remove ``known`` and whatever else carries the ``selector`` labels, in
    parallel, without stop grace periods, then whatever appeared meanwhile (an
    in-flight create). The mechanics of removal; the one removal function
    callers use is :func:`pytest_ephemeral.lifecycle.removal.remove_environment`.
    Returns the errors."""
    resources = {r.id: r for r in known}
    try:
        for r in backend.list_resources(dict(selector)):
            resources.setdefault(r.id, r)
    except EphemeralError as exc:
        if not resources:
            return [str(exc)]
    try:
        errors = backend.remove(list(resources.values()))
    except EphemeralError as exc:  # the engine went away: nothing counts as removed
        return [str(exc)]
    with contextlib.suppress(EphemeralError):
        late = backend.list_resources(dict(selector))
        if late:
            errors = backend.remove(late)
    return errors


def attach_environment(
    backend: Backend,
    spec: Spec,
    env_id: str,
    containers: Mapping[str, Resource],
    resources: Sequence[Resource],
    labels: Mapping[str, str],
    selector: Mapping[str, str],
) -> Environment | None:
    """An :class:`Environment` for containers that already run (a kept
    environment, or one another process created): ``containers`` maps service
    names to their containers. None when it is not whole and running. An
    external service has no container: its Service comes without one (the
    caller finds its part of the server)."""
    if set(containers) != {n for n, s in spec.services.items() if s.external is None}:
        return None
    env = Environment(env_id, spec, backend, labels, resources=list(resources))
    env.selector = dict(selector)
    for name, svc in spec.services.items():
        if svc.external is not None:
            env.services[name] = Service(name, svc, backend, "", backend.publish_host, {})
            env.timeline[name] = ServiceTimes()
    for name, res in containers.items():
        try:
            state = backend.state(res.id)
        except EphemeralError:
            return None
        svc = spec.services[name]
        completed = any(w.kind == "completed" for w in svc.waits)
        if not state.running and not (completed and state.exited and state.exit_code == 0):
            return None
        env.services[name] = Service(name, svc, backend, res.id, backend.publish_host, state.ports)
        env.timeline[name] = ServiceTimes()
    return env
