"""``eph sanitize --suggest``: a draft rules file for a dump.

One pass over the dump learns every table and column that has rows (COPY,
INSERT or CSV), the column types and keys from the DDL (``CREATE TABLE``,
``PRIMARY KEY``, ``UNIQUE``, ``FOREIGN KEY``, unique indexes), and keeps a
small sample of each column's values in memory (never written anywhere).
A rule is chosen per column from its name, its type and the sample; each
line of the draft says why in a comment. The draft is then checked the way
``eph sanitize --check`` would check it (a sanitization with a throw-away
salt, then the leak check on the output); kept columns the check objects to
get a transformation and the check runs again, so the draft that is written
passes its own leak check on that dump.
"""

from __future__ import annotations

import json
import re
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from pytest_ephemeral.errors import DataError

from ._engine import _process, sanitize_file
from ._io import Format, decode_error, detect_format, open_input, table_from_path
from ._leaks import Leak, check_leaks_files
from ._pgdump import _name, copy_decode
from ._plan import CopyFn, PlanItem, TablePlan, ValueFn
from ._rules import load_rules
from ._text import detect

__all__ = ["SAMPLE_SIZE", "suggest_rules"]

#: Values kept per column to choose its rule (each cut to 500 characters).
SAMPLE_SIZE: Final = 200
#: Values per column the personal-data detection looks at.
DETECT_LIMIT: Final = 5000
#: Rounds of "check the draft, fix the columns it objects to".
ROUNDS: Final = 4


@dataclass(slots=True)
class _Column:
    name: str
    type: str = ""
    not_null: bool = False
    unique: bool = False
    primary: bool = False
    references: tuple[str, str] | None = None
    values: int = 0
    nulls: int = 0
    sample: list[str] = field(default_factory=list)
    detected: dict[str, int] = field(default_factory=dict)
    looked: int = 0


@dataclass(slots=True)
class _Table:
    name: str
    columns: dict[str, _Column] = field(default_factory=dict)
    rows: bool = False

    def column(self, name: str) -> _Column:
        col = self.columns.get(name)
        if col is None:
            col = self.columns[name] = _Column(name)
        return col


