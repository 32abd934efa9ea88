"""``ports:`` and ``expose:`` — Compose's short and long forms, ranges (one PortSpec per
port), without fixed host ports unless asked for (with a warning)."""

from __future__ import annotations

import ipaddress
from typing import Literal

from ._context import Context
from ._nodes import Map, Node, Scalar, index, sub
from .model import PortSpec

__all__ = ["parse_expose", "parse_ports"]

_PORTS_FIX = "write ports: [5432] or ports: ['127.0.0.1::5432']; Docker picks the host port"
_LOOPBACK = "127.0.0.1"
_MAX_RANGE = 1000


def parse_ports(ctx: Context, node: Node, key: str) -> tuple[PortSpec, ...]:
    items = ctx.sequence(node, key, _PORTS_FIX).items
    result: list[PortSpec] = []
    for i, item in enumerate(items):
        path = index(key, i)
        result.extend(_long(ctx, item, path) if isinstance(item, Map) else _short(ctx, item, path))
    return tuple(result)


def parse_expose(ctx: Context, node: Node, key: str) -> tuple[int, ...]:
    ports: list[int] = []
    items = ctx.sequence(node, key, "write expose: [3000, '3001/tcp']").items
    for i, item in enumerate(items):
        path = index(key, i)
        text = _port_text(ctx, item, path)
        number, _, protocol = text.partition("/")
        if protocol:
            _protocol(ctx, protocol, item.line, path)
        ports.extend(p for p in _range(ctx, number, item.line, path, "port") if p not in ports)
    return tuple(ports)


def _range(ctx: Context, text: str, line: int, key: str, what: str) -> list[int]:
    """``8000`` or ``8000-8002`` as the ports it names."""
    text = text.strip()
    low_text, dash, high_text = text.partition("-")
    if not dash or not low_text:
        return [_number(ctx, text, line, key, what)]
    low = _number(ctx, low_text, line, key, what)
    high = _number(ctx, high_text, line, key, what)
    if high < low:
        raise ctx.error(
            f"port range {text!r} ends before it starts", line, key, f"write {high}-{low}"
        )
    if high - low >= _MAX_RANGE:
        raise ctx.error(
            f"port range {text!r} names {high - low + 1} ports",
            line,
            key,
            f"publish at most {_MAX_RANGE} ports per range",
        )
    return list(range(low, high + 1))


def _pairs(
    ctx: Context, containers: list[int], hosts: list[int] | None, text: str, line: int, key: str
) -> list[tuple[int, int | None]]:
    if hosts is None:
        return [(port, None) for port in containers]
    if len(hosts) == len(containers):
        return list(zip(containers, hosts, strict=True))
    if len(containers) == 1:
        ctx.warn(
            f"host port range in {text!r}: Docker chooses a host port for {containers[0]}",
            line,
            key,
            f"write just '{containers[0]}'",
            category="note",
        )
        return [(containers[0], None)]
    raise ctx.error(
        f"port ranges of different lengths in {text!r}",
        line,
        key,
        "give as many host ports as container ports, or leave the host ports out",
    )


def _port_text(ctx: Context, node: Node, key: str) -> str:
    scalar = ctx.scalar(node, key, "a port", _PORTS_FIX)
    if isinstance(scalar.value, bool | float):
        raise ctx.error(f"expected a port, got {scalar.text!r}", scalar.line, key, _PORTS_FIX)
    return ctx.text(scalar, key).strip()


