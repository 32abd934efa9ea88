"""The ``eph`` command and the kept-environment workflow, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from pytest_ephemeral.lifecycle import labels as L

from .conftest import labelled

PY = "python:3.12-slim"


def eph(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_ephemeral.cli", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def spec(root: Path, name: str) -> Path:
    path = root / "ephemeral.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: {name}
            services:
              db:
                image: postgres:16-alpine
                environment: {{POSTGRES_PASSWORD: s3cret-value}}
                ports: [5432]
                healthcheck: {{test: ["CMD", "pg_isready", "-U", "postgres"], interval: 1s}}
                tmpfs: [/var/lib/postgresql/data]
              web:
                image: {PY}
                command: ["python3", "-u", "-m", "http.server", "8000"]
                ports: [8000]
                wait: {{http: {{port: 8000, path: /}}}}
            """
        )
    )
    return path


@pytest.mark.docker
def test_up_ls_logs_exec_down(tmp_path: Path, docker_client: Any) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    spec(tmp_path, name)
    up = eph("up", "--json", "--ttl", "1h", cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    info = json.loads(up.stdout)
    env_id = info["id"]
    try:
        assert info["kept"] is True
        assert info["services"]["db"]["url"].startswith("postgresql://postgres:***@127.0.0.1:")
        assert "s3cret-value" not in up.stdout + up.stderr
        # it outlives the `eph up` process: the reaper must not take a kept environment
        import time

        time.sleep(1.5)
        ls = eph("ls", "--json")
        row = next(r for r in json.loads(ls.stdout) if r["id"] == env_id)
        assert row["kept"] and row["services"] == "2/2 running" and 3000 < row["expires_in"] <= 3600
        assert row["owner"].endswith("ended (kept)"), row["owner"]  # `eph up` has exited
        table = eph("ls").stdout
        assert env_id in table and "ID" in table.splitlines()[0]
        logs = eph("logs", env_id, "db")
        assert "database system is ready to accept connections" in logs.stdout
        both = eph("logs", env_id)
        assert "db | " in both.stdout and "web | " in both.stdout
        ex = eph("exec", env_id, "db", "--", "psql", "-U", "postgres", "-tAc", "select 40 + 2")
        assert (ex.returncode, ex.stdout.strip()) == (0, "42")
        failing = eph("exec", env_id, "web", "--", "sh", "-c", "exit 7")
        assert failing.returncode == 7
        # an unprefixed short id works when it is unambiguous
        assert eph("logs", env_id[: len(name) + 4], "web").returncode == 0
    finally:
        down = eph("down", env_id)
    assert down.returncode == 0, down.stderr
    assert f"removed {env_id}" in down.stdout
    assert labelled(docker_client, f"{L.ENV}={env_id}") == []


@pytest.mark.docker
def test_up_human_output_names_the_commands(tmp_path: Path, docker_client: Any) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    spec(tmp_path, name)
    up = eph("up", "-f", "ephemeral.yaml", cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    env_id = up.stdout.split()[0]
    try:
        assert f"eph down {env_id}" in up.stdout
        assert f"eph logs {env_id}" in up.stdout and f"eph exec {env_id} db -- sh" in up.stdout
        assert "postgresql://postgres:***@127.0.0.1:" in up.stdout
    finally:
        eph("down", env_id)
    assert labelled(docker_client, f"{L.ENV}={env_id}") == []


@pytest.mark.docker
@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["down", "no-such-env"], "no environment 'no-such-env' on the engine"),
        (["logs", "no-such-env"], "no environment 'no-such-env' on the engine"),
        (["exec", "no-such-env", "db", "--", "true"], "no environment 'no-such-env' on the engine"),
        (["down"], "name environment ids"),
    ],
)
def test_unknown_ids_are_one_line_errors(
    args: list[str], fragment: str, docker_client: Any
) -> None:
    res = eph(*args)
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and fragment in res.stderr and "Traceback" not in res.stderr