class _Learner:
    """Learns the schema from the DDL lines and samples values as a sink."""

    def __init__(self) -> None:
        self.tables: dict[str, _Table] = {}
        self.ddl: dict[str, _Table] = {}
        self.order: list[str] = []

    # -- the sink ------------------------------------------------------------

    @property
    def failed(self) -> bool:
        return False

    def plan(
        self, table: str, columns: tuple[str, ...] | None, where: str, *, complete: bool = True
    ) -> TablePlan:
        if columns is None:
            return TablePlan(table, ())
        found = self.tables.get(table)
        if found is None:
            found = self.tables[table] = _Table(table)
            self.order.append(table)
        items: list[PlanItem] = []
        for index, name in enumerate(columns):
            col = found.column(name)
            value = self._recorder(col)
            items.append(PlanItem(index, name, _copy(value), value))
        return TablePlan(table, columns, tuple(items))

    def _recorder(self, col: _Column) -> ValueFn:
        def value(original: str | None) -> str | None:
            if original is None:
                col.nulls += 1
                return original
            col.values += 1
            if len(col.sample) < SAMPLE_SIZE:
                col.sample.append(original[:500])
            if col.looked < DETECT_LIMIT:
                col.looked += 1
                kind = detect(original)
                if kind is not None:
                    col.detected[kind] = col.detected.get(kind, 0) + 1
            return original

        return value

    def count(self, table: str, rows: int, dropped: bool) -> None:
        if rows:
            self.tables[table].rows = True

    def finish(self) -> None:
        pass

    # -- the DDL -------------------------------------------------------------

    def watch(self, lines: Iterator[str]) -> Iterator[str]:
        """Pass ``lines`` on, reading the DDL among them (not the COPY rows)."""
        in_copy = False
        statement: list[str] | None = None
        for line in lines:
            if in_copy:
                if line.rstrip("\r\n") == "\\.":
                    in_copy = False
                yield line
                continue
            if statement is not None:
                statement.append(line)
                if line.rstrip().endswith(";"):
                    self.learn("".join(statement))
                    statement = None
            else:
                head = line.lstrip()[:40].upper()
                if head.startswith("COPY ") and "FROM STDIN" in line.upper():
                    in_copy = True
                elif head.startswith(("CREATE TABLE", "ALTER TABLE", "CREATE UNIQUE INDEX")):
                    if line.rstrip().endswith(";"):
                        self.learn(line)
                    else:
                        statement = [line]
            yield line

    def ddl_table(self, name: str) -> _Table:
        key = _name(name)
        found = self.ddl.get(key)
        if found is None:
            found = self.ddl[key] = _Table(key)
        return found

    def learn(self, statement: str) -> None:
        create = _CREATE.match(statement)
        if create is not None:
            table = self.ddl_table(create.group(1))
            body = statement[create.end() :]
            for raw in body.splitlines():
                part = raw.strip().rstrip(",")
                if not part or part.startswith(")"):
                    continue
                constraint = _TABLE_CONSTRAINT.match(part)
                if constraint is not None:
                    self.key(table, constraint.group(1), constraint.group(2))
                    continue
                column = _COLUMN.match(part)
                if column is None:
                    continue
                col = table.column(_name(column.group(1)))
                rest = column.group(2)
                upper = rest.upper()
                col.type = (
                    re.split(
                        r"\s+(?:NOT|NULL|DEFAULT|CONSTRAINT|PRIMARY|UNIQUE|CHECK|"
                        r"REFERENCES|GENERATED|COLLATE)\b",
                        rest,
                        maxsplit=1,
                        flags=re.I,
                    )[0]
                    .strip()
                    .lower()
                )
                col.not_null = "NOT NULL" in upper or "PRIMARY KEY" in upper
                col.primary = "PRIMARY KEY" in upper
                col.unique = col.primary or " UNIQUE" in f" {upper}"
            return
        for match in _ALTER_KEY.finditer(statement):
            self.key(self.ddl_table(match.group(1)), match.group(2), match.group(3))
        for match in _FOREIGN.finditer(statement):
            source, target, target_cols = match.group(2), match.group(3), match.group(4)
            cols = [_name(c) for c in source.split(",")]
            refs = [_name(c) for c in target_cols.split(",")]
            if len(cols) == 1 and len(refs) == 1:
                col = self.ddl_table(match.group(1)).column(cols[0])
                col.references = (_name(target), refs[0])
        index = _UNIQUE_INDEX.match(statement)
        if index is not None:
            cols = [c for c in index.group(2).split(",") if c.strip()]
            if len(cols) == 1 and _COLUMN_NAME.fullmatch(cols[0].strip()):
                self.ddl_table(index.group(1)).column(_name(cols[0])).unique = True

    def key(self, table: _Table, kind: str, columns: str) -> None:
        cols = [_name(c) for c in columns.split(",")]
        if len(cols) == 1:
            col = table.column(cols[0])
            col.unique = True
            col.primary = col.primary or kind.upper().startswith("PRIMARY")
            col.not_null = col.not_null or col.primary

    def merged(self) -> list[_Table]:
        """The tables with rows or a data statement, with what the DDL says."""
        out: list[_Table] = []
        for name in self.order:
            table = self.tables[name]
            ddl = self.ddl.get(name)
            if ddl is None and "." not in name:
                matches = [t for n, t in self.ddl.items() if n.rpartition(".")[2] == name]
                ddl = matches[0] if len(matches) == 1 else None
            if ddl is not None:
                for col in table.columns.values():
                    known = ddl.columns.get(col.name)
                    if known is not None:
                        col.type, col.not_null = known.type, known.not_null
                        col.unique, col.primary = known.unique, known.primary
                        col.references = known.references
            out.append(table)
        return out


