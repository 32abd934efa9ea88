"""Several Compose files as one spec: ``-f a -f b``, ``!reset``/``!override``,
``extends``, ``include``, the project's ``.env``, ``COMPOSE_PROFILES`` and
``COMPOSE_PROJECT_NAME``."""

from __future__ import annotations

import pytest

from pytest_ephemeral.errors import SpecError
from pytest_ephemeral.spec import PortSpec, load_spec
from tests.spec.spec_helpers import Project, check_message

BASE = """\
services:
  web:
    image: nginx:1
    command: [nginx, -g, daemon off;]
    environment: {A: "1", B: "2"}
    ports: ["80"]
    volumes: [./html:/usr/share/nginx/html]
    labels: [team=web]
  db:
    image: postgres:16
"""


def test_single_path_still_works(project: Project) -> None:
    path = project.file("compose.yaml", BASE)
    spec = load_spec(path, environ={})
    assert list(spec.services) == ["web", "db"]
    assert spec.files == (path,)


def test_files_merge_in_order(project: Project) -> None:
    project.folder("html")
    base = project.file("compose.yaml", BASE)
    override = project.file(
        "override/compose.override.yaml",
        """\
        services:
          web:
            command: [nginx-debug]
            environment: [B=3, C=4]
            ports: ["8080"]
            volumes: [./other:/usr/share/nginx/html]
            labels: {tier: front}
          cache:
            image: redis:7
        """,
    )
    spec = load_spec([base, override], environ={})
    web = spec.services["web"]
    assert web.command == ("nginx-debug",)  # replaced, not appended
    assert dict(web.environment) == {"A": "1", "B": "3", "C": "4"}
    assert web.ports == (PortSpec(80), PortSpec(8080))
    assert dict(web.labels) == {"team": "web", "tier": "front"}
    # merged by target; the override's relative path starts at the first file's folder
    (mount,) = web.volumes
    assert mount.source == str(project.root / "other")
    assert mount.create_host_path
    assert list(spec.services) == ["web", "db", "cache"]
    assert spec.files == (base, override)


def test_reset_and_override(project: Project) -> None:
    base = project.file("compose.yaml", BASE)
    override = project.file(
        "compose.test.yaml",
        """\
        services:
          web:
            ports: !reset []
            environment:
              A: !reset null
            labels: !override {only: this}
        """,
    )
    web = load_spec([base, override], environ={}).services["web"]
    assert web.ports == ()
    assert dict(web.environment) == {"B": "2"}
    assert dict(web.labels) == {"only": "this"}


def test_reset_in_one_file_drops_the_key(project: Project) -> None:
    spec = project.load("services:\n  a:\n    image: x\n    ports: !reset ['80']\n")
    assert spec.services["a"].ports == ()


def test_a_missing_override_file(project: Project) -> None:
    base = project.file("compose.yaml", BASE)
    with pytest.raises(SpecError) as info:
        load_spec([base, project.root / "nope.yaml"], environ={})
    check_message(info.value, "nope.yaml")
    assert "spec file not found" in str(info.value)


def test_error_in_an_override_names_that_file(project: Project) -> None:
    base = project.file("compose.yaml", BASE)
    override = project.file("compose.ci.yaml", "services:\n  web:\n    ports: ['x']\n")
    with pytest.raises(SpecError) as info:
        load_spec([base, override], environ={})
    check_message(info.value, "compose.ci.yaml")
    assert "compose.ci.yaml:3: services.web.ports[1]: container port 'x' is not a number" in str(
        info.value
    )


def test_no_files(project: Project) -> None:
    with pytest.raises(SpecError, match="no spec file given"):
        load_spec([], environ={})


# -- extends ---------------------------------------------------------------------------


def test_extends_same_file(project: Project) -> None:
    spec = project.load(
        """\
        services:
          base:
            image: python:3.12
            environment: {LEVEL: info, MODE: base}
            command: [python, -m, app]
          worker:
            extends: base
            environment: {MODE: worker}
            command: [python, -m, worker]
          deep:
            extends: {service: worker}
        """
    )
    worker, deep = spec.services["worker"], spec.services["deep"]
    assert worker.image == "python:3.12"
    assert dict(worker.environment) == {"LEVEL": "info", "MODE": "worker"}
    assert worker.command == ("python", "-m", "worker")
    assert dict(deep.environment) == dict(worker.environment)


def test_extends_other_file_keeps_its_paths(project: Project) -> None:
    project.file("common/app.env", "FROM_FILE=yes\n")
    project.file(
        "common/services.yaml",
        """\
        services:
          app:
            image: python:3.12
            env_file: app.env
            volumes: [./src:/src]
        """,
    )
    spec = project.load(
        """\
        services:
          api:
            extends: {file: common/services.yaml, service: app}
            ports: ["8000"]
        """,
        name="compose.yaml",
    )
    api = spec.services["api"]
    assert api.environment["FROM_FILE"] == "yes"
    assert api.volumes[0].source == str(project.root / "common" / "src")
    assert project.root / "common" / "services.yaml" in spec.files


@pytest.mark.parametrize(
    ("text", "fragment", "line"),
    [
        (
            "services:\n  a: {extends: b}\n  b: {extends: a}\n",
            "services.b.extends: extends cycle: a -> b -> a",
            3,
        ),
        ("services:\n  a: {extends: nope, image: x}\n", "extends unknown service 'nope'", 2),
        (
            "services:\n  a: {extends: {service: x, file: missing.yaml}}\n",
            "extended file 'missing.yaml' not found at",
            2,
        ),
        ("services:\n  a: {extends: {file: x.yaml}}\n", "extends needs service:", 2),
        (
            "services:\n  a: {extends: {service: b, fil: x}}\n  b: {image: x}\n",
            "did you mean 'file'?",
            2,
        ),
    ],
)
def test_extends_errors(project: Project, text: str, fragment: str, line: int) -> None:
    err = project.error(text)
    assert fragment in str(err)
    assert err.line == line


