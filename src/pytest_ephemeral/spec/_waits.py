"""``wait:`` — the readiness conditions of a service (all must hold)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from ._context import Context
from ._nodes import Map, Node, Scalar, Seq, describe, index, sub
from ._units import format_duration
from .model import HealthcheckSpec, PortSpec, WaitSpec

__all__ = ["WAIT_KEYS", "ParsedWaits", "parse_command", "parse_waits"]

WAIT_KEYS = ("log", "port", "http", "command", "healthcheck", "completed", "timeout")
_WAIT_FIX = (
    "write e.g. wait: {log: 'ready'}, {port: 5432}, {http: {port: 8000, path: /health}}, "
    "{command: [pg_isready]}, {healthcheck: true} or {completed: true}"
)
_HTTP_KEYS = ("port", "path", "status")


@dataclass(frozen=True, slots=True)
class ParsedWaits:
    waits: tuple[WaitSpec, ...]
    timeout: float | None
    completed_line: int | None  # where 'completed: true' was written, if it was


def parse_command(ctx: Context, node: Node, key: str) -> tuple[str, ...]:
    """A command as a list of strings, or a string split like a shell does."""
    fix = "write a list like ['pg_isready', '-U', 'postgres'] or one command string"
    if isinstance(node, Seq):
        return tuple(ctx.text(item, index(key, i), fix) for i, item in enumerate(node.items))
    text = ctx.text(node, key, fix)
    try:
        return tuple(shlex.split(text))
    except ValueError as exc:
        raise ctx.error(f"cannot split command {text!r}: {exc}", node.line, key, fix) from None


def parse_waits(
    ctx: Context,
    node: Node,
    key: str,
    *,
    ports: tuple[PortSpec, ...],
    healthcheck: HealthcheckSpec | None,
) -> ParsedWaits:
    if isinstance(node, Seq):
        if not node.items:
            raise ctx.error("empty list of waits", node.line, key, _WAIT_FIX)
        blocks = [
            (ctx.mapping(item, index(key, i), _WAIT_FIX), index(key, i))
            for i, item in enumerate(node.items)
        ]
    elif isinstance(node, Map):
        blocks = [(node, key)]
    else:
        raise ctx.error(
            f"expected a mapping or a list of mappings, got {describe(node)}",
            node.line,
            key,
            _WAIT_FIX,
        )
    waits: list[WaitSpec] = []
    timeout: tuple[float, int] | None = None
    completed_line: int | None = None
    published = sorted({p.container_port for p in ports if p.protocol == "tcp"})
    for block, path in blocks:
        if not block.entries:
            raise ctx.error("names no condition", block.line, path, _WAIT_FIX)
        for name, entry in block.entries.items():
            here = sub(path, name)
            value, line = entry.value, entry.key_line
            if name == "timeout":
                seconds = ctx.duration(value, here, positive=True)
                if timeout is not None and timeout[0] != seconds:
                    raise ctx.error(
                        f"second timeout {format_duration(seconds)} differs from "
                        f"{format_duration(timeout[0])} at line {timeout[1]}",
                        line,
                        here,
                        "give the service one wait timeout",
                    )
                timeout = (seconds, line)
            elif name == "log":
                waits.append(_log(ctx, value, here))
            elif name == "port":
                port = ctx.integer(value, here, low=1, high=65535, what="a port")
                _published(ctx, port, published, line, here)
                waits.append(WaitSpec("port", port=port))
            elif name == "http":
                waits.append(_http(ctx, value, here, published))
            elif name == "command":
                command = parse_command(ctx, value, here)
                if not command:
                    raise ctx.error("empty command", line, here, "name the command to run")
                waits.append(WaitSpec("command", command=command))
            elif name in ("healthcheck", "completed"):
                _true(ctx, value, here, name)
                if name == "healthcheck" and healthcheck is not None and healthcheck.disable:
                    raise ctx.error(
                        "waits for a healthcheck, but the service's healthcheck is disabled",
                        line,
                        here,
                        "give the service a healthcheck: test, or wait another way",
                    )
                if name == "completed":
                    completed_line = line
                waits.append(WaitSpec("healthcheck" if name == "healthcheck" else "completed"))
            else:
                raise ctx.unknown_key(name, line, here, WAIT_KEYS)
    return ParsedWaits(tuple(waits), timeout[0] if timeout else None, completed_line)


def _true(ctx: Context, node: Node, key: str, name: str) -> None:
    if not ctx.boolean(node, key):
        raise ctx.error(
            f"'{name}: false' is not a wait condition",
            node.line,
            key,
            f"remove it, or write '{name}: true'",
        )


def _log(ctx: Context, node: Node, key: str) -> WaitSpec:
    pattern = ctx.text(node, key, "write log: 'a regular expression'")
    if not pattern:
        raise ctx.error(
            "empty log pattern matches any line", node.line, key, "give the text to wait for"
        )
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ctx.error(
            f"invalid regular expression {pattern!r}: {exc}",
            node.line,
            key,
            "fix the pattern, in Python re syntax; escape a literal ( [ . * with a backslash",
        ) from None
    return WaitSpec("log", pattern=pattern)


def _http(ctx: Context, node: Node, key: str, published: list[int]) -> WaitSpec:
    if isinstance(node, Scalar):
        port = ctx.integer(node, key, low=1, high=65535, what="a port")
        _published(ctx, port, published, node.line, key)
        return WaitSpec("http", port=port)
    block = ctx.mapping(
        node, key, "write http: 8000 or http: {port: 8000, path: /health, status: 200}"
    )
    for name, entry in block.entries.items():
        if name not in _HTTP_KEYS:
            raise ctx.unknown_key(name, entry.key_line, sub(key, name), _HTTP_KEYS)
    port_entry = block.get("port")
    if port_entry is None:
        raise ctx.error("http wait needs port:", block.line, key, "add port: N")
    port = ctx.integer(port_entry.value, sub(key, "port"), low=1, high=65535, what="a port")
    _published(ctx, port, published, port_entry.key_line, sub(key, "port"))
    path = "/"
    if (opt := block.get("path")) is not None:
        path = ctx.text(opt.value, sub(key, "path"))
        if not path.startswith("/"):
            raise ctx.error(
                f"path {path!r} does not start with '/'",
                opt.key_line,
                sub(key, "path"),
                f"write '/{path}'",
            )
    status = 200
    if (opt := block.get("status")) is not None:
        status = ctx.integer(
            opt.value, sub(key, "status"), low=100, high=599, what="an HTTP status"
        )
    return WaitSpec("http", port=port, path=path, status=status)


def _published(ctx: Context, port: int, published: list[int], line: int, key: str) -> None:
    if port not in published:
        have = f"only {', '.join(map(str, published))}" if published else "no tcp port"
        raise ctx.error(
            f"waits on port {port}, but the service publishes {have}",
            line,
            key,
            f"add {port} to the service's ports:, so the host can reach it",
        )
