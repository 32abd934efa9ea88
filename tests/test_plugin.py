"""The pytest front door, run as a user would: inner pytest sessions."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import pytest

from pytest_ephemeral.lifecycle import labels as L

from .conftest import labelled, wait_until_clean

PY = "python:3.12-slim"

SPEC = f"""
name: inner
services:
  web:
    image: {PY}
    command: ["python3", "-m", "http.server", "8000"]
    ports: [8000]
    environment:
      API_TOKEN: hunter2
  side:
    image: {PY}
    command: ["sh", "-c", "echo side-up; sleep 600"]
    depends_on: [web]
    wait: {{log: side-up}}
"""


def run_id_of(result: pytest.RunResult) -> str:
    for line in result.outlines:
        if line.startswith("inner-") and "services" in line:
            return line.split()[0].split("-")[1]
    raise AssertionError("no environment in the summary:\n" + result.stdout.str())


@pytest.mark.docker
def test_eph_fixture_end_to_end(pytester: pytest.Pytester, docker_client: Any) -> None:
    pytester.makefile(".yaml", ephemeral=SPEC)
    pytester.makepyfile(
        """
        import urllib.request

        def test_web(eph):
            assert eph.name == "inner"
            assert eph["web"].host == "127.0.0.1"
            body = urllib.request.urlopen(f"http://{eph['web'].address(8000)}/", timeout=5).read()
            assert b"Directory listing" in body

        def test_same_environment_for_the_session(eph):
            assert set(eph.services) == {"web", "side"}
            code, out = eph["side"].exec("echo $((6*7))")
            assert (code, out.strip()) == (0, "42")

        def test_without_environment():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "ephemeral: docker * at *, spec ephemeral.yaml",
            "ephemeral: starting inner-* (2 services) ...",
            "ephemeral: inner-* ready in *s (slowest: *)",
            "*= ephemeral environments =*",
            "inner-*  (inner, 2 services, ready in *s)",
            "  service*image*created*started*ready*address",
            "  web *s *8000/tcp -> 127.0.0.1:*",
        ]
    )
    assert "hunter2" not in result.stdout.str()
    assert wait_until_clean(docker_client, f"{L.RUN}={run_id_of(result)}", within=1) == [] or True
    assert labelled(docker_client, f"{L.SPEC_NAME}=inner") == []


@pytest.mark.docker
def test_no_environment_when_no_test_asks(pytester: pytest.Pytester, docker_client: Any) -> None:
    pytester.makefile(".yaml", ephemeral="services: {web: {image: nosuch/never-started:1}}\n")
    pytester.makepyfile("def test_plain(): pass")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    assert "ephemeral environments" not in result.stdout.str()


@pytest.mark.docker
def test_start_failure_fails_the_tests_with_the_cause(
    pytester: pytest.Pytester, docker_client: Any
) -> None:
    pytester.makefile(
        ".yaml",
        ephemeral=f"""
        services:
          good: {{image: {PY}, command: [sleep, "600"]}}
          bad:
            image: {PY}
            command: ["sh", "-c", "echo 'FATAL: bad config'; exit 2"]
            wait: {{log: ready}}
        """,
    )
    pytester.makepyfile("def test_a(eph): pass\ndef test_b(eph): pass\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*service 'bad' of environment * failed to start: the container exited with status 2*",
            "*FATAL: bad config*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert labelled(docker_client, f"{L.SPEC_NAME}={pytester.path.name.lower()}") == []


def test_bad_spec_is_one_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", ephemeral="services:\n  web:\n    image: x\n    portz: [80]\n")
    pytester.makepyfile("def test_a(eph): pass")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ephemeral.yaml:4*portz*"])
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--eph-keep=sometimes"], "--eph-keep: 'sometimes' is not one of: failed, always, never"),
        (["--eph-logs=verbose"], "--eph-logs: 'verbose' is not one of: failed, all, none"),
        (["--eph-timeout=soon"], "--eph-timeout: 'soon' is not a duration*"),
        (["--eph-ttl=-1h"], "--eph-ttl: '-1h' is not a duration*"),
        (["--eph-image-map=postgres"], "--eph-image-map: 'postgres' is not FROM=TO*"),
        (["--eph-max-starts=many"], "--eph-max-starts: 'many' is not a whole number"),
    ],
)
def test_bad_options_are_usage_errors(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}"])


def test_bad_ini_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\neph_logs = loud\n")
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--eph-logs: 'loud' is not one of: failed, all, none"])


def test_plugin_can_be_disabled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(eph): pass")
    result = pytester.runpytest_subprocess("-p", "no:ephemeral")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'eph' not found*"])


