"""Compose keys beyond the first set: ``deploy``, ``secrets``/``configs``, the engine
options (``runtime``, ``ulimits``, ``pids_limit``, ...), ``post_start``, ``links``,
``container_name``, ``pull_policy``, ``label_file``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import cast

from ._context import Context
from ._keys import NAME_PATTERN
from ._nodes import Entry, Map, Node, Scalar, Seq, describe, index, source_of, sub
from ._units import DURATION_FORMS, SIZE_FORMS, parse_duration, parse_size
from ._waits import parse_command
from .model import EngineOptions, Hook, PullPolicy, ResourceSpec, SecretMount, frozen_map

__all__ = [
    "Deploy",
    "SecretSource",
    "parse_container_name",
    "parse_declared_secrets",
    "parse_deploy",
    "parse_engine",
    "parse_hooks",
    "parse_links",
    "parse_pull_policy",
    "parse_secret_mounts",
    "parse_size_value",
]

_CONTAINER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
_EVERY = re.compile(r"every_((?:[0-9]+[wdhms])+)")
_WEEKS = re.compile(r"([0-9]+)([wd])")
_PULL_FIX = "use missing (the default), always, never, build, daily, weekly or every_12h"


@dataclass(frozen=True, slots=True)
class SecretSource:
    """A top-level secret or config: where its content comes from."""

    kind: str  # "secret" or "config"
    file: Path | None
    content: str | None
    line: int


@dataclass(frozen=True, slots=True)
class Deploy:
    resources: ResourceSpec
    replicas: int | None


def parse_size_value(ctx: Context, node: Node, key: str, *, allow_unlimited: bool = False) -> int:
    scalar = ctx.scalar(node, key, "a size", f"use {SIZE_FORMS}")
    value = scalar.value
    if isinstance(value, str):
        value = ctx.text(scalar, key).strip()
    if allow_unlimited and value in (-1, "-1"):
        return -1
    try:
        if isinstance(value, bool) or value is None:
            raise ValueError("is not a size")
        return parse_size(value)
    except ValueError as exc:
        raise ctx.error(
            f"size {scalar.text!r} {exc}", scalar.line, key, f"use {SIZE_FORMS}"
        ) from None


def _cpus(ctx: Context, node: Node, key: str) -> float:
    cpus = ctx.number(node, key, "write e.g. 0.5 or 2")
    if not cpus > 0 or cpus == float("inf"):
        raise ctx.error(f"cpus {cpus:g} is not a positive number", node.line, key, "write 0.5")
    return cpus


# -- deploy ---------------------------------------------------------------------


def parse_deploy(ctx: Context, node: Node, key: str) -> Deploy:
    if isinstance(node, Scalar) and node.value is None:
        return Deploy(ResourceSpec(), None)
    block = ctx.mapping(node, key, "write deploy: {resources: {limits: {memory: 512m}}}")
    kept = ctx.check_keys(block, "deploy", key)
    replicas = None
    if (opt := kept.get("replicas")) is not None:
        replicas = ctx.integer(opt.value, sub(key, "replicas"), low=0)
    if (opt := kept.get("mode")) is not None:
        here = sub(key, "mode")
        mode = ctx.text(opt.value, here)
        if mode == "global":
            ctx.warn(
                "deploy mode 'global' runs one replica: an environment lives on one engine",
                opt.key_line,
                here,
                "remove it to silence this warning",
                category="translated",
                topic="deploy.mode",
            )
        elif mode not in ("replicated", "replicated-job", "global-job"):
            raise ctx.error(
                f"unknown deploy mode {mode!r}", opt.key_line, here, "use replicated or global"
            )
    resources = ResourceSpec()
    if (opt := kept.get("resources")) is not None:
        resources = _resources(ctx, opt.value, sub(key, "resources"))
    return Deploy(resources, replicas)


def _resources(ctx: Context, node: Node, key: str) -> ResourceSpec:
    if isinstance(node, Scalar) and node.value is None:
        return ResourceSpec()
    block = ctx.mapping(node, key, "write resources: {limits: {cpus: '0.5', memory: 512m}}")
    kept = ctx.check_keys(block, "deploy.resources", key)
    values: dict[str, float | int] = {}
    for part, scope in (("limits", "deploy.resources.limits"),):
        if (opt := kept.get(part)) is not None and not _null(opt.value):
            here = sub(key, part)
            inner = ctx.check_keys(ctx.mapping(opt.value, here), scope, here)
            if (v := inner.get("cpus")) is not None:
                values["cpus"] = _cpus(ctx, v.value, sub(here, "cpus"))
            if (v := inner.get("memory")) is not None:
                values["memory"] = parse_size_value(ctx, v.value, sub(here, "memory"))
            if (v := inner.get("pids")) is not None:
                values["pids"] = ctx.integer(v.value, sub(here, "pids"), low=-1)
    if (opt := kept.get("reservations")) is not None and not _null(opt.value):
        here = sub(key, "reservations")
        inner = ctx.check_keys(ctx.mapping(opt.value, here), "deploy.resources.reservations", here)
        if (v := inner.get("cpus")) is not None:
            values["cpus_reserved"] = _cpus(ctx, v.value, sub(here, "cpus"))
        if (v := inner.get("memory")) is not None:
            values["memory_reserved"] = parse_size_value(ctx, v.value, sub(here, "memory"))
    return ResourceSpec(
        cpus=cast("float | None", values.get("cpus")),
        memory=cast("int | None", values.get("memory")),
        pids=cast("int | None", values.get("pids")),
        cpus_reserved=cast("float | None", values.get("cpus_reserved")),
        memory_reserved=cast("int | None", values.get("memory_reserved")),
    )


def _null(node: Node) -> bool:
    return isinstance(node, Scalar) and node.value is None


# -- secrets and configs ----------------------------------------------------------


def parse_declared_secrets(ctx: Context, root: Map, section: str) -> dict[str, SecretSource]:
    """The top-level ``secrets:`` or ``configs:`` and where each one's content is."""
    entry = root.get(section)
    if entry is None or _null(entry.value):
        return {}
    kind = section[:-1]
    sources = "file: or environment:" if kind == "secret" else "file:, environment: or content:"
    block = ctx.mapping(entry.value, section, f"write {section}: {{NAME: {{file: ./NAME.txt}}}}")
    result: dict[str, SecretSource] = {}
    for name, item in block.entries.items():
        here = sub(section, name)
        if not NAME_PATTERN.fullmatch(name):
            raise ctx.error(
                f"invalid {kind} name {name!r}",
                item.key_line,
                here,
                "use letters, digits, '_', '.', '-'",
            )
        settings = ctx.mapping(item.value, here, f"write {name}: {{file: ./{name}.txt}}")
        kept = ctx.check_keys(settings, kind, here)
        given = [k for k in ("file", "environment", "content") if k in kept]
        if len(given) != 1:
            what = "has no source" if not given else f"has several sources ({', '.join(given)})"
            raise ctx.error(
                f"{kind} {name!r} {what}", item.key_line, here, f"give one of {sources}"
            )
        source = kept[given[0]]
        there = sub(here, given[0])
        if given[0] == "file":
            text = ctx.text(source.value, there)
            path = ctx.local_path(text, source.key_line, there, kind="file", what=f"{kind} file")
            ctx.files[path] = None
            result[name] = SecretSource(kind, path, None, item.key_line)
        elif given[0] == "environment":
            variable = ctx.text(source.value, there)
            environ = _environ_of(ctx, source.key_line)
            if variable not in environ:
                raise ctx.error(
                    f"{kind} {name!r} reads variable {variable}, which is not set",
                    source.key_line,
                    there,
                    f"set {variable} before running, or use file:",
                )
            result[name] = SecretSource(kind, None, environ[variable], item.key_line)
        else:
            result[name] = SecretSource(kind, None, ctx.text(source.value, there), item.key_line)
    return result


