"""``load_spec``: file -> checked, interpolated, immutable :class:`Spec`."""

from __future__ import annotations

import os
import re
from collections import ChainMap
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from ..errors import SpecError
from ._compose import parse_declared_secrets
from ._context import Context, absolute_path, display_path
from ._envfile import read_dotenv
from ._graph import active_services, check_graph
from ._hash import spec_hash
from ._keys import NAME_PATTERN
from ._merge import Loader, merge, strip_tags
from ._nodes import Entry, Map, Node, Scalar, Source, sub
from ._plugin import check_exports, parse_exports, parse_parity
from ._service import Draft, parse_service
from ._yaml import read_bytes
from .model import ParitySpec, ServiceSpec, Spec

__all__ = ["load_spec", "normalize_name"]

_PROJECT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
# the plugin's own top-level keys: directly in ephemeral.yaml, under x-ephemeral: anywhere
_PLUGIN_TOP = ("name", "exports", "parity")
_SPEC_NAMES = ("ephemeral.yaml", "ephemeral.yml")

PathLike = str | os.PathLike[str]


def normalize_name(text: str) -> str:
    """A Docker-safe project name from ``text`` (lowercase ``[a-z0-9][a-z0-9_-]*``)."""
    name = re.sub(r"[^a-z0-9_-]", "", text.lower()).lstrip("_-")
    return name or "ephemeral"


def load_spec(
    path: PathLike | Sequence[PathLike],
    *,
    environ: Mapping[str, str] | None = None,
    profiles: Sequence[str] = (),
) -> Spec:
    """Load, check and resolve the spec at ``path``; every problem is a SpecError.

    ``path`` may be several files, merged in order as ``docker compose -f a -f b``
    merges them (relative paths of every file start at the first file's folder).
    Variables come from ``environ`` (default: the process environment), then from
    the ``.env`` file of the first file's folder. Without ``profiles``,
    ``COMPOSE_PROFILES`` (comma-separated) names the active profiles."""
    given = [path] if isinstance(path, str | os.PathLike) else list(path)
    if not given:
        raise SpecError("no spec file given", fix="name at least one spec file")
    paths = [absolute_path(os.fspath(p)) for p in given]
    main = paths[0]
    display = display_path(main)
    host = os.environ if environ is None else environ
    ctx = Context(file=main, display=display, environ=host)

    def dotenv(file: Path, lookup: Mapping[str, str]) -> Mapping[str, str]:
        return read_dotenv(ctx, file, lookup)

    variables: Mapping[str, str] = ChainMap(dict(host), dict(dotenv(main.parent / ".env", host)))
    ctx.environ = variables
    ctx.source = Source(main, display, main.parent, variables)
    loader = Loader(ctx, dotenv)
    for extra in paths[1:]:
        if not extra.is_file():
            read_bytes(extra, display_path(extra))  # raises the usual one-line error
    tree: Node = loader.load(main, main.parent, variables)
    for extra in paths[1:]:
        tree = merge(tree, loader.load(extra, main.parent, variables))
    root = strip_tags(tree)
    if not isinstance(root, Map):  # pragma: no cover - load returns a Map
        raise SpecError("the top level must be a mapping", file=display)
    own_keys = main.name in _SPEC_NAMES
    for key in _PLUGIN_TOP[1:]:
        if not own_keys and (opt := root.get(key)) is not None:
            raise ctx.error(
                f"'{key}' is a pytest-ephemeral key, not a Compose key",
                opt.key_line,
                key,
                f"in a Compose file, write it under x-ephemeral: {{{key}: ...}}",
            )
    ctx.check_keys(root, "top", "", plugin=_PLUGIN_TOP[1:] if own_keys else ())
    _compose_variables(ctx, variables)
    if not profiles and variables.get("COMPOSE_PROFILES", "").strip():
        profiles = [p.strip() for p in variables["COMPOSE_PROFILES"].split(",") if p.strip()]
    plugin = _plugin_block(ctx, root, own_keys)
    name = _name(ctx, root, plugin, main)
    networks = _declared(ctx, root, "networks")
    volumes = _declared(ctx, root, "volumes")
    secrets = parse_declared_secrets(ctx, root, "secrets")
    configs = parse_declared_secrets(ctx, root, "configs")
    services = _services(ctx, root)
    drafts: dict[str, Draft] = {
        key: parse_service(
            ctx,
            key,
            entry,
            networks=networks,
            volumes=volumes,
            secrets=secrets,
            configs=configs,
        )
        for key, entry in services.entries.items()
    }
    check_graph(ctx, drafts)
    drafts = _link_aliases(drafts)
    active = active_services(ctx, drafts, profiles)
    everything = drafts_services(drafts)
    exports = check_exports(
        ctx,
        parse_exports(ctx, plugin["exports"].value, plugin["exports"].key)
        if "exports" in plugin
        else {},
        everything,
        active,
    )
    parity: ParitySpec | None = None
    if "parity" in plugin:
        parity = parse_parity(ctx, plugin["parity"].value, plugin["parity"].key, everything)
    diagnostics = ctx.diagnostics()
    spec = Spec(
        name=name,
        path=main,
        services=MappingProxyType(active),
        networks=("default", *(n for n in networks if n != "default")),
        volumes=tuple(volumes),
        warnings=tuple(str(d) for d in diagnostics),
        diagnostics=diagnostics,
        files=tuple(loader.files),
        exports=exports,
        parity=parity,
    )
    return replace(spec, hash=spec_hash(spec, ctx.files))


