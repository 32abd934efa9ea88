"""The audit trail (DESIGN §10): the hash chain, tampering found by ``eph audit
--verify`` (naming the line), concurrent writers from several processes, an
unwritable file, and the events of real environments' lives (pytest with a
seed and a leak check, and ``eph up/exec/logs/down``)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_ephemeral.lifecycle import audit
from pytest_ephemeral.lifecycle.audit import AuditError, record, redact_argv, verify

EPH = [sys.executable, "-m", "pytest_ephemeral.cli"]


@pytest.fixture
def trail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "state" / "audit.jsonl"
    monkeypatch.setenv(audit.AUDIT_ENV, str(path))
    audit.configure(None)
    yield path
    audit.configure(None)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def eph(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
    return subprocess.run(
        [*EPH, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=300,
    )


# -- the chain ---------------------------------------------------------------------------------


def test_lines_carry_who_what_and_the_chain(
    trail: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("GITHUB_RUN_ID", "7781")
    monkeypatch.setenv("GITHUB_JOB", "integration")
    with caplog.at_level(logging.INFO, logger=audit.LOGGER_NAME):
        record("created", env="shop-1", run="r1", spec_hash="abc", services=["db"])
        record("destroyed", env="shop-1", run="r1", resources={"container": 1})
    first, second = lines(trail)
    assert list(first) == ["ts", "event", "env", "run", "actor", "details", "prev", "hash"]
    assert first["event"] == "created" and first["env"] == "shop-1" and first["run"] == "r1"
    assert first["actor"]["pid"] == os.getpid()
    assert first["actor"]["ci"] == "github:7781/integration"
    assert {"user", "host"} <= set(first["actor"])
    assert first["details"] == {"spec_hash": "abc", "services": ["db"]}
    assert first["prev"] == audit.GENESIS
    assert second["prev"] == first["hash"] != second["hash"]
    assert verify(trail) == (2, None)
    # the same lines went to the logger, for a team's log system
    logged = [r.getMessage() for r in caplog.records if r.name == audit.LOGGER_NAME]
    assert [json.loads(m)["event"] for m in logged] == ["created", "destroyed"]
    assert json.loads(logged[1])["hash"] == second["hash"]


def test_a_tampered_line_is_named_by_verify(trail: Path) -> None:
    for i in range(5):
        record("exec", env=f"e{i}", run="r", service="db", command=["psql"])
    original = trail.read_text(encoding="utf-8").splitlines()
    assert eph("audit", "--verify").returncode == 0

    altered = list(original)
    altered[2] = altered[2].replace('"service":"db"', '"service":"cache"')
    trail.write_text("\n".join(altered) + "\n", encoding="utf-8")
    result = eph("audit", "--verify")
    assert result.returncode == 1
    assert f"{trail}:line 3: altered" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    removed = original[:1] + original[2:]  # line 2 gone: line 2 (was 3) breaks the chain
    trail.write_text("\n".join(removed) + "\n", encoding="utf-8")
    result = eph("audit", "--verify")
    assert result.returncode == 1
    assert "line 2: the chain breaks here" in result.stderr

    swapped = [original[0], original[2], original[1], *original[3:]]
    trail.write_text("\n".join(swapped) + "\n", encoding="utf-8")
    assert "line 2: the chain breaks here" in eph("audit", "--verify").stderr

    headless = original[1:]  # the first lines cut off
    trail.write_text("\n".join(headless) + "\n", encoding="utf-8")
    assert "line 1: the chain breaks here: the first line" in eph("audit", "--verify").stderr

    trail.write_text("\n".join([*original[:4], "not json", original[4]]) + "\n")
    assert "line 5: not an audit line" in eph("audit", "--verify").stderr


def test_a_rehashed_forgery_still_breaks_the_next_link(trail: Path) -> None:
    """Recomputing an edited line's own hash does not help: the next line
    names the old one."""
    for i in range(3):
        record("logs", env=f"e{i}", run="r", services=["db"])
    text = trail.read_text(encoding="utf-8").splitlines()
    data = json.loads(text[0])
    data["env"] = "someone-else"
    data.pop("hash")
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    text[0] = f'{body[:-1]},"hash":"{audit._seal(body)}"}}'
    trail.write_text("\n".join(text) + "\n", encoding="utf-8")
    _count, broken = verify(trail)
    assert broken is not None and broken.line == 2 and "chain breaks" in broken.reason


WRITER = """
import sys
from pytest_ephemeral.lifecycle.audit import record
for i in range(int(sys.argv[2])):
    record("exec", env=f"w{sys.argv[1]}-{i}", run="concurrent", service="db", command=["true"])