def _copy(record: ValueFn) -> CopyFn:
    def copy(raw: str) -> str:
        record(None if raw == "\\N" else copy_decode(raw) if "\\" in raw else raw)
        return raw

    return copy


_IDENT: Final = r'(?:"(?:[^"]|"")+"|[^\W\d][\w$]*)'
_QNAME: Final = rf"{_IDENT}(?:\.{_IDENT})?"
_COLUMN_NAME: Final = re.compile(_IDENT)
_CREATE: Final = re.compile(
    rf"\s*CREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?({_QNAME})\s*\(", re.I
)
_COLUMN: Final = re.compile(rf"({_IDENT})\s+(.+)$", re.S)
_TABLE_CONSTRAINT: Final = re.compile(
    r"(?:CONSTRAINT\s+\S+\s+)?(PRIMARY\s+KEY|UNIQUE)\s*\(([^)]*)\)", re.I
)
_ALTER_KEY: Final = re.compile(
    rf"ALTER\s+TABLE\s+(?:ONLY\s+)?({_QNAME})\s+ADD\s+CONSTRAINT\s+\S+\s+(PRIMARY\s+KEY|UNIQUE)"
    r"\s*\(([^)]*)\)",
    re.I,
)
_FOREIGN: Final = re.compile(
    rf"ALTER\s+TABLE\s+(?:ONLY\s+)?({_QNAME})\s+ADD\s+CONSTRAINT\s+\S+\s+FOREIGN\s+KEY\s*"
    rf"\(([^)]*)\)\s*REFERENCES\s+({_QNAME})\s*\(([^)]*)\)",
    re.I,
)
_UNIQUE_INDEX: Final = re.compile(
    rf"\s*CREATE\s+UNIQUE\s+INDEX\s+\S+\s+ON\s+(?:ONLY\s+)?({_QNAME})\s+(?:USING\s+\w+\s*)?"
    r"\(([^)]*)\)",
    re.I,
)


# ------------------------------------------------------------------ choosing


@dataclass(frozen=True, slots=True)
class _Choice:
    rule: str
    why: str


