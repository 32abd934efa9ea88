"""A spec as the Kubernetes objects one environment would be: a namespace of its
own, a Deployment (or a Job, for a one-shot service) and a headless Service per
service, probes from the waits, ConfigMaps for read-only bind mounts, Secrets
for secret-looking variables (values redacted unless asked for)."""

from __future__ import annotations

import base64
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from ...spec.model import HealthcheckSpec, ServiceSpec, Spec, VolumeMount, WaitSpec
from ._errors import RenderError
from ._names import is_dns_label, label_value, namespace_name, suggest_label

__all__ = ["CONFIGMAP_LIMIT", "Rendering", "render"]

Manifest = dict[str, Any]
SecretMode = Literal["redact", "include"]
REDACTED = "***"
CONFIGMAP_LIMIT = 1024 * 1024  # bytes: the API server refuses larger ConfigMaps
MANAGED_BY = "app.kubernetes.io/managed-by"


@dataclass(frozen=True, slots=True)
class LabelKeys:
    """The label names an environment's objects carry. The lifecycle owns
    them (``lifecycle/labels.py``) and hands them in: a backend applies
    labels, it does not name them."""

    PREFIX: str
    ENV: str
    SPEC_NAME: str
    SERVICE: str
    SPEC_HASH: str
    KEPT: str
    SPEC_PATH: str

    @property
    def WAITS(self) -> str:
        return f"{self.PREFIX}.waits"

    @property
    def DEPENDS_ON(self) -> str:
        return f"{self.PREFIX}.depends-on"

    @property
    def TIMEOUT(self) -> str:
        return f"{self.PREFIX}.timeout"

    @property
    def REDACTED_MARK(self) -> str:
        return f"{self.PREFIX}.redacted"


PLACEHOLDER_PORT: Manifest = {"name": "names-only", "port": 9, "protocol": "TCP"}
_SKIP_DIRS = {".git", "__pycache__", ".venv", "node_modules"}


@dataclass(frozen=True, slots=True)
class Rendering:
    """The objects of one environment, grouped by file (``namespace`` first, then
    one group per service in start order), and notes on every approximation."""

    env_id: str
    namespace: str
    groups: tuple[tuple[str, tuple[Manifest, ...]], ...]
    notes: tuple[str, ...]

    @property
    def manifests(self) -> tuple[Manifest, ...]:
        return tuple(m for _, group in self.groups for m in group)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _where(svc: ServiceSpec, key: str = "") -> str:
    line = f":{svc.location.line}" if svc.location.line else ""
    path = f"services.{svc.name}" + (f".{key}" if key else "")
    return f"{_shown(svc.location.file)}{line}: {path}"


def _fail(svc: ServiceSpec, key: str, problem: str, fix: str) -> RenderError:
    return RenderError(f"kubernetes: {_where(svc, key)}: {problem} ({fix})")


def _one_shot(spec: Spec) -> set[str]:
    needed = {
        d.service
        for s in spec.services.values()
        for d in s.depends_on
        if d.condition == "service_completed_successfully"
    }
    completes = {n for n, s in spec.services.items() if any(w.kind == "completed" for w in s.waits)}
    return needed | completes


def _healthy_needed(spec: Spec) -> set[str]:
    return {
        d.service
        for s in spec.services.values()
        for d in s.depends_on
        if d.condition == "service_healthy"
    }


def _has_healthcheck(hc: HealthcheckSpec | None) -> bool:
    return hc is not None and not hc.disable and bool(hc.test) and hc.test[0] != "NONE"


def effective_waits(svc: ServiceSpec, one_shot: bool, healthy: bool) -> list[WaitSpec]:
    """The engine's rule: the spec's waits; else the healthcheck; else every
    published TCP port. A dependent waiting for ``service_healthy`` adds the
    healthcheck."""
    waits = list(svc.waits)
    if one_shot and not any(w.kind == "completed" for w in waits):
        waits.append(WaitSpec("completed"))
    if not waits:
        if _has_healthcheck(svc.healthcheck):
            waits = [WaitSpec("healthcheck")]
        else:
            waits = [
                WaitSpec("port", port=p.container_port) for p in svc.ports if p.protocol == "tcp"
            ]
    if healthy and not any(w.kind == "healthcheck" for w in waits):
        waits.append(WaitSpec("healthcheck"))
    return waits


