"""``seed:`` — the data steps run, in order, once a service is ready."""

from __future__ import annotations

import re

from ._context import Context
from ._nodes import Map, Node, index, sub
from .model import Location, SeedKind, SeedStep

__all__ = ["SEED_KINDS", "parse_seed"]

SEED_KINDS: tuple[SeedKind, ...] = ("sql", "csv", "dump", "python", "redis")
_EXTRA: dict[SeedKind, tuple[str, ...]] = {
    "sql": ("database",),
    "csv": ("database",),
    "dump": ("sanitize", "database"),
    "python": (),
    "redis": (),
}
_TARGET = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
_STEP_FIX = (
    "start each step with one of sql: FILE, csv: {table, file}, dump: FILE, "
    "python: module:function, redis: FILE"
)


def parse_seed(ctx: Context, node: Node, key: str) -> tuple[SeedStep, ...]:
    items = ctx.sequence(node, key, "write seed: as a list of steps, e.g. '- sql: seed/schema.sql'")
    return tuple(
        _step(ctx, ctx.mapping(item, index(key, i), _STEP_FIX), index(key, i))
        for i, item in enumerate(items.items)
    )


def _kind_of(ctx: Context, step: Map, key: str) -> SeedKind:
    kinds = [kind for kind in SEED_KINDS if kind in step.entries]
    if not kinds:
        names = ", ".join(step.entries)
        raise ctx.error(f"seed step has no kind, only {names}", step.line, key, _STEP_FIX)
    if len(kinds) > 1:
        second = step.entries[kinds[1]]
        raise ctx.error(
            f"seed step has both {kinds[0]}: and {kinds[1]}:; one kind per step",
            second.key_line,
            key,
            "split it into two steps",
        )
    return kinds[0]


def _step(ctx: Context, step: Map, key: str) -> SeedStep:
    kind = _kind_of(ctx, step, key)
    for name, entry in step.entries.items():
        if name == kind or name in _EXTRA[kind]:
            continue
        owners = [k for k in SEED_KINDS if name in _EXTRA[k]]
        if owners:
            raise ctx.error(
                f"'{name}' does not apply to {kind}: steps (only to {', '.join(owners)})",
                entry.key_line,
                sub(key, name),
                "remove it",
            )
        raise ctx.unknown_key(name, entry.key_line, sub(key, name), (kind, *_EXTRA[kind]))
    entry = step.entries[kind]
    here = sub(key, kind)
    location = ctx.location(entry.key_line, here)
    database = None
    if (db_entry := step.get("database")) is not None:
        database = ctx.text(db_entry.value, sub(key, "database"))
    if kind == "python":
        target = ctx.text(entry.value, here, "write python: package.module:function")
        if not _TARGET.fullmatch(target):
            raise ctx.error(
                f"{target!r} is not 'module:function'",
                entry.key_line,
                here,
                "write e.g. python: myproject.seeds:load",
            )
        return SeedStep("python", location, target=target)
    if kind == "csv":
        return _csv(ctx, entry.value, here, location, database)
    file = ctx.local_path(
        ctx.text(entry.value, here, "name a file relative to the spec"),
        entry.key_line,
        here,
        kind="file",
        what="seed file",
        hashed=True,
    )
    sanitize = None
    if (rules := step.get("sanitize")) is not None:
        rules_key = sub(key, "sanitize")
        sanitize = ctx.local_path(
            ctx.text(rules.value, rules_key),
            rules.key_line,
            rules_key,
            kind="file",
            what="sanitize rules file",
            hashed=True,
        )
    return SeedStep(kind, location, file=file, sanitize=sanitize, database=database)


def _csv(ctx: Context, node: Node, key: str, location: Location, database: str | None) -> SeedStep:
    fix = "write csv: {table: users, file: seed/users.csv}"
    block = ctx.mapping(node, key, fix)
    for name, entry in block.entries.items():
        if name not in ("table", "file", "database"):
            raise ctx.unknown_key(
                name, entry.key_line, sub(key, name), ("table", "file", "database")
            )
    missing = [name for name in ("table", "file") if name not in block.entries]
    if missing:
        raise ctx.error(f"csv step needs {' and '.join(missing)}:", block.line, key, fix)
    table = ctx.text(block.entries["table"].value, sub(key, "table"))
    if not table:
        raise ctx.error("empty table name", block.entries["table"].key_line, sub(key, "table"), fix)
    file_entry = block.entries["file"]
    file = ctx.local_path(
        ctx.text(file_entry.value, sub(key, "file")),
        file_entry.key_line,
        sub(key, "file"),
        kind="file",
        what="seed file",
        hashed=True,
    )
    if (inner := block.get("database")) is not None:
        if database is not None:
            raise ctx.error(
                "database given twice (in csv: and beside it)",
                inner.key_line,
                sub(key, "database"),
                "keep one",
            )
        database = ctx.text(inner.value, sub(key, "database"))
    return SeedStep("csv", location, file=file, table=table, database=database)
