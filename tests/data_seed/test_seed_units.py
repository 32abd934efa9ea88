"""The pieces of seeding that need no Docker: finding the failing statement,
reading psql's errors, the redis file format, service kinds, template names."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from pytest_ephemeral.data.kinds import image_kind
from pytest_ephemeral.data.postgres.psql import parse_failure
from pytest_ephemeral.data.postgres.settings import pg_settings
from pytest_ephemeral.data.postgres.snapshot import names_for
from pytest_ephemeral.data.postgres.sqlscan import locate
from pytest_ephemeral.data.redis.file import encode_command, redis_commands
from pytest_ephemeral.data.redis.settings import redis_settings
from pytest_ephemeral.errors import DataError

TRICKY = """\
create function f() returns int as $$ select 1; $$ language sql;
select 'a;b', "x;y", E'it\\'s;' from t; -- c;
/* a; /* nested; */ still; */ select 2;
\\connect other
insert into t
values (1,
 'multi
line;'); select 3;
COPY public.u (id, name) FROM stdin;
1	a;b
2	c
\\.
select 4;
"""


@pytest.mark.parametrize(
    ("line", "start", "end", "head"),
    [
        (1, 1, 1, "create function f()"),
        (2, 2, 2, "select 'a;b'"),
        (3, 3, 3, "select 2;"),
        (4, 4, 4, "\\connect other"),
        (6, 5, 8, "insert into t values (1,"),
        (8, 5, 8, "insert into t"),
        (9, 9, 9, "COPY public.u"),
        (11, 9, 9, "COPY public.u"),  # in the data: the COPY it belongs to
        (12, 9, 9, "COPY public.u"),  # psql reports COPY errors at the \. line
        (13, 13, 13, "select 4;"),
    ],
)
def test_locate_knows_quotes_comments_meta_commands_and_copy_data(
    tmp_path: Path, line: int, start: int, end: int, head: str
) -> None:
    path = tmp_path / "x.sql"
    path.write_text(TRICKY)
    stmt = locate(path, line)
    assert stmt is not None
    assert (stmt.start, stmt.end) == (start, end)
    assert " ".join(stmt.text.split()).startswith(head)


def test_locate_without_a_file_or_a_statement(tmp_path: Path) -> None:
    assert locate(tmp_path / "missing.sql", 3) is None
    path = tmp_path / "x.sql"
    path.write_text("select 1;\n\n-- only a comment\n")
    assert locate(path, 3) is None


SQL = """\
-- schema
create table t (id int primary key, name text);

insert into t values (1, 'a');
insert into t
  values (2, 'b'),
         (3, nope);
"""


def test_parse_failure_maps_psql_lines_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.sql"
    path.write_text(SQL)
    output = (
        'psql:/tmp/eph-seed-1a2b.sql:7: ERROR:  column "nope" does not exist\n'
        "LINE 3:          (3, nope);\n"
        "                     ^\n"
        'HINT:  Perhaps you meant to reference the column "t.name".\n'
    )
    failure = parse_failure(output, 3, path)
    assert failure.line == 7 and failure.statement_line == 5
    assert failure.statement == "insert into t values (2, 'b'), (3, nope);"
    assert failure.describe("seed/bad.sql") == (
        'seed/bad.sql:7: ERROR: column "nope" does not exist (HINT: Perhaps you meant to '
        'reference the column "t.name".); in the statement at line 5: insert into t '
        "values (2, 'b'), (3, nope);"
    )


def test_parse_failure_on_dumps_never_quotes_values(tmp_path: Path) -> None:
    path = tmp_path / "dump.sql"
    path.write_text(
        "INSERT INTO public.users (id, email) VALUES (1, 'ann@example.com');\n"
        "INSERT INTO public.users (id, email) VALUES (1, 'bob@example.com');\n"
    )
    output = (
        'psql:/tmp/x.sql:2: ERROR:  duplicate key value violates unique constraint "users_pkey"\n'
        "DETAIL:  Key (id)=(1) already exists.\n"
    )
    failure = parse_failure(output, 3, path, data=True)
    text = failure.describe("dump.sql")
    assert "dump.sql:2: ERROR: duplicate key value" in text
    assert "INSERT INTO public.users (id, email) VALUES (...)" in text
    assert "bob" not in text and "Key (id)" not in text


def test_parse_failure_without_a_file_line() -> None:
    output = (
        'psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" '
        'failed: FATAL:  database "nodb" does not exist\n'
    )
    failure = parse_failure(output, 2, None)
    assert failure.line is None
    assert 'database "nodb" does not exist' in failure.reason
    assert "not in the container" in parse_failure("sh: psql: not found\n", 127, None).reason


def test_redis_file_types(tmp_path: Path) -> None:
    path = tmp_path / "cache.yaml"
    path.write_text(
        "s: hello\nn: 1.50\nl: [3, 2]\nh: {a: x}\nset: !set [a]\nz: !zset {m: 2}\n"
        'j: {"$set": [b]}\n'
    )
    commands = list(redis_commands(path))
    writes = [c for c in commands if not c.startswith(b"*2\r\n$3\r\nDEL")]
    assert writes == [
        encode_command("SET", "s", "hello"),
        encode_command("SET", "n", "1.50"),
        encode_command("RPUSH", "l", "3", "2"),
        encode_command("HSET", "h", "a", "x"),
        encode_command("SADD", "set", "a"),
        encode_command("ZADD", "z", "2", "m"),
        encode_command("SADD", "j", "b"),
    ]
    assert len(commands) == 14  # every key deleted first


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: ~\n", "1: the value of key 'a' is null"),
        ("a: 1\nb: [1, {x: 1}]\n", "2: an element of key 'b' must be a single value"),
        ("a: 1\na: 2\n", "2: 'a' is given twice in the file"),
        ("- a\n", "1: a redis seed file is a mapping"),
        ("z: !zset {m: high}\n", "1: key 'z': score 'high' of 'm' is not a number"),
        ("s: !bag [a]\n", "1: key 's': unknown tag !bag"),
        ("a: [\n", "not valid YAML/JSON"),
        ("e: []\n", "an empty list cannot be stored"),
    ],
)
def test_redis_file_errors_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "cache.yaml"
    path.write_text(text)
    with pytest.raises(DataError, match=message.replace("[", r"\[").replace("(", r"\(")):
        list(redis_commands(path))


@pytest.mark.parametrize(
    ("image", "kind"),
    [
        ("postgres:16-alpine", "postgres"),
        ("registry.local:5000/team/postgres:15", "postgres"),
        ("postgis/postgis:15-3.4", "postgres"),
        ("redis:7-alpine", "redis"),
        ("valkey/valkey:8", "redis"),
        ("redis-commander:latest", None),
        ("python:3.12-slim", None),
        (None, None),
    ],
)
def test_kind_from_the_image_name(image: str | None, kind: str | None) -> None:
    found = image_kind(image)
    assert (found.name if found is not None else None) == kind


def _service(environment: dict[str, str], command: tuple[str, ...] | None = None) -> Any:
    spec = SimpleNamespace(environment=environment, command=command)
    return cast(Any, SimpleNamespace(spec=spec))


def test_connection_settings_from_the_spec() -> None:
    pg = pg_settings(_service({"POSTGRES_USER": "app", "POSTGRES_PASSWORD": "pw"}))
    assert (pg.user, pg.password, pg.database, pg.port) == ("app", "pw", "app", 5432)
    assert pg.database_for(None) == "app" and pg.database_for("other") == "other"
    pg = pg_settings(_service({"POSTGRES_DB": "shop"}, ("postgres", "-c", "port=6543")))
    assert (pg.user, pg.database, pg.port) == ("postgres", "shop", 6543)
    redis = redis_settings(_service({}, ("redis-server --port 6380 --requirepass s3cret",)))
    assert (redis.port, redis.password) == (6380, "s3cret")
    assert redis_settings(_service({})).port == 6379


def test_template_names_fit_postgres_limits() -> None:
    assert names_for("shop").template == "shop__eph_tpl"
    assert names_for("shop").spare == "shop__eph_spare"
    long = names_for("x" * 60)
    assert len(long.template) <= 63 and len(long.spare) <= 63
    assert long.template != names_for("y" * 60).template


def test_python_steps_of_two_specs_with_the_same_module_name(tmp_path: Path) -> None:
    from pytest_ephemeral.data.seed import Step as _Step
    from pytest_ephemeral.data.seed import _python
    from pytest_ephemeral.spec.model import Location, SeedStep

    calls: list[str] = []
    for folder in ("one", "two"):
        root = tmp_path / folder
        root.mkdir()
        (root / "eph_same_name_seeds.py").write_text(
            f"def load(env, service):\n    env.calls.append({folder!r})\n"
        )
        step = SeedStep(
            "python",
            Location(root / "ephemeral.yaml", 3, "seed[0]"),
            target="eph_same_name_seeds:load",
        )
        env = SimpleNamespace(spec=SimpleNamespace(root=root), calls=calls)
        service = SimpleNamespace(name="app", spec=SimpleNamespace(seed=(step,)))
        _python(_Step(cast(Any, env), cast(Any, service), 1, step), tmp_path)
    assert calls == ["one", "two"]
