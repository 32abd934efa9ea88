"""Real starts of representative files of the team's Compose corpus
(tests/spec/compose_corpus/) through the plugin, as a user runs them: an inner
pytest session with the file as its spec (ini ``eph_spec``), tests that look at
what the containers got, and nothing left on the engine afterwards."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).resolve().parents[1] / "spec" / "compose_corpus"
ENV_LABEL = "pytest-ephemeral.env"


def _project(
    pytester: pytest.Pytester, specs: list[str], tests: str, *, image_map: tuple[str, ...] = ()
) -> None:
    """An inner project whose spec is ``specs`` (merged in order); its tests
    write the environment's id to ``env_id`` for the leak check."""
    ini = ["[pytest]", "eph_spec =", *(f"    {s}" for s in specs)]
    if image_map:
        ini += ["eph_image_map =", *(f"    {m}" for m in image_map)]
    pytester.makefile(".ini", pytest="\n".join(ini) + "\n")
    pytester.makepyfile(test_corpus=textwrap.dedent(tests))


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=400)


def _left(docker_client: Any, pytester: pytest.Pytester) -> list[str]:
    env_id = (pytester.path / "env_id").read_text().strip()
    api = docker_client.api
    flt = {"label": [f"{ENV_LABEL}={env_id}"]}
    return [c["Names"][0] for c in api.containers(all=True, filters=flt)] + [
        n["Name"] for n in api.networks(filters=flt)
    ]


OFFLINE_STACK_TESTS = """
    from pathlib import Path

    import docker


    def test_offline_stack(eph):
        Path("env_id").write_text(eph.id)
        api = docker.from_env().api
        # the one-shot check exits 0 only when the links alias, the container_name
        # alias, the secret and the config are where Compose puts them
        check = api.inspect_container(eph["check"].container_id)
        assert (check["State"]["Status"], check["State"]["ExitCode"]) == ("exited", 0)
        assert "corpus check ok" in eph["check"].logs()
        db = api.inspect_container(eph["db"].container_id)["HostConfig"]
        assert db["Memory"] == 256 * 1024 * 1024 and db["PidsLimit"] == 200
        assert db["ShmSize"] == 128 * 1024 * 1024
        assert db["Ulimits"] == [{"Name": "nofile", "Soft": 20000, "Hard": 20000}]
        # PostgreSQL took its password from the secret file
        code, out = eph["db"].exec(["cat", "/run/secrets/db_password"])
        assert code == 0 and out.strip()
        assert eph["cache"].url.startswith("redis://127.0.0.1:")
        assert eph["cache"].exec(["redis-cli", "ping"]).output.strip() == "PONG"
"""


@pytest.mark.docker
def test_offline_stack_starts_with_aliases_secret_and_config(
    pytester: pytest.Pytester, docker_client: Any
) -> None:
    _project(pytester, [str(CORPUS / "29-offline-stack.yaml")], OFFLINE_STACK_TESTS)
    result = _run(pytester)
    result.assert_outcomes(passed=1)
    # the keys Compose runs and the plugin replaces: in pytest's warnings summary
    result.stdout.fnmatch_lines(
        [
            "*SpecWarning*services.db.container_name*kept as a network alias*",
            "*SpecWarning*services.cache.restart*never restarted*",
        ]
    )
    assert _left(docker_client, pytester) == []


PROFILES_TESTS = """
    import urllib.request
    from pathlib import Path


    def test_only_the_default_services(eph):
        Path("env_id").write_text(eph.id)
        assert list(eph.services) == ["app"]  # mailhog and adminer sit behind profiles
        with urllib.request.urlopen(f"http://127.0.0.1:{eph['app'].port(8000)}/") as r:
            assert r.status == 200
"""


@pytest.mark.docker
def test_profiles_start_only_the_active_services(
    pytester: pytest.Pytester, docker_client: Any
) -> None:
    _project(pytester, [str(CORPUS / "19-profiles.yaml")], PROFILES_TESTS)
    _run(pytester).assert_outcomes(passed=1)
    assert _left(docker_client, pytester) == []
    # a profile turned on: its service is started too (here: refused, its image
    # is not on this offline engine and pulls are off), named on one line
    (pytester.path / "env_id").unlink()
    result = _run(pytester, "--eph-profile", "tools", "--eph-pull", "never")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*service 'adminer'*image 'adminer' is not on the engine and pull_policy is never*"]
    )
    assert "mailhog" not in result.stdout.str() and "Traceback" not in result.stdout.str()


