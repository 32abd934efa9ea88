"""Interrupt pytest for real — SIGINT, SIGTERM, SIGKILL of the whole process
group, during setup, a test and teardown; SIGKILL of one xdist worker — and
check that nothing labelled by the plugin is left within 15 seconds."""

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

PY = "python:3.12-slim"


def make_suite(root: Path, name: str, *, slow_start: bool = False) -> None:
    delay = "3" if slow_start else "0"
    (root / "ephemeral.yaml").write_text(
        textwrap.dedent(
            f"""
            name: {name}
            services:
              a:
                image: {PY}
                command: ["sh", "-c", "sleep {delay}; echo ready; sleep 600"]
                wait: {{log: ready, timeout: 60s}}
              b:
                image: {PY}
                command: ["sh", "-c", "sleep {delay}; echo ready; sleep 600"]
                depends_on: [a]
                wait: {{log: ready, timeout: 60s}}
            """
        )
    )
    (root / "conftest.py").write_text(
        textwrap.dedent(
            """
            import os, time
            from pathlib import Path
            import pytest

            MARKS = Path(os.environ["KILL_MARKS"])

            @pytest.fixture(scope="session")
            def slow_teardown(eph):
                yield eph
                (MARKS / "teardown").write_text(str(os.getpid()))
                time.sleep(30)
            """
        )
    )
    (root / "test_kill_me.py").write_text(
        textwrap.dedent(
            """
            import os, time
            from conftest import MARKS

            def test_one(eph, slow_teardown):
                (MARKS / f"test-{os.getpid()}").write_text(str(os.getpid()))
                time.sleep(float(os.environ.get("KILL_TEST_SLEEP", "30")))

            def test_two(eph):
                (MARKS / f"test-{os.getpid()}").write_text(str(os.getpid()))
                time.sleep(float(os.environ.get("KILL_TEST_SLEEP", "30")))
            """
        )
    )


def launch(root: Path, marks: Path, *args: str, sleep: str = "30") -> subprocess.Popen[bytes]:
    env = dict(
        os.environ, KILL_MARKS=str(marks), KILL_TEST_SLEEP=sleep, PYTHONDONTWRITEBYTECODE="1"
    )
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-x", *args],
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own group: killpg hits pytest and its workers only
    )


def wait_for(predicate: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def moment(client: Any, label: str, marks: Path, when: str) -> None:
    if when == "setup":
        wait_for(
            lambda: any(x.startswith("container") for x in labelled(client, label)), "a container"
        )
    elif when == "test":
        wait_for(lambda: any(p.name.startswith("test-") for p in marks.iterdir()), "a test to run")
    else:
        wait_for(lambda: (marks / "teardown").exists(), "teardown to begin")


@pytest.mark.parametrize("when", ["setup", "test", "teardown"])
@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGKILL-group"])
def test_interrupted_run_leaves_nothing(
    tmp_path: Path, docker_client: Any, how: str, when: str
) -> None:
    name = f"kill-{uuid.uuid4().hex[:8]}"
    root, marks = tmp_path / "suite", tmp_path / "marks"
    root.mkdir()
    marks.mkdir()
    make_suite(root, name, slow_start=when == "setup")
    label = f"{L.SPEC_NAME}={name}"
    proc = launch(root, marks, sleep="0.5" if when == "teardown" else "30")
    try:
        moment(docker_client, label, marks, when)
        if how == "SIGKILL-group":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.send_signal(signal.SIGINT if how == "SIGINT" else signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        out = proc.communicate(timeout=60)[0].decode()
    left = wait_until_clean(docker_client, label, within=15.0)
    assert left == [], f"leaked after {how} during {when}: {left}\n{out}"
    if how != "SIGKILL-group":
        assert "Traceback" not in out or "KeyboardInterrupt" in out, out


def test_sigkill_of_one_xdist_worker(tmp_path: Path, docker_client: Any) -> None:
    name = f"kill-{uuid.uuid4().hex[:8]}"
    root, marks = tmp_path / "suite", tmp_path / "marks"
    root.mkdir()
    marks.mkdir()
    make_suite(root, name)
    label = f"{L.SPEC_NAME}={name}"
    proc = launch(root, marks, "-n", "2", "-p", "xdist", sleep="8")
    try:
        wait_for(
            lambda: len([p for p in marks.iterdir() if p.name.startswith("test-")]) == 2,
            "both workers",
        )
        victim = int(sorted(marks.iterdir())[0].read_text())
        worker_label = None
        for c in docker_client.api.containers(all=True, filters={"label": [label]}):
            owner = L.Owner.parse(c["Labels"].get(L.OWNER, ""))
            if owner is not None and owner.pid == victim:
                worker_label = f"{L.ENV}={c['Labels'][L.ENV]}"
        assert worker_label is not None
        os.kill(victim, signal.SIGKILL)
        assert wait_until_clean(docker_client, worker_label, within=15.0) == []
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    assert wait_until_clean(docker_client, label, within=15.0) == []
