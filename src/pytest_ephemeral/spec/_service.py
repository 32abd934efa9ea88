"""One service: its keys checked, its values read into a :class:`ServiceSpec`."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import TypeVar, cast

from ._context import Context, did_you_mean
from ._envfile import read_env_files
from ._keys import (
    CONDITIONS,
    IGNORED_SERVICE_KEYS,
    NAME_PATTERN,
    PLUGIN_KEYS,
    SERVICE_KEYS,
    UNSUPPORTED_SERVICE_KEYS,
    all_service_keys,
)
from ._nodes import Entry, Map, Node, Scalar, Seq, describe, index, sub
from ._ports import parse_expose, parse_ports
from ._seed import parse_seed
from ._units import SIZE_FORMS, parse_size
from ._volumes import parse_tmpfs, parse_volumes
from ._waits import parse_command, parse_waits
from .model import (
    BuildSpec,
    Condition,
    DependsOn,
    HealthcheckSpec,
    ServiceSpec,
    frozen_map,
)

__all__ = ["Draft", "Edge", "parse_service"]

_BUILD_KEYS = ("context", "dockerfile", "args", "target")
_BUILD_IGNORED = (
    "cache_from",
    "cache_to",
    "labels",
    "network",
    "pull",
    "no_cache",
    "platforms",
    "tags",
    "extra_hosts",
    "shm_size",
    "isolation",
)
_BUILD_UNSUPPORTED = ("dockerfile_inline", "ssh", "secrets", "additional_contexts", "privileged")
_HEALTH_KEYS = (
    "test",
    "interval",
    "timeout",
    "retries",
    "start_period",
    "start_interval",
    "disable",
)
_NETWORK_KEYS = ("aliases",)
_NETWORK_IGNORED = (
    "ipv4_address",
    "ipv6_address",
    "link_local_ips",
    "mac_address",
    "priority",
    "gw_priority",
    "driver_opts",
)
_NO_NETWORKS: Mapping[str, tuple[str, ...]] = MappingProxyType({})
_T = TypeVar("_T")
_D = TypeVar("_D")
_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@)", re.IGNORECASE)
_IMAGE = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class Edge:
    """A ``depends_on`` entry as written (for the graph checks)."""

    target: str
    condition: Condition
    line: int
    key: str
    required: bool


@dataclass(frozen=True, slots=True)
class Draft:
    """A parsed service plus what the cross-service checks need to know."""

    service: ServiceSpec
    edges: tuple[Edge, ...]
    completed_line: int | None


def parse_service(
    ctx: Context, name: str, entry: Entry, *, networks: Collection[str], volumes: Collection[str]
) -> Draft:
    path = sub("services", name)
    if not NAME_PATTERN.fullmatch(name):
        raise ctx.error(
            f"invalid service name {name!r}",
            entry.key_line,
            path,
            "use letters, digits, '_', '.' and '-', starting with a letter or digit",
        )
    node = ctx.mapping(entry.value, path, "a service is a mapping with at least image: or build:")
    fields = _classify(ctx, node, path)

    def read(key: str, parse: Callable[[Context, Node, str], _T], default: _D) -> _T | _D:
        found = fields.get(key)
        return default if found is None else parse(ctx, found.value, found.key)

    image = read("image", _image, None)
    build = read("build", _build, None)
    if image is None and build is None:
        raise ctx.error(
            "has neither image: nor build:",
            entry.key_line,
            path,
            "add image: NAME:TAG, or build: ./folder-with-a-Dockerfile",
        )
    ports = read("ports", parse_ports, ())
    healthcheck = read("healthcheck", _healthcheck, None)
    mounts, long_tmpfs = read("volumes", partial(parse_volumes, declared=volumes), ((), ()))
    waits = read("wait", partial(parse_waits, ports=ports, healthcheck=healthcheck), None)
    edges = read("depends_on", _depends_on, ())
    service = ServiceSpec(
        name=name,
        location=ctx.location(entry.key_line, path),
        image=image,
        build=build,
        command=read("command", _command, None),
        entrypoint=read("entrypoint", _command, None),
        # env_file first: environment wins
        environment=frozen_map(
            {**read("env_file", read_env_files, {}), **read("environment", _environment, {})}
        ),
        ports=ports,
        expose=read("expose", parse_expose, ()),
        depends_on=tuple(DependsOn(edge.target, edge.condition) for edge in edges),
        healthcheck=healthcheck,
        volumes=mounts,
        tmpfs=(*read("tmpfs", parse_tmpfs, ()), *long_tmpfs),
        networks=read("networks", partial(_networks, declared=networks), _NO_NETWORKS),
        labels=frozen_map(read("labels", _labels, {})),
        user=read("user", _text, None),
        working_dir=read("working_dir", _working_dir, None),
        cpus=read("cpus", _cpus, None),
        mem_limit=read("mem_limit", _memory, None),
        profiles=read("profiles", _profiles, ()),
        privileged=read("privileged", _boolean, False),
        waits=waits.waits if waits else (),
        wait_timeout=waits.timeout if waits else None,
        seed=read("seed", parse_seed, ()),
    )
    return Draft(service, edges, waits.completed_line if waits else None)


def _classify(ctx: Context, node: Map, path: str) -> dict[str, Entry]:
    """The keys this plugin reads, by name; each ``Entry.key`` holds the key's path
    (``wait`` and ``seed`` may come from ``x-ephemeral``)."""
    fields: dict[str, Entry] = {}
    for key, entry in node.entries.items():
        here = sub(path, key)
        if key in PLUGIN_KEYS:
            fields[key] = Entry(here, entry.key_line, entry.value)
        elif key == "x-ephemeral" or key.startswith("x-"):
            continue
        elif key in IGNORED_SERVICE_KEYS:
            ctx.warn(
                f"'{key}' is ignored: {IGNORED_SERVICE_KEYS[key]}",
                entry.key_line,
                here,
                "remove it to silence this warning",
            )
        elif key in UNSUPPORTED_SERVICE_KEYS:
            raise ctx.error(
                f"'{key}' is understood but not supported",
                entry.key_line,
                here,
                UNSUPPORTED_SERVICE_KEYS[key],
            )
        elif key in SERVICE_KEYS:
            fields[key] = Entry(here, entry.key_line, entry.value)
        else:
            raise ctx.unknown_key(key, entry.key_line, here, all_service_keys(), extensions=True)
    extension = node.get("x-ephemeral")
    if extension is not None:
        block = ctx.mapping(
            extension.value, sub(path, "x-ephemeral"), "write x-ephemeral: {wait: ..., seed: [...]}"
        )
        for key, entry in block.entries.items():
            here = sub(sub(path, "x-ephemeral"), key)
            if key not in PLUGIN_KEYS:
                raise ctx.unknown_key(key, entry.key_line, here, PLUGIN_KEYS)
            if key in fields:
                raise ctx.error(
                    f"'{key}' is given both directly (line {fields[key].key_line}) "
                    "and under x-ephemeral",
                    entry.key_line,
                    here,
                    "keep only one of them",
                )
            fields[key] = Entry(here, entry.key_line, entry.value)
    return fields


def _text(ctx: Context, node: Node, key: str) -> str:
    return ctx.text(node, key)


def _boolean(ctx: Context, node: Node, key: str) -> bool:
    return ctx.boolean(node, key)


def _environment(ctx: Context, node: Node, key: str) -> dict[str, str]:
    return ctx.pairs(node, key, bare="host", fix="write environment: {NAME: value}")


def _labels(ctx: Context, node: Node, key: str) -> dict[str, str]:
    return ctx.pairs(node, key, bare="empty", fix="write labels: {name: value}")


def _image(ctx: Context, node: Node, key: str) -> str:
    image = ctx.text(node, key, "write image: NAME:TAG")
    if not _IMAGE.fullmatch(image):
        raise ctx.error(
            f"invalid image reference {image!r}", node.line, key, "write image: NAME:TAG"
        )
    return image


def _build(ctx: Context, node: Node, key: str) -> BuildSpec:
    fix = "write build: ./folder, or build: {context: ./folder, dockerfile: Dockerfile}"
    if isinstance(node, Scalar):
        context_text, context_line, context_key = ctx.text(node, key, fix), node.line, key
        block = Map({}, node.line)
    else:
        block = ctx.mapping(node, key, fix)
        context_entry = block.get("context")
        if context_entry is not None:
            context_key = sub(key, "context")
            context_text = ctx.text(context_entry.value, context_key)
            context_line = context_entry.key_line
        else:
            context_text, context_line, context_key = ".", node.line, key
    for name, item in block.entries.items():
        if name in _BUILD_IGNORED:
            ctx.warn(
                f"build option '{name}' is ignored", item.key_line, sub(key, name), "remove it"
            )
        elif name in _BUILD_UNSUPPORTED:
            raise ctx.error(
                f"build option '{name}' is understood but not supported",
                item.key_line,
                sub(key, name),
                "write the build into a Dockerfile in the context folder",
            )
        elif name not in _BUILD_KEYS:
            raise ctx.unknown_key(name, item.key_line, sub(key, name), _BUILD_KEYS)
    if _REMOTE.match(context_text):
        raise ctx.error(
            f"remote build context {context_text!r} is not supported",
            context_line,
            context_key,
            "clone it next to the spec and point build: at the folder",
        )
    context = ctx.local_path(
        context_text, context_line, context_key, kind="dir", what="build context"
    )
    dockerfile = "Dockerfile"
    dockerfile_line, dockerfile_key = context_line, context_key
    if (opt := block.get("dockerfile")) is not None:
        dockerfile_key = sub(key, "dockerfile")
        dockerfile = ctx.text(opt.value, dockerfile_key)
        dockerfile_line = opt.key_line
    ctx.local_path(
        str(context / dockerfile),
        dockerfile_line,
        dockerfile_key,
        kind="file",
        what="Dockerfile",
        hashed=True,
    )
    args: dict[str, str] = {}
    if (opt := block.get("args")) is not None:
        args = ctx.pairs(opt.value, sub(key, "args"), bare="host", fix="write args: {NAME: value}")
    target = (
        ctx.text(opt.value, sub(key, "target"))
        if (opt := block.get("target")) is not None
        else None
    )
    return BuildSpec(context, dockerfile, frozen_map(args), target)


def _command(ctx: Context, node: Node, key: str) -> tuple[str, ...] | None:
    if isinstance(node, Scalar) and node.value is None:
        return None
    return parse_command(ctx, node, key)


def _depends_on(ctx: Context, node: Node, key: str) -> tuple[Edge, ...]:
    fix = "write depends_on: [db] or depends_on: {db: {condition: service_healthy}}"
    edges: list[Edge] = []
    if isinstance(node, Seq):
        seen: dict[str, int] = {}
        for i, item in enumerate(node.items):
            target = ctx.text(item, index(key, i), fix)
            if target in seen:
                raise ctx.error(
                    f"'{target}' is listed twice (also at line {seen[target]})",
                    item.line,
                    index(key, i),
                    "keep only one",
                )
            seen[target] = item.line
            edges.append(Edge(target, "service_started", item.line, sub(key, target), True))
        return tuple(edges)
    block = ctx.mapping(node, key, fix)
    for target, written in block.entries.items():
        here = sub(key, target)
        condition: Condition = "service_started"
        required = True
        value = written.value
        if not (isinstance(value, Scalar) and value.value is None):
            options = ctx.mapping(value, here, "write {condition: service_healthy}")
            for name, option in options.entries.items():
                if name == "condition":
                    condition = _condition(ctx, option, sub(here, name))
                elif name == "required":
                    required = ctx.boolean(option.value, sub(here, name))
                elif name == "restart":
                    ctx.boolean(option.value, sub(here, name))
                else:
                    raise ctx.unknown_key(
                        name, option.key_line, sub(here, name), ("condition", "required", "restart")
                    )
        edges.append(Edge(target, condition, written.key_line, here, required))
    return tuple(edges)


def _condition(ctx: Context, entry: Entry, key: str) -> Condition:
    text = ctx.text(entry.value, key)
    if text in CONDITIONS:
        return cast(Condition, text)
    hint = did_you_mean(text, CONDITIONS)
    return_fix = hint or "use service_started, service_healthy or service_completed_successfully"
    raise ctx.error(f"unknown condition {text!r}", entry.key_line, key, return_fix)


def _healthcheck(ctx: Context, node: Node, key: str) -> HealthcheckSpec:
    block = ctx.mapping(node, key, "write healthcheck: {test: [CMD, ...], interval: 1s}")
    for name, item in block.entries.items():
        if name not in _HEALTH_KEYS:
            raise ctx.unknown_key(name, item.key_line, sub(key, name), _HEALTH_KEYS)
    disable = False
    if (opt := block.get("disable")) is not None:
        disable = ctx.boolean(opt.value, sub(key, "disable"))
    test: tuple[str, ...] = ()
    if (opt := block.get("test")) is not None:
        test = _test(ctx, opt, sub(key, "test"))
    if test == ("NONE",) or disable:
        return HealthcheckSpec(("NONE",), disable=True)
    if not test:
        raise ctx.error(
            "healthcheck has no test",
            block.line,
            key,
            "add test: [CMD, ...], or remove healthcheck: to keep the image's own",
        )
    durations: dict[str, float] = {}
    for name, positive in (("interval", True), ("timeout", True), ("start_period", False)):
        if (opt := block.get(name)) is not None:
            durations[name] = ctx.duration(opt.value, sub(key, name), positive=positive)
    if (opt := block.get("start_interval")) is not None:
        ctx.duration(opt.value, sub(key, "start_interval"), positive=True)
        ctx.warn(
            "'start_interval' is ignored: interval applies",
            opt.key_line,
            sub(key, "start_interval"),
            "remove it to silence this warning",
        )
    retries = None
    if (opt := block.get("retries")) is not None:
        retries = ctx.integer(opt.value, sub(key, "retries"), low=0)
    return HealthcheckSpec(
        test,
        interval=durations.get("interval"),
        timeout=durations.get("timeout"),
        retries=retries,
        start_period=durations.get("start_period"),
    )


def _test(ctx: Context, entry: Entry, key: str) -> tuple[str, ...]:
    fix = "write test: [CMD, pg_isready], test: [CMD-SHELL, 'curl -f localhost'] or a shell string"
    node = entry.value
    if isinstance(node, Seq):
        words = tuple(ctx.text(item, index(key, i), fix) for i, item in enumerate(node.items))
        if not words:
            raise ctx.error("empty test", entry.key_line, key, fix)
        if words[0] not in ("CMD", "CMD-SHELL", "NONE"):
            raise ctx.error(
                f"test must start with CMD, CMD-SHELL or NONE, not {words[0]!r}",
                entry.key_line,
                key,
                fix,
            )
        if words[0] == "NONE" and len(words) > 1:
            raise ctx.error("NONE takes no arguments", entry.key_line, key, "write test: [NONE]")
        if words[0] != "NONE" and len(words) == 1:
            raise ctx.error(f"{words[0]} names no command", entry.key_line, key, fix)
        if words[0] == "CMD-SHELL" and len(words) > 2:
            return ("CMD-SHELL", " ".join(words[1:]))
        return words
    command = ctx.text(node, key, fix)
    if not command.strip():
        raise ctx.error("empty test", entry.key_line, key, fix)
    return ("CMD-SHELL", command)


def _networks(
    ctx: Context, node: Node, key: str, declared: Collection[str]
) -> Mapping[str, tuple[str, ...]]:
    fix = "write networks: [front] or networks: {front: {aliases: [api]}}"
    result: dict[str, tuple[str, ...]] = {}
    known = ", ".join(sorted({"default", *declared}))

    def check(name: str, line: int, here: str) -> None:
        if name != "default" and name not in declared:
            raise ctx.error(
                f"network {name!r} is not declared (known: {known}; declare it with "
                f"'networks: {{{name}: {{}}}}' at the top level, or remove it)",
                line,
                here,
            )

    if isinstance(node, Seq):
        for i, item in enumerate(node.items):
            name = ctx.text(item, index(key, i), fix)
            check(name, item.line, index(key, i))
            result[name] = ()
        return MappingProxyType(result)
    block = ctx.mapping(node, key, fix)
    for name, entry in block.entries.items():
        here = sub(key, name)
        check(name, entry.key_line, here)
        aliases: tuple[str, ...] = ()
        value = entry.value
        if not (isinstance(value, Scalar) and value.value is None):
            options = ctx.mapping(value, here, "write {aliases: [name]}")
            for option, setting in options.entries.items():
                if option == "aliases":
                    aliases = tuple(
                        _alias(ctx, text, line, sub(here, option))
                        for text, line in ctx.texts(setting.value, sub(here, option))
                    )
                elif option in _NETWORK_IGNORED:
                    ctx.warn(
                        f"'{option}' is ignored", setting.key_line, sub(here, option), "remove it"
                    )
                else:
                    raise ctx.unknown_key(
                        option,
                        setting.key_line,
                        sub(here, option),
                        (*_NETWORK_KEYS, *_NETWORK_IGNORED),
                    )
        result[name] = aliases
    return MappingProxyType(result)


def _alias(ctx: Context, text: str, line: int, key: str) -> str:
    if not NAME_PATTERN.fullmatch(text):
        raise ctx.error(f"invalid alias {text!r}", line, key, "use letters, digits, '_', '.', '-'")
    return text


def _working_dir(ctx: Context, node: Node, key: str) -> str:
    text = ctx.text(node, key)
    if not text.startswith("/"):
        raise ctx.error(
            f"working_dir {text!r} is not an absolute path",
            node.line,
            key,
            "write the folder inside the container, starting with '/'",
        )
    return text


def _cpus(ctx: Context, node: Node, key: str) -> float:
    cpus = ctx.number(node, key, "write cpus: 0.5 or cpus: 2")
    if not math.isfinite(cpus) or cpus <= 0:
        raise ctx.error(
            f"cpus {cpus:g} is not a positive number", node.line, key, "write e.g. cpus: 0.5"
        )
    return cpus


def _memory(ctx: Context, node: Node, key: str) -> int:
    scalar = ctx.scalar(node, key, "a size", f"use {SIZE_FORMS}")
    value = scalar.value
    if isinstance(value, str):
        value = ctx.text(scalar, key)
    try:
        if isinstance(value, bool) or value is None:
            raise ValueError("is not a size")
        return parse_size(value)
    except ValueError as exc:
        raise ctx.error(
            f"mem_limit {scalar.text!r} {exc}", scalar.line, key, f"use {SIZE_FORMS}"
        ) from None


def _profiles(ctx: Context, node: Node, key: str) -> tuple[str, ...]:
    if not isinstance(node, Seq | Scalar):
        raise ctx.error(
            f"expected a list of profile names, got {describe(node)}",
            node.line,
            key,
            "write profiles: [debug]",
        )
    names: list[str] = []
    for text, line in ctx.texts(node, key, "write profiles: [debug]"):
        if not NAME_PATTERN.fullmatch(text):
            raise ctx.error(
                f"invalid profile name {text!r}", line, key, "use letters, digits, '_', '.', '-'"
            )
        names.append(text)
    return tuple(names)
