"""Seed steps on PostgreSQL against the real engine: every kind, the messages
of failing steps, the leak check, and that a failed seed leaves nothing."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_ephemeral.data.seed import SeedError
from pytest_ephemeral.data.snapshot import describe_snapshots, reset_environment

pytestmark = pytest.mark.docker

SCHEMA = """\
create table customers (id int primary key, email text not null unique, full_name text,
                        phone text, notes text);
create table orders (id int primary key, customer_id int references customers,
                     customer_email text not null, total numeric(10, 2));
create table products (sku text primary key, title text, price numeric(10, 2));
create table audit (id serial primary key, entry text);
"""

DUMP = """\
--
-- PostgreSQL database dump (data only)
--
SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SELECT pg_catalog.set_config('search_path', '', false);

COPY public.customers (id, email, full_name, phone, notes) FROM stdin;
1	maria.gonzalez@gmail.com	Maria Gonzalez	+1 415 555 0101	prefers mornings
2	john.smith@yahoo.com	John Smith	+1 212 555 0199	\\N
\\.

INSERT INTO public.orders (id, customer_id, customer_email, total) VALUES (10, 1, 'maria.gonzalez@gmail.com', 99.50);
INSERT INTO public.orders (id, customer_id, customer_email, total) VALUES (11, 2, 'john.smith@yahoo.com', 12.00);
INSERT INTO public.orders (id, customer_id, customer_email, total) VALUES (12, 1, 'maria.gonzalez@gmail.com', 5.25);
"""

RULES = """\
default: refuse
tables:
  public.customers:
    columns:
      id: keep
      email: {fake: email, unique: true}
      full_name: {fake: name}
      phone: {hash: {keep_format: true}}
      notes: keep
  public.orders:
    columns:
      id: keep
      customer_id: keep
      customer_email: {fake: email, unique: true}
      total: keep
"""

ORIGINAL_EMAILS = {"maria.gonzalez@gmail.com", "john.smith@yahoo.com"}

PRODUCTS_CSV = 'sku,title,price\nA-1,"Kettle, steel",19.90\nB-2,Toaster,24.50\n'

PLAIN_DUMP = """\
COPY public.products (sku, title, price) FROM stdin;
C-3	Blender	49.00
\\.
"""

SEEDS_PY = """\
def add_audit(env, service):
    code, out = service.exec(
        ["psql", "-U", "postgres", "-d", "shop", "-c", "insert into audit (entry) values ('by python')"]
    )
    assert code == 0, out
"""

OTHER_DB = """\
create database reports;
"""

REPORTS = """\
create table daily (day date primary key, total numeric);
insert into daily values ('2024-01-01', 10), ('2024-01-02', 20);
"""


def test_every_postgres_step_kind_in_order_then_reset(
    project: Callable[..., Path],
    pg_service: Callable[..., dict[str, Any]],
    environment: Callable[[Path], Any],
    pg_connect: Callable[..., Any],
) -> None:
    db = pg_service()
    db["seed"] = [
        {"sql": "seed/schema.sql"},
        {"csv": {"table": "products", "file": "seed/products.csv"}},
        {"dump": "seed/prod.sql", "sanitize": "seed/sanitize.yaml"},
        {"dump": "seed/more.sql.gz"},
        {"python": "seeds:add_audit"},
        {"sql": "seed/other_db.sql"},
        {"sql": "seed/reports.sql", "database": "reports"},
    ]
    path = project(
        {"name": "kinds", "services": {"db": db}},
        {
            "seed/schema.sql": SCHEMA,
            "seed/products.csv": PRODUCTS_CSV,
            "seed/prod.sql": DUMP,
            "seed/sanitize.yaml": RULES,
            "seed/more.sql.gz": gzip.compress(PLAIN_DUMP.encode()),
            "seeds.py": SEEDS_PY,
            "seed/other_db.sql": OTHER_DB,
            "seed/reports.sql": REPORTS,
        },
    )
    with environment(path) as env:
        service = env["db"]
        assert env.timeline["db"].seeded is not None
        with pg_connect(service) as conn:
            products = conn.execute("select sku, title from products order by sku").fetchall()
            assert products == [("A-1", "Kettle, steel"), ("B-2", "Toaster"), ("C-3", "Blender")]
            emails = {r[0] for r in conn.execute("select email from customers")}
            assert len(emails) == 2 and not emails & ORIGINAL_EMAILS
            names = {r[0] for r in conn.execute("select full_name from customers")}
            assert not names & {"Maria Gonzalez", "John Smith"}
            # the same original gives the same fake everywhere: joins on e-mail still match
            joined = conn.execute(
                "select o.id, c.id from orders o join customers c on c.email = o.customer_email "
                "order by o.id"
            ).fetchall()
            assert joined == [(10, 1), (11, 2), (12, 1)]
            assert conn.execute("select entry from audit").fetchall() == [("by python",)]
        with pg_connect(service, "reports") as conn:
            assert conn.execute("select count(*) from daily").fetchone() == (2,)

        # both seeded databases are snapshotted and come back
        assert "template database" in describe_snapshots(env)["db"]
        with pg_connect(service) as conn:
            conn.execute("delete from orders")
            conn.execute("drop table products")
            conn.execute("insert into audit (entry) values ('by the test')")
        with pg_connect(service, "reports") as conn:
            conn.execute("truncate daily")
        reset_environment(env)
        with pg_connect(service) as conn:
            assert conn.execute("select count(*) from orders").fetchone() == (3,)
            assert conn.execute("select count(*) from products").fetchone() == (3,)
            assert conn.execute("select entry from audit").fetchall() == [("by python",)]
            # the serial goes on from the seeded state too
            assert conn.execute("select nextval('audit_id_seq')").fetchone() == (2,)
        with pg_connect(service, "reports") as conn:
            assert conn.execute("select count(*) from daily").fetchone() == (2,)


BAD_SQL = """\
-- schema
create table t (id int primary key, name text);

