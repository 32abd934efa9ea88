"""pg_dump plain format: COPY blocks, INSERT statements, pass-through, errors."""

from __future__ import annotations

import gzip
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_ephemeral.data.sanitize import (
    ColumnRule,
    Hash,
    Rules,
    TableRule,
    check_rules,
    sanitize_file,
    sanitize_stream,
)
from pytest_ephemeral.data.sanitize._pgdump import copy_decode, copy_encode
from pytest_ephemeral.errors import DataError

MakeRules = Callable[[str], Rules]
Sanitize = Callable[..., str]
SALT = b"tests-salt-0123456789abcdef"

KEEP = "default: keep\n"

DDL = """\
--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);

CREATE FUNCTION public.touch() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
COPY public.users (id) FROM stdin;
INSERT INTO public.users (id, email) VALUES (1, 'in-a-function@corp.example');
END $$;

COMMENT ON TABLE public.users IS 'it''s
INSERT INTO public.users (id, email) VALUES (2, ''in-a-comment@corp.example'');';

CREATE SEQUENCE public.users_id_seq START WITH 1;
SELECT pg_catalog.setval('public.users_id_seq', 42, true);
"""


def email_rules(make_rules: MakeRules, default: str = "keep") -> Rules:
    return make_rules(
        f"""\
        default: {default}
        tables:
          public.users:
            columns:
              email: {{fake: email}}
        """
    )


# ------------------------------------------------------------- pass-through


def test_everything_but_data_passes_through_unchanged(
    make_rules: MakeRules, sanitize: Sanitize
) -> None:
    rules = email_rules(make_rules)
    dump = DDL + "COPY public.users (id, email) FROM stdin;\n1\tanna@corp.example\n\\.\n"
    out = sanitize(dump, rules)
    assert out.startswith(DDL), "DDL, comments, function bodies and strings are untouched"
    assert "anna@corp.example" not in out
    assert out.endswith("\\.\n")


def test_keep_only_dump_is_byte_identical(make_rules: MakeRules, sanitize: Sanitize) -> None:
    dump = (
        DDL
        + "COPY public.users (id, email, note) FROM stdin;\n"
        + "1\ta@b.example\tline\\nbreak\\\\ and \\t tab\n"
        + "2\t\\N\t\n"
        + "\\.\n"
        + "INSERT INTO public.users (id, email) VALUES (3, 'x''y'),\n  (4, NULL);\n"
    )
    assert sanitize(dump, make_rules(KEEP)) == dump


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40))
def test_copy_codec_round_trip(value: str) -> None:
    encoded = copy_encode(value)
    assert "\t" not in encoded and "\n" not in encoded and "\r" not in encoded
    assert copy_decode(encoded) == value


_TRICKY = st.text(alphabet=st.sampled_from(list("ab9 \t\n\r\\.N'é\x08\x0b\x0c")), max_size=20)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(_TRICKY, _TRICKY), min_size=1, max_size=5))
def test_copy_rows_survive_decode_transform_encode(rows: list[tuple[str, str]]) -> None:
    """Random values with tabs, newlines and backslashes: ``keep`` passes them
    byte for byte; a transformation that keeps punctuation (keep_format hash)
    sees them decoded and writes them back encoded, in the right places."""
    body = "".join(f"{i}\t{copy_encode(a)}\t{copy_encode(b)}\n" for i, (a, b) in enumerate(rows))
    dump = f"COPY public.t (id, a, b) FROM stdin;\n{body}\\.\n"
    out = "".join(sanitize_stream(dump.splitlines(keepends=True), _FORMAT_RULES, SALT))
    out_rows = out.splitlines()[1:-1]
    assert len(out_rows) == len(rows)
    for (a, b), line in zip(rows, out_rows, strict=True):
        _id, raw_a, raw_b = line.split("\t")
        assert raw_a == copy_encode(a), "kept field is byte-identical"
        new_b = copy_decode(raw_b)
        assert len(new_b) == len(b)
        for before, after in zip(b, new_b, strict=True):
            if not (before.isascii() and before.isalnum()):
                assert after == before