@pytest.mark.docker
def test_down_with_one_unknown_id_removes_nothing(tmp_path: Path, docker_client: Any) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    spec(tmp_path, name)
    env_id = json.loads(eph("up", "--json", cwd=tmp_path).stdout)["id"]
    try:
        res = eph("down", env_id, "not-an-env")
        assert res.returncode == 2
        assert labelled(docker_client, f"{L.ENV}={env_id}") != []
    finally:
        eph("down", env_id)


@pytest.mark.docker
def test_kept_environment_whose_containers_were_removed_by_hand(
    tmp_path: Path, docker_client: Any
) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    spec(tmp_path, name)
    env_id = json.loads(eph("up", "--json", cwd=tmp_path).stdout)["id"]
    for c in docker_client.api.containers(all=True, filters={"label": [f"{L.ENV}={env_id}"]}):
        docker_client.api.remove_container(c["Id"], force=True)
    res = eph("exec", env_id, "db", "--", "true")
    assert res.returncode == 2 and "no service 'db'" in res.stderr
    down = eph("down", env_id)  # the network and marker are still there, and go
    assert down.returncode == 0
    assert labelled(docker_client, f"{L.ENV}={env_id}") == []


def test_unreachable_engine_is_one_line(tmp_path: Path) -> None:
    res = eph("ls", env={"DOCKER_HOST": "tcp://127.0.0.1:9"})
    assert res.returncode == 3
    assert res.stderr.startswith("eph: error: cannot reach the Docker engine at tcp://127.0.0.1:9")
    assert res.stderr.count("\n") == 1


def test_bad_ttl_is_one_line(tmp_path: Path) -> None:
    spec(tmp_path, "x")
    res = eph("up", "--ttl", "forever", cwd=tmp_path)
    assert res.returncode == 2
    assert "--ttl: 'forever' is not a duration" in res.stderr and res.stderr.count("\n") == 1