"""


def test_concurrent_writers_from_several_processes_keep_the_chain(trail: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(n), "60"], env=dict(os.environ))
        for n in range(4)
    ]
    for p in procs:
        assert p.wait(timeout=120) == 0
    count, broken = verify(trail)
    assert broken is None
    assert count == 240
    envs = [rec["env"] for rec in lines(trail)]
    assert len(set(envs)) == 240  # nothing lost, nothing doubled
    pids = {rec["actor"]["pid"] for rec in lines(trail)}
    assert len(pids) == 4


def test_filters_and_json_output(trail: Path) -> None:
    record("created", env="shop-aa", run="r")
    record("created", env="other-bb", run="r")
    record("destroyed", env="shop-aa", run="r")
    out = eph("audit", "--env", "shop", "--json")
    assert out.returncode == 0, out.stderr
    got = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["event"], r["env"]) for r in got] == [
        ("created", "shop-aa"),
        ("destroyed", "shop-aa"),
    ]
    text = eph("audit", "--since", "1h", "--event", "destroyed")
    assert text.returncode == 0 and len(text.stdout.splitlines()) == 1
    assert "destroyed" in text.stdout and "shop-aa" in text.stdout
    bad = eph("audit", "--since", "soon")
    assert bad.returncode == 2 and "--since: 'soon' is not a duration" in bad.stderr
    missing = eph("audit", "--verify", env={audit.AUDIT_ENV: str(trail.parent / "nope.jsonl")})
    assert missing.returncode == 2 and "no audit trail at" in missing.stderr


def test_secrets_never_reach_the_trail() -> None:
    argv = ["psql", "postgresql://app:hunter2@db:5432/app", "PGPASSWORD=hunter2", "-c", "select 1"]
    shown = redact_argv(argv)
    assert "hunter2" not in " ".join(shown)
    assert shown[1] == "postgresql://app:***@db:5432/app" and shown[2] == "PGPASSWORD=***"


def test_an_unwritable_trail_is_one_line_and_strict_callers_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(audit.AUDIT_ENV, str(blocker / "audit.jsonl"))  # under a file: ENOTDIR
    audit.configure(None)
    monkeypatch.setattr(audit, "_reported", set())
    with pytest.warns(audit.AuditWarning, match=r"cannot write .*a-file/audit\.jsonl"):
        record("created", env="x", run="r")
    record("ready", env="x", run="r")  # said once per process, not per line
    with pytest.raises(AuditError, match=r"audit trail: cannot write .*EPH_AUDIT_FILE"):
        record("exec", env="x", run="r", strict=True)
    assert capsys.readouterr().err == ""


# -- a real environment's life ---------------------------------------------------------------

SCHEMA = "create table customers (id int primary key, email text not null);\n"
DUMP = """\
COPY public.customers (id, email) FROM stdin;
1	maria.gonzalez@gmail.com
2	john.smith@yahoo.com
\\.
"""
RULES = """\
default: refuse
tables:
  public.customers:
    columns:
      id: keep
      email: {fake: email, unique: true}