_FORMAT_RULES = Rules(
    path=Path("rules.yaml"),
    default="keep",
    tables=MappingProxyType(
        {
            "t": TableRule(
                "t",
                line=1,
                columns=MappingProxyType({"b": ColumnRule("b", Hash(keep_format=True), 1)}),
            )
        }
    ),
)


def test_copy_nulls_escapes_and_crlf(make_rules: MakeRules, sanitize: Sanitize) -> None:
    rules = make_rules(
        "default: keep\ntables:\n  t:\n    columns:\n      b: {mask: {keep_first: 1}}\n"
    )
    dump = "COPY t (a, b) FROM stdin;\r\n1\t\\N\r\n2\tx\\ty\r\n3\tab\\\\\r\n\\.\r\n"
    out = sanitize(dump, rules)
    assert out == "COPY t (a, b) FROM stdin;\r\n1\t\\N\r\n2\tx**\r\n3\ta**\r\n\\.\r\n"


def test_escaped_delimiter_and_continued_rows(make_rules: MakeRules, sanitize: Sanitize) -> None:
    rules = make_rules(
        "default: keep\ntables:\n  t:\n    columns:\n      b: {mask: {keep_first: 9}}\n"
    )
    # A backslash before a real tab or newline makes them data (COPY FROM accepts it).
    dump = "COPY t (a, b) FROM stdin;\n1\tx\\\ty\n2\tline\\\nnext\n\\.\n"
    out = sanitize(dump, rules)
    assert out == "COPY t (a, b) FROM stdin;\n1\t***\n2\t*********\n\\.\n"
    kept = sanitize(dump, make_rules(KEEP))
    assert kept == dump


def test_last_column_transformed(make_rules: MakeRules, sanitize: Sanitize) -> None:
    rules = make_rules("default: keep\ntables:\n  t:\n    columns:\n      b: null\n")
    assert sanitize("COPY t (a, b) FROM stdin;\n1\tx\n\\.\n", rules) == (
        "COPY t (a, b) FROM stdin;\n1\t\\N\n\\.\n"
    )
    # Also without a final newline, and for a one-column table.
    one = make_rules("default: keep\ntables:\n  t:\n    columns:\n      a: {fixed: z}\n")
    assert sanitize("COPY t (a) FROM stdin;\n1\n\\N\n\\.", one) == (
        "COPY t (a) FROM stdin;\nz\nz\n\\."
    )


def test_drop_removes_rows_but_keeps_the_statement(
    make_rules: MakeRules, sanitize: Sanitize
) -> None:
    rules = make_rules("default: refuse\ntables:\n  sessions:\n    drop: true\n")
    dump = (
        "COPY public.sessions (id, token) FROM stdin;\n1\tabc\n2\tdef\n\\.\n"
        "INSERT INTO public.sessions (id, token) VALUES (3, 'ghi');\n"
    )
    assert sanitize(dump, rules) == "COPY public.sessions (id, token) FROM stdin;\n\\.\n"


# ------------------------------------------------------------------ INSERT


def insert_rules(make_rules: MakeRules) -> Rules:
    return make_rules(
        """\
        default: keep
        tables:
          users:
            columns:
              email: {hash: {length: 8}}
              score: {noise: {absolute: 3}}
        """
    )


def test_insert_multi_row_and_multi_line(make_rules: MakeRules, sanitize: Sanitize) -> None:
    rules = insert_rules(make_rules)
    dump = (
        "INSERT INTO public.users (id, email, score, note) VALUES\n"
        "    (1, 'anna@corp.example', 10, 'it''s; VALUES (9, ''x'')'),\n"
        "    (2, 'bob\n@corp.example', -4.5, NULL),\n"
        "    (3, NULL, NULL, E'a\\'b');\n"
    )
    out = sanitize(dump, rules)
    assert "anna@corp.example" not in out and "bob" not in out
    assert "'it''s; VALUES (9, ''x'')'" in out, "untouched values stay byte-identical"
    assert "(3, NULL, NULL, E'a\\'b');" in out
    lines = out.splitlines()
    assert lines[0] == "INSERT INTO public.users (id, email, score, note) VALUES"
    row1 = lines[1].strip()
    assert row1.startswith("(1, '") and row1.count("'") >= 2
    score = row1.split(", ")[2]
    assert abs(int(score) - 10) <= 3, "numbers stay bare numbers"
    assert out.endswith(";\n")