def test_validate_prints_topology_or_errors(tmp_path: Path) -> None:
    spec(tmp_path, "shop")
    ok = eph("validate", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "db" in ok.stdout and "web" in ok.stdout and "s3cret-value" not in ok.stdout
    (tmp_path / "bad.yaml").write_text("services:\n  a:\n    image: x\n    depends_on: [b]\n")
    bad = eph("validate", "bad.yaml", cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.startswith("eph: error: ") and "bad.yaml:4" in bad.stderr
    assert bad.stderr.count("\n") == 1


@pytest.mark.docker
def test_eph_keep_keeps_a_failing_run_and_reuse_attaches(
    pytester: pytest.Pytester, docker_client: Any
) -> None:
    name = f"keep-{uuid.uuid4().hex[:8]}"
    pytester.makefile(
        ".yaml",
        ephemeral=f"""
        name: {name}
        services:
          box:
            image: {PY}
            command: ["sh", "-c", "echo up; sleep 600"]
            wait: {{log: up}}
        """,
    )
    pytester.makepyfile(
        """
        import os
        def test_marks(eph):
            eph["box"].exec("echo kept-state > /tmp/state")
            assert os.environ.get("PASS") == "1"
        """
    )
    first = pytester.runpytest_subprocess("--eph-keep", "--eph-ttl=2h")
    first.assert_outcomes(failed=1)
    first.stdout.fnmatch_lines([f"{name}-*KEPT)", f"  remove: eph down {name}-*"])
    env_id = next(line.split()[0] for line in first.outlines if line.startswith(f"{name}-"))
    try:
        assert labelled(docker_client, f"{L.ENV}={env_id}") != []
        # the next run attaches to it instead of starting a new one
        pytester.makepyfile(
            """
            def test_sees_state(eph):
                code, out = eph["box"].exec("cat /tmp/state")
                assert out.strip() == "kept-state"
            """
        )
        second = pytester.runpytest_subprocess("--eph-reuse")
        second.assert_outcomes(passed=1)
        second.stdout.fnmatch_lines([f"{env_id}  (*reused*"])
        assert labelled(docker_client, f"{L.ENV}={env_id}") != []  # still kept
        # a passing run with --eph-keep=failed removes its own environment
        third = pytester.runpytest_subprocess("--eph-keep=failed")
        third.assert_outcomes(failed=1)  # (test_sees_state needs reuse)
    finally:
        # this test's environments only: others run beside it (xdist)
        down = eph("down", *(_ids_named(eph, name) or [env_id]))
    assert env_id in down.stdout
    assert labelled(docker_client, f"{L.SPEC_NAME}={name}") == []


def _ids_named(eph: Any, name: str) -> list[str]:
    """The ids of the environments of spec ``name`` (``eph ls --json``)."""
    listing = eph("ls", "--json")
    return [r["id"] for r in json.loads(listing.stdout) if r["name"] == name]


@pytest.mark.docker
def test_reuse_recreates_a_broken_kept_environment(
    pytester: pytest.Pytester, docker_client: Any
) -> None:
    name = f"reuse-{uuid.uuid4().hex[:8]}"
    pytester.makefile(
        ".yaml",
        ephemeral=f"""
        name: {name}
        services:
          box:
            image: {PY}
            command: ["sh", "-c", "echo up; sleep 600"]
            wait: {{log: up}}
        """,
    )
    pytester.makepyfile("def test_a(eph): pass")
    pytester.runpytest_subprocess("--eph-keep=always").assert_outcomes(passed=1)
    try:
        for c in docker_client.api.containers(
            all=True, filters={"label": [f"{L.SPEC_NAME}={name}"]}
        ):
            docker_client.api.stop(c["Id"], timeout=0)
        second = pytester.runpytest_subprocess("--eph-reuse")
        second.assert_outcomes(passed=1)
        assert "reused" not in second.stdout.str()
    finally:
        ids = _ids_named(eph, name)
        if ids:
            eph("down", *ids)
    assert labelled(docker_client, f"{L.SPEC_NAME}={name}") == []


@pytest.mark.docker
def test_prune_removes_dead_owners_and_expired_kept(tmp_path: Path, docker_client: Any) -> None:
    from pytest_ephemeral.backends.docker import DockerBackend

    backend = DockerBackend()
    run = uuid.uuid4().hex[:8]
    dead = L.Owner(L.current_owner().host, L.current_owner().boot, 999999, "1")
    live = L.current_owner()

    def labels(env_id: str, owner: L.Owner, kept: bool, expires: float | None) -> dict[str, str]:
        return L.env_labels(
            env_id=env_id,
            run_id=run,
            owner=owner,
            spec_hash="h",
            spec_path="p",
            spec_name=f"prune-{run}",
            worker="main",
            kept=kept,
            expires=expires,
        )

    import time

    cases = {
        f"prune-{run}-dead": labels(f"prune-{run}-dead", dead, False, None),
        f"prune-{run}-live": labels(f"prune-{run}-live", live, False, None),
        f"prune-{run}-expired": labels(f"prune-{run}-expired", dead, True, time.time() - 5),
        f"prune-{run}-kept": labels(f"prune-{run}-kept", dead, True, time.time() + 3600),
    }
    for env_id, lab in cases.items():
        backend.create_network(f"{env_id}_default", lab)
    try:
        res = eph("prune")
        assert res.returncode == 0, res.stderr
        left = {
            x.split()[1].removesuffix("_default") for x in labelled(docker_client, f"{L.RUN}={run}")
        }
        assert left == {f"prune-{run}-live", f"prune-{run}-kept"}
        # (another run's sweep may have beaten us to it: both are fine)
        for line in res.stdout.splitlines():
            if f"prune-{run}-dead" in line:
                assert line == f"removed prune-{run}-dead: its owner (pid 999999) is gone"
            if f"prune-{run}-expired" in line:
                assert line == f"removed prune-{run}-expired: kept past its TTL"
    finally:
        for env_id in cases:
            eph("down", env_id)
    assert labelled(docker_client, f"{L.RUN}={run}") == []
