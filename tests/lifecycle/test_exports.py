"""Exports: templates parsed once against the spec (errors with the place and
the fix), rendered on an environment (real values, or redacted for people),
printed in formats a shell, a .env reader and GitHub read back exactly; and
set in os.environ by the pytest plugin, lazily or at session start."""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_ephemeral.data.kinds import connect
from pytest_ephemeral.lifecycle.exports import (
    ExportError,
    compile_exports,
    format_exports,
    parse_assignments,
)
from pytest_ephemeral.runtime.environment import Environment, Service
from pytest_ephemeral.spec import load_spec
from pytest_ephemeral.spec.model import Spec

from ..fakes import FakeBackend

SPEC = """
name: exp
services:
  db:
    image: postgres:16-alpine
    environment: {POSTGRES_PASSWORD: "p'w$$d", POSTGRES_DB: shop}
    ports: [5432]
  cache:
    image: redis:7-alpine
    ports: [6379]
  worker:
    image: python:3.12-slim
    command: [sleep, "600"]
exports:
  PSYCOPG_TEST_DSN: "host={db.host} port={db.port[5432]} user={db.user} password={db.password} dbname={db.database}"
  REDIS_URL: "{cache.url}"
"""


def _spec(write_spec: Callable[..., Path], text: str = SPEC) -> Spec:
    return load_spec(write_spec(text))


def _env(spec: Spec) -> Environment:
    """The spec's services "running" on the fake backend, connection details
    set by the data layer's own registry (as after a real start)."""
    backend = FakeBackend()
    env = Environment("exp-1", spec, backend, {})
    ports = {"db": {(5432, "tcp"): 40001}, "cache": {(6379, "tcp"): 40002}, "worker": {}}
    for name, svc in spec.services.items():
        service = Service(name, svc, backend, f"cid-{name}", "127.0.0.1", ports[name])
        connect(service)
        env.services[name] = service
    return env


def test_spec_exports_render_real_and_redacted(write_spec: Callable[..., Path]) -> None:
    spec = _spec(write_spec)
    exports = compile_exports(spec)
    env = _env(spec)
    assert exports.render(env) == {
        "PSYCOPG_TEST_DSN": "host=127.0.0.1 port=40001 user=postgres password=p'w$d dbname=shop",
        "REDIS_URL": "redis://127.0.0.1:40002/0",
    }
    shown = exports.render(env, redact=True)
    assert shown["PSYCOPG_TEST_DSN"].endswith("password=*** dbname=shop")
    assert exports.secret_names() == {"PSYCOPG_TEST_DSN", "REDIS_URL"}
    # the command line's template wins over the spec's, and adds its own
    more = compile_exports(
        spec, parse_assignments(["REDIS_URL={cache.host}", "PGPORT={db.port[5432]}"])
    )
    assert more.render(env)["REDIS_URL"] == "127.0.0.1"
    assert more.render(env)["PGPORT"] == "40001"


def test_default_exports_name_every_address_and_url(write_spec: Callable[..., Path]) -> None:
    spec = _spec(write_spec, SPEC.split("exports:")[0])
    values = compile_exports(spec).render(_env(spec))
    assert values == {
        "EPH_DB_HOST": "127.0.0.1",
        "EPH_DB_PORT_5432": "40001",
        "EPH_DB_URL": "postgresql://postgres:p'w$d@127.0.0.1:40001/shop",
        "EPH_CACHE_HOST": "127.0.0.1",
        "EPH_CACHE_PORT_6379": "40002",
        "EPH_CACHE_URL": "redis://127.0.0.1:40002/0",
        "EPH_WORKER_HOST": "127.0.0.1",
    }


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("X={nope.host}", "--export X: '{nope.host}' names no service of the spec (known: db, "),
        ("X={db.port[1234]}", "--export X: '{db.port[1234]}': 'db' publishes no port 1234"),
        ("X={db.port}", "--export X: '{db.port}' names no container port (write {db.port[5432]})"),
        ("X={db.colour}", "--export X: '{db.colour}': unknown field 'colour'"),
        (
            "X={worker.url}",
            "--export X: '{worker.url}': service 'worker' (python:3.12-slim) is not",
        ),
        ("X={db.host", "--export X: unbalanced braces in '{db.host'"),
        ("1X={db.host}", "--export 1X: invalid variable name '1X'"),
        ("X-Y={db.host}", "--export X-Y: invalid variable name 'X-Y'"),
        ("JUSTANAME", "--export: 'JUSTANAME' is not NAME=TEMPLATE"),
    ],
)
def test_bad_templates_say_where_and_how_to_fix(
    write_spec: Callable[..., Path], item: str, message: str
) -> None:
    spec = _spec(write_spec)
    with pytest.raises(ExportError) as info:
        compile_exports(spec, parse_assignments([item]))
    text = str(info.value)
    assert text.startswith(message), text
    assert "\n" not in text and "(" in text  # one line, with the fix in brackets