MULTI_LINE_INSERTS = (
    "INSERT INTO public.users (id, email, score, note) VALUES (1, 'anna@corp.example', 10, 'line one\n"
    "line two\n"
    "it''s line three');\n"
    "INSERT INTO public.users (id, email, score, note) VALUES (2, 'bob\n"
    "@corp.example', 3, NULL);\n"
    # E'' with an escaped quote: the quotes do not pair up line by line, so
    # the lines read ahead belong to the statements after it
    "INSERT INTO public.users (id, email, score, note) VALUES (3, 'cy@corp.example', 1, E'a\\'b');\n"
    "INSERT INTO public.users (id, email, score, note) VALUES (4, 'dee@corp.example', 2, 'x');\n"
    "SELECT 1;\n"
    "INSERT INTO public.users (id, email, score, note) VALUES (5, 'eve@corp.example', 5, 'y\n"
    "z');\n"
    "COPY public.users (id, email, score, note) FROM stdin;\n"
    "6\tfay@corp.example\t7\t\\N\n"
    "\\.\n"
)


def test_inserts_over_several_lines_take_the_fast_path_with_the_same_output(
    make_rules: MakeRules, sanitize: Sanitize, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_ephemeral.data.sanitize import _pgdump

    rules = insert_rules(make_rules)
    tokenized: list[int] = []
    rewrite = _pgdump._PgDump.rewrite_insert

    def counted(self: _pgdump._PgDump, statement: str, start: int) -> str:
        tokenized.append(start)
        return rewrite(self, statement, start)

    monkeypatch.setattr(_pgdump._PgDump, "rewrite_insert", counted)
    fast = sanitize(MULTI_LINE_INSERTS, rules)
    assert tokenized == [6], "only the statement with an E'' string takes the slow path"
    monkeypatch.setattr(_pgdump, "_FAST_LINES", 0)  # no reading ahead: the tokenizer
    slow = sanitize(MULTI_LINE_INSERTS, rules)
    assert tokenized == [6, 1, 4, 6, 9]
    assert fast == slow
    for email in ("anna@", "bob", "cy@", "dee@", "eve@", "fay@"):
        assert email not in fast
    # no line lost or added: one newline was inside an address, now hashed
    assert fast.count("\n") == MULTI_LINE_INSERTS.count("\n") - 1
    assert "line two\nit''s line three');" in fast
    assert "E'a\\'b');\nINSERT INTO public.users" in fast
    assert "SELECT 1;\n" in fast


def test_an_insert_string_open_at_the_end_names_its_line(
    make_rules: MakeRules, sanitize: Sanitize
) -> None:
    dump = "SELECT 1;\nINSERT INTO public.users (id, email) VALUES (1, 'anna\nmore\n"
    message = one_line_error(lambda: sanitize(dump, insert_rules(make_rules)))
    assert (
        ":2: the INSERT statement that starts here never ends: a string or quoted name "
        "opened on line 2 is never closed" in message
    )


def test_insert_literal_forms(make_rules: MakeRules, sanitize: Sanitize) -> None:
    rules = make_rules(
        "default: keep\ntables:\n  t:\n    columns:\n      v: {mask: {keep_first: 3}}\n"
    )
    cases = {
        "'plain'": "'pla**'",
        "'it''s'": "'it''*'",
        "E'tab\\there'": "'tab*****'",
        "e'\\x41\\101B'": "'***'",
        "e'\\x41\\101BCD'": "'AAB**'",
        "'2020-01-01'::date": "'202*******'::date",
        "'x'::character varying": "'*'::character varying",
        "NULL": "NULL",
        "12345": "'123**'",
    }
    for given_literal, expected in cases.items():
        out = sanitize(f"INSERT INTO t (id, v) VALUES (1, {given_literal});\n", rules)
        assert out == f"INSERT INTO t (id, v) VALUES (1, {expected});\n", given_literal


def test_insert_expression_in_a_transformed_column_is_an_error(
    make_rules: MakeRules, sanitize: Sanitize
) -> None:
    rules = make_rules("default: keep\ntables:\n  t:\n    columns:\n      v: hash\n")
    with pytest.raises(DataError, match=r"<stream>:1: table t, column v: value is an expression"):
        sanitize("INSERT INTO t (v) VALUES (lower('X'));\n", rules)
    # In a kept column, anything goes.
    ok = "INSERT INTO t (v, w) VALUES ('a', now());\n"
    assert "now()" in sanitize(ok, rules)


def test_insert_without_column_list_uses_create_table(
    make_rules: MakeRules, sanitize: Sanitize
) -> None:
    rules = make_rules(
        """\
        default: refuse
        tables:
          public.users:
            columns: {id: keep, email: {fake: email}, "Display Name": null}
        """
    )
    dump = textwrap.dedent(
        """\
        CREATE TABLE public.users (
            id integer NOT NULL,
            email character varying(200) DEFAULT 'x,y'::character varying,
            "Display Name" text,
            CONSTRAINT users_pkey PRIMARY KEY (id),
            CHECK (id > 0)
        );
        INSERT INTO public.users VALUES (1, 'anna@corp.example', 'Anna M.');
        """
    )
    out = sanitize(dump, rules)
    assert "anna@corp.example" not in out and "Anna M." not in out
    assert out.splitlines()[-1].endswith(", NULL);")
    no_ddl = "INSERT INTO public.users VALUES (1, 'anna@corp.example', 'x');\n"
    with pytest.raises(DataError, match=r"has no column list.*--column-inserts"):
        sanitize(no_ddl, rules)


def test_insert_select_into_a_sanitized_table_is_an_error(
    make_rules: MakeRules, sanitize: Sanitize
) -> None:
    rules = email_rules(make_rules)
    with pytest.raises(DataError, match="cannot sanitize this INSERT"):
        sanitize("INSERT INTO public.users SELECT * FROM other;\n", rules)
    kept = "INSERT INTO public.other SELECT * FROM users;\n"
    optional = make_rules(
        "default: keep\ntables:\n  users:\n    optional: true\n    columns: {email: hash}\n"
    )
    assert sanitize(kept, optional) == kept


def test_two_statements_on_one_line(make_rules: MakeRules, sanitize: Sanitize) -> None:
    rules = email_rules(make_rules)
    dump = (
        "SET x = 1; INSERT INTO public.users (email) VALUES ('anna@corp.example'); "
        "INSERT INTO public.users (email) VALUES ('bob@corp.example');\n"
    )
    out = sanitize(dump, rules)
    assert "corp.example" not in out
    assert out.startswith("SET x = 1; INSERT INTO public.users (email) VALUES ('")


def test_standard_conforming_strings_off(make_rules: MakeRules, sanitize: Sanitize) -> None:
    rules = make_rules(
        "default: keep\ntables:\n  t:\n    columns:\n      v: {mask: {keep_first: 9}}\n"
    )
    dump = "SET standard_conforming_strings = off;\nINSERT INTO t (v) VALUES ('a\\'b\\\\c');\n"
    out = sanitize(dump, rules)
    assert out.splitlines()[1] == "INSERT INTO t (v) VALUES (E'*****');"


def test_quoted_identifiers(make_rules: MakeRules, sanitize: Sanitize) -> None:
    rules = make_rules(
        "default: keep\ntables:\n  public.Users:\n    columns:\n      E-Mail: null\n"
    )
    dump = 'COPY public."Users" (id, "E-Mail") FROM stdin;\n1\tx@y.example\n\\.\n'
    assert "x@y.example" not in sanitize(dump, rules)


# ------------------------------------------------------------------- errors


def one_line_error(call: Callable[[], object]) -> str:
    with pytest.raises(DataError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    return message


def test_truncated_copy_block(make_rules: MakeRules, sanitize: Sanitize) -> None:
    rules = email_rules(make_rules)
    dump = "SET a = 1;\nCOPY public.users (id, email) FROM stdin;\n1\tx@y.example\n"
    message = one_line_error(lambda: sanitize(dump, rules))
    assert message.startswith("<stream>:2: the COPY data of public.users that starts here")
    assert "truncated" in message
    keep = make_rules(KEEP)
    assert "truncated" in one_line_error(lambda: sanitize(dump, keep))


def test_wrong_column_count(make_rules: MakeRules, sanitize: Sanitize) -> None:
    rules = email_rules(make_rules)
    dump = "COPY public.users (id, email) FROM stdin;\n1\ta@b.example\n2\n\\.\n"
    message = one_line_error(lambda: sanitize(dump, rules))
    assert message.startswith("<stream>:3: COPY row of public.users has 1 fields")
    assert "(line 1) names 2 columns" in message
    keep = make_rules(KEEP)
    assert "<stream>:3:" in one_line_error(lambda: sanitize(dump, keep))


def test_unterminated_insert_string(make_rules: MakeRules, sanitize: Sanitize) -> None:
    rules = email_rules(make_rules)
    dump = "SET a = 1;\nINSERT INTO public.users (id, email) VALUES\n(1, 'oops);\n(2, 'x');"
    message = one_line_error(lambda: sanitize(dump, rules))
    assert message.startswith("<stream>:2: the INSERT statement that starts here never ends")
    assert "opened on line 4" in message


def test_insert_row_with_wrong_value_count(make_rules: MakeRules, sanitize: Sanitize) -> None:
    rules = email_rules(make_rules)
    dump = "INSERT INTO public.users (id, email) VALUES (1, 'a'),\n(2);\n"
    assert one_line_error(lambda: sanitize(dump, rules)).startswith(
        "<stream>:2: an INSERT row of public.users has 1 values for 2 columns"
    )


def test_bad_encoding_names_file_and_line(make_rules: MakeRules, tmp_path: Path) -> None:
    rules = email_rules(make_rules)
    dump = tmp_path / "dump.sql"
    dump.write_bytes(
        b"SET a = 1;\nCOPY public.users (id, email) FROM stdin;\n1\tcaf\xe9@x.example\n\\.\n"
    )
    out = tmp_path / "out.sql"
    message = one_line_error(lambda: sanitize_file(dump, out, rules, salt=SALT))
    assert message.startswith(f"{dump}:3: not valid UTF-8 (byte 0xe9)")
    assert not out.exists()


def test_custom_format_archive_is_refused(make_rules: MakeRules, tmp_path: Path) -> None:
    dump = tmp_path / "prod.dump"
    dump.write_bytes(b"PGDMP\x01\x0e\x00binary")
    message = one_line_error(
        lambda: sanitize_file(dump, tmp_path / "o.sql", make_rules(KEEP), salt=SALT)
    )
    assert "custom-format archive" in message and "pg_restore" in message


def test_copy_options_are_refused_for_sanitized_tables(
    make_rules: MakeRules, sanitize: Sanitize
) -> None:
    dump = "COPY public.users (id, email) FROM stdin WITH (FORMAT csv);\n1,a\n\\.\n"
    assert "has options" in one_line_error(lambda: sanitize(dump, email_rules(make_rules)))
    assert sanitize(dump, make_rules(KEEP)) == dump


def test_errors_reach_the_command_line_as_one_line(tmp_path: Path) -> None:
    dump = tmp_path / "dump.sql"
    dump.write_text("COPY public.users (id, email) FROM stdin;\n1\tx\n")
    rules = tmp_path / "rules.yaml"
    rules.write_text(KEEP)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_ephemeral.data.sanitize.cli",
            str(dump),
            "--rules",
            str(rules),
            "--output",
            str(tmp_path / "out.sql"),
        ],
        capture_output=True,
        text=True,
        env={
            "EPH_SANITIZE_SALT": SALT.decode(),
            "PYTHONPATH": str(Path(__file__).parents[2] / "src"),
        },
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"eph sanitize: error: {dump}:1: the COPY data of public.users")