def _environ_of(ctx: Context, line: int) -> Mapping[str, str]:
    source = source_of(line)
    return source.environ if source is not None else ctx.environ


def parse_secret_mounts(
    ctx: Context, node: Node, key: str, declared: Mapping[str, SecretSource], kind: str
) -> tuple[SecretMount, ...]:
    """A service's ``secrets:`` or ``configs:`` list: the files it gets, and where."""
    section = f"{kind}s"
    items = ctx.sequence(node, key, f"write {section}: [NAME] or [{{source: NAME, target: PATH}}]")
    mounts: list[SecretMount] = []
    targets: dict[str, int] = {}
    for i, item in enumerate(items.items):
        here = index(key, i)
        uid = gid = None
        mode: int | None = None
        target_text: str | None = None
        if isinstance(item, Map):
            kept = ctx.check_keys(item, "service.secrets", here)
            if "source" not in kept:
                raise ctx.error(
                    f"a {kind} entry needs source:", item.line, here, "add source: NAME"
                )
            name = ctx.text(kept["source"].value, sub(here, "source"))
            if (opt := kept.get("target")) is not None:
                target_text = ctx.text(opt.value, sub(here, "target"))
            if (opt := kept.get("uid")) is not None:
                uid = ctx.text(opt.value, sub(here, "uid"))
            if (opt := kept.get("gid")) is not None:
                gid = ctx.text(opt.value, sub(here, "gid"))
            if (opt := kept.get("mode")) is not None:
                mode = _mode(ctx, opt, sub(here, "mode"))
        else:
            name = ctx.text(item, here)
        source = declared.get(name)
        if source is None:
            known = ", ".join(sorted(declared)) or "none"
            raise ctx.error(
                f"{kind} {name!r} is not declared (known: {known})",
                item.line,
                here,
                f"declare it under the top-level {section}: with a file: or environment: source",
            )
        target = _target(kind, name, target_text)
        if target in targets:
            raise ctx.error(
                f"two {section} mount at {target} (also line {targets[target]})",
                item.line,
                here,
                "give one of them another target:",
            )
        targets[target] = item.line
        mounts.append(
            SecretMount(
                kind="secret" if kind == "secret" else "config",
                name=name,
                target=target,
                file=source.file,
                content=source.content,
                uid=uid,
                gid=gid,
                mode=mode,
            )
        )
    return tuple(mounts)


