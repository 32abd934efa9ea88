"""One service: its keys checked, its values read into a :class:`ServiceSpec`."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import TypeVar, cast

from ._compose import (
    SecretSource,
    parse_container_name,
    parse_deploy,
    parse_engine,
    parse_hooks,
    parse_links,
    parse_pull_policy,
    parse_secret_mounts,
)
from ._context import Context, did_you_mean
from ._envfile import read_env_files
from ._keys import CONDITIONS, NAME_PATTERN, PLUGIN_KEYS
from ._nodes import Entry, Map, Node, Scalar, Seq, describe, index, sub
from ._plugin import parse_external, parse_testcontainers
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
    PullPolicy,
    ResourceSpec,
    ServiceSpec,
    frozen_map,
)

__all__ = ["Draft", "Edge", "parse_service"]

_NO_SECRETS: Mapping[str, SecretSource] = MappingProxyType({})

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
    # links: (target service, alias it gets on the target) for the loader to apply
    link_aliases: tuple[tuple[str, str], ...] = ()


def parse_service(
    ctx: Context,
    name: str,
    entry: Entry,
    *,
    networks: Collection[str],
    volumes: Collection[str],
    secrets: Mapping[str, SecretSource] = _NO_SECRETS,
    configs: Mapping[str, SecretSource] = _NO_SECRETS,
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
    external = read("external", parse_external, None)
    testcontainers = read("testcontainers", parse_testcontainers, None)
    _check_kind(ctx, fields, entry, path, image, build)
    ports = read("ports", parse_ports, ())
    healthcheck = read("healthcheck", _healthcheck, None)
    mounts, long_tmpfs = read("volumes", partial(parse_volumes, declared=volumes), ((), ()))
    waits = read("wait", partial(parse_waits, ports=ports, healthcheck=healthcheck), None)
    edges = list(read("depends_on", _depends_on, ()))
    aliases: list[str] = []
    if (container := read("container_name", parse_container_name, None)) is not None:
        aliases.append(container)
    link_aliases: list[tuple[str, str]] = []
    for target, alias, line, here in read("links", parse_links, []):
        if all(edge.target != target for edge in edges):
            edges.append(Edge(target, "service_started", line, here, True))
        if alias is not None and alias != target:
            link_aliases.append((target, alias))
    deploy = read("deploy", parse_deploy, None)
    resources = _resources(ctx, fields, deploy.resources if deploy else ResourceSpec())
    replicas = _replicas(ctx, fields, deploy.replicas if deploy else None)
    pull_policy: tuple[PullPolicy, float | None] = ("missing", None)
    if (opt := fields.get("pull_policy")) is not None:
        pull_policy = parse_pull_policy(ctx, opt.value, opt.key, fields.get("pull_refresh_after"))
    elif (opt := fields.get("pull_refresh_after")) is not None:
        ctx.duration(opt.value, opt.key, positive=True)
    labels = {**read("label_file", read_env_files, {}), **read("labels", _labels, {})}
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
        labels=frozen_map(labels),
        user=read("user", _text, None),
        working_dir=read("working_dir", _working_dir, None),
        cpus=resources.cpus,
        mem_limit=resources.memory,
        profiles=read("profiles", _profiles, ()),
        privileged=read("privileged", _boolean, False),
        waits=waits.waits if waits else (),
        wait_timeout=waits.timeout if waits else None,
        seed=read("seed", parse_seed, ()),
        aliases=tuple(aliases),
        secrets=read("secrets", partial(parse_secret_mounts, declared=secrets, kind="secret"), ()),
        configs=read("configs", partial(parse_secret_mounts, declared=configs, kind="config"), ()),
        resources=resources,
        replicas=replicas,
        engine=parse_engine(ctx, fields),
        post_start=read("post_start", parse_hooks, ()),
        pull_policy=pull_policy[0],
        pull_refresh=pull_policy[1],
        external=external,
        testcontainers=testcontainers,
    )
    return Draft(
        service, tuple(edges), waits.completed_line if waits else None, tuple(link_aliases)
    )


_ALLOWED_WITH_EXTERNAL = {"external", "depends_on", "profiles", "seed", "wait", "labels"}


def _check_kind(
    ctx: Context,
    fields: Mapping[str, Entry],
    entry: Entry,
    path: str,
    image: str | None,
    build: BuildSpec | None,
) -> None:
    """A service is an image, a build, an external server or a testcontainers module."""
    external = fields.get("external")
    module = fields.get("testcontainers")
    if external is not None and module is not None:
        raise ctx.error(
            "a service is either external: or testcontainers:, not both",
            module.key_line,
            module.key,
            "split it into two services",
        )
    special = external or module
    if special is not None:
        word = "an external" if external is not None else "a testcontainers"
        for key in ("image", "build"):
            if (opt := fields.get(key)) is not None:
                fix = (
                    "remove it: an external service is a server that already runs"
                    if external is not None
                    else "give the image as testcontainers: {image: ...}"
                )
                raise ctx.error(f"{word}: service has no {key}:", opt.key_line, opt.key, fix)
        if external is not None:
            for key, opt in fields.items():
                if key not in _ALLOWED_WITH_EXTERNAL:
                    raise ctx.error(
                        f"'{key}' does not apply to an external: service (it is never started)",
                        opt.key_line,
                        opt.key,
                        "remove it",
                    )
        return
    if image is None and build is None:
        raise ctx.error(
            "has neither image: nor build:",
            entry.key_line,
            path,
            "add image: NAME:TAG, build: ./folder-with-a-Dockerfile, external: {url: ...} "
            "or testcontainers: {class: ...}",
        )


def _resources(ctx: Context, fields: Mapping[str, Entry], deploy: ResourceSpec) -> ResourceSpec:
    """The service-level keys and ``deploy.resources`` as one ResourceSpec; the same
    limit given twice with different values is refused (as Compose refuses it)."""
    given: dict[str, tuple[float | int | None, str]] = {
        "cpus": (deploy.cpus, "deploy.resources.limits.cpus"),
        "memory": (deploy.memory, "deploy.resources.limits.memory"),
        "pids": (deploy.pids, "deploy.resources.limits.pids"),
        "memory_reserved": (deploy.memory_reserved, "deploy.resources.reservations.memory"),
    }
    own = {
        "cpus": ("cpus", _cpus),
        "memory": ("mem_limit", _memory),
        "pids": ("pids_limit", _pids),
        "memory_reserved": ("mem_reservation", _memory),
    }
    values: dict[str, float | int | None] = {}
    for name, (key, parse) in own.items():
        deployed, deploy_key = given[name]
        opt = fields.get(key)
        value = parse(ctx, opt.value, opt.key) if opt is not None else None
        if opt is not None and deployed is not None and value != deployed:
            raise ctx.error(
                f"'{key}' and '{deploy_key}' give different values",
                opt.key_line,
                opt.key,
                "keep only one of them",
            )
        values[name] = value if value is not None else deployed
    return ResourceSpec(
        cpus=cast("float | None", values["cpus"]),
        memory=cast("int | None", values["memory"]),
        pids=cast("int | None", values["pids"]),
        cpus_reserved=deploy.cpus_reserved,
        memory_reserved=cast("int | None", values["memory_reserved"]),
    )


def _pids(ctx: Context, node: Node, key: str) -> int:
    return ctx.integer(node, key, low=-1)


def _replicas(ctx: Context, fields: Mapping[str, Entry], deployed: int | None) -> int:
    opt = fields.get("scale")
    if opt is None:
        return 1 if deployed is None else deployed
    scale = ctx.integer(opt.value, opt.key, low=0)
    if deployed is not None and deployed != scale:
        raise ctx.error(
            f"scale {scale} and deploy.replicas {deployed} differ",
            opt.key_line,
            opt.key,
            "keep only one of them",
        )
    return scale


def _classify(ctx: Context, node: Map, path: str) -> dict[str, Entry]:
    """The keys this plugin reads, by name; each ``Entry.key`` holds the key's path
    (the plugin's keys may come from ``x-ephemeral``)."""
    fields: dict[str, Entry] = {}
    kept = ctx.check_keys(node, "service", path, plugin=PLUGIN_KEYS)
    for key, entry in kept.items():
        if key != "extends":  # applied by the loader before the service is read
            fields[key] = Entry(sub(path, key), entry.key_line, entry.value)
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
    block = Map(ctx.check_keys(block, "build", key), block.line)
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
            options = Map(ctx.check_keys(options, "service.depends_on", here), options.line)
            for name, option in options.entries.items():
                if name == "condition":
                    condition = _condition(ctx, option, sub(here, name))
                elif name == "required":
                    required = ctx.boolean(option.value, sub(here, name))
        edges.append(Edge(target, condition, written.key_line, here, required))
    return tuple(edges)


def _condition(ctx: Context, entry: Entry, key: str) -> Condition:
    text = ctx.text(entry.value, key)
    if text in CONDITIONS:
        return cast(Condition, text)
    hint = did_you_mean(text, CONDITIONS)
    return_fix = hint or "use service_started, service_healthy or service_completed_successfully"
    raise ctx.error(f"unknown condition {text!r}", entry.key_line, key, return_fix)


def _healthcheck(ctx: Context, node: Node, key: str) -> HealthcheckSpec | None:
    block = ctx.mapping(node, key, "write healthcheck: {test: [CMD, ...], interval: 1s}")
    start_interval = block.get("start_interval")
    if start_interval is not None:
        ctx.duration(start_interval.value, sub(key, "start_interval"), positive=True)
    block = Map(ctx.check_keys(block, "healthcheck", key), block.line)
    disable = False
    if (opt := block.get("disable")) is not None:
        disable = ctx.boolean(opt.value, sub(key, "disable"))
    test: tuple[str, ...] = ()
    if (opt := block.get("test")) is not None:
        test = _test(ctx, opt, sub(key, "test"))
    if test == ("NONE",) or disable:
        return HealthcheckSpec(("NONE",), disable=True)
    if not test and not [name for name in block.entries if name != "disable"]:
        return None  # {disable: false} or {}: the image's own healthcheck, as in Compose
    # settings without a test keep the image's test (test == ()), as Compose does
    durations: dict[str, float] = {}
    for name, positive in (("interval", True), ("timeout", True), ("start_period", False)):
        if (opt := block.get(name)) is not None:
            durations[name] = ctx.duration(opt.value, sub(key, name), positive=positive)
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
            kept = ctx.check_keys(options, "service.networks", here)
            if (setting := kept.get("aliases")) is not None:
                aliases = tuple(
                    _alias(ctx, text, line, sub(here, "aliases"))
                    for text, line in ctx.texts(setting.value, sub(here, "aliases"))
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
    name = key.rsplit(".", 1)[-1]
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
            f"{name} {scalar.text!r} {exc}", scalar.line, key, f"use {SIZE_FORMS}"
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