# ------------------------------------------------------ coverage of the rules


def test_refuse_lists_every_uncovered_column_at_once_and_writes_nothing(
    make_rules: MakeRules, tmp_path: Path
) -> None:
    rules = make_rules(
        """\
        default: refuse
        tables:
          public.users:
            columns: {id: keep, email: {fake: email}}
        """
    )
    dump = tmp_path / "dump.sql"
    dump.write_text(
        "COPY public.users (id, email, phone, address) FROM stdin;\n1\ta@b.example\t1\t2\n\\.\n"
        "COPY public.orders (id, note) FROM stdin;\n1\tx\n\\.\n"
        "INSERT INTO public.audit (id, who) VALUES (1, 'a');\n"
    )
    out = tmp_path / "out.sql"
    message = one_line_error(lambda: sanitize_file(dump, out, rules, salt=SALT))
    assert "default is refuse, but 6 columns of the input have no rule" in message
    assert f"public.users ({dump}:1): phone, address" in message
    assert f"public.orders ({dump}:4): id, note" in message
    assert f"public.audit ({dump}:7): id, who" in message
    assert "set 'default: keep'" in message
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dump.sql", "sanitize.yaml"]
    # check_rules says the same without writing anything.
    assert one_line_error(lambda: check_rules(dump, rules)) == message


