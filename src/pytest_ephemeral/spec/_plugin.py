"""The plugin's own keys beyond wait/seed: ``external:`` and ``testcontainers:``
services, and the top-level ``exports:`` and ``parity:`` (DESIGN §10, §12)."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from types import MappingProxyType
from urllib.parse import urlsplit

from ._context import Context
from ._nodes import Map, Node, Scalar, Seq, index, sub
from .model import (
    ExternalKind,
    ExternalService,
    ParityAccept,
    ParitySpec,
    PortSpec,
    ServiceSpec,
    TestcontainersSpec,
    frozen_map,
)

__all__ = [
    "EXPORT_FIELDS",
    "check_exports",
    "parse_exports",
    "parse_external",
    "parse_parity",
    "parse_testcontainers",
]

_SCHEMES: dict[str, ExternalKind] = {
    "postgresql": "postgres",
    "postgres": "postgres",
    "redis": "redis",
}
_ISOLATE: dict[ExternalKind, tuple[str, ...]] = {
    "postgres": ("database", "schema"),
    "redis": ("db", "prefix"),
}
_EXTERNAL_FIX = "write external: {url: ${PG_URL}, isolate: database}"
_TC_CLASS = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*"
)
_TC_FIX = (
    "write testcontainers: {class: 'testcontainers.redis:RedisContainer', image: redis:7-alpine}"
)
_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FIELD = re.compile(r"\{([^{}]*)\}")
_FIELD_FORM = re.compile(
    r"(?P<svc>[a-zA-Z0-9][a-zA-Z0-9_.-]*?)\.(?P<field>[a-z_]+)(?:\[(?P<port>[^\]]*)\])?"
)
EXPORT_FIELDS = ("host", "port", "url", "user", "password", "database")
_EXPORT_FIX = (
    "write e.g. DATABASE_URL: 'postgresql://{db.user}:{db.password}@{db.host}:{db.port[5432]}/"
    "{db.database}'"
)


def _has_variable(text: str) -> bool:
    return "$" in text.replace("$$", "")


def parse_external(ctx: Context, node: Node, key: str) -> ExternalService:
    block = ctx.mapping(node, key, _EXTERNAL_FIX)
    for name, entry in block.entries.items():
        if name not in ("url", "isolate") and not name.startswith("x-"):
            raise ctx.unknown_key(name, entry.key_line, sub(key, name), ("url", "isolate"))
    url_entry = block.get("url")
    if url_entry is None:
        raise ctx.error("an external service needs url:", block.line, key, _EXTERNAL_FIX)
    here = sub(key, "url")
    scalar = ctx.scalar(url_entry.value, here, "a URL", _EXTERNAL_FIX)
    written = scalar.value if isinstance(scalar.value, str) else scalar.text
    url = ctx.text(scalar, here, _EXTERNAL_FIX).strip()
    try:
        parts = urlsplit(url)
        password = parts.password
        scheme = parts.scheme.lower()
    except ValueError as exc:
        raise ctx.error(f"invalid URL: {exc}", url_entry.key_line, here, _EXTERNAL_FIX) from None
    if not _has_variable(written):
        if password:
            raise ctx.error(
                "the URL holds a password written in the spec; credentials never belong in it",
                url_entry.key_line,
                here,
                "write url: ${PG_URL} and set PG_URL in the environment or the ini file",
            )
        raise ctx.error(
            "the URL is written in the spec; an external server's URL comes from the environment",
            url_entry.key_line,
            here,
            "write url: ${PG_URL} and set PG_URL in the environment or the ini file",
        )
    if not url:
        raise ctx.error(
            f"the URL is empty ({written!r} gave nothing)",
            url_entry.key_line,
            here,
            "set the variable before running",
        )
    kind = _SCHEMES.get(scheme)
    if kind is None:
        raise ctx.error(
            f"unsupported URL scheme {scheme + '://' if scheme else '(none)'}",
            url_entry.key_line,
            here,
            "use postgresql://, postgres:// or redis://",
        )
    if not parts.hostname:
        raise ctx.error("the URL names no host", url_entry.key_line, here, "write scheme://host")
    choices = _ISOLATE[kind]
    isolate = choices[0]
    if (opt := block.get("isolate")) is not None:
        there = sub(key, "isolate")
        isolate = ctx.text(opt.value, there)
        if isolate not in choices:
            raise ctx.error(
                f"isolate {isolate!r} does not apply to {kind}",
                opt.key_line,
                there,
                f"use {' or '.join(choices)}",
            )
    return ExternalService(url, kind, isolate, ctx.location(block.line, key))


def parse_testcontainers(ctx: Context, node: Node, key: str) -> TestcontainersSpec:
    block = ctx.mapping(node, key, _TC_FIX)
    known = ("class", "image", "args")
    for name, entry in block.entries.items():
        if name not in known and not name.startswith("x-"):
            raise ctx.unknown_key(name, entry.key_line, sub(key, name), known)
    class_entry = block.get("class")
    if class_entry is None:
        raise ctx.error("testcontainers: needs class:", block.line, key, _TC_FIX)
    target = ctx.text(class_entry.value, sub(key, "class"), _TC_FIX).strip()
    if not _TC_CLASS.fullmatch(target):
        raise ctx.error(
            f"class {target!r} is not 'module:Class'",
            class_entry.key_line,
            sub(key, "class"),
            "write e.g. class: 'testcontainers.redis:RedisContainer'",
        )
    image = None
    if (opt := block.get("image")) is not None:
        image = ctx.text(opt.value, sub(key, "image")).strip()
        if not image or any(c.isspace() for c in image):
            raise ctx.error(
                f"invalid image reference {image!r}", opt.key_line, sub(key, "image"), _TC_FIX
            )
    args: dict[str, object] = {}
    if (opt := block.get("args")) is not None and not (
        isinstance(opt.value, Scalar) and opt.value.value is None
    ):
        here = sub(key, "args")
        mapping = ctx.mapping(opt.value, here, "write args: {NAME: value}")
        for name, item in mapping.entries.items():
            if not _SHELL_NAME.fullmatch(name):
                raise ctx.error(
                    f"argument name {name!r} is not a Python name",
                    item.key_line,
                    sub(here, name),
                    "use the class's keyword argument names",
                )
            args[name] = _plain(ctx, item.value, sub(here, name))
    return TestcontainersSpec(target, ctx.location(block.line, key), image, _freeze(args))


def _plain(ctx: Context, node: Node, key: str) -> object:
    """A YAML value as Python (strings interpolated), read-only."""
    if isinstance(node, Map):
        return _freeze({k: _plain(ctx, e.value, sub(key, k)) for k, e in node.entries.items()})
    if isinstance(node, Seq):
        return tuple(_plain(ctx, item, index(key, i)) for i, item in enumerate(node.items))
    if isinstance(node.value, str):
        return ctx.text(node, key)
    return node.value


def _freeze(values: dict[str, object]) -> Mapping[str, object]:
    return MappingProxyType(values)


# -- exports ---------------------------------------------------------------------


def parse_exports(ctx: Context, node: Node, key: str) -> dict[str, tuple[str, int, str]]:
    """``exports:`` as NAME -> (template, line, key path); checked by :func:`check_exports`."""
    block = ctx.mapping(node, key, "write exports: {DATABASE_URL: '{db.url}'}")
    result: dict[str, tuple[str, int, str]] = {}
    for name, entry in block.entries.items():
        here = sub(key, name)
        if not _SHELL_NAME.fullmatch(name):
            raise ctx.error(
                f"invalid variable name {name!r}",
                entry.key_line,
                here,
                "use letters, digits and '_', not starting with a digit",
            )
        scalar = ctx.scalar(entry.value, here, "a template", _EXPORT_FIX)
        template = ctx.text(scalar, here)
        result[name] = (template, entry.key_line, here)
    return result


def check_exports(
    ctx: Context,
    exports: Mapping[str, tuple[str, int, str]],
    services: Mapping[str, ServiceSpec],
    active: Collection[str] | None = None,
) -> Mapping[str, str]:
    """Every ``{svc.field}`` of every template names a service of the spec (whatever
    the profiles), a known field, and (for ``port[N]``) a port the service publishes.
    An export that names a service outside the ``active`` profiles is left out,
    with a warning."""
    kept: dict[str, str] = {}
    for name, (template, line, here) in exports.items():
        if not _FIELD.search(template) and ("{" in template or "}" in template):
            raise ctx.error(f"unbalanced braces in {template!r}", line, here, _EXPORT_FIX)
        names = [
            _check_field(ctx, m.group(1), services, line, here) for m in _FIELD.finditer(template)
        ]
        rest = _FIELD.sub("", template)
        if "{" in rest or "}" in rest:
            raise ctx.error(f"unbalanced braces in {template!r}", line, here, _EXPORT_FIX)
        inactive = [n for n in names if active is not None and n not in active]
        if inactive:
            ctx.warn(
                f"export {name} is left out: {inactive[0]!r} is not started (its profiles "
                "are not active)",
                line,
                here,
                f"activate a profile of {inactive[0]!r}",
            )
            continue
        kept[name] = template
    return frozen_map(kept)


def _check_field(
    ctx: Context, text: str, services: Mapping[str, ServiceSpec], line: int, here: str
) -> str:
    """The service ``{svc.field}`` names, once checked."""
    match = _FIELD_FORM.fullmatch(text.strip())
    fields = ", ".join(f"{{svc.{f}}}" for f in EXPORT_FIELDS).replace("{svc.port}", "{svc.port[N]}")
    if match is None:
        raise ctx.error(f"'{{{text}}}' is not a field", line, here, f"use one of {fields}")
    name, field, port_text = match.group("svc"), match.group("field"), match.group("port")
    service = services.get(name)
    if service is None:
        known = ", ".join(services) or "none"
        raise ctx.error(
            f"'{{{text}}}' names no service of the spec (known: {known})",
            line,
            here,
            "fix the service name",
        )
    if field not in EXPORT_FIELDS:
        raise ctx.error(
            f"'{{{text}}}': unknown field {field!r}", line, here, f"use one of {fields}"
        )
    if field == "port":
        ports = _published(service)
        if port_text is None:
            hint = f"{{{name}.port[{ports[0]}]}}" if ports else "a published container port"
            raise ctx.error(f"'{{{text}}}' names no container port", line, here, f"write {hint}")
        if not port_text.isdigit() or (ports and int(port_text) not in ports):
            known = ", ".join(map(str, ports)) or "none"
            raise ctx.error(
                f"'{{{text}}}': {name!r} publishes no port {port_text} (published: {known})",
                line,
                here,
                f"publish it with ports: [{port_text}] or use a published port",
            )
        if not ports and service.external is None and service.testcontainers is None:
            raise ctx.error(
                f"'{{{text}}}': {name!r} publishes no port",
                line,
                here,
                f"publish it with ports: [{port_text}]",
            )
    elif port_text is not None:
        raise ctx.error(
            f"'{{{text}}}': only port takes [N]", line, here, f"write {{{name}.{field}}}"
        )
    return name


def _published(service: ServiceSpec) -> list[int]:
    ports: list[PortSpec] = list(service.ports)
    return sorted({p.container_port for p in ports})


# -- parity ------------------------------------------------------------------------


def parse_parity(
    ctx: Context, node: Node, key: str, services: Mapping[str, ServiceSpec]
) -> ParitySpec:
    fix = "write parity: {against: [k8s/], accept: [{service: db, field: image, why: ...}]}"
    block = ctx.mapping(node, key, fix)
    known = ("against", "accept", "map")
    for name, entry in block.entries.items():
        if name not in known and not name.startswith("x-"):
            raise ctx.unknown_key(name, entry.key_line, sub(key, name), known)
    against = []
    if (opt := block.get("against")) is not None:
        here = sub(key, "against")
        for text, line in ctx.texts(opt.value, here, "write against: [k8s/, prod/compose.yaml]"):
            against.append(ctx.local_path(text, line, here, kind="any", what="parity source"))
    accept = []
    if (opt := block.get("accept")) is not None:
        here = sub(key, "accept")
        for i, item in enumerate(ctx.sequence(opt.value, here, fix).items):
            there = index(here, i)
            entry_block = ctx.mapping(item, there, "write {service: db, field: image, why: ...}")
            values: dict[str, str] = {}
            for name, entry in entry_block.entries.items():
                if name not in ("service", "field", "why"):
                    raise ctx.unknown_key(
                        name, entry.key_line, sub(there, name), ("service", "field", "why")
                    )
                values[name] = ctx.text(entry.value, sub(there, name)).strip()
            missing = [k for k in ("service", "field", "why") if not values.get(k)]
            if missing:
                raise ctx.error(
                    f"an accepted difference needs {', '.join(missing)}",
                    item.line,
                    there,
                    "say which service, which field, and why the difference is fine",
                )
            # "*" (every service) and production-only names (a sidecar, a CronJob)
            # pass: eph parity checks every name against both sides, with lines
            accept.append(ParityAccept(values["service"], values["field"], values["why"]))
    mapping: dict[str, str] = {}
    if (opt := block.get("map")) is not None:
        here = sub(key, "map")
        names = ctx.mapping(opt.value, here, "write map: {db: postgres-primary}")
        for name, entry in names.entries.items():
            if name not in services:
                raise ctx.error(
                    f"unknown service {name!r} (known: {', '.join(services)})",
                    entry.key_line,
                    sub(here, name),
                    "map the spec's service names to production's",
                )
            mapping[name] = ctx.text(entry.value, sub(here, name))
    if not against:
        ctx.warn(
            "parity: names nothing to compare against",
            block.line,
            key,
            "add against: [paths] or pass --against to eph parity",
        )
    return ParitySpec(tuple(against), tuple(accept), frozen_map(mapping))