_NAMES: Final[tuple[tuple[tuple[str, ...], str, str], ...]] = (
    (("email", "e_mail", "mail", "email_address"), "email", "an e-mail address"),
    (("first_name", "firstname", "given_name", "fname", "forename"), "first_name", "a first name"),
    (("last_name", "lastname", "surname", "family_name", "lname"), "last_name", "a last name"),
    (
        ("full_name", "fullname", "contact_name", "customer_name", "person_name", "display_name"),
        "name",
        "a person's name",
    ),
    (
        ("phone", "phone_number", "mobile", "telephone", "tel", "fax", "cell"),
        "phone",
        "a phone number",
    ),
    (("address", "postal_address", "home_address", "billing_address"), "address", "an address"),
    (("street", "address_line", "address1", "address2", "address_line1"), "street", "a street"),
    (("city", "town"), "city", "a city"),
    (("zip", "zipcode", "zip_code", "postcode", "postal_code"), "postcode", "a postcode"),
    (
        ("dob", "date_of_birth", "birth_date", "birthdate", "birthday", "born"),
        "date_of_birth",
        "a date of birth",
    ),
    (("username", "user_name", "login", "handle", "nickname"), "username", "a user name"),
    (("credit_card", "card_number", "cc_number", "card", "pan"), "credit_card", "a card number"),
    (("iban",), "iban", "an IBAN"),
    (
        ("ip", "ip_address", "last_ip", "remote_addr", "client_ip", "ip_addr"),
        "ipv4",
        "an IP address",
    ),
    (("url", "website", "homepage", "web"), "url", "a web address"),
)
_IDS: Final = frozenset(
    {"ssn", "social_security_number", "national_id", "tax_id", "passport", "passport_number"}
    | {"driver_license", "drivers_license", "nino", "personal_id", "id_number", "vat_id"}
)
_SECRETS: Final = frozenset(
    {"password", "password_hash", "passwd", "pwd", "token", "secret", "api_key", "access_token"}
    | {"refresh_token", "session_token", "otp_secret", "salt"}
)
_TEXT_NAMES: Final = frozenset(
    {"note", "notes", "comment", "comments", "description", "message", "messages", "body"}
    | {"bio", "remarks", "text", "content", "memo", "details", "summary", "feedback", "reason"}
)
_PERSON_TABLES: Final = frozenset(
    {"user", "users", "customer", "customers", "contact", "contacts", "person", "people"}
    | {"persons", "employee", "employees", "member", "members", "patient", "patients"}
    | {"client", "clients", "account", "accounts", "staff", "author", "authors", "profile"}
)
_KIND_RULES: Final = {
    "e-mail address": "email",
    "phone number": "phone",
    "payment card number": "credit_card",
    "IBAN": "iban",
    "IP address": "ipv4",
}
_UNIQUE_KINDS: Final = frozenset({"email", "username", "url", "iban"})
_NUMERIC: Final = re.compile(
    r"(?:small|big)?int(?:eger)?\d?\b|bigint|smallint|serial|bigserial|numeric|decimal|real|"
    r"double|float|money|boolean|bool\b|oid",
    re.I,
)
_TEXTUAL: Final = re.compile(
    r"|text|citext|character varying(?:\(\d+\))?|varchar(?:\(\d+\))?|character\(\d+\)|"
    r"char\(\d+\)|name",
    re.I,
)
_TIMES: Final = re.compile(r"date\b|timestamp|time\b|interval", re.I)
_VARCHAR: Final = re.compile(r"(?:character varying|varchar|character|char)\s*\((\d+)\)", re.I)


def _fake(kind: str, col: _Column, why: str) -> _Choice:
    if col.unique and kind in _UNIQUE_KINDS:
        return _Choice(f"{{fake: {kind}, unique: true}}", why + "; unique in the dump")
    if col.unique:
        return _Choice(
            "{hash: {keep_format: true}, unique: true}",
            why + f"; unique in the dump, which fake: {kind} cannot keep",
        )
    return _Choice(f"{{fake: {kind}}}", why)


def _free_text(col: _Column, why: str) -> _Choice:
    width = _VARCHAR.search(col.type)
    if width is not None and int(width.group(1)) < 20:
        return _Choice("{hash: {keep_format: true}}", why + f" ({col.type}: too short for text)")
    if col.type in ("json", "jsonb"):
        if col.not_null:
            return _Choice("{fixed: '{}'}", why + f" ({col.type}, NOT NULL: an empty object)")
        return _Choice("null", why + f" ({col.type}: no fake keeps its structure)")
    return _Choice("{fake: text}", why)


