"""Read a spec file into located nodes (YAML 1.2 scalars, merge keys, no duplicates).

PyYAML composes the node graph (it keeps line numbers); this module turns it
into :mod:`._nodes` values. It refuses what Compose refuses (duplicate keys,
several documents) and what cannot be a spec (binary data, a bad encoding,
custom tags), always with a :class:`SpecError` naming the file and line.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ..errors import SpecError
from ._nodes import Entry, Line, Map, Node, Scalar, Seq, Source, describe, index, sub

__all__ = ["decode", "parse_document", "read_bytes"]

_TAG = "tag:yaml.org,2002:"
_MERGE = _TAG + "merge"
_STRING_TAGS = {_TAG + "str", _TAG + "timestamp", "!"}
_MAX_NODES = 100_000  # after alias expansion: refuses "billion laughs" documents
_MAX_DEPTH = 64
_RESOLVER = yaml.resolver.Resolver()
MERGE_TAGS = ("!reset", "!override")  # Compose's tags for merging several files

_INT_DEC = re.compile(r"[-+]?[0-9]+")
_INT_HEX = re.compile(r"0x[0-9a-fA-F]+")
_INT_OCT = re.compile(r"0o[0-7]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)")
_NAN = re.compile(r"\.(nan|NaN|NAN)")

# PyYAML's wording -> what to do about it.
_YAML_FIXES = (
    ("mapping values are not allowed", "quote values that contain ': ', and check the indentation"),
    (
        "cannot start any token",
        "indent with spaces, not tabs, and quote values starting with @ or `",
    ),
    ("could not find expected ':'", "each entry of a mapping needs 'key: value'"),
    ("did not find expected key", "check the indentation of this block"),
    ("did not find expected '-'", "check the indentation of this list"),
    ("expected ',' or '}'", "quote values containing { } [ ] or ',' inside a {...} mapping"),
    ("expected ',' or ']'", "quote values containing { } [ ] or ',' inside a [...] list"),
    ("found undefined alias", "define the anchor &name before using it as *name"),
    ("found duplicate anchor", "give each anchor (&name) a different name"),
    ("found unexpected end of stream", "close the quote or bracket that is still open"),
    ("while scanning a quoted scalar", "close the quote"),
)


def decode(data: bytes, display: str) -> str:
    """The text of a spec (UTF-8, UTF-16 or UTF-32 with a BOM), or a SpecError."""
    encoding = "utf-8"
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        encoding = "utf-32"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SpecError(
            f"not a text file: byte 0x{data[exc.start]:02x} is not valid {encoding.upper()}",
            file=display,
            line=line,
            fix="save the spec as UTF-8 text",
        ) from None


def parse_document(text: str, display: str, source: Source | None = None) -> Map:
    """The top-level mapping of ``text``; SpecError for anything that is not one.

    With ``source``, every line of the result is a :class:`Line` of that file."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, display) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        raise SpecError(
            f"not a text file: control character {exc.character!r} is not allowed in YAML",
            file=display,
            line=line,
            fix="remove it, or check that this is the right file",
        ) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every PyYAML error is one of the above
        raise SpecError(f"invalid YAML: {_one_line(str(exc))}", file=display) from None
    except RecursionError:
        raise SpecError(
            "invalid YAML: nested too deeply", file=display, fix="a spec needs a few levels only"
        ) from None
    if root is None:
        what = "is empty" if not text.strip() else "holds only comments"
        raise SpecError(
            f"the spec {what}",
            file=display,
            fix="write at least 'services:' with one service and its image",
        )
    node = _Converter(display, source).convert(root, "", None, 0)
    if not isinstance(node, Map):
        raise SpecError(
            f"the top level must be a mapping with services:, got {describe(node)}",
            file=display,
            line=node.line,
            fix="start the file with 'services:'",
        )
    return node


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _yaml_error(exc: yaml.MarkedYAMLError, display: str) -> SpecError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    problem = _one_line(exc.problem or exc.context or "unreadable")
    if "expected a single document" in f"{exc.context} {exc.problem}":
        return SpecError(
            "the file holds several YAML documents; a spec is one document",
            file=display,
            line=line,
            fix="remove the extra '---' and what follows it, or merge the documents",
        )
    context = _one_line(exc.context or "")
    fix = next(
        (fix for needle, fix in _YAML_FIXES if needle in problem or needle in context),
        "fix the YAML syntax",
    )
    if context and exc.context_mark is not None and exc.context_mark is not mark:
        problem += f" ({context} at line {exc.context_mark.line + 1})"
    return SpecError(f"invalid YAML: {problem}", file=display, line=line, fix=fix)


