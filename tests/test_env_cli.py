"""``eph env`` on a running environment (found by its labels, spec from its
label), ``eval "$(eph env ID)"`` in a real sh, and reuse without surprises:
``pytest --eph-reuse`` and a second ``eph up`` of a kept environment put its
data back to the seeded state first, and say so."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from pytest_ephemeral.lifecycle import labels as L

from .conftest import labelled

pytestmark = pytest.mark.docker

EPH = [sys.executable, "-m", "pytest_ephemeral.cli"]

SPEC = """
name: {name}
services:
  db:
    image: postgres:16-alpine
    environment: {{POSTGRES_PASSWORD: "it's$$ecret", POSTGRES_DB: shop}}
    ports: [5432]
    tmpfs: [/var/lib/postgresql/data]
    seed:
      - sql: seed.sql
  cache:
    image: redis:7-alpine
    ports: [6379]
    wait: {{log: "Ready to accept connections"}}
"""

SEED = "CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items VALUES (1), (2);\n"

# what a second run sees, and what it leaves behind for the next one
REUSE_TEST = """
import os, socket

import psycopg

def test_sees_the_seeded_state(eph):
    assert eph.reused
    with psycopg.connect(eph["db"].url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (2,)
        conn.execute("INSERT INTO items VALUES (3)")
    with socket.create_connection(("127.0.0.1", eph["cache"].port(6379))) as s:
        s.sendall(b"DBSIZE\\r\\n")
        assert s.recv(16) == b":0\\r\\n"
        s.sendall(b"SET left-by pytest\\r\\n")
        assert s.recv(16) == b"+OK\\r\\n"
"""


def eph(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EPH, *args], cwd=root, capture_output=True, text=True, timeout=180, check=False
    )


def redis(port: int, *command: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall((" ".join(command) + "\r\n").encode())
        return s.recv(64)


def dirty(values: dict[str, str]) -> None:
    import psycopg

    with psycopg.connect(values["EPH_DB_URL"], autocommit=True) as conn:
        conn.execute("INSERT INTO items VALUES (10), (11)")
    assert redis(int(values["EPH_CACHE_PORT_6379"]), "SET", "stale", "1") == b"+OK\r\n"


def seeded(values: dict[str, str]) -> bool:
    import psycopg

    with psycopg.connect(values["EPH_DB_URL"], autocommit=True) as conn:
        rows = conn.execute("SELECT id FROM items ORDER BY id").fetchall()
    return rows == [(1,), (2,)] and redis(int(values["EPH_CACHE_PORT_6379"]), "DBSIZE") == b":0\r\n"


def test_env_eval_and_reuse_resets(tmp_path: Path, docker_client: Any) -> None:
    name = f"envcli-{uuid.uuid4().hex[:8]}"
    (tmp_path / "ephemeral.yaml").write_text(SPEC.format(name=name))
    (tmp_path / "seed.sql").write_text(SEED)
    (tmp_path / "test_reuse.py").write_text(textwrap.dedent(REUSE_TEST))
    up = eph(tmp_path, "up", "--json")
    assert up.returncode == 0, up.stderr
    env_id = json.loads(up.stdout)["id"]
    try:
        # no exports in the spec: one variable per address and URL, real password
        shown = eph(tmp_path, "env", env_id)
        assert shown.returncode == 0, shown.stderr
        dump = subprocess.run(
            ["sh", "-c", f'eval "$({" ".join(EPH)} env {env_id})" && env'],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        inherited = {k for k in os.environ if k.startswith("EPH_")}  # e.g. a salt set by others
        values = {
            k: v
            for k, v in (
                line.split("=", 1) for line in dump.splitlines() if line.startswith("EPH_")
            )
            if k not in inherited
        }
        assert values["EPH_DB_HOST"] == "127.0.0.1"
        assert values["EPH_DB_URL"] == (
            f"postgresql://postgres:it's$ecret@127.0.0.1:{values['EPH_DB_PORT_5432']}/shop"
        )
        assert values["EPH_CACHE_URL"].startswith("redis://127.0.0.1:")
        as_json = json.loads(eph(tmp_path, "env", env_id, "--format", "json").stdout)
        assert as_json == {k: v for k, v in values.items() if k in as_json}
        assert set(as_json) == set(values)
        github = eph(tmp_path, "env", env_id[:-1], "--format", "github").stdout  # id prefix
        assert f"EPH_DB_PORT_5432={values['EPH_DB_PORT_5432']}\n" in github
        # the human summary keeps the password out
        assert "$ecret" not in up.stdout and "***" in up.stdout

        # a second run with --eph-reuse sees what the first one saw
        dirty(values)
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--eph-reuse"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert f"reusing kept {env_id}" in run.stdout
        assert "db: reset to its seeded state" in run.stdout
        assert "cache: emptied" in run.stdout
        assert not seeded(values)  # the test above left a row and a key

        # and so does a second eph up: the same environment, reset, and it says so
        again = eph(tmp_path, "up")
        assert again.returncode == 0, again.stderr
        assert f"reused kept {env_id} (same spec hash), not a new one" in again.stderr
        assert "db: reset to its seeded state" in again.stderr
        assert seeded(values)
        ids = [r["id"] for r in json.loads(eph(tmp_path, "ls", "--json").stdout)]
        assert [i for i in ids if i.startswith(name)] == [env_id]
    finally:
        eph(tmp_path, "down", env_id)
    assert labelled(docker_client, f"{L.SPEC_NAME}={name}") == []


def test_env_of_an_unknown_id_is_one_line(tmp_path: Path) -> None:
    done = eph(tmp_path, "env", "no-such-env-eph17")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "no environment 'no-such-env-eph17' on the engine" in done.stderr
