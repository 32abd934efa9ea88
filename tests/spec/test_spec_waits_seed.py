"""``wait:`` and ``seed:`` — directly on a service or under ``x-ephemeral``."""

from __future__ import annotations

import pytest

from pytest_ephemeral.spec import SeedStep, WaitSpec
from tests.spec.spec_helpers import Project, service


def waits(project: Project, body: str) -> tuple[tuple[WaitSpec, ...], float | None]:
    svc = project.load(service(body)).services["svc"]
    return svc.waits, svc.wait_timeout


def test_wait_forms(project: Project) -> None:
    body = """\
        image: x
        ports: [5432, 8000]
        healthcheck: {test: [CMD, x]}
        wait:
          - log: "ready( to accept)?"
          - port: 5432
          - http: 8000
          - http: {port: 8000, path: /health, status: 204}
          - command: pg_isready -U postgres
          - command: [sh, -c, "exit 0"]
          - healthcheck: true
          - completed: true
          - timeout: 1m30s
        """
    assert waits(project, body) == (
        (
            WaitSpec("log", pattern="ready( to accept)?"),
            WaitSpec("port", port=5432),
            WaitSpec("http", port=8000),
            WaitSpec("http", port=8000, path="/health", status=204),
            WaitSpec("command", command=("pg_isready", "-U", "postgres")),
            WaitSpec("command", command=("sh", "-c", "exit 0")),
            WaitSpec("healthcheck"),
            WaitSpec("completed"),
        ),
        90.0,
    )


def test_one_mapping_with_several_conditions(project: Project) -> None:
    assert waits(project, "image: x\nports: [80]\nwait: {log: up, port: 80, timeout: 5}") == (
        (WaitSpec("log", pattern="up"), WaitSpec("port", port=80)),
        5.0,
    )


def test_timeout_alone(project: Project) -> None:
    assert waits(project, "image: x\nwait: {timeout: 10s}") == ((), 10.0)


def test_same_timeout_twice_is_fine(project: Project) -> None:
    body = "image: x\nwait: [{log: a, timeout: 10s}, {log: b, timeout: '10'}]"
    assert waits(project, body)[1] == 10.0


def test_x_ephemeral_form(project: Project) -> None:
    project.file("seed/a.sql", "select 1;")
    spec = project.load(
        service("image: x\nx-ephemeral:\n  wait: {log: up}\n  seed: [{sql: seed/a.sql}]"),
        name="compose.yaml",
    )
    svc = spec.services["svc"]
    assert svc.waits == (WaitSpec("log", pattern="up"),)
    assert svc.seed[0].file == project.root / "seed" / "a.sql"
    assert svc.seed[0].location.key == "services.svc.x-ephemeral.seed[0].sql"


def test_direct_form_in_a_compose_file(project: Project) -> None:
    spec = project.load(service("image: x\nwait: {log: up}"), name="docker-compose.yml")
    assert spec.services["svc"].waits == (WaitSpec("log", pattern="up"),)


def test_given_both_ways(project: Project) -> None:
    err = project.error(service("image: x\nwait: {log: a}\nx-ephemeral: {wait: {log: b}}"))
    assert err.line == 5
    assert "'wait' is given both directly (line 4) and under x-ephemeral" in str(err)


