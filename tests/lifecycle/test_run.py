"""``eph run`` for real, through a subprocess: the command's exit status, its
exports, always down (failure, SIGINT, SIGTERM handed to the command first;
SIGKILL: the reaper), ``--keep=failed``, and bad input refused before anything
starts. Nothing is left behind: checked by the environment's labels."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from pytest_ephemeral.lifecycle import labels as L

from ..conftest import labelled, wait_until_clean

pytestmark = pytest.mark.docker

EPH = [sys.executable, "-m", "pytest_ephemeral.cli"]

SPEC = """
name: {name}
services:
  cache:
    image: redis:7-alpine
    ports: [6379]
    wait: {{log: "Ready to accept connections"}}
exports:
  REDIS_URL: "{{cache.url}}"
"""

# the command: says it started (with its pid), then waits; on SIGINT/SIGTERM it
# writes which signal it got and exits 7
CHILD = textwrap.dedent(
    """
    import os, signal, sys, time
    from pathlib import Path
    marks = Path(sys.argv[1])
    def handler(signum, frame):
        (marks / "got").write_text(str(signum))
        sys.exit(7)
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    (marks / "started").write_text(os.environ["REDIS_URL"] + " " + str(os.getpid()))
    time.sleep(60)
    """
)


def suite(tmp_path: Path) -> tuple[Path, str]:
    name = f"run-{uuid.uuid4().hex[:8]}"
    (tmp_path / "ephemeral.yaml").write_text(SPEC.format(name=name))
    (tmp_path / "child.py").write_text(CHILD)
    return tmp_path, f"{L.SPEC_NAME}={name}"


def eph(root: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*EPH, *args], cwd=root, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_exit_status_exports_and_always_down(tmp_path: Path, docker_client: Any) -> None:
    root, label = suite(tmp_path)
    script = 'case "$REDIS_URL" in redis://127.0.0.1:*/0) ;; *) exit 99;; esac; echo "P=$P"; exit 3'
    done = eph(root, "run", "--export", "P={cache.port[6379]}", "--", "sh", "-c", script)
    assert done.returncode == 3, done.stderr
    port = done.stdout.strip().removeprefix("P=")
    assert port.isdigit(), done.stdout
    assert "removed run-" in done.stderr
    assert labelled(docker_client, label) == []  # removed before eph run ended
    ok = eph(root, "run", "--", "true")
    assert ok.returncode == 0, ok.stderr
    assert labelled(docker_client, label) == []


def test_keep_failed_keeps_only_a_failed_command(tmp_path: Path, docker_client: Any) -> None:
    root, label = suite(tmp_path)
    done = eph(root, "run", "--keep=failed", "--", "sh", "-c", "exit 5")
    env_id = done.stderr.split("eph down ")[-1].split()[0] if "eph down " in done.stderr else ""
    try:
        assert done.returncode == 5, done.stderr
        assert f"kept {env_id} (the command failed); remove it with: eph down" in done.stderr
        assert any(x.startswith("container") for x in labelled(docker_client, label))
        # the kept one is found by its labels, and its exports printed with real values
        env = eph(root, "env", env_id, "--format", "json")
        assert env.returncode == 0, env.stderr
        assert '"REDIS_URL": "redis://127.0.0.1:' in env.stdout
    finally:
        if env_id:
            eph(root, "down", env_id)
    assert labelled(docker_client, label) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--", "no-such-command-eph17"], "command 'no-such-command-eph17' not found on PATH"),
        (["--export", "X={nope.url}", "--", "true"], "'{nope.url}' names no service of the spec"),
        (["--export", "9X={cache.host}", "--", "true"], "invalid variable name '9X'"),
        ([], "no command given"),
    ],
)
def test_bad_input_exit_2_before_anything_starts(
    tmp_path: Path, docker_client: Any, args: list[str], message: str
) -> None:
    root, label = suite(tmp_path)
    done = eph(root, "run", *args, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert labelled(docker_client, label) == []


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_interrupted_run_hands_on_the_signal_and_leaves_nothing(
    tmp_path: Path, docker_client: Any, how: str
) -> None:
    root, label = suite(tmp_path)
    marks = tmp_path / "marks"
    marks.mkdir()
    proc = subprocess.Popen(
        [*EPH, "run", "--", sys.executable, str(root / "child.py"), str(marks)],
        cwd=root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own group: killpg hits eph run and its command only
    )
    child_pid = 0
    try:
        deadline = time.monotonic() + 90
        while not (marks / "started").exists():
            assert proc.poll() is None, proc.communicate()[0].decode()
            assert time.monotonic() < deadline, "the command never started"
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written, the handlers are set
        url, pid = (marks / "started").read_text().split()
        child_pid = int(pid)
        assert url.startswith("redis://127.0.0.1:")
        if how == "SIGKILL":
            os.killpg(proc.pid, signal.SIGKILL)  # eph run and the command: no cleanup at all
        else:
            proc.send_signal(getattr(signal, how))  # eph run only: it hands the signal on
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        out = proc.communicate(timeout=60)[0].decode()
    if how == "SIGKILL":
        left = wait_until_clean(docker_client, label, within=15.0)  # the reaper's job
        assert left == [], f"leaked after SIGKILL: {left}\n{out}"
        return
    assert (marks / "got").read_text() == str(int(getattr(signal, how))), out
    assert proc.returncode == 7, out  # the command's own exit status
    assert labelled(docker_client, label) == [], out  # removed before eph run ended
    with pytest.raises(ProcessLookupError):
        os.kill(child_pid, 0)
