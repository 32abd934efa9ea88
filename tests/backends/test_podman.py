"""The core integration scenarios against Podman's Docker-compatible socket
(scripts/setup.d/40-podman.sh): a topology with every wait form, xdist with
kept environments and the CLI, a SIGKILL and the reaper; and what cannot work
on Podman said in one line naming it."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_ephemeral import cli
from pytest_ephemeral.lifecycle import labels as L

from .conftest import ENGINE_VARS, PODMAN

pytestmark = pytest.mark.docker

TOPOLOGY = """
name: podtopo
services:
  db:
    image: postgres:16-alpine
    environment: {POSTGRES_PASSWORD: pw}
    ports: [5432]
    volumes: [dbdata:/var/lib/postgresql/data]
  cache:
    image: redis:7-alpine
    ports: [6379]
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 1s
    wait: {healthcheck: true}
  migrate:
    image: python:3.12-slim
    command: ["python3", "-c", "import socket; socket.create_connection(('cache', 6379), 5); print('migrated')"]
    depends_on:
      cache: {condition: service_healthy}
    wait: {completed: true}
  web:
    image: python:3.12-slim
    command: ["python3", "-m", "http.server", "8000"]
    ports: [8000]
    depends_on:
      migrate: {condition: service_completed_successfully}
      db: {condition: service_started}
    wait: {http: {port: 8000, path: /, status: 200}}
  tcp:
    image: python:3.12-slim
    command: ["python3", "-m", "http.server", "9000"]
    ports: [9000]
    wait: {port: 9000}
  side:
    image: python:3.12-slim
    command: ["sh", "-c", "echo side-up; sleep 600"]
    depends_on: [web]
    networks:
      default:
        aliases: [sidecar]
    wait: {log: side-up}
  probe:
    image: python:3.12-slim
    command: ["sh", "-c", "sleep 1; touch /tmp/ok; sleep 600"]
    wait: {command: ["test", "-f", "/tmp/ok"]}
volumes:
  dbdata: {}
"""

TOPOLOGY_TEST = """
import socket, urllib.request

def test_topology(eph):
    assert set(eph.services) == {"db", "cache", "migrate", "web", "tcp", "side", "probe"}
    assert eph["web"].host == "127.0.0.1"
    body = urllib.request.urlopen(f"http://{eph['web'].address(8000)}/", timeout=5).read()
    assert b"Directory listing" in body
    with socket.create_connection(("127.0.0.1", eph["cache"].port(6379)), timeout=5) as s:
        s.sendall(b"PING\\r\\n")
        assert s.recv(16) == b"+PONG\\r\\n"
    # services reach each other by name and alias on the environment's network
    code, out = eph["web"].exec(
        ["python3", "-c", "import socket; [socket.create_connection((h, p), 5).close() "
         "for h, p in (('db', 5432), ('cache', 6379), ('tcp', 9000))]; print('ok')"]
    )
    assert (code, out.strip()) == (0, "ok"), out
    code, out = eph["web"].exec(["getent", "hosts", "sidecar"])
    assert code == 0, out
    assert "migrated" in eph["migrate"].logs()
"""


def podman_labelled(label: str) -> list[str]:
    import docker

    client = docker.DockerClient(base_url=PODMAN, version="1.41")
    try:
        api, flt = client.api, {"label": [label]}
        names = [f"container {c['Names'][0]}" for c in api.containers(all=True, filters=flt)]
        names += [f"network {n['Name']}" for n in api.networks(filters=flt)]
        names += [f"volume {v['Name']}" for v in api.volumes(filters=flt).get("Volumes") or []]
        return names
    finally:
        client.close()


def podman_clean(label: str, within: float = 20.0) -> list[str]:
    deadline = time.monotonic() + within
    left = podman_labelled(label)
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = podman_labelled(label)
    return left


@pytest.fixture
def on_podman(podman: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """This test's runs talk to Podman (and to nothing else)."""
    for name in ENGINE_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.setenv("DOCKER_HOST", podman)
    yield podman


