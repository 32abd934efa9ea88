"""The sanitization rules file: its model and its loader.

The loader walks PyYAML's node graph (not the constructed Python objects) so
that every problem can name the line it comes from, duplicate keys are caught,
and ``null`` can be used as a transformation name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from types import MappingProxyType
from typing import ClassVar, Final, Literal

import yaml

from pytest_ephemeral.errors import DataError

__all__ = [
    "DEFAULT_SALT_ENV",
    "FAKE_KINDS",
    "TRANSFORMATIONS",
    "UNIQUE_FAKE_KINDS",
    "ColumnRule",
    "Fake",
    "Fixed",
    "Hash",
    "Keep",
    "Mask",
    "Noise",
    "Null",
    "Rules",
    "TableRule",
    "Transform",
    "is_pattern",
    "load_rules",
    "split_name",
]

Default = Literal["keep", "refuse"]

#: The environment variable the salt is read from unless the rules say otherwise.
DEFAULT_SALT_ENV: Final = "EPH_SANITIZE_SALT"

#: Every kind ``fake:`` accepts.
FAKE_KINDS: Final[tuple[str, ...]] = (
    "email",
    "first_name",
    "last_name",
    "name",
    "company",
    "phone",
    "address",
    "street",
    "city",
    "postcode",
    "country",
    "text",
    "sentence",
    "date_of_birth",
    "username",
    "url",
    "ipv4",
    "iban",
    "credit_card",
)

#: Kinds whose fakes can be kept unique (``unique: true``): they carry enough
#: bits of the digest to make collisions negligible.
UNIQUE_FAKE_KINDS: Final[tuple[str, ...]] = ("email", "username", "url", "iban")

#: Every transformation name, in the order the reference documents them.
TRANSFORMATIONS: Final[tuple[str, ...]] = (
    "keep",
    "fake",
    "hash",
    "mask",
    "null",
    "fixed",
    "noise",
)

_TOP_KEYS: Final = ("version", "default", "salt_env", "salt_file", "tables")
_TABLE_KEYS: Final = ("columns", "default", "drop", "optional")
_MODIFIERS: Final = ("unique", "leak_check", "reason")
_NULL_WORDS: Final = frozenset({"null", "Null", "NULL", "~"})
_TRUE_WORDS: Final = frozenset({"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"})
_FALSE_WORDS: Final = frozenset({"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"})


# --------------------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class Keep:
    """Copy the value unchanged."""

    name: ClassVar[str] = "keep"


@dataclass(frozen=True, slots=True)
class Null:
    """Replace the value with NULL."""

    name: ClassVar[str] = "null"


@dataclass(frozen=True, slots=True)
class Fixed:
    """Replace every value, NULL included, with one constant (``None`` = NULL)."""

    value: str | None
    name: ClassVar[str] = "fixed"


@dataclass(frozen=True, slots=True)
class Fake:
    """A realistic value of ``kind``, derived from HMAC(salt, kind + value)."""

    kind: str
    unique: bool = False
    name: ClassVar[str] = "fake"


@dataclass(frozen=True, slots=True)
class Hash:
    """Salted deterministic hash: hex digits, or the value's own format."""

    keep_format: bool = False
    length: int = 16
    unique: bool = False
    name: ClassVar[str] = "hash"


@dataclass(frozen=True, slots=True)
class Mask:
    """Replace all but the first/last characters with ``char``."""

    keep_first: int = 0
    keep_last: int = 0
    char: str = "*"
    keep_separators: bool = False
    name: ClassVar[str] = "mask"


@dataclass(frozen=True, slots=True)
class Noise:
    """Move a number or a date by a bounded, deterministic amount."""

    mode: Literal["relative", "absolute", "days"]
    amount: float
    name: ClassVar[str] = "noise"


Transform = Keep | Null | Fixed | Fake | Hash | Mask | Noise