insert into t values (1, 'a');
insert into t
  values (2, 'b'),
         (3, nope);
select 1;
"""


def test_bad_sql_names_file_line_and_statement_and_leaves_nothing(
    project: Callable[..., Path],
    pg_service: Callable[..., dict[str, Any]],
    start_fails: Callable[[Path], Exception],
) -> None:
    db = pg_service()
    db["seed"] = [{"sql": "seed/ok.sql"}, {"sql": "seed/bad.sql"}]
    path = project(
        {"name": "badsql", "services": {"db": db}},
        {"seed/ok.sql": "create table ok (id int);\n", "seed/bad.sql": BAD_SQL},
    )
    err = start_fails(path)
    assert isinstance(err, SeedError)
    text = str(err)
    assert "service 'db'" in text
    assert "seed step 2 of 2 (sql: seed/bad.sql" in text
    assert "ephemeral.yaml:" in text
    assert 'seed/bad.sql:7: ERROR: column "nope" does not exist' in text
    assert "in the statement at line 5: insert into t values (2, 'b'), (3, nope);" in text
    assert (err.service, err.step, err.kind, err.line) == ("db", 2, "sql", 7)
    assert err.file is not None and err.file.name == "bad.sql"


def test_csv_into_a_missing_table_is_a_clear_error(
    project: Callable[..., Path],
    pg_service: Callable[..., dict[str, Any]],
    start_fails: Callable[[Path], Exception],
) -> None:
    db = pg_service()
    db["seed"] = [{"csv": {"table": "nosuch", "file": "seed/rows.csv"}}]
    path = project({"name": "badcsv", "services": {"db": db}}, {"seed/rows.csv": "id,name\n1,a\n"})
    err = start_fails(path)
    text = str(err)
    assert "seed step 1 of 1 (csv: nosuch from seed/rows.csv" in text
    assert 'relation "nosuch" does not exist' in text
    assert "create table nosuch in an earlier step" in text


def test_bad_row_in_a_dump_names_the_line_but_never_the_row(
    project: Callable[..., Path],
    pg_service: Callable[..., dict[str, Any]],
    start_fails: Callable[[Path], Exception],
) -> None:
    db = pg_service()
    db["seed"] = [{"sql": "seed/schema.sql"}, {"dump": "seed/prod.sql"}]
    dump = (
        "COPY public.customers (id, email, full_name, phone, notes) FROM stdin;\n"
        "1\tmaria.gonzalez@gmail.com\tMaria Gonzalez\t+1 415 555 0101\t\\N\n"
        "x\tjohn.smith@yahoo.com\tJohn Smith\t+1 212 555 0199\t\\N\n"
        "\\.\n"
    )
    path = project(
        {"name": "badrow", "services": {"db": db}},
        {"seed/schema.sql": SCHEMA, "seed/prod.sql": dump},
    )
    err = start_fails(path)
    text = str(err)
    assert "seed/prod.sql:3:" in text
    assert "invalid input syntax for type integer" in text
    assert "COPY public.customers (id, email, full_name, phone, notes) FROM stdin;" in text
    assert "john.smith" not in text and "John Smith" not in text


def test_python_step_raising_is_reported_with_its_cause(
    project: Callable[..., Path],
    pg_service: Callable[..., dict[str, Any]],
    start_fails: Callable[[Path], Exception],
) -> None:
    db = pg_service()
    db["seed"] = [{"python": "failing_seeds:load"}]
    path = project(
        {"name": "badpy", "services": {"db": db}},
        {
            "failing_seeds.py": "def load(env, service):\n    raise ValueError('no fixtures for tenant 7')\n"
        },
    )
    err = start_fails(path)
    text = str(err)
    assert "seed step 1 of 1 (python: failing_seeds:load" in text
    assert "failing_seeds:load(env, service) raised ValueError: no fixtures for tenant 7" in text
    assert isinstance(err.__cause__, ValueError)


def test_sql_step_on_a_redis_service_is_a_clear_error(
    project: Callable[..., Path], start_fails: Callable[[Path], Exception]
) -> None:
    cache = {
        "image": "redis:7-alpine",
        "wait": {"log": "Ready to accept connections"},
        "seed": [{"sql": "seed/schema.sql"}],
    }
    path = project(
        {"name": "wrongkind", "services": {"cache": cache}},
        {"seed/schema.sql": "create table t (id int);\n"},
    )
    text = str(start_fails(path))
    assert "sql: steps need a PostgreSQL service" in text
    assert "service 'cache' (redis:7-alpine) is not one" in text


def test_leak_check_catches_an_original_copied_into_a_kept_column(
    project: Callable[..., Path],
    pg_service: Callable[..., dict[str, Any]],
    start_fails: Callable[[Path], Exception],
) -> None:
    db = pg_service()
    db["seed"] = [
        {"sql": "seed/schema.sql"},
        {"dump": "seed/prod.sql", "sanitize": "seed/sanitize.yaml"},
    ]
    # support staff pasted a customer's e-mail into the notes: `notes: keep` lets it through
    planted = DUMP.replace("prefers mornings", "john.smith@yahoo.com")
    path = project(
        {"name": "leaky", "services": {"db": db}},
        {"seed/schema.sql": SCHEMA, "seed/prod.sql": planted, "seed/sanitize.yaml": RULES},
    )
    err = start_fails(path)
    assert isinstance(err, SeedError)
    text = str(err)
    assert "leak check: 1 original value of sanitized columns found in database 'shop'" in text
    assert "public.customers.notes: 1 value" in text
    assert "john.smith" not in text
    assert [(x.table, x.column, x.count) for x in err.leaks] == [("public.customers", "notes", 1)]


def test_leak_check_also_runs_without_a_published_port(
    project: Callable[..., Path],
    pg_service: Callable[..., dict[str, Any]],
    start_fails: Callable[[Path], Exception],
) -> None:
    db = pg_service(ports=False)
    db["seed"] = [
        {"sql": "seed/schema.sql"},
        {"dump": "seed/prod.sql", "sanitize": "seed/sanitize.yaml"},
    ]
    planted = DUMP.replace("prefers mornings", "maria.gonzalez@gmail.com")
    path = project(
        {"name": "leakyexec", "services": {"db": db}},
        {"seed/schema.sql": SCHEMA, "seed/prod.sql": planted, "seed/sanitize.yaml": RULES},
    )
    text = str(start_fails(path))
    assert "public.customers.notes: 1 value" in text
    assert "maria.gonzalez" not in text


def test_missing_salt_fails_before_anything_is_loaded(
    project: Callable[..., Path],
    pg_service: Callable[..., dict[str, Any]],
    start_fails: Callable[[Path], Exception],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("EPH_SANITIZE_SALT")
    db = pg_service()
    db["seed"] = [{"dump": "seed/prod.sql", "sanitize": "seed/sanitize.yaml"}]
    path = project(
        {"name": "nosalt", "services": {"db": db}},
        {"seed/prod.sql": DUMP, "seed/sanitize.yaml": RULES},
    )
    text = str(start_fails(path))
    assert "seed step 1 of 1 (dump: seed/prod.sql" in text
    assert "EPH_SANITIZE_SALT" in text
