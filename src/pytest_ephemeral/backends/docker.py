"""The Docker backend: the engine's :class:`~pytest_ephemeral.runtime.backend.Backend`
on the Docker SDK. All of Docker's wire format lives here: port keys like
``"5432/tcp"``, nanosecond durations, mount and healthcheck bodies, event JSON,
error strings.

The low-level API client is used throughout: one request per operation, no
implicit re-inspection, safe to share between threads.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from . import _sdk  # first: the Docker SDK without its ssh transport (see _sdk)

# isort: split
import docker
import docker.errors
import docker.utils.build
import requests.exceptions
import urllib3.exceptions

from ..errors import (
    EngineUnavailableError,
    EphemeralError,
    ImageNotFoundError,
    PortTakenError,
    RegistryError,
)
from ..runtime.backend import (
    ContainerEvent,
    ContainerRequest,
    ContainerState,
    EngineCapacity,
    ExecResult,
    ModuleHandle,
    ModuleRequest,
    PortKey,
    Resource,
)
from ..runtime.images import context_files
from ..runtime.streams import EventWatch, LogFollower
from . import _pull
from ._engines import EngineConfigError, EngineEndpoint, find_engine
from ._version import NegotiatingAPIClient

__all__ = ["DockerBackend", "default_address"]

T = TypeVar("T")
# pulls: connecting to the engine; the longest silence of the engine while a
# pull runs (it reports progress several times a second while downloading);
# waiting for another process's pull of the same image
PULL_CONNECT_TIMEOUT = 10.0
PULL_STALL_TIMEOUT = 120.0
PULL_LOCK_TIMEOUT = 1800.0
# a pull of the same image on this machine that recent makes another needless
# (several workers that found it missing at once pull it once)
PULL_FRESH = 60.0
# a build step as the engine reports it (Docker's "Step 2/5 : RUN ...", Podman's "STEP 2/5: ...")
_STEP = re.compile(r"^\s*(?:Step|STEP)\s+(\d+)/(\d+)\s*:\s*(.*)$")
_FROM = re.compile(r"^(\s*FROM\s+)(--platform=\S+\s+)?(\S+)(.*)$", re.IGNORECASE)


def default_address() -> str:
    """The URL of the engine found the way the docker CLI finds it
    (:func:`~pytest_ephemeral.backends._engines.find_engine`)."""
    return find_engine().url


# the OS's reason inside the SDK's and urllib3's wrappings: "[Errno 111] Connection refused"
_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")\]]+")


def _unreachable(address: str, exc: BaseException) -> EngineUnavailableError:
    text = str(exc)
    found = _ERRNO.search(text)
    cause = found.group(0).strip() if found else (text.splitlines()[0] if text else "")
    if address.startswith("unix://"):
        fix = "start the engine, or choose another with DOCKER_HOST or DOCKER_CONTEXT"
    else:
        fix = (
            "the engine there is down or not reachable from this machine: start it, "
            "or choose another with DOCKER_HOST or DOCKER_CONTEXT"
        )
    return EngineUnavailableError(
        f"cannot reach the Docker engine at {address}: {exc.__class__.__name__}: {cause} ({fix})"
    )


def _client_options(endpoint: EngineEndpoint) -> dict[str, Any]:
    """TLS and ssh settings of the SDK client for ``endpoint``."""
    options: dict[str, Any] = {}
    tls = endpoint.tls
    if tls is not None:
        import docker.tls

        options["tls"] = docker.tls.TLSConfig(
            client_cert=(tls.cert, tls.key) if tls.cert and tls.key else None,
            ca_cert=tls.ca,
            verify=tls.verify,
        )
    if endpoint.scheme == "ssh":
        # the SDK imports paramiko for any ssh:// engine; the connection itself
        # goes through the OpenSSH client when there is one (the user's ssh
        # config, agent and known hosts, as the docker CLI uses them)
        if importlib.util.find_spec("paramiko") is None:
            raise EngineConfigError(
                f"{endpoint.describe()}: an ssh:// engine needs paramiko, which the Docker "
                "SDK imports for it (pip install 'pytest-ephemeral[ssh]')"
            )
        _sdk.ssh_transport()
        if shutil.which("ssh"):
            options["use_ssh_client"] = True
    return options


# Docker's container events that change what an inspect says about readiness
_EVENT_KINDS: dict[str, Any] = {
    "die": "died",
    "oom": "died",
    "kill": "died",
    "stop": "stopped",
    "pause": "stopped",
    "destroy": "removed",
    "remove": "removed",  # Podman's name for it
    "health_status": "health",
}


def _wire_port(key: PortKey) -> str:
    return f"{key[0]}/{key[1]}"


def _neutral_port(text: str) -> PortKey:
    number, _, protocol = text.partition("/")
    return (int(number), protocol or "tcp")


def _healthcheck_body(hc: Any) -> dict[str, object]:
    if hc.disable:
        return {"Test": ["NONE"]}
    body: dict[str, object] = {"Test": list(hc.test)}
    for key, value in (
        ("Interval", hc.interval),
        ("Timeout", hc.timeout),
        ("StartPeriod", hc.start_period),
    ):
        if value:
            body[key] = int(value * 1e9)
    if hc.retries is not None:
        body["Retries"] = hc.retries
    return body


def _events(stream: Any) -> Any:
    """Docker's event JSON as :class:`ContainerEvent` values."""
    for item in stream:
        if not isinstance(item, dict) or item.get("Type", "container") != "container":
            continue
        action = str(item.get("Action") or item.get("status") or "").partition(":")[0]
        cid = str(item.get("id") or (item.get("Actor") or {}).get("ID") or "")
        yield ContainerEvent(cid, _EVENT_KINDS.get(action, "other"))