# -- include ---------------------------------------------------------------------------


def test_include(project: Project) -> None:
    project.file("db/.env", "PG_TAG=16-alpine\n")
    project.file(
        "db/compose.yaml",
        """\
        services:
          db:
            image: postgres:${PG_TAG}
            volumes: [pgdata:/var/lib/postgresql/data, ./init:/docker-entrypoint-initdb.d]
        volumes:
          pgdata: {}
        """,
    )
    project.folder("db/init")
    spec = project.load(
        """\
        include:
          - db/compose.yaml
        services:
          api:
            image: python:3.12
            depends_on: [db]
        """,
        name="compose.yaml",
    )
    assert list(spec.services) == ["api", "db"]
    db = spec.services["db"]
    assert db.image == "postgres:16-alpine"  # the included project's own .env
    assert db.volumes[1].source == str(project.root / "db" / "init")
    assert spec.volumes == ("pgdata",)


def test_include_long_form_with_env_file(project: Project) -> None:
    project.file("vars.env", "TAG=7\n")
    project.file("cache/compose.yaml", "services:\n  cache: {image: 'redis:${TAG}'}\n")
    spec = project.load(
        """\
        include:
          - path: [cache/compose.yaml]
            env_file: vars.env
        services:
          api: {image: x}
        """,
        name="compose.yaml",
    )
    assert spec.services["cache"].image == "redis:7"


@pytest.mark.parametrize(
    ("files", "fragment", "line"),
    [
        ({"a.yaml": "include: [compose.yaml]\nservices: {a: {image: x}}\n"}, "include cycle:", 1),
        ({}, "a.yaml not found (fix the path; it starts at the including file's folder)", 1),
        (
            {"a.yaml": "services:\n  api: {image: y}\n"},
            "a.yaml is also defined in",
            3,
        ),
    ],
)
def test_include_errors(project: Project, files: dict[str, str], fragment: str, line: int) -> None:
    for name, text in files.items():
        project.file(name, text)
    err = project.error(
        "include: [a.yaml]\nservices:\n  api: {image: x}\n", name="compose.yaml", in_file="yaml"
    )
    assert fragment in str(err)
    assert err.line == line


# -- .env, COMPOSE_* -------------------------------------------------------------------


def test_project_dotenv_interpolates(project: Project) -> None:
    project.file(".env", "TAG=16\nPORT=5432\nCOMPOSE_PROFILES=debug\n")
    spec = project.load(
        """\
        services:
          db: {image: "postgres:${TAG}", ports: ["${PORT}"]}
          tools: {image: x, profiles: [debug]}
        """,
        environ={"TAG": "15"},  # the process environment wins over .env
    )
    assert spec.services["db"].image == "postgres:15"
    assert spec.services["db"].ports == (PortSpec(5432),)
    assert "tools" in spec.services  # COMPOSE_PROFILES from .env


def test_compose_profiles_from_environment(project: Project) -> None:
    text = "services:\n  a: {image: x}\n  b: {image: x, profiles: [one]}\n  c: {image: x, profiles: [two]}\n"
    spec = project.load(text, environ={"COMPOSE_PROFILES": "one, two"})
    assert list(spec.services) == ["a", "b", "c"]
    spec = project.load(text, environ={"COMPOSE_PROFILES": "one"}, profiles=["two"])
    assert list(spec.services) == ["a", "c"]  # given profiles win


def test_compose_project_name_is_a_note(project: Project) -> None:
    spec = project.load("services:\n  a: {image: x}\n", environ={"COMPOSE_PROJECT_NAME": "prod"})
    (note,) = spec.diagnostics
    assert note.category == "note" and note.key == "COMPOSE_PROJECT_NAME"
    assert "COMPOSE_PROJECT_NAME is ignored: environments are named per run" in note.message


def test_unset_variable_warns_once_per_variable(project: Project) -> None:
    spec = project.load(
        "services:\n  a: {image: x, environment: {A: '${V}'}}\n"
        "  b: {image: x, environment: {B: '${V}x'}}\n"
    )
    (warning,) = spec.diagnostics
    assert warning.category == "interpolation" and warning.count == 2


def test_bad_dotenv_is_a_clear_error(project: Project) -> None:
    project.file(".env", "NOT A VAR\n")
    err = project.error("services:\n  a: {image: x}\n", in_file=".env")
    assert ".env:1: .env: invalid variable name 'NOT A VAR'" in str(err)


def test_merge_tag_on_a_key_is_refused(project: Project) -> None:
    err = project.error("services:\n  !reset a: {image: x}\n")
    assert "a key cannot carry the tag !reset" in str(err)


def test_lines_of_other_files_pickle_as_numbers(project: Project) -> None:
    import pickle

    project.file("other.yaml", "services:\n  b: {image: y}\n")
    spec = project.load("include: [other.yaml]\nservices:\n  a: {image: x}\n", name="compose.yaml")
    location = spec.services["b"].location
    assert location.file == project.root / "other.yaml" and location.line == 2
    assert type(location.line) is int
    assert pickle.loads(pickle.dumps(location)) == location