def test_per_table_default(make_rules: MakeRules, sanitize: Sanitize) -> None:
    rules = make_rules(
        """\
        default: keep
        tables:
          secrets:
            default: refuse
            optional: true
            columns: {id: keep}
        """
    )
    message = one_line_error(
        lambda: sanitize("COPY secrets (id, key) FROM stdin;\n1\tk\n\\.\n", rules)
    )
    assert "secrets (<stream>:1): key" in message
    other = "COPY other (id, key) FROM stdin;\n1\tk\n\\.\n"
    assert sanitize(other, rules) == other


def test_rules_naming_missing_tables_and_columns(make_rules: MakeRules, sanitize: Sanitize) -> None:
    rules = make_rules(
        """\
        default: keep
        tables:
          public.users:
            columns:
              emial: {fake: email}
          public.ghost:
            columns: {a: keep}
          public.maybe:
            optional: true
            columns: {a: keep}
        """
    )
    dump = "COPY public.users (id, email) FROM stdin;\n1\tx@y.example\n\\.\n"
    message = one_line_error(lambda: sanitize(dump, rules))
    assert message.startswith("2 problems with the rules: ")
    assert "sanitize.yaml:5: column 'emial' of table public.users is not in the input" in message
    assert "(<stream>:1 has: id, email)" in message
    assert "sanitize.yaml:6: table 'public.ghost' is not in <stream>" in message
    assert "maybe" not in message