TRICKY = {
    "PLAIN": "abc",
    "QUOTES": """it's "quoted" """,
    "SHELL": "$HOME `id` $(id) \\ ; & | * ?",
    "LINES": "one\ntwo\n",
    "EMPTY": "",
    "DOLLAR": "a$b${c}$$",
}


def test_sh_format_survives_eval_in_a_real_sh(tmp_path: Path) -> None:
    script = format_exports(TRICKY, "sh")
    names = " ".join(TRICKY)
    dump = (
        f'eval "$(cat {tmp_path}/exports.sh)"; for n in {names}; do '
        'eval "v=\\${$n}"; printf "%s\\0%s\\0" "$n" "$v"; done'
    )
    (tmp_path / "exports.sh").write_text(script)
    out = subprocess.run(["sh", "-c", dump], capture_output=True, check=True, env={}).stdout
    fields = out.decode().split("\0")[:-1]
    assert dict(zip(fields[::2], fields[1::2], strict=True)) == TRICKY


def test_dotenv_format_reads_back_through_env_file(write_spec: Callable[..., Path]) -> None:
    """The spec's own env_file: reader (Compose's rules) gets the values back."""
    values = {k: v for k, v in TRICKY.items() if "\n" not in v or k == "LINES"}
    path = write_spec(
        """
        name: dot
        services:
          a:
            image: python:3.12-slim
            env_file: gen.env
        """,
        **{"gen.env": format_exports(values, "dotenv")},
    )
    assert dict(load_spec(path).services["a"].environment) == values


def test_json_and_github_formats() -> None:
    assert json.loads(format_exports(TRICKY, "json")) == TRICKY
    text = format_exports({"A": "1", "B": "x\ny"}, "github")
    assert text == "A=1\nB<<EPH_EOF\nx\ny\nEPH_EOF\n"
    with pytest.raises(ExportError, match="unknown format 'xml'"):
        format_exports({}, "xml")


# -- in pytest: os.environ -------------------------------------------------------------

SUITE_SPEC = """
name: {name}
services:
  cache:
    image: redis:7-alpine
    ports: [6379]
    wait: {{log: "Ready to accept connections"}}
exports:
  REDIS_URL: "{{cache.url}}"
  REDIS_PORT: "{{cache.port[6379]}}"
"""


@pytest.mark.docker
def test_exports_in_os_environ_at_start_and_lazily(
    pytester: pytest.Pytester, docker_client: object
) -> None:
    import uuid

    name = f"exp-{uuid.uuid4().hex[:8]}"
    pytester.makefile(".yaml", ephemeral=SUITE_SPEC.format(name=name))
    # a suite that reads its address at import time (and one that takes an option,
    # set from the exports by the how-to's conftest), and talks to the server
    pytester.makeconftest(
        """
        import os
        import pytest

        def pytest_addoption(parser):
            parser.addoption("--redis-url")

        @pytest.hookimpl(trylast=True)
        def pytest_sessionstart(session):
            session.config.option.redis_url = os.environ.get("REDIS_URL")
        """
    )
    pytester.makepyfile(
        test_import_time=textwrap.dedent(
            """
            import os, socket

            URL = os.environ.get("REDIS_URL")  # read at import: needs eph_export_at = start

            def test_redis_answers(request):
                assert URL is not None and URL.startswith("redis://127.0.0.1:")
                assert request.config.getoption("redis_url") == URL
                with socket.create_connection(("127.0.0.1", int(os.environ["REDIS_PORT"]))) as s:
                    s.sendall(b"PING\\r\\n")
                    assert s.recv(7) == b"+PONG\\r\\n"
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-o", "eph_export_at=start")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1)
    # the default is lazy: nothing at import time, set when the environment is made
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(autouse=True, scope="session")
        def _environment(eph):
            return eph
        """
    )
    pytester.makepyfile(
        test_import_time=textwrap.dedent(
            """
            import os

            def test_set_when_made():
                assert os.environ["REDIS_URL"].startswith("redis://127.0.0.1:")
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--eph-export-at=soon")
    result.stderr.fnmatch_lines(["*--eph-export-at: 'soon' is not one of: lazy, start*"])
