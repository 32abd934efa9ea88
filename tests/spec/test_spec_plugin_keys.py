"""The plugin's new keys: external: and testcontainers: services, exports:, parity:."""

from __future__ import annotations

import pytest

from pytest_ephemeral.spec.model import ParityAccept
from tests.spec.spec_helpers import Project, service

PG = {"PG_URL": "postgresql://app:pw@db.internal:5432/app", "REDIS_URL": "redis://cache:6379/0"}


# -- external ------------------------------------------------------------------------


def test_external_postgres_and_redis(project: Project) -> None:
    spec = project.load(
        """\
        services:
          db:
            external: {url: "${PG_URL}", isolate: schema}
          cache:
            external: {url: "${REDIS_URL}"}
          api:
            image: x
            depends_on: [db, cache]
        """,
        environ=PG,
    )
    db, cache = spec.services["db"].external, spec.services["cache"].external
    assert db is not None and cache is not None
    assert (db.kind, db.isolate, db.url) == ("postgres", "schema", PG["PG_URL"])
    assert (cache.kind, cache.isolate) == ("redis", "db")
    assert spec.services["db"].image is None and spec.services["db"].build is None
    assert "pw" not in repr(spec.services["db"])


def test_external_in_a_compose_file(project: Project) -> None:
    spec = project.load(
        "services:\n  db:\n    x-ephemeral: {external: {url: '${PG_URL}'}}\n",
        name="compose.yaml",
        environ=PG,
    )
    external = spec.services["db"].external
    assert external is not None and external.isolate == "database"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            "external: {url: 'postgresql://app:secret@db/app'}",
            "the URL holds a password written in the spec; credentials never belong in it",
        ),
        ("external: {url: 'postgresql://db/app'}", "the URL is written in the spec"),
        ("external: {url: '${NOPE:-}'}", "the URL is empty"),
        ("external: {url: '${MYSQL}'}", "unsupported URL scheme mysql://"),
        (
            "external: {url: '${PG_URL}', isolate: prefix}",
            "isolate 'prefix' does not apply to postgres",
        ),
        ("external: {isolate: database}", "an external service needs url:"),
        ("external: {url: '${PG_URL}', isolation: x}", "did you mean 'isolate'?"),
        ("external: {url: '${PG_URL}'}\nimage: postgres:16", "an external: service has no image:"),
        (
            "external: {url: '${PG_URL}'}\nports: ['5432']",
            "'ports' does not apply to an external: service",
        ),
        (
            "external: {url: '${PG_URL}'}\ntestcontainers: {class: 'a:B'}",
            "a service is either external: or testcontainers:, not both",
        ),
    ],
)
def test_external_errors(project: Project, body: str, fragment: str) -> None:
    err = project.error(service(body), environ={**PG, "MYSQL": "mysql://db/x"})
    assert fragment in str(err)
    assert "\n" not in str(err)


def test_external_password_is_never_shown(project: Project) -> None:
    err = project.error(service("external: {url: 'postgresql://app:hunter2@db/app'}"))
    assert "hunter2" not in str(err)


# -- testcontainers ------------------------------------------------------------------


