"""What parity compares: one workload (a container and what surrounds it),
described the same way whether it comes from the spec or from production."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "Check",
    "EnvVar",
    "Image",
    "Mount",
    "Resources",
    "Workload",
    "format_cpu",
    "format_memory",
    "parse_cpu",
    "parse_image",
    "parse_memory",
]

Lifecycle = Literal["long-running", "one-shot", "scheduled"]
CheckKind = Literal["http", "tcp", "exec", "grpc", "log", "image-healthcheck"]
MountKind = Literal["persistent", "scratch", "memory", "host", "config", "secret", "other"]


@dataclass(frozen=True, slots=True)
class Image:
    """An image reference split the way registries read it. ``repository`` is
    normalised (``postgres`` -> ``docker.io/library/postgres``); ``written`` is
    the reference as the file has it."""

    repository: str
    tag: str | None
    digest: str | None
    written: str

    @property
    def shown(self) -> str:
        """The repository as written (without tag and digest)."""
        text = self.written.split("@", 1)[0]
        last = text.rsplit("/", 1)[-1]
        if ":" in last:
            text = text[: len(text) - len(last)] + last.split(":", 1)[0]
        return text


_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")


def parse_image(reference: str) -> Image:
    """``[registry/]path[:tag][@digest]`` -> :class:`Image` (Docker's defaults)."""
    text = reference.strip()
    digest: str | None = None
    if "@" in text:
        text, digest = text.split("@", 1)
        if not _DIGEST.fullmatch(digest):
            digest = digest or None
    tag: str | None = None
    last = text.rsplit("/", 1)[-1]
    if ":" in last:
        tag = last.split(":", 1)[1]
        text = text[: len(text) - len(last) + last.index(":")]
    parts = text.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        registry, path = parts[0], "/".join(parts[1:])
    else:
        registry, path = "docker.io", text
    if registry in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        registry = "docker.io"
        if "/" not in path:
            path = f"library/{path}"
    if tag is None and digest is None:
        tag = "latest"
    return Image(f"{registry}/{path}".lower(), tag, digest, reference.strip())


@dataclass(frozen=True, slots=True)
class EnvVar:
    """One environment variable. ``value`` None: not known here (a secret, or a
    reference that the manifests do not resolve); a secret's value is never read."""

    name: str
    value: str | None
    secret: bool = False
    source: str = ""


@dataclass(frozen=True, slots=True)
class Check:
    """A readiness or health check: a wait, a healthcheck or a probe."""

    kind: CheckKind
    role: str  # "wait", "healthcheck", "readiness", "liveness", "startup"
    port: int | str | None = None
    path: str | None = None
    command: tuple[str, ...] = ()
    pattern: str | None = None

    @property
    def key(self) -> tuple[object, ...]:
        """What must match for two checks to test the same thing (the role aside)."""
        return (self.kind, self.port, self.path if self.kind == "http" else None, self.command)

    def describe(self) -> str:
        if self.kind == "http":
            what = f"http GET :{self.port}{self.path or '/'}"
        elif self.kind == "tcp":
            what = f"tcp :{self.port}"
        elif self.kind == "grpc":
            what = f"grpc :{self.port}"
        elif self.kind == "exec":
            what = "exec " + " ".join(self.command)
        elif self.kind == "log":
            what = f"log /{self.pattern}/"
        else:
            what = "the image's healthcheck"
        return f"{self.role}: {what}"


@dataclass(frozen=True, slots=True)
class Mount:
    target: str
    kind: MountKind
    detail: str = ""

    def describe(self) -> str:
        return f"{self.kind} ({self.detail})" if self.detail else self.kind


@dataclass(frozen=True, slots=True)
class Resources:
    """CPU in cores, memory in bytes; None: not set."""

    cpu_limit: float | None = None
    memory_limit: int | None = None
    cpu_request: float | None = None
    memory_request: int | None = None


@dataclass(frozen=True, slots=True)
class Workload:
    """One service of one side. ``origin`` says where it was read, for a person."""

    name: str
    origin: str
    lifecycle: Lifecycle = "long-running"
    image: Image | None = None
    build: str | None = None
    env: tuple[EnvVar, ...] = ()
    ports: frozenset[tuple[int, str]] = frozenset()
    checks: tuple[Check, ...] = ()
    mounts: tuple[Mount, ...] = ()
    resources: Resources = field(default_factory=Resources)
    replicas: str = "1"
    notes: tuple[str, ...] = ()


_CPU = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(m?)")
_K8S_UNITS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
_DOCKER_UNITS = {"b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
_MEMORY = re.compile(r"(\d+(?:\.\d+)?(?:[eE]\d+)?)\s*([A-Za-z]*)")


def parse_cpu(value: object) -> float | None:
    """``"500m"``, ``"0.5"``, ``2`` -> cores; None when it is not a CPU quantity."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    match = _CPU.fullmatch(str(value).strip())
    if match is None:
        return None
    number = float(match.group(1))
    return number / 1000 if match.group(2) else number


def parse_memory(value: object, *, docker: bool = False) -> int | None:
    """A Kubernetes quantity (``512Mi``, ``1G``) or, with ``docker``, Docker's
    binary units (``512m``, ``1g``, ``100mb``) -> bytes; None when unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    match = _MEMORY.fullmatch(str(value).strip())
    if match is None:
        return None
    number, unit = float(match.group(1)), match.group(2)
    if unit in _K8S_UNITS and not (docker and unit in ("k", "M", "G", "T")):
        return int(number * _K8S_UNITS[unit])
    low = unit.lower().removesuffix("b") or "b"
    if low in _DOCKER_UNITS:
        return int(number * _DOCKER_UNITS[low])
    if unit == "m":  # Kubernetes' milli-bytes, as odd as it is
        return int(number / 1000)
    return None


def format_cpu(cores: float | None) -> str | None:
    if cores is None:
        return None
    millis = round(cores * 1000)
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def format_memory(size: int | None) -> str | None:
    if size is None:
        return None
    for unit in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        if size and size % _K8S_UNITS[unit] == 0:
            return f"{size // _K8S_UNITS[unit]}{unit}"
    return str(size)