@dataclass(frozen=True, slots=True)
class ColumnRule:
    """What to do with one column; ``line`` is where the rules file says it."""

    column: str
    transform: Transform
    line: int
    leak_check: bool = True
    #: ``leak_check: reviewed``: a kept column someone has read and accepted;
    #: the search for values that look like personal data skips it.
    reviewed: bool = False
    #: Why (required with ``reviewed``; allowed with any rule, as documentation).
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class TableRule:
    """The rules of one table (``name`` as written: ``schema.table`` or ``table``)."""

    name: str
    line: int
    columns: Mapping[str, ColumnRule] = field(default_factory=lambda: MappingProxyType({}))
    default: Default | None = None
    drop: bool = False
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Rules:
    """A loaded rules file."""

    path: Path
    default: Default = "refuse"
    tables: Mapping[str, TableRule] = field(default_factory=lambda: MappingProxyType({}))
    salt_env: str = DEFAULT_SALT_ENV
    salt_file: Path | None = None

    def lookup(self, table: str) -> TableRule | None:
        """The rule for a table of the input, or ``None``.

        An exact name wins; otherwise names are compared without their schema
        when one side has none (``users`` matches ``public.users`` and the
        other way round, if only one rule has that table name); then the
        first pattern (``public.events_*``) that matches, in file order.
        """
        exact = self.tables.get(table)
        if exact is not None:
            return exact
        schema, bare = split_name(table)
        if schema is not None:
            found = self.tables.get(bare)
            if found is not None and not is_pattern(bare):
                return found
        else:
            named = [
                rule
                for name, rule in self.tables.items()
                if not is_pattern(name) and split_name(name)[1] == bare
            ]
            if len(named) == 1:
                return named[0]
        for name, rule in self.tables.items():
            if is_pattern(name) and (
                fnmatchcase(table, name) or ("." not in name and fnmatchcase(bare, name))
            ):
                return rule
        return None

    def default_for(self, table: TableRule | None) -> Default:
        """The default that applies to the columns no rule names."""
        if table is not None and table.default is not None:
            return table.default
        return self.default

    @property
    def fixed_values(self) -> frozenset[str]:
        """Every ``fixed:`` constant of the rules (the leak check ignores them)."""
        return frozenset(
            col.transform.value
            for table in self.tables.values()
            for col in table.columns.values()
            if isinstance(col.transform, Fixed) and col.transform.value is not None
        )


def is_pattern(name: str) -> bool:
    """Whether a table name of the rules is a pattern (``*``, ``?`` or ``[``)."""
    return any(ch in name for ch in "*?[")


def split_name(name: str) -> tuple[str | None, str]:
    """``"public.users"`` → ``("public", "users")``; ``"users"`` → ``(None, "users")``."""
    schema, dot, bare = name.rpartition(".")
    return (schema, bare) if dot else (None, name)


# -------------------------------------------------------------------------- loader