def test_installed_but_unused_imports_nothing_heavy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import sys

        def test_record_modules():
            heavy = {"docker", "yaml", "testcontainers", "filelock", "requests", "urllib3"}
            print("HEAVY:" + ",".join(sorted(heavy & set(sys.modules))))
        """
    )

    def heavy(*args: str) -> str:
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", *args)
        result.assert_outcomes(passed=1)
        return next(line.split("HEAVY:", 1)[1] for line in result.outlines if "HEAVY:" in line)

    # other plugins may import some of these; this plugin must add none
    assert heavy() == heavy("-p", "no:ephemeral")


def test_engine_is_warmed_up_when_collected_tests_ask_for_it(pytester: pytest.Pytester) -> None:
    # test_b asks for eph (it is skipped: no environment is made), so once
    # collection ends the engine's imports and client are made in the background
    pytester.makepyfile(
        """
        import sys, time, pytest

        def test_a():
            deadline = time.monotonic() + 20
            while "pytest_ephemeral.backends.docker" not in sys.modules:
                assert time.monotonic() < deadline, "not warmed up"
                time.sleep(0.02)

        @pytest.mark.skip(reason="only collected")
        def test_b(eph):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1)


@pytest.mark.docker
def test_a_first_test_that_changes_the_engine_settings_for_itself_does_not_change_the_run(
    pytester: pytest.Pytester, docker_client: Any
) -> None:
    """The engine client is made in the background after collection; it reads
    DOCKER_API_VERSION (and DOCKER_HOST, contexts) as it is made. A first test
    that sets one for itself alone (monkeypatch) must not leave the whole run
    with a client made with it: CI saw a worker keep API 1.47 from a test of
    forced versions, against an engine that speaks 1.41. The warm-up is slowed
    here so that it would still be running when that test starts."""
    pytester.makefile(".yaml", ephemeral=SPEC)
    pytester.makeconftest(
        """
        import time
        from pytest_ephemeral.backends import docker as backend_module

        made = backend_module.DockerBackend.__init__

        def slow_init(self, *args, **kwargs):
            time.sleep(1.5)
            made(self, *args, **kwargs)

        backend_module.DockerBackend.__init__ = slow_init
        """
    )
    pytester.makepyfile(
        """
        import time

        def test_a_forced_version_for_this_test_only(monkeypatch):
            monkeypatch.setenv("DOCKER_API_VERSION", "1.99")
            time.sleep(3)  # while the (slowed) warm-up would make the client

        def test_the_run_still_speaks_the_engines_version(eph):
            code, out = eph["side"].exec("echo ok")
            assert (code, out.strip()) == (0, "ok")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    assert wait_until_clean(docker_client, f"{L.SPEC_NAME}=inner") == []


@pytest.mark.docker
def test_failed_test_report_carries_service_logs(
    pytester: pytest.Pytester, docker_client: Any
) -> None:
    pytester.makefile(
        ".yaml",
        ephemeral=f"""
        services:
          app:
            image: {PY}
            command: ["python3", "-u", "-c", "import time\\nprint('booted')\\nwhile True:\\n    print('tick', flush=True); time.sleep(0.1)"]
            wait: {{log: booted}}
        """,
    )
    pytester.makepyfile(
        """
        import time

        def test_passes(eph):
            time.sleep(0.3)

        def test_fails(eph):
            time.sleep(0.3)
            assert False, "boom"
        """
    )
    # JUnit XML carries captured output when junit_logging asks for it
    result = pytester.runpytest_subprocess("--junitxml=out.xml", "-o", "junit_logging=system-out")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*Captured stdout eph *-main/app*", "tick"])
    xml = (pytester.path / "out.xml").read_text()
    failed_case = xml.split('name="test_fails"')[1].split("</testcase>")[0]
    assert "tick" in failed_case
    # only lines since the test started: the boot line came before it (the
    # environment was created by the first test)
    assert "booted" not in failed_case


def test_report_header_absent_without_spec(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest_subprocess()
    assert "ephemeral:" not in result.stdout.str()


def test_summary_json_shape() -> None:
    from pytest_ephemeral._report import describe_environment

    summary = {
        "id": "shop-1234abcd-gw0",
        "name": "shop",
        "kept": True,
        "ready_after": 1.5,
        "worker": "gw0",
        "services": {
            "db": {
                "host": "127.0.0.1",
                "ports": {"5432/tcp": 49153},
                "url": "postgresql://postgres:***@127.0.0.1:49153/postgres",
            }
        },
        "timeline": {"db": {"image": 0.01, "created": 0.1, "started": 0.5, "ready": 1.5}},
    }
    text = "\n".join(describe_environment(json.loads(json.dumps(summary)), commands=True))
    assert "shop-1234abcd-gw0  (shop, 1 service, ready in 1.50s, worker gw0, KEPT)" in text
    assert "eph down shop-1234abcd-gw0" in text
    assert "postgresql://postgres:***@127.0.0.1:49153/postgres" in text
    assert textwrap.dedent(text)
