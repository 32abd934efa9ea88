"""The ``redis:`` seed file: a YAML (or JSON) mapping of key -> value.

=====================================  ==========================================
value                                  becomes
=====================================  ==========================================
``greeting: hello`` (any scalar)       a string (``SET``), written as in the file
``recent: [3, 2, 1]``                  a list (``RPUSH``, in this order)
``user:1: {name: Ada, plan: pro}``     a hash (``HSET``)
``tags: !set [a, b]``                  a set (``SADD``)
``board: !zset {ada: 10, bob: 7.5}``   a sorted set (``ZADD``, member: score)
=====================================  ==========================================

In JSON (no YAML tags), write a set as ``{"$set": [...]}`` and a sorted set as
``{"$zset": {...}}``; YAML files may use either form. Scalars are taken as
written (``yes`` stays ``yes``, ``1.50`` stays ``1.50``); ``null`` is an error.
Each key is deleted before it is written, so a later step or file replaces it
whole. Keys go to database 0 and have no expiry.

The file is turned into Redis protocol commands on the host and piped into
``redis-cli --pipe`` in the container.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final

import yaml

from ...errors import DataError

__all__ = ["encode_command", "redis_commands", "write_resp"]

#: Elements per RPUSH/HSET/SADD/ZADD command for big values.
CHUNK: Final = 1000

_NULL: Final = "tag:yaml.org,2002:null"


def encode_command(*args: str | bytes) -> bytes:
    """One command in the Redis protocol (RESP)."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode() if isinstance(arg, str) else arg
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, node: yaml.Node, message: str) -> DataError:
        return DataError(f"{self.path}:{node.start_mark.line + 1}: {message}")

    def scalar(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what} must be a single value (a string or a number)")
        if node.tag == _NULL and node.style is None:
            raise self.fail(
                node, f"{what} is null; Redis has no null values: quote it or remove the key"
            )
        return str(node.value)

    def pairs(self, node: yaml.MappingNode, what: str) -> list[tuple[str, yaml.Node]]:
        seen: set[str] = set()
        out: list[tuple[str, yaml.Node]] = []
        for key_node, value in node.value:
            key = self.scalar(key_node, f"a key of {what}")
            if key in seen:
                raise self.fail(key_node, f"{key!r} is given twice in {what}")
            seen.add(key)
            out.append((key, value))
        return out

    def commands(self, key: str, node: yaml.Node) -> Iterator[bytes]:
        where = f"key {key!r}"
        yield encode_command("DEL", key)
        tag = node.tag
        if isinstance(node, yaml.MappingNode) and tag not in ("!set", "!zset"):
            items = self.pairs(node, where)
            if len(items) == 1 and items[0][0] in ("$set", "$zset"):
                tag, node = "!" + items[0][0][1:], items[0][1]
        if tag == "!set":
            if not isinstance(node, yaml.SequenceNode):
                raise self.fail(node, f"{where}: a set is a list of members, e.g. !set [a, b]")
            members = [self.scalar(m, f"a member of {where}") for m in node.value]
            if not members:
                raise self.fail(node, f"{where}: an empty set cannot be stored in Redis")
            for i in range(0, len(members), CHUNK):
                yield encode_command("SADD", key, *members[i : i + CHUNK])
            return
        if tag == "!zset":
            if not isinstance(node, yaml.MappingNode):
                raise self.fail(
                    node, f"{where}: a sorted set maps members to scores, e.g. !zset {{ada: 10}}"
                )
            args: list[str] = []
            for member, score_node in self.pairs(node, where):
                score = self.scalar(score_node, f"the score of {member!r} in {where}")
                try:
                    number = float(score)
                except ValueError:
                    number = math.nan
                if math.isnan(number):
                    raise self.fail(
                        score_node, f"{where}: score {score!r} of {member!r} is not a number"
                    )
                args += [score, member]
            if not args:
                raise self.fail(node, f"{where}: an empty sorted set cannot be stored in Redis")
            for i in range(0, len(args), 2 * CHUNK):
                yield encode_command("ZADD", key, *args[i : i + 2 * CHUNK])
            return
        if tag.startswith("!"):
            raise self.fail(node, f"{where}: unknown tag {tag}; use !set or !zset")
        if isinstance(node, yaml.ScalarNode):
            yield encode_command("SET", key, self.scalar(node, f"the value of {where}"))
        elif isinstance(node, yaml.SequenceNode):
            values = [self.scalar(v, f"an element of {where}") for v in node.value]
            if not values:
                raise self.fail(node, f"{where}: an empty list cannot be stored in Redis")
            for i in range(0, len(values), CHUNK):
                yield encode_command("RPUSH", key, *values[i : i + CHUNK])
        else:
            assert isinstance(node, yaml.MappingNode)
            fields: list[str] = []
            for name, value in self.pairs(node, where):
                fields += [name, self.scalar(value, f"field {name!r} of {where}")]
            if not fields:
                raise self.fail(node, f"{where}: an empty hash cannot be stored in Redis")
            for i in range(0, len(fields), 2 * CHUNK):
                yield encode_command("HSET", key, *fields[i : i + 2 * CHUNK])


def redis_commands(path: Path) -> Iterator[bytes]:
    """The commands that load ``path``, one key at a time (validated as they come)."""
    try:
        with path.open(encoding="utf-8") as fh:
            root = yaml.compose(fh, Loader=yaml.SafeLoader)
    except OSError as exc:
        raise DataError(f"{path}: cannot read the redis seed file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise DataError(f"{path}{line}: not valid YAML/JSON: {problem}") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; save the file as UTF-8") from None
    reader = _Reader(path)
    if root is None:
        return
    if not isinstance(root, yaml.MappingNode):
        raise reader.fail(
            root, "a redis seed file is a mapping of key -> value, e.g. 'greeting: hello'"
        )
    for key, node in reader.pairs(root, "the file"):
        yield from reader.commands(key, node)


def write_resp(path: Path, out: IO[bytes], *, password: str | None = None) -> int:
    """Write the commands for ``path`` to ``out`` (AUTH first when needed);
    returns how many commands (= replies to expect)."""
    count = 0
    if password:
        out.write(encode_command("AUTH", password))
        count += 1
    for command in redis_commands(path):
        out.write(command)
        count += 1
    return count
