"""``volumes:`` (named, anonymous, bind; short and long forms) and ``tmpfs:``."""

from __future__ import annotations

from collections.abc import Collection

from ._context import Context, absolute_path
from ._keys import NAME_PATTERN
from ._nodes import Map, Node, index, sub
from ._units import SIZE_FORMS, parse_size
from .model import VolumeMount

__all__ = ["parse_tmpfs", "parse_volumes"]

_MODES = {
    "ro",
    "rw",
    "z",
    "Z",
    "nocopy",
    "cached",
    "delegated",
    "consistent",
    "shared",
    "slave",
    "private",
    "rshared",
    "rslave",
    "rprivate",
}
_SOCKET = "docker.sock"
_VOLUMES_FIX = "write 'NAME:/path', './folder:/path[:ro]' or '/path'"


def parse_volumes(
    ctx: Context, node: Node, key: str, declared: Collection[str]
) -> tuple[tuple[VolumeMount, ...], tuple[str, ...]]:
    """Mounts, plus the tmpfs mounts written in long form (``type: tmpfs``)."""
    mounts: list[VolumeMount] = []
    tmpfs: list[str] = []
    for i, item in enumerate(ctx.sequence(node, key, _VOLUMES_FIX).items):
        path = index(key, i)
        if isinstance(item, Map):
            mount = _long(ctx, item, path, declared)
            if isinstance(mount, str):
                tmpfs.append(mount)
            else:
                mounts.append(mount)
        else:
            mounts.append(
                _short(ctx, ctx.text(item, path, _VOLUMES_FIX), item.line, path, declared)
            )
    return tuple(mounts), tuple(tmpfs)


def parse_tmpfs(ctx: Context, node: Node, key: str) -> tuple[str, ...]:
    result: list[str] = []
    for text, line in ctx.texts(node, key, "write tmpfs: [/path, '/run:size=64m']"):
        _target(ctx, text.partition(":")[0], line, key)
        result.append(text)
    return tuple(result)


def _target(ctx: Context, target: str, line: int, key: str) -> str:
    if not target.startswith("/"):
        raise ctx.error(
            f"mount target {target!r} is not an absolute path",
            line,
            key,
            "write the path inside the container, starting with '/'",
        )
    return target


def _short(ctx: Context, text: str, line: int, key: str, declared: Collection[str]) -> VolumeMount:
    parts = text.split(":")
    if len(parts) == 1:
        return VolumeMount("volume", _target(ctx, parts[0], line, key))
    if len(parts) > 3:
        raise ctx.error(f"invalid volume {text!r}: too many ':'", line, key, _VOLUMES_FIX)
    if not parts[0].strip() or not parts[1].strip():
        raise ctx.error(
            f"invalid volume {text!r}: empty section between colons (Compose refuses it too)",
            line,
            key,
            _VOLUMES_FIX,
        )
    source, target = parts[0], _target(ctx, parts[1], line, key)
    read_only = False
    if len(parts) == 3:
        for mode in parts[2].split(","):
            if mode not in _MODES:
                raise ctx.error(
                    f"unknown volume mode {mode!r} in {text!r}",
                    line,
                    key,
                    "use ro or rw (z, Z, nocopy, cached, delegated are accepted too)",
                )
        read_only = "ro" in parts[2].split(",")
    return _mount(ctx, source, target, read_only, line, key, declared, create=True)


def _mount(
    ctx: Context,
    source: str,
    target: str,
    read_only: bool,
    line: int,
    key: str,
    declared: Collection[str],
    kind: str | None = None,
    *,
    create: bool,
    subpath: str | None = None,
) -> VolumeMount:
    """``create``: a missing bind source is a folder to create (Compose's short syntax,
    or ``bind: {create_host_path: true}``), not an error."""
    if not source:
        if kind == "bind":
            raise ctx.error(
                "a bind mount needs source: (an empty source is refused by Compose too)",
                line,
                key,
                "name a host folder or file",
            )
        return VolumeMount("volume", target, None, read_only, subpath=subpath)
    is_path = source.startswith(("/", ".", "~"))
    if kind == "bind" or (kind is None and is_path):
        if create and not absolute_path(source, ctx.base_of(line)).exists():
            host = absolute_path(source, ctx.base_of(line))
            ctx.warn(
                f"bind mount source {source!r} does not exist: an empty folder is created "
                f"there at start, as Compose does ({host})",
                line,
                key,
                "create it, or check the path for a typo",
                category="note",
                topic="volumes.create_host_path",
            )
            return VolumeMount("bind", target, str(host), read_only, create_host_path=True)
        host = ctx.local_path(source, line, key, kind="any", what="bind mount source")
        if host.name == _SOCKET:
            ctx.warn(
                "mounts the Docker socket: this container controls the Docker engine",
                line,
                key,
                "remove the mount unless the service really drives Docker",
                category="security",
                topic="volumes.docker_socket",
            )
        return VolumeMount("bind", target, str(host), read_only)
    if not NAME_PATTERN.fullmatch(source):
        raise ctx.error(
            f"invalid volume name {source!r}",
            line,
            key,
            "use letters, digits, '_', '.', '-', or start a host path with ./ or /",
        )
    if source not in declared:
        known = ", ".join(sorted(declared)) or "none"
        raise ctx.error(
            f"named volume {source!r} is not declared (known: {known}; declare it with "
            f"'volumes: {{{source}: {{}}}}' at the top level, or write './{source}' for a "
            "folder next to the spec)",
            line,
            key,
        )
    return VolumeMount("volume", target, source, read_only, subpath=subpath)


