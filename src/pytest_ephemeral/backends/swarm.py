"""The Swarm backend (``--eph-backend swarm``): an environment is a set of
Swarm services on an attachable overlay network of its own, placed across the
swarm's nodes.

What Swarm does not do, the backend and the engine do:

- ``depends_on`` and every ``wait:`` form: the engine waits as on one engine;
  a Swarm "container" here is a service (one replica), started by scaling it
  from 0 to 1, its state read from its task.
- Ports: Swarm's routing mesh listens on every interface of every node, so it
  is never used. For each published port a small forwarder container runs on
  the manager — the machine that runs pytest —, attached to the overlay
  network, published on 127.0.0.1 only, relaying to the service by name. It
  closes a connection at once while the service does not answer, so port
  waits see the service, not the forwarder.
- Services reach each other by name with ``endpoint_mode: dnsrr`` (DNS round
  robin): the virtual-IP mode needs IPVS, which these kernels may lack.
- ``exec``, ``copy_to`` and health: on the node that runs the task, through
  that node's engine (the node label ``pytest-ephemeral.engine=URL``; the
  manager's own engine otherwise).
- Named volumes live on the node that runs the task; each is created there
  with the environment's labels, and removal asks every node's engine.
- Secrets and configs become Swarm configs, labelled like everything else.

Labels, keep, reuse, TTL, the reaper and the sweep work from labels as on
one engine. A ``build:`` needs a registry every node can pull from, and
testcontainers modules need a single engine: both are refused with the fix.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..errors import EngineUnavailableError, EphemeralError
from ..runtime.backend import (
    ContainerRequest,
    ContainerState,
    EngineCapacity,
    ExecResult,
    ModuleHandle,
    ModuleRequest,
    PortKey,
    Resource,
)
from ..runtime.streams import EventWatch, LogFollower
from .docker import DockerBackend, _healthcheck_body

__all__ = ["SwarmBackend"]

NODE_ENGINE_LABEL = "pytest-ephemeral.engine"
ENV_LABEL = "pytest-ephemeral.env"
FORWARDER_OF = "pytest-ephemeral.forwarder-of"
FORWARDER_IMAGE = "python:3.12-slim"

# a TCP relay to TARGET:PORT for each "LISTEN:TARGET:PORT" argument; while the
# target does not answer, a connection is closed at once (as docker-proxy does)
_FORWARDER = r"""
import socket, sys, threading
def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
def serve(listen, host, port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", listen))
    srv.listen(128)
    while True:
        conn, _ = srv.accept()
        try:
            up = socket.create_connection((host, port), timeout=2)
        except OSError:
            conn.close()
            continue
        up.settimeout(None)
        threading.Thread(target=pipe, args=(conn, up), daemon=True).start()
        threading.Thread(target=pipe, args=(up, conn), daemon=True).start()
for spec in sys.argv[1:]:
    listen, host, port = spec.split(":")
    threading.Thread(target=serve, args=(int(listen), host, int(port)), daemon=True).start()
print("forwarding", *sys.argv[1:], flush=True)
threading.Event().wait()
"""

_TASK_STATES = {
    "new": "created",
    "pending": "created",
    "assigned": "created",
    "accepted": "created",
    "preparing": "created",
    "ready": "created",
    "starting": "created",
    "running": "running",
    "complete": "exited",
    "failed": "exited",
    "shutdown": "exited",
    "rejected": "exited",
    "orphaned": "exited",
    "remove": "exited",
}


def _replicas_state(service: Mapping[str, Any]) -> str:
    """``running`` for a service asked to run (as ``eph ls`` counts), else ``created``."""
    mode = (service.get("Spec") or {}).get("Mode") or {}
    wanted = (mode.get("Replicated") or {}).get("Replicas", 1)
    return "running" if wanted else "created"


class SwarmBackend(DockerBackend):
    """A :class:`~pytest_ephemeral.runtime.backend.Backend` over a Swarm manager."""

    name = "swarm"

    def __init__(self, base_url: str | None = None, timeout: int = 120) -> None:
        super().__init__(base_url, timeout)
        self._requests: dict[str, ContainerRequest] = {}
        self._nodes: dict[str, DockerBackend] = {}
        self._lock = threading.Lock()
        self._checked = False

    # -- the swarm ---------------------------------------------------------------
    def _manager(self) -> None:
        if self._checked:
            return
        info = self._call("docker info", self._api.info)
        swarm = info.get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            raise EngineUnavailableError(
                f"--eph-backend swarm: the engine at {self.address} is not a swarm manager "
                "(run `docker swarm init` there, or point DOCKER_HOST at a manager)"
            )
        self._checked = True

    def _node_engine(self, node_id: str) -> DockerBackend:
        """The engine of ``node_id`` (its node label, else the manager's own)."""
        with self._lock:
            known = self._nodes.get(node_id)
        if known is not None:
            return known
        node = self._call("inspect node", lambda: self._api.inspect_node(node_id))
        url = ((node.get("Spec") or {}).get("Labels") or {}).get(NODE_ENGINE_LABEL)
        engine: DockerBackend = self if not url or url == self.address else DockerBackend(url)
        with self._lock:
            self._nodes[node_id] = engine
        return engine

    def _engines(self) -> list[DockerBackend]:
        """Every node's engine (the manager's first)."""
        nodes = self._call("list nodes", self._api.nodes)
        engines: list[DockerBackend] = [self]
        for node in nodes:
            engine = self._node_engine(str(node["ID"]))
            if engine is not self and all(e.address != engine.address for e in engines):
                engines.append(engine)
        return engines

    def capacity(self) -> EngineCapacity:
        self._manager()
        nodes = self._call("list nodes", self._api.nodes)
        cpus = sum(
            int((n.get("Description") or {}).get("Resources", {}).get("NanoCPUs", 0) / 1e9)
            for n in nodes
        )
        memory = sum(
            int((n.get("Description") or {}).get("Resources", {}).get("MemoryBytes", 0))
            for n in nodes
        )
        services = self._call(
            "list services", lambda: self._api.services(filters={"label": "pytest-ephemeral.env"})
        )
        return EngineCapacity(cpus=max(cpus, 1), memory=memory, running=len(services))

    # -- what a swarm cannot do ------------------------------------------------------
    def build_image(self, context: str, *args: Any, **kwargs: Any) -> None:
        raise EphemeralError(
            f"--eph-backend swarm: cannot build {context} for the swarm: every node must pull "
            "the image, so build and push it to a registry the nodes reach, and name it with "
            "image: (or run this spec with --eph-backend docker)"
        )

    def start_module(self, request: ModuleRequest, created: Callable[[str], None]) -> ModuleHandle:
        raise EphemeralError(
            "--eph-backend swarm: testcontainers services need a single Docker engine; "
            "run this spec with --eph-backend docker, or give the service an image"
        )

    def watch_events(self, labels: Mapping[str, str]) -> EventWatch | None:
        return None  # task states are polled

    def follow_logs(self, container_id: str) -> LogFollower | None:
        return None

    # -- resources -------------------------------------------------------------------
    def create_network(self, name: str, labels: Mapping[str, str]) -> str:
        self._manager()
        res = self._call(
            f"create overlay network {name}",
            lambda: self._api.create_network(
                name, driver="overlay", attachable=True, labels=dict(labels)
            ),
        )
        return str(res["Id"])

    def create_container(self, request: ContainerRequest) -> str:
        """A service of 0 replicas (``start_container`` scales it to 1)."""
        self._manager()
        spec: dict[str, Any] = {"Image": request.image, "Labels": dict(request.labels)}
        if request.entrypoint is not None:
            spec["Command"] = list(request.entrypoint)
        if request.command is not None:
            spec["Args"] = list(request.command)
        if request.environment:
            spec["Env"] = [f"{k}={v}" for k, v in request.environment.items()]
        if request.healthcheck is not None:
            spec["Healthcheck"] = _healthcheck_body(request.healthcheck)
        if request.user:
            spec["User"] = request.user
        if request.working_dir:
            spec["Dir"] = request.working_dir
        if request.hostname:
            spec["Hostname"] = request.hostname
        if request.privileged:
            raise EphemeralError(
                f"--eph-backend swarm: {request.name} asks for privileged: Swarm services "
                "cannot be privileged; drop privileged: or use --eph-backend docker"
            )
        mounts: list[dict[str, Any]] = []
        for m in request.mounts:
            mount: dict[str, Any] = {"Type": m.kind, "Target": m.target, "ReadOnly": m.read_only}
            if m.source is not None:
                mount["Source"] = m.source
            if m.kind == "volume":  # made on the task's node, labelled for removal
                mount["VolumeOptions"] = {"Labels": dict(request.labels)}
            mounts.append(mount)
        for path, options in request.tmpfs.items():
            tmpfs: dict[str, Any] = {"Type": "tmpfs", "Target": path}
            if options:
                tmpfs["TmpfsOptions"] = {}
            mounts.append(tmpfs)
        if mounts:
            spec["Mounts"] = mounts
        if request.files:
            spec["Configs"] = [self._config(request, f) for f in request.files]
        limits: dict[str, int] = {}
        if request.nano_cpus or request.resources.cpus:
            limits["NanoCPUs"] = request.nano_cpus or int((request.resources.cpus or 0) * 1e9)
        if request.mem_limit or request.resources.memory:
            limits["MemoryBytes"] = request.mem_limit or int(request.resources.memory or 0)
        if request.resources.pids:
            limits["Pids"] = request.resources.pids
        reservations: dict[str, int] = {}
        if request.resources.cpus_reserved:
            reservations["NanoCPUs"] = int(request.resources.cpus_reserved * 1e9)
        if request.resources.memory_reserved:
            reservations["MemoryBytes"] = request.resources.memory_reserved
        networks = [{"Target": request.network, "Aliases": list(request.aliases)}]
        networks += [
            {"Target": net, "Aliases": list(aliases)}
            for net, aliases in request.extra_networks.items()
        ]
        body = {
            "Name": request.name,
            "Labels": dict(request.labels),
            "TaskTemplate": {
                "ContainerSpec": spec,
                "Resources": {"Limits": limits, "Reservations": reservations},
                # a failed task stays failed: the engine reports it, nothing restarts it
                "RestartPolicy": {"Condition": "none"},
                "Networks": networks,
            },
            "Mode": {"Replicated": {"Replicas": 0}},
            "EndpointSpec": {"Mode": "dnsrr"},
        }

        def create() -> str:
            res = self._api._post_json(self._api._url("/services/create"), data=body)
            return str(self._api._result(res, True)["ID"])

        service_id = self._call(f"create service {request.name}", create)
        with self._lock:
            self._requests[service_id] = request
        return service_id

    def _config(self, request: ContainerRequest, entry: Any) -> dict[str, Any]:
        data = Path(entry.source).read_bytes()
        digest = hashlib.sha256(data).hexdigest()[:12]
        name = f"{request.name}-{Path(entry.target).name}-{digest}"[:64]
        body = {
            "Name": name,
            "Labels": dict(request.labels),
            "Data": base64.b64encode(data).decode(),
        }

        def create() -> str:
            res = self._api._post_json(self._api._url("/configs/create"), data=body)
            return str(self._api._result(res, True)["ID"])

        try:
            config_id = self._call(f"create config {name}", create)
        except EphemeralError as exc:
            if "already exists" not in str(exc):
                raise
            config_id = str(self._api.inspect_config(name)["ID"])
        return {
            "File": {
                "Name": entry.target,
                "UID": str(entry.uid),
                "GID": str(entry.gid),
                "Mode": entry.mode,
            },
            "ConfigID": config_id,
            "ConfigName": name,
        }

    def start_container(self, container_id: str) -> None:
        """Scale the service to one replica, and start its port forwarder."""
        info = self._call("inspect service", lambda: self._api.inspect_service(container_id))
        spec = info["Spec"]
        spec["Mode"] = {"Replicated": {"Replicas": 1}}
        version = info["Version"]["Index"]

        def update() -> None:
            url = self._api._url("/services/{0}/update", container_id)
            res = self._api._post_json(url, data=spec, params={"version": version})
            self._api._raise_for_status(res)

        self._call(f"start service {spec.get('Name')}", update)
        request = self._requests.get(container_id)
        if request is not None and request.ports:
            self._forwarder(container_id, request)

    def _forwarder(self, service_id: str, request: ContainerRequest) -> None:
        relays = [f"{p.container_port}:{request.name}:{p.container_port}" for p in request.ports]
        labels = {k: v for k, v in request.labels.items() if k != "pytest-ephemeral.service"}
        labels[FORWARDER_OF] = service_id
        forwarder = ContainerRequest(
            name=f"{request.name}-fwd",
            image=FORWARDER_IMAGE,
            labels=labels,
            network=request.network,
            aliases=(),
            command=("python3", "-u", "-c", _FORWARDER, *relays),
            ports=tuple(p for p in request.ports if p.protocol == "tcp"),
        )
        cid = super().create_container(forwarder)
        super().start_container(cid)

    # -- state ----------------------------------------------------------------------
    def _task(self, service_id: str) -> dict[str, Any] | None:
        tasks = self._call("list tasks", lambda: self._api.tasks(filters={"service": service_id}))
        if not tasks:
            return None
        return max(tasks, key=lambda t: (t.get("Version") or {}).get("Index", 0))  # type: ignore[no-any-return]

    def _forwarder_ports(self, service_id: str) -> dict[PortKey, int]:
        found = super().list_resources({FORWARDER_OF: service_id})
        for res in found:
            if res.kind == "container":
                return dict(super().state(res.id).ports)
        return {}

    def state(self, container_id: str) -> ContainerState:
        task = self._task(container_id)
        if task is None:
            return ContainerState("created", 0, None, container_id=container_id)
        status = task.get("Status") or {}
        raw = str(status.get("State") or "new")
        mapped = _TASK_STATES.get(raw, "created")
        cstatus = status.get("ContainerStatus") or {}
        exit_code = int(cstatus.get("ExitCode") or (1 if raw in ("failed", "rejected") else 0))
        error = str(status.get("Err") or "")
        if raw == "pending" and "no suitable node" in error:
            # the scheduler cannot place it: waiting longer will not help
            return ContainerState(
                "exited",
                1,
                None,
                error=f"no node of the swarm has room for it ({error}); free or add nodes, "
                "or lower its deploy.resources reservations",
                container_id=container_id,
            )
        health = None
        if mapped == "running" and cstatus.get("ContainerID"):
            request = self._requests.get(container_id)
            if request is None or request.healthcheck is not None:
                engine = self._node_engine(str(task.get("NodeID")))
                with contextlib.suppress(EphemeralError):
                    health = DockerBackend.state(engine, str(cstatus["ContainerID"])).health
        ports = self._forwarder_ports(container_id) if mapped == "running" else {}
        return ContainerState(
            status=mapped,
            exit_code=exit_code,
            health=health,
            error=error,
            ports=ports,
            container_id=container_id,
        )

    def _running_container(self, service_id: str) -> tuple[DockerBackend, str]:
        task = self._task(service_id)
        cid = (((task or {}).get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID")
        if task is None or not cid:
            raise EphemeralError(f"service {service_id[:12]} has no running task to reach")
        return self._node_engine(str(task.get("NodeID"))), str(cid)

    def node_of(self, container_id: str) -> str | None:
        """The node that runs ``container_id``'s task (for tests and reports)."""
        task = self._task(container_id)
        return str(task.get("NodeID")) if task else None

    def exec(
        self,
        container_id: str,
        cmd: Sequence[str],
        *,
        user: str | None = None,
        workdir: str | None = None,
        environment: Mapping[str, str] | None = None,
        privileged: bool = False,
    ) -> ExecResult:
        engine, cid = self._running_container(container_id)
        return DockerBackend.exec(
            engine,
            cid,
            cmd,
            user=user,
            workdir=workdir,
            environment=environment,
            privileged=privileged,
        )

    def copy_to(self, container_id: str, dest_dir: str, files: Mapping[str, str]) -> None:
        engine, cid = self._running_container(container_id)
        DockerBackend.copy_to(engine, cid, dest_dir, files)

    def logs(
        self, container_id: str, *, since: float | None = None, tail: int | None = None
    ) -> str:
        """The task container's output, read on its node (quicker than the
        manager's service logs, which are the fallback)."""
        with contextlib.suppress(EphemeralError):
            engine, cid = self._running_container(container_id)
            return DockerBackend.logs(engine, cid, since=since, tail=tail)
        kwargs: dict[str, Any] = {"stdout": True, "stderr": True}
        if since:
            kwargs["since"] = int(since)
        if tail is not None:
            kwargs["tail"] = tail
        try:
            return b"".join(self._api.service_logs(container_id, **kwargs)).decode(
                "utf-8", "replace"
            )
        except Exception:
            return ""

    # -- listing and removal ----------------------------------------------------------
    def list_resources(self, labels: Mapping[str, str | None]) -> list[Resource]:
        flt = [k if v is None else f"{k}={v}" for k, v in labels.items()]
        out: list[Resource] = []
        for svc in self._call("list services", lambda: self._api.services(filters={"label": flt})):
            spec = svc.get("Spec") or {}
            out.append(
                Resource(
                    "container",
                    str(svc["ID"]),
                    str(spec.get("Name", "?")),
                    dict(spec.get("Labels") or {}),
                    _replicas_state(svc),
                )
            )
        # forwarders, networks, the manager's volumes; not the tasks' containers
        # (they go with their services)
        out += [
            r
            for r in super().list_resources(labels)
            if "com.docker.swarm.service.id" not in r.labels
        ]
        for engine in self._engines()[1:]:
            with contextlib.suppress(EphemeralError):
                out += [r for r in engine.list_resources(labels) if r.kind == "volume"]
        for cfg in self._call("list configs", lambda: self._api.configs(filters={"label": flt})):
            spec = cfg.get("Spec") or {}
            out.append(
                Resource(
                    "volume",  # removed with the volumes, after the services
                    "config:" + str(cfg["ID"]),
                    str(spec.get("Name", "?")),
                    dict(spec.get("Labels") or {}),
                )
            )
        return out

    def remove(self, resources: Sequence[Resource]) -> list[str]:
        """Services first (their tasks go with them), then forwarders, then —
        once no task holds them — networks, configs and every node's volumes."""
        errors: list[str] = []
        services: set[str] = set()
        containers: list[Resource] = []
        for r in resources:
            if r.kind != "container":
                continue
            if r.id in self._requests or self._is_service(r.id):
                services.add(r.id)
            else:
                containers.append(r)

        def drop(sid: str) -> None:
            try:
                self._api.remove_service(sid)
            except Exception as exc:
                if "not found" not in str(exc).lower():
                    errors.append(f"service {sid[:12]}: {exc}")

        if services:
            with ThreadPoolExecutor(max_workers=min(8, len(services))) as pool:
                list(pool.map(drop, services))
        errors += super().remove(containers)
        env_ids = {r.labels.get(ENV_LABEL) for r in resources if r.labels.get(ENV_LABEL)}
        if services:
            self._kill_tasks(services, {e for e in env_ids if e})
            self._wait_tasks_gone(services)
        rest = [r for r in resources if r.kind != "container"]
        for cfg in (r for r in rest if r.id.startswith("config:")):
            with contextlib.suppress(Exception):
                self._api.remove_config(cfg.id.removeprefix("config:"))
        plain = [r for r in rest if not r.id.startswith("config:")]
        left: list[str] = []
        for _ in range(20):  # a network is busy until the tasks' endpoints are gone
            left = super().remove(plain)
            if not left:
                break
            time.sleep(0.5)
        errors += left
        for engine in self._engines()[1:]:  # the volumes the tasks made on their nodes
            for env_id in env_ids:
                with contextlib.suppress(EphemeralError):
                    volumes = [
                        r for r in engine.list_resources({ENV_LABEL: env_id}) if r.kind == "volume"
                    ]
                    for _ in range(20):
                        if not volumes or not engine.remove(volumes):
                            break
                        time.sleep(0.5)
        return errors

    def _is_service(self, resource_id: str) -> bool:
        try:
            self._api.inspect_service(resource_id)
        except Exception:
            return False
        return True

    def _kill_tasks(self, service_ids: set[str], env_ids: set[str]) -> None:
        """Kill and remove the removed services' task containers on every node
        that can be reached, instead of waiting for the swarm to stop them with
        their stop grace period (10 s by default, more on a busy node): the
        removal of an environment does not wait for grace periods (DESIGN §3)."""
        for engine in self._engines():
            own = engine is self
            for env_id in env_ids:
                with contextlib.suppress(EphemeralError):
                    listed = (
                        DockerBackend.list_resources(self, {ENV_LABEL: env_id})
                        if own
                        else engine.list_resources({ENV_LABEL: env_id})
                    )
                    tasks = [
                        r
                        for r in listed
                        if r.kind == "container"
                        and r.labels.get("com.docker.swarm.service.id") in service_ids
                    ]
                    if tasks:
                        DockerBackend.remove(self, tasks) if own else engine.remove(tasks)

    def _wait_tasks_gone(self, service_ids: set[str], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        busy = ("running", "starting", "preparing", "assigned", "accepted", "pending")
        while time.monotonic() < deadline:
            tasks = []
            for sid in service_ids:
                with contextlib.suppress(Exception):
                    tasks += [
                        t
                        for t in self._api.tasks(filters={"service": sid})
                        if (t.get("Status") or {}).get("State") in busy
                    ]
            if not tasks:
                return
            time.sleep(0.25)
