#!/usr/bin/env python
"""Per-test RESET of a seeded PostgreSQL database against SEEDING it again.

The database: ``users`` (4,000 rows) and ``orders`` (6,000 rows) = 10,000
rows, seeded the way a suite would: ``sql:`` schema, then a pg_dump ``dump:``
with ``sanitize:`` rules (7 transformed columns) and its leak check. It runs
in an environment started through ``Manager`` (the path of the ``eph``
fixture), PostgreSQL on tmpfs.

Measured side by side, in one run:

reset, test between
    ``reset_environment(env)`` (what ``eph_fresh`` does), each followed by a
    "test" that connects, deletes 100 orders, updates 100 users, and takes
    ``--test-ms`` (default 100 ms) in all — long enough for the spare copy
    (prepared in the background after each reset) to be ready.
reset, back to back
    the same with a test that does the changes but takes no extra time: each
    reset waits for the spare copy started by the previous one (the worst case).
reset through psql
    the fallback without a host connection (psycopg missing or no published
    port): the same template, DROP + CREATE by ``psql`` in the container.
seed again
    what a reset replaces: drop and create the database, then the seed steps
    (schema, sanitize + load + leak check).
seed again, no sanitize
    the lower bound of seeding: the schema and the already sanitized dump.

Each reset is checked (untimed, every tenth) to have brought back all 10,000
rows. Targets: reset median <= 50 ms, and >= 20x faster than seeding again.

Run:  python benchmarks/bench_reset.py [--resets 50] [--reseeds 5] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import os

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
os.environ.setdefault("EPH_SANITIZE_SALT", "bench-reset-salt-0123456789abcdef")

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, machine_facts, machine_table, write_section

USERS = 4_000
ORDERS = 6_000

SCHEMA = """\
create table users (id int primary key, email text not null unique, first_name text,
    last_name text, phone text, address text, created_at timestamptz not null);
create table orders (id int primary key, user_id int not null references users,
    customer_email text not null, amount numeric(10, 2) not null, status text not null,
    created_at timestamptz not null);
create index on orders (customer_email);
"""

RULES = """\
default: refuse
tables:
  public.users:
    columns:
      id: keep
      email: {fake: email, unique: true}
      first_name: {fake: first_name}
      last_name: {fake: last_name}
      phone: {hash: {keep_format: true}}
      address: {fake: address}
      created_at: keep
  public.orders:
    columns:
      id: keep
      user_id: keep
      customer_email: {fake: email, unique: true}
      amount: keep
      status: keep
      created_at: keep
"""

_FIRST = [
    "Anna",
    "Ben",
    "Carla",
    "Dieter",
    "Emma",
    "Felix",
    "Greta",
    "Hugo",
    "Ida",
    "Jonas",
    "Klara",
    "Lukas",
    "Mia",
    "Noah",
    "Olga",
]
_LAST = [
    "Meyer",
    "Schmidt",
    "Novak",
    "Rossi",
    "Dubois",
    "Silva",
    "Jensen",
    "Kowalski",
    "Horvat",
    "Ivanova",
    "Berg",
]
_STREETS = ["Oak", "Maple", "Pine", "Cedar", "Elm", "Birch", "Willow", "Lake", "Hill", "River"]


def generate(work: Path) -> None:
    rnd = random.Random(7)
    (work / "schema.sql").write_text(SCHEMA)
    (work / "sanitize.yaml").write_text(RULES)
    emails = []
    with (work / "prod.sql").open("w") as out:
        out.write("SET client_encoding = 'UTF8';\n\n")
        out.write(
            "COPY public.users (id, email, first_name, last_name, phone, address, "
            "created_at) FROM stdin;\n"
        )
        for i in range(1, USERS + 1):
            first, last = rnd.choice(_FIRST), rnd.choice(_LAST)
            email = f"{first.lower()}.{last.lower()}{i}@example-mail.com"
            emails.append(email)
            phone = f"+49 {rnd.randint(100, 999)} {rnd.randint(1000000, 9999999)}"
            address = f"{rnd.randint(1, 200)} {rnd.choice(_STREETS)} Street"
            out.write(
                f"{i}\t{email}\t{first}\t{last}\t{phone}\t{address}\t2023-01-01 10:00:00+00\n"
            )
        out.write("\\.\n\n")
        out.write(
            "COPY public.orders (id, user_id, customer_email, amount, status, created_at) "
            "FROM stdin;\n"
        )
        for i in range(1, ORDERS + 1):
            user = rnd.randint(1, USERS)
            out.write(
                f"{i}\t{user}\t{emails[user - 1]}\t{rnd.randint(100, 99999) / 100:.2f}\t"
                f"{rnd.choice(['paid', 'shipped', 'refunded'])}\t2024-02-02 12:00:00+00\n"
            )
        out.write("\\.\n")
    spec = """\
