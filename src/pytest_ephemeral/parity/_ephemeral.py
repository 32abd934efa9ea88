"""The spec's side: each service as the engine runs it (one container, the
readiness checks the engine applies, the limits it sets)."""

from __future__ import annotations

from ..spec.model import ServiceSpec, Spec, WaitSpec
from ._kubernetes import normal_command
from ._model import Check, EnvVar, Mount, Resources, Workload, parse_image
from ._secrets import looks_secret

__all__ = ["effective_waits", "spec_workloads"]


def effective_waits(svc: ServiceSpec, one_shot: bool) -> tuple[WaitSpec, ...]:
    """The waits the engine applies: the spec's; else the healthcheck; else every
    published TCP port (the image's own healthcheck is not known offline)."""
    waits = list(svc.waits)
    if one_shot and not any(w.kind == "completed" for w in waits):
        waits.append(WaitSpec("completed"))
    if waits:
        return tuple(waits)
    hc = svc.healthcheck
    if hc is not None and not hc.disable and hc.test and hc.test[0] != "NONE":
        return (WaitSpec("healthcheck"),)
    return tuple(WaitSpec("port", port=p.container_port) for p in svc.ports if p.protocol == "tcp")


def one_shot_services(spec: Spec) -> set[str]:
    needed = {
        d.service
        for s in spec.services.values()
        for d in s.depends_on
        if d.condition == "service_completed_successfully"
    }
    return needed | {
        n for n, s in spec.services.items() if any(w.kind == "completed" for w in s.waits)
    }


def healthcheck_command(svc: ServiceSpec) -> tuple[str, ...] | None:
    hc = svc.healthcheck
    if hc is None or hc.disable or not hc.test or hc.test[0] == "NONE":
        return None
    head, *rest = hc.test
    if head == "CMD-SHELL":
        return ("sh", "-c", " ".join(rest))
    return normal_command(rest if head == "CMD" else hc.test)


def spec_workloads(spec: Spec) -> dict[str, Workload]:
    one_shot = one_shot_services(spec)
    return {name: _workload(spec, svc, name in one_shot) for name, svc in spec.services.items()}


def _workload(spec: Spec, svc: ServiceSpec, one_shot: bool) -> Workload:
    checks: list[Check] = []
    health = healthcheck_command(svc)
    for wait in effective_waits(svc, one_shot):
        if wait.kind == "http":
            checks.append(Check("http", "wait", wait.port, wait.path))
        elif wait.kind == "port":
            checks.append(Check("tcp", "wait", wait.port))
        elif wait.kind == "command":
            checks.append(Check("exec", "wait", command=normal_command(wait.command)))
        elif wait.kind == "log":
            checks.append(Check("log", "wait", pattern=wait.pattern))
        elif wait.kind == "healthcheck" and health is None:
            checks.append(Check("image-healthcheck", "wait"))
    if health is not None:
        checks.append(Check("exec", "healthcheck", command=health))
    mounts = [
        Mount(
            v.target.rstrip("/") or "/",
            "host" if v.type == "bind" else ("persistent" if v.source else "scratch"),
            f"bind {v.source}"
            if v.type == "bind"
            else (f"volume {v.source}" if v.source else "anonymous volume"),
        )
        for v in svc.volumes
    ]
    mounts += [Mount(t.split(":")[0].rstrip("/") or "/", "memory", "tmpfs") for t in svc.tmpfs]
    ports = {(p.container_port, p.protocol) for p in svc.ports} | {(p, "tcp") for p in svc.expose}
    build = None
    if svc.image is None and svc.build is not None:
        try:
            context = svc.build.context.relative_to(spec.root)
        except ValueError:
            context = svc.build.context
        build = f"build ./{context}" if str(context) != "." else "build ."
    # the model's Compose coverage (resources, replicas, secrets, configs, external
    # and testcontainers services) read where present, so an older model still works
    resources = getattr(svc, "resources", None)
    replicas = getattr(svc, "replicas", 1)
    for kind in ("secrets", "configs"):
        for item in getattr(svc, kind, ()):
            mounts.append(
                Mount(
                    item.target,
                    "secret" if kind == "secrets" else "config",
                    f"{kind[:-1]} {item.name}",
                )
            )
    image = svc.image
    external = getattr(svc, "external", None)
    if external is not None:
        build = f"external {external.kind} server (isolated by {external.isolate})"
    testcontainers = getattr(svc, "testcontainers", None)
    if testcontainers is not None and image is None:
        image = testcontainers.image
        if image is None:
            build = f"testcontainers {testcontainers.target}"
    return Workload(
        name=svc.name,
        origin=f"service {svc.name} ({svc.location.file.name}"
        + (f":{svc.location.line})" if svc.location.line else ")"),
        lifecycle="one-shot" if one_shot else "long-running",
        image=parse_image(image) if image else None,
        build=build,
        env=tuple(
            EnvVar(k, None, True, "value") if looks_secret(k) else EnvVar(k, v, False)
            for k, v in svc.environment.items()
        ),
        ports=frozenset(ports),
        checks=tuple(checks),
        mounts=tuple(mounts),
        resources=Resources(
            cpu_limit=svc.cpus,
            memory_limit=svc.mem_limit,
            cpu_request=getattr(resources, "cpus_reserved", None),
            memory_request=getattr(resources, "memory_reserved", None),
        ),
        replicas=str(replicas if isinstance(replicas, int) else 1),
    )