def _target(kind: str, name: str, given: str | None) -> str:
    if kind == "secret":
        if not given:
            return f"/run/secrets/{name}"
        return given if given.startswith("/") else f"/run/secrets/{given}"
    if not given:
        return f"/{name}"
    return given if given.startswith("/") else f"/{given}"


def _mode(ctx: Context, entry: Entry, key: str) -> int:
    scalar = ctx.scalar(entry.value, key, "a file mode")
    value = scalar.value
    if re.fullmatch(r"0[0-7]+", scalar.text):
        return int(scalar.text, 8)  # 0440 is octal, as Compose reads it
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # YAML 0o440, or a decimal number
    text = ctx.text(scalar, key).strip()
    if re.fullmatch(r"0?o?[0-7]{1,4}", text):
        return int(text.lstrip("0o") or "0", 8)
    raise ctx.error(f"mode {text!r} is not an octal file mode", entry.key_line, key, "write 0440")


# -- the engine options -------------------------------------------------------------


def parse_engine(ctx: Context, fields: Mapping[str, Entry]) -> EngineOptions:
    """The container options the backend passes to the engine."""
    values: dict[str, object] = {}

    def get(name: str) -> Entry | None:
        return fields.get(name)

    for name in ("runtime", "platform", "hostname", "domainname", "stop_signal", "cpuset"):
        if (e := get(name)) is not None:
            values[name] = ctx.text(e.value, e.key)
    for name in ("init", "read_only", "tty", "stdin_open", "oom_kill_disable"):
        if (e := get(name)) is not None:
            values[name] = ctx.boolean(e.value, e.key)
    if (e := get("stop_grace_period")) is not None:
        values["stop_grace_period"] = ctx.duration(e.value, e.key, positive=False)
    if (e := get("shm_size")) is not None:
        values["shm_size"] = parse_size_value(ctx, e.value, e.key)
    if (e := get("memswap_limit")) is not None:
        values["memswap_limit"] = parse_size_value(ctx, e.value, e.key, allow_unlimited=True)
    bounds = {
        "cpu_shares": (0, None),
        "cpu_quota": (-1, None),
        "cpu_count": (0, None),
        "cpu_percent": (0, 100),
        "mem_swappiness": (0, 100),
        "oom_score_adj": (-1000, 1000),
    }
    for name, (low, high) in bounds.items():
        if (e := get(name)) is not None:
            values[name] = ctx.integer(e.value, e.key, low=low, high=high)
    for name in ("cpu_period", "cpu_rt_period", "cpu_rt_runtime"):
        if (e := get(name)) is not None:
            values[name] = _microseconds(ctx, e.value, e.key)
    if (e := get("blkio_config")) is not None:
        values["blkio_weight"] = _blkio(ctx, e)
    if (e := get("ulimits")) is not None:
        values["ulimits"] = _ulimits(ctx, e.value, e.key)
    if (e := get("sysctls")) is not None:
        values["sysctls"] = frozen_map(
            ctx.pairs(e.value, e.key, bare="empty", fix="write sysctls: {net.core.somaxconn: 1024}")
        )
    if (e := get("storage_opt")) is not None:
        block = ctx.mapping(e.value, e.key, "write storage_opt: {size: 1G}")
        values["storage_opt"] = frozen_map(
            {k: ctx.text(v.value, sub(e.key, k)) for k, v in block.entries.items()}
        )
    if (e := get("extra_hosts")) is not None:
        values["extra_hosts"] = _extra_hosts(ctx, e.value, e.key)
    for name in ("group_add", "cap_add", "cap_drop", "security_opt"):
        if (e := get(name)) is not None:
            values[name] = tuple(
                text for text, _ in ctx.texts(e.value, e.key, f"write {name}: [VALUE]")
            )
    return EngineOptions(**values)  # type: ignore[arg-type]


