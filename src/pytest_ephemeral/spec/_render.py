"""The resolved topology as text, for ``eph validate`` and for people."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

from ._context import display_path
from ._graph import start_levels
from ._units import format_duration, format_size
from .model import HealthcheckSpec, PortSpec, SeedStep, ServiceSpec, Spec, VolumeMount, WaitSpec

__all__ = ["REDACTED", "is_secret_name", "redact", "render_topology"]

REDACTED = "***"
_SECRET_PARTS = (
    "PASSWORD",
    "SECRET",
    "TOKEN",
    "KEY",
    "CREDENTIAL",
    "PASS",
    "PWD",
    "PRIVATE",
    "AUTH",
)
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@/\s]+@")

Row = tuple[str, list[str]]


def is_secret_name(name: str) -> bool:
    """Whether a variable called ``name`` probably holds a secret (its value is redacted)."""
    upper = name.upper()
    return any(part in upper for part in _SECRET_PARTS)


def redact(name: str, value: str) -> str:
    """``value`` fit to print: hidden whole when ``name`` looks secret; else with the
    passwords of URLs (``scheme://user:password@host``) hidden."""
    if is_secret_name(name):
        return REDACTED
    return _URL_PASSWORD.sub(rf"\g<head>{REDACTED}@", value)


def render_topology(spec: Spec) -> str:
    """The resolved topology: a header, then each service in start order.

    ``spec.warnings`` are not included: the caller prints them where it prints
    warnings (``eph validate`` to stderr)."""
    levels = start_levels(spec.services)
    header: list[Row] = [
        ("spec", [spec.name]),
        ("file", [display_path(spec.path)]),
        ("hash", [spec.hash or "(not computed)"]),
        ("start", [" -> ".join(", ".join(level) for level in levels) or "(no services)"]),
        ("networks", [", ".join(spec.networks) or "(none)"]),
        ("volumes", [", ".join(spec.volumes) or "(none)"]),
    ]
    if len(spec.files) > 1:
        header.insert(2, ("files", [display_path(f) for f in spec.files]))
    if spec.exports:
        header.append(("exports", [f"{k}={v}" for k, v in spec.exports.items()]))
    if spec.parity is not None:
        header.append(
            ("parity", [_relative(p, spec.root) for p in spec.parity.against] or ["(no sources)"])
        )
    services = [
        (name, _service_rows(spec.services[name], spec.root)) for level in levels for name in level
    ]
    width = max(len(label) for _, rows in services for label, _ in rows) if services else 0
    lines = _table(header, max(len(label) for label, _ in header), indent="")
    for position, (name, rows) in enumerate(services, start=1):
        lines.append("")
        lines.append(f"service {name}  ({position} of {len(services)})")
        lines.extend(_table(rows, width, indent="  "))
    return "\n".join(lines)


def _table(rows: Sequence[Row], width: int, *, indent: str) -> list[str]:
    lines: list[str] = []
    for label, values in rows:
        for i, value in enumerate(values):
            head = label if i == 0 else ""
            lines.append(f"{indent}{head:<{width}}  {value}".rstrip())
    return lines


def _service_rows(service: ServiceSpec, root: Path) -> list[Row]:
    rows: list[Row] = []

    def add(label: str, values: Sequence[str]) -> None:
        if values:
            rows.append((label, list(values)))

    if service.external is not None:
        ext = service.external
        add("external", [f"{ext.kind} {_url(ext.url)}"])
        add("isolate", [ext.isolate])
    if service.testcontainers is not None:
        module = service.testcontainers
        add(
            "testcontainers",
            [module.target + (f"  (image {module.image})" if module.image else "")],
        )
        add("args", [f"{k}={redact(k, str(v))}" for k, v in module.args.items()])
    if service.image:
        add("image", [service.image])
    if service.pull_policy != "missing":
        add("pull_policy", [service.pull_policy])
    if service.build:
        add("build", [_build(service, root)])
        add("build args", [f"{k}={redact(k, v)}" for k, v in service.build.args.items()])
    if service.entrypoint is not None:
        add("entrypoint", [shlex.join(service.entrypoint) or "(none)"])
    if service.command is not None:
        add("command", [shlex.join(service.command) or "(none)"])
    add("depends_on", _aligned([(d.service, d.condition) for d in service.depends_on]))
    add("environment", [f"{k}={redact(k, v)}" for k, v in service.environment.items()])
    add(
        "ports",
        _aligned([(f"{p.container_port}/{p.protocol}", "-> " + _host(p)) for p in service.ports]),
    )
    add("expose", [", ".join(map(str, service.expose))] if service.expose else [])
    if service.healthcheck:
        add("healthcheck", _healthcheck(service.healthcheck))
    add("wait", _waits(service.waits, service.wait_timeout))
    add("volumes", _aligned([_mount(m, root) for m in service.volumes]))
    add("tmpfs", list(service.tmpfs))
    add("networks", [_network(n, a) for n, a in service.networks.items()])
    add("aliases", [", ".join(service.aliases)] if service.aliases else [])
    add(
        "secrets",
        [f"{m.kind} {m.name} -> {m.target}" for m in (*service.secrets, *service.configs)],
    )
    add("replicas", [str(service.replicas)] if service.replicas != 1 else [])
    add("resources", _resources(service))
    add("engine", [f"{k}={_engine_value(v)}" for k, v in service.engine.given().items()])
    add("post_start", [shlex.join(h.command) for h in service.post_start])
    add("labels", [f"{k}={v}" for k, v in service.labels.items()])
    add("user", [service.user] if service.user else [])
    add("working_dir", [service.working_dir] if service.working_dir else [])
    add("cpus", [f"{service.cpus:g}"] if service.cpus is not None else [])
    add("mem_limit", [format_size(service.mem_limit)] if service.mem_limit is not None else [])
    add("profiles", [", ".join(service.profiles)] if service.profiles else [])
    add("privileged", ["yes"] if service.privileged else [])
    add("seed", _seed(service.seed, root))
    return rows


def _url(url: str) -> str:
    return _URL_PASSWORD.sub(rf"\g<head>{REDACTED}@", url)


def _resources(service: ServiceSpec) -> list[str]:
    res = service.resources
    parts = []
    if res.pids is not None:
        parts.append(f"pids {res.pids}")
    if res.cpus_reserved is not None:
        parts.append(f"cpus reserved {res.cpus_reserved:g}")
    if res.memory_reserved is not None:
        parts.append(f"memory reserved {format_size(res.memory_reserved)}")
    return [", ".join(parts)] if parts else []


def _engine_value(value: object) -> str:
    if isinstance(value, Mapping):
        return ",".join(f"{k}:{v}" for k, v in value.items())
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def _aligned(pairs: Sequence[tuple[str, str]]) -> list[str]:
    width = max((len(left) for left, _ in pairs), default=0)
    return [f"{left:<{width}}  {right}".rstrip() for left, right in pairs]


def _relative(path: Path | str, root: Path) -> str:
    relative = os.path.relpath(path, root)
    if relative.startswith(".."):
        return str(path)
    return relative if relative == "." else "./" + Path(relative).as_posix()


def _build(service: ServiceSpec, root: Path) -> str:
    build = service.build
    if build is None:  # pragma: no cover - checked by the caller
        return ""
    text = _relative(build.context, root)
    extras = []
    if build.dockerfile != "Dockerfile":
        extras.append(f"dockerfile {build.dockerfile}")
    if build.target:
        extras.append(f"target {build.target}")
    return text + (f"  ({', '.join(extras)})" if extras else "")


def _host(port: PortSpec) -> str:
    address = f"[{port.host_ip}]" if ":" in port.host_ip else port.host_ip
    chosen = str(port.host_port) + " (fixed)" if port.host_port is not None else "random"
    return f"{address}:{chosen}"


def _healthcheck(health: HealthcheckSpec) -> list[str]:
    if health.disable:
        return ["disabled"]
    if health.test:
        kind, *words = health.test
        command = f"{kind} " + (words[0] if kind == "CMD-SHELL" else shlex.join(words))
    else:
        command = "the image's own test"
    settings = []
    if health.interval is not None:
        settings.append(f"every {format_duration(health.interval)}")
    if health.timeout is not None:
        settings.append(f"timeout {format_duration(health.timeout)}")
    if health.retries is not None:
        settings.append(f"{health.retries} retries")
    if health.start_period is not None:
        settings.append(f"start period {format_duration(health.start_period)}")
    return [command, *([", ".join(settings)] if settings else [])]


def _waits(waits: Sequence[WaitSpec], timeout: float | None) -> list[str]:
    lines = [wait.describe() for wait in waits] or ["(none given: the engine's default)"]
    lines.append(
        f"timeout {format_duration(timeout)}" if timeout else "timeout: the run's (--eph-timeout)"
    )
    return lines


def _mount(mount: VolumeMount, root: Path) -> tuple[str, str]:
    suffix = "  (read-only)" if mount.read_only else ""
    if mount.type == "bind" and mount.source:
        return f"bind {_relative(mount.source, root)}", f"-> {mount.target}{suffix}"
    if mount.source:
        return f"volume {mount.source}", f"-> {mount.target}{suffix}"
    return "anonymous", f"-> {mount.target}{suffix}"


def _network(name: str, aliases: Sequence[str]) -> str:
    return f"{name}  (aliases: {', '.join(aliases)})" if aliases else name


def _seed(steps: Sequence[SeedStep], root: Path) -> list[str]:
    rows: list[tuple[str, str]] = []
    for number, step in enumerate(steps, start=1):
        file = _relative(step.file, root) if step.file else ""
        if step.kind == "python":
            detail = step.target or ""
        elif step.kind == "csv":
            detail = f"{file} -> table {step.table}"
        else:
            detail = file
        if step.sanitize:
            detail += f", sanitized by {_relative(step.sanitize, root)}"
        if step.database:
            detail += f"  (database {step.database})"
        rows.append((f"{number}. {step.kind}", detail))
    return _aligned(rows)