class _Converter:
    """PyYAML nodes -> located nodes, with alias-bomb, recursion and tag checks."""

    def __init__(self, display: str, source: Source | None = None) -> None:
        self._display = display
        self._source = source
        self._lines: dict[int, int] = {}
        self._count = 0
        self._active: set[int] = set()

    def _line(self, mark: yaml.Mark) -> int:
        number: int = mark.line + 1
        if self._source is None:
            return number
        line = self._lines.get(number)
        if line is None:  # one Line per line number: aliases repeat them a lot
            line = self._lines[number] = Line(number, self._source)
        return line

    def _error(self, message: str, line: int, path: str, fix: str) -> SpecError:
        return SpecError(message, file=self._display, line=line, key=path or None, fix=fix)

    def convert(self, node: yaml.Node, path: str, line: int | None, depth: int) -> Node:
        own_line = self._line(node.start_mark)
        at = line if line is not None else own_line
        self._count += 1
        if self._count > _MAX_NODES:
            raise self._error(
                f"the document expands to more than {_MAX_NODES} values (aliases of aliases?)",
                own_line,
                path,
                "write the values out, or use fewer nested aliases",
            )
        if depth > _MAX_DEPTH:
            raise self._error(
                f"nested more than {_MAX_DEPTH} levels deep",
                own_line,
                path,
                "flatten the structure",
            )
        tag = self._check_tag(node, path)
        if isinstance(node, yaml.ScalarNode):
            return _scalar(node, at, tag)
        if id(node) in self._active:
            raise self._error(
                "an alias refers to the mapping or list that contains it",
                own_line,
                path,
                "a spec cannot be recursive: copy the values instead",
            )
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                items = tuple(
                    self.convert(item, index(path, i), None, depth + 1)
                    for i, item in enumerate(node.value)
                )
                return Seq(items, at, tag)
            if isinstance(node, yaml.MappingNode):
                mapping = self._mapping(node, path, at, depth)
                return Map(mapping.entries, mapping.line, tag) if tag else mapping
        finally:
            self._active.discard(id(node))
        raise self._error(  # pragma: no cover - PyYAML has three node kinds
            "unknown YAML node", own_line, path, "fix the YAML syntax"
        )

    def _check_tag(self, node: yaml.Node, path: str) -> str | None:
        """The node's merge tag (``!reset``, ``!override``) if it has one; SpecError for
        a tag a spec cannot hold."""
        tag = node.tag or ""
        if tag in MERGE_TAGS:
            return tag
        if isinstance(node, yaml.ScalarNode):
            known = tag.startswith(_TAG) and tag[len(_TAG) :] in {
                "str",
                "int",
                "float",
                "bool",
                "null",
                "timestamp",
                "merge",
            }
            if known or tag == "!":
                return None
        elif tag in {_TAG + "seq", _TAG + "map"}:
            return None
        shown = "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag
        raise self._error(
            f"YAML tag {shown!r} is not supported",
            self._line(node.start_mark),
            path,
            "remove the tag; a spec uses plain YAML values (and Compose's !reset, !override)",
        )

    def _key(self, node: yaml.Node, path: str) -> str:
        line = self._line(node.start_mark)
        if not isinstance(node, yaml.ScalarNode):
            raise self._error(
                "a key must be a plain string, not a mapping or a list",
                line,
                path,
                "write 'name: value'",
            )
        if self._check_tag(node, path):
            raise self._error(
                f"a key cannot carry the tag {node.tag}",
                line,
                path,
                "put !reset or !override on the value, after the ':'",
            )
        if node.tag == _TAG + "null" and node.value in {"", "~", "null", "Null", "NULL"}:
            raise self._error("empty key", line, path, "write a name before the ':'")
        key: str = node.value
        return key

    def _mapping(self, node: yaml.MappingNode, path: str, line: int, depth: int) -> Map:
        entries: dict[str, Entry] = {}
        explicit: dict[str, int] = {}
        merge_line: int | None = None
        for key_node, value_node in node.value:
            key_line = self._line(key_node.start_mark)
            if key_node.tag == _MERGE:
                if merge_line is not None:
                    raise self._error(
                        f"duplicate merge key '<<' (also at line {merge_line})",
                        key_line,
                        path,
                        "merge several mappings with one '<<: [*a, *b]'",
                    )
                merge_line = key_line
                for source in self._merge_sources(value_node, path, key_line):
                    merged = self.convert(source, path, None, depth + 1)
                    if not isinstance(merged, Map):  # pragma: no cover - checked by _merge_sources
                        continue
                    for key, entry in merged.entries.items():
                        entries.setdefault(key, entry)
                continue
            key = self._key(key_node, path)
            if key in explicit:
                raise self._error(
                    f"duplicate key '{key}', first at line {explicit[key]}",
                    key_line,
                    sub(path, key),
                    "keep only one of them",
                )
            explicit[key] = key_line
            value = self.convert(value_node, sub(path, key), key_line, depth + 1)
            entries[key] = Entry(key, key_line, value)
        return Map(entries, line)

    def _merge_sources(self, node: yaml.Node, path: str, line: int) -> list[yaml.Node]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                raise self._error(
                    "'<<' merges mappings only",
                    line,
                    path,
                    "write '<<: *anchor' or '<<: [*a, *b]' with anchors of mappings",
                )
        return list(sources)