RUNTIME_LIMITS_TESTS = """
    import time
    from pathlib import Path

    import docker


    def test_engine_options(eph):
        Path("env_id").write_text(eph.id)
        info = docker.from_env().api.inspect_container(eph["db"].container_id)
        assert info["Config"]["Image"] == "postgres:16-alpine"  # the image map
        assert info["Config"]["StopSignal"] == "SIGINT"
        hc = info["HostConfig"]
        assert hc["ShmSize"] == 256 * 1024 * 1024
        assert (hc["PidsLimit"], hc["CpuShares"], hc["Init"]) == (512, 512, True)
        assert hc["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
        assert hc["Sysctls"] == {"net.core.somaxconn": "1024"}
        assert hc["Tmpfs"] == {"/run": "", "/tmp": "size=64m"}
        assert hc["SecurityOpt"] == ["no-new-privileges:true"]
        assert (hc["CapAdd"], hc["Runtime"]) == (["SYS_NICE"], "runc")
        # and PostgreSQL runs with all of it (no healthcheck: started is ready)
        deadline = time.monotonic() + 90
        while eph["db"].exec(["pg_isready", "-U", "postgres"]).exit_code != 0:
            assert time.monotonic() < deadline, eph["db"].logs()
            time.sleep(0.5)
        # the container's own process (docker-init: init: true) has the limits
        code, out = eph["db"].exec(["sh", "-c", "grep 'open files' /proc/1/limits"])
        assert code == 0 and out.split()[3:5] == ["1024", "2048"], out
        assert "docker-init" in eph["db"].exec(["cat", "/proc/1/cmdline"]).output
        code, out = eph["db"].exec(["sh", "-c", "df -k /tmp | tail -1"])
        assert code == 0 and out.split()[:2] == ["tmpfs", "65536"], out
"""


@pytest.mark.docker
def test_runtime_limits_reach_the_engine(pytester: pytest.Pytester, docker_client: Any) -> None:
    # the file as a team would run it here: postgres:16 mapped to the offline
    # image, and (docker compose -f a -f b) an override lowering its nofile
    # hard limit of 40000 under this engine's own (20000), which the engine
    # cannot grant (one clear error says so; see tests/backends)
    pytester.makefile(
        ".yaml", override="services:\n  db:\n    ulimits:\n      nofile: {soft: 1024, hard: 2048}\n"
    )
    _project(
        pytester,
        [str(CORPUS / "22-runtime-limits.yaml"), "override.yaml"],
        RUNTIME_LIMITS_TESTS,
        image_map=("postgres:16=postgres:16-alpine",),
    )
    _run(pytester).assert_outcomes(passed=1)
    assert _left(docker_client, pytester) == []


INCLUDE_TESTS = """
    import time
    from pathlib import Path

    import docker


    def test_included_database_and_built_app(eph):
        Path("env_id").write_text(eph.id)
        api = docker.from_env().api
        pg = api.inspect_container(eph["postgres"].container_id)["Config"]
        # the included file's postgres:${POSTGRES_VERSION:-16-alpine} (the .env sets it)
        assert pg["Image"] == "postgres:16-alpine"
        mounts = api.inspect_container(eph["postgres"].container_id)["Mounts"]
        assert [m["Name"] for m in mounts] == [f"{eph.id}_pgdata"]
        # the built app reaches the database by its service name ...
        probe = (
            "import os, socket; socket.create_connection(('postgres', 5432), 5).close(); "
            "print(os.environ['DATABASE_URL'])"
        )
        code, out = eph["api"].exec(["python", "-c", probe])
        assert code == 0 and out.strip().endswith("@postgres:5432/postgres"), out
        # ... and answers HTTP on 8000 under its service name (python -m app)
        get = "import urllib.request; print(urllib.request.urlopen('http://api:8000/').read())"
        deadline = time.monotonic() + 60
        while True:
            code, out = eph["api"].exec(["python", "-c", get])
            if code == 0:
                break
            assert time.monotonic() < deadline, eph["api"].logs()
            time.sleep(0.5)
        assert "Dockerfile" in out  # its directory listing of /app
"""


@pytest.mark.docker
@pytest.mark.slow
def test_include_with_a_built_app(pytester: pytest.Pytester, docker_client: Any) -> None:
    # a first run builds the app (python:3.12-slim, offline); later runs reuse the tag
    _project(pytester, [str(CORPUS / "18-include.yaml")], INCLUDE_TESTS)
    _run(pytester).assert_outcomes(passed=1)
    assert _left(docker_client, pytester) == []