def _healthcheck_command(hc: HealthcheckSpec) -> list[str]:
    head, *rest = hc.test
    if head == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(rest)]
    return list(rest if head == "CMD" else hc.test)


def _seconds(value: float | None, default: int) -> int:
    return max(1, math.ceil(value)) if value else default


class _Renderer:
    def __init__(
        self,
        spec: Spec,
        env_id: str,
        images: Mapping[str, str],
        secrets: SecretMode,
        kubernetes_version: str,
        keys: LabelKeys,
    ) -> None:
        self.L = keys
        self.spec = spec
        self.env_id = env_id
        self.namespace = namespace_name(env_id)
        self.images = images
        self.secrets = secrets
        self.version = kubernetes_version
        self.notes: list[str] = []
        self.one_shot = _one_shot(spec)
        self.healthy = _healthy_needed(spec)
        self.service_names: set[str] = set(spec.services)  # Kubernetes Services taken
        self.volume_users: dict[str, set[str]] = {}
        for name, svc in spec.services.items():
            for v in svc.volumes:
                if v.type == "volume" and v.source:
                    self.volume_users.setdefault(v.source, set()).add(name)

    # -- metadata ------------------------------------------------------------------

    def labels(self, service: str | None = None) -> dict[str, str]:
        found = {
            self.L.ENV: label_value(self.env_id),
            self.L.SPEC_NAME: label_value(self.spec.name),
            MANAGED_BY: "pytest-ephemeral",
        }
        if service is not None:
            found[self.L.SERVICE] = label_value(service)
            found["app.kubernetes.io/name"] = label_value(service)
        return found

    def meta(self, name: str, service: str | None = None, **annotations: str) -> Manifest:
        meta: Manifest = {"name": name, "namespace": self.namespace, "labels": self.labels(service)}
        if annotations:
            meta["annotations"] = dict(annotations)
        return meta

    def note(self, svc: ServiceSpec, key: str, text: str) -> None:
        self.notes.append(f"{_where(svc, key)}: {text}")

    # -- the environment -----------------------------------------------------------

    def render(self) -> Rendering:
        groups: list[tuple[str, tuple[Manifest, ...]]] = [("namespace", tuple(self.environment()))]
        for name, svc in self.spec.services.items():
            groups.append((name, tuple(self.service(svc, name in self.one_shot))))
        for volume, users in self.volume_users.items():
            if len(users) > 1:
                groups[0] = (groups[0][0], (*groups[0][1], self.claim(volume, users)))
        return Rendering(self.env_id, self.namespace, tuple(groups), tuple(self.notes))

    def environment(self) -> list[Manifest]:
        labels = self.labels()
        labels[self.L.SPEC_HASH] = label_value(self.spec.hash)
        labels[self.L.KEPT] = "true"
        namespace: Manifest = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": self.namespace,
                "labels": labels,
                "annotations": {
                    self.L.SPEC_PATH: str(self.spec.path),
                    self.L.SPEC_HASH: self.spec.hash,
                },
            },
        }
        isolation: Manifest = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": self.meta("environment-only"),
            "spec": {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"podSelector": {}}]}],
            },
        }
        return [namespace, isolation]

    def claim(self, volume: str, users: set[str]) -> Manifest:
        self.notes.append(
            f"{_shown(self.spec.path)}: volumes.{volume}: shared by {', '.join(sorted(users))}: "
            "a PersistentVolumeClaim with ReadWriteMany (the cluster needs a storage class "
            "that offers it)"
        )
        return {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": self.meta(suggest_label(volume)),
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        }

    # -- one service -----------------------------------------------------------------

    def service(self, svc: ServiceSpec, one_shot: bool) -> list[Manifest]:
        name = svc.name
        if not is_dns_label(name):
            raise _fail(
                svc,
                "",
                f"{name!r} is not a valid Kubernetes Service name (lowercase letters, digits "
                "and '-', starting with a letter, at most 63 characters)",
                f"rename the service, e.g. to {suggest_label(name)!r}, and the hosts that name it",
            )
        external = getattr(svc, "external", None)
        if external is not None:
            return self.external(svc, external.url, external.kind)
        extra: list[Manifest] = []
        container: Manifest = {"name": name, "image": self.image(svc)}
        if svc.entrypoint is not None:
            container["command"] = list(svc.entrypoint)
        if svc.command is not None:
            container["args"] = list(svc.command)
        if svc.working_dir:
            container["workingDir"] = svc.working_dir
        env, secret = self.env(svc)
        if env:
            container["env"] = env
        if secret is not None:
            extra.append(secret)
        ports = self.ports(svc)
        if ports:
            container["ports"] = [
                {"containerPort": port, "protocol": proto.upper()} for port, proto in ports
            ]
        resources = self.resources(svc)
        if resources:
            container["resources"] = resources
        security = self.security(svc)
        pod_extra = self.engine(svc, container, security)
        if security:
            container["securityContext"] = security
        hooks = getattr(svc, "post_start", ())
        if hooks:
            container["lifecycle"] = {"postStart": {"exec": {"command": list(hooks[0].command)}}}
            if len(hooks) > 1 or hooks[0].user or hooks[0].environment or hooks[0].working_dir:
                self.note(
                    svc,
                    "post_start",
                    "only the first hook's command is rendered (postStart takes one command, "
                    "run as the container's user, in its environment)",
                )
        waits = effective_waits(svc, one_shot, name in self.healthy)
        container.update(self.probes(svc, waits))
        volumes, mounts, files = self.volumes(svc)
        if mounts:
            container["volumeMounts"] = mounts
        extra += files
        annotations = {self.L.WAITS: "; ".join(w.describe() for w in waits) or "none"}
        if svc.depends_on:
            annotations[self.L.DEPENDS_ON] = ",".join(
                f"{d.service}:{d.condition}" for d in svc.depends_on
            )
        if svc.wait_timeout:
            annotations[self.L.TIMEOUT] = f"{svc.wait_timeout:g}"
        pod_annotations = dict(annotations)
        pod_annotations.update({f"compose.label/{k}": v for k, v in svc.labels.items()})
        pod: Manifest = {
            "enableServiceLinks": False,
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 0,
            "restartPolicy": "Never" if one_shot else "Always",
            "containers": [container],
        }
        pod.update(pod_extra.pop("pod", {}))
        if "shm" in pod_extra:
            volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory", **pod_extra["shm"]}})
            container.setdefault("volumeMounts", []).append(
                {"name": "dshm", "mountPath": "/dev/shm"}
            )
        if volumes:
            pod["volumes"] = volumes
        template = {
            "metadata": {"labels": self.labels(name), "annotations": pod_annotations},
            "spec": pod,
        }
        workload = self.workload(svc, one_shot, template, annotations)
        if svc.seed:
            self.note(
                svc,
                "seed",
                "seed steps are not in the manifests: pytest-ephemeral runs them once the "
                "service is ready (through a port-forward or an exec), as on Docker",
            )
        services = self.services(svc, ports) if ports or not one_shot else []
        return [workload, *services, *extra]

    def workload(
        self, svc: ServiceSpec, one_shot: bool, template: Manifest, annotations: dict[str, str]
    ) -> Manifest:
        meta = self.meta(svc.name, svc.name, **annotations)
        if one_shot:
            spec: Manifest = {"backoffLimit": 0, "template": template}
            if svc.wait_timeout:
                spec["activeDeadlineSeconds"] = _seconds(svc.wait_timeout, 60)
            return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": spec}
        replicas = getattr(svc, "replicas", 1)
        deployment: Manifest = {
            "replicas": replicas if isinstance(replicas, int) else 1,
            "revisionHistoryLimit": 0,
            "strategy": {"type": "Recreate"},
            "selector": {
                "matchLabels": {
                    self.L.ENV: label_value(self.env_id),
                    self.L.SERVICE: label_value(svc.name),
                }
            },
        }
        if svc.wait_timeout:
            deployment["progressDeadlineSeconds"] = _seconds(svc.wait_timeout, 600)
        deployment["template"] = template
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": deployment}

    def image(self, svc: ServiceSpec) -> str:
        if svc.name in self.images:
            return self.images[svc.name]
        testcontainers = getattr(svc, "testcontainers", None)
        if testcontainers is not None:
            if testcontainers.image is None:
                raise _fail(
                    svc,
                    "testcontainers",
                    "a testcontainers module configures and waits for this service in Python, "
                    "which a manifest cannot carry",
                    f"give it an image (eph render --image {svc.name}=IMAGE) and its waits",
                )
            self.note(
                svc,
                "testcontainers",
                f"rendered from its image {testcontainers.image}; the module's own "
                "configuration and wait logic are not in the manifests",
            )
            return str(testcontainers.image)
        if svc.image is None:
            context = svc.build.context if svc.build is not None else svc.location.file.parent
            try:
                shown = f"./{context.relative_to(self.spec.root)}"
            except ValueError:
                shown = str(context)
            raise _fail(
                svc,
                "build",
                f"a cluster cannot build the image from {shown}",
                f"build and push it to a registry the cluster pulls from, then name it with "
                f"image: or eph render --kubernetes --image {svc.name}=REGISTRY/{svc.name}:TAG",
            )
        if svc.build is not None:
            self.note(
                svc, "image", f"assumes {svc.image} was built and pushed where the cluster pulls"
            )
        return svc.image

    def external(self, svc: ServiceSpec, url: str, kind: str) -> list[Manifest]:
        host = urlsplit(url).hostname or ""
        if not host or host.replace(".", "").isdigit() or ":" in host:
            raise _fail(
                svc,
                "external",
                "an external server named by an IP address cannot be an ExternalName Service",
                "give the server a DNS name in the URL",
            )
        self.note(
            svc,
            "external",
            f"an ExternalName Service to the {kind} server {host}; the isolated part "
            "(database, schema, key prefix) is made by pytest-ephemeral, not by the manifests",
        )
        return [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": self.meta(svc.name, svc.name),
                "spec": {"type": "ExternalName", "externalName": host},
            }
        ]

    def env(self, svc: ServiceSpec) -> tuple[list[Manifest], Manifest | None]:
        from ...spec import is_secret_name, redact

        env: list[Manifest] = []
        hidden: dict[str, str] = {}
        secret_name = f"{svc.name}-env"
        for key, value in svc.environment.items():
            if is_secret_name(key) or redact(key, value) != value:
                hidden[key] = value if self.secrets == "include" else REDACTED
                env.append(
                    {"name": key, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}}
                )
            else:
                env.append({"name": key, "value": value})
        if not hidden:
            return env, None
        if any(not _config_key(k) for k in hidden):
            bad = next(k for k in hidden if not _config_key(k))
            raise _fail(
                svc,
                f"environment.{bad}",
                "a Secret key may hold only letters, digits, '-', '_' and '.'",
                "rename the variable",
            )
        annotations = {self.L.REDACTED_MARK: "true"} if self.secrets == "redact" else {}
        secret: Manifest = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": self.meta(secret_name, svc.name, **annotations),
            "type": "Opaque",
            "stringData": hidden,
        }
        return env, secret

    def ports(self, svc: ServiceSpec) -> list[tuple[int, str]]:
        found = [(p.container_port, p.protocol) for p in svc.ports]
        found += [(p, "tcp") for p in svc.expose]
        if any(p.host_port is not None for p in svc.ports):
            self.note(
                svc,
                "ports",
                "a fixed host port is not rendered: port-forwarding chooses a free port "
                "on 127.0.0.1",
            )
        return sorted(set(found))

    def services(self, svc: ServiceSpec, ports: list[tuple[int, str]]) -> list[Manifest]:
        names = [svc.name]
        aliases = [a for values in svc.networks.values() for a in values]
        aliases += list(getattr(svc, "aliases", ()))
        for alias in aliases:
            if alias in names:
                continue
            if not is_dns_label(alias):
                self.note(
                    svc, "networks", f"alias {alias!r} is not a valid Service name: not rendered"
                )
                continue
            if alias in self.service_names:
                self.note(svc, "networks", f"alias {alias!r} names another Service: not rendered")
                continue
            self.service_names.add(alias)
            names.append(alias)
        if len(self.spec.networks) > 1 or any(n != "default" for n in svc.networks):
            self.note(
                svc,
                "networks",
                "every service of the environment shares the namespace's network; "
                "the spec's separate networks are not rendered",
            )
        selector = {self.L.ENV: label_value(self.env_id), self.L.SERVICE: label_value(svc.name)}
        service_ports = [
            {"name": f"{proto}-{port}", "port": port, "targetPort": port, "protocol": proto.upper()}
            for port, proto in ports
        ]
        found = []
        for name in names:
            spec: Manifest = {
                "clusterIP": "None",
                "publishNotReadyAddresses": True,
                "selector": selector,
            }
            # a headless Service needs one port for its name to resolve (kubernetes/dns#174):
            # a placeholder when the spec declares none; the pod's every port is reachable
            spec["ports"] = service_ports or [PLACEHOLDER_PORT]
            found.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": self.meta(name, svc.name),
                    "spec": spec,
                }
            )
        return found

    def resources(self, svc: ServiceSpec) -> Manifest:
        limits: dict[str, str] = {}
        requests: dict[str, str] = {}
        if svc.cpus:
            limits["cpu"] = _cpu(svc.cpus)
        if svc.mem_limit:
            limits["memory"] = _memory(svc.mem_limit)
        model = getattr(svc, "resources", None)
        if getattr(model, "cpus_reserved", None):
            requests["cpu"] = _cpu(model.cpus_reserved)  # type: ignore[union-attr]
        if getattr(model, "memory_reserved", None):
            requests["memory"] = _memory(model.memory_reserved)  # type: ignore[union-attr]
        found: Manifest = {}
        if limits:
            found["limits"] = limits
        if requests:
            found["requests"] = requests
        return found

    def security(self, svc: ServiceSpec) -> Manifest:
        found: Manifest = {}
        if svc.privileged:
            found["privileged"] = True
        if svc.user:
            uid, _, gid = svc.user.partition(":")
            if uid.isdigit() and (not gid or gid.isdigit()):
                found["runAsUser"] = int(uid)
                if gid:
                    found["runAsGroup"] = int(gid)
            else:
                self.note(
                    svc,
                    "user",
                    f"user {svc.user!r} is a name: Kubernetes takes numeric ids only, so the "
                    "image's default user runs (write user: UID[:GID])",
                )
        return found

    def engine(self, svc: ServiceSpec, container: Manifest, security: Manifest) -> Manifest:
        """Compose's engine options where Kubernetes has them; a note for the rest."""
        options = getattr(svc, "engine", None)
        given: dict[str, object] = options.given() if options is not None else {}
        extra: Manifest = {}
        pod: Manifest = {}
        left = []
        for name, value in given.items():
            if name in ("cap_add", "cap_drop"):
                caps = security.setdefault("capabilities", {})
                caps["add" if name == "cap_add" else "drop"] = [
                    str(c).removeprefix("CAP_")
                    for c in value  # type: ignore[attr-defined]
                ]
            elif name == "read_only":
                security["readOnlyRootFilesystem"] = True
            elif name in ("tty", "stdin_open"):
                container["tty" if name == "tty" else "stdin"] = True
            elif name == "hostname" and is_dns_label(str(value)):
                pod["hostname"] = str(value)
            elif name == "extra_hosts":
                by_ip: dict[str, list[str]] = {}
                for host, ip in value:  # type: ignore[attr-defined]
                    by_ip.setdefault(str(ip), []).append(str(host))
                pod["hostAliases"] = [{"ip": ip, "hostnames": h} for ip, h in by_ip.items()]
            elif name == "sysctls":
                pod["securityContext"] = {
                    "sysctls": [{"name": k, "value": str(v)} for k, v in value.items()]  # type: ignore[attr-defined]
                }
            elif name == "shm_size":
                extra["shm"] = {"sizeLimit": _memory(int(value))}  # type: ignore[call-overload]
            elif name in ("stop_signal", "stop_grace_period"):
                continue  # environments are removed without a grace period anyway
            else:
                left.append(name)
        if left:
            self.note(
                svc,
                "",
                f"not rendered (no Kubernetes equivalent in a pod spec): {', '.join(sorted(left))}",
            )
        if pod:
            extra["pod"] = pod
        return extra

    # -- readiness -----------------------------------------------------------------

    def probes(self, svc: ServiceSpec, waits: Sequence[WaitSpec]) -> Manifest:
        probes: list[Manifest] = []
        for wait in waits:
            probe = self.probe(svc, wait)
            if probe is not None:
                probes.append(probe)
        if len(probes) > 2:
            self.note(
                svc,
                "wait",
                f"{len(probes)} waits: the first is the startupProbe, the last the "
                "readinessProbe; the others are left to pytest-ephemeral (annotation "
                f"{self.L.WAITS})",
            )
        if not probes:
            return {}
        if len(probes) == 1:
            return {"readinessProbe": probes[0]}
        startup = dict(probes[0])
        limit = _seconds(svc.wait_timeout, 60)
        startup["failureThreshold"] = max(startup.get("failureThreshold", 1), limit)
        return {"startupProbe": startup, "readinessProbe": probes[-1]}

    def probe(self, svc: ServiceSpec, wait: WaitSpec) -> Manifest | None:
        timing: Manifest = {"periodSeconds": 1, "timeoutSeconds": 1, "failureThreshold": 1}
        if wait.kind == "http":
            if not 200 <= wait.status < 400:
                self.note(
                    svc,
                    "wait",
                    f"an httpGet probe passes on 200-399 only: the wait for status "
                    f"{wait.status} is left to pytest-ephemeral",
                )
                return None
            return {"httpGet": {"path": wait.path, "port": wait.port}, **timing}
        if wait.kind == "port":
            return {"tcpSocket": {"port": wait.port}, **timing}
        if wait.kind == "command":
            return {"exec": {"command": list(wait.command)}, **timing}
        if wait.kind == "healthcheck":
            hc = svc.healthcheck
            if hc is None or not _has_healthcheck(hc):
                self.note(
                    svc,
                    "wait",
                    "waits for the image's own HEALTHCHECK, which is not known offline and "
                    "which the kubelet ignores: no probe (pytest-ephemeral reads the image's "
                    "config and runs it as an exec probe on a cluster)",
                )
                return None
            probe: Manifest = {
                "exec": {"command": _healthcheck_command(hc)},
                "periodSeconds": _seconds(hc.interval, 30),
                "timeoutSeconds": _seconds(hc.timeout, 30),
                "failureThreshold": hc.retries or 3,
            }
            if hc.start_period:
                probe["initialDelaySeconds"] = _seconds(hc.start_period, 0)
            return probe
        if wait.kind == "log":
            self.note(
                svc,
                "wait",
                f"a log wait (/{wait.pattern}/) has no probe: pytest-ephemeral follows the "
                "container's log and holds the dependents until the line appears",
            )
            return None
        return None  # completed: the Job's Complete condition

    # -- files and volumes ---------------------------------------------------------

    def volumes(self, svc: ServiceSpec) -> tuple[list[Manifest], list[Manifest], list[Manifest]]:
        volumes: list[Manifest] = []
        mounts: list[Manifest] = []
        objects: list[Manifest] = []
        for index, v in enumerate(svc.volumes):
            vname = f"v{index}"
            mount: Manifest = {"name": vname, "mountPath": v.target}
            if v.read_only:
                mount["readOnly"] = True
            if v.type == "bind":
                source, mount_extra = self.bind(svc, index, v, objects)
                volumes.append({"name": vname, **source})
                mount.update(mount_extra)
            elif v.source and len(self.volume_users.get(v.source, ())) > 1:
                claim = suggest_label(v.source)
                volumes.append({"name": vname, "persistentVolumeClaim": {"claimName": claim}})
            else:
                volumes.append({"name": vname, "emptyDir": {}})
            subpath = getattr(v, "subpath", None)
            if subpath:
                mount["subPath"] = subpath
            mounts.append(mount)
        for index, entry in enumerate(svc.tmpfs):
            vname = f"tmpfs{index}"
            volumes.append({"name": vname, "emptyDir": {"medium": "Memory"}})
            mounts.append({"name": vname, "mountPath": entry.split(":")[0]})
        for kind in ("secrets", "configs"):
            for index, item in enumerate(getattr(svc, kind, ())):
                vname = f"{kind[:-1]}{index}"
                obj, source = self.file_object(svc, kind, index, item)
                objects.append(obj)
                volumes.append({"name": vname, **source})
                mounts.append(
                    {
                        "name": vname,
                        "mountPath": item.target,
                        "subPath": "content",
                        "readOnly": True,
                    }
                )
        return volumes, mounts, objects

    def bind(
        self, svc: ServiceSpec, index: int, v: VolumeMount, objects: list[Manifest]
    ) -> tuple[Manifest, Manifest]:
        key = f"volumes[{index}]"
        source = Path(v.source or "")
        if not source.exists():
            if getattr(v, "create_host_path", False):
                return {"emptyDir": {}}, {}  # Compose would make an empty folder
            raise _fail(
                svc, key, f"the bind source {source} does not exist", "create it or fix the path"
            )
        if not v.read_only:
            raise _fail(
                svc,
                key,
                f"a writable bind mount of {_shown(source)} cannot reach a cluster's nodes",
                "make it read-only (':ro', rendered as a ConfigMap) or use a named volume",
            )
        if not (source.is_file() or source.is_dir()):
            raise _fail(
                svc, key, f"{source} is neither a file nor a folder", "bind a file or a folder"
            )
        files = [source] if source.is_file() else _walk(source)
        data: dict[str, str] = {}
        binary: dict[str, str] = {}
        items: list[Manifest] = []
        size = 0
        for file in files:
            relative = file.name if source.is_file() else str(file.relative_to(source))
            content = file.read_bytes()
            size += len(content)
            if size > CONFIGMAP_LIMIT:
                raise _fail(
                    svc,
                    key,
                    f"{_shown(source)} holds more than 1 MiB, the most a ConfigMap carries",
                    "bake the files into the image",
                )
            cm_key = _config_key_for(relative)
            if cm_key in data or cm_key in binary:
                raise _fail(
                    svc, key, f"two files map to the ConfigMap key {cm_key!r}", "rename one"
                )
            try:
                data[cm_key] = content.decode("utf-8")
            except UnicodeDecodeError:
                binary[cm_key] = base64.b64encode(content).decode("ascii")
            items.append({"key": cm_key, "path": relative})
        name = f"{svc.name}-files-{index}"
        config: Manifest = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": self.meta(name, svc.name, **{f"{self.L.PREFIX}.source": str(source)}),
        }
        if data:
            config["data"] = data
        if binary:
            config["binaryData"] = binary
        objects.append(config)
        self.note(svc, key, f"{_shown(source)} is rendered as the ConfigMap {name} (read-only)")
        if source.is_file():
            return {"configMap": {"name": name, "items": items}}, {"subPath": items[0]["path"]}
        return {"configMap": {"name": name, "items": items}}, {}

    def file_object(
        self, svc: ServiceSpec, kind: str, index: int, item: Any
    ) -> tuple[Manifest, Manifest]:
        key = f"{kind}[{index}]"
        if item.file is not None:
            try:
                content = Path(item.file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise _fail(svc, key, f"cannot read {item.file}: {exc}", "fix the file") from None
        else:
            content = item.content or ""
        name = f"{svc.name}-{kind[:-1]}-{suggest_label(item.name)}"[:63].rstrip("-")
        if kind == "secrets":
            value = content if self.secrets == "include" else REDACTED
            annotations = {self.L.REDACTED_MARK: "true"} if self.secrets == "redact" else {}
            obj: Manifest = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": self.meta(name, svc.name, **annotations),
                "type": "Opaque",
                "stringData": {"content": value},
            }
            return obj, {"secret": {"secretName": name}}
        obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": self.meta(name, svc.name),
            "data": {"content": content},
        }
        return obj, {"configMap": {"name": name}}


def _walk(folder: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        found += [Path(root) / name for name in sorted(files) if not name.endswith(".pyc")]
    return found


def _config_key(key: str) -> bool:
    return bool(key) and all(c.isalnum() or c in "-._" for c in key) and key.isascii()


def _config_key_for(relative: str) -> str:
    text = relative.replace(os.sep, "__")
    return "".join(c if c.isascii() and (c.isalnum() or c in "-._") else "_" for c in text)


def _cpu(cores: float) -> str:
    millis = round(cores * 1000)
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def _memory(size: int) -> str:
    for unit, factor in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def render(
    spec: Spec,
    *,
    env_id: str,
    keys: LabelKeys,
    images: Mapping[str, str] | None = None,
    secrets: SecretMode = "redact",
    kubernetes_version: str = "",
) -> Rendering:
    """The manifests of one environment of ``spec`` (id ``env_id``), its
    objects labelled with the lifecycle's ``keys``."""
    images = dict(images or {})
    for service in images:
        if service not in spec.services:
            raise RenderError(
                f"kubernetes: --image {service}=...: the spec has no service {service!r} "
                f"(services: {', '.join(spec.services)})"
            )
    return _Renderer(spec, env_id, images, secrets, kubernetes_version, keys).render()
