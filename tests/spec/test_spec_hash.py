"""The spec hash: stable, independent of the clone's folder and of mapping order."""

from __future__ import annotations

import shutil
from pathlib import Path

from pytest_ephemeral.spec import load_spec
from tests.spec.spec_helpers import Project

SPEC = """\
name: shop
volumes: {data: {}}
networks: {front: {}}
services:
  db:
    image: postgres:16
    environment: {A: "1", B: "2"}
    env_file: .env
    volumes: [data:/var/lib/data, ./conf:/etc/conf]
    seed:
      - sql: seed/schema.sql
      - dump: seed/prod.sql
        sanitize: seed/rules.yaml
  api:
    build: ./api
    depends_on: {db: {condition: service_started}, cache: {condition: service_started}}
  cache: {image: redis:7}
"""

REORDERED = """\
name: shop
networks: {front: {}}
volumes: {data: {}}
services:
  cache: {image: redis:7}
  api:
    depends_on: {cache: {condition: service_started}, db: {condition: service_started}}
    build: ./api
  db:
    seed:
      - sql: seed/schema.sql
      - sanitize: seed/rules.yaml
        dump: seed/prod.sql
    volumes: [data:/var/lib/data, ./conf:/etc/conf]
    env_file: .env
    environment: {B: "2", A: "1"}
    image: postgres:16
"""


def make(root: Path, spec: str = SPEC) -> Path:
    project = Project(root)
    project.file(".env", "C=3\n")
    project.file("api/Dockerfile", "FROM python:3.12\n")
    project.file("seed/schema.sql", "create table t();\n")
    project.file("seed/prod.sql", "copy t from stdin;\n")
    project.file("seed/rules.yaml", "tables: {}\n")
    project.folder("conf")
    return project.file("ephemeral.yaml", spec)


def test_hash_shape_and_stability(tmp_path: Path) -> None:
    spec = load_spec(make(tmp_path), environ={})
    assert len(spec.hash) == 16 and int(spec.hash, 16) >= 0
    assert load_spec(make(tmp_path), environ={}).hash == spec.hash


def test_same_in_two_clones(tmp_path: Path) -> None:
    one = load_spec(make(tmp_path / "one"), environ={})
    shutil.copytree(tmp_path / "one", tmp_path / "elsewhere" / "two")
    two = load_spec(tmp_path / "elsewhere" / "two" / "ephemeral.yaml", environ={})
    assert one.hash == two.hash


def test_mapping_order_does_not_matter(tmp_path: Path) -> None:
    one = load_spec(make(tmp_path / "one"), environ={})
    two = load_spec(make(tmp_path / "two", REORDERED), environ={})
    assert one.hash == two.hash


def test_formatting_does_not_matter(tmp_path: Path) -> None:
    one = load_spec(make(tmp_path / "one"), environ={})
    two = load_spec(
        make(tmp_path / "two", "# a comment\n" + SPEC.replace(": ", ":   ")), environ={}
    )
    assert one.hash == two.hash


def test_content_changes_change_the_hash(tmp_path: Path) -> None:
    base = load_spec(make(tmp_path), environ={}).hash
    hashes = {base}
    for name, text in [
        ("api/Dockerfile", "FROM python:3.13\n"),
        (".env", "C=4\n"),
        ("seed/schema.sql", "create table u();\n"),
        ("seed/rules.yaml", "tables: {t: {}}\n"),
    ]:
        make(tmp_path)
        (tmp_path / name).write_text(text)
        hashes.add(load_spec(tmp_path / "ephemeral.yaml", environ={}).hash)
    make(tmp_path, SPEC.replace("postgres:16", "postgres:17"))
    hashes.add(load_spec(tmp_path / "ephemeral.yaml", environ={}).hash)
    assert len(hashes) == 6


def test_environment_values_change_the_hash(tmp_path: Path) -> None:
    path = make(tmp_path, SPEC.replace('A: "1"', "A: '${A_VALUE:-1}'"))
    assert load_spec(path, environ={}).hash != load_spec(path, environ={"A_VALUE": "2"}).hash


def test_seed_order_matters(tmp_path: Path) -> None:
    one = load_spec(make(tmp_path / "one"), environ={})
    sql = "      - sql: seed/schema.sql\n"
    dump = "      - dump: seed/prod.sql\n        sanitize: seed/rules.yaml\n"
    swapped = SPEC.replace(sql + dump, dump + sql)
    assert swapped != SPEC
    assert load_spec(make(tmp_path / "two", swapped), environ={}).hash != one.hash