class _EventStream:
    """The SDK's cancellable event stream, translated."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def __iter__(self) -> Any:
        return _events(self._raw)

    def close(self) -> None:
        self._raw.close()


class DockerBackend:
    """A :class:`~pytest_ephemeral.runtime.backend.Backend` talking to one Docker engine."""

    name = "docker"

    def __init__(self, base_url: str | None = None, timeout: int = 120) -> None:
        # where the engine is, how it was found, where its ports are reached;
        # bad input (a malformed DOCKER_HOST, an unknown context, TLS files
        # missing) is an EngineConfigError here, before any request
        self.endpoint = find_engine(base_url)
        self._address = self.endpoint.url
        self._publish_host = self.endpoint.publish_host
        self._bind_ip = self.endpoint.bind_ip
        self._kind: str | None = None  # "docker" or "podman", asked when first needed
        options = _client_options(self.endpoint)
        try:
            # the API version is negotiated from the engine's /version answer at
            # the first request (no round trip at construction: an unreachable
            # engine is reported by the first real call, as one clear error);
            # DOCKER_API_VERSION wins (backends/_version.py).
            # Streams (events, followed logs) each hold a connection while a
            # start runs, beside the requests of every service's thread
            self._client = self._api = NegotiatingAPIClient(
                base_url=self._address,
                timeout=timeout,
                max_pool_size=64,
                address=self._address,
                **options,
            )
            if self._address.startswith("unix://"):
                # a local socket needs no proxy: skip requests' scan of the
                # environment for proxy settings on every call
                self._api.trust_env = False
            elif self.endpoint.tls is not None:
                # the CA of the engine's TLS material, not REQUESTS_CA_BUNDLE's
                # (requests lets that variable override a session's CA); the
                # proxy settings of the environment still apply
                https = "https://" + self._address.partition("://")[2]
                self._api.proxies.update(requests.utils.get_environ_proxies(https))
                self._api.trust_env = False
        except docker.errors.DockerException as exc:
            raise _unreachable(self.endpoint.describe(), exc) from None

    # -- helpers -----------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (requests.exceptions.ConnectionError, ConnectionError) as exc:
            raise _unreachable(self._address, exc) from None
        except docker.errors.APIError as exc:
            msg = exc.explanation if isinstance(exc.explanation, str) else str(exc)
            raise EphemeralError(f"{what}: {msg}") from None

    @property
    def address(self) -> str:
        return self._address

    @property
    def publish_host(self) -> str:
        """Where this machine reaches published ports: 127.0.0.1, or the address
        a remote (tcp, ssh) engine was reached by."""
        return self._publish_host

    def _host_ip(self, asked: str) -> str:
        """The ``HostIp`` of a published port: a loopback address asked for
        (the default) is the engine's own loopback, unreachable from here when
        the engine is remote, so it becomes the remote engine's bind address."""
        if self._bind_ip != "127.0.0.1" and asked in ("127.0.0.1", "::1", "localhost"):
            return self._bind_ip
        return asked

    def capacity(self) -> EngineCapacity:
        info = self._call("docker info", self._api.info)
        return EngineCapacity(
            cpus=int(info.get("NCPU") or 1),
            memory=int(info.get("MemTotal") or 0),
            running=int(info.get("ContainersRunning") or 0),
        )

    def version(self) -> str:
        info = self._call("docker version", self._api.engine_answer)
        return str(info.get("Version", "?"))

    # -- images ------------------------------------------------------------
    def image_exists(self, image: str) -> bool:
        try:
            self._api.inspect_image(image)
        except docker.errors.ImageNotFound:
            return False
        except docker.errors.NotFound:
            return False
        except (requests.exceptions.ConnectionError, ConnectionError) as exc:
            raise _unreachable(self._address, exc) from None
        return True

    def image_healthcheck(self, image: str) -> tuple[str, ...] | None:
        info = self._call(f"inspect image {image}", lambda: self._api.inspect_image(image))
        test = ((info.get("Config") or {}).get("Healthcheck") or {}).get("Test")
        if not test or test == ["NONE"]:
            return None
        return tuple(str(t) for t in test)

    def image_created(self, image: str) -> float | None:
        """When the engine's copy of ``image`` was made or last refreshed
        (epoch seconds: the latest of its creation, its last tagging and this
        machine's last pull of it), None when the engine does not have it."""
        try:
            info = self._api.inspect_image(image)
        except docker.errors.NotFound:
            return None
        except (requests.exceptions.ConnectionError, ConnectionError) as exc:
            raise _unreachable(self._address, exc) from None
        except docker.errors.APIError as exc:
            raise EphemeralError(f"inspect image {image}: {exc.explanation}") from None
        times = [
            _epoch(info.get("Created")),
            _epoch((info.get("Metadata") or {}).get("LastTagTime")),
            _pull.last_pull(self._address, image),
        ]
        known = [t for t in times if t]
        return max(known) if known else None

    def pull_image(self, image: str, progress: Callable[[str], None] | None = None) -> None:
        """Pull ``image`` (credentials from the Docker configuration), once per
        image across this machine's processes, with progress lines. Raises
        ImageNotFoundError (no such repository, tag or digest) or RegistryError
        (unreachable, authentication refused), each one line."""
        with _pull.pull_lock(self._address, image, PULL_LOCK_TIMEOUT, progress) as turn:
            why = turn.done_by_other(PULL_FRESH)
            if why is not None and self.image_exists(image):
                if progress is not None:
                    progress(f"{image}: {why}; not pulled again")
                return
            self._pull(image, progress)
            turn.record()

    def _pull(self, image: str, progress: Callable[[str], None] | None) -> None:
        ref = _pull.parse_image(image)
        credentials = _pull.credentials_for(ref.registry)
        api = self._api
        watch = _pull.PullProgress(image, progress)
        if progress is not None:
            progress(f"pulling {image} from {ref.registry} ...")

        def run() -> None:
            response = api._post(
                api._url("/images/create"),
                params={"fromImage": ref.name, "tag": ref.reference},
                headers={"X-Registry-Auth": _pull.auth_header(credentials)},
                stream=True,
                timeout=(PULL_CONNECT_TIMEOUT, PULL_STALL_TIMEOUT),
            )
            api._raise_for_status(response)
            for message in api._stream_helper(response, decode=True):
                if isinstance(message, dict):
                    if message.get("error"):
                        raise _pull.classify_failure(
                            image,
                            str(message.get("error")),
                            with_credentials=credentials is not None,
                        )
                    watch.feed(message)

        try:
            run()
        except docker.errors.APIError as exc:
            text = exc.explanation if isinstance(exc.explanation, str) else str(exc)
            raise _pull.classify_failure(
                image, text, with_credentials=credentials is not None
            ) from None
        except (requests.exceptions.ConnectionError, ConnectionError) as exc:
            if "timed out" in str(exc).lower():
                raise _stalled(image) from None
            raise _unreachable(self._address, exc) from None
        except (requests.exceptions.Timeout, TimeoutError, urllib3.exceptions.ReadTimeoutError):
            raise _stalled(image) from None
        except urllib3.exceptions.ProtocolError as exc:
            raise _unreachable(self._address, exc) from None
        watch.finish()

    def registry_digest(self, image: str) -> str:
        """The digest the registry holds for ``image``'s tag (``sha256:...``),
        asked of the registry through the engine; nothing is pulled."""
        ref = _pull.parse_image(image)
        credentials = _pull.credentials_for(ref.registry)
        try:
            info = self._api.inspect_distribution(image, auth_config=credentials or {})
        except docker.errors.APIError as exc:
            text = exc.explanation if isinstance(exc.explanation, str) else str(exc)
            raise _pull.classify_failure(
                image, text, with_credentials=credentials is not None
            ) from None
        except (requests.exceptions.ConnectionError, ConnectionError) as exc:
            raise _unreachable(self._address, exc) from None
        digest = str((info.get("Descriptor") or {}).get("digest") or "")
        if not digest.startswith("sha256:"):
            raise RegistryError(f"image {image!r}: registry {ref.registry} gave no digest for it")
        return digest

    def build_image(
        self,
        context: str,
        dockerfile: str,
        tag: str,
        args: Mapping[str, str],
        target: str | None,
        labels: Mapping[str, str],
        base_map: Mapping[str, str],
        progress: Callable[[str], None] | None = None,
    ) -> None:
        root = Path(context)
        source = (root / dockerfile).read_text(encoding="utf-8")
        rewritten = "\n".join(_map_from_line(line, base_map) for line in source.splitlines())
        name = ".eph-Dockerfile"
        # the files the build-cache digest covers too (runtime/images.py: .dockerignore)
        archive = docker.utils.build.create_archive(
            str(root), files=context_files(root, dockerfile), extra_files=[(name, rewritten)]
        )
        log: list[str] = []

        def run() -> None:
            stream = self._api.build(
                fileobj=archive,
                custom_context=True,
                dockerfile=name,
                tag=tag,
                buildargs=dict(args),
                target=target,
                labels=dict(labels),
                rm=True,
                forcerm=True,
                decode=True,
            )
            for chunk in stream:
                if "stream" in chunk:
                    lines = str(chunk["stream"]).rstrip("\n").splitlines()
                    log.extend(lines)
                    if progress is not None:
                        for line in lines:
                            step = _STEP.match(line)
                            if step:
                                progress(f"step {step[1]}/{step[2]}: {step[3].strip()[:120]}")
                if "error" in chunk:
                    tail = "\n".join(log[-50:])
                    for _rest in stream:  # to its end: the connection is released, not left open
                        pass
                    raise EphemeralError(
                        f"build of {context} failed: {str(chunk['error']).strip()}\n{tail}"
                    )

        try:
            self._call(f"build {context}", run)
        finally:
            archive.close()

    # -- resources ---------------------------------------------------------
    def create_network(self, name: str, labels: Mapping[str, str]) -> str:
        def create() -> Any:
            return self._api.create_network(name, driver="bridge", labels=dict(labels))

        for attempt in range(6):
            try:
                res = self._call(f"create network {name}", create)
                break
            except EngineUnavailableError:
                raise
            except EphemeralError as exc:
                # Podman (CNI) lists the host's interfaces to choose a free
                # subnet; one that goes away meanwhile (any container's veth)
                # fails the create: a race, not a refusal
                if "no such network interface" not in str(exc) or attempt == 5:
                    raise
                time.sleep(0.1 * (attempt + 1))
        network_id = str(res["Id"])
        if self.engine_kind == "podman":
            self._podman_network_dns(name, network_id)
        return network_id

    @property
    def engine_kind(self) -> str:
        """``docker`` or ``podman``: Podman names itself in the ``Components``
        of its ``/version`` answer (asked once per address, for the API version
        anyway, so this costs no round trip of its own)."""
        if self._kind is None:
            answer = self._call("docker version", self._api.engine_answer)
            components = answer.get("Components") or ()
            podman = any(
                isinstance(c, dict) and "podman" in str(c.get("Name", "")).lower()
                for c in components
            )
            self._kind = "podman" if podman else "docker"
        return self._kind

    def _podman_network_dns(self, name: str, network_id: str) -> None:
        """Podman's networks resolve container names only with its DNS plugin
        (aardvark-dns under netavark, dnsname under CNI); without it services
        cannot reach each other by name, so say so instead of starting."""
        api = self._api

        def inspect() -> Any:
            res = api._get(api.base_url + f"/v4.0.0/libpod/networks/{network_id}/json")
            return api._result(res, True)

        try:
            info = inspect()
        except (docker.errors.APIError, ValueError):
            return  # no libpod API to ask: assume it resolves
        except (requests.exceptions.ConnectionError, ConnectionError) as exc:
            raise _unreachable(self._address, exc) from None
        if isinstance(info, dict) and info.get("dns_enabled") is False:
            self.remove([Resource("network", network_id, name, {})])
            raise EphemeralError(
                f"Podman at {self._address} made network {name} without DNS, so services "
                "could not reach each other by name: install Podman's DNS plugin (aardvark-dns "
                "with netavark; under CNI the dnsname plugin, Debian's "
                "golang-github-containernetworking-plugin-dnsname) and run again"
            )

    def create_volume(self, name: str, labels: Mapping[str, str]) -> str:
        res = self._call(
            f"create volume {name}", lambda: self._api.create_volume(name, labels=dict(labels))
        )
        return str(res["Name"])

    def claim_volume(self, name: str, labels: Mapping[str, str]) -> Mapping[str, str]:
        # Docker and Podman answer a create of an existing name with the
        # existing volume, its labels included
        res = self._call(
            f"create volume {name}", lambda: self._api.create_volume(name, labels=dict(labels))
        )
        return dict(res.get("Labels") or {})

    def create_container(self, request: ContainerRequest) -> str:
        api = self._api
        host_config: dict[str, Any] = {
            "NetworkMode": request.network,
            "PortBindings": {
                f"{p.container_port}/{p.protocol}": [
                    {
                        "HostIp": self._host_ip(p.host_ip),
                        "HostPort": str(p.host_port) if p.host_port else "",
                    }
                ]
                for p in request.ports
            },
            "Privileged": request.privileged,
            "Init": False,
        }
        mounts = []
        for m in request.mounts:
            mount: dict[str, Any] = {"Target": m.target, "Type": m.kind, "ReadOnly": m.read_only}
            if m.source is not None:
                mount["Source"] = m.source
            if m.subpath:
                mount["VolumeOptions"] = {"Subpath": m.subpath}
            mounts.append(mount)
        if mounts:
            host_config["Mounts"] = mounts
        if request.tmpfs:
            host_config["Tmpfs"] = dict(request.tmpfs)
        if request.nano_cpus:
            host_config["NanoCpus"] = request.nano_cpus
        if request.mem_limit:
            host_config["Memory"] = request.mem_limit
        _resources(host_config, request)
        create_params = _engine_options(host_config, request)
        exposed: dict[str, dict[str, object]] = {
            f"{p.container_port}/{p.protocol}": {} for p in request.ports
        }
        exposed.update({_wire_port(k): {} for k in request.expose})
        body: dict[str, Any] = {
            "Image": request.image,
            "Labels": dict(request.labels),
            "Env": [f"{k}={v}" for k, v in request.environment.items()],
            "ExposedPorts": exposed,
            "HostConfig": host_config,
            "NetworkingConfig": {
                "EndpointsConfig": {request.network: {"Aliases": list(request.aliases)}}
            },
            "AttachStdin": False,
            "AttachStdout": False,
            "AttachStderr": False,
            "Tty": False,
            "OpenStdin": False,
        }
        if request.command is not None:
            body["Cmd"] = list(request.command)
        if request.entrypoint is not None:
            body["Entrypoint"] = list(request.entrypoint)
        if request.healthcheck is not None:
            body["Healthcheck"] = _healthcheck_body(request.healthcheck)
        if request.user:
            body["User"] = request.user
        if request.working_dir:
            body["WorkingDir"] = request.working_dir
        if request.hostname:
            body["Hostname"] = request.hostname
        o = request.options
        if o.domainname:
            body["Domainname"] = o.domainname
        if o.tty:
            body["Tty"] = True
        if o.stdin_open:
            body["OpenStdin"] = True
        if o.stop_signal:
            body["StopSignal"] = o.stop_signal
        self._unhonoured(request)
        warnings: list[str] = []

        def create() -> str:
            url = api._url("/containers/create")
            res = api._post_json(url, data=body, params={"name": request.name, **create_params})
            answer = api._result(res, True)
            warnings.extend(str(w) for w in answer.get("Warnings") or () if w)
            return str(answer["Id"])

        try:
            container_id = create()
        except docker.errors.ImageNotFound:
            raise ImageNotFoundError(
                f"image {request.image!r} is not on the engine "
                "(build it, or map it to a local image with --eph-image-map FROM=TO)"
            ) from None
        except docker.errors.NotFound as exc:
            if "No such image" in str(exc):
                raise ImageNotFoundError(
                    f"image {request.image!r} is not on the engine "
                    "(build it, or map it to a local image with --eph-image-map FROM=TO)"
                ) from None
            raise EphemeralError(f"create container {request.name}: {exc.explanation}") from None
        except (requests.exceptions.ConnectionError, ConnectionError) as exc:
            raise _unreachable(self._address, exc) from None
        except docker.errors.APIError as exc:
            raise EphemeralError(self._create_refused(request, str(exc.explanation))) from None
        if request.note is not None:
            for warning in warnings:  # what the engine accepted but discarded
                request.note(f"engine: {warning}", f"the engine at {self._address}: {warning}")
        for network, aliases in request.extra_networks.items():
            self._call(
                f"connect {request.name} to {network}",
                lambda n=network, a=aliases: api.connect_container_to_network(  # type: ignore[misc]
                    container_id, n, aliases=list(a)
                ),
            )
        if request.files:
            self._put_files(container_id, request)
        return container_id

    def _unhonoured(self, request: ContainerRequest) -> None:
        """Settings this backend cannot honour: noted (``request.note``), or
        refused when ignoring them would change what a test sees."""
        subpaths = [m for m in request.mounts if m.subpath]
        if subpaths:
            # API < 1.45 drops VolumeOptions.Subpath without a word: the volume's root
            version = self._api._version
            if tuple(int(p) for p in version.split(".") if p.isdigit()) < (1, 45):
                m = subpaths[0]
                raise EphemeralError(
                    f"volumes: subpath {m.subpath!r} (volume {m.source} at {m.target}) needs "
                    f"Docker Engine API 1.45 (Docker 26) or newer; the engine at {self._address} "
                    f"speaks {version}: upgrade the engine, or mount the whole volume and use "
                    f"{m.target}/{m.subpath}"
                )
        note = request.note
        if note is None:
            return
        o, r = request.options, request.resources
        if o.stop_grace_period is not None:
            note(
                "stop_grace_period",
                "stop_grace_period is not used: environments are removed at once, without "
                "waiting for a stop (nothing a test sees changes; remove it to silence this)",
            )
        if r.cpus_reserved:
            note(
                "cpus_reserved",
                "deploy.resources.reservations.cpus has no meaning on one Docker engine "
                "(nothing to reserve against; a backend that places containers honours it)",
            )
        if o.cpu_count is not None and self._api.engine_answer().get("Os", "linux") != "windows":
            note(
                "cpu_count",
                f"cpu_count is honoured by Windows engines only; the engine at {self._address} "
                "ignores it (use cpus: to limit CPU)",
            )

    def _create_refused(self, request: ContainerRequest, cause: str) -> str:
        """The engine's refusal to create, naming the spec key and the fix."""
        o = request.options
        if o.runtime and "unknown runtime" in cause.lower():
            with contextlib.suppress(EphemeralError):
                runtimes = self._call("docker info", self._api.info).get("Runtimes") or {}
                cause += f" (it has: {', '.join(sorted(runtimes))})"
            return (
                f"runtime {o.runtime!r} is not a runtime of the engine at {self._address}: "
                f"{cause}; install it on the engine, or remove runtime: from the service"
            )
        if o.storage_opt and "storage-opt" in cause:
            return (
                f"storage_opt is refused by the engine at {self._address} ({cause}): its storage "
                "driver cannot size a container's filesystem (overlay2 needs xfs with pquota); "
                "remove storage_opt: from the service"
            )
        return f"create container {request.name}: {cause}"

    def _put_files(self, container_id: str, request: ContainerRequest) -> None:
        """Secrets and configs, copied in before the container starts (parent
        folders made as needed, owner and mode as asked)."""
        with tempfile.TemporaryFile() as archive:
            with tarfile.open(fileobj=archive, mode="w") as tar:
                for f in request.files:
                    info = tar.gettarinfo(f.source, arcname=f.target.lstrip("/"))
                    info.uid, info.gid, info.mode = f.uid, f.gid, f.mode
                    with open(f.source, "rb") as fh:
                        tar.addfile(info, fh)
            archive.seek(0)
            self._call(
                f"copy secrets and configs into {request.name}",
                lambda: self._api.put_archive(container_id, "/", archive),
            )

    def start_container(self, container_id: str) -> None:
        try:
            self._call("start container", lambda: self._api.start(container_id))
        except EngineUnavailableError:
            raise
        except EphemeralError as exc:
            cause = str(exc)
            if "address already in use" in cause or "port is already allocated" in cause:
                raise PortTakenError(f"a host port is taken: {cause}") from None
            if "error setting rlimit" in cause:
                raise EphemeralError(self._rlimit_message(cause)) from None
            raise

    def _rlimit_message(self, cause: str) -> str:
        reason = cause.rpartition("error setting rlimit")[2].partition(":")[2].strip()
        reason = reason.split(":")[0] or "refused"
        if self.engine_kind == "podman":
            return (
                f"Podman at {self._address} cannot give the container its resource limits "
                f"(setting an rlimit: {reason}): its default limits, or the service's "
                "ulimits:, are above what this Podman may grant; set default_ulimits in "
                'containers.conf (e.g. ["nofile=20000:20000", "nproc=4096:4096"]) or lower '
                "the service's ulimits:"
            )
        return (
            f"the engine at {self._address} cannot give the container its resource limits "
            f"(setting an rlimit: {reason}): lower the service's ulimits: to at most the "
            "engine's own limits"
        )

    def state(self, container_id: str) -> ContainerState:
        info = self._call("inspect container", lambda: self._api.inspect_container(container_id))
        st = info.get("State") or {}
        health = (st.get("Health") or {}).get("Status")
        ports: dict[PortKey, int] = {}
        net = info.get("NetworkSettings") or {}
        for port, bindings in (net.get("Ports") or {}).items():
            for binding in bindings or ():
                if binding.get("HostPort"):
                    ports[_neutral_port(port)] = int(binding["HostPort"])
                    break
        ip = None
        for endpoint in (net.get("Networks") or {}).values():
            ip = endpoint.get("IPAddress") or ip
        return ContainerState(
            status=str(st.get("Status", "unknown")),
            exit_code=int(st.get("ExitCode") or 0),
            health=health,
            oom_killed=bool(st.get("OOMKilled")),
            error=str(st.get("Error") or ""),
            ports=ports,
            ip_address=ip,
            pid=int(st.get("Pid") or 0),
            container_id=str(info.get("Id") or container_id),
        )

    def logs(
        self, container_id: str, *, since: float | None = None, tail: int | None = None
    ) -> str:
        kwargs: dict[str, Any] = {"stdout": True, "stderr": True, "timestamps": False}
        if since:
            kwargs["since"] = float(since)
        if tail is not None:
            kwargs["tail"] = tail
        try:
            data = self._api.logs(container_id, **kwargs)
        except docker.errors.NotFound:
            return ""
        except (requests.exceptions.ConnectionError, ConnectionError) as exc:
            raise _unreachable(self._address, exc) from None
        except docker.errors.APIError as exc:
            raise EphemeralError(f"logs: {exc.explanation}") from None
        return bytes(data).decode("utf-8", "replace")

    def watch_events(self, labels: Mapping[str, str]) -> EventWatch | None:
        """Container events of everything carrying ``labels``, as they happen
        (None when the engine will not stream them: poll instead)."""
        filters = {"type": ["container"], "label": [f"{k}={v}" for k, v in labels.items()]}
        try:
            return EventWatch(_EventStream(self._api.events(filters=filters, decode=True)))
        except Exception:  # polling still works
            return None

    def follow_logs(self, container_id: str) -> LogFollower | None:
        """The container's output as it is written (None: poll ``logs``)."""
        try:
            stream = self._api.logs(
                container_id, stdout=True, stderr=True, stream=True, follow=True
            )
        except Exception:  # polling still works
            return None
        return LogFollower(stream)

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
        def run() -> ExecResult:
            created = self._api.exec_create(
                container_id,
                list(cmd),
                stdout=True,
                stderr=True,
                user=user or "",
                workdir=workdir or None,
                environment=dict(environment) if environment else None,
                privileged=privileged,
            )
            output = self._api.exec_start(created["Id"])
            code = self._api.exec_inspect(created["Id"]).get("ExitCode")
            return ExecResult(
                int(code if code is not None else -1), bytes(output).decode("utf-8", "replace")
            )

        return self._call(f"exec {list(cmd)!r}", run)

    def start_module(self, request: ModuleRequest, created: Callable[[str], None]) -> ModuleHandle:
        if not self._address.startswith("unix://"):
            raise EphemeralError(
                f"testcontainers services run on the local engine only (this backend is at "
                f"{self._address}); give the service an image instead"
            )
        from .testcontainers import start_module

        return start_module(request, created)

    def copy_to(self, container_id: str, dest_dir: str, files: Mapping[str, str]) -> None:
        with tempfile.TemporaryFile() as archive:
            with tarfile.open(fileobj=archive, mode="w") as tar:
                for name, host_path in files.items():
                    info = tar.gettarinfo(host_path, arcname=name)
                    info.uid = info.gid = 0
                    info.mode = 0o644
                    with open(host_path, "rb") as fh:
                        tar.addfile(info, fh)
            archive.seek(0)
            self._call(
                f"copy into {dest_dir}",
                lambda: self._api.put_archive(container_id, dest_dir, archive),
            )

    def list_resources(self, labels: Mapping[str, str | None]) -> list[Resource]:
        flt = {"label": [k if v is None else f"{k}={v}" for k, v in labels.items()]}
        api = self._api

        def run() -> list[Resource]:
            out: list[Resource] = []
            for c in api.containers(all=True, filters=flt):
                name = (c.get("Names") or ["?"])[0].lstrip("/")
                out.append(
                    Resource("container", c["Id"], name, c.get("Labels") or {}, c.get("State", ""))
                )
            for n in api.networks(filters=flt):
                out.append(Resource("network", n["Id"], n["Name"], n.get("Labels") or {}))
            for v in api.volumes(filters=flt).get("Volumes") or []:
                out.append(Resource("volume", v["Name"], v["Name"], v.get("Labels") or {}))
            return out

        return self._call("list resources", run)

    def remove(self, resources: Sequence[Resource]) -> list[str]:
        """Remove in parallel: containers (killed, no grace period) first, then
        networks and volumes. Returns the errors (already-gone is not an error)."""
        errors: list[str] = []
        api = self._api

        def rm(res: Resource) -> None:
            for attempt in range(5):
                try:
                    if res.kind == "container":
                        api.remove_container(res.id, force=True, v=True)
                    elif res.kind == "network":
                        api.remove_network(res.id)
                    else:
                        api.remove_volume(res.id, force=True)
                    return
                except docker.errors.NotFound:
                    return
                except docker.errors.APIError as exc:
                    text = str(exc.explanation)
                    if "already in progress" in text or "is being removed" in text:
                        return
                    if attempt == 4:
                        errors.append(f"{res.kind} {res.name}: {text}")
                except (requests.exceptions.ConnectionError, ConnectionError) as exc:
                    errors.append(f"{res.kind} {res.name}: engine unreachable ({exc})")
                    return

                time.sleep(0.1 * (attempt + 1))

        containers = [r for r in resources if r.kind == "container"]
        others = [r for r in resources if r.kind != "container"]
        for group in (containers, others):
            if len(group) == 1:
                rm(group[0])
            elif group:
                with ThreadPoolExecutor(max_workers=min(16, len(group))) as pool:
                    list(pool.map(rm, group))
        return errors

    def close(self) -> None:
        self._client.close()