def test_topology_and_every_wait_form(pytester: pytest.Pytester, on_podman: str) -> None:
    pytester.makefile(".yaml", ephemeral=TOPOLOGY)
    pytester.makepyfile(TOPOLOGY_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=240)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            f"ephemeral: podman 4.* at {on_podman} (DOCKER_HOST), spec ephemeral.yaml",
            "ephemeral: podtopo-* ready in *s*",
        ]
    )
    assert podman_clean(f"{L.SPEC_NAME}=podtopo") == []


def eph(*args: str) -> tuple[int, str, str]:
    """``eph ARGS`` (its ``main``, in this process): (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


SMALL = """
name: podsmall
services:
  cache:
    image: redis:7-alpine
    ports: [6379]
"""


def test_xdist_workers_keep_and_the_cli(pytester: pytest.Pytester, on_podman: str) -> None:
    pytester.makefile(".yaml", ephemeral=SMALL)
    pytester.makepyfile(
        "".join(
            f"def test_{i}(eph, worker_id):\n"
            f"    assert eph.id.endswith(worker_id)\n"
            f"    code, out = eph['cache'].exec(['redis-cli', 'ping'])\n"
            f"    assert (code, out.strip()) == (0, 'PONG')\n"
            for i in range(4)
        )
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "--eph-keep=always", timeout=240
    )
    result.assert_outcomes(passed=4)
    try:
        code, out, err = eph("ls", "--json")
        assert code == 0, err
        kept = [e for e in json.loads(out) if e.get("name") == "podsmall"]
        assert sorted(e["id"].rsplit("-", 1)[1] for e in kept) == ["gw0", "gw1"], out
        assert {e["engine"] for e in kept} == {on_podman}
        code, out, err = eph("down", *(e["id"] for e in kept))
        assert code == 0, err
    finally:  # whatever failed above, remove what this test made
        code, out, err = eph("ls", "--json")
        left = [e["id"] for e in json.loads(out or "[]") if e.get("name") == "podsmall"]
        if left:
            eph("down", *left)
    assert podman_clean(f"{L.SPEC_NAME}=podsmall") == []


@pytest.mark.slow
def test_sigkill_then_the_reaper(tmp_path: Path, on_podman: str) -> None:
    (tmp_path / "ephemeral.yaml").write_text(
        textwrap.dedent(
            """
            name: podkill
            services:
              a:
                image: python:3.12-slim
                command: ["sh", "-c", "echo ready; sleep 600"]
                wait: {log: ready}
            """
        )
    )
    marker = tmp_path / "running"
    (tmp_path / "test_kill.py").write_text(
        textwrap.dedent(
            f"""
            import time
            from pathlib import Path

            def test_waits(eph):
                Path({str(marker)!r}).write_text(eph.id)
                time.sleep(120)
            """
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert marker.exists(), "the inner test never started"
        env_id = marker.read_text()
        assert podman_labelled(f"{L.ENV}={env_id}")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    # the reaper (a process of its own, not in the killed group) removes it all
    assert podman_clean(f"{L.ENV}={env_id}", within=30) == []


def test_limits_podman_cannot_grant_are_one_clear_error(
    pytester: pytest.Pytester, on_podman: str
) -> None:
    pytester.makefile(
        ".yaml",
        ephemeral="""
        name: podlimits
        services:
          a:
            image: python:3.12-slim
            command: ["sleep", "600"]
            ulimits:
              nofile: {soft: 1048576, hard: 1048576}
        """,
    )
    pytester.makepyfile("def test_a(eph): pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=180)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*service 'a' of environment podlimits-* failed to start: Podman at {on_podman} "
            "cannot give the container its resource limits (setting an rlimit: operation not "
            "permitted)*set default_ulimits in containers.conf*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert podman_clean(f"{L.SPEC_NAME}=podlimits") == []


@pytest.fixture
def podman_without_dns(tmp_path: Path, podman: str) -> Iterator[str]:
    """A Podman service of its own whose CNI plugin folder lacks dnsname (as
    on a machine where Podman's DNS plugin is not installed): its URL."""
    root = tmp_path / "nodns"
    cni = root / "cni"
    cni.mkdir(parents=True)
    for plugin in Path("/usr/lib/cni").iterdir():
        if plugin.name != "dnsname":
            (cni / plugin.name).symlink_to(plugin)
    (root / "containers.conf").write_text(
        textwrap.dedent(
            f"""
            [network]
            cni_plugin_dirs = ["{cni}"]
            network_config_dir = "{root / "networks"}"
            [engine]
            cgroup_manager = "cgroupfs"
            events_logger = "file"
            events_logfile_path = "{root / "events.log"}"
            tmp_dir = "{root / "tmp"}"
            """
        )
    )
    (root / "storage.conf").write_text(
        f'[storage]\ndriver = "overlay"\ngraphroot = "{root / "storage"}"\n'
        f'runroot = "{root / "run"}"\n'
    )
    sock = root / "podman.sock"
    env = {
        **os.environ,
        "CONTAINERS_CONF": str(root / "containers.conf"),
        "CONTAINERS_STORAGE_CONF": str(root / "storage.conf"),
    }
    with open(root / "service.log", "wb") as log:
        proc = subprocess.Popen(
            ["podman", "system", "service", "--time=0", f"unix://{sock}"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while not sock.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert sock.exists(), (root / "service.log").read_text()
        yield f"unix://{sock}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        # Podman bind-mounts its overlay folder onto itself: undo it
        overlay = root / "storage" / "overlay"
        if f" {overlay} " in Path("/proc/self/mounts").read_text():
            subprocess.run(["umount", str(overlay)], check=False)


def test_a_network_without_dns_is_one_clear_error(
    podman_without_dns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_ephemeral.backends.docker import DockerBackend
    from pytest_ephemeral.errors import EphemeralError

    for name in ENGINE_VARS:
        monkeypatch.delenv(name, raising=False)
    backend = DockerBackend(podman_without_dns)
    try:
        assert backend.engine_kind == "podman"
        with pytest.raises(EphemeralError) as caught:
            backend.create_network("eph-test-nodns", {"eph-test": "nodns"})
        assert str(caught.value) == (
            f"Podman at {podman_without_dns} made network eph-test-nodns without DNS, so "
            "services could not reach each other by name: install Podman's DNS plugin "
            "(aardvark-dns with netavark; under CNI the dnsname plugin, Debian's "
            "golang-github-containernetworking-plugin-dnsname) and run again"
        )
        # and the network is not left behind
        assert backend.list_resources({"eph-test": "nodns"}) == []
    finally:
        backend.close()


@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_claim_volume_is_a_test_and_set(engine: str, request: pytest.FixtureRequest) -> None:
    """What the warm pool's claims stand on: creating a volume whose name
    exists gives the existing volume's labels, on Docker and on Podman."""
    import uuid

    from pytest_ephemeral.backends.docker import DockerBackend
    from pytest_ephemeral.runtime.backend import Resource

    address = request.getfixturevalue("on_podman") if engine == "podman" else None
    backend = DockerBackend(address)
    name = f"eph-test-claim-{uuid.uuid4().hex[:8]}"
    try:
        first = backend.claim_volume(name, {L.MARKER: "test", L.CLAIM: "first"})
        second = backend.claim_volume(name, {L.MARKER: "test", L.CLAIM: "second"})
        assert first[L.CLAIM] == "first"
        assert second[L.CLAIM] == "first"  # the existing one's: the second lost
    finally:
        backend.remove([Resource("volume", name, name, {})])
        backend.close()