def drafts_services(drafts: Mapping[str, Draft]) -> dict[str, ServiceSpec]:
    return {name: draft.service for name, draft in drafts.items()}


def _link_aliases(drafts: dict[str, Draft]) -> dict[str, Draft]:
    """The aliases ``links: [db:database]`` gives: on the linked service."""
    extra: dict[str, list[str]] = {}
    for draft in drafts.values():
        for target, alias in draft.link_aliases:
            extra.setdefault(target, [])
            if alias not in extra[target]:
                extra[target].append(alias)
    if not extra:
        return drafts
    result = dict(drafts)
    for target, aliases in extra.items():
        draft = result[target]
        own = draft.service.aliases
        merged = (*own, *(a for a in aliases if a not in own and a != target))
        result[target] = replace(draft, service=replace(draft.service, aliases=merged))
    return result


def _compose_variables(ctx: Context, variables: Mapping[str, str]) -> None:
    if variables.get("COMPOSE_PROJECT_NAME", "").strip():
        ctx.warn(
            "COMPOSE_PROJECT_NAME is ignored: environments are named per run, so parallel "
            "runs never collide",
            None,
            "COMPOSE_PROJECT_NAME",
            "unset it for tests, or name the spec with name:",
            category="note",
            topic="COMPOSE_PROJECT_NAME",
        )


def _plugin_block(ctx: Context, root: Map, own_keys: bool) -> dict[str, Entry]:
    """The plugin's top-level keys, each with its key path (``x-ephemeral.exports``)."""
    found: dict[str, Entry] = {}
    for key in _PLUGIN_TOP:
        if (opt := root.get(key)) is not None and (own_keys or key == "name"):
            found[key] = Entry(key, opt.key_line, opt.value)
    extension = root.get("x-ephemeral")
    if extension is None:
        return found
    block = ctx.mapping(extension.value, "x-ephemeral", "write x-ephemeral: {name: NAME}")
    for key, item in block.entries.items():
        here = sub("x-ephemeral", key)
        if key not in _PLUGIN_TOP:
            raise ctx.unknown_key(key, item.key_line, here, _PLUGIN_TOP)
        if key in found:
            raise ctx.error(
                f"the {key} is given twice ({key}: at line {found[key].key_line} and here)",
                item.key_line,
                here,
                "keep only one of them",
            )
        found[key] = Entry(here, item.key_line, item.value)
    return found


def _services(ctx: Context, root: Map) -> Map:
    entry = root.get("services")
    fix = "write 'services:' with one entry per service, e.g. 'db: {image: postgres:16}'"
    if entry is None:
        raise ctx.error("the spec has no 'services:'", root.line, "", fix)
    services = ctx.mapping(entry.value, "services", fix)
    if not services.entries:
        raise ctx.error("no services", entry.key_line, "services", fix)
    return services


def _name(ctx: Context, root: Map, plugin: Mapping[str, Entry], path: Path) -> str:
    entry = plugin.get("name")
    if entry is None:
        return normalize_name(path.parent.name)
    key = entry.key
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


def _declared(ctx: Context, root: Map, key: str) -> tuple[str, ...]:
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
        kept = ctx.check_keys(settings, kind, here)
        if (setting := kept.get("external")) is not None:
            there = sub(here, "external")
            external = True if isinstance(setting.value, Map) else ctx.boolean(setting.value, there)
            if external:
                ctx.warn(
                    f"external {kind} {name!r}: each environment gets a {kind} of its own "
                    "instead, so tests stay isolated",
                    setting.key_line,
                    there,
                    "drop 'external: true' for tests to silence this warning",
                    category="translated",
                    topic=f"{key}.external",
                )
    return tuple(block.entries)
