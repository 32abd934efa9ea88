"""``eph sanitize --suggest``: a draft rules file that passes its own leak check."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_ephemeral.data.sanitize import (
    Fake,
    Fixed,
    Hash,
    Keep,
    Null,
    check_leaks_files,
    load_rules,
    sanitize_file,
    suggest_rules,
)
from pytest_ephemeral.data.sanitize.cli import main
from pytest_ephemeral.errors import DataError

SALT = b"tests-salt-0123456789abcdef"

DUMP = """\
--
-- PostgreSQL database dump
--
SET standard_conforming_strings = on;

CREATE TABLE public.users (
    id integer NOT NULL,
    email text NOT NULL,
    first_name text,
    last_name character varying(40),
    phone text,
    address text,
    date_of_birth date,
    ssn text,
    name text,
    notes text,
    prefs jsonb,
    contact text,
    code character varying(8),
    created_at timestamp with time zone
);

CREATE TABLE public.orders (
    id integer NOT NULL,
    user_id integer,
    customer_email text,
    amount numeric(10,2),
    status text,
    comment text,
    shipping text
);

COPY public.users (id, email, first_name, last_name, phone, address, date_of_birth, ssn, \
name, notes, prefs, contact, code, created_at) FROM stdin;
1\tanna.meyer@corp.example\tAnna\tMeyer\t+49 30 1234567\t12 Main Street\\n12345 Springfield\t\
1980-02-03\t123-45-6789\tAnna Meyer\tVIP, call Anna before shipping\t{"theme": "dark"}\t\
x.y@example.org\tAB12\t2023-01-01 10:00:00+00
2\tbob.stone@corp.example\tRoberta\tStone\t(555) 123-4567\t7 Oak Road\t1975-05-06\t\
234-56-7890\tRoberta Stone\t\\N\t{"contact": "bob.stone@corp.example"}\tz.w@example.org\t\
CD34\t2023-01-02 10:00:00+00
\\.

COPY public.orders (id, user_id, customer_email, amount, status, comment, shipping) FROM stdin;
10\t1\tanna.meyer@corp.example\t12.50\tpaid\tleft at the door\t7 Oak Road
11\t2\tbob.stone@corp.example\t99.00\tshipped\t\\N\tstandard
\\.

COPY public.audit (id, at) FROM stdin;
\\.

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_email_key UNIQUE (email);
ALTER TABLE ONLY public.orders
    ADD CONSTRAINT orders_customer_email_fkey FOREIGN KEY (customer_email) \
REFERENCES public.users(email);
"""


@pytest.fixture
def dump(tmp_path: Path) -> Path:
    path = tmp_path / "prod.sql"
    path.write_text(DUMP, encoding="utf-8")
    return path


def test_the_draft_has_a_rule_and_a_reason_for_every_column(dump: Path, tmp_path: Path) -> None:
    draft = suggest_rules(dump)
    lines = [line for line in draft.splitlines() if line.startswith("      ")]
    assert len(lines) == 14 + 7 + 2
    assert all("  # " in line and line.split("  # ", 1)[1].strip() for line in lines)
    path = tmp_path / "draft.yaml"
    path.write_text(draft, encoding="utf-8")
    rules = load_rules(path)
    assert rules.default == "refuse"
    users = rules.tables["public.users"].columns
    expected = {
        "id": Keep(),
        "email": Fake("email", unique=True),
        "first_name": Fake("first_name"),
        "last_name": Fake("last_name"),
        "phone": Fake("phone"),
        "address": Fake("address"),
        "date_of_birth": Fake("date_of_birth"),
        "ssn": Hash(keep_format=True),
        "name": Fake("name"),
        "notes": Fake("text"),
        "prefs": Null(),  # jsonb with an e-mail inside: no fake keeps JSON
        "contact": Fake("email"),  # by its content
        "code": Keep(),
        "created_at": Keep(),
    }
    assert {name: col.transform for name, col in users.items()} == expected
    orders = rules.tables["public.orders"].columns
    assert orders["customer_email"].transform == Fake("email", unique=True)  # the foreign key
    assert orders["amount"].transform == Keep()
    assert orders["comment"].transform == Fake("text")
    # "7 Oak Road" was copied from users.address: the check found it, the draft fixed it.
    assert orders["shipping"].transform == Fake("text")
    assert "originals of public.users.address" in draft
    assert rules.tables["public.audit"].optional


def test_the_draft_passes_its_own_leak_check(dump: Path, tmp_path: Path) -> None:
    path = tmp_path / "draft.yaml"
    path.write_text(suggest_rules(dump), encoding="utf-8")
    rules = load_rules(path)
    safe = tmp_path / "safe.sql"
    sanitize_file(dump, safe, rules, salt=SALT)
    assert check_leaks_files(dump, safe, rules, SALT) == []


def test_a_json_column_that_is_not_null_gets_an_empty_object(tmp_path: Path) -> None:
    path = tmp_path / "prod.sql"
    path.write_text(
        "CREATE TABLE public.t (\n    id integer NOT NULL,\n    doc jsonb NOT NULL\n);\n"
        'COPY public.t (id, doc) FROM stdin;\n1\t{"mail": "x.y@example.org"}\n\\.\n',
        encoding="utf-8",
    )
    rules_path = tmp_path / "draft.yaml"
    rules_path.write_text(suggest_rules(path), encoding="utf-8")
    assert load_rules(rules_path).tables["public.t"].columns["doc"].transform == Fixed("{}")


def test_a_csv_file(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("id,email,remark\n1,a.b@example.org,fine\n2,c.d@example.org,ok\n")
    draft = suggest_rules(path)
    assert "  people:\n" in draft
    assert "email: {fake: email}" in draft and "remark: keep" in draft


def test_a_dump_without_data_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "schema.sql"
    path.write_text("CREATE TABLE t (id int);\n")
    with pytest.raises(DataError, match=r"schema.sql: no table data found"):
        suggest_rules(path)


def test_cli_writes_the_draft(
    dump: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sanitize.yaml"
    assert main(["--suggest", str(dump), "-o", str(out)]) == 0
    assert "draft rules for 23 columns" in capsys.readouterr().out
    load_rules(out)
    assert main(["--suggest", str(dump), "-o", str(out)]) == 2
    assert "already exists; a draft never replaces rules" in capsys.readouterr().err
    assert main(["--suggest", str(dump)]) == 0
    assert capsys.readouterr().out == out.read_text()


def test_cli_argument_mistakes(dump: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--suggest", str(dump), "--rules", "x.yaml"]) == 2
    assert "--suggest writes rules, it does not use them" in capsys.readouterr().err
    assert main([str(dump), "-o", "out.sql"]) == 2
    assert "required: --rules" in capsys.readouterr().err


def test_rules_fit_the_column_types(tmp_path: Path) -> None:
    path = tmp_path / "prod.sql"
    path.write_text(
        "CREATE TABLE public.t (\n    id integer NOT NULL,\n    ref bigint,\n    addr inet\n);\n"
        "COPY public.t (id, ref, addr) FROM stdin;\n"
        "1\t4111111111111111\t203.0.113.7\n2\t5500000000000004\t203.0.113.9\n\\.\n",
        encoding="utf-8",
    )
    rules_path = tmp_path / "draft.yaml"
    rules_path.write_text(suggest_rules(path), encoding="utf-8")
    columns = load_rules(rules_path).tables["public.t"].columns
    assert columns["ref"].transform == Hash(keep_format=True)  # card numbers in a bigint
    assert columns["addr"].transform == Fake("ipv4")  # an inet column
