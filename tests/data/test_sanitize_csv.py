"""CSV input and output."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_ephemeral.data.sanitize import Rules, sanitize_file
from pytest_ephemeral.errors import DataError

MakeRules = Callable[[str], Rules]
Sanitize = Callable[..., str]
SALT = b"tests-salt-0123456789abcdef"

RULES = """\
default: refuse
tables:
  customers:
    columns:
      id: keep
      email: {fake: email, unique: true}
      note: {mask: {keep_first: 1}}
      status: {fixed: active}
"""


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_csv_is_sanitized_with_quoting_kept_valid(
    make_rules: MakeRules, sanitize: Sanitize
) -> None:
    data = (
        "id,email,note,status\r\n"
        '1,anna@corp.example,"hello, world",x\r\n'
        '2,,"two\nlines",\r\n'
        '3,bob@corp.example,"say ""hi""",y\r\n'
    )
    out = rows(sanitize(data, make_rules(RULES), fmt="csv", table="customers"))
    assert out[0] == ["id", "email", "note", "status"]
    assert out[1][0] == "1" and out[1][1].endswith((".com", ".net", ".org"))
    assert out[1][2] == "h***********"
    assert out[2][1] == "", "an empty field is NULL and stays empty"
    assert out[2][2] == "t********"
    assert out[2][3] == "active", "fixed replaces NULL too"
    assert out[3][2] == "s*******"
    assert all(row[3] == "active" for row in out[1:])


def test_csv_table_defaults_to_the_file_name(make_rules: MakeRules, tmp_path: Path) -> None:
    source = tmp_path / "customers.csv"
    source.write_text("id,email,note,status\n1,anna@corp.example,n,s\n")
    out = tmp_path / "safe.csv"
    report = sanitize_file(source, out, make_rules(RULES), salt=SALT)
    assert dict(report.rows) == {"customers": 1}
    assert "anna@corp.example" not in out.read_text()


def test_same_fake_as_in_a_dump(make_rules: MakeRules, sanitize: Sanitize) -> None:
    rules = make_rules(RULES)
    from_csv = rows(
        sanitize(
            "id,email,note,status\n1,anna@corp.example,,\n", rules, fmt="csv", table="customers"
        )
    )[1][1]
    from_dump = (
        sanitize(
            "COPY public.customers (id, email, note, status) FROM stdin;\n"
            "1\tanna@corp.example\t\\N\t\\N\n\\.\n",
            rules,
        )
        .splitlines()[1]
        .split("\t")[1]
    )
    assert from_csv == from_dump


def error(call: Callable[[], object]) -> str:
    with pytest.raises(DataError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    return message


def test_ragged_row_names_file_and_line(make_rules: MakeRules, sanitize: Sanitize) -> None:
    data = "id,email,note,status\n1,a@b.example,n,s\n2,c@d.example,n\n"
    message = error(lambda: sanitize(data, make_rules(RULES), fmt="csv", table="customers"))
    assert message.startswith("<stream>:3: this CSV row has 3 fields, the header has 4")


def test_bad_quoting(make_rules: MakeRules, sanitize: Sanitize) -> None:
    data = 'id,email,note,status\n1,a@b.example,"open,s\n'
    message = error(lambda: sanitize(data, make_rules(RULES), fmt="csv", table="customers"))
    assert message.startswith("<stream>:")
    assert "not valid CSV" in message


def test_csv_header_problems(make_rules: MakeRules, sanitize: Sanitize) -> None:
    rules = make_rules(RULES)
    assert "is empty" in error(lambda: sanitize("", rules, fmt="csv", table="customers"))
    assert "repeated" in error(lambda: sanitize("id,id\n", rules, fmt="csv", table="customers"))
    message = error(lambda: sanitize("id,email,extra\n", rules, fmt="csv", table="customers"))
    assert "column 'note' of table customers is not in the input" in message
    assert "customers (<stream>:1): extra" in message
    assert "needs a table name" in error(lambda: sanitize("a\n", rules, fmt="csv"))


def test_csv_does_not_require_the_other_tables(make_rules: MakeRules, sanitize: Sanitize) -> None:
    rules = make_rules(RULES + "  orders:\n    columns: {id: keep}\n")
    out = sanitize("id,email,note,status\n", rules, fmt="csv", table="customers")
    assert out == "id,email,note,status\n"


def test_bad_encoding_in_csv(make_rules: MakeRules, tmp_path: Path) -> None:
    source = tmp_path / "customers.csv"
    source.write_bytes(b"id,email,note,status\n1,a@b.example,n,s\n2,\xff,n,s\n")
    message = error(lambda: sanitize_file(source, tmp_path / "o.csv", make_rules(RULES), salt=SALT))
    assert message.startswith(f"{source}:3: not valid UTF-8 (byte 0xff)")
