#!/usr/bin/env python
"""Environment UP and TEARDOWN of the reference topology, side by side.

The reference topology is ``examples/quickstart/ephemeral.yaml``: PostgreSQL
(pg_isready healthcheck, tmpfs data dir), Redis (log wait), and an HTTP ``api``
built from ``examples/quickstart/api`` that depends on db healthy and cache
started, ready when ``GET /health`` answers 200.

Contenders, interleaved round-robin in every repetition (the order rotates so
none always goes first):

ephemeral
    pytest-ephemeral's engine through ``Manager`` — the path the ``eph``
    fixture takes (spec load, guards, parallel start, readiness, teardown).
bare
    the lower bound: the Docker SDK's low-level client by hand, db and cache
    created and started in parallel threads, readiness polled every 50 ms
    (the spec's db healthcheck command by exec, the Redis log line, GET
    /health), api started as soon
    as db is ready; teardown is forced removal in parallel threads, then the
    network.
testcontainers
    testcontainers-python the way its docs show: ``PostgresContainer`` and
    ``DockerContainer`` with wait strategies, on a ``Network``, one container
    after another, api last; teardown ``.stop()`` in reverse order, then the
    network. Its default poll interval (1 s) is kept: that is the usual way.

UP ends when every service is ready and the api answers ``/health`` (checked
again, untimed, from the host). TEARDOWN ends when the contender says it is
done; that nothing of it is left is then checked (untimed) too.

A second check: a service that ignores SIGTERM (Docker's default 10 s stop
grace period). Engine teardown must cost what a forced removal costs.

Run:  python benchmarks/bench_up.py [--repeat N] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import os

# testcontainers reads its configuration from the environment at import time.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # Ryuk cannot be pulled here
os.environ.setdefault("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")  # /.dockerenv misleads it
os.environ.setdefault("TESTCONTAINERS_CONNECTION_MODE", "docker_host")

import argparse
import contextlib
import datetime as dt
import http.client
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import docker
import docker.errors
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, command_line, machine_facts, machine_table, spread, write_section

QUICKSTART = ROOT / "examples" / "quickstart"
API_TAG = "eph-bench/api:latest"
DB_IMAGE = "postgres:16-alpine"
CACHE_IMAGE = "redis:7-alpine"
STUBBORN_IMAGE = "python:3.12-slim"
PGDATA = "/var/lib/postgresql/data"
DB_ENV = {"POSTGRES_PASSWORD": "secret", "POSTGRES_DB": "shop"}
REDIS_READY = "Ready to accept connections"
BENCH = "eph-bench"  # every resource of contenders b and c: eph-bench=1
BENCH_RUN = "eph-bench.run"  # ... and eph-bench.run=<this process's token>
EPH_ENV = "pytest-ephemeral.env"
EPH_RUN = "pytest-ephemeral.run"
TOKEN = uuid.uuid4().hex[:8]
POLL = 0.05  # the bare script's readiness poll
UP_TIMEOUT = 120.0
CONTENDERS = ("ephemeral", "bare", "testcontainers", "testcontainers-tuned", "compose")
TITLES = {
    "ephemeral": "pytest-ephemeral",
    "bare": "bare Docker SDK (lower bound)",
    "testcontainers": "testcontainers-python, usual way",
    "testcontainers-tuned": "testcontainers-python, 50 ms polls",
    "compose": "docker-compose up -d + /health poll",
}


def scratch() -> Path:
    """This run's folder for generated files (compose file, stubborn spec)."""
    path = Path(tempfile.gettempdir()) / f"eph-bench-{TOKEN}"
    path.mkdir(exist_ok=True)
    return path


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def db_check() -> list[str]:
    """The db healthcheck command of the reference spec, as an argv: the bare
    script runs exactly what the spec says (``pg_isready ...``), so both wait
    for the same thing."""
    import yaml

    spec = yaml.safe_load((QUICKSTART / "ephemeral.yaml").read_text(encoding="utf-8"))
    test = [str(t) for t in spec["services"]["db"]["healthcheck"]["test"]]
    if test[0] == "CMD":
        return test[1:]
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    return ["/bin/sh", "-c", " ".join(test)]


def bench_labels(kind: str) -> dict[str, str]:
    return {BENCH: "1", BENCH_RUN: TOKEN, f"{BENCH}.contender": kind}


# -- Docker API call counting ------------------------------------------------
_ID = re.compile(r"/[0-9a-f]{12,64}(?=/|$)")
_VERSION = re.compile(r"^/v\d+\.\d+")


@dataclass(frozen=True, slots=True)
class Call:
    at: float  # seconds since recording started
    took: float
    method: str
    path: str
    thread: str