"""


def _pg_spec(root: Path, name: str) -> None:
    (root / "seed").mkdir(parents=True, exist_ok=True)
    (root / "seed" / "schema.sql").write_text(SCHEMA)
    (root / "seed" / "prod.sql").write_text(DUMP)
    (root / "seed" / "rules.yaml").write_text(RULES)
    (root / "ephemeral.yaml").write_text(
        textwrap.dedent(
            f"""
            name: {name}
            services:
              db:
                image: postgres:16-alpine
                environment: {{POSTGRES_PASSWORD: secret}}
                ports: [5432]
                healthcheck:
                  test: ["CMD", "pg_isready", "-U", "postgres"]
                  interval: 1s
                  retries: 30
                tmpfs: [/var/lib/postgresql/data]
                seed:
                  - sql: seed/schema.sql
                  - dump: seed/prod.sql
                    sanitize: seed/rules.yaml
            """
        )
    )


@pytest.mark.docker
def test_a_pytest_run_records_created_seeded_leak_check_ready_destroyed(
    pytester: pytest.Pytester, docker_client: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = pytester.path
    _pg_spec(root, "audited")
    (root / "pytest.ini").write_text("[pytest]\neph_audit_file = logs/trail.jsonl\n")
    pytester.makepyfile(test_it="def test_it(eph):\n    assert eph['db'].url\n")
    monkeypatch.setenv("EPH_SANITIZE_SALT", "audit-test-salt-0123456789")
    monkeypatch.setenv(audit.AUDIT_ENV, str(root / "not-this-one.jsonl"))  # the ini wins
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    path = root / "logs" / "trail.jsonl"
    assert not (root / "not-this-one.jsonl").exists()
    assert verify(path)[1] is None
    recs = lines(path)
    events = [r["event"] for r in recs]
    assert events == ["created", "leak_check", "seeded", "ready", "destroyed"], events
    env_ids = {r["env"] for r in recs}
    assert len(env_ids) == 1 and next(iter(env_ids)).startswith("audited-")
    assert len({r["run"] for r in recs}) == 1
    seeded = recs[2]["details"]
    schema_hash = "sha256:" + __import__("hashlib").sha256(SCHEMA.encode()).hexdigest()
    assert seeded["steps"][0] == {
        "kind": "sql",
        "source": "seed/schema.sql",
        "source_hash": schema_hash,
    }
    assert seeded["steps"][1]["rules"] == "seed/rules.yaml"
    assert seeded["steps"][1]["rules_hash"].startswith("sha256:")
    assert seeded["leak_check"] == "clean"
    assert recs[1]["details"]["result"] == "clean"
    text = path.read_text()
    for secret in ("maria.gonzalez", "audit-test-salt", "secret"):
        assert secret not in text  # no data, no salt, no password
    assert recs[4]["details"]["resources"]["container"] == 1


@pytest.mark.docker
def test_eph_up_exec_logs_down_are_recorded(
    tmp_path: Path, trail: Path, docker_client: object
) -> None:
    (tmp_path / "ephemeral.yaml").write_text(
        textwrap.dedent(
            """
            name: auditcli
            services:
              app:
                image: python:3.12-slim
                command: ["sh", "-c", "echo ready; sleep 600"]
                wait: {log: ready}
            """
        )
    )
    up = eph("up", "--json", "--ttl", "10m", cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    env_id = json.loads(up.stdout)["id"]
    try:
        ran = eph("exec", env_id, "app", "--", "sh", "-c", "echo TOKEN=abc", cwd=tmp_path)
        assert ran.returncode == 0 and "TOKEN=abc" in ran.stdout
        assert eph("logs", env_id, "app", cwd=tmp_path).returncode == 0
        # a look inside that cannot be recorded does not happen
        blocked = eph("logs", env_id, env={audit.AUDIT_ENV: str(tmp_path / "ephemeral.yaml" / "x")})
        assert blocked.returncode == 1
        assert blocked.stderr.strip().startswith("eph: error: audit trail: cannot write")
        assert "ready" not in blocked.stdout
    finally:
        down = eph("down", env_id, cwd=tmp_path)
        assert down.returncode == 0, down.stderr
    mine = [r for r in lines(trail) if r["env"] == env_id]
    assert [r["event"] for r in mine] == ["created", "ready", "kept", "exec", "logs", "destroyed"]
    exec_rec = mine[3]["details"]
    assert exec_rec["service"] == "app"
    assert exec_rec["command"] == ["sh", "-c", "echo TOKEN=abc"]  # not NAME=VALUE at the top
    assert mine[2]["details"]["expires"] > 0
    assert verify(trail)[1] is None


HOLDER = """
import sys, time
from pathlib import Path
from pytest_ephemeral.config import Settings
from pytest_ephemeral.lifecycle.manager import Manager
spec = Path(sys.argv[1])
manager = Manager(Settings(rootdir=spec.parent, timeout=60.0))
env = manager.environment(spec)
print(env.id, flush=True)
time.sleep(600)
"""


@pytest.mark.docker
@pytest.mark.slow
def test_a_killed_owner_is_reaped_and_the_reaper_says_so(
    tmp_path: Path, trail: Path, docker_client: Any
) -> None:
    from ..conftest import wait_until_clean

    spec = tmp_path / "ephemeral.yaml"
    spec.write_text(
        textwrap.dedent(
            """
            name: auditkill
            services:
              app:
                image: python:3.12-slim
                command: ["sh", "-c", "echo ready; sleep 600"]
                wait: {log: ready}
            """
        )
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(spec)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        env_id = holder.stdout.readline().strip()
        assert env_id.startswith("auditkill-")
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    assert wait_until_clean(docker_client, f"pytest-ephemeral.env={env_id}", 20) == []
    # the remover writes its line after the removal; give a loaded machine time
    # (a CI run with other work beside it once took longer than 10 s)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        mine = [r for r in lines(trail) if r["env"] == env_id]
        if any(r["event"] == "reaped" for r in mine):
            break
        time.sleep(0.2)
    events = [r["event"] for r in mine]
    reaper_log = Path(tempfile.gettempdir()) / "pytest-ephemeral-reaper.log"
    said = reaper_log.read_text(errors="replace")[-2000:] if reaper_log.exists() else ""
    assert events[:2] == ["created", "ready"] and "reaped" in events, (events, said)
    reaped = next(r for r in mine if r["event"] == "reaped")
    # its reaper, or the sweep of a run beside this one (it writes here too: the
    # environment's label names this trail)
    assert reaped["details"]["by"] in ("reaper", "sweep")
    assert reaped["actor"]["pid"] != holder.pid  # not written by the dead owner
    assert verify(trail)[1] is None


def test_the_end_of_an_environment_reaches_its_creators_trail_whoever_removes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dead owner's environment swept by another run (another trail) is
    recorded in the trail it was created in as well as in the sweeper's."""
    from pytest_ephemeral.lifecycle import labels as L
    from pytest_ephemeral.lifecycle.inventory import sweep

    from ..fakes import FakeBackend

    creator, sweeper = tmp_path / "creator.jsonl", tmp_path / "sweeper.jsonl"
    me = L.current_owner()
    dead = L.Owner(me.host, me.boot, 999_999, "1")
    labels = L.env_labels(
        env_id="gone-1",
        run_id="r1",
        owner=dead,
        spec_hash="h",
        spec_path="/p",
        spec_name="n",
        worker="main",
        kept=False,
        expires=None,
    )
    labels[L.AUDIT] = str(creator)
    backend = FakeBackend()
    backend.create_volume("gone-1-data", labels)
    monkeypatch.setenv(audit.AUDIT_ENV, str(sweeper))
    audit.configure(None)
    assert sweep(backend) == {"gone-1": "its owner (pid 999999) is gone"}
    for path in (creator, sweeper):
        (rec,) = lines(path)
        assert (rec["event"], rec["env"], rec["details"]["by"]) == ("reaped", "gone-1", "sweep")
        assert verify(path)[1] is None
    # the same trail twice is written once; another host's path is not trusted
    labels[L.ENV] = "gone-2"
    backend.create_volume("gone-2-data", {**labels, L.AUDIT: str(sweeper)})
    labels[L.ENV] = "gone-3"
    remote = L.Owner("elsewhere", "b", 999_999, "1")
    backend.create_volume(
        "gone-3-data", {**labels, L.OWNER: str(remote), L.KEPT: "true", L.EXPIRES: "1"}
    )
    sweep(backend)
    assert [r["env"] for r in lines(sweeper)] == ["gone-1", "gone-2", "gone-3"]
    assert [r["env"] for r in lines(creator)] == ["gone-1"]