def _microseconds(ctx: Context, node: Node, key: str) -> int:
    scalar = ctx.scalar(node, key, "a duration", f"use {DURATION_FORMS}")
    if isinstance(scalar.value, int) and not isinstance(scalar.value, bool):
        return scalar.value  # a bare number is microseconds, as Compose reads it
    text = ctx.text(scalar, key)
    try:
        return round(parse_duration(text) * 1_000_000)
    except ValueError as exc:
        raise ctx.error(
            f"duration {text!r} {exc}", scalar.line, key, f"use {DURATION_FORMS}"
        ) from None


def _blkio(ctx: Context, entry: Entry) -> int | None:
    block = ctx.mapping(entry.value, entry.key, "write blkio_config: {weight: 300}")
    weight = None
    for name, item in block.entries.items():
        here = sub(entry.key, name)
        if name == "weight":
            weight = ctx.integer(item.value, here, low=10, high=1000)
        elif name in ("weight_device", "device_read_bps", "device_read_iops") or name in (
            "device_write_bps",
            "device_write_iops",
        ):
            ctx.check_shape(item, "list", here)
            ctx.warn(
                f"Compose key 'blkio_config.{name}' is ignored: per-device limits name host "
                "devices, which differ between machines",
                item.key_line,
                here,
                "remove it to silence this warning",
                category="ignored",
                topic=f"blkio_config.{name}",
            )
        elif not name.startswith("x-"):
            raise ctx.unknown_key(name, item.key_line, here, ("weight", "device_read_bps"))
    return weight


def _ulimits(ctx: Context, node: Node, key: str) -> Mapping[str, tuple[int, int]]:
    block = ctx.mapping(node, key, "write ulimits: {nofile: {soft: 20000, hard: 40000}}")
    result: dict[str, tuple[int, int]] = {}
    for name, item in block.entries.items():
        here = sub(key, name)
        if isinstance(item.value, Map):
            for part, setting in item.value.entries.items():
                if part not in ("soft", "hard") and not part.startswith("x-"):
                    raise ctx.unknown_key(part, setting.key_line, sub(here, part), ("soft", "hard"))
            soft_entry, hard_entry = item.value.get("soft"), item.value.get("hard")
            if soft_entry is None or hard_entry is None:
                raise ctx.error(
                    "a ulimit needs soft: and hard:", item.key_line, here, "or write one number"
                )
            soft = ctx.integer(soft_entry.value, sub(here, "soft"), low=-1)
            hard = ctx.integer(hard_entry.value, sub(here, "hard"), low=-1)
            if hard != -1 and (soft == -1 or soft > hard):
                raise ctx.error(
                    f"soft limit {soft} is above the hard limit {hard}",
                    item.key_line,
                    here,
                    "make soft at most hard",
                )
        else:
            soft = hard = ctx.integer(item.value, here, low=-1)
        result[name] = (soft, hard)
    return MappingProxyType(result)


def _extra_hosts(ctx: Context, node: Node, key: str) -> tuple[tuple[str, str], ...]:
    fix = "write extra_hosts: ['host.example:10.0.0.5'] or {host.example: 10.0.0.5}"
    pairs: list[tuple[str, str]] = []
    if isinstance(node, Map):
        for name, item in node.entries.items():
            for address, _ in ctx.texts(item.value, sub(key, name), fix):
                pairs.append((name, address))
        return tuple(pairs)
    for text, line in ctx.texts(node, key, fix):
        cut = [i for i in (text.find("="), text.find(":")) if i > 0]
        if not cut:
            raise ctx.error(f"invalid extra host {text!r}", line, key, fix)
        at = min(cut)
        pairs.append((text[:at], text[at + 1 :]))
    return tuple(pairs)