def _resources(host_config: dict[str, Any], request: ContainerRequest) -> None:
    r = request.resources
    if r.cpus and not request.nano_cpus:
        host_config["NanoCpus"] = int(r.cpus * 1e9)
    if r.memory and not request.mem_limit:
        host_config["Memory"] = r.memory
    if r.pids:
        host_config["PidsLimit"] = r.pids
    if r.memory_reserved:
        host_config["MemoryReservation"] = r.memory_reserved
    # cpus_reserved: a scheduler's business; one engine has nothing to reserve


# EngineOptions field -> HostConfig key, for the fields passed as they are
_HOST_CONFIG_KEYS: dict[str, str] = {
    "runtime": "Runtime",
    "init": "Init",
    "read_only": "ReadonlyRootfs",
    "shm_size": "ShmSize",
    "cpu_shares": "CpuShares",
    "cpu_period": "CpuPeriod",
    "cpu_quota": "CpuQuota",
    "cpu_rt_period": "CpuRealtimePeriod",
    "cpu_rt_runtime": "CpuRealtimeRuntime",
    "cpu_count": "CpuCount",
    "cpu_percent": "CpuPercent",
    "cpuset": "CpusetCpus",
    "memswap_limit": "MemorySwap",
    "mem_swappiness": "MemorySwappiness",
    "oom_kill_disable": "OomKillDisable",
    "oom_score_adj": "OomScoreAdj",
    "blkio_weight": "BlkioWeight",
}