def test_testcontainers_service(project: Project) -> None:
    spec = project.load(
        service(
            """\
            testcontainers:
              class: testcontainers.kafka:KafkaContainer
              image: confluentinc/cp-kafka:7.6.0
              args: {port: 9093, kraft: true, env: {A: "${V}"}, ports: [1, 2]}
            depends_on: [other]
            """
        )
        + "  other: {image: x}\n",
        environ={"V": "v"},
    )
    module = spec.services["svc"].testcontainers
    assert module is not None
    assert (module.module, module.class_name) == ("testcontainers.kafka", "KafkaContainer")
    assert module.image == "confluentinc/cp-kafka:7.6.0"
    assert module.args["port"] == 9093 and module.args["kraft"] is True
    assert dict(module.args["env"]) == {"A": "v"}  # type: ignore[call-overload]
    assert module.args["ports"] == (1, 2)
    assert spec.services["svc"].image is None


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("testcontainers: {class: testcontainers.redis.RedisContainer}", "is not 'module:Class'"),
        ("testcontainers: {class: 'a:b:c'}", "is not 'module:Class'"),
        ("testcontainers: {image: redis}", "testcontainers: needs class:"),
        ("testcontainers: {class: 'a:B', image: 'two words'}", "invalid image reference"),
        (
            "testcontainers: {class: 'a:B', args: {'bad-name': 1}}",
            "argument name 'bad-name' is not a Python name",
        ),
        ("testcontainers: {class: 'a:B', klass: x}", "unknown key"),
        (
            "testcontainers: {class: 'a:B'}\nimage: redis:7",
            "a testcontainers: service has no image:",
        ),
    ],
)
def test_testcontainers_errors(project: Project, body: str, fragment: str) -> None:
    assert fragment in str(project.error(service(body)))


def test_testcontainers_changes_the_hash(project: Project) -> None:
    one = project.load(service("testcontainers: {class: 'testcontainers.redis:RedisContainer'}"))
    two = project.load(
        service("testcontainers: {class: 'testcontainers.redis:RedisContainer', args: {port: 1}}")
    )
    assert one.hash != two.hash


# -- exports -------------------------------------------------------------------------

TOPOLOGY = """\
services:
  db: {image: postgres:16, ports: ["5432"]}
  cache: {image: redis:7, ports: ["6379"]}
"""


def test_exports(project: Project) -> None:
    spec = project.load(
        TOPOLOGY + "exports:\n"
        "  DATABASE_URL: 'postgresql://{db.user}:{db.password}@{db.host}:{db.port[5432]}/{db.database}'\n"
        "  REDIS_URL: '{cache.url}'\n"
    )
    assert dict(spec.exports) == {
        "DATABASE_URL": "postgresql://{db.user}:{db.password}@{db.host}:{db.port[5432]}/{db.database}",
        "REDIS_URL": "{cache.url}",
    }


def test_exports_in_a_compose_file(project: Project) -> None:
    spec = project.load(
        TOPOLOGY + "x-ephemeral:\n  exports: {PGPORT: '{db.port[5432]}'}\n", name="compose.yaml"
    )
    assert dict(spec.exports) == {"PGPORT": "{db.port[5432]}"}


def test_exports_top_level_in_a_compose_file_is_refused(project: Project) -> None:
    err = project.error(TOPOLOGY + "exports: {A: '{db.host}'}\n", name="compose.yaml")
    assert "'exports' is a pytest-ephemeral key, not a Compose key" in str(err)
    assert "write it under x-ephemeral:" in str(err)


@pytest.mark.parametrize(
    ("exports", "fragment"),
    [
        ("{1BAD: x}", "invalid variable name '1BAD'"),
        ("{A: '{web.host}'}", "'{web.host}' names no service of the spec (known: db, cache)"),
        ("{A: '{db.hostname}'}", "unknown field 'hostname'"),
        ("{A: '{db.port}'}", "names no container port (write {db.port[5432]})"),
        ("{A: '{db.port[80]}'}", "'db' publishes no port 80 (published: 5432)"),
        ("{A: '{db.host[1]}'}", "only port takes [N]"),
        ("{A: '{db.host'}", "unbalanced braces"),
        ("{A: '{}'}", "'{}' is not a field"),
    ],
)
def test_export_errors(project: Project, exports: str, fragment: str) -> None:
    err = project.error(TOPOLOGY + f"exports: {exports}\n")
    assert fragment in str(err)
    assert err.key is not None and err.key.startswith("exports")


# -- parity --------------------------------------------------------------------------


def test_parity(project: Project) -> None:
    project.folder("k8s")
    project.file("prod/compose.yaml", "services: {}\n")
    spec = project.load(
        TOPOLOGY
        + """\
parity:
  against: [k8s, prod/compose.yaml]
  accept:
    - {service: db, field: image, why: tests use the alpine build}
  map: {db: postgres-primary}
"""
    )
    parity = spec.parity
    assert parity is not None
    assert parity.against == (project.root / "k8s", project.root / "prod" / "compose.yaml")
    assert parity.accept == (ParityAccept("db", "image", "tests use the alpine build"),)
    assert dict(parity.map) == {"db": "postgres-primary"}


