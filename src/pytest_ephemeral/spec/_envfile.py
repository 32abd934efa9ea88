"""``env_file:`` — read ``KEY=value`` files (dotenv style) relative to the spec."""

from __future__ import annotations

import re
from collections import ChainMap
from collections.abc import Mapping
from pathlib import Path

from ._context import Context, absolute_path, display_path
from ._interpolate import InterpolationError, interpolate
from ._nodes import Map, Node, Seq, index, sub

__all__ = ["read_dotenv", "read_env_files"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_FIX = "write env_file: .env, a list of files, or [{path: .env, required: false}]"


def read_env_files(ctx: Context, node: Node, key: str) -> dict[str, str]:
    """The variables of every file, in order (a later file wins)."""
    result: dict[str, str] = {}
    items = list(enumerate(node.items)) if isinstance(node, Seq) else [(None, node)]
    for i, item in items:
        path = key if i is None else index(key, i)
        required, raw = True, False
        line = item.line
        if isinstance(item, Map):
            for name, entry in item.entries.items():
                if name not in ("path", "required", "format"):
                    raise ctx.unknown_key(
                        name, entry.key_line, sub(path, name), ("path", "required", "format")
                    )
            path_entry = item.get("path")
            if path_entry is None:
                raise ctx.error("env_file entry needs path:", item.line, path, _FIX)
            text = ctx.text(path_entry.value, sub(path, "path"))
            line = path_entry.key_line
            if (opt := item.get("required")) is not None:
                required = ctx.boolean(opt.value, sub(path, "required"))
            if (opt := item.get("format")) is not None:
                raw = ctx.text(opt.value, sub(path, "format")) == "raw"
        else:
            text = ctx.text(item, path, _FIX)
        if not required and not absolute_path(text, ctx.base_of(line)).is_file():
            continue
        file = ctx.local_path(text, line, path, kind="file", what="env_file", hashed=True)
        display = display_path(file)
        result.update(_parse(ctx, file, display, raw, path))
    return result


def read_dotenv(ctx: Context, file: Path, lookup: Mapping[str, str]) -> dict[str, str]:
    """The variables of a project's ``.env`` (none when there is no such file); its
    own ``${VAR}`` see ``lookup`` and the values above them, as Compose reads it."""
    if not file.is_file():
        return {}
    saved = ctx.environ
    ctx.environ = lookup
    try:
        return _parse(ctx, file, display_path(file), False, ".env")
    finally:
        ctx.environ = saved


def _parse(ctx: Context, file: Path, display: str, raw: bool, key: str) -> dict[str, str]:
    try:
        content = file.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        data = file.read_bytes()
        raise ctx.error(
            f"not a text file: byte 0x{data[exc.start]:02x} is not valid UTF-8",
            data[: exc.start].count(b"\n") + 1,
            key,
            "save it as UTF-8",
            file=display,
        ) from None
    except OSError as exc:
        raise ctx.error(
            f"cannot read: {exc.strerror or exc}", None, key, "check it", file=display
        ) from None
    values: dict[str, str] = {}
    lookup = ChainMap(values, dict(ctx.environ))
    for number, line in enumerate(content.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export "):
            stripped = stripped[len("export ") :].lstrip()
        name, equals, value = stripped.partition("=")
        name = name.strip()
        if not _NAME.fullmatch(name):
            raise ctx.error(
                f"invalid variable name {name!r}",
                number,
                key,
                "write NAME=value, one per line",
                file=display,
            )
        if not equals:
            if name in ctx.environ:
                values[name] = ctx.environ[name]
            continue
        values[name] = _value(ctx, value.strip(), lookup, raw, display, number, sub(key, name))
    return values


def _value(
    ctx: Context,
    text: str,
    lookup: ChainMap[str, str],
    raw: bool,
    display: str,
    line: int,
    name: str,
) -> str:
    quote = text[:1]
    if quote in ("'", '"'):
        end = _closing_quote(text, quote)
        if end < 0:
            raise ctx.error(
                f"unterminated {quote} quote",
                line,
                name,
                "close the quote on the same line",
                file=display,
            )
        rest = text[end + 1 :].strip()
        if rest and not rest.startswith("#"):
            raise ctx.error(
                f"unexpected text after the quoted value: {rest!r}",
                line,
                name,
                "put comments after ' #'",
                file=display,
            )
        body = text[1:end]
        if quote == "'":
            return body
        body = re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), body)
    else:
        body = re.split(r"\s+#", text, maxsplit=1)[0].rstrip()
    if raw:
        return body

    def unset(variable: str) -> None:
        ctx.warn(
            f"variable {variable} is not set, using an empty string",
            line,
            name,
            f"set it, or write ${{{variable}:-default}}",
            file=display,
        )

    try:
        return interpolate(body, lookup, unset)
    except InterpolationError as exc:
        raise ctx.error(exc.message, line, name, exc.fix, file=display) from None


def _closing_quote(text: str, quote: str) -> int:
    i = 1
    while i < len(text):
        if quote == '"' and text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i
        i += 1
    return -1
