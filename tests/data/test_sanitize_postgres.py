"""End to end against a real PostgreSQL: dumps made by pg_dump (COPY, --inserts,
--column-inserts) are sanitized, load back with their unique and foreign-key
constraints intact, and the loaded database holds no original value."""

from __future__ import annotations

import io
import secrets
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_ephemeral.data.sanitize import (
    Fake,
    Hash,
    Rules,
    check_leaks,
    check_leaks_files,
    collect_originals,
    sanitize_file,
)
from pytest_ephemeral.data.sanitize._pgdump import copy_decode

pytestmark = pytest.mark.docker

SALT = b"tests-salt-0123456789abcdef"
MakeRules = Callable[[str], Rules]

SCHEMA_AND_DATA = r"""
CREATE TABLE users (
  id serial PRIMARY KEY,
  email text NOT NULL UNIQUE,
  first_name text,
  "Last Name" varchar(100),
  phone text UNIQUE,
  notes text,
  born date,
  balance numeric(12,2),
  tags text[]
);
CREATE TABLE orders (
  id bigserial PRIMARY KEY,
  customer_email text NOT NULL REFERENCES users(email),
  amount numeric(10,2),
  note text
);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO orders (customer_email, note) VALUES (NEW.email, 'x');
  RETURN NEW;
END $$;
COMMENT ON TABLE users IS 'it''s
COPY users FROM stdin;';
INSERT INTO users (email, first_name, "Last Name", phone, notes, born, balance, tags)
SELECT 'user' || g || '@corp.example', 'First' || g, E'O''Brien\t' || g,
  '+49 30 ' || lpad(g::text, 7, '0'),
  CASE WHEN g % 3 = 0 THEN NULL
       WHEN g % 3 = 1 THEN E'line1\nline2\\back\tslash ' || g
       ELSE 'ünïcødé ✓ ' || g END,
  date '1970-01-01' + g, g * 1.5, ARRAY['a', 'b,c', g::text]
FROM generate_series(1, 300) g;
INSERT INTO orders (customer_email, amount, note)
SELECT 'user' || (1 + g % 300) || '@corp.example', g / 7.0,
  CASE WHEN g % 2 = 0 THEN NULL ELSE 'note ''' || g || '''' END
FROM generate_series(1, 700) g;
"""

RULES = """\
default: refuse
tables:
  public.users:
    columns:
      id: keep
      email: {fake: email, unique: true}
      first_name: {fake: first_name}
      Last Name: {fake: last_name}
      phone: {hash: {keep_format: true}, unique: true}
      notes: {mask: {keep_first: 2}}
      born: {noise: {days: 100}}
      balance: {noise: {relative: 0.2}}
      tags: keep
  public.orders:
    columns:
      id: keep
      customer_email: {fake: email, unique: true}
      amount: {noise: {absolute: 3}}
      note: {fake: sentence}
"""