def _long(ctx: Context, node: Map, key: str, declared: Collection[str]) -> VolumeMount | str:
    node = Map(ctx.check_keys(node, "service.volumes", key), node.line)
    type_entry = node.get("type")
    kind = "volume"
    if type_entry is not None:
        kind = ctx.text(type_entry.value, sub(key, "type"))
        if kind in ("image", "npipe", "cluster"):
            raise ctx.error(
                f"Compose mount type '{kind}' is not supported here: "
                + (
                    "named pipes exist on Windows only"
                    if kind == "npipe"
                    else "it needs an engine feature test environments do not use"
                ),
                type_entry.key_line,
                sub(key, "type"),
                "use volume, bind or tmpfs",
            )
        if kind not in ("volume", "bind", "tmpfs"):
            raise ctx.error(
                f"unknown volume type {kind!r}",
                type_entry.key_line,
                sub(key, "type"),
                "use volume, bind or tmpfs",
            )
    target_entry = node.get("target")
    if target_entry is None:
        raise ctx.error("a mount needs target:", node.line, key, "add target: /path/in/container")
    target_key = sub(key, "target")
    target = _target(
        ctx, ctx.text(target_entry.value, target_key), target_entry.key_line, target_key
    )
    if kind == "tmpfs":
        return _long_tmpfs(ctx, node, key, target)
    source, line = "", node.line
    if (source_entry := node.get("source")) is not None:
        source = ctx.text(source_entry.value, sub(key, "source"))
        line = source_entry.key_line
    read_only = False
    if (opt := node.get("read_only")) is not None:
        read_only = ctx.boolean(opt.value, sub(key, "read_only"))
    create = False
    subpath = None
    for option in ("bind", "volume"):
        opt = node.get(option)
        if opt is None:
            continue
        here = sub(key, option)
        if option != kind:
            raise ctx.error(
                f"'{option}:' options on a {kind} mount", opt.key_line, here, "remove them"
            )
        settings = ctx.check_keys(
            ctx.mapping(opt.value, here, f"write {option}: {{...}}"),
            f"service.volumes.{option}",
            here,
        )
        if (value := settings.get("create_host_path")) is not None:
            create = ctx.boolean(value.value, sub(here, "create_host_path"))
        if (value := settings.get("subpath")) is not None:
            subpath = ctx.text(value.value, sub(here, "subpath"))
            if subpath.startswith("/") or ".." in subpath.split("/"):
                raise ctx.error(
                    f"subpath {subpath!r} leaves the volume",
                    value.key_line,
                    sub(here, "subpath"),
                    "name a folder inside the volume, e.g. data/pg",
                )
    if kind == "volume" and node.get("tmpfs") is not None:
        raise ctx.error("'tmpfs:' options on a volume mount", node.line, key, "remove them")
    return _mount(
        ctx,
        source,
        target,
        read_only,
        line,
        sub(key, "source"),
        declared,
        kind,
        create=create,
        subpath=subpath,
    )


def _long_tmpfs(ctx: Context, node: Map, key: str, target: str) -> str:
    if node.get("source") is not None:
        raise ctx.error("a tmpfs mount has no source:", node.line, sub(key, "source"), "remove it")
    options: list[str] = []
    if (opt := node.get("tmpfs")) is not None:
        path = sub(key, "tmpfs")
        settings = ctx.mapping(opt.value, path, "write tmpfs: {size: 64m}")
        settings = Map(ctx.check_keys(settings, "service.volumes.tmpfs", path), settings.line)
        for name, setting in settings.entries.items():
            if name == "size":
                scalar = ctx.scalar(setting.value, sub(path, name), "a size", f"use {SIZE_FORMS}")
                value = scalar.value
                if isinstance(value, str):
                    value = ctx.text(scalar, sub(path, name))
                try:
                    size = parse_size(value if isinstance(value, str | int) else str(value))
                except ValueError as exc:
                    raise ctx.error(
                        f"size {scalar.text!r} {exc}",
                        setting.key_line,
                        sub(path, name),
                        f"use {SIZE_FORMS}",
                    ) from None
                options.append(f"size={size}")
            elif name == "mode":
                mode = ctx.text(setting.value, sub(path, name))
                if not mode.isdigit() or any(c in "89" for c in mode):
                    raise ctx.error(
                        f"mode {mode!r} is not an octal file mode",
                        setting.key_line,
                        sub(path, name),
                        "write it like 1777",
                    )
                options.append(f"mode={mode}")
    return f"{target}:{','.join(options)}" if options else target
