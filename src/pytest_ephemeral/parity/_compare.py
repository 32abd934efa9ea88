"""Spec workloads against production workloads: every difference, each marked
accepted (with the spec's reason) or not."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from ._config import Accept, ParityConfig
from ._errors import ParityError
from ._model import EnvVar, Workload, format_cpu, format_memory
from ._secrets import shown_value

__all__ = ["Difference", "Match", "ParityReport", "compare"]

SECRET = "(secret)"
JsonValue = str | list[str] | None


@dataclass(frozen=True, slots=True)
class Difference:
    service: str
    field: str
    ephemeral: JsonValue
    production: JsonValue
    accepted: bool = False
    why: str | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "service": self.service,
            "field": self.field,
            "ephemeral": self.ephemeral,
            "production": self.production,
            "accepted": self.accepted,
            "why": self.why,
        }


@dataclass(frozen=True, slots=True)
class Match:
    service: str
    production: str
    origin: str


@dataclass(frozen=True, slots=True)
class ParityReport:
    spec: str
    against: tuple[str, ...]
    matches: tuple[Match, ...]
    differences: tuple[Difference, ...]
    notes: tuple[str, ...]

    @property
    def unaccepted(self) -> tuple[Difference, ...]:
        return tuple(d for d in self.differences if not d.accepted)

    @property
    def accepted(self) -> tuple[Difference, ...]:
        return tuple(d for d in self.differences if d.accepted)

    @property
    def ok(self) -> bool:
        return not self.unaccepted


def _resolve_map(
    config: ParityConfig,
    ephemeral: Mapping[str, Workload],
    production: Mapping[str, Workload],
    aliases: Mapping[str, str],
) -> dict[str, str]:
    resolved: dict[str, str] = {}
    for service, target in config.map.items():
        where = config.where(config.map_lines.get(service))
        if service not in ephemeral:
            raise ParityError(
                f"{where}: parity.map.{service}: {service!r} is not a service of the spec "
                f"(services: {', '.join(ephemeral) or 'none'}) (fix or remove the entry)"
            )
        if target not in production and target not in aliases:
            names = sorted({*production, *aliases})
            raise ParityError(
                f"{where}: parity.map.{service}: production has no {target!r} "
                f"(production names: {', '.join(names) or 'none'}) (name one of them)"
            )
        resolved[service] = aliases.get(target, target) if target not in production else target
    return resolved


def compare(
    ephemeral: Mapping[str, Workload],
    production: Mapping[str, Workload],
    aliases: Mapping[str, str],
    config: ParityConfig,
    *,
    spec: str = "",
    against: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> ParityReport:
    mapping = _resolve_map(config, ephemeral, production, aliases)
    for entry in config.accept:
        known = {*ephemeral, *production, *aliases, "*"}
        if entry.service not in known:
            raise ParityError(
                f"{config.where(entry.line)}: parity.accept: service {entry.service!r} is "
                f"neither in the spec nor in production (spec: {', '.join(ephemeral)}; "
                f"production: {', '.join(sorted(production))}) (fix or remove the entry)"
            )
    taken: dict[str, str] = {}
    matches: list[Match] = []
    differences: list[tuple[tuple[str, ...], Difference]] = []
    all_notes = list(notes)
    for name, work in ephemeral.items():
        target = mapping.get(name, name)
        if target not in production and target in aliases:
            target = aliases[target]
        if target not in production and name not in mapping:
            guess = _by_suffix(name, production, aliases, set(ephemeral), taken)
            if guess is not None:
                target = guess
                all_notes.append(
                    f"{name}: matched to production {guess} by its name "
                    f"(write parity: {{map: {{{name}: {guess}}}}} to say so in the spec)"
                )
        if target not in production or target in taken:
            differences.append(((name,), Difference(name, "service", work.origin, None)))
            continue
        taken[target] = name
        other = production[target]
        matches.append(Match(name, target, other.origin))
        names: tuple[str, ...] = (name, target, target.split("/")[0])
        differences += [(names, d) for d in _differences(name, work, other)]
        all_notes += [f"{name} (production {target}): {note}" for note in other.notes]
        all_notes += [f"{name}: {note}" for note in work.notes]
    for target, work in production.items():
        if target not in taken:
            names = (target, target.split("/")[0])
            differences.append((names, Difference(target, "service", None, work.origin)))
    used: set[Accept] = set()
    marked = []
    for names, diff in differences:
        found = next((a for a in config.accept if a.matches(names, diff.field)), None)
        if found is not None:
            used.add(found)
            diff = replace(diff, accepted=True, why=found.why)
        marked.append(diff)
    for entry in config.accept:
        if entry not in used:
            all_notes.append(
                f"{config.where(entry.line)}: accepted difference {entry.service} "
                f"{entry.field} no longer occurs (remove the entry)"
            )
    return ParityReport(spec, tuple(against), tuple(matches), tuple(marked), tuple(all_notes))


def _by_suffix(
    name: str,
    production: Mapping[str, Workload],
    aliases: Mapping[str, str],
    ephemeral: set[str],
    taken: Mapping[str, str],
) -> str | None:
    """The one production name that ends in ``-NAME`` (helm's ``RELEASE-NAME``)
    or whose container is NAME, when there is exactly one."""
    found = set()
    for target in production:
        if target in taken or target in ephemeral:
            continue
        workload, _, container = target.partition("/")
        by_suffix = workload.endswith(f"-{name}") and (
            not container or aliases.get(workload) == target
        )
        if container == name or by_suffix:
            found.add(target)
    return found.pop() if len(found) == 1 else None


def _differences(service: str, e: Workload, p: Workload) -> list[Difference]:
    out: list[Difference] = []

    def differ(field: str, left: JsonValue, right: JsonValue) -> None:
        if left != right:
            out.append(Difference(service, field, left, right))

    differ("lifecycle", e.lifecycle, p.lifecycle)
    _image(service, e, p, out)
    _env(service, e, p, out)
    differ("ports", _ports(e), _ports(p))
    differ(
        "resources.limits.cpu", format_cpu(e.resources.cpu_limit), format_cpu(p.resources.cpu_limit)
    )
    differ(
        "resources.limits.memory",
        format_memory(e.resources.memory_limit),
        format_memory(p.resources.memory_limit),
    )
    differ(
        "resources.requests.cpu",
        format_cpu(e.resources.cpu_request),
        format_cpu(p.resources.cpu_request),
    )
    differ(
        "resources.requests.memory",
        format_memory(e.resources.memory_request),
        format_memory(p.resources.memory_request),
    )
    differ("replicas", e.replicas, p.replicas)
    if {c.key for c in e.checks} != {c.key for c in p.checks}:
        out.append(
            Difference(
                service,
                "probes",
                [c.describe() for c in e.checks],
                [c.describe() for c in p.checks],
            )
        )
    left = {m.target: m for m in e.mounts}
    right = {m.target: m for m in p.mounts}
    for target in sorted({*left, *right}):
        a, b = left.get(target), right.get(target)
        if a is None or b is None or a.kind != b.kind:
            differ(
                f"volumes.{target}",
                a.describe() if a else None,
                b.describe() if b else None,
            )
    return out


def _ports(w: Workload) -> list[str]:
    return [f"{port}/{proto}" for port, proto in sorted(w.ports)]


def _image(service: str, e: Workload, p: Workload, out: list[Difference]) -> None:
    if e.image is None or p.image is None:
        left = e.image.written if e.image else e.build
        right = p.image.written if p.image else p.build
        if left != right:
            out.append(Difference(service, "image", left, right))
        return
    if e.image.repository != p.image.repository:
        out.append(Difference(service, "image.repository", e.image.shown, p.image.shown))
    if e.image.tag != p.image.tag:
        out.append(Difference(service, "image.tag", e.image.tag, p.image.tag))
    if e.image.digest != p.image.digest:
        out.append(Difference(service, "image.digest", e.image.digest, p.image.digest))


def _env(service: str, e: Workload, p: Workload, out: list[Difference]) -> None:
    left = {v.name: v for v in e.env}
    right = {v.name: v for v in p.env}

    def shown(name: str, side: dict[str, EnvVar]) -> str | None:
        var = side.get(name)
        if var is None:
            return None
        if var.secret:
            return SECRET + (f" from {var.source}" if var.source not in ("", "value") else "")
        if var.value is None:
            return f"(set, {var.source})" if var.source else "(set)"
        return shown_value(name, var.value)

    for name in sorted({*left, *right}):
        a, b = left.get(name), right.get(name)
        if (
            a is not None
            and b is not None
            and (a.secret or b.secret or a.value is None or b.value is None or a.value == b.value)
        ):
            continue  # names only: a secret's or an unknown value is never compared
        sa, sb = shown(name, left), shown(name, right)
        if a is not None and b is not None and sa == sb:
            sb = f"{sb} (differs in a hidden part)"
        out.append(Difference(service, f"env.{name}", sa, sb))
