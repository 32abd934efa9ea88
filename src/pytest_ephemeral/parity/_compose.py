"""Production as a Compose file, read leniently (as `docker compose` would run
it: ``deploy:``, ``secrets:`` and ``container_name`` are all fine here).
``${VAR}`` references are compared as written, never resolved."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from ._errors import ParityError
from ._kubernetes import normal_command
from ._model import (
    Check,
    EnvVar,
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

__all__ = ["compose_workloads", "looks_like_compose"]

_PORT = re.compile(r"^(?:.*:)?(\d+)(?:-(\d+))?(?:/(tcp|udp|sctp))?$")


def looks_like_compose(data: object) -> bool:
    return (
        isinstance(data, Mapping)
        and isinstance(data.get("services"), Mapping)
        and "kind" not in data
        and "apiVersion" not in data
    )


def compose_workloads(doc: Document) -> dict[str, Workload]:
    assert isinstance(doc.data, Mapping)
    services = doc.data["services"]
    found = {}
    for name, body in services.items():
        if body is None:
            body = {}
        if not isinstance(body, Mapping):
            raise ParityError(
                f"{doc.where}: services.{name}: expected a mapping (fix the Compose file)"
            )
        found[str(name)] = _service(doc, str(name), body)
    return found


_LISTS = ("ports", "expose", "volumes", "secrets", "configs")
_LIST_OR_TEXT = ("tmpfs", "env_file")
_MAPPINGS = ("deploy", "healthcheck")


def _check_shapes(doc: Document, name: str, body: Mapping[str, Any]) -> None:
    for key, value in body.items():
        expected = None
        if value is None:
            continue
        if key in _LISTS and not isinstance(value, list):
            expected = "a list"
        elif key in _LIST_OR_TEXT and not isinstance(value, list | str | Mapping):
            expected = "a list or a text"
        elif key in _MAPPINGS and not isinstance(value, Mapping):
            expected = "a mapping"
        elif key == "environment" and not isinstance(value, list | Mapping):
            expected = "a mapping or a list of NAME=VALUE"
        elif key == "image" and not isinstance(value, str):
            expected = "an image reference"
        if expected is not None:
            raise ParityError(
                f"{doc.where}: services.{name}.{key}: expected {expected}, found "
                f"{type(value).__name__} (fix the Compose file)"
            )


def _service(doc: Document, name: str, body: Mapping[str, Any]) -> Workload:
    _check_shapes(doc, name, body)
    deploy = body.get("deploy") if isinstance(body.get("deploy"), Mapping) else {}
    assert isinstance(deploy, Mapping)
    limits = _dig(deploy, "resources", "limits")
    reservations = _dig(deploy, "resources", "reservations")
    replicas = deploy.get("replicas", body.get("scale", 1))
    mode = deploy.get("mode")
    image = body.get("image")
    build = body.get("build")
    return Workload(
        name=name,
        origin=f"Compose service {name} ({doc.where})",
        lifecycle="long-running",
        image=parse_image(str(image)) if image else None,
        build=None if image or build is None else _build_text(build),
        env=tuple(_env(doc, body)),
        ports=frozenset(_ports(body)),
        checks=tuple(_checks(body)),
        mounts=tuple(_mounts(body)),
        resources=Resources(
            cpu_limit=parse_cpu(limits.get("cpus", body.get("cpus")))
            if limits.get("cpus", body.get("cpus")) is not None
            else None,
            memory_limit=parse_memory(limits.get("memory", body.get("mem_limit")), docker=True)
            if limits.get("memory", body.get("mem_limit")) is not None
            else None,
            cpu_request=parse_cpu(reservations["cpus"]) if "cpus" in reservations else None,
            memory_request=parse_memory(
                reservations.get("memory", body.get("mem_reservation")), docker=True
            )
            if reservations.get("memory", body.get("mem_reservation")) is not None
            else None,
        ),
        replicas="one per node" if mode == "global" else str(replicas),
    )


def _dig(data: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    value: Any = data
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _build_text(build: object) -> str:
    if isinstance(build, Mapping):
        return f"build {build.get('context', '.')}"
    return f"build {build}"


def _env(doc: Document, body: Mapping[str, Any]) -> list[EnvVar]:
    pairs: dict[str, str | None] = {}
    env_files = body.get("env_file")
    for item in [env_files] if isinstance(env_files, str | Mapping) else env_files or []:
        path = item.get("path") if isinstance(item, Mapping) else item
        file = doc.path.parent / str(path)
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for line in lines:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.removeprefix("export ").partition("=")
                pairs[key.strip()] = value.strip().strip("'\"")
    env = body.get("environment")
    if isinstance(env, Mapping):
        for key, value in env.items():
            pairs[str(key)] = None if value is None else str(value)
    elif isinstance(env, list):
        for item in env:
            key, sep, value = str(item).partition("=")
            pairs[key] = value if sep else None
    return [
        EnvVar(k, None, True, "value")
        if looks_secret(k)
        else EnvVar(k, v, False, "" if v is not None else "from the host")
        for k, v in pairs.items()
    ]


def _ports(body: Mapping[str, Any]) -> set[tuple[int, str]]:
    found: set[tuple[int, str]] = set()
    for item in [*(body.get("ports") or []), *(body.get("expose") or [])]:
        if isinstance(item, Mapping):
            if isinstance(item.get("target"), int):
                found.add((item["target"], str(item.get("protocol", "tcp"))))
            continue
        match = _PORT.match(str(item).strip())
        if match is None:
            continue
        low = int(match.group(1))
        high = int(match.group(2) or low)
        for port in range(low, min(high, low + 1000) + 1):
            found.add((port, match.group(3) or "tcp"))
    return found


def _checks(body: Mapping[str, Any]) -> list[Check]:
    health = body.get("healthcheck")
    if not isinstance(health, Mapping) or health.get("disable"):
        return []
    test = health.get("test")
    if isinstance(test, str):
        return [Check("exec", "healthcheck", command=("sh", "-c", test))]
    if isinstance(test, list) and test:
        head, *rest = (str(t) for t in test)
        if head == "CMD":
            return [Check("exec", "healthcheck", command=normal_command(rest))]
        if head == "CMD-SHELL":
            return [
                Check(
                    "exec",
                    "healthcheck",
                    command=("sh", "-c", shlex.join(rest) if len(rest) > 1 else rest[0]),
                )
            ]
    return []


def _mounts(body: Mapping[str, Any]) -> list[Mount]:
    mounts: list[Mount] = []
    for item in body.get("volumes") or []:
        kind: MountKind
        if isinstance(item, Mapping):
            target = str(item.get("target", ""))
            vtype = item.get("type", "volume")
            source = item.get("source")
            kind = {"bind": "host", "tmpfs": "memory"}.get(str(vtype), "persistent")  # type: ignore[assignment]
            if vtype == "volume" and not source:
                kind = "scratch"
            detail = f"{vtype} {source}" if source else str(vtype)
        else:
            parts = str(item).split(":")
            if len(parts) == 1:
                target, kind, detail = parts[0], "scratch", "anonymous volume"
            else:
                source, target = parts[0], parts[1]
                bind = source.startswith((".", "/", "~"))
                kind = "host" if bind else "persistent"
                detail = f"bind {source}" if bind else f"volume {source}"
        if target:
            mounts.append(Mount(target.rstrip("/") or "/", kind, detail))
    tmpfs = body.get("tmpfs")
    for path in [tmpfs] if isinstance(tmpfs, str) else tmpfs or []:
        mounts.append(Mount(str(path).split(":")[0].rstrip("/"), "memory", "tmpfs"))
    for key, kind_, default in (("secrets", "secret", "/run/secrets/"), ("configs", "config", "/")):
        for item in body.get(key) or []:
            source = item.get("source") if isinstance(item, Mapping) else item
            goal = item.get("target") if isinstance(item, Mapping) else None
            mount_path = (
                str(goal) if goal and str(goal).startswith("/") else f"{default}{goal or source}"
            )
            mounts.append(Mount(mount_path, kind_, f"{key[:-1]} {source}"))  # type: ignore[arg-type]
    return mounts
