"""Seeded, sanitized data in use.

Every test takes ``eph_fresh``: before it runs, the database and the cache are
put back to their seeded state, so each test may change whatever it likes and
the next one still starts from the same data (in any order, under xdist too).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pytest_ephemeral import Environment

DUMP = Path(__file__).parent / "seed" / "prod.sql"


def originals() -> dict[str, set[str]]:
    """Personal data as it is in the production dump (the users' COPY block)."""
    found: dict[str, set[str]] = {"email": set(), "name": set(), "phone": set()}
    in_users = False
    for line in DUMP.read_text(encoding="utf-8").splitlines():
        if line.startswith("COPY public.users "):
            in_users = True
        elif line == "\\.":
            in_users = False
        elif in_users:
            _id, email, first, last, phone, *_ = line.split("\t")
            found["email"].add(email)
            found["name"].add(f"{first} {last}")
            found["phone"].add(phone)
    return found


@pytest.fixture
def db(eph_fresh: Environment) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    svc = eph_fresh["db"]
    with psycopg.connect(
        host=svc.host,
        port=svc.port(5432),
        user="postgres",
        password="secret",
        dbname="shop",
        autocommit=True,
    ) as conn:
        yield conn


def redis(eph: Environment, *args: str) -> str:
    code, out = eph["cache"].exec(["redis-cli", *args])
    assert code == 0, out
    return out.strip()


def test_the_dump_is_loaded(db: psycopg.Connection[tuple[object, ...]]) -> None:
    assert db.execute("select count(*) from users").fetchone() == (24,)
    assert db.execute("select count(*) from orders").fetchone() == (60,)
    # sequences come from the dump too: new rows do not collide
    assert db.execute("select nextval('orders_id_seq')").fetchone() == (1061,)


def test_no_original_personal_data_is_left(db: psycopg.Connection[tuple[object, ...]]) -> None:
    real = originals()
    rows = db.execute(
        "select u.email, u.first_name || ' ' || u.last_name, u.phone, o.customer_email "
        "from users u join orders o on o.user_id = u.id"
    ).fetchall()
    emails = {r[0] for r in rows} | {r[3] for r in rows}
    assert emails and not emails & real["email"]
    assert not {r[1] for r in rows} & real["name"]
    assert not {r[2] for r in rows} & real["phone"]
    # free-text notes are nulled by the rules
    assert db.execute("select count(note) from orders").fetchone() == (0,)


def test_joins_on_sanitized_emails_still_match(db: psycopg.Connection[tuple[object, ...]]) -> None:
    # orders.customer_email is a copy of users.email; both were faked from the
    # same original with the same salt, so they are still equal
    by_email = db.execute(
        "select count(*) from orders o join users u on u.email = o.customer_email"
    ).fetchone()
    assert by_email == (60,)
    mismatched = db.execute(
        "select count(*) from orders o join users u on u.id = o.user_id "
        "where u.email <> o.customer_email"
    ).fetchone()
    assert mismatched == (0,)


def test_a_test_may_change_anything(db: psycopg.Connection[tuple[object, ...]]) -> None:
    assert db.execute("select count(*) from orders").fetchone() == (60,)
    db.execute("delete from orders where status = 'refunded'")
    db.execute("update users set email = 'someone@example.com' where id = 1")
    db.execute("create table scratch (x int)")
    assert db.execute("select count(*) from orders where status = 'refunded'").fetchone() == (0,)


def test_the_next_test_starts_from_the_seeded_state(
    db: psycopg.Connection[tuple[object, ...]],
) -> None:
    assert db.execute("select count(*) from orders").fetchone() == (60,)
    assert db.execute(
        "select count(*) from users where email = 'someone@example.com'"
    ).fetchone() == (0,)
    assert db.execute("select to_regclass('scratch')").fetchone() == (None,)


def test_the_cache_is_seeded(eph_fresh: Environment) -> None:
    assert redis(eph_fresh, "GET", "feature:new-checkout") == "on"
    assert redis(eph_fresh, "HGET", "config:shipping", "currency") == "EUR"
    assert redis(eph_fresh, "ZRANGE", "leaderboard:referrals", "0", "-1", "REV").split() == [
        "user:3",
        "user:7",
        "user:1",
    ]
    redis(eph_fresh, "SET", "feature:new-checkout", "off")
    redis(eph_fresh, "RPUSH", "queue:emails", "reset:1")


def test_the_cache_is_back_to_its_seeded_state(eph_fresh: Environment) -> None:
    assert redis(eph_fresh, "GET", "feature:new-checkout") == "on"
    assert redis(eph_fresh, "LRANGE", "queue:emails", "0", "-1").split() == [
        "welcome:1",
        "welcome:2",
    ]
    assert redis(eph_fresh, "EXISTS", "reset:1") == "0"
    assert redis(eph_fresh, "DBSIZE") == "6"
