"""Builds you can watch, on the real engine: each step as a progress line,
the base image pulled from the registry on 127.0.0.1:5000 first, and
``.dockerignore`` honoured both in the context sent and in the build-cache
digest (an ignored file's change does not rebuild; a sent file's does)."""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_ephemeral.backends.docker import DockerBackend
from pytest_ephemeral.config import Settings
from pytest_ephemeral.lifecycle.manager import Manager

pytestmark = pytest.mark.docker

BASE = "127.0.0.1:5000/eph-test/redis:7"  # scripts/setup.d/20-registry.sh


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    name = f"ephbuild{uuid.uuid4().hex[:8]}"
    (tmp_path / "ephemeral.yaml").write_text(
        f"name: {name}\n"
        "services:\n"
        "  app:\n"
        "    build: ./app\n"
        "    entrypoint: [sh, -c, 'ls -a /ctx /ctx/docs; echo listed; sleep 600']\n"
        "    wait: {log: listed}\n",
        encoding="utf-8",
    )
    app = tmp_path / "app"
    (app / "docs").mkdir(parents=True)
    (app / "Dockerfile").write_text(
        f"ARG BASE={BASE}\nFROM ${{BASE}}\nCOPY . /ctx\nLABEL pytest-ephemeral.test=build\n",
        encoding="utf-8",
    )
    (app / ".dockerignore").write_text(
        "# not for the image\nsecret.txt\ndocs/*\n!docs/keep.md\n", encoding="utf-8"
    )
    (app / "main.py").write_text("print('hi')\n", encoding="utf-8")
    (app / "secret.txt").write_text("hunter2\n", encoding="utf-8")
    (app / "docs" / "notes.md").write_text("notes\n", encoding="utf-8")
    (app / "docs" / "keep.md").write_text("keep\n", encoding="utf-8")
    subprocess.run(["docker", "rmi", BASE], capture_output=True, timeout=60, check=False)
    yield tmp_path
    out = subprocess.run(
        ["docker", "images", "-q", "--filter", f"reference=eph-build/{name}-app"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    ).stdout.split()
    for image_id in sorted(set(out)):  # only the images this test built
        subprocess.run(["docker", "rmi", "-f", image_id], capture_output=True, timeout=60)
    subprocess.run(["docker", "rmi", BASE], capture_output=True, timeout=60, check=False)


def _up(root: Path) -> tuple[list[str], str]:
    """Start the project once; the progress lines and what the container listed."""
    lines: list[str] = []
    backend = DockerBackend()
    manager = Manager(
        Settings(rootdir=root, timeout=60), backend_factory=lambda: backend, progress=lines.append
    )
    try:
        env = manager.environment()
        listing = env["app"].logs()
    finally:
        manager.close(failed=False)
        backend.close()
    return lines, listing


def test_build_steps_base_pull_and_dockerignore(project: Path) -> None:
    lines, listing = _up(project)
    text = "\n".join(lines)
    # the base image came from the registry first, as the default policy says
    assert f"pulling {BASE} from 127.0.0.1:5000 ..." in text
    assert re.search(rf"pulled {re.escape(BASE)} in [\d.]+s", text), text
    # every step, as it runs (the last: the build label the engine adds)
    assert "building app: step 1/5: ARG BASE=" in text, text
    assert "building app: step 2/5: FROM ${BASE}" in text, text
    assert "building app: step 3/5: COPY . /ctx" in text, text
    # .dockerignore: what the image holds
    names = set(listing.split())
    assert {"main.py", "Dockerfile", ".dockerignore", "keep.md"} <= names, listing
    assert "secret.txt" not in names and "notes.md" not in names, listing

    # an ignored file changes: the cached image serves (nothing built)
    (project / "app" / "secret.txt").write_text("changed\n", encoding="utf-8")
    (project / "app" / "docs" / "notes.md").write_text("changed\n", encoding="utf-8")
    lines, _ = _up(project)
    assert not [line for line in lines if line.startswith("building app")], lines

    # a file that is sent changes: rebuilt
    (project / "app" / "docs" / "keep.md").write_text("changed\n", encoding="utf-8")
    lines, _ = _up(project)
    assert any(line.startswith("building app: step 3/5") for line in lines), lines