def _scalar(node: yaml.ScalarNode, line: int, merge_tag: str | None = None) -> Scalar:
    """YAML 1.2 core-schema value of ``node`` (as Compose reads it: ``on``/``yes`` and
    ``22:22`` stay strings)."""
    text: str = node.value
    tag = node.tag
    if merge_tag is not None:  # the value under the tag is typed as if it had none
        tag = _RESOLVER.resolve(  # type: ignore[no-untyped-call]
            yaml.ScalarNode, text, (node.style is None, False)
        )
    value: str | int | float | bool | None = text
    if node.style is None and tag not in _STRING_TAGS:
        if tag == _TAG + "null":
            value = None
        elif tag == _TAG + "bool" and text.lower() in {"true", "false"}:
            value = text.lower() == "true"
        elif tag == _TAG + "int":
            value = _int(text)
        elif tag == _TAG + "float":
            value = _float(text)
    return Scalar(value, text, line, merge_tag)


def _int(text: str) -> int | str:
    if _INT_DEC.fullmatch(text):
        return int(text)
    if _INT_HEX.fullmatch(text):
        return int(text, 16)
    if _INT_OCT.fullmatch(text):
        return int(text[2:], 8)
    return text


def _float(text: str) -> float | str:
    if _INF.fullmatch(text):
        return float("-inf") if text.startswith("-") else float("inf")
    if _NAN.fullmatch(text):
        return float("nan")
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def read_bytes(path: Path, display: str) -> bytes:
    """The bytes of a spec file, or a SpecError saying why not."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SpecError(
            "spec file not found", file=display, fix="check the path, or create the file"
        ) from None
    except IsADirectoryError:
        raise SpecError(
            "is a folder, not a spec file",
            file=display,
            fix="name the YAML file, e.g. ephemeral.yaml, inside it",
        ) from None
    except OSError as exc:
        raise SpecError(
            f"cannot read the spec: {exc.strerror or exc}",
            file=display,
            fix="check its permissions",
        ) from None