def _engine_options(host_config: dict[str, Any], request: ContainerRequest) -> dict[str, str]:
    """Compose's engine options as Docker's HostConfig; returns query
    parameters of the create request (``platform``)."""
    o = request.options
    for field_name, key in _HOST_CONFIG_KEYS.items():
        value = getattr(o, field_name)
        if value is not None and value is not False:
            host_config[key] = value
    if o.ulimits:
        host_config["Ulimits"] = [
            {"Name": name, "Soft": soft, "Hard": hard} for name, (soft, hard) in o.ulimits.items()
        ]
    if o.sysctls:
        host_config["Sysctls"] = dict(o.sysctls)
    if o.storage_opt:
        host_config["StorageOpt"] = dict(o.storage_opt)
    if o.extra_hosts:
        host_config["ExtraHosts"] = [f"{host}:{address}" for host, address in o.extra_hosts]
    if o.group_add:
        host_config["GroupAdd"] = list(o.group_add)
    if o.cap_add:
        host_config["CapAdd"] = list(o.cap_add)
    if o.cap_drop:
        host_config["CapDrop"] = list(o.cap_drop)
    if o.security_opt:
        host_config["SecurityOpt"] = list(o.security_opt)
    return {"platform": o.platform} if o.platform else {}


def _epoch(text: object) -> float | None:
    """Docker's RFC 3339 time (nanoseconds, ``Z``) as epoch seconds; None for
    none or the zero time."""
    if not text or not isinstance(text, str) or text.startswith("0001-"):
        return None
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", text)
    if not m:
        return None
    fraction = (m[2] or ".0")[:7]
    zone = "+00:00" if m[3] in (None, "Z") else m[3]
    try:
        return datetime.fromisoformat(f"{m[1]}{fraction}{zone}").timestamp()
    except ValueError:
        return None


def _stalled(image: str) -> RegistryError:
    return RegistryError(
        f"image {image!r}: the engine reported no progress for {PULL_STALL_TIMEOUT:g}s while "
        "pulling it (a registry that accepts connections but does not answer?); check the "
        "registry, or map the image to a reachable mirror with --eph-image-map FROM=TO"
    )


def _map_from_line(line: str, base_map: Mapping[str, str]) -> str:
    m = _FROM.match(line)
    if not m or not base_map:
        return line
    image = m.group(3)
    mapped = base_map.get(image)
    if mapped is None:
        return line
    return f"{m.group(1)}{m.group(2) or ''}{mapped}{m.group(4)}"
