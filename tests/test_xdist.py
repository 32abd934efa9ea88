"""Parallel runs: an environment per xdist worker, or one shared by all, and
two runs on one engine at once. Inner pytest sessions, real containers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from pytest_ephemeral.lifecycle import labels as L

from .conftest import labelled, wait_until_clean

pytestmark = pytest.mark.docker

PY = "python:3.12-slim"


def make_suite(root: Path, name: str, tests: int = 6) -> None:
    (root / "ephemeral.yaml").write_text(
        textwrap.dedent(
            f"""
            name: {name}
            services:
              box:
                image: {PY}
                command: ["sh", "-c", "echo up; sleep 600"]
                wait: {{log: up}}
            """
        )
    )
    body = "\n".join(
        textwrap.dedent(
            f"""
            def test_{i}(eph, worker_id, seen):
                # what this environment held before: only ever our own marks
                code, out = eph["box"].exec("cat /tmp/marks 2>/dev/null; echo {{}}".format(""))
                seen.append({{"worker": worker_id, "env": eph.id, "marks": out.split()}})
                eph["box"].exec(f"echo {{worker_id}} >> /tmp/marks")
            """
        )
        for i in range(tests)
    )
    (root / "test_par.py").write_text(
        textwrap.dedent(
            """
            import json, os, pytest

            @pytest.fixture(scope="session")
            def worker_id(request):
                wi = getattr(request.config, "workerinput", None)
                return wi["workerid"] if wi else "main"

            @pytest.fixture(scope="session")
            def seen(worker_id):
                records = []
                yield records
                with open(os.path.join(os.environ["SEEN_DIR"], worker_id + ".json"), "w") as f:
                    json.dump(records, f)
            """
        )
        + body
    )


def run(root: Path, seen: Path, *args: str) -> subprocess.CompletedProcess[str]:
    import os

    env = dict(os.environ, SEEN_DIR=str(seen))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "xdist", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def records(seen: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for f in sorted(seen.glob("*.json")):
        out.extend(json.loads(f.read_text()))
    return out


@pytest.mark.parametrize("workers", ["2", "3"])
def test_per_worker_environments_are_isolated(
    tmp_path: Path, docker_client: Any, workers: str
) -> None:
    name = f"par-{uuid.uuid4().hex[:8]}"
    (tmp_path / "seen").mkdir()
    make_suite(tmp_path, name, tests=int(workers) * 3)
    result = run(tmp_path, tmp_path / "seen", "-n", workers)
    assert result.returncode == 0, result.stdout + result.stderr
    recs = records(tmp_path / "seen")
    envs_by_worker: dict[str, set[str]] = {}
    for r in recs:
        envs_by_worker.setdefault(r["worker"], set()).add(r["env"])
        assert set(r["marks"]) <= {r["worker"]}, f"{r['worker']} saw another worker's data: {r}"
        assert r["env"].endswith(f"-{r['worker']}")
    assert all(len(ids) == 1 for ids in envs_by_worker.values())
    all_ids = [next(iter(ids)) for ids in envs_by_worker.values()]
    assert len(set(all_ids)) == len(all_ids)
    # one summary on the controller lists every worker's environment
    for env_id in all_ids:
        assert f"{env_id}  ({name}, 1 service," in result.stdout
        # and the controller showed each worker's progress while it started
        worker = env_id.rsplit("-", 1)[1]
        assert f"ephemeral: [{worker}] starting {env_id} (1 service) ..." in result.stdout
        assert f"ephemeral: [{worker}] {env_id} ready in " in result.stdout
    assert labelled(docker_client, f"{L.SPEC_NAME}={name}") == []


@pytest.mark.parametrize("workers", ["2", "3"])
def test_shared_environment_is_one_for_all(
    tmp_path: Path, docker_client: Any, workers: str
) -> None:
    name = f"shr-{uuid.uuid4().hex[:8]}"
    (tmp_path / "seen").mkdir()
    make_suite(tmp_path, name, tests=int(workers) * 3)
    result = run(tmp_path, tmp_path / "seen", "-n", workers, "--eph-shared")
    assert result.returncode == 0, result.stdout + result.stderr
    recs = records(tmp_path / "seen")
    assert len({r["worker"] for r in recs}) >= 2, "the test needs at least two busy workers"
    ids = {r["env"] for r in recs}
    assert len(ids) == 1 and next(iter(ids)).endswith("-shared"), ids
    # every worker wrote into the same container
    final_marks = max((r["marks"] for r in recs), key=len)
    assert len(set(final_marks)) >= 2 or len(recs) == 1
    assert result.stdout.count(f"{next(iter(ids))}  (") == 1  # listed once
    # the controller started it while the workers started, before any test asked
    assert f"starting shared {next(iter(ids))} while the workers start" in result.stdout
    head = next(line for line in result.stdout.splitlines() if line.startswith(next(iter(ids))))
    assert head.endswith(", shared)") and "created by worker" not in head, head
    assert labelled(docker_client, f"{L.SPEC_NAME}={name}") == []


def test_quiet_runs_show_no_progress(tmp_path: Path, docker_client: Any) -> None:
    name = f"par-{uuid.uuid4().hex[:8]}"
    (tmp_path / "seen").mkdir()
    make_suite(tmp_path, name, tests=2)
    result = run(tmp_path, tmp_path / "seen", "-n", "2", "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ephemeral: [" not in result.stdout
    assert labelled(docker_client, f"{L.SPEC_NAME}={name}") == []


def test_shared_mode_reuses_a_kept_environment_for_every_worker(
    tmp_path: Path, docker_client: Any
) -> None:
    name = f"shr-{uuid.uuid4().hex[:8]}"
    (tmp_path / "seen").mkdir()
    make_suite(tmp_path, name, tests=6)
    first = run(tmp_path, tmp_path / "seen", "-n", "2", "--eph-shared", "--eph-keep", "always")
    assert first.returncode == 0, first.stdout + first.stderr
    kept = {r["env"] for r in records(tmp_path / "seen")}
    assert len(kept) == 1
    kept_id = next(iter(kept))
    try:
        for f in (tmp_path / "seen").glob("*.json"):
            f.unlink()
        again = run(tmp_path, tmp_path / "seen", "-n", "2", "--eph-shared", "--eph-reuse")
        assert again.returncode == 0, again.stdout + again.stderr
        recs = records(tmp_path / "seen")
        assert len({r["worker"] for r in recs}) == 2
        assert {r["env"] for r in recs} == {kept_id}  # every worker, the kept one
        head = next(line for line in again.stdout.splitlines() if line.startswith(kept_id))
        assert "reused" in head and head.endswith("KEPT)"), head
        # still there for the next run: nobody removed it
        assert labelled(docker_client, f"{L.ENV}={kept_id}") != []
    finally:
        subprocess.run(
            [sys.executable, "-m", "pytest_ephemeral.cli", "down", kept_id],
            capture_output=True,
            check=False,
        )
    assert wait_until_clean(docker_client, f"{L.SPEC_NAME}={name}", within=10) == []


def test_shared_mode_collect_only_starts_nothing(tmp_path: Path, docker_client: Any) -> None:
    name = f"shr-{uuid.uuid4().hex[:8]}"
    make_suite(tmp_path, name, tests=4)
    result = run(tmp_path, tmp_path, "-n", "2", "--eph-shared", "--collect-only")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "starting shared" not in result.stdout
    assert labelled(docker_client, f"{L.SPEC_NAME}={name}") == []


def test_shared_mode_when_some_workers_never_ask(tmp_path: Path, docker_client: Any) -> None:
    name = f"shr-{uuid.uuid4().hex[:8]}"
    (tmp_path / "seen").mkdir()
    make_suite(tmp_path, name, tests=1)
    (tmp_path / "test_plain.py").write_text(
        "def test_a(): pass\ndef test_b(): pass\ndef test_c(): pass\n"
    )
    result = run(tmp_path, tmp_path / "seen", "-n", "3", "--eph-shared")
    assert result.returncode == 0, result.stdout + result.stderr
    assert labelled(docker_client, f"{L.SPEC_NAME}={name}") == []


def test_shared_mode_without_xdist(tmp_path: Path, docker_client: Any) -> None:
    name = f"shr-{uuid.uuid4().hex[:8]}"
    (tmp_path / "seen").mkdir()
    make_suite(tmp_path, name, tests=2)
    result = run(tmp_path, tmp_path / "seen", "--eph-shared")
    assert result.returncode == 0, result.stdout + result.stderr
    assert len({r["env"] for r in records(tmp_path / "seen")}) == 1
    assert labelled(docker_client, f"{L.SPEC_NAME}={name}") == []


def test_shared_start_failure_is_reported_by_every_worker_once(
    tmp_path: Path, docker_client: Any
) -> None:
    name = f"shr-{uuid.uuid4().hex[:8]}"
    (tmp_path / "ephemeral.yaml").write_text(
        f"name: {name}\nservices:\n  box:\n    image: {PY}\n    command: [sh, -c, 'echo broken; exit 4']\n    wait: {{log: up}}\n"
    )
    (tmp_path / "test_x.py").write_text("".join(f"def test_{i}(eph): pass\n" for i in range(6)))
    result = run(tmp_path, tmp_path, "-n", "2", "--eph-shared")
    assert result.returncode == 1
    assert "6 errors" in result.stdout
    assert result.stdout.count("exited with status 4") >= 2
    assert labelled(docker_client, f"{L.SPEC_NAME}={name}") == []


@pytest.mark.parametrize("mode", [[], ["--eph-shared"]], ids=["per-worker", "shared"])
def test_two_concurrent_runs_never_collide(
    tmp_path: Path, docker_client: Any, mode: list[str]
) -> None:
    import os

    name = f"conc-{uuid.uuid4().hex[:8]}"
    procs = []
    for i in range(2):
        root = tmp_path / f"run{i}"
        (root / "seen").mkdir(parents=True)
        make_suite(root, name, tests=4)
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-p",
                    "no:cacheprovider",
                    "-p",
                    "xdist",
                    "-n",
                    "2",
                    *mode,
                ],
                cwd=root,
                env=dict(os.environ, SEEN_DIR=str(root / "seen")),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(outs)
    ids = [{r["env"] for r in records(tmp_path / f"run{i}" / "seen")} for i in range(2)]
    assert not ids[0] & ids[1]
    if mode:  # one environment per run, shared by its workers
        assert [len(i) for i in ids] == [1, 1], ids
    assert wait_until_clean(docker_client, f"{L.SPEC_NAME}={name}", within=5) == []


def test_shared_with_remote_workers_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest_subprocess(
        "-p", "xdist", "--eph-shared", "--tx", "ssh=nowhere//python=python3", "--dist", "load"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--eph-shared: workers on other hosts*"])