name: bench-reset
services:
  db:
    image: postgres:16-alpine
    environment: {POSTGRES_PASSWORD: secret, POSTGRES_DB: shop}
    ports: [5432]
    healthcheck:
      test: ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", "postgres", "-d", "shop"]
      interval: 1s
      retries: 30
    tmpfs: [/var/lib/postgresql/data]
    seed:
      - sql: schema.sql
      - dump: prod.sql
        sanitize: sanitize.yaml
"""
    (work / "ephemeral.yaml").write_text(spec)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--resets", type=int, default=50)
    parser.add_argument("--reseeds", type=int, default=5)
    parser.add_argument("--test-ms", type=float, default=100.0)
    parser.add_argument("--out", type=Path, help="write the section into this Markdown file")
    args = parser.parse_args(argv)

    import docker
    import psycopg

    from pytest_ephemeral.config import Settings
    from pytest_ephemeral.data.postgres.settings import pg_settings
    from pytest_ephemeral.data.postgres.snapshot import PgExecSnapshot
    from pytest_ephemeral.data.seed import run_steps
    from pytest_ephemeral.data.snapshot import describe_snapshots, reset_environment
    from pytest_ephemeral.lifecycle.manager import Manager

    client = docker.from_env()
    facts = machine_facts(client.info())
    client.close()

    with tempfile.TemporaryDirectory(prefix="eph-bench-reset-") as tmp:
        work = Path(tmp)
        generate(work)
        manager = Manager(Settings(rootdir=work))
        try:
            t0 = time.perf_counter()
            env = manager.environment(work / "ephemeral.yaml")
            up = time.perf_counter() - t0
            times = env.timeline["db"]
            first_seed = (times.seeded or 0) - (times.ready or 0)
            svc = env["db"]
            dsn: dict[str, Any] = {
                "host": svc.host,
                "port": svc.port(5432),
                "user": "postgres",
                "password": "secret",
                "dbname": "shop",
                "autocommit": True,
            }

            def rows() -> int:
                with psycopg.connect(**dsn) as conn:
                    row = conn.execute(
                        "select (select count(*) from users) + (select count(*) from orders)"
                    ).fetchone()
                    return int(row[0]) if row else -1

            def test_body(extra: float) -> None:
                started = time.perf_counter()
                with psycopg.connect(**dsn) as conn:
                    conn.execute("delete from orders where id <= 100")
                    conn.execute("update users set first_name = 'x' where id <= 100")
                left = extra - (time.perf_counter() - started)
                if left > 0:
                    time.sleep(left)

            def measure(reset: Callable[[], None], n: int, extra: float) -> list[float]:
                out: list[float] = []
                for i in range(n):
                    test_body(extra)
                    started = time.perf_counter()
                    reset()
                    out.append(time.perf_counter() - started)
                    if i % 10 == 0 and rows() != USERS + ORDERS:
                        raise SystemExit(f"reset {i} did not bring back {USERS + ORDERS} rows")
                return out

            assert rows() == USERS + ORDERS
            mechanism = describe_snapshots(env)["db"]
            between = measure(lambda: reset_environment(env), args.resets, args.test_ms / 1000)
            back = measure(lambda: reset_environment(env), args.resets, 0.0)
            fallback = PgExecSnapshot(svc, pg_settings(svc), ["shop"])
            if not fallback.adopt(svc):
                raise SystemExit("no template database found for the psql fallback")
            via_psql = measure(lambda: fallback.reset(env, svc), max(10, args.resets // 5), 0.0)
            reset_environment(env)  # the host snapshot again (its spare is gone)

            def reseed(steps_env: Any) -> float:
                with psycopg.connect(**{**dsn, "dbname": "postgres"}) as conn:
                    started = time.perf_counter()
                    conn.execute("drop database shop with (force)")
                    conn.execute("create database shop")
                run_steps(steps_env, svc)
                elapsed = time.perf_counter() - started
                if rows() != USERS + ORDERS:
                    raise SystemExit("seeding again did not load every row")
                return elapsed

            reseeds = [reseed(env) for _ in range(args.reseeds)]
            # the lower bound: schema + the sanitized dump, no sanitizing, no leak check
            from pytest_ephemeral.data.sanitize import load_rules, resolve_salt, sanitize_file

            rules = load_rules(work / "sanitize.yaml")
            sanitize_file(
                work / "prod.sql",
                work / "safe.sql",
                rules,
                salt=resolve_salt(rules, os.environ),
            )
            (work / "plain.yaml").write_text(
                (work / "ephemeral.yaml")
                .read_text()
                .replace(
                    "      - dump: prod.sql\n        sanitize: sanitize.yaml\n",
                    "      - dump: safe.sql\n",
                )
            )
            from pytest_ephemeral.spec import load_spec

            plain_spec = load_spec(work / "plain.yaml")
            plain_service = type(svc)(
                "db", plain_spec.services["db"], env.backend, svc.container_id, svc.host, svc.ports
            )

            class _PlainEnv:
                spec = plain_spec
                backend = env.backend

            def reseed_plain() -> float:
                with psycopg.connect(**{**dsn, "dbname": "postgres"}) as conn:
                    started = time.perf_counter()
                    conn.execute("drop database shop with (force)")
                    conn.execute("create database shop")
                run_steps(_PlainEnv(), plain_service)  # type: ignore[arg-type]
                elapsed = time.perf_counter() - started
                if rows() != USERS + ORDERS:
                    raise SystemExit("seeding again did not load every row")
                return elapsed

            plain = [reseed_plain() for _ in range(args.reseeds)]
        finally:
            manager.close(failed=False)

    seed_med = statistics.median(reseeds)
    lines = [
        "## Per-test reset vs seeding again",
        "",
        f"Command: `{command_line()}`",
        "",
        f"A PostgreSQL database of {USERS + ORDERS:,} rows ({USERS:,} users, {ORDERS:,} "
        "orders) seeded from a schema file and a sanitized pg_dump (7 transformed columns, "
        f"leak check), on tmpfs. Environment up and seeded in {up:.2f} s (seeding "
        f"{first_seed:.2f} s of it). Snapshot mechanism: {mechanism}.",
        "",
        "| what | runs | median | p95 | vs seeding again |",
        "|---|---:|---:|---:|---:|",
    ]

    def row(name: str, values: list[float]) -> str:
        med = statistics.median(values)
        return (
            f"| {name} | {len(values)} | {ms(med)} | {ms(pct(values, 0.95))} | "
            f"{seed_med / med:.0f}x faster |"
        )

    lines += [
        row(f"reset (`eph_fresh`), {args.test_ms:.0f} ms test between resets", between),
        row("reset, back to back (waits for the spare copy)", back),
        row("reset through psql in the container (fallback)", via_psql),
        f"| seed again: schema + sanitize + load + leak check | {len(reseeds)} | "
        f"{ms(seed_med)} | {ms(pct(reseeds, 0.95))} | 1x |",
        f"| seed again without sanitizing (lower bound) | {len(plain)} | "
        f"{ms(statistics.median(plain))} | {ms(pct(plain, 0.95))} | "
        f"{seed_med / statistics.median(plain):.1f}x faster |",
        "",
    ]
    med_between = statistics.median(between)
    ok = med_between <= 0.050 and seed_med / med_between >= 20
    lines.append(
        f"Targets (reset median <= 50 ms, >= 20x faster than seeding again): "
        f"{'met' if ok else 'NOT met'}; reset vs the seeding lower bound: "
        f"{statistics.median(plain) / med_between:.0f}x."
    )
    lines += ["", *machine_table(facts)]
    text = "\n".join(lines)
    print(text)
    if args.out:
        write_section(args.out, "bench-reset", text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
