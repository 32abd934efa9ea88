"""``load_spec``: file -> checked, interpolated, immutable :class:`Spec`."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from ._context import Context, absolute_path, display_path
from ._graph import active_services, check_graph
from ._hash import spec_hash
from ._keys import NAME_PATTERN
from ._nodes import Entry, Map, Scalar, sub
from ._service import Draft, parse_service
from ._yaml import decode, parse_document, read_bytes
from .model import Spec

__all__ = ["load_spec", "normalize_name"]

_TOP_KEYS = ("name", "services", "networks", "volumes", "version", "x-ephemeral")
_TOP_UNSUPPORTED = {
    "secrets": "pass values with a service's environment: or env_file:",
    "configs": "mount files with a bind volume, e.g. './app.conf:/etc/app.conf:ro'",
    "include": "merge the included file into this spec",
}
_PROJECT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
_NETWORK_OPTIONS = (
    "driver",
    "driver_opts",
    "attachable",
    "enable_ipv6",
    "ipam",
    "internal",
    "labels",
    "name",
)
_VOLUME_OPTIONS = ("driver", "driver_opts", "labels", "name")


def normalize_name(text: str) -> str:
    """A Docker-safe project name from ``text`` (lowercase ``[a-z0-9][a-z0-9_-]*``)."""
    name = re.sub(r"[^a-z0-9_-]", "", text.lower()).lstrip("_-")
    return name or "ephemeral"


def load_spec(
    path: Path, *, environ: Mapping[str, str] | None = None, profiles: Sequence[str] = ()
) -> Spec:
    """Load, check and resolve the spec at ``path``; every problem is a SpecError."""
    absolute = absolute_path(path)
    display = display_path(absolute)
    root = parse_document(decode(read_bytes(absolute, display), display), display)
    ctx = Context(
        file=absolute, display=display, environ=os.environ if environ is None else environ
    )
    for key, entry in root.entries.items():
        if key in _TOP_KEYS or (key.startswith("x-") and key != "x-ephemeral"):
            continue
        if key in _TOP_UNSUPPORTED:
            raise ctx.error(
                f"top-level '{key}' is understood but not supported",
                entry.key_line,
                key,
                _TOP_UNSUPPORTED[key],
            )
        raise ctx.unknown_key(key, entry.key_line, sub("", key), _TOP_KEYS, extensions=True)
    if (opt := root.get("version")) is not None:
        ctx.warn("'version' is obsolete and ignored", opt.key_line, "version", "remove it")
    name = _name(ctx, root, absolute)
    networks = _declared(ctx, root, "networks", _NETWORK_OPTIONS)
    volumes = _declared(ctx, root, "volumes", _VOLUME_OPTIONS)
    services = _services(ctx, root)
    drafts: dict[str, Draft] = {
        key: parse_service(ctx, key, entry, networks=networks, volumes=volumes)
        for key, entry in services.entries.items()
    }
    check_graph(ctx, drafts)
    active = active_services(ctx, drafts, profiles)
    spec = Spec(
        name=name,
        path=absolute,
        services=MappingProxyType(active),
        networks=("default", *(n for n in networks if n != "default")),
        volumes=tuple(volumes),
        warnings=tuple(ctx.warnings),
    )
    return replace(spec, hash=spec_hash(spec, ctx.files))


def _services(ctx: Context, root: Map) -> Map:
    entry = root.get("services")
    fix = "write 'services:' with one entry per service, e.g. 'db: {image: postgres:16}'"
    if entry is None:
        raise ctx.error("the spec has no 'services:'", root.line, "", fix)
    services = ctx.mapping(entry.value, "services", fix)
    if not services.entries:
        raise ctx.error("no services", entry.key_line, "services", fix)
    return services


def _name(ctx: Context, root: Map, path: Path) -> str:
    given: list[tuple[Entry, str]] = []
    if (opt := root.get("name")) is not None:
        given.append((opt, "name"))
    if (extension := root.get("x-ephemeral")) is not None:
        block = ctx.mapping(extension.value, "x-ephemeral", "write x-ephemeral: {name: NAME}")
        for key, item in block.entries.items():
            if key != "name":
                raise ctx.unknown_key(key, item.key_line, sub("x-ephemeral", key), ("name",))
        if (opt := block.get("name")) is not None:
            given.append((opt, "x-ephemeral.name"))
    if len(given) == 2:
        raise ctx.error(
            f"the name is given twice (name: at line {given[0][0].key_line} and here)",
            given[1][0].key_line,
            given[1][1],
            "keep only one of them",
        )
    if not given:
        return normalize_name(path.parent.name)
    entry, key = given[0]
    name = ctx.text(entry.value, key, "write name: my-project")
    if not _PROJECT_NAME.fullmatch(name):
        raise ctx.error(
            f"invalid name {name!r}: use lowercase letters, digits, '_' and '-', "
            "starting with a letter or digit",
            entry.key_line,
            key,
            f"write name: {normalize_name(name)}",
        )
    return name


def _declared(ctx: Context, root: Map, key: str, options: tuple[str, ...]) -> tuple[str, ...]:
    entry = root.get(key)
    if entry is None or (isinstance(entry.value, Scalar) and entry.value.value is None):
        return ()
    block = ctx.mapping(entry.value, key, f"write {key}: {{NAME: {{}}}}")
    kind = key[:-1]
    for name, item in block.entries.items():
        here = sub(key, name)
        if not NAME_PATTERN.fullmatch(name):
            raise ctx.error(
                f"invalid {kind} name {name!r}",
                item.key_line,
                here,
                "use letters, digits, '_', '.', '-', starting with a letter or digit",
            )
        value = item.value
        if isinstance(value, Scalar) and value.value is None:
            continue
        settings = ctx.mapping(value, here, f"write {name}: {{}} or leave it empty")
        for option, setting in settings.entries.items():
            there = sub(here, option)
            if option == "external":
                if ctx.boolean(setting.value, there):
                    raise ctx.error(
                        f"external {key} are understood but not supported",
                        setting.key_line,
                        there,
                        f"remove 'external: true'; each environment creates its own {kind}",
                    )
            elif option in options:
                ctx.warn(
                    f"{kind} option '{option}' is ignored", setting.key_line, there, "remove it"
                )
            elif not option.startswith("x-"):
                raise ctx.unknown_key(
                    option, setting.key_line, there, (*options, "external"), extensions=True
                )
    return tuple(block.entries)
