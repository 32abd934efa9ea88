"""``eph lock`` against the real registry on 127.0.0.1:5000
(scripts/setup.d/20-registry.sh): digests recorded from the registry, a run
uses them (even after the tag moved), ``--check`` names each tag that moved.

Each test pushes its own tag (a fresh name per run) and removes every local
name it made."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pytest_ephemeral.backends.docker import DockerBackend
from pytest_ephemeral.cli import main as eph
from pytest_ephemeral.config import Settings
from pytest_ephemeral.lifecycle.manager import Manager

pytestmark = pytest.mark.docker

REGISTRY = "127.0.0.1:5000"
BASE = f"{REGISTRY}/eph-test/redis:7"


def _docker(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["docker", *args], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


@pytest.fixture
def images(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """``make(label)``: an image of redis:7-alpine with a label of its own
    (a distinct digest, no new layer), tagged locally; removed afterwards."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    made: list[str] = []

    def make(label: str) -> str:
        name = f"eph-test/lock-{label}:{uuid.uuid4().hex[:8]}"
        _docker(
            "build",
            "-q",
            "-t",
            name,
            "-",
            stdin=f"FROM redis:7-alpine\nLABEL pytest-ephemeral.test=lock-{label}-{name}\n",
        )
        made.append(name)
        return name

    yield make
    for name in reversed(made):
        subprocess.run(["docker", "rmi", "-f", name], capture_output=True, timeout=60)


def _push(local: str, remote: str) -> str:
    """Push ``local`` as ``remote``; the registry's digest of it."""
    _docker("tag", local, remote)
    _docker("push", "-q", remote)
    digests: list[str] = json.loads(
        _docker("image", "inspect", "--format", "{{json .RepoDigests}}", remote)
    )
    repo = remote.rsplit(":", 1)[0]
    return next(str(d).split("@", 1)[1] for d in digests if d.startswith(repo + "@"))


def _forget(*names: str) -> None:
    for name in names:
        subprocess.run(["docker", "rmi", name], capture_output=True, timeout=60, check=False)


def test_lock_pins_digests_and_check_names_moved_tags(
    images: Callable[[str], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tagged = f"{REGISTRY}/eph-test/lock:{uuid.uuid4().hex[:8]}"
    a, b = images("a"), images("b")
    digest_a = _push(a, tagged)
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text(f"FROM {BASE}\n", encoding="utf-8")
    (tmp_path / "ephemeral.yaml").write_text(
        "services:\n"
        "  cache:\n"
        f"    image: {tagged}\n"
        "    entrypoint: [sh, -c, 'echo up; sleep 600']\n"
        "    wait: {log: up}\n"
        "  app: {build: ./app, profiles: [never-started]}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    try:
        assert eph(["lock", "--profile", "never-started"]) == 0
        out = capsys.readouterr().out
        lock = json.loads((tmp_path / "ephemeral.lock").read_text(encoding="utf-8"))
        assert lock["images"][tagged] == digest_a, out
        assert lock["images"][BASE].startswith("sha256:")  # a build's base is locked too
        assert "wrote" in out

        assert eph(["lock", "--check", "--profile", "never-started"]) == 0
        assert "none moved" in capsys.readouterr().out

        digest_b = _push(b, tagged)  # the tag moves
        assert digest_b != digest_a
        assert eph(["lock", "--check", "--profile", "never-started"]) == 1
        out = capsys.readouterr().out
        assert f"moved: {tagged}: locked {digest_a}, the registry has {digest_b} now" in out
        assert "1 tag(s) moved" in out

        # a run uses the locked digest: image a, pulled by digest, although the tag is b's now
        pinned = f"{REGISTRY}/eph-test/lock@{digest_a}"
        _forget(a, pinned)  # image a gone from the engine (b keeps the shared layers)
        lines: list[str] = []
        backend = DockerBackend()
        assert not backend.image_exists(pinned)
        manager = Manager(
            Settings(rootdir=tmp_path, timeout=60),
            backend_factory=lambda: backend,
            progress=lines.append,
        )
        try:
            env = manager.environment()
            info = backend._api.inspect_container(env["cache"].container_id)
        finally:
            manager.close(failed=False)
            backend.close()
        assert info["Config"]["Image"] == pinned
        assert f"pulling {pinned} from {REGISTRY} ..." in lines, lines
        label = info["Config"]["Labels"]["pytest-ephemeral.test"]
        assert label.startswith("lock-a-"), label  # a's content, not b's
    finally:
        _forget(tagged, f"{REGISTRY}/eph-test/lock@{digest_a}")


def test_lock_with_a_tag_the_registry_lacks_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    image = f"{REGISTRY}/eph-test/redis:no-such-tag"
    (tmp_path / "ephemeral.yaml").write_text(
        f"services:\n  cache: {{image: '{image}'}}\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    assert eph(["lock"]) == 1
    err = capsys.readouterr().err
    assert f"registry {REGISTRY} has no tag 'no-such-tag'" in err
    assert len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "ephemeral.lock").exists()
    assert eph(["lock", "--check"]) == 1  # nothing to check against
    assert "no lock file (run `eph lock` to write it)" in capsys.readouterr().err