def _short(ctx: Context, node: Node, key: str) -> list[PortSpec]:
    text = _port_text(ctx, node, key)
    line = node.line
    spec, _, protocol_text = text.partition("/")
    protocol = _protocol(ctx, protocol_text, line, key) if protocol_text else "tcp"
    if spec.startswith("["):
        address, bracket, rest = spec[1:].partition("]")
        if not bracket or not rest.startswith(":") or rest.count(":") != 2:
            raise ctx.error(
                f"invalid port {text!r}", line, key, "write an IPv6 address as '[::1]::80'"
            )
        parts = [address, *rest[1:].split(":")]
    else:
        parts = spec.split(":")
    if len(parts) > 3:
        raise ctx.error(
            f"invalid port {text!r}",
            line,
            key,
            "use CONTAINER, HOST:CONTAINER or IP:HOST:CONTAINER (IPv6 in brackets)",
        )
    containers = _range(ctx, parts[-1], line, key, "container port")
    published = parts[-2] if len(parts) >= 2 else ""
    host_ip = parts[0] if len(parts) == 3 else ""
    hosts = _range(ctx, published, line, key, "host port") if published else None
    return [
        _port(ctx, container, protocol, host_ip, host_port, line, key)
        for container, host_port in _pairs(ctx, containers, hosts, text, line, key)
    ]


def _long(ctx: Context, node: Map, key: str) -> list[PortSpec]:
    node = Map(ctx.check_keys(node, "service.ports", key), node.line)
    target = node.get("target")
    if target is None:
        raise ctx.error("a port mapping needs target:", node.line, key, "write {target: 5432}")
    target_text = _port_text(ctx, target.value, sub(key, "target"))
    containers = _range(ctx, target_text, target.key_line, sub(key, "target"), "container port")
    hosts = None
    published = node.get("published")
    if published is not None and not (
        isinstance(published.value, Scalar) and published.value.value in (None, "")
    ):
        path = sub(key, "published")
        hosts = _range(
            ctx, _port_text(ctx, published.value, path), published.key_line, path, "host port"
        )
    protocol: Literal["tcp", "udp"] = "tcp"
    if (opt := node.get("protocol")) is not None:
        path = sub(key, "protocol")
        protocol = _protocol(ctx, ctx.text(opt.value, path), opt.key_line, path)
    host_ip = ""
    if (opt := node.get("host_ip")) is not None:
        host_ip = ctx.text(opt.value, sub(key, "host_ip"))
    return [
        _port(ctx, container, protocol, host_ip, host_port, node.line, key)
        for container, host_port in _pairs(ctx, containers, hosts, target_text, node.line, key)
    ]


def _port(
    ctx: Context,
    container: int,
    protocol: Literal["tcp", "udp"],
    host_ip: str,
    host_port: int | None,
    line: int,
    key: str,
) -> PortSpec:
    host_ip = host_ip.strip() or _LOOPBACK
    try:
        address = ipaddress.ip_address(host_ip)
    except ValueError:
        raise ctx.error(
            f"host address {host_ip!r} is not an IP address",
            line,
            key,
            "use 127.0.0.1 or leave it out",
        ) from None
    if not address.is_loopback:
        ctx.warn(
            f"port {container} is published on {host_ip}, reachable from other machines",
            line,
            key,
            "leave the address out to publish on 127.0.0.1 only",
            category="security",
            topic="ports.host_ip",
        )
    if host_port is not None:
        ctx.warn(
            f"fixed host port {host_port} breaks parallel runs (two runs or xdist workers "
            "cannot both publish it)",
            line,
            key,
            f"write just '{container}'; tests ask the service for the host port Docker chose",
            category="isolation",
            topic="ports.published",
        )
    return PortSpec(container, protocol, host_ip, host_port)


def _protocol(ctx: Context, text: str, line: int, key: str) -> Literal["tcp", "udp"]:
    lowered = text.strip().lower()
    if lowered == "tcp":
        return "tcp"
    if lowered == "udp":
        return "udp"
    raise ctx.error(
        f"protocol {text!r} is not supported", line, key, "use tcp, the default, or udp"
    )


def _number(ctx: Context, text: str, line: int, key: str, what: str) -> int:
    text = text.strip()
    if not text.lstrip("-").isdigit() or not text.isascii():
        raise ctx.error(f"{what} {text!r} is not a number", line, key, _PORTS_FIX)
    number = int(text)
    if not 1 <= number <= 65535:
        raise ctx.error(f"{what} {number} is out of range", line, key, "use a port from 1 to 65535")
    return number