def _choose(table: str, col: _Column) -> _Choice:
    name = re.sub(r"[\s-]+", "_", col.name.strip()).lower()
    bare = table.rpartition(".")[2].lower()
    sampled = f"{len(col.sample)} sampled value{'s' if len(col.sample) != 1 else ''}"
    if col.primary:
        return _Choice("keep", f"primary key ({col.type or 'type unknown'})")
    if name == "id" or (name.endswith("_id") and not name.endswith(tuple(_IDS))):
        return _Choice("keep", "an id: a key, not personal data")
    if col.values == 0:
        return _Choice("keep", "no values in the dump (all NULL or no rows)")
    for names, kind, what in _NAMES:
        if name in names or any(name.endswith("_" + n) for n in names if len(n) > 3):
            if kind == "date_of_birth" and _NUMERIC.match(col.type):
                continue
            return _fake(kind, col, f"the name says {what}")
    if name == "name" and bare in _PERSON_TABLES:
        return _fake("name", col, f"'name' of {bare}: a person's name")
    if name in _IDS or any(name.endswith("_" + n) for n in _IDS):
        unique = ", unique: true" if col.unique else ""
        return _Choice(
            f"{{hash: {{keep_format: true}}{unique}}}",
            "the name says a national id or document number: same format, other digits",
        )
    if name in _SECRETS or name.endswith(("_password", "_token", "_secret")):
        return _Choice("{hash: {}}", "the name says a credential: hex of a keyed hash")
    if col.detected:
        kind, hits = max(col.detected.items(), key=lambda item: item[1])
        share = f"{hits} of {col.looked} values look like {_plural(kind)}"
        textual = _TEXTUAL.fullmatch(col.type) is not None or (
            kind == "IP address" and col.type in ("inet", "cidr")
        )
        if hits * 2 >= col.looked and kind in _KIND_RULES and textual:
            return _fake(_KIND_RULES[kind], col, share)
        if hits * 2 >= col.looked and kind == "national id" and textual:
            unique = ", unique: true" if col.unique else ""
            return _Choice(f"{{hash: {{keep_format: true}}{unique}}}", share)
        if _NUMERIC.match(col.type):
            return _Choice("{hash: {keep_format: true}}", share + f" ({col.type}: other digits)")
        return _free_text(col, share + ", among other text")
    if _NUMERIC.match(col.type):
        return _Choice("keep", f"{col.type}: a number, nothing personal in its name")
    if _TIMES.match(col.type):
        return _Choice("keep", f"{col.type}: a time, nothing personal in its name")
    if col.type in ("uuid",):
        return _Choice("keep", "uuid: a key")
    average = sum(len(v) for v in col.sample) / len(col.sample) if col.sample else 0.0
    spaced = sum(1 for v in col.sample if " " in v.strip())
    if name in _TEXT_NAMES or name.endswith(tuple("_" + n for n in _TEXT_NAMES)):
        return _free_text(col, "the name says free text, where personal data hides")
    if average >= 40 and spaced * 2 >= len(col.sample):
        return _free_text(
            col,
            f"free text (average {average:.0f} characters in {sampled}), where personal data hides",
        )
    if col.type in ("json", "jsonb"):
        return _Choice("keep", f"{col.type}: nothing that looks personal in {sampled}")
    return _Choice("keep", f"nothing personal in its name or in {sampled}")


def _plural(kind: str) -> str:
    return kind + "es" if kind.endswith("s") else kind + "s"


# ------------------------------------------------------------------ the draft


def _yaml_key(name: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name) and name.lower() not in (
        "null",
        "true",
        "false",
        "yes",
        "no",
        "on",
        "off",
        "y",
        "n",
        "~",
    ):
        return name
    return json.dumps(name)


def _render(source: str, tables: list[_Table], choices: dict[tuple[str, str], _Choice]) -> str:
    out = [
        f"# Draft sanitization rules for {source}, written by 'eph sanitize --suggest'.",
        "# Every table and column of the dump has a rule, chosen from the column's name,",
        "# type and a sample of its values; the comment on each line says why. The draft",
        "# passes its own leak check on this dump. Read every line before you rely on it.",
        "version: 1",
        "default: refuse",
        "tables:",
    ]
    for table in tables:
        out.append(f"  {_yaml_key(table.name)}:")
        if not table.rows:
            out.append("    optional: true  # no rows in this dump")
        out.append("    columns:")
        for col in table.columns.values():
            choice = choices[(table.name, col.name)]
            why = choice.why.replace("\n", " ")
            out.append(f"      {_yaml_key(col.name)}: {choice.rule}  # {why}")
    return "\n".join(out) + "\n"