# -- post_start ---------------------------------------------------------------------


def parse_hooks(ctx: Context, node: Node, key: str) -> tuple[Hook, ...]:
    fix = "write post_start: [{command: [sh, -c, 'echo ready']}]"
    hooks: list[Hook] = []
    for i, item in enumerate(ctx.sequence(node, key, fix).items):
        here = index(key, i)
        kept = ctx.check_keys(ctx.mapping(item, here, fix), "service.post_start", here)
        if "command" not in kept:
            raise ctx.error("a hook needs command:", item.line, here, fix)
        command = parse_command(ctx, kept["command"].value, sub(here, "command"))
        if not command:
            raise ctx.error("empty command", item.line, sub(here, "command"), fix)
        hooks.append(
            Hook(
                command=command,
                user=ctx.text(kept["user"].value, sub(here, "user")) if "user" in kept else None,
                privileged=ctx.boolean(kept["privileged"].value, sub(here, "privileged"))
                if "privileged" in kept
                else False,
                working_dir=ctx.text(kept["working_dir"].value, sub(here, "working_dir"))
                if "working_dir" in kept
                else None,
                environment=frozen_map(
                    ctx.pairs(
                        kept["environment"].value,
                        sub(here, "environment"),
                        bare="host",
                        fix="write environment: {NAME: value}",
                    )
                )
                if "environment" in kept
                else frozen_map(),
            )
        )
    return tuple(hooks)


# -- names ----------------------------------------------------------------------------


def parse_container_name(ctx: Context, node: Node, key: str) -> str:
    name = ctx.text(node, key, "write container_name: NAME")
    if not _CONTAINER_NAME.fullmatch(name):
        raise ctx.error(
            f"invalid container name {name!r}",
            node.line,
            key,
            "use letters, digits, '_', '.', '-' (Compose refuses it too)",
        )
    ctx.warn(
        "'container_name' is dropped (a fixed name collides between parallel runs) and kept "
        "as a network alias, so other services still reach it by that name",
        node.line,
        key,
        "remove it to silence this warning",
        category="translated",
        topic="container_name",
    )
    return name


def parse_links(ctx: Context, node: Node, key: str) -> list[tuple[str, str | None, int, str]]:
    """``links:`` as (service, alias or None, line, key path)."""
    result: list[tuple[str, str | None, int, str]] = []
    if not isinstance(node, Seq):
        raise ctx.error(
            f"expected a list, got {describe(node)}",
            node.line,
            key,
            "write links: [db, 'db:database']",
        )
    for i, item in enumerate(node.items):
        here = index(key, i)
        text = ctx.text(item, here)
        target, _, alias = text.partition(":")
        for part in (target, alias) if alias else (target,):
            if not NAME_PATTERN.fullmatch(part):
                raise ctx.error(f"invalid link {text!r}", item.line, here, "write SERVICE[:ALIAS]")
        result.append((target, alias or None, item.line, here))
    return result


def parse_pull_policy(
    ctx: Context, node: Node, key: str, refresh: Entry | None
) -> tuple[PullPolicy, float | None]:
    text = ctx.text(node, key, _PULL_FIX).strip()
    if text in ("missing", "if_not_present"):
        return "missing", None
    if text in ("always", "never", "build"):
        return cast(PullPolicy, text), None
    if text == "daily":
        return "daily", 86400.0
    if text == "weekly":
        return "weekly", 7 * 86400.0
    if match := _EVERY.fullmatch(text):
        return "every", _period(match.group(1))
    if text == "refresh":
        if refresh is None:
            raise ctx.error(
                "pull_policy refresh needs pull_refresh_after:",
                node.line,
                key,
                "add pull_refresh_after: 24h, or write pull_policy: daily",
            )
        seconds = ctx.duration(refresh.value, refresh.key, positive=True)
        return "every", seconds
    raise ctx.error(f"unknown pull_policy {text!r}", node.line, key, _PULL_FIX)


def _period(text: str) -> float:
    """``1w2d12h`` -> seconds (Compose's every_ form allows weeks and days)."""
    days = sum(int(n) * (7 if unit == "w" else 1) for n, unit in _WEEKS.findall(text))
    rest = _WEEKS.sub("", text)
    return days * 86400.0 + (parse_duration(rest) if rest else 0.0)