class _Loader:
    def __init__(self, path: Path) -> None:
        self.path = path

    # -- helpers --------------------------------------------------------------

    def fail(self, node: yaml.Node | None, message: str) -> DataError:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        return DataError(f"{self.path}{line}: {message}")

    @staticmethod
    def line(node: yaml.Node) -> int:
        return node.start_mark.line + 1

    def mapping(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping (key: value lines)")
        seen: dict[str, int] = {}
        items: list[tuple[str, yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or not key_node.value:
                raise self.fail(key_node, f"keys of {what} must be plain names")
            key = str(key_node.value)
            if key in seen:
                raise self.fail(
                    key_node,
                    f"{key!r} appears twice in {what} (first on line {seen[key]}); "
                    "keep one of them",
                )
            seen[key] = self.line(key_node)
            items.append((key, key_node, value_node))
        return items

    def scalar(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{what} must be a single value")
        return str(node.value)

    def is_null(self, node: yaml.Node) -> bool:
        return (
            isinstance(node, yaml.ScalarNode)
            and node.style is None
            and (node.value in _NULL_WORDS or node.value == "")
        )

    def boolean(self, node: yaml.Node, what: str) -> bool:
        text = self.scalar(node, what)
        if isinstance(node, yaml.ScalarNode) and node.style is None:
            if text in _TRUE_WORDS:
                return True
            if text in _FALSE_WORDS:
                return False
        raise self.fail(node, f"{what} must be true or false, not {text!r}")

    def integer(self, node: yaml.Node, what: str, *, minimum: int, maximum: int) -> int:
        text = self.scalar(node, what)
        try:
            value = int(text)
        except ValueError:
            raise self.fail(node, f"{what} must be a whole number, not {text!r}") from None
        if not minimum <= value <= maximum:
            raise self.fail(node, f"{what} must be between {minimum} and {maximum}, not {value}")
        return value

    def number(self, node: yaml.Node, what: str) -> float:
        text = self.scalar(node, what)
        try:
            value = float(text)
        except ValueError:
            raise self.fail(node, f"{what} must be a number, not {text!r}") from None
        if not value > 0 or value == float("inf"):
            raise self.fail(node, f"{what} must be a positive number, not {text!r}")
        return value

    def unknown(self, node: yaml.Node, key: str, where: str, valid: tuple[str, ...]) -> DataError:
        return self.fail(node, f"unknown key {key!r} in {where}; valid keys: {', '.join(valid)}")

    # -- the file ------------------------------------------------------------

    def load(self) -> Rules:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DataError(
                f"{self.path}: rules file not found; check the path (it is resolved "
                "relative to the spec file or the current directory)"
            ) from None
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{self.path}: rules file is not UTF-8 text (byte {exc.start}); save it as UTF-8"
            ) from None
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = f":{mark.line + 1}" if mark is not None else ""
            problem = exc.problem or exc.context or "invalid YAML"
            raise DataError(
                f"{self.path}{line}: not valid YAML: {problem}; fix the syntax"
            ) from None
        except yaml.YAMLError as exc:
            raise DataError(f"{self.path}: not valid YAML ({exc}); fix the syntax") from None
        if root is None:
            raise DataError(
                f"{self.path}: rules file is empty; it needs at least 'default:' and 'tables:'"
            )
        default: Default = "refuse"
        salt_env = DEFAULT_SALT_ENV
        salt_file: Path | None = None
        tables: dict[str, TableRule] = {}
        for key, key_node, value in self.mapping(root, "the rules file"):
            if key == "version":
                if self.scalar(value, "version") != "1":
                    raise self.fail(value, "only version 1 of the rules format exists; write 1")
            elif key == "default":
                default = self.default(value)
            elif key == "salt_env":
                salt_env = self.scalar(value, "salt_env")
                if not salt_env or not salt_env.replace("_", "A").isalnum():
                    raise self.fail(
                        value, f"salt_env must be an environment variable name, not {salt_env!r}"
                    )
            elif key == "salt_file":
                raw = self.scalar(value, "salt_file")
                if not raw:
                    raise self.fail(value, "salt_file is empty; give the path of the salt file")
                salt_file = Path(raw).expanduser()
                if not salt_file.is_absolute():
                    salt_file = self.path.parent / salt_file
            elif key == "tables":
                if not self.is_null(value):
                    tables = self.tables(value)
            elif key == "salt":
                raise self.fail(
                    key_node,
                    "the salt must not be written in the rules file; put it in the "
                    f"environment variable {DEFAULT_SALT_ENV} (or the one salt_env names) "
                    "or in a file named by salt_file",
                )
            else:
                raise self.unknown(key_node, key, "the rules file", _TOP_KEYS)
        return Rules(
            path=self.path,
            default=default,
            tables=MappingProxyType(tables),
            salt_env=salt_env,
            salt_file=salt_file,
        )

    def default(self, node: yaml.Node) -> Default:
        text = self.scalar(node, "default")
        if text == "keep":
            return "keep"
        if text == "refuse":
            return "refuse"
        raise self.fail(node, f"default must be keep or refuse, not {text!r}")

    def tables(self, node: yaml.Node) -> dict[str, TableRule]:
        tables: dict[str, TableRule] = {}
        for name, key_node, value in self.mapping(node, "tables"):
            tables[name] = self.table(name, key_node, value)
        return tables

    def table(self, name: str, key_node: yaml.Node, node: yaml.Node) -> TableRule:
        where = f"table {name!r}"
        if self.is_null(node):
            raise self.fail(key_node, f"{where} has no rules; give it 'columns:' (or 'drop: true')")
        columns: dict[str, ColumnRule] = {}
        default: Default | None = None
        drop = optional = False
        columns_node: yaml.Node | None = None
        for key, knode, value in self.mapping(node, where):
            if key == "columns":
                columns_node = knode
                if not self.is_null(value):
                    for col, col_key, col_value in self.mapping(value, f"columns of {where}"):
                        columns[col] = self.column(col, col_key, col_value, name)
            elif key == "default":
                default = self.default(value)
            elif key == "drop":
                drop = self.boolean(value, f"drop of {where}")
            elif key == "optional":
                optional = self.boolean(value, f"optional of {where}")
            else:
                raise self.unknown(knode, key, where, _TABLE_KEYS)
        if drop and columns:
            raise self.fail(
                columns_node,
                f"{where} has 'drop: true' and column rules; a dropped table keeps no rows, "
                "so remove one of the two",
            )
        return TableRule(
            name=name,
            line=self.line(key_node),
            columns=MappingProxyType(columns),
            default=default,
            drop=drop,
            optional=optional,
        )

    def column(self, column: str, key_node: yaml.Node, node: yaml.Node, table: str) -> ColumnRule:
        where = f"column {table}.{column}"
        valid = ", ".join(TRANSFORMATIONS)
        line = self.line(key_node)
        if isinstance(node, yaml.ScalarNode):
            if node.value == "" and node.style is None:
                raise self.fail(key_node, f"{where} has no transformation; write one of: {valid}")
            text = str(node.value)
            if self.is_null(node) or text == "null":
                return ColumnRule(column, Null(), line)
            if text == "keep":
                return ColumnRule(column, Keep(), line)
            if text == "hash":
                return ColumnRule(column, Hash(), line)
            if text in ("fake", "mask", "fixed", "noise"):
                raise self.fail(
                    node, f"{where}: {text} needs a value, e.g. {{{text}: {_EXAMPLES[text]}}}"
                )
            raise self.fail(
                node, f"{where}: unknown transformation {text!r}; valid transformations: {valid}"
            )
        items = self.mapping(node, where)
        unique = False
        leak_check = True
        reviewed = False
        reviewed_node: yaml.Node | None = None
        reason: str | None = None
        chosen: list[tuple[str, yaml.Node, yaml.Node]] = []
        for key, knode, value in items:
            if key == "unique":
                unique = self.boolean(value, f"unique of {where}")
            elif key == "leak_check":
                if (
                    isinstance(value, yaml.ScalarNode)
                    and value.style is None
                    and value.value == "reviewed"
                ):
                    reviewed = True
                    reviewed_node = value
                else:
                    try:
                        leak_check = self.boolean(value, f"leak_check of {where}")
                    except DataError:
                        raise self.fail(
                            value,
                            f"leak_check of {where} must be true, false or reviewed, "
                            f"not {self.scalar(value, 'leak_check')!r}",
                        ) from None
            elif key == "reason":
                reason = self.scalar(value, f"reason of {where}").strip() or None
                if reason is None:
                    raise self.fail(
                        value, f"reason of {where} is empty; say why, or remove the key"
                    )
            elif key in TRANSFORMATIONS:
                chosen.append((key, knode, value))
            else:
                raise self.fail(
                    knode,
                    f"{where}: unknown transformation {key!r}; valid transformations: {valid} "
                    f"(plus the modifiers {', '.join(_MODIFIERS)})",
                )
        if not chosen:
            raise self.fail(key_node, f"{where} has no transformation; write one of: {valid}")
        if len(chosen) > 1:
            names = ", ".join(k for k, _, _ in chosen)
            raise self.fail(
                chosen[1][1], f"{where} has more than one transformation ({names}); keep one"
            )
        key, knode, value = chosen[0]
        transform = self.transform(key, knode, value, where, unique)
        if reviewed and not isinstance(transform, Keep):
            raise self.fail(
                reviewed_node,
                f"{where}: leak_check: reviewed accepts a kept column only (this one is "
                f"{transform.name}); remove it, or make the column keep",
            )
        if reviewed and reason is None:
            raise self.fail(
                reviewed_node,
                f"{where} says leak_check: reviewed but gives no reason; add "
                "reason: '<why this kept column may hold what looks like personal data>'",
            )
        return ColumnRule(column, transform, line, leak_check, reviewed, reason)

    def transform(
        self, key: str, knode: yaml.Node, value: yaml.Node, where: str, unique: bool
    ) -> Transform:
        if unique and key in ("mask", "fixed", "noise"):
            raise self.fail(
                knode,
                f"{where}: {key} cannot keep values unique; use hash or "
                f"fake: {'|'.join(UNIQUE_FAKE_KINDS)} for a unique column",
            )
        if key == "keep":
            self.flag(value, f"keep of {where}")
            return Keep()
        if key == "null":
            self.flag(value, f"null of {where}")
            return Null()
        if key == "fixed":
            if not isinstance(value, yaml.ScalarNode):
                raise self.fail(value, f"fixed of {where} must be a single value")
            return Fixed(None if self.is_null(value) else str(value.value))
        if key == "fake":
            kind = self.scalar(value, f"fake of {where}")
            if kind not in FAKE_KINDS:
                raise self.fail(
                    value,
                    f"{where}: unknown fake kind {kind!r}; valid kinds: {', '.join(FAKE_KINDS)}",
                )
            if unique and kind not in UNIQUE_FAKE_KINDS:
                raise self.fail(
                    value,
                    f"{where}: fake: {kind} cannot stay unique (too few possible values); "
                    f"unique works with fake: {', '.join(UNIQUE_FAKE_KINDS)}, or use "
                    "hash: {keep_format: true} with unique: true",
                )
            return Fake(kind, unique)
        if key == "hash":
            return self.hash(value, where, unique)
        if key == "mask":
            return self.mask(value, where)
        return self.noise(value, where)

    def flag(self, node: yaml.Node, what: str) -> None:
        if not self.is_null(node) and not self.boolean(node, what):
            raise self.fail(node, f"{what} can only be true; remove the column rule instead")

    def options(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        if self.is_null(node):
            return []
        if isinstance(node, yaml.ScalarNode) and node.style is None and node.value in _TRUE_WORDS:
            return []
        return self.mapping(node, what)

    def hash(self, node: yaml.Node, where: str, unique: bool) -> Hash:
        keep_format = False
        length = 16
        length_node: yaml.Node | None = None
        for key, knode, value in self.options(node, f"hash of {where}"):
            if key == "keep_format":
                keep_format = self.boolean(value, f"keep_format of {where}")
            elif key == "length":
                length = self.integer(value, f"length of {where}", minimum=8, maximum=64)
                length_node = value
            else:
                raise self.unknown(knode, key, f"hash of {where}", ("keep_format", "length"))
        if keep_format and length_node is not None:
            raise self.fail(length_node, f"{where}: keep_format keeps the length; remove length")
        if unique and not keep_format and length < 16:
            raise self.fail(
                length_node,
                f"{where}: a hash of {length} hex digits cannot stay unique; use length 16 or more",
            )
        return Hash(keep_format=keep_format, length=length, unique=unique)

    def mask(self, node: yaml.Node, where: str) -> Mask:
        first = last = 0
        char = "*"
        keep_separators = False
        for key, knode, value in self.options(node, f"mask of {where}"):
            if key == "keep_first":
                first = self.integer(value, f"keep_first of {where}", minimum=0, maximum=1000)
            elif key == "keep_last":
                last = self.integer(value, f"keep_last of {where}", minimum=0, maximum=1000)
            elif key == "char":
                char = self.scalar(value, f"char of {where}")
                if len(char) != 1 or char in "\t\n\r\\":
                    raise self.fail(
                        value, f"char of {where} must be one printable character, e.g. '*'"
                    )
            elif key == "keep_separators":
                keep_separators = self.boolean(value, f"keep_separators of {where}")
            else:
                raise self.unknown(
                    knode,
                    key,
                    f"mask of {where}",
                    ("keep_first", "keep_last", "char", "keep_separators"),
                )
        return Mask(first, last, char, keep_separators)

    def noise(self, node: yaml.Node, where: str) -> Noise:
        valid = ("relative", "absolute", "days")
        items = self.options(node, f"noise of {where}")
        if len(items) != 1:
            raise self.fail(
                node,
                f"noise of {where} needs exactly one of relative, absolute or days, "
                "e.g. {noise: {relative: 0.1}}",
            )
        key, knode, value = items[0]
        if key == "relative":
            return Noise("relative", self.number(value, f"relative noise of {where}"))
        if key == "absolute":
            return Noise("absolute", self.number(value, f"absolute noise of {where}"))
        if key == "days":
            days = self.integer(value, f"days of {where}", minimum=1, maximum=365_000)
            return Noise("days", float(days))
        raise self.unknown(knode, key, f"noise of {where}", valid)


_EXAMPLES: Final = {
    "fake": "email",
    "mask": "{keep_last: 4}",
    "fixed": "'n/a'",
    "noise": "{relative: 0.1}",
}


def load_rules(path: Path) -> Rules:
    """Load and validate a rules file; every problem is a one-line :class:`DataError`."""
    return _Loader(Path(path)).load()