def test_check_rules_accepts_good_rules(make_rules: MakeRules, tmp_path: Path) -> None:
    dump = tmp_path / "dump.sql"
    dump.write_text("COPY public.users (id, email) FROM stdin;\n1\tx@y.example\n\\.\n")
    check_rules(dump, email_rules(make_rules))


# ------------------------------------------------------------------- files


def test_sanitize_file_report_and_atomic_output(make_rules: MakeRules, tmp_path: Path) -> None:
    dump = tmp_path / "prod.sql"
    dump.write_text(
        "COPY public.users (id, email) FROM stdin;\n1\ta@b.example\n2\tc@d.example\n\\.\n"
        "INSERT INTO public.users (id, email) VALUES (3, 'e@f.example'), (4, NULL);\n"
    )
    out = tmp_path / "safe.sql"
    out.write_text("previous content\n")
    report = sanitize_file(dump, out, email_rules(make_rules), salt=SALT)
    assert dict(report.rows) == {"public.users": 4}
    assert dict(report.columns) == {"public.users": ("email",)}
    assert report.total_rows == 4 and report.elapsed > 0
    assert "4 rows in 1 table" in report.summary()
    assert "a@b.example" not in out.read_text()
    # A failing run leaves the previous output alone and no temporary file.
    bad = tmp_path / "bad.sql"
    bad.write_text("COPY public.users (id, email) FROM stdin;\n1\ta@b.example\n")
    before = out.read_text()
    with pytest.raises(DataError):
        sanitize_file(bad, out, email_rules(make_rules), salt=SALT)
    assert out.read_text() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_gzip_in_and_out(make_rules: MakeRules, tmp_path: Path) -> None:
    dump = tmp_path / "prod.sql.gz"
    with gzip.open(dump, "wt") as handle:
        handle.write("COPY public.users (id, email) FROM stdin;\n1\ta@b.example\n\\.\n")
    out = tmp_path / "safe.sql.gz"
    sanitize_file(dump, out, email_rules(make_rules), salt=SALT)
    with gzip.open(out, "rt") as handle:
        text = handle.read()
    assert text.startswith("COPY public.users") and "a@b.example" not in text


