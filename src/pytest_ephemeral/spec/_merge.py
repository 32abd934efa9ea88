"""Several Compose files as one: ``-f a -f b`` merging, ``!reset``/``!override``,
``extends`` (same file or another) and ``include``, on located nodes.

Everything here works on :mod:`._nodes` values before any key is read, as
Compose does: a value keeps the :class:`~._nodes.Line` (and so the file) it was
written at, so errors and relative paths still refer to the right file.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import SpecError
from ._context import Context, absolute_path, display_path
from ._nodes import Entry, Map, Node, Scalar, Seq, Source, describe, index, source_of, sub
from ._yaml import decode, parse_document, read_bytes

__all__ = ["Loader", "merge", "strip_tags"]

# service keys whose lists are replaced, not appended, when files are merged
_REPLACED = {"command", "entrypoint"}
# service keys written as a mapping or as a list of NAME=value / names
_DUAL = {
    "environment": "=",
    "labels": "=",
    "annotations": "=",
    "sysctls": "=",
    "extra_hosts": "=:",
    "depends_on": "",
    "networks": "",
}
_UNIQUE = {"volumes", "ports", "secrets", "configs"}
# top-level sections an included file contributes
_SECTIONS = ("services", "networks", "volumes", "secrets", "configs")
_MAX_EXTENDS = 32


def _reset(node: Node) -> bool:
    return node.tag == "!reset"


def _untagged(node: Node) -> Node:
    return replace(node, tag=None) if node.tag is not None else node


def merge(base: Node, over: Node, path: tuple[str, ...] = ()) -> Node:
    """``over`` merged onto ``base`` by Compose's rules (mappings merged key by key,
    lists appended, ``command``/``entrypoint``/``healthcheck.test`` replaced,
    ``ports``/``volumes``/``secrets``/``configs`` merged by their unique key,
    ``!override`` replaces, ``!reset`` removes)."""
    if over.tag == "!override":
        return over
    key = path[-1] if path else ""
    in_service = len(path) == 3 and path[0] == "services"
    if in_service and key in _DUAL:
        base, over = _as_map(base, _DUAL[key]), _as_map(over, _DUAL[key])
    if isinstance(base, Map) and isinstance(over, Map):
        entries = dict(base.entries)
        for name, entry in over.entries.items():
            if _reset(entry.value):
                entries.pop(name, None)
                continue
            if name in entries and not (in_service and key == "depends_on"):
                value = merge(entries[name].value, entry.value, (*path, name))
                entries[name] = Entry(name, entry.key_line, value)
            else:
                entries[name] = entry
        return Map(entries, over.line, over.tag)
    if isinstance(base, Seq) and isinstance(over, Seq):
        if (in_service and key in _REPLACED) or path[-2:] == ("healthcheck", "test"):
            return over
        if in_service and key in _UNIQUE:
            return _merge_unique(base, over, key)
        items = list(base.items)
        texts = {_text(item) for item in items if isinstance(item, Scalar)}
        items.extend(
            item for item in over.items if not (isinstance(item, Scalar) and _text(item) in texts)
        )
        return Seq(tuple(items), over.line, over.tag)
    return over


def _text(node: Scalar) -> str:
    return node.text


def _as_map(node: Node, separators: str) -> Node:
    """A list of ``NAME=value`` (or of names) as the mapping it means."""
    if not isinstance(node, Seq):
        return node
    entries: dict[str, Entry] = {}
    for item in node.items:
        if not isinstance(item, Scalar):
            return node  # not this list's form: the parser reports it
        text = item.text
        cut = min((text.find(s) for s in separators if s in text), default=-1)
        if cut < 0:
            entries[text] = Entry(text, item.line, Scalar(None, "", item.line))
        else:
            value = text[cut + 1 :]
            entries[text[:cut]] = Entry(text[:cut], item.line, Scalar(value, value, item.line))
    return Map(entries, node.line, node.tag)


def _unique_key(node: Node, key: str) -> str:
    if isinstance(node, Map):
        if key == "ports":
            names = ("host_ip", "target", "published", "protocol")
            return "|".join(_scalar_text(node.get(p)) for p in names)
        if key in ("secrets", "configs"):
            return _scalar_text(node.get("target")) or _scalar_text(node.get("source"))
        return _scalar_text(node.get("target"))
    if isinstance(node, Scalar):
        if key == "volumes":
            parts = node.text.split(":")
            return parts[1] if len(parts) >= 2 else parts[0]
        return node.text
    return repr(node)


def _scalar_text(entry: Entry | None) -> str:
    if entry is None or not isinstance(entry.value, Scalar):
        return ""
    return entry.value.text


def _merge_unique(base: Seq, over: Seq, key: str) -> Seq:
    merged: dict[str, Node] = {_unique_key(item, key): item for item in base.items}
    for item in over.items:
        unique = _unique_key(item, key)
        previous = merged.get(unique)
        if isinstance(previous, Map) and isinstance(item, Map):
            merged[unique] = merge(previous, item, ("mount",))
        else:
            merged.pop(unique, None)
            merged[unique] = item
    return Seq(tuple(merged.values()), over.line, over.tag)


def strip_tags(node: Node) -> Node:
    """``node`` without merge tags: ``!reset`` entries dropped, ``!override`` plain."""
    if isinstance(node, Map):
        entries = {
            name: Entry(name, entry.key_line, strip_tags(entry.value))
            for name, entry in node.entries.items()
            if not _reset(entry.value)
        }
        return Map(entries, node.line)
    if isinstance(node, Seq):
        return Seq(tuple(strip_tags(item) for item in node.items if not _reset(item)), node.line)
    return _untagged(node)


@dataclass
class Loader:
    """Reads the files of one spec (with ``include`` and ``extends``) into one tree."""

    ctx: Context
    read_dotenv: Callable[[Path, Mapping[str, str]], Mapping[str, str]]
    _documents: dict[tuple[Path, Path], Map] = field(default_factory=dict)
    files: dict[Path, None] = field(default_factory=dict)

    def document(self, path: Path, base: Path, environ: Mapping[str, str]) -> Map:
        """The top-level mapping of the file at ``path`` (read once per base folder)."""
        cached = self._documents.get((path, base))
        if cached is not None:
            return cached
        display = display_path(path)
        source = Source(path, display, base, environ)
        root = parse_document(decode(read_bytes(path, display), display), display, source)
        self._documents[(path, base)] = root
        self.files[path] = None
        return root

    def load(
        self, path: Path, base: Path, environ: Mapping[str, str], stack: tuple[Path, ...] = ()
    ) -> Map:
        """One file with its includes merged in and its extends applied."""
        root = self.document(path, base, environ)
        root = self._include(root, path, environ, (*stack, path))
        return self._extends(root, path, base, environ)

    # -- include ----------------------------------------------------------------

    def _include(
        self, root: Map, path: Path, environ: Mapping[str, str], stack: tuple[Path, ...]
    ) -> Map:
        entry = root.get("include")
        if entry is None:
            return root
        ctx = self.ctx
        fix = "write include: [other/compose.yaml] or include: [{path: other/compose.yaml}]"
        items = ctx.sequence(entry.value, "include", fix).items
        entries = {k: v for k, v in root.entries.items() if k != "include"}
        owners: dict[tuple[str, str], str] = {}
        for i, item in enumerate(items):
            here = index("include", i)
            folder = path.parent
            files: list[tuple[str, int]]
            project: Path | None = None
            env_files: list[tuple[str, int]] = []
            if isinstance(item, Map):
                kept = ctx.check_keys(item, "include", here)
                if "path" not in kept:
                    raise ctx.error("an include needs path:", item.line, here, fix)
                files = ctx.texts(kept["path"].value, sub(here, "path"))
                if (opt := kept.get("project_directory")) is not None:
                    text = ctx.text(opt.value, sub(here, "project_directory"))
                    project = absolute_path(text, folder)
                if (opt := kept.get("env_file")) is not None:
                    env_files = ctx.texts(opt.value, sub(here, "env_file"))
            else:
                files = [(ctx.text(item, here, fix), item.line)]
            targets = [(absolute_path(text, folder), line) for text, line in files]
            for target, line in targets:
                if target in stack:
                    chain = " -> ".join(display_path(p) for p in (*stack, target))
                    raise ctx.error(
                        f"include cycle: {chain}", line, here, "remove one of these includes"
                    )
                if not target.is_file():
                    raise ctx.error(
                        f"included file {display_path(target)} not found",
                        line,
                        here,
                        "fix the path; it starts at the including file's folder",
                    )
            first = targets[0][0]
            base = project or first.parent
            own_env = self._include_env(env_files, folder, base, environ, here)
            tree: Node | None = None
            for target, _ in targets:
                loaded = self.load(target, base, own_env, stack)
                tree = loaded if tree is None else merge(tree, loaded)
            if not isinstance(tree, Map):  # pragma: no cover - load returns a Map
                continue
            for section in _SECTIONS:
                entries = self._add_section(entries, tree, section, first, owners, path)
        return Map(entries, root.line, root.tag)

    def _include_env(
        self,
        env_files: list[tuple[str, int]],
        folder: Path,
        base: Path,
        environ: Mapping[str, str],
        here: str,
    ) -> Mapping[str, str]:
        host = environ.maps[0] if isinstance(environ, ChainMap) else environ
        if not env_files:
            return ChainMap(dict(host), dict(self.read_dotenv(base / ".env", host)))
        values: dict[str, str] = {}
        for text, line in env_files:
            file = absolute_path(text, folder)
            if not file.is_file():
                raise self.ctx.error(
                    f"env_file {text!r} of the include not found at {file}", line, here
                )
            values.update(self.read_dotenv(file, host))
        return ChainMap(dict(host), values)

    def _add_section(
        self,
        entries: dict[str, Entry],
        tree: Map,
        section: str,
        included: Path,
        owners: dict[tuple[str, str], str],
        path: Path,
    ) -> dict[str, Entry]:
        ctx = self.ctx
        theirs = tree.get(section)
        if theirs is None or not isinstance(theirs.value, Map):
            return entries
        mine = entries.get(section)
        block = dict(mine.value.entries) if mine is not None and isinstance(mine.value, Map) else {}
        shown = display_path(included)
        for name, item in theirs.value.entries.items():
            if name in block:
                owner = owners.get((section, name), display_path(path))
                raise ctx.error(
                    f"{section[:-1]} {name!r} of the included {shown} is also defined in {owner}",
                    block[name].key_line,
                    sub(section, name),
                    "rename one of them; Compose refuses the conflict too",
                )
            block[name] = item
            owners[(section, name)] = shown
        line = mine.key_line if mine is not None else theirs.key_line
        entries[section] = Entry(section, line, Map(block, line))
        return entries

    # -- extends ------------------------------------------------------------------

    def _extends(self, root: Map, path: Path, base: Path, environ: Mapping[str, str]) -> Map:
        services = root.get("services")
        if services is None or not isinstance(services.value, Map):
            return root
        if not any(
            isinstance(e.value, Map) and "extends" in e.value.entries
            for e in services.value.entries.values()
        ):
            return root
        resolved = {
            name: Entry(name, entry.key_line, self._service(root, path, base, environ, name, ()))
            for name, entry in services.value.entries.items()
        }
        entries = dict(root.entries)
        entries["services"] = Entry(
            "services", services.key_line, Map(resolved, services.value.line)
        )
        return Map(entries, root.line, root.tag)

    def _service(
        self,
        root: Map,
        path: Path,
        base: Path,
        environ: Mapping[str, str],
        name: str,
        chain: tuple[tuple[Path, str], ...],
    ) -> Node:
        ctx = self.ctx
        services = root.get("services")
        entry = services.value.get(name) if services and isinstance(services.value, Map) else None
        if entry is None:  # pragma: no cover - the caller checks
            raise SpecError(f"no service {name!r}", file=display_path(path))
        node = entry.value
        if not isinstance(node, Map) or "extends" not in node.entries:
            return node
        if len(chain) > _MAX_EXTENDS:
            raise ctx.error(
                f"extends nested more than {_MAX_EXTENDS} deep",
                entry.key_line,
                sub("services", name),
                "flatten the chain",
            )
        here = sub(sub("services", name), "extends")
        written = node.entries["extends"]
        fix = "write extends: base, or extends: {service: base, file: other.yaml}"
        file_text: str | None = None
        if isinstance(written.value, Map):
            kept = ctx.check_keys(written.value, "extends", here)
            if "service" not in kept:
                raise ctx.error("extends needs service:", written.key_line, here, fix)
            target = ctx.text(kept["service"].value, sub(here, "service"))
            if (opt := kept.get("file")) is not None:
                file_text = ctx.text(opt.value, sub(here, "file"))
        elif isinstance(written.value, Scalar) and written.value.value is not None:
            target = ctx.text(written.value, here, fix)
        else:
            raise ctx.error(
                f"expected a service name or a mapping, got {describe(written.value)}",
                written.key_line,
                here,
                fix,
            )
        other_path, other_root, other_base = path, root, base
        if file_text is not None:
            origin = source_of(written.key_line)
            folder = origin.path.parent if origin is not None else path.parent
            other_path = absolute_path(file_text, folder)
            if not other_path.is_file():
                raise ctx.error(
                    f"extended file {file_text!r} not found at {other_path}",
                    written.key_line,
                    here,
                    "fix the path; it starts at this file's folder",
                )
            other_base = other_path.parent
            other_root = self.document(other_path, other_base, environ)
        link = (other_path, target)
        if link in chain or (path, name) == link:
            shown = " -> ".join(f"{n}" for _, n in (*chain, (path, name), link))
            raise ctx.error(
                f"extends cycle: {shown}", written.key_line, here, "remove one of these extends"
            )
        others = other_root.get("services")
        if (
            others is None
            or not isinstance(others.value, Map)
            or target not in others.value.entries
        ):
            where = f" in {display_path(other_path)}" if file_text is not None else ""
            known = (
                ", ".join(sorted(others.value.entries))
                if others is not None and isinstance(others.value, Map)
                else "none"
            )
            raise ctx.error(
                f"extends unknown service {target!r}{where} (known: {known})",
                written.key_line,
                here,
                "fix the service name",
            )
        parent = self._service(
            other_root, other_path, other_base, environ, target, (*chain, (path, name))
        )
        own = Map({k: v for k, v in node.entries.items() if k != "extends"}, node.line)
        if not isinstance(parent, Map):
            return own
        return merge(parent, own, ("services", name))
