"""Checks across services: dependency targets, cycles, conditions, profiles; start order."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace

from ..errors import SpecError
from ._context import Context
from ._service import Draft, Edge
from .model import ServiceSpec, Spec

__all__ = ["active_services", "check_graph", "start_levels", "start_order"]


def check_graph(ctx: Context, drafts: Mapping[str, Draft]) -> None:
    """Errors for dependencies that cannot be met, whatever the active profiles."""
    for name, draft in drafts.items():
        for edge in draft.edges:
            if edge.target == name:
                raise ctx.error(
                    "a service cannot depend on itself", edge.line, edge.key, "remove this entry"
                )
            target = drafts.get(edge.target)
            if target is None:
                known = ", ".join(sorted(set(drafts) - {name})) or "none"
                raise ctx.error(
                    f"unknown service {edge.target!r} "
                    f"(known: {known}; fix the name or add the service)",
                    edge.line,
                    edge.key,
                )
            if edge.condition != "service_healthy":
                continue
            if target.completed_line is not None:
                raise ctx.error(
                    f"condition service_healthy cannot be met: {edge.target!r} waits until it "
                    f"has completed (line {target.completed_line}), and an exited container is "
                    "never healthy",
                    edge.line,
                    edge.key,
                    "use condition: service_completed_successfully",
                )
            health = target.service.healthcheck
            if health is not None and health.disable:
                raise ctx.error(
                    f"condition service_healthy cannot be met: {edge.target!r} has its "
                    "healthcheck disabled",
                    edge.line,
                    edge.key,
                    f"give {edge.target!r} a healthcheck test, or use condition: service_started",
                )
    _check_cycles(ctx, drafts)


def _check_cycles(ctx: Context, drafts: Mapping[str, Draft]) -> None:
    """Depth-first, iteratively (a long chain of services needs no deep recursion)."""
    done: set[str] = set()
    for root in drafts:
        if root in done:
            continue
        path = [root]
        stack: list[Iterator[Edge]] = [iter(drafts[root].edges)]
        while stack:
            edge = next(stack[-1], None)
            if edge is None:
                stack.pop()
                done.add(path.pop())
                continue
            if edge.target in path:
                cycle = [*path[path.index(edge.target) :], edge.target]
                if len(cycle) > 8:
                    count = len(cycle) - 1
                    cycle = [*cycle[:3], f"... ({count} services)", *cycle[-3:]]
                raise ctx.error(
                    f"dependency cycle: {' -> '.join(cycle)}",
                    edge.line,
                    edge.key,
                    "remove one of these depends_on entries",
                )
            if edge.target not in done:
                path.append(edge.target)
                stack.append(iter(drafts[edge.target].edges))


def active_services(
    ctx: Context, drafts: Mapping[str, Draft], profiles: Sequence[str]
) -> dict[str, ServiceSpec]:
    """The services of the active ``profiles`` (all without ``profiles:``), in file order.

    An active service that needs an inactive one is an error; one that declared
    the dependency ``required: false`` loses it, with a warning.
    """
    wanted = set(profiles)

    def is_active(draft: Draft) -> bool:
        own = draft.service.profiles
        return not own or "*" in wanted or bool(wanted.intersection(own))

    active = {name: draft for name, draft in drafts.items() if is_active(draft)}
    result: dict[str, ServiceSpec] = {}
    for name, draft in active.items():
        service = draft.service
        kept = []
        for edge, depends in zip(draft.edges, service.depends_on, strict=True):
            if edge.target in active:
                kept.append(depends)
                _warn_healthy(
                    ctx, edge.target, active[edge.target], edge.condition, edge.line, edge.key
                )
                continue
            needed = drafts[edge.target].service.profiles
            listed = ", ".join(needed)
            if not edge.required:
                ctx.warn(
                    f"optional dependency {edge.target!r} is not started: its profiles ({listed}) "
                    "are not active",
                    edge.line,
                    edge.key,
                    f"activate profile {needed[0]!r} to start it",
                )
                continue
            raise ctx.error(
                f"{name!r} is active but depends on {edge.target!r}, which belongs only to "
                f"profile(s) {listed}, none of them active",
                edge.line,
                edge.key,
                f"activate profile {needed[0]!r}, give {name!r} the same profiles, "
                "or mark the dependency 'required: false'",
            )
        if len(kept) != len(service.depends_on):
            service = replace(service, depends_on=tuple(kept))
        result[name] = service
    return result


def _warn_healthy(
    ctx: Context, target: str, draft: Draft, condition: str, line: int, key: str
) -> None:
    svc = draft.service
    if (
        condition == "service_healthy"
        and svc.healthcheck is None
        and not svc.waits  # healthy means ready: its own wait: decides
        and svc.testcontainers is None  # the module's own wait logic decides
        and svc.external is None
    ):
        ctx.warn(
            f"condition service_healthy, but {target!r} has no healthcheck in the spec: "
            "its image must define one",
            line,
            key,
            f"add a healthcheck: to {target!r} if its image has none",
        )


def start_levels(services: Mapping[str, ServiceSpec]) -> list[list[str]]:
    """Services in start order: each level depends only on earlier levels (file order
    within a level). Dependencies on services not in ``services`` are ignored."""
    pending = {
        name: {d.service for d in service.depends_on if d.service in services and d.service != name}
        for name, service in services.items()
    }
    levels: list[list[str]] = []
    started: set[str] = set()
    while pending:
        level = [name for name, needs in pending.items() if needs <= started]
        if not level:
            raise SpecError(
                f"dependency cycle among {', '.join(pending)}",
                fix="remove one of their depends_on entries",
            )
        levels.append(level)
        started.update(level)
        for name in level:
            del pending[name]
    return levels


def start_order(spec: Spec) -> list[list[str]]:
    """The services of ``spec`` in start levels: every service of a level depends only
    on services of earlier levels; file order within a level."""
    return start_levels(spec.services)
