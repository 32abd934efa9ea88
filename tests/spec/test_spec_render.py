"""render_topology: what ``eph validate`` prints, with secrets redacted."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_ephemeral.spec import is_secret_name, load_spec, redact, render_topology
from tests.spec.spec_helpers import Project

GOOD = Path(__file__).parent / "good" / "shop"

EXPECTED = """\
spec      shop
file      ephemeral.yaml
hash      {hash}
start     db, cache -> api
networks  default, front
volumes   pgconf

service db  (1 of 3)
  image        postgres:16-alpine
  environment  POSTGRES_PASSWORD=***
               POSTGRES_DB=shop
  ports        5432/tcp  -> 127.0.0.1:random
  healthcheck  CMD pg_isready -U postgres
               every 1s, 30 retries
  wait         (none given: the engine's default)
               timeout: the run's (--eph-timeout)
  volumes      volume pgconf  -> /etc/postgresql
  tmpfs        /var/lib/postgresql/data
  seed         1. sql   ./seed/schema.sql  (database shop)
               2. csv   ./seed/users.csv -> table users
               3. dump  ./seed/prod.sql, sanitized by ./seed/sanitize.yaml

service cache  (2 of 3)
  image        redis:7-alpine
  ports        6379/tcp  -> 127.0.0.1:random
  wait         log matches /Ready to accept connections/
               timeout: the run's (--eph-timeout)

service api  (3 of 3)
  build        ./api
  depends_on   db     service_healthy
               cache  service_started
  environment  LOG_LEVEL=debug
               SECRET_KEY=***
               DATABASE_URL=postgresql://postgres:***@db:5432/shop
               API_TOKEN=***
  ports        8000/tcp  -> 127.0.0.1:random
  wait         http GET :8000/health answers 200
               timeout 1m
  networks     default
               front  (aliases: shop-api)
  cpus         1.5
  mem_limit    512m
  seed         1. python  shop.seeds:load"""


def test_render_reference_topology(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOOD)
    spec = load_spec(Path("ephemeral.yaml"), environ={"API_TOKEN": "very-secret"})
    text = render_topology(spec)
    assert text == EXPECTED.format(hash=spec.hash)
    assert "very-secret" not in text
    assert "not-so-secret" not in text
    assert ":secret@" not in text


def test_the_reference_spec_loads_without_warnings() -> None:
    spec = load_spec(GOOD / "ephemeral.yaml", environ={})
    assert spec.warnings == ()
    assert spec.name == "shop"
    assert spec.services["api"].environment["API_TOKEN"] == "dev-token"
    assert spec.services["api"].environment["SECRET_KEY"] == "not-so-secret"


def test_render_every_other_field(project: Project) -> None:
    project.file("Dockerfile", "FROM x\n")
    project.folder("data")
    spec = project.load(
        """\
        version: "3.9"
        services:
          svc:
            image: app:1
            build:
              {context: ., dockerfile: Dockerfile, target: prod, args: {GITHUB_TOKEN: t, V: "1"}}
            entrypoint: [sh, -c]
            command: echo 'hi there'
            ports: ["8080:80", "53/udp"]
            expose: [9000, 9001]
            healthcheck: {test: "curl -f localhost || exit 1", timeout: 500ms, start_period: 10s}
            volumes: [./data:/data:ro, /anon]
            labels: {team: shop}
            user: "1000:1000"
            working_dir: /srv
            profiles: [debug]
            privileged: true
            wait:
              - port: 80
              - command: [pg_isready]
              - healthcheck: true
        """,
        profiles=["debug"],
    )
    text = render_topology(spec)
    for fragment in [
        "  build        .  (target prod)",
        "  build args   GITHUB_TOKEN=***",
        "               V=1",
        "  entrypoint   sh -c",
        "  command      echo 'hi there'",
        "  ports        80/tcp  -> 127.0.0.1:8080 (fixed)",
        "               53/udp  -> 127.0.0.1:random",
        "  expose       9000, 9001",
        "  healthcheck  CMD-SHELL curl -f localhost || exit 1",
        "               timeout 500ms, start period 10s",
        "  wait         port 80 accepts connections",
        "               command pg_isready exits 0",
        "               healthcheck reports healthy",
        "  volumes      bind ./data  -> /data  (read-only)",
        "               anonymous    -> /anon",
        "  labels       team=shop",
        "  user         1000:1000",
        "  working_dir  /srv",
        "  profiles     debug",
        "  privileged   yes",
    ]:
        assert fragment in text, fragment
    assert "warning" not in text
    assert len(spec.warnings) == 2


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("POSTGRES_PASSWORD", True),
        ("db_password", True),
        ("SECRET_KEY", True),
        ("GITHUB_TOKEN", True),
        ("AWS_ACCESS_KEY_ID", True),
        ("API_KEY", True),
        ("GOOGLE_APPLICATION_CREDENTIALS", True),
        ("MYSQL_ROOT_PASS", True),
        ("PGPWD", True),
        ("PRIVATE_URL", True),
        ("BASIC_AUTH", True),
        ("Authorization", True),
        ("POSTGRES_DB", False),
        ("LOG_LEVEL", False),
        ("DATABASE_URL", False),
        ("PATH", False),
    ],
)
def test_is_secret_name(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_redact() -> None:
    assert redact("PASSWORD", "x") == "***"
    assert redact("URL", "redis://:pw@cache:6379/0") == "redis://:***@cache:6379/0"
    assert redact("URL", "https://example.com/a:b@c") == "https://example.com/a:b@c"
    assert redact("URL", "plain") == "plain"