class Postgres:
    def __init__(self, container: Any) -> None:
        self.container = container

    def run(self, *argv: str) -> str:
        code, (out, err) = self.container.exec_run(list(argv), user="postgres", demux=True)
        if code != 0:
            problem = (err or out or b"").decode("utf-8", "replace")
            pytest.fail(f"{' '.join(argv[:3])} failed ({code}): {problem}", pytrace=False)
        return bytes(out or b"").decode("utf-8")

    def psql(self, database: str, *args: str) -> str:
        return self.run("psql", "-v", "ON_ERROR_STOP=1", "-q", "-d", database, *args)

    def put(self, path: Path) -> str:
        data = path.read_bytes()
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            info = tarfile.TarInfo(path.name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
        self.container.put_archive("/tmp", buffer.getvalue())
        return f"/tmp/{path.name}"


@pytest.fixture(scope="module")
def postgres(docker_client: Any) -> Iterator[Postgres]:
    container = docker_client.containers.run(
        "postgres:16-alpine",
        name=f"eph-sanitize-test-{secrets.token_hex(4)}",
        environment={"POSTGRES_PASSWORD": "secret"},
        tmpfs={"/var/lib/postgresql/data": ""},
        detach=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            # Over TCP: the image's entrypoint first runs a temporary server on
            # the socket only (to initialise), then stops it and starts the real one.
            code, _ = container.exec_run(
                ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", "SELECT 1"], user="postgres"
            )
            if code == 0:
                break
            if time.monotonic() > deadline:
                pytest.fail("postgres:16-alpine did not become ready in 60 s", pytrace=False)
            time.sleep(0.5)
        db = Postgres(container)
        db.psql("postgres", "-c", "CREATE DATABASE src")
        db.psql("src", "-c", SCHEMA_AND_DATA)
        yield db
    finally:
        container.remove(force=True)


@pytest.mark.parametrize(
    "dump_options",
    [(), ("--inserts",), ("--column-inserts", "--rows-per-insert=50")],
    ids=["copy", "inserts", "column-inserts"],
)
def test_real_dumps_sanitize_and_load_back(
    postgres: Postgres,
    make_rules: MakeRules,
    tmp_path: Path,
    dump_options: tuple[str, ...],
) -> None:
    rules = make_rules(RULES)
    original = tmp_path / "prod.sql"
    original.write_text(postgres.run("pg_dump", *dump_options, "src"), encoding="utf-8")
    safe = tmp_path / "safe.sql"
    report = sanitize_file(original, safe, rules, salt=SALT)
    assert dict(report.rows) == {"public.orders": 700, "public.users": 300}
    assert check_leaks_files(original, safe, rules, SALT) == []

    target = f"dst_{secrets.token_hex(4)}"
    postgres.psql("postgres", "-c", f"CREATE DATABASE {target}")
    # ON_ERROR_STOP: the dump's UNIQUE and FOREIGN KEY constraints, added
    # after the data, must hold on the sanitized data.
    postgres.psql(target, "-f", postgres.put(safe))
    counts = postgres.psql(
        target,
        "-At",
        "-c",
        "SELECT count(*), count(DISTINCT email), count(DISTINCT phone) FROM users",
        "-c",
        "SELECT count(*) FROM orders o JOIN users u ON u.email = o.customer_email",
    ).split()
    assert counts == ["300|300|300", "700"]

    # The leak check on the live database (what the seed runner does).
    values = postgres.psql(
        target,
        "-c",
        'COPY (SELECT email, first_name, "Last Name", phone, notes FROM users) TO STDOUT',
    )
    columns = ("email", "first_name", "Last Name", "phone", "notes")
    seen = [
        ("public.users", column, None if raw == "\\N" else copy_decode(raw))
        for line in values.splitlines()
        for column, raw in zip(columns, line.split("\t"), strict=True)
    ]
    assert len(seen) == 300 * len(columns)
    assert check_leaks(collect_originals(original, rules), seen) == []


def test_a_suggested_draft_sanitizes_a_real_dump_that_loads_back(
    postgres: Postgres, tmp_path: Path
) -> None:
    from pytest_ephemeral.data.sanitize import load_rules, suggest_rules

    original = tmp_path / "prod.sql"
    original.write_text(postgres.run("pg_dump", "src"), encoding="utf-8")
    draft = suggest_rules(original)
    rules_path = tmp_path / "draft.yaml"
    rules_path.write_text(draft, encoding="utf-8")
    rules = load_rules(rules_path)
    users = rules.tables["public.users"].columns
    assert users["email"].transform == Fake("email", unique=True)  # UNIQUE in the schema
    assert users["first_name"].transform == Fake("first_name")
    assert users["Last Name"].transform == Fake("last_name")
    assert users["phone"].transform == Hash(keep_format=True, unique=True)
    assert users["born"].transform == Fake("date_of_birth")
    assert users["notes"].transform == Fake("text")
    orders = rules.tables["public.orders"].columns
    assert orders["customer_email"].transform == users["email"].transform  # the foreign key
    safe = tmp_path / "safe.sql"
    sanitize_file(original, safe, rules, salt=SALT)
    assert check_leaks_files(original, safe, rules, SALT) == []
    target = f"dst_{secrets.token_hex(4)}"
    postgres.psql("postgres", "-c", f"CREATE DATABASE {target}")
    postgres.psql(target, "-f", postgres.put(safe))  # constraints hold (ON_ERROR_STOP)
    joined = postgres.psql(
        target,
        "-At",
        "-c",
        "SELECT count(*) FROM orders o JOIN users u ON u.email = o.customer_email",
    )
    assert joined.split() == ["700"]