def _fix(leak: Leak, tables: dict[str, _Table], choice: _Choice) -> _Choice:
    col = tables[leak.table].columns[leak.column]
    if leak.detected:
        why = f"the leak check finds values that look like {', '.join(leak.kinds)}"
    else:
        why = f"the leak check finds originals of {', '.join(leak.sources)} in it"
    if _NUMERIC.match(col.type):
        return _Choice("{hash: {keep_format: true}}", why + f" ({col.type}: other digits)")
    if col.type in ("inet", "cidr"):
        return _Choice("{fake: ipv4}", why + f" ({col.type})")
    if choice.rule.startswith("{fake: text") or choice.rule in ("null", "{fixed: '{}'}"):
        return _Choice("null" if not col.not_null else "{fixed: ''}", why)
    fixed = _free_text(col, why)
    if fixed.rule == choice.rule:
        return _Choice("null" if not col.not_null else "{fixed: ''}", why)
    return fixed


def suggest_rules(
    input: Path,
    *,
    fmt: Format = "auto",
    table: str | None = None,
) -> str:
    """A draft rules file (YAML text with a comment per line) for ``input``,
    checked to pass its own leak check on ``input``."""
    input = Path(input)
    detected: Literal["pgdump", "csv"] = detect_format(input, fmt)
    if detected == "csv" and table is None:
        table = table_from_path(input)
    learner = _Learner()
    with open_input(input) as src:
        try:
            for _ in _process(learner.watch(iter(src)), learner, detected, table, str(input)):
                pass
        except UnicodeDecodeError as exc:
            raise decode_error(input, exc) from None
    tables = learner.merged()
    if not tables:
        raise DataError(
            f"{input}: no table data found (no COPY, INSERT or CSV rows with known columns); "
            "dump with pg_dump --format=plain, or check the file"
        )
    by_name = {t.name: t for t in tables}
    choices: dict[tuple[str, str], _Choice] = {}
    for t in tables:
        for col in t.columns.values():
            choices[(t.name, col.name)] = _choose(t.name, col)
    # A column that references another gets the same rule, so joins still match.
    for t in tables:
        for col in t.columns.values():
            ref = col.references
            target = by_name.get(ref[0]) if ref is not None else None
            if ref is not None and target is not None and ref[1] in target.columns:
                base = choices[(target.name, ref[1])]
                if base.rule != "keep":
                    choices[(t.name, col.name)] = _Choice(
                        base.rule, f"references {ref[0]}.{ref[1]}: the same rule keeps joins"
                    )
    return _verified(input, detected, table, tables, choices)


def _verified(
    input: Path,
    fmt: Literal["pgdump", "csv"],
    table: str | None,
    tables: list[_Table],
    choices: dict[tuple[str, str], _Choice],
) -> str:
    by_name = {t.name: t for t in tables}
    salt = secrets.token_bytes(32)
    suffix = ".csv" if fmt == "csv" else ".sql"
    with tempfile.TemporaryDirectory(prefix="eph-suggest-") as tmp:
        rules_path = Path(tmp) / "draft.yaml"
        output = Path(tmp) / f"sanitized{suffix}"
        leaks: list[Leak] = []
        for _round in range(ROUNDS):
            text = _render(input.name, tables, choices)
            rules_path.write_text(text, encoding="utf-8")
            rules = load_rules(rules_path)
            sanitize_file(input, output, rules, salt=salt, fmt=fmt, table=table)
            leaks = check_leaks_files(input, output, rules, salt, fmt=fmt, table=table)
            fixable = [
                leak
                for leak in leaks
                if leak.table in by_name and leak.column in by_name[leak.table].columns
            ]
            if not leaks:
                return text
            if len(fixable) != len(leaks):
                break
            for leak in fixable:
                key = (leak.table, leak.column)
                choices[key] = _fix(leak, by_name, choices[key])
    found = "; ".join(str(leak) for leak in leaks)
    raise DataError(
        f"{input}: the draft rules still fail their leak check after {ROUNDS} rounds ({found}); "
        "write the rules for those columns by hand"
    )
