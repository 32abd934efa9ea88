"""State of one load: the file, the environment, warnings, typed readers of nodes.

Every value of the spec is read through :class:`Context`, so every string is
interpolated and every type error is reported the same way, with its place.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import SpecError
from ._interpolate import InterpolationError, interpolate
from ._keys import DECISIONS, Shape
from ._nodes import Entry, Line, Map, Node, Scalar, Seq, Source, describe, index, sub
from ._units import DURATION_FORMS, parse_duration
from .model import Location, SpecWarning, WarningCategory

__all__ = ["Context", "absolute_path", "did_you_mean", "display_path"]

_NUMBER_TEXT = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """``"did you mean 'image'?"`` when ``word`` is close to one of ``candidates``."""
    options = sorted(set(candidates))
    lowered = {c.lower(): c for c in options}
    match = lowered.get(word.lower()) or lowered.get(word.lower().replace("-", "_"))
    if match is None:
        close = difflib.get_close_matches(word, options, n=1, cutoff=0.7)
        match = close[0] if close else None
    return f"did you mean '{match}'?" if match else None


def absolute_path(path: Path | str, base: Path | None = None) -> Path:
    """``path`` (``~`` expanded) made absolute against ``base`` (default: the working
    folder) and normalised, without resolving symbolic links."""
    expanded = Path(path).expanduser()
    if not expanded.is_absolute():
        expanded = (base if base is not None else Path.cwd()) / expanded
    return Path(os.path.normpath(expanded))


def display_path(path: Path) -> str:
    """``path`` as a person wants to read it: relative to the working folder when
    inside it, else absolute."""
    absolute = absolute_path(path)
    try:
        relative = os.path.relpath(absolute, Path.cwd())
    except (ValueError, OSError):
        return str(absolute)
    return str(absolute) if relative.startswith("..") else relative


def _got(scalar: Scalar, value: object) -> str:
    """What ``scalar`` is, and what it became when interpolation changed it."""
    if isinstance(scalar.value, str) and isinstance(value, str) and value != scalar.value.strip():
        return f"{describe(scalar)}, which is {value!r}"
    return describe(scalar)


def _one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass(slots=True)
class _Pending:
    """A warning being gathered: the first place, and how many places share it."""

    category: WarningCategory
    key: str
    text: str  # the first place's one-line message
    lines: list[int] = field(default_factory=list)  # distinct lines, in order
    places: list[tuple[int, str]] = field(default_factory=list)  # (line, key path)


_SHAPES: dict[Shape, str] = {
    "string": "a string",
    "boolean": "true or false",
    "number": "a number",
    "mapping": "a mapping",
    "list": "a list",
    "string_or_list": "a string or a list",
    "dict": "a mapping or a list of NAME=value",
}


_PREFIXES = {"top": "", "service": "", "network": "networks", "volume": "volumes"}
_PREFIXES |= {"secret": "secrets", "config": "configs"}


def _topic(scope: str, name: str) -> str:
    """The key a warning is about, as a person writes it (``ports.mode``, ``version``)."""
    prefix = _PREFIXES.get(scope, scope.removeprefix("service."))
    return f"{prefix}.{name}" if prefix else name


class Context:
    """One load of one spec: where it is, what environment it sees, what it warned."""

    def __init__(
        self,
        *,
        file: Path,
        display: str,
        environ: Mapping[str, str],
        source: Source | None = None,
    ) -> None:
        self.file = file
        self.root = file.parent if source is None else source.base
        self.display = display
        self.environ = environ
        self.source = source
        self.warnings: list[str] = []
        self._pending: dict[tuple[str, str], _Pending] = {}
        self.files: dict[Path, None] = {}  # files whose content the hash covers, in order

    # -- messages -------------------------------------------------------------

    def error(
        self,
        message: str,
        line: int | None,
        key: str,
        fix: str | None = None,
        *,
        file: str | None = None,
    ) -> SpecError:
        """A SpecError at ``line``/``key`` of the spec (or of ``file``, shown as given).

        A :class:`Line` of another file (an override, an extended or included file)
        names that file."""
        if file is None and isinstance(line, Line):
            file = line.source.display
        return SpecError(
            _one_line(message),
            file=file or self.display,
            line=line,
            key=(key if key.isprintable() else repr(key)) or None,
            fix=_one_line(fix) if fix else None,
        )

    def warn(
        self,
        message: str,
        line: int | None,
        key: str,
        fix: str | None = None,
        *,
        file: str | None = None,
        category: WarningCategory = "note",
        topic: str | None = None,
    ) -> None:
        """Warn once per ``topic`` and file: later places only add to the count.

        ``topic`` is the key the warning is about, without the service
        (``container_name``); without one, each distinct message is its own."""
        error = self.error(message, line, key, fix, file=file)
        text = str(error)
        shown = str(error.file) if error.file is not None else self.display
        group = (topic or text, shown)
        pending = self._pending.get(group)
        if pending is None:
            pending = _Pending(category, topic or key, text)
            self._pending[group] = pending
            self.warnings.append(text)  # placeholder: replaced by diagnostics()
        place = (int(line) if line is not None else 0, key)
        if place not in pending.places:
            pending.places.append(place)
            if line is not None and line not in pending.lines:
                pending.lines.append(line)

    def diagnostics(self) -> tuple[SpecWarning, ...]:
        """The warnings, once per key and file, with their counts (in first-seen order)."""
        result = []
        for (_, shown), pending in self._pending.items():
            count = max(len(pending.places), 1)
            text = pending.text
            if count > 1:
                others = ", ".join(str(n) for n in pending.lines[1:6])
                more = ", ..." if len(pending.lines) > 6 else ""
                also = f"; also line(s) {others}{more}" if others else ""
                text += f" [{count} places{also}]"
            first = pending.lines[0] if pending.lines else None
            result.append(
                SpecWarning(
                    pending.category,
                    pending.key,
                    shown,
                    int(first) if first is not None else None,
                    count,
                    text,
                )
            )
        return tuple(result)

    def location(self, line: int | None, key: str) -> Location:
        if isinstance(line, Line):
            return Location(line.source.path, int(line), key)
        return Location(self.file, line, key)

    def base_of(self, line: int | None) -> Path:
        """The folder relative paths written at ``line`` start at."""
        return line.source.base if isinstance(line, Line) else self.root

    def check_keys(
        self, block: Map, scope: str, path: str, *, plugin: Iterable[str] = ()
    ) -> dict[str, Entry]:
        """The keys of ``block`` that are honoured in ``scope`` (Compose's decision
        table), plus ``plugin`` keys; warns about the warned ones (once per key and
        file), refuses the refused ones, skips ``x-`` extensions, and calls any other
        key unknown."""
        table = DECISIONS[scope]
        extra = tuple(plugin)
        kept: dict[str, Entry] = {}
        for name, entry in block.entries.items():
            here = sub(path, name)
            decision = table.get(name)
            if name in extra:
                kept[name] = entry
            elif decision is None:
                if name.startswith("x-"):
                    continue
                raise self.unknown_key(
                    name, entry.key_line, here, (*table, *extra), extensions=True
                )
            elif decision.kind == "refused":
                raise self.error(
                    f"Compose key '{name}' is not supported here: {decision.why}",
                    entry.key_line,
                    here,
                    decision.fix,
                )
            elif decision.kind == "warned":
                self.check_shape(entry, decision.shape, here)
                self.warn(
                    f"Compose key '{name}' is ignored: {decision.why}",
                    entry.key_line,
                    here,
                    "remove it to silence this warning",
                    category="ignored",
                    topic=_topic(scope, name),
                )
            else:
                kept[name] = entry
        return kept

    def check_shape(self, entry: Entry, shape: Shape, key: str) -> None:
        """Refuse a value Compose would refuse for a key the plugin ignores."""
        node = entry.value
        if shape == "any" or (isinstance(node, Scalar) and node.value is None):
            return
        ok = {
            "string": isinstance(node, Scalar),
            "boolean": isinstance(node, Scalar)
            and (isinstance(node.value, bool) or str(node.value).lower() in ("true", "false")),
            "number": isinstance(node, Scalar) and not isinstance(node.value, bool),
            "mapping": isinstance(node, Map),
            "list": isinstance(node, Seq),
            "string_or_list": isinstance(node, Scalar | Seq),
            "dict": isinstance(node, Map | Seq),
        }[shape]
        if not ok:
            raise self.error(
                f"expected {_SHAPES[shape]}, got {describe(node)} (Compose refuses it too)",
                entry.key_line,
                key,
                "fix the value, or remove the key (it is ignored here)",
            )

    def unknown_key(
        self, key: str, line: int, path: str, known: Iterable[str], *, extensions: bool = False
    ) -> SpecError:
        """'unknown key' with a 'did you mean', else the keys allowed here (or, where
        ``x-`` extension fields are allowed, how to keep the key as one)."""
        known = tuple(known)
        hint = did_you_mean(key, known)
        if hint is None and extensions:
            hint = "remove it, or prefix it with 'x-' to keep it as an extension field"
        elif hint is None:
            hint = f"use one of: {', '.join(known)}"
        return self.error("unknown key", line, path, hint)

    # -- node readers ---------------------------------------------------------

    def mapping(self, node: Node, key: str, fix: str | None = None) -> Map:
        if isinstance(node, Map):
            return node
        raise self.error(f"expected a mapping, got {describe(node)}", node.line, key, fix)

    def sequence(self, node: Node, key: str, fix: str | None = None) -> Seq:
        if isinstance(node, Seq):
            return node
        raise self.error(f"expected a list, got {describe(node)}", node.line, key, fix)

    def scalar(self, node: Node, key: str, what: str, fix: str | None = None) -> Scalar:
        if isinstance(node, Scalar) and node.value is not None:
            return node
        raise self.error(f"expected {what}, got {describe(node)}", node.line, key, fix)

    def text(self, node: Node, key: str, fix: str | None = None) -> str:
        """A string (numbers and booleans as written), interpolated."""
        scalar = self.scalar(node, key, "a string", fix)
        if isinstance(scalar.value, str):
            return self.interpolate(scalar.value, scalar.line, key)
        return scalar.text

    def interpolate(self, text: str, line: int, key: str) -> str:
        def unset(name: str) -> None:
            self.warn(
                f"variable {name} is not set, using an empty string",
                line,
                key,
                f"set it, or write ${{{name}:-default}}",
                category="interpolation",
                topic=f"${name}",
            )

        environ = line.source.environ if isinstance(line, Line) else self.environ
        try:
            return interpolate(text, environ, unset)
        except InterpolationError as exc:
            raise self.error(exc.message, line, key, exc.fix) from None

    def integer(
        self,
        node: Node,
        key: str,
        *,
        low: int,
        high: int | None = None,
        what: str = "a whole number",
    ) -> int:
        scalar = self.scalar(node, key, what)
        value: object = scalar.value
        if isinstance(value, str):
            value = self.interpolate(value, scalar.line, key).strip()
            if isinstance(value, str) and re.fullmatch(r"[-+]?[0-9]+", value):
                value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(f"expected {what}, got {_got(scalar, value)}", scalar.line, key)
        if value < low or (high is not None and value > high):
            bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
            raise self.error(f"{value} is out of range", scalar.line, key, f"use {what} {bounds}")
        return value

    def number(self, node: Node, key: str, fix: str | None = None) -> float:
        scalar = self.scalar(node, key, "a number", fix)
        value: object = scalar.value
        if isinstance(value, str):
            value = self.interpolate(value, scalar.line, key).strip()
            if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value):
                value = float(value)
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise self.error(f"expected a number, got {_got(scalar, value)}", scalar.line, key, fix)
        return float(value)

    def boolean(self, node: Node, key: str) -> bool:
        scalar = self.scalar(node, key, "true or false")
        value: object = scalar.value
        if isinstance(value, str):
            value = self.interpolate(value, scalar.line, key).strip().lower()
            value = {"true": True, "false": False}.get(str(value), value)
        if not isinstance(value, bool):
            raise self.error(f"expected true or false, got {_got(scalar, value)}", scalar.line, key)
        return value

    def duration(self, node: Node, key: str, *, positive: bool) -> float:
        scalar = self.scalar(node, key, "a duration", f"use {DURATION_FORMS}")
        value = scalar.value
        if isinstance(value, str):
            value = self.interpolate(value, scalar.line, key)
        if isinstance(value, bool) or value is None:  # pragma: no cover - scalar() refuses null
            raise self.error(f"expected a duration, got {describe(scalar)}", scalar.line, key)
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise self.error(
                f"duration {scalar.text!r} {exc}", scalar.line, key, f"use {DURATION_FORMS}"
            ) from None
        if positive and seconds <= 0:
            raise self.error(
                f"duration {scalar.text!r} must be more than zero",
                scalar.line,
                key,
                "give a positive duration, e.g. 30s",
            )
        return seconds

    def texts(self, node: Node, key: str, fix: str | None = None) -> list[tuple[str, int]]:
        """A string or a list of strings, each with its line."""
        if isinstance(node, Seq):
            return [
                (self.text(item, index(key, i), fix), item.line)
                for i, item in enumerate(node.items)
            ]
        if isinstance(node, Scalar) and node.value is not None:
            return [(self.text(node, key, fix), node.line)]
        raise self.error(
            f"expected a string or a list of strings, got {describe(node)}", node.line, key, fix
        )

    def pairs(
        self, node: Node, key: str, *, bare: Literal["host", "empty"], fix: str
    ) -> dict[str, str]:
        """A ``{K: V}`` mapping or a ``[K=V]`` list. A bare ``K`` (or ``K:`` with no
        value) takes the host's value (``bare="host"``, skipped if unset) or is
        empty (``bare="empty"``)."""
        result: dict[str, str] = {}
        if isinstance(node, Map):
            for name, entry in node.entries.items():
                path = sub(key, name)
                value = entry.value
                if isinstance(value, Scalar) and value.value is None:
                    self._bare(result, name, bare)
                elif isinstance(value, Scalar):
                    result[name] = self.text(value, path)
                else:
                    raise self.error(
                        f"expected a string value, got {describe(value)}", entry.key_line, path, fix
                    )
            return result
        if isinstance(node, Seq):
            lines: dict[str, int] = {}
            for i, item in enumerate(node.items):
                path = index(key, i)
                raw = self.text(item, path, fix)
                name, equals, value_text = raw.partition("=")
                if not name or name != name.strip():
                    raise self.error(
                        f"invalid entry {raw!r}: no name before '='", item.line, path, fix
                    )
                if name in lines:
                    raise self.error(
                        f"'{name}' is set twice (also at line {lines[name]})",
                        item.line,
                        path,
                        "keep only one of them",
                    )
                lines[name] = item.line
                if equals:
                    result[name] = value_text
                else:
                    self._bare(result, name, bare)
            return result
        raise self.error(
            f"expected a mapping or a list of NAME=value, got {describe(node)}", node.line, key, fix
        )

    def _bare(self, result: dict[str, str], name: str, bare: Literal["host", "empty"]) -> None:
        if bare == "empty":
            result[name] = ""
        elif name in self.environ:
            result[name] = self.environ[name]

    # -- files ----------------------------------------------------------------

    def local_path(
        self,
        text: str,
        line: int | None,
        key: str,
        *,
        kind: Literal["file", "dir", "any"],
        what: str,
        hashed: bool = False,
    ) -> Path:
        """``text`` resolved against the spec's folder; it must exist (as ``kind``)."""
        if not text.strip():
            raise self.error(f"empty {what} path", line, key, "name a path relative to the spec")
        try:
            path = absolute_path(text, self.base_of(line))
            exists = path.exists()
            is_file = path.is_file()
            is_dir = path.is_dir()
        except (OSError, ValueError) as exc:
            raise self.error(f"invalid {what} path {text!r}: {exc}", line, key) from None
        if not exists:
            raise self.error(
                f"{what} {text!r} not found at {path}",
                line,
                key,
                "fix the path; relative paths start at the spec's folder",
            )
        if kind == "file" and not is_file:
            raise self.error(f"{what} {text!r} is not a file ({path})", line, key, "name a file")
        if kind == "dir" and not is_dir:
            raise self.error(
                f"{what} {text!r} is not a folder ({path})", line, key, "name a folder"
            )
        if hashed and is_file:
            self.files[path] = None
        return path