class ApiCalls:
    """Every HTTP request the Docker SDK sends (``requests.Session.send``),
    recorded while ``recording()`` is active. Readiness probes of the services
    themselves (http.client, urllib) are not Docker calls and are not counted."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._t0 = 0.0
        self._on = False
        original = requests.Session.send
        recorder = self

        def send(session: requests.Session, request: Any, **kw: Any) -> Any:
            if not recorder._on:
                return original(session, request, **kw)
            start = time.monotonic()
            try:
                return original(session, request, **kw)
            finally:
                path = _VERSION.sub("", requests.utils.urlparse(request.url).path)
                recorder.calls.append(
                    Call(
                        round(start - recorder._t0, 4),
                        round(time.monotonic() - start, 4),
                        str(request.method),
                        _ID.sub("/{id}", path),
                        threading.current_thread().name,
                    )
                )

        requests.Session.send = send  # type: ignore[method-assign]

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[Call]]:
        self.calls = []
        self._t0 = time.monotonic()
        self._on = True
        try:
            yield self.calls
        finally:
            self._on = False


CALLS = ApiCalls()


# -- helpers -------------------------------------------------------------------
def low_level() -> docker.APIClient:
    return docker.APIClient(base_url=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"))


def health(port: int, timeout: float = 1.0) -> int | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/health")
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def host_port(api: docker.APIClient, cid: str, port: int) -> int:
    bindings = api.inspect_container(cid)["NetworkSettings"]["Ports"][f"{port}/tcp"]
    return int(bindings[0]["HostPort"])


def leftovers(api: docker.APIClient, label: str) -> list[str]:
    flt = {"label": [label]}
    found = [f"container {c['Names'][0]}" for c in api.containers(all=True, filters=flt)]
    found += [f"network {n['Name']}" for n in api.networks(filters=flt)]
    found += [f"volume {v['Name']}" for v in api.volumes(filters=flt).get("Volumes") or []]
    return found


def force_remove(api: docker.APIClient, label: str) -> None:
    """Best-effort cleanup of everything carrying ``label`` (used in finally)."""
    flt = {"label": [label]}
    for c in api.containers(all=True, filters=flt):
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            api.remove_container(c["Id"], force=True, v=True)
    for n in api.networks(filters=flt):
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            api.remove_network(n["Id"])
    for v in api.volumes(filters=flt).get("Volumes") or []:
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            api.remove_volume(v["Name"], force=True)


# -- the contenders --------------------------------------------------------------
@dataclass
class Sample:
    up: float
    down: float
    calls_up: int
    calls_down: int
    ready: dict[str, float] = field(default_factory=dict)  # service -> s since start
    extra: dict[str, Any] = field(default_factory=dict)


class Contender:
    """``up()`` and ``down()`` are timed; ``port()`` (the api's host port) is
    used for the untimed /health check; ``label`` finds whatever it made."""

    label: str
    ready: dict[str, float]
    # the db container, and when (UNIX time) the contender took it for ready
    db_cid: str | None = None
    db_ready_wall: float | None = None
    api_cid: str | None = None

    def up(self) -> None:
        raise NotImplementedError

    def port(self) -> int:
        raise NotImplementedError

    def down(self) -> None:
        raise NotImplementedError

    def extra(self) -> dict[str, Any]:
        return {}


class Ephemeral(Contender):
    run_ids: ClassVar[list[str]] = []  # every run id used, for the leak check

    def __init__(self, rootdir: Path = QUICKSTART) -> None:
        from pytest_ephemeral.lifecycle.manager import new_run_id

        self.rootdir = rootdir
        self.run_id = new_run_id()
        Ephemeral.run_ids.append(self.run_id)
        self.label = f"{EPH_RUN}={self.run_id}"
        self.manager: Any = None
        self.env: Any = None
        self.ready = {}

    def up(self) -> None:
        from pytest_ephemeral.config import Settings
        from pytest_ephemeral.lifecycle.manager import Manager

        self.manager = Manager(Settings(rootdir=self.rootdir), run_id=self.run_id, worker="bench")
        self.env = self.manager.environment()
        self.ready = {n: t.ready for n, t in self.env.timeline.items() if t.ready is not None}
        if "db" in self.env.services:
            self.db_cid = self.env["db"].container_id
        if "api" in self.env.services:
            self.api_cid = self.env["api"].container_id
            self.db_ready_wall = self.env.started_at + self.env.timeline["db"].ready

    def port(self) -> int:
        return int(self.env["api"].port(8000))

    def down(self) -> None:
        self.manager.close(failed=False)

    def extra(self) -> dict[str, Any]:
        return {
            "timeline": {
                n: {"image": t.image, "created": t.created, "started": t.started, "ready": t.ready}
                for n, t in self.env.timeline.items()
            },
            "ready_after": self.env.ready_after,
            "image": self.env.timeline["api"].image,
        }


class Bare(Contender):
    def __init__(self) -> None:
        self.label = f"{BENCH_RUN}={TOKEN}"
        self.labels = bench_labels("bare")
        self.api: docker.APIClient | None = None
        self.network: str | None = None
        self.containers: list[str] = []
        self.api_port = 0
        self.ready = {}

    def _container(self, name: str, image: str, alias: str, port: int, **kw: Any) -> str:
        api = self.api
        assert api is not None and self.network is not None
        host_config = api.create_host_config(
            port_bindings={port: ("127.0.0.1",)},
            network_mode=self.network,
            tmpfs=kw.pop("tmpfs", None),
        )
        cid = api.create_container(
            image,
            name=f"{self.network}-{name}",
            ports=[port],
            labels=self.labels,
            host_config=host_config,
            networking_config=api.create_networking_config(
                {self.network: api.create_endpoint_config(aliases=[alias])}
            ),
            **kw,
        )["Id"]
        self.containers.append(cid)
        return str(cid)

    def up(self) -> None:
        t0 = time.monotonic()
        self.api = api = low_level()
        self.network = f"ephbench-{TOKEN}-{uuid.uuid4().hex[:6]}"
        api.create_network(self.network, driver="bridge", labels=self.labels)
        db_ready = threading.Event()
        errors: list[BaseException] = []

        def until(check: Callable[[], bool], what: str) -> None:
            deadline = time.monotonic() + UP_TIMEOUT
            while True:
                start = time.monotonic()
                if check():
                    return
                if start > deadline:
                    raise TimeoutError(what)
                time.sleep(max(0.0, POLL - (time.monotonic() - start)))

        check = db_check()

        def pg_isready(cid: str) -> bool:
            exe = api.exec_create(cid, check)
            api.exec_start(exe["Id"])
            return api.exec_inspect(exe["Id"])["ExitCode"] == 0

        def db() -> None:
            try:
                cid = self._container(
                    "db", DB_IMAGE, "db", 5432, environment=DB_ENV, tmpfs={PGDATA: ""}
                )
                api.start(cid)
                until(lambda: pg_isready(cid), "db ready")
                self.ready["db"] = time.monotonic() - t0
                self.db_cid, self.db_ready_wall = cid, time.time()
                db_ready.set()
            except BaseException as exc:
                errors.append(exc)
                db_ready.set()

        def cache() -> None:
            try:
                cid = self._container("cache", CACHE_IMAGE, "cache", 6379)
                api.start(cid)
                until(lambda: REDIS_READY.encode() in api.logs(cid), "cache ready")
                self.ready["cache"] = time.monotonic() - t0
            except BaseException as exc:
                errors.append(exc)

        threads = [
            threading.Thread(target=f, name=f"bare-{f.__name__}", daemon=True) for f in (db, cache)
        ]
        for t in threads:
            t.start()
        db_ready.wait(UP_TIMEOUT)
        if errors:
            raise errors[0]
        # api depends on db healthy and cache *started*: cache's thread started it
        # before db (a 2 s start) is ready; no need to wait for more
        cid = self._container(
            "api", API_TAG, "api", 8000, environment={"DB_HOST": "db", "REDIS_HOST": "cache"}
        )
        api.start(cid)
        self.api_cid, self.api_port = cid, host_port(api, cid, 8000)
        until(lambda: health(self.api_port) == 200, "api /health")
        self.ready["api"] = time.monotonic() - t0
        for t in threads:
            t.join(UP_TIMEOUT)
        if errors:
            raise errors[0]

    def port(self) -> int:
        return self.api_port

    def down(self) -> None:
        api = self.api
        assert api is not None

        def rm(cid: str) -> None:
            api.remove_container(cid, force=True, v=True)

        threads = [threading.Thread(target=rm, args=(c,)) for c in self.containers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if self.network:
            api.remove_network(self.network)
        api.close()


class Testcontainers(Contender):
    def __init__(self) -> None:
        self.label = f"{BENCH_RUN}={TOKEN}"
        self.labels = bench_labels("testcontainers")
        self.started: list[Any] = []
        self.network: Any = None
        self.api_port = 0
        self.ready = {}

    @staticmethod
    def _on_loopback(container: Any) -> Any:
        # testcontainers publishes on 0.0.0.0 and has no host-IP option; set the
        # port map it hands to docker-py so ports are published on 127.0.0.1 only
        container.ports = {port: ("127.0.0.1", host) for port, host in container.ports.items()}
        return container

    def up(self) -> None:
        from testcontainers.community.postgres import PostgresContainer
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.network import Network
        from testcontainers.core.wait_strategies import HttpWaitStrategy, LogMessageWaitStrategy

        t0 = time.monotonic()
        self.network = Network(docker_network_kw={"labels": self.labels}).create()
        db = (
            PostgresContainer(
                DB_IMAGE, username="postgres", password="secret", dbname="shop", driver=None
            )
            .with_network(self.network)
            .with_network_aliases("db")
            .with_tmpfs_mount(PGDATA)
            .with_kwargs(labels=self.labels)
        )
        self.started.append(db)
        self._on_loopback(db).start()
        self.ready["db"] = time.monotonic() - t0
        self.db_cid, self.db_ready_wall = db.get_container_id(), time.time()
        cache = (
            DockerContainer(CACHE_IMAGE)
            .with_exposed_ports(6379)
            .with_network(self.network)
            .with_network_aliases("cache")
            .with_kwargs(labels=self.labels)
            .waiting_for(LogMessageWaitStrategy(REDIS_READY))
        )
        self.started.append(cache)
        self._on_loopback(cache).start()
        self.ready["cache"] = time.monotonic() - t0
        app = (
            DockerContainer(API_TAG)
            .with_env("DB_HOST", "db")
            .with_env("REDIS_HOST", "cache")
            .with_exposed_ports(8000)
            .with_network(self.network)
            .with_network_aliases("api")
            .with_kwargs(labels=self.labels)
            .waiting_for(HttpWaitStrategy(8000, "/health").for_status_code(200))
        )
        self.started.append(app)
        self._on_loopback(app).start()
        self.ready["api"] = time.monotonic() - t0
        self.api_port = int(app.get_exposed_port(8000))
        self.api_cid = app.get_container_id()

    def port(self) -> int:
        return self.api_port

    def down(self) -> None:
        for container in reversed(self.started):
            container.stop()
        self.network.remove()


class TestcontainersTuned(Testcontainers):
    """The same, with every wait strategy polling every 50 ms (testcontainers'
    ``sleep_time``, i.e. ``TC_POOLING_INTERVAL``) like the bare script: shows how
    much of the usual way's time is polling and how much is going one by one."""

    def up(self) -> None:
        from testcontainers.core.config import testcontainers_config

        before = testcontainers_config.sleep_time
        testcontainers_config.sleep_time = POLL
        try:
            super().up()
        finally:
            testcontainers_config.sleep_time = before


class Compose(Contender):
    """``docker-compose up -d`` (v1, the one this machine has) on the same
    topology, then polling ``/health`` every 50 ms; teardown ``docker-compose
    down -v`` as one usually types it."""

    def __init__(self) -> None:
        self.label = f"{BENCH_RUN}={TOKEN}"
        self.labels = bench_labels("compose")
        self.project = f"ephbench{TOKEN}{uuid.uuid4().hex[:6]}"
        self.folder = Path(tempfile.mkdtemp(prefix="compose-", dir=scratch()))
        self.file = self.folder / "docker-compose.yml"
        self.file.write_text(compose_file(self.labels), encoding="utf-8")
        self.api_port = 0
        self.ready = {}

    def _compose(self, *args: str) -> None:
        subprocess.run(
            ["docker-compose", "-p", self.project, "-f", str(self.file), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def up(self) -> None:
        t0 = time.monotonic()
        self._compose("up", "-d", "--no-build")
        self.ready["db"] = time.monotonic() - t0  # compose waited for db healthy (1 s checks)
        self.db_ready_wall = time.time()
        api = low_level()
        try:
            (db,) = api.containers(
                filters={
                    "label": [
                        f"com.docker.compose.project={self.project}",
                        "com.docker.compose.service=db",
                    ]
                }
            )
            self.db_cid = str(db["Id"])
            (c,) = api.containers(
                filters={
                    "label": [
                        f"com.docker.compose.project={self.project}",
                        "com.docker.compose.service=api",
                    ]
                }
            )
            self.api_port = next(
                int(p["PublicPort"]) for p in c["Ports"] if p.get("PrivatePort") == 8000
            )
            self.api_cid = str(c["Id"])
        finally:
            api.close()
        deadline = time.monotonic() + UP_TIMEOUT
        while health(self.api_port) != 200:
            if time.monotonic() > deadline:
                raise TimeoutError("compose: api /health")
            time.sleep(POLL)
        self.ready["api"] = time.monotonic() - t0

    def port(self) -> int:
        return self.api_port

    def down(self) -> None:
        try:
            self._compose("down", "-v")
        finally:
            with contextlib.suppress(OSError):
                self.file.unlink()
                self.folder.rmdir()


def compose_file(labels: dict[str, str]) -> str:
    """The reference spec as a plain Compose file: the plugin's own keys
    (``wait:``) dropped, the api's build replaced by the prebuilt image, ports
    published on 127.0.0.1, everything labelled."""
    import yaml

    spec = yaml.safe_load((QUICKSTART / "ephemeral.yaml").read_text(encoding="utf-8"))
    services: dict[str, Any] = {}
    for name, svc in spec["services"].items():
        svc = dict(svc)
        svc.pop("wait", None)
        if "build" in svc:
            svc.pop("build")
            svc["image"] = API_TAG
        svc["ports"] = [f"127.0.0.1::{p}" for p in svc.get("ports", [])]
        env = svc.get("environment") or {}
        svc["environment"] = {
            k: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(v)) for k, v in env.items()
        }
        svc["labels"] = dict(labels)
        services[name] = svc
    doc = {
        "version": "2.4",
        "services": services,
        "networks": {"default": {"labels": dict(labels)}},
    }
    return yaml.safe_dump(doc, sort_keys=False)


FACTORIES: dict[str, Callable[[], Contender]] = {
    "ephemeral": Ephemeral,
    "bare": Bare,
    "testcontainers": Testcontainers,
    "testcontainers-tuned": TestcontainersTuned,
    "compose": Compose,
}


_PG_READY = "database system is ready to accept connections"


def _log_time(stamp: str) -> float:
    """Docker's RFC 3339 log timestamp (nanoseconds, Z) as UNIX time."""
    main, _, frac = stamp.rstrip("Z").partition(".")
    return dt.datetime.fromisoformat(f"{main}.{(frac + '000000')[:6]}+00:00").timestamp()


def db_early(api: docker.APIClient, contender: Contender) -> float | None:
    """How many seconds before PostgreSQL's final "ready to accept connections"
    (the real server, after the image's init phase) the contender took db for
    ready; negative: after it. None when unknown. The official-style
    entrypoint first runs a temporary server on the Unix socket only, for the
    init scripts, and ``pg_isready`` without ``-h`` says yes to it too."""
    if contender.db_cid is None or contender.db_ready_wall is None:
        return None
    try:
        logs = api.logs(contender.db_cid, timestamps=True).decode("utf-8", "replace")
    except docker.errors.APIError:
        return None
    ready = [_log_time(line.split(" ", 1)[0]) for line in logs.splitlines() if _PG_READY in line]
    if not ready:
        return None
    return ready[-1] - contender.db_ready_wall


def image_of(api: docker.APIClient, cid: str | None) -> tuple[str, str, tuple[str, ...]] | None:
    """(name as given, short id, file-system layers) of a container's image."""
    if cid is None:
        return None
    with contextlib.suppress(docker.errors.APIError):
        info = api.inspect_container(cid)
        image = api.inspect_image(info["Image"])
        layers = tuple((image.get("RootFS") or {}).get("Layers") or ())
        return str(info["Config"]["Image"]), str(image["Id"]).removeprefix("sha256:")[:12], layers
    return None


def _cpu() -> float:
    """CPU seconds of this process (all threads) and of its waited-for children."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def run_once(kind: str) -> Sample:
    contender = FACTORIES[kind]()
    api = low_level()
    try:
        with CALLS.recording() as calls_up:
            cpu0, t0 = _cpu(), time.perf_counter()
            try:
                contender.up()
            finally:
                up, cpu_up = time.perf_counter() - t0, _cpu() - cpu0
        n_up = len(calls_up)
        status = health(contender.port(), timeout=5.0)
        if status != 200:
            raise RuntimeError(f"{kind}: /health answered {status} after UP")
        early = db_early(api, contender)  # untimed, while the db still runs
        api_image = image_of(api, contender.api_cid)
        with CALLS.recording() as calls_down:
            t0 = time.perf_counter()
            try:
                contender.down()
            finally:
                down = time.perf_counter() - t0
        left = leftovers(api, contender.label)
        if left:
            raise RuntimeError(f"{kind}: still there after teardown: {', '.join(left)}")
        sample = Sample(up, down, n_up, len(calls_down), dict(contender.ready), contender.extra())
        sample.extra["calls_up"] = list(calls_up)
        sample.extra["calls_down"] = list(calls_down)
        sample.extra["cpu_up"] = cpu_up
        sample.extra["db_early"] = early
        sample.extra["api_image"] = api_image
        return sample
    finally:
        with contextlib.suppress(Exception):
            force_remove(api, contender.label)
        api.close()


# -- the SIGTERM-ignoring service ---------------------------------------------------
STUBBORN_CMD = [
    "python3",
    "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(3600)",
]
STUBBORN_SPEC = f"""\
# written by benchmarks/bench_up.py: one service that ignores SIGTERM
name: stubborn
services:
  stubborn:
    image: {STUBBORN_IMAGE}
    command: {STUBBORN_CMD!r}
    wait: {{log: "ready"}}
"""
STOP_GRACE = 10  # Docker's default stop timeout, set explicitly on the bare container


def stubborn_bare(graceful: bool = False) -> float:
    """Teardown time of the stubborn container (and its network) by hand:
    forced removal, or (``graceful``) ``docker stop`` then remove."""
    api = low_level()
    label = f"{BENCH_RUN}={TOKEN}"
    labels = bench_labels("stubborn")
    net = f"ephbench-{TOKEN}-stubborn-{uuid.uuid4().hex[:6]}"
    try:
        api.create_network(net, driver="bridge", labels=labels)
        cid = api.create_container(
            STUBBORN_IMAGE,
            STUBBORN_CMD,
            name=f"{net}-svc",
            labels=labels,
            stop_timeout=STOP_GRACE,
            host_config=api.create_host_config(network_mode=net),
        )["Id"]
        api.start(cid)
        deadline = time.monotonic() + 30
        while b"ready" not in api.logs(cid):
            if time.monotonic() > deadline:
                raise TimeoutError("stubborn container never said ready")
            time.sleep(POLL)
        t0 = time.perf_counter()
        if graceful:
            api.stop(cid, timeout=STOP_GRACE)
        api.remove_container(cid, force=True, v=True)
        api.remove_network(net)
        took = time.perf_counter() - t0
        left = leftovers(api, label)
        if left:
            raise RuntimeError(f"stubborn (bare): still there: {left}")
        return took
    finally:
        with contextlib.suppress(Exception):
            force_remove(api, label)
        api.close()


def stubborn_ephemeral(rootdir: Path) -> float:
    contender = Ephemeral(rootdir)
    api = low_level()
    try:
        contender.up()
        t0 = time.perf_counter()
        contender.down()
        took = time.perf_counter() - t0
        left = leftovers(api, contender.label)
        if left:
            raise RuntimeError(f"stubborn (ephemeral): still there: {left}")
        return took
    finally:
        with contextlib.suppress(Exception):
            force_remove(api, contender.label)
        api.close()


def _db_execs(sample: Sample) -> list[float]:
    return [
        c.at
        for c in sample.extra.get("calls_up", [])
        if c.method == "POST"
        and c.path == "/containers/{id}/exec"
        and (c.thread.endswith("-db") or c.thread == "bare-db")
    ]


def db_probe_cycle(sample: Sample) -> float | None:
    """Seconds between the db's last two readiness execs (the last succeeded)."""
    execs = _db_execs(sample)
    return execs[-1] - execs[-2] if len(execs) >= 2 else None


def sweep_cost(sample: Sample) -> tuple[float, int] | None:
    """(seconds, removals) the engine's sweep of dead runs spent before the
    start, or None when it removed nothing."""
    calls = sample.extra.get("calls_up", [])
    creates = [c.at for c in calls if c.method == "POST" and c.path == "/networks/create"]
    if not creates:
        return None
    deletes = [c for c in calls if c.method == "DELETE" and c.at < creates[0]]
    if not deletes:
        return None
    return creates[0] - min(c.at for c in deletes), len(deletes)


def db_probe_count(sample: Sample) -> int:
    return len(_db_execs(sample))


# -- report --------------------------------------------------------------------------
def fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def mmm(values: list[float]) -> str:
    med, lo, hi = spread(values)
    return f"{med:.2f} ({lo:.2f}-{hi:.2f})"


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def build_report(
    args: argparse.Namespace,
    samples: dict[str, list[Sample]],
    stubborn: dict[str, list[float]],
    facts: dict[str, str],
    wall: float,
) -> tuple[str, dict[str, float]]:
    ratios: dict[str, float] = {}
    out: list[str] = []
    w = out.append
    w("## Environment up and teardown (`bench_up.py`)")
    w("")
    w(f"Command: `{command_line()}`  ")
    w(
        f"{args.repeat} measured repetitions after one warm-up, the contenders interleaved "
        f"round-robin (order rotating); total wall time {wall:.0f} s."
    )
    w("")
    w("Machine:")
    w("")
    out.extend(machine_table(facts))
    w("")
    w(
        "Reference topology: `examples/quickstart/ephemeral.yaml` — PostgreSQL (pg_isready "
        "healthcheck, tmpfs data dir), Redis (log wait), `api` built from "
        "`examples/quickstart/api` (depends on db healthy and cache started, ready on "
        "`GET /health` = 200). Images are local."
    )
    images = {
        s.extra["api_image"][:2]: s.extra["api_image"][2]
        for v in samples.values()
        for s in v
        if s.extra.get("api_image")
    }
    if images:
        same = len(set(images.values())) == 1
        w(
            "The api ran from "
            + ", ".join(f"`{name}` ({short})" for name, short in sorted(images))
            + (
                ": the same file-system layers (image ids differ in metadata, such as the "
                "engine's build label)."
                if same
                else ": **not the same file-system layers**."
            )
        )
    w("")
    w("### Seconds: median (min-max)")
    w("")
    w(
        "| contender | up | teardown | client CPU s per up (median) "
        "| Docker API calls up / teardown (median) |"
    )
    w("|---|---|---|---|---|")
    for kind in samples:
        v = samples[kind]
        calls = (
            "- (its own process)"
            if kind == "compose"
            else f"{statistics.median(s.calls_up for s in v):.0f} / "
            f"{statistics.median(s.calls_down for s in v):.0f}"
        )
        cpu = statistics.median(s.extra["cpu_up"] for s in v)
        w(
            f"| {TITLES[kind]} | {mmm([s.up for s in v])} | {mmm([s.down for s in v])} "
            f"| {cpu:.2f} | {calls} |"
        )
    w("")
    w(
        "Up ends when every service is ready and the api answers `GET /health` with 200 "
        "(checked once more, untimed, from the host); teardown ends when the contender "
        "returns, after which nothing carrying its labels may be left (checked, untimed). "
        "Client CPU: this process's threads plus waited-for child processes (docker-compose); "
        "pytest-ephemeral's reaper process is not included."
    )
    w("")

    def ratio(a: str, b: str, what: str) -> tuple[float, float]:
        """Ratio of the medians, and the median of the per-repetition ratios
        (each repetition runs both side by side, so slow phases of a shared
        machine hit both)."""
        pick = (lambda s: s.up) if what == "up" else (lambda s: s.down)
        overall = statistics.median(map(pick, samples[a])) / statistics.median(
            map(pick, samples[b])
        )
        paired = statistics.median(
            pick(x) / pick(y) for x, y in zip(samples[a], samples[b], strict=True)
        )
        return overall, paired

    pairs = [
        ("up ephemeral/bare", "ephemeral", "bare", "up"),
        ("up testcontainers/ephemeral", "testcontainers", "ephemeral", "up"),
        ("teardown ephemeral/bare", "ephemeral", "bare", "down"),
        ("up testcontainers-tuned/ephemeral", "testcontainers-tuned", "ephemeral", "up"),
        ("up compose/ephemeral", "compose", "ephemeral", "up"),
        ("teardown compose/ephemeral", "compose", "ephemeral", "down"),
    ]
    targets = {
        "up ephemeral/bare": ("≤ 1.25", lambda r: r <= 1.25),
        "up testcontainers/ephemeral": ("≥ 1.5", lambda r: r >= 1.5),
        "teardown ephemeral/bare": ("≤ 1.25", lambda r: r <= 1.25),
    }
    rows = []
    for name, a, b, what in pairs:
        if a in samples and b in samples:
            overall, paired = ratio(a, b, what)
            ratios[name] = overall
            if name in targets:
                target, ok = targets[name]
                rows.append(
                    f"| {name} | {overall:.2f} | {paired:.2f} | {target} | {verdict(ok(overall))} |"
                )
            else:
                rows.append(f"| {name} | {overall:.2f} | {paired:.2f} | (for scale) | |")
    if rows:
        w("### Ratios")
        w("")
        w("| ratio | of the medians | median of per-repetition ratios | target | |")
        w("|---|---|---|---|---|")
        out.extend(rows)
        w("")
    w("### When each service was ready (seconds since the start, median)")
    w("")
    services = ("db", "cache", "api")
    w("| contender | " + " | ".join(services) + " |")
    w("|---|" + "---|" * len(services))
    for kind, v in samples.items():
        cells = [
            fmt(statistics.median(s.ready[n] for s in v)) if all(n in s.ready for s in v) else "-"
            for n in services
        ]
        w(f"| {TITLES[kind]} | " + " | ".join(cells) + " |")
    w("")
    early_rows = []
    for kind, v in samples.items():
        margins = [s.extra.get("db_early") for s in v]
        known = [m for m in margins if m is not None]
        if not known:
            continue
        early = [m for m in known if m > 0]
        by = f"{statistics.median(early):.2f}" if early else "-"
        early_rows.append(f"| {TITLES[kind]} | {len(early)} of {len(known)} | {by} |")
    if early_rows:
        w("### Was db really ready?")
        w("")
        w(
            "The PostgreSQL image (like the official one) first runs a temporary server on the "
            "Unix socket only, for its init scripts, stops it, then starts the real one; "
            "`pg_isready` without `-h` says yes to the temporary server too. The check here "
            f"(the spec's healthcheck, run by the engine and by the bare script): "
            f"`{' '.join(db_check())}`. From the db's own log: in how many runs each "
            "contender took db for ready before the real server's "
            '"ready to accept connections", and by how much (0 of N: nobody was fooled).'
        )
        w("")
        w("| contender | runs with db taken for ready during init | by, seconds (median) |")
        w("|---|---|---|")
        out.extend(early_rows)
        w("")
        if "ephemeral" in samples and "bare" in samples:
            both = [
                (e.up, b.up)
                for e, b in zip(samples["ephemeral"], samples["bare"], strict=True)
                if e.extra.get("db_early") is not None
                and b.extra.get("db_early") is not None
                and e.extra["db_early"] <= 0
                and b.extra["db_early"] <= 0
            ]
            if both and len(both) < len(samples["bare"]):
                r = statistics.median(e for e, _ in both) / statistics.median(b for _, b in both)
                ratios["up ephemeral/bare, db truly ready in both"] = r
                w(
                    "UP ephemeral/bare over the repetitions in which neither took db for ready "
                    f"early: {r:.2f} ({len(both)} of {len(samples['bare'])} repetitions)."
                )
                w("")
    if "ephemeral" in samples:
        v = samples["ephemeral"]
        w(
            "### pytest-ephemeral timeline per service "
            "(seconds since the engine began the start, median)"
        )
        w("")
        w("| service | image ready | created | started | ready |")
        w("|---|---|---|---|---|")
        for name in v[0].extra["timeline"]:
            cells = []
            for key in ("image", "created", "started", "ready"):
                vals = [
                    s.extra["timeline"][name][key]
                    for s in v
                    if s.extra["timeline"][name][key] is not None
                ]
                cells.append(fmt(statistics.median(vals)) if vals else "-")
            w(f"| {name} | " + " | ".join(cells) + " |")
        pre = [s.up - s.extra["ready_after"] for s in v]
        image = statistics.median(s.extra["image"] for s in v)
        w("")
        w(
            "Outside that timeline (Manager, spec load, engine connection, reaper spawn, sweep "
            f"of dead runs, start slot), per UP: {mmm(pre)} s. The api image (built by content "
            f"digest) was ready after a median {image:.2f} s, network creation included: no "
            "rebuild on warm runs."
        )
        swept = [c for c in (sweep_cost(s) for s in v) if c is not None]
        if swept:
            w(
                f"In {len(swept)} of {len(v)} runs the sweep found leftovers of a dead run of "
                "someone else on this engine and removed them before starting ours, for "
                f"{mmm([c for c, _ in swept])} s "
                f"({statistics.median(n for _, n in swept):.0f} removal calls, median)."
            )
        w("")
        cycles = {
            k: [c for c in (db_probe_cycle(s) for s in samples[k]) if c is not None]
            for k in ("ephemeral", "bare")
            if k in samples
        }
        if all(cycles.values()) and len(cycles) == 2:
            execs = {k: statistics.median(db_probe_count(s) for s in samples[k]) for k in cycles}
            w(
                "How late is a healthy db noticed? The db's readiness check is an exec of "
                "`pg_isready`; the time between the last failing and the successful check bounds "
                "the delay. pytest-ephemeral: median "
                f"{statistics.median(cycles['ephemeral']):.2f} s "
                f"({execs['ephemeral']:.0f} checks per UP); bare: median "
                f"{statistics.median(cycles['bare']):.2f} s ({execs['bare']:.0f} checks per UP)."
            )
            w("")
        counts = Counter((c.method, c.path) for s in v for c in s.extra["calls_up"])
        w("Docker API calls of one pytest-ephemeral UP (mean per run, by endpoint):")
        w("")
        w("| calls | endpoint |")
        w("|---|---|")
        for (method, path), n in counts.most_common(12):
            w(f"| {n / len(v):.1f} | `{method} {path}` |")
        w("")
    if stubborn:
        w("### Teardown of a service that ignores SIGTERM (10 s stop grace period)")
        w("")
        w(
            "| teardown of one SIGTERM-ignoring container + its network "
            "| seconds: median (min-max) |"
        )
        w("|---|---|")
        if stubborn.get("ephemeral"):
            w(f"| pytest-ephemeral `Manager.close` | {mmm(stubborn['ephemeral'])} |")
        if stubborn.get("bare"):
            w(f"| bare forced removal | {mmm(stubborn['bare'])} |")
        if stubborn.get("graceful"):
            w(
                "| for scale: `docker stop` (grace period waited out), then remove "
                f"| {mmm(stubborn['graceful'])} |"
            )
        if stubborn.get("ephemeral") and stubborn.get("bare"):
            r = statistics.median(stubborn["ephemeral"]) / statistics.median(stubborn["bare"])
            waits = (
                "does not wait"
                if statistics.median(stubborn["ephemeral"]) < STOP_GRACE / 2
                else "**waits**"
            )
            ratios["sigterm teardown ephemeral/bare"] = r
            w("")
            w(
                f"Ratio ephemeral/bare: {r:.2f} (target ≤ 1.25: {verdict(r <= 1.25)}); "
                f"the engine {waits} "
                "for the grace period."
            )
        w("")
    w("### Reading")
    w("")
    out.extend(reading(samples, ratios, stubborn))
    return "\n".join(out) + "\n", ratios


def reading(
    samples: dict[str, list[Sample]], ratios: dict[str, float], stubborn: dict[str, list[float]]
) -> list[str]:
    """Sentences computed from the numbers above (no number typed by hand)."""
    lines: list[str] = []
    med = {k: statistics.median(s.up for s in v) for k, v in samples.items()}
    ready = {
        k: {
            n: statistics.median(s.ready[n] for s in v)
            for n in ("db", "cache", "api")
            if all(n in s.ready for s in v)
        }
        for k, v in samples.items()
    }
    if "bare" in ready and {"db", "api"} <= set(ready["bare"]):
        b = ready["bare"]
        lines.append(
            f"- The floor is PostgreSQL: even polled every {POLL * 1000:.0f} ms by hand, db is "
            f"ready after {b['db']:.2f} s of the bare script's {med['bare']:.2f} s; the api, "
            f"which may only start then, adds {b['api'] - b['db']:.2f} s (container create + "
            "start + its first good "
            "`/health`)."
        )
    if "ephemeral" in ready and "bare" in ready and {"db", "api"} <= set(ready["ephemeral"]):
        e, b = ready["ephemeral"], ready["bare"]
        pre = statistics.median(s.up - s.extra["ready_after"] for s in samples["ephemeral"])
        lines.append(
            f"- pytest-ephemeral's UP is {med['ephemeral'] - med['bare']:+.2f} s against the "
            "floor: "
            f"{pre:.2f} s before the engine starts anything (see above), db ready "
            f"{e['db'] - b['db']:+.2f} s and api ready {e['api'] - b['api']:+.2f} s relative to "
            "bare "
            "(engine timeline and bare clocks start at slightly different points; "
            "the totals are exact)."
        )
    if "up ephemeral/bare" in ratios:
        r = ratios["up ephemeral/bare"]
        lines.append(
            f"- UP ephemeral/bare = {r:.2f}: "
            + ("within the 1.25 target." if r <= 1.25 else "outside the 1.25 target.")
            + (
                " Below 1.0 does not mean the engine beats a hand-written script: the two are "
                "equal within this machine's noise (see the min-max ranges); both spend the time "
                "waiting for PostgreSQL and for container starts."
                if r < 1.0
                else ""
            )
        )
    early = {k: sum(1 for s in v if (s.extra.get("db_early") or 0) > 0) for k, v in samples.items()}
    if "ephemeral" in samples and "bare" in samples and (early["ephemeral"] or early["bare"]):
        text = (
            f"- The bare script took db for ready during PostgreSQL's init in {early['bare']} of "
            f"{len(samples['bare'])} runs, pytest-ephemeral in {early['ephemeral']} of "
            f"{len(samples['ephemeral'])}: `pg_isready` over the Unix socket also answers the "
            "short-lived init server, and whoever polls more densely catches it more often. "
            "Such a run looks faster because the api is created and started while PostgreSQL "
            'restarts; it is a false "healthy" (a seed step would meet a server about to '
            "shut down). "
        )
        key = "up ephemeral/bare, db truly ready in both"
        if key in ratios:
            text += f"Counting only runs where both waited for the real server: {ratios[key]:.2f}."
        lines.append(text)
    if "up testcontainers/ephemeral" in ratios and "testcontainers" in ready:
        r = ratios["up testcontainers/ephemeral"]
        t = ready["testcontainers"]
        text = (
            f"- testcontainers-python the usual way takes {r:.2f}x as long: one container after "
            "another (cache is only created once db is ready, at "
            f"{t.get('db', float('nan')):.2f} s), "
            "and every wait strategy polls at its default 1 s interval, so each readiness is "
            "noticed up to a second late."
        )
        if "up testcontainers-tuned/ephemeral" in ratios:
            text += (
                f" With every poll at {POLL * 1000:.0f} ms it still takes "
                f"{ratios['up testcontainers-tuned/ephemeral']:.2f}x as long: that remainder is "
                "going one by one instead of along the dependency graph."
            )
        lines.append(text)
    if "up compose/ephemeral" in ratios and "teardown compose/ephemeral" in ratios:
        lines.append(
            f"- docker-compose (v1) UP is {ratios['up compose/ephemeral']:.2f}x "
            "pytest-ephemeral's: it "
            "starts in parallel too, but learns that db is healthy only from Docker's own "
            "healthcheck, which runs once per `interval` (1 s), and is a Python program of its "
            "own to start. Its teardown is "
            f"{ratios['teardown compose/ephemeral']:.1f}x as long: `down` stops containers "
            "gracefully, and the api (Python as PID 1, no SIGTERM handler) ignores SIGTERM, so "
            "the 10 s grace period runs out before it is killed."
        )
    if "teardown ephemeral/bare" in ratios:
        r = ratios["teardown ephemeral/bare"]
        lines.append(
            f"- TEARDOWN ephemeral/bare = {r:.2f}: the engine removes containers in parallel with "
            "force (no stop grace), then the network, plus label queries so that it also removes "
            "what it did not record (a create in flight)."
        )
    if stubborn.get("ephemeral") and stubborn.get("graceful"):
        lines.append(
            f"- With a service that ignores SIGTERM, a graceful stop costs "
            f"{statistics.median(stubborn['graceful']):.1f} s; the engine's teardown costs "
            f"{statistics.median(stubborn['ephemeral']):.2f} s."
        )
    lines.append(
        "- The machine is shared: other jobs may run on the same Docker engine during the "
        "run, which is why the contenders are interleaved and only ratios of medians are "
        "compared. Min-max ranges show the noise."
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=5, help="measured repetitions (default 5)")
    p.add_argument("--out", type=Path, help="write the results section into this markdown file")
    p.add_argument(
        "--contenders",
        default=",".join(CONTENDERS),
        help=f"comma-separated subset of {','.join(CONTENDERS)}",
    )
    p.add_argument("--settle", type=float, default=1.0, help="pause between runs, seconds")
    p.add_argument("--no-sigterm", action="store_true", help="skip the SIGTERM teardown check")
    p.add_argument(
        "--trace", action="store_true", help="print pytest-ephemeral's Docker calls of the last run"
    )
    args = p.parse_args(argv)
    kinds = [k.strip() for k in args.contenders.split(",") if k.strip()]
    for k in kinds:
        if k not in FACTORIES:
            p.error(f"--contenders: {k!r} is not one of {', '.join(CONTENDERS)}")

    client = docker.from_env()
    api = low_level()
    started = time.monotonic()
    facts = machine_facts(api.info())
    samples: dict[str, list[Sample]] = {k: [] for k in kinds}
    stubborn: dict[str, list[float]] = {}
    spec_dir = Path(tempfile.mkdtemp(prefix="stubborn-", dir=scratch()))
    try:
        log(f"building {API_TAG} from examples/quickstart/api (cached after the first time)")
        image, _ = client.images.build(path=str(QUICKSTART / "api"), tag=API_TAG, rm=True)
        log(f"{API_TAG} = {image.short_id}")
        for rep in range(-1, args.repeat):
            order = kinds[rep % len(kinds) :] + kinds[: rep % len(kinds)] if rep >= 0 else kinds
            for kind in order:
                sample = run_once(kind)
                tag = "warm-up" if rep < 0 else f"rep {rep + 1}/{args.repeat}"
                log(
                    f"{tag:>9} {kind:<15} up {sample.up:6.2f} s  teardown {sample.down:5.2f} s  "
                    f"calls {sample.calls_up}/{sample.calls_down}"
                )
                if rep >= 0:
                    samples[kind].append(sample)
                time.sleep(args.settle)
        if not args.no_sigterm and ("ephemeral" in kinds):
            (spec_dir / "ephemeral.yaml").write_text(STUBBORN_SPEC, encoding="utf-8")
            stubborn = {"ephemeral": [], "bare": []}
            stubborn_ephemeral(spec_dir)  # warm-up
            for rep in range(args.repeat):
                for kind in ("ephemeral", "bare") if rep % 2 == 0 else ("bare", "ephemeral"):
                    took = stubborn_ephemeral(spec_dir) if kind == "ephemeral" else stubborn_bare()
                    stubborn[kind].append(took)
                    log(f"rep {rep + 1}/{args.repeat} stubborn {kind:<10} teardown {took:5.2f} s")
            stubborn["graceful"] = [stubborn_bare(graceful=True)]
            log(f"stubborn graceful stop: {stubborn['graceful'][0]:.2f} s")
    finally:
        # nothing of ours may survive, whatever happened
        labels = [f"{BENCH_RUN}={TOKEN}"] + [f"{EPH_RUN}={r}" for r in Ephemeral.run_ids]
        for label in labels:
            with contextlib.suppress(Exception):
                force_remove(api, label)
        shutil.rmtree(scratch(), ignore_errors=True)

    # the leak check: nothing with our bench label, nothing of our engine runs
    leaks = leftovers(api, f"{BENCH}=1")
    ours = {f"{EPH_RUN}={r}" for r in Ephemeral.run_ids}
    for label in ours:
        leaks += leftovers(api, label)
    others = leftovers(api, EPH_ENV)
    api.close()
    if leaks:
        raise SystemExit(f"resources left behind: {', '.join(leaks)}")
    if others:
        log(
            f"note: {len(others)} pytest-ephemeral resource(s) of other runs "
            "on this engine (not ours)"
        )

    wall = time.monotonic() - started
    report, _ratios = build_report(args, samples, stubborn, facts, wall)
    print(report)
    if args.trace and "ephemeral" in samples and samples["ephemeral"]:
        last = samples["ephemeral"][-1]
        print("pytest-ephemeral Docker API calls of the last UP (start s, took s, call, thread):")
        for c in last.extra["calls_up"]:
            print(f"  {c.at:7.3f} {c.took:6.3f}  {c.method:6} {c.path:<40} {c.thread}")
        print("... and of its TEARDOWN:")
        for c in last.extra["calls_down"]:
            print(f"  {c.at:7.3f} {c.took:6.3f}  {c.method:6} {c.path:<40} {c.thread}")
    if args.out:
        write_section(args.out, "bench_up", report)
        log(f"wrote the bench_up section of {args.out}")
    log("no container, network or volume of this run is left")
    return 0


if __name__ == "__main__":
    sys.exit(main())
