"""Production as Kubernetes objects: Deployments, StatefulSets, DaemonSets,
ReplicaSets, Jobs, CronJobs and Pods, with the Services, ConfigMaps, Secrets
and HorizontalPodAutoscalers they refer to. A Secret's values are never read:
only its keys (for ``envFrom``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._errors import ParityError
from ._model import (
    Check,
    EnvVar,
    Lifecycle,
    Mount,
    MountKind,
    Resources,
    Workload,
    parse_cpu,
    parse_image,
    parse_memory,
)
from ._secrets import looks_secret
from ._yaml import Document

__all__ = ["KubeObject", "kubernetes_objects", "workloads_from_objects"]

_TEMPLATE_PATHS: Mapping[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "Pod": (),
}
_PERSISTENT_SOURCES = (
    "nfs",
    "iscsi",
    "cephfs",
    "rbd",
    "glusterfs",
    "azureDisk",
    "azureFile",
    "awsElasticBlockStore",
    "gcePersistentDisk",
    "csi",
    "ephemeral",
    "cinder",
    "portworxVolume",
    "vsphereVolume",
)


@dataclass(frozen=True, slots=True)
class KubeObject:
    doc: Document
    data: Mapping[str, Any]
    item: int | None = None  # index inside a List

    @property
    def kind(self) -> str:
        return str(self.data.get("kind"))

    @property
    def name(self) -> str:
        meta = self.data.get("metadata")
        return str(meta.get("name", "")) if isinstance(meta, Mapping) else ""

    @property
    def namespace(self) -> str | None:
        meta = self.data.get("metadata")
        ns = meta.get("namespace") if isinstance(meta, Mapping) else None
        return str(ns) if ns else None

    @property
    def where(self) -> str:
        item = f", item {self.item}" if self.item is not None else ""
        return f"{self.doc.where[:-1]}{item})"

    def error(self, key: str, problem: str, fix: str) -> ParityError:
        return ParityError(f"{self.where}: {self.kind} {self.name!r}: {key}: {problem} ({fix})")


def _is_object(data: object) -> bool:
    return (
        isinstance(data, Mapping)
        and isinstance(data.get("kind"), str)
        and isinstance(data.get("apiVersion"), str)
    )


def kubernetes_objects(docs: Iterable[Document]) -> list[KubeObject]:
    """The objects of ``docs`` (``List`` items unpacked); a document that is not a
    Kubernetes object is an error naming it."""
    found: list[KubeObject] = []
    for doc in docs:
        if doc.data is None:
            continue  # an empty document: helm writes them for templates that render nothing
        if not _is_object(doc.data):
            raise ParityError(
                f"{doc.where}: not a Kubernetes object (no apiVersion and kind) "
                "(pass rendered manifests, e.g. `helm template` or `kubectl get -o yaml` output, "
                "or a Compose file)"
            )
        assert isinstance(doc.data, Mapping)
        if doc.data["kind"].endswith("List") and isinstance(doc.data.get("items"), list):
            for index, item in enumerate(doc.data["items"]):
                if not _is_object(item):
                    raise ParityError(
                        f"{doc.where}: items[{index}] is not a Kubernetes object "
                        "(no apiVersion and kind) (fix or remove that item)"
                    )
                found.append(KubeObject(doc, item, index))
        else:
            found.append(KubeObject(doc, doc.data))
    return found


def _get(data: object, *path: str) -> Any:
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _map(data: object, *path: str) -> Mapping[str, Any]:
    """The mapping at ``path``, or an empty one when it is missing or not a mapping."""
    value = _get(data, *path)
    return value if isinstance(value, Mapping) else {}


def _mapping(obj: KubeObject, value: object, key: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise obj.error(
            key, f"expected a mapping, found {type(value).__name__}", "fix the manifest"
        )
    return value


def _list(obj: KubeObject, value: object, key: str) -> Sequence[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise obj.error(key, f"expected a list, found {type(value).__name__}", "fix the manifest")
    return value


class _Index:
    """ConfigMaps, Secrets, Services and autoscalers by name (same namespace first)."""

    def __init__(self, objects: Sequence[KubeObject]) -> None:
        self.by_kind: dict[str, list[KubeObject]] = {}
        for obj in objects:
            self.by_kind.setdefault(obj.kind, []).append(obj)
        # Services with a selector, read once: (service, namespace, selector items)
        self.selecting: list[tuple[KubeObject, str | None, tuple[tuple[Any, Any], ...]]] = []
        for svc in self.by_kind.get("Service", []):
            selector = _get(svc.data, "spec", "selector")
            if isinstance(selector, Mapping) and selector:
                self.selecting.append((svc, svc.namespace, tuple(selector.items())))
        self.scalers: dict[tuple[object, object], KubeObject] = {}
        for hpa in self.by_kind.get("HorizontalPodAutoscaler", []):
            target = _get(hpa.data, "spec", "scaleTargetRef")
            if isinstance(target, Mapping):
                self.scalers.setdefault((target.get("kind"), target.get("name")), hpa)

    def find(self, kind: str, name: str, namespace: str | None) -> KubeObject | None:
        same = [o for o in self.by_kind.get(kind, []) if o.name == name]
        for obj in same:
            if obj.namespace == namespace:
                return obj
        return same[0] if same else None


def workloads_from_objects(
    objects: Sequence[KubeObject],
) -> tuple[dict[str, Workload], dict[str, str]]:
    """Workloads by name (``NAME``, or ``NAME/CONTAINER`` for a pod of several
    containers), and aliases: a multi-container workload's name -> its main container."""
    index = _Index(objects)
    workloads: dict[str, Workload] = {}
    aliases: dict[str, str] = {}
    for obj in objects:
        path = _TEMPLATE_PATHS.get(obj.kind)
        if path is None:
            continue
        template = _get(obj.data, *path) if path else obj.data
        if not isinstance(template, Mapping):
            raise obj.error(".".join(path), "missing or not a mapping", "fix the manifest")
        pod = _mapping(obj, template.get("spec"), ".".join((*path, "spec")))
        containers = _list(obj, pod.get("containers"), "containers")
        if not containers:
            raise obj.error("containers", "no containers", "fix the manifest")
        names = []
        for i, container in enumerate(containers):
            if not isinstance(container, Mapping) or not container.get("name"):
                raise obj.error(f"containers[{i}]", "has no name", "give each container a name")
            names.append(str(container["name"]))
        for container in containers:
            name = obj.name if len(containers) == 1 else f"{obj.name}/{container['name']}"
            if name in workloads:
                raise obj.error(
                    "metadata.name",
                    f"a second workload named {name!r} (first: {workloads[name].origin})",
                    "pass one environment's manifests at a time",
                )
            workloads[name] = _workload(obj, index, template, pod, container, name)
        if len(containers) > 1:
            main = obj.name if obj.name in names else names[0]
            aliases[obj.name] = f"{obj.name}/{main}"
    return workloads, aliases