def test_output_must_differ_from_input(make_rules: MakeRules, tmp_path: Path) -> None:
    dump = tmp_path / "prod.sql"
    dump.write_text("SELECT 1;\n")
    message = one_line_error(lambda: sanitize_file(dump, dump, make_rules(KEEP), salt=SALT))
    assert "must not be the input" in message


def test_format_detection(make_rules: MakeRules, tmp_path: Path) -> None:
    odd = tmp_path / "prod.data"
    odd.write_text("-- dump\nCOPY public.users (id, email) FROM stdin;\n1\ta@b.example\n\\.\n")
    sanitize_file(odd, tmp_path / "o.data", email_rules(make_rules), salt=SALT)
    unknown = tmp_path / "mystery.bin"
    unknown.write_text("id;email\n")
    assert "pass --format" in one_line_error(
        lambda: sanitize_file(unknown, tmp_path / "o.bin", make_rules(KEEP), salt=SALT)
    )


def test_salt_is_checked(make_rules: MakeRules) -> None:
    with pytest.raises(DataError, match="at least 16 bytes"):
        sanitize_stream([], make_rules(KEEP), b"short")


def test_a_pattern_covers_every_partition(make_rules: MakeRules, sanitize: Sanitize) -> None:
    rules = make_rules(
        "default: refuse\ntables:\n  public.events_*:\n    columns: {id: keep, ip: null}\n"
    )
    dump = (
        "COPY public.events_2024 (id, ip) FROM stdin;\n1\t10.0.0.1\n\\.\n"
        "COPY public.events_2025 (id, ip) FROM stdin;\n2\t10.0.0.2\n\\.\n"
    )
    assert "10.0.0" not in sanitize(dump, rules)
    missing = make_rules("default: keep\ntables:\n  public.nothing_*:\n    columns: {}\n")
    with pytest.raises(DataError, match=r"table 'public.nothing_\*' is not in"):
        sanitize(dump, missing)


def test_insert_column_lists_may_leave_columns_out(
    make_rules: MakeRules, sanitize: Sanitize
) -> None:
    rules = make_rules(
        "default: keep\ntables:\n  t:\n    columns:\n      email: hash\n      nick: null\n"
    )
    dump = (
        "INSERT INTO t (id, email) VALUES (1, 'a@b.example');\n"
        "INSERT INTO t (id, nick) VALUES (2, 'nick');\n"
    )
    out = sanitize(dump, rules)
    assert "a@b.example" not in out and "'nick'" not in out
    never = "INSERT INTO t (id, email) VALUES (1, 'a@b.example');\n"
    with pytest.raises(DataError) as info:
        sanitize(never, rules)
    message = str(info.value)
    assert "sanitize.yaml:6: column 'nick' of table t is not in the input" in message
    assert "(<stream>:1 has: email, id)" in message


def test_block_comments_before_a_copy(make_rules: MakeRules, sanitize: Sanitize) -> None:
    dump = (
        "/* exported by hand */\n"
        "/* two\nlines */ -- and more\n"
        "COPY public.users (id, email) FROM stdin;\n1\tanna@corp.example\n\\.\n"
    )
    out = sanitize(dump, email_rules(make_rules))
    assert "anna@corp.example" not in out
    assert out.startswith("/* exported by hand */\n/* two\nlines */ -- and more\nCOPY")