def test_parity_accepts_every_service_and_production_only_names(project: Project) -> None:
    # "*" and names only production has (a sidecar, a CronJob) are eph parity's to check
    spec = project.load(
        TOPOLOGY
        + """\
parity:
  accept:
    - {service: "*", field: resources, why: production sizes differ}
    - {service: log-shipper, field: presence, why: a production-only sidecar}
"""
    )
    assert spec.parity is not None
    assert spec.parity.accept == (
        ParityAccept("*", "resources", "production sizes differ"),
        ParityAccept("log-shipper", "presence", "a production-only sidecar"),
    )


@pytest.mark.parametrize(
    ("parity", "fragment"),
    [
        ("{against: [missing/]}", "parity source 'missing/' not found"),
        ("{accept: [{service: db, field: image}]}", "an accepted difference needs why"),
        ("{accept: [{service: '', field: image, why: x}]}", "an accepted difference needs service"),
        (
            "{accept: [{service: db, field: image, why: x, when: y}]}",
            "parity.accept[0].when: unknown key",
        ),
        ("{map: {web: x}}", "unknown service 'web'"),
        ("{againts: [x]}", "did you mean 'against'?"),
        ("[k8s]", "expected a mapping"),
    ],
)
def test_parity_errors(project: Project, parity: str, fragment: str) -> None:
    assert fragment in str(project.error(TOPOLOGY + f"parity: {parity}\n"))


def test_export_of_an_inactive_service_is_left_out(project: Project) -> None:
    text = TOPOLOGY + "  mail: {image: x, profiles: [debug], ports: ['8025']}\n"
    text += "exports: {MAIL: '{mail.port[8025]}', DB: '{db.host}'}\n"
    spec = project.load(text)
    assert dict(spec.exports) == {"DB": "{db.host}"}
    assert "export MAIL is left out: 'mail' is not started" in spec.warnings[0]
    assert dict(project.load(text, profiles=["debug"]).exports) == {
        "MAIL": "{mail.port[8025]}",
        "DB": "{db.host}",
    }
    err = project.error(
        TOPOLOGY + "  mail: {image: x, profiles: [debug]}\nexports: {A: '{mail.port[1]}'}\n"
    )
    assert "'mail' publishes no port" in str(err)  # checked whatever the profiles


def test_render_shows_the_new_fields_without_secrets(project: Project) -> None:
    from pytest_ephemeral.spec import render_topology

    project.file("pw.txt", "x")
    spec = project.load(
        """\
        secrets: {pw: {file: pw.txt}}
        services:
          db:
            external: {url: "${PG_URL}"}
          cache:
            testcontainers: {class: "testcontainers.redis:RedisContainer", image: redis:7, args: {password: hunter2}}
          api:
            image: x
            container_name: legacy
            pull_policy: always
            secrets: [pw]
            deploy: {replicas: 2, resources: {reservations: {memory: 64m}}}
            ulimits: {nofile: 1024}
            ports: ["8000"]
        exports: {API: "http://{api.host}:{api.port[8000]}"}
        """,
        environ=PG,
    )
    text = render_topology(spec)
    for fragment in (
        "exports   API=http://{api.host}:{api.port[8000]}",
        "external        postgres postgresql://app:***@db.internal:5432/app",
        "testcontainers  testcontainers.redis:RedisContainer  (image redis:7)",
        "args            password=***",
        "aliases         legacy",
        "secrets         secret pw -> /run/secrets/pw",
        "replicas        2",
        "resources       memory reserved 64m",
        "engine          ulimits=nofile:(1024, 1024)",
        "pull_policy     always",
    ):
        assert fragment in text, (fragment, text)
    assert "hunter2" not in text and ":pw@" not in text