def _workload(
    obj: KubeObject,
    index: _Index,
    template: Mapping[str, Any],
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    name: str,
) -> Workload:
    cname = str(container["name"])
    notes: list[str] = []
    image = container.get("image")
    named_ports: dict[str, int] = {}
    ports: set[tuple[int, str]] = set()
    for item in _list(obj, container.get("ports"), f"containers.{cname}.ports"):
        if isinstance(item, Mapping) and isinstance(item.get("containerPort"), int):
            protocol = str(item.get("protocol", "TCP")).lower()
            ports.add((item["containerPort"], protocol))
            if item.get("name"):
                named_ports[str(item["name"])] = item["containerPort"]
    labels = _map(template, "metadata", "labels")
    namespace = obj.namespace
    for svc, svc_namespace, selector in index.selecting:
        if svc_namespace != namespace and svc_namespace and namespace:
            continue
        if not all(labels.get(k) == v for k, v in selector):
            continue
        for item in _list(svc, _get(svc.data, "spec", "ports"), "spec.ports"):
            if not isinstance(item, Mapping):
                continue
            target = item.get("targetPort", item.get("port"))
            if isinstance(target, str):
                target = named_ports.get(target)
            if isinstance(target, int):
                ports.add((target, str(item.get("protocol", "TCP")).lower()))
    return Workload(
        name=name,
        origin=f"{obj.kind} {obj.name}"
        + (f" container {cname}" if "/" in name else "")
        + f" ({obj.where})",
        lifecycle=_lifecycle(obj, pod),
        image=parse_image(str(image)) if image else None,
        env=tuple(_env(obj, index, container, notes)),
        ports=frozenset(ports),
        checks=tuple(_checks(container, named_ports)),
        mounts=tuple(_mounts(obj, pod, container)),
        resources=_resources(container),
        replicas=_replicas(obj, index),
        notes=tuple(notes),
    )


