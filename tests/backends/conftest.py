"""Engines other than this machine's default socket: Docker contexts in a
throwaway configuration folder, the second engine in its own network
namespace (scripts/setup.d/30-engine2.sh), Podman's Docker-compatible socket
(scripts/setup.d/40-podman.sh). A test that needs one of them fails, never
skips, when it is not up, naming the script that starts it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ENGINE2 = "tcp://10.99.0.2:2375"
ENGINE2_IP = "10.99.0.2"
ENGINE2_SOCK = "unix:///run/eph-engine2/docker.sock"
ENGINE2_SSH = "ssh://root@10.99.0.2"  # the same engine through its own sshd
ENGINE2_PID = Path("/run/eph-engine2/docker.pid")
ENGINE2_SETUP = Path(__file__).parents[2] / "scripts" / "setup.d" / "30-engine2.sh"
PODMAN = "unix:///run/eph-podman/podman.sock"
PODMAN_SETUP = Path(__file__).parents[2] / "scripts" / "setup.d" / "40-podman.sh"

#: every variable that chooses an engine: cleared so that a test decides alone
ENGINE_VARS = (
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_TLS_VERIFY",
    "DOCKER_TLS",
    "DOCKER_CERT_PATH",
    "DOCKER_CONFIG",
    "XDG_RUNTIME_DIR",
    "EPH_PUBLISH_IP",
)


def engine_answers(url: str) -> bool:
    out = subprocess.run(
        ["docker", "-H", url, "version", "--format", "{{.Server.Version}}"],
        capture_output=True,
        text=True,
        timeout=20,
        env={**os.environ, "DOCKER_CONFIG": "/nonexistent/eph-tests"},
    )
    return out.returncode == 0 and bool(out.stdout.strip())


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh Docker configuration folder (``DOCKER_CONFIG``) with every
    engine-choosing variable cleared: the machine's own configuration is
    neither read nor touched."""
    for name in ENGINE_VARS:
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "docker-config"
    folder.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    return folder


@pytest.fixture
def make_context(docker_config: Path) -> Iterator[Callable[..., str]]:
    """``make_context(NAME, "host=URL[,ca=...]")``: a real context made with
    ``docker context create`` in the test's configuration folder, removed afterwards."""
    made: list[str] = []
    env = {**os.environ, "DOCKER_CONFIG": str(docker_config)}

    def make(name: str, docker: str, *, use: bool = False) -> str:
        subprocess.run(
            ["docker", "context", "create", name, "--docker", docker],
            check=True,
            capture_output=True,
            env=env,
        )
        made.append(name)
        if use:
            subprocess.run(
                ["docker", "context", "use", name], check=True, capture_output=True, env=env
            )
        return name

    yield make
    if made:
        subprocess.run(["docker", "context", "use", "default"], capture_output=True, env=env)
        subprocess.run(["docker", "context", "rm", "-f", *made], capture_output=True, env=env)


@pytest.fixture(scope="session")
def engine2() -> str:
    """The second engine's URL; fails when it does not answer."""
    if not engine_answers(ENGINE2):
        pytest.fail(
            f"the second Docker engine at {ENGINE2} does not answer; "
            f"start it with: bash {ENGINE2_SETUP.relative_to(ENGINE2_SETUP.parents[2])}",
            pytrace=False,
        )
    return ENGINE2


@pytest.fixture(scope="session")
def podman() -> str:
    """Podman's Docker-compatible socket; fails when it does not answer."""
    if not engine_answers(PODMAN):
        pytest.fail(
            f"Podman's service at {PODMAN} does not answer; "
            f"start it with: bash {PODMAN_SETUP.relative_to(PODMAN_SETUP.parents[2])}",
            pytrace=False,
        )
    return PODMAN