def test_unknown_key_under_x_ephemeral(project: Project) -> None:
    err = project.error(service("image: x\nx-ephemeral: {waits: {log: b}}"))
    assert "services.svc.x-ephemeral.waits: unknown key (did you mean 'wait'?)" in str(err)


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        (
            "wait: {log: '(unclosed'}",
            4,
            "invalid regular expression '(unclosed': missing ), unterminated subpattern",
        ),
        ("wait: {log: ''}", 4, "empty log pattern"),
        ("wait: {port: 5432}", 4, "waits on port 5432, but the service publishes no tcp port"),
        (
            "ports: [80]\nwait: {http: {port: 81}}",
            5,
            "waits on port 81, but the service publishes only 80",
        ),
        ("ports: ['80/udp']\nwait: {port: 80}", 5, "publishes no tcp port"),
        (
            "ports: [80]\nwait: {http: {port: 80, path: health}}",
            5,
            "path 'health' does not start with '/'",
        ),
        (
            "ports: [80]\nwait: {http: {port: 80, status: 700}}",
            5,
            "700 is out of range (use an HTTP status from 100 to 599)",
        ),
        ("ports: [80]\nwait: {http: {path: /}}", 5, "http wait needs port:"),
        ("ports: [80]\nwait: {http: {port: 80, code: 200}}", 5, "use one of: port, path, status"),
        ("wait: {command: []}", 4, "empty command"),
        ("wait: {healthcheck: false}", 4, "'healthcheck: false' is not a wait condition"),
        ("wait: {completed: false}", 4, "'completed: false' is not a wait condition"),
        (
            "healthcheck: {test: [NONE]}\nwait: {healthcheck: true}",
            5,
            "the service's healthcheck is disabled",
        ),
        ("healthcheck: {disable: true}\nwait: {healthcheck: true}", 5, "healthcheck is disabled"),
        (
            "wait: [{log: a, timeout: 1s}, {log: b, timeout: 2s}]",
            4,
            "second timeout 2s differs from 1s at line 4",
        ),
        ("wait: {}", 4, "names no condition"),
        ("wait: []", 4, "empty list of waits"),
        ("wait: ready", 4, "expected a mapping or a list of mappings, got the string 'ready'"),
        ("wait: {logs: x}", 4, "unknown key (did you mean 'log'?)"),
        ("wait: {timeout: 0}", 4, "must be more than zero"),
        ("wait: {port: 99999}", 4, "99999 is out of range (use a port from 1 to 65535)"),
    ],
)
def test_bad_waits(project: Project, body: str, line: int, fragment: str) -> None:
    err = project.error(service(f"image: x\n{body}"))
    assert fragment in str(err)
    assert err.line == line


def test_seed_forms(project: Project) -> None:
    for name in ("schema.sql", "users.csv", "prod.sql", "rules.yaml", "keys.txt"):
        project.file(f"seed/{name}", "x")
    svc = project.load(
        service(
            """\
            image: x
            seed:
              - sql: seed/schema.sql
                database: shop
              - csv: {table: users, file: seed/users.csv}
                database: shop
              - csv: {table: users, file: seed/users.csv, database: other}
              - dump: seed/prod.sql
                sanitize: seed/rules.yaml
              - python: "myproject.seeds:load"
              - redis: seed/keys.txt
            """
        )
    ).services["svc"]
    seed = project.root / "seed"
    kinds = [(s.kind, s.file, s.table, s.sanitize, s.target, s.database) for s in svc.seed]
    assert kinds == [
        ("sql", seed / "schema.sql", None, None, None, "shop"),
        ("csv", seed / "users.csv", "users", None, None, "shop"),
        ("csv", seed / "users.csv", "users", None, None, "other"),
        ("dump", seed / "prod.sql", None, seed / "rules.yaml", None, None),
        ("python", None, None, None, "myproject.seeds:load", None),
        ("redis", seed / "keys.txt", None, None, None, None),
    ]
    first: SeedStep = svc.seed[0]
    assert (first.location.line, first.location.key) == (5, "services.svc.seed[0].sql")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("seed: [{sql: nope.sql}]", "seed file 'nope.sql' not found"),
        ("seed: [{sql: seed}]", "seed file 'seed' is not a file"),
        (
            "seed: [{dump: seed/a.sql, sanitize: rules.yaml}]",
            "sanitize rules file 'rules.yaml' not found",
        ),
        ("seed: [{python: 'not a target'}]", "'not a target' is not 'module:function'"),
        ("seed: [{python: 'pkg.mod'}]", "'pkg.mod' is not 'module:function'"),
        ("seed: [{database: x}]", "seed step has no kind, only database"),
        ("seed: [{sql: seed/a.sql, redis: seed/a.sql}]", "seed step has both sql: and redis:"),
        (
            "seed: [{sql: seed/a.sql, sanitize: seed/a.sql}]",
            "'sanitize' does not apply to sql: steps (only to dump)",
        ),
        ("seed: [{sql: seed/a.sql, databse: x}]", "did you mean 'database'?"),
        ("seed: [{csv: seed/a.sql}]", "expected a mapping, got the string"),
        ("seed: [{csv: {file: seed/a.sql}}]", "csv step needs table:"),
        (
            "seed: [{csv: {table: t, file: seed/a.sql, database: a}, database: b}]",
            "database given twice",
        ),
        ("seed: {sql: seed/a.sql}", "expected a list, got a mapping"),
        ("seed: [seed/a.sql]", "expected a mapping, got the string"),
        ("seed: [{python: 'a:b', database: x}]", "'database' does not apply to python: steps"),
    ],
)
def test_bad_seed(project: Project, body: str, fragment: str) -> None:
    project.file("seed/a.sql", "x")
    assert fragment in str(project.error(service(f"image: x\n{body}")))