def _lifecycle(obj: KubeObject, pod: Mapping[str, Any]) -> Lifecycle:
    if obj.kind == "CronJob":
        return "scheduled"
    if obj.kind == "Job" or (
        obj.kind == "Pod" and pod.get("restartPolicy") in ("Never", "OnFailure")
    ):
        return "one-shot"
    return "long-running"


def _replicas(obj: KubeObject, index: _Index) -> str:
    if obj.kind == "DaemonSet":
        return "one per node"
    if obj.kind in ("Job", "CronJob"):
        spec = (
            _get(obj.data, "spec")
            if obj.kind == "Job"
            else _get(obj.data, "spec", "jobTemplate", "spec")
        )
        parallelism = _get(spec, "parallelism")
        count = parallelism if isinstance(parallelism, int) else 1
    elif obj.kind == "Pod":
        count = 1
    else:
        replicas = _get(obj.data, "spec", "replicas")
        count = replicas if isinstance(replicas, int) else 1
    hpa = index.scalers.get((obj.kind, obj.name))
    if hpa is not None:
        low = _get(hpa.data, "spec", "minReplicas")
        high = _get(hpa.data, "spec", "maxReplicas")
        low = low if isinstance(low, int) else 1
        return f"{low}..{high} (HorizontalPodAutoscaler {hpa.name})"
    return str(count)


def _env(
    obj: KubeObject, index: _Index, container: Mapping[str, Any], notes: list[str]
) -> list[EnvVar]:
    cname = container["name"]
    found: dict[str, EnvVar] = {}
    for i, item in enumerate(_list(obj, container.get("envFrom"), f"containers.{cname}.envFrom")):
        if not isinstance(item, Mapping):
            continue
        prefix = str(item.get("prefix") or "")
        for ref_key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            ref = item.get(ref_key)
            if not isinstance(ref, Mapping):
                continue
            ref_name = str(ref.get("name", ""))
            source = index.find(kind, ref_name, obj.namespace)
            if source is None:
                notes.append(
                    f"envFrom[{i}]: {kind} {ref_name!r} is not in the manifests given, "
                    "so its keys are not compared"
                )
                continue
            keys: dict[str, str | None] = {}
            for data_key in ("data", "binaryData", "stringData"):
                block = source.data.get(data_key)
                if isinstance(block, Mapping):
                    for key, value in block.items():
                        secret = kind == "Secret" or data_key == "binaryData"
                        keys[str(key)] = None if secret else str(value)
            for key, value in keys.items():
                secret = kind == "Secret" or looks_secret(key)
                found[prefix + key] = EnvVar(
                    prefix + key, None if secret else value, secret, f"{kind} {ref_name}"
                )
    for item in _list(obj, container.get("env"), f"containers.{cname}.env"):
        if not isinstance(item, Mapping) or not item.get("name"):
            continue
        key = str(item["name"])
        source_ref = item.get("valueFrom")
        if isinstance(source_ref, Mapping):
            found[key] = _value_from(obj, index, key, source_ref)
            continue
        value = item.get("value")
        text = "" if value is None else str(value)
        found[key] = (
            EnvVar(key, None, True, "value") if looks_secret(key) else EnvVar(key, text, False)
        )
    return list(found.values())


def _value_from(obj: KubeObject, index: _Index, key: str, ref: Mapping[str, Any]) -> EnvVar:
    secret = ref.get("secretKeyRef")
    if isinstance(secret, Mapping):
        return EnvVar(key, None, True, f"Secret {secret.get('name')} key {secret.get('key')}")
    config = ref.get("configMapKeyRef")
    if isinstance(config, Mapping):
        name, data_key = str(config.get("name", "")), str(config.get("key", ""))
        source = f"ConfigMap {name} key {data_key}"
        if looks_secret(key):
            return EnvVar(key, None, True, source)
        cm = index.find("ConfigMap", name, obj.namespace)
        data = _get(cm.data, "data") if cm is not None else None
        if isinstance(data, Mapping) and data_key in data:
            return EnvVar(key, str(data[data_key]), False, source)
        return EnvVar(key, None, False, source)
    field = _get(ref, "fieldRef", "fieldPath") or _get(ref, "resourceFieldRef", "resource")
    return EnvVar(key, None, False, f"from the pod ({field})" if field else "from the pod")


def _port(value: object, named: Mapping[str, int]) -> int | str | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return named.get(value, int(value) if value.isdigit() else value)
    return None


def _checks(container: Mapping[str, Any], named: Mapping[str, int]) -> list[Check]:
    checks = []
    for role in ("readiness", "liveness", "startup"):
        probe = container.get(f"{role}Probe")
        if not isinstance(probe, Mapping):
            continue
        if isinstance(http := probe.get("httpGet"), Mapping):
            checks.append(
                Check("http", role, _port(http.get("port"), named), str(http.get("path") or "/"))
            )
        elif isinstance(tcp := probe.get("tcpSocket"), Mapping):
            checks.append(Check("tcp", role, _port(tcp.get("port"), named)))
        elif isinstance(grpc := probe.get("grpc"), Mapping):
            checks.append(Check("grpc", role, _port(grpc.get("port"), named)))
        elif isinstance(exe := probe.get("exec"), Mapping):
            command = exe.get("command")
            if isinstance(command, list):
                checks.append(Check("exec", role, command=normal_command(map(str, command))))
    return checks


def normal_command(command: Iterable[str]) -> tuple[str, ...]:
    """A command as a comparable tuple: ``/bin/sh -c X`` and ``sh -c X`` are one."""
    parts = tuple(command)
    if len(parts) >= 2 and parts[0] in ("sh", "/bin/sh") and parts[1] == "-c":
        return ("sh", "-c", *parts[2:])
    return parts


def _mounts(obj: KubeObject, pod: Mapping[str, Any], container: Mapping[str, Any]) -> list[Mount]:
    volumes: dict[str, tuple[MountKind, str]] = {}
    for item in _list(obj, pod.get("volumes"), "volumes"):
        if not isinstance(item, Mapping) or not item.get("name"):
            continue
        volumes[str(item["name"])] = _volume_kind(item)
    for claim in _list(obj, _get(obj.data, "spec", "volumeClaimTemplates"), "volumeClaimTemplates"):
        claim_name = _get(claim, "metadata", "name")
        if claim_name:
            volumes[str(claim_name)] = ("persistent", f"volumeClaimTemplate {claim_name}")
    mounts = []
    cname = container["name"]
    for item in _list(obj, container.get("volumeMounts"), f"containers.{cname}.volumeMounts"):
        if not isinstance(item, Mapping) or not item.get("mountPath"):
            continue
        kind, detail = volumes.get(str(item.get("name")), ("other", f"volume {item.get('name')}?"))
        mounts.append(Mount(str(item["mountPath"]).rstrip("/") or "/", kind, detail))
    return mounts


def _volume_kind(volume: Mapping[str, Any]) -> tuple[MountKind, str]:
    if isinstance(empty := volume.get("emptyDir"), Mapping) or "emptyDir" in volume:
        if isinstance(empty, Mapping) and empty.get("medium") == "Memory":
            return "memory", "emptyDir Memory"
        return "scratch", "emptyDir"
    if isinstance(claim := volume.get("persistentVolumeClaim"), Mapping):
        return "persistent", f"persistentVolumeClaim {claim.get('claimName')}"
    if isinstance(cm := volume.get("configMap"), Mapping):
        return "config", f"ConfigMap {cm.get('name')}"
    if isinstance(secret := volume.get("secret"), Mapping):
        return "secret", f"Secret {secret.get('secretName')}"
    if isinstance(host := volume.get("hostPath"), Mapping):
        return "host", f"hostPath {host.get('path')}"
    if isinstance(projected := volume.get("projected"), Mapping):
        sources = projected.get("sources") or []
        if any(isinstance(s, Mapping) and "secret" in s for s in sources):
            return "secret", "projected"
        return "config", "projected"
    if "downwardAPI" in volume:
        return "config", "downwardAPI"
    for key in _PERSISTENT_SOURCES:
        if key in volume:
            return "persistent", key
    other = next((k for k in volume if k != "name"), "unknown")
    return "other", str(other)


def _resources(container: Mapping[str, Any]) -> Resources:
    limits = _map(container, "resources", "limits")
    requests = _map(container, "resources", "requests")
    return Resources(
        cpu_limit=parse_cpu(limits["cpu"]) if "cpu" in limits else None,
        memory_limit=parse_memory(limits["memory"]) if "memory" in limits else None,
        cpu_request=parse_cpu(requests["cpu"]) if "cpu" in requests else None,
        memory_request=parse_memory(requests["memory"]) if "memory" in requests else None,
    )
