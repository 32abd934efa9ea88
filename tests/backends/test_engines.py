"""Engines found the way the docker CLI finds them, and remote engines.

Real things throughout: contexts made with ``docker context create`` in a
throwaway ``DOCKER_CONFIG``; a TLS front (client certificates made with
openssl) to this machine's engine; a unix-socket HTTP server standing where a
rootless engine's socket would be; the second engine in its own network
namespace (scripts/setup.d/30-engine2.sh), reached over tcp like a remote host.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from pytest_ephemeral import cli
from pytest_ephemeral._header import engine_line
from pytest_ephemeral.backends._engines import EngineConfigError, find_engine
from pytest_ephemeral.backends.docker import DockerBackend
from pytest_ephemeral.errors import EngineUnavailableError
from pytest_ephemeral.lifecycle import labels as L

from .conftest import ENGINE2, ENGINE2_IP, ENGINE2_PID, ENGINE2_SETUP, ENGINE2_SSH, engine_answers

pytestmark = pytest.mark.docker


def eph(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> tuple[int, str, str]:
    """``eph ARGS`` as a user runs it, in a process of its own: (exit status, stdout, stderr)."""
    out = subprocess.run(
        [sys.executable, "-m", "pytest_ephemeral.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    return out.returncode, out.stdout, out.stderr


def eph_here(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """The same ``main`` in this process (a second less per call): (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with (
        mock.patch.dict(os.environ, env or {}),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("eph: error: ")
    return lines[0]


# -- contexts ------------------------------------------------------------------------------


def test_current_context_of_the_configuration(
    make_context: Any, docker_config: Path, engine2: str
) -> None:
    make_context("eph-remote", f"host={engine2}", use=True)
    endpoint = find_engine()
    assert endpoint.url == engine2
    assert endpoint.context == "eph-remote"
    assert endpoint.found_by == f"context eph-remote, current in {docker_config / 'config.json'}"
    backend = DockerBackend()
    try:
        assert backend.address == engine2
        assert backend.publish_host == ENGINE2_IP
        assert backend.version()  # a real answer from the second engine
    finally:
        backend.close()
    assert engine_line().endswith(f"at {engine2} ({endpoint.found_by})")


def test_docker_context_wins_over_current_and_docker_host_over_both(
    make_context: Any, monkeypatch: pytest.MonkeyPatch, engine2: str
) -> None:
    make_context("eph-remote", f"host={engine2}", use=True)
    make_context("eph-local", "host=unix:///var/run/docker.sock")
    monkeypatch.setenv("DOCKER_CONTEXT", "eph-local")
    endpoint = find_engine()
    assert (endpoint.url, endpoint.found_by) == (
        "unix:///var/run/docker.sock",
        "context eph-local from DOCKER_CONTEXT",
    )
    assert not endpoint.is_remote and endpoint.publish_host == "127.0.0.1"
    monkeypatch.setenv("DOCKER_CONTEXT", "default")
    assert find_engine().url == "unix:///var/run/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", engine2)
    assert (find_engine().url, find_engine().found_by) == (engine2, "DOCKER_HOST")
    # a context named as the address (--eph-hosts, the reaper)
    assert find_engine("eph-remote").url == engine2


def test_unknown_context_is_one_line_and_exit_2(
    make_context: Any, monkeypatch: pytest.MonkeyPatch, docker_config: Path
) -> None:
    monkeypatch.setenv("DOCKER_CONTEXT", "eph-nosuch")
    code, _, err = eph("ls")
    assert code == 2
    line = one_error_line(err)
    assert (
        "Docker context 'eph-nosuch' (context eph-nosuch from DOCKER_CONTEXT) does not exist"
        in line
    )
    assert "docker context ls" in line
    # the same from the configuration's current context
    monkeypatch.delenv("DOCKER_CONTEXT")
    (docker_config / "config.json").write_text(json.dumps({"currentContext": "eph-gone"}))
    code, _, err = eph_here("ls")
    assert code == 2
    assert f"current in {docker_config / 'config.json'}" in one_error_line(err)
    (docker_config / "config.json").write_text('{"currentContext": ')
    code, _, err = eph_here("ls")
    assert code == 2
    assert f"{docker_config / 'config.json'}:1: not valid JSON" in one_error_line(err)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("ftp://engine:21", "unknown scheme 'ftp'"),
        ("tcp://", "no host"),
        ("tcp://engine:notaport", "is not a valid address"),
        ("unix://", "no socket path"),
        ("tcp://engine:2375/v1.41", "no path allowed"),
        ("ssh://me:secret@engine", "no password in an ssh:// URL"),
    ],
)
def test_malformed_docker_host_is_one_line_and_exit_2(
    docker_config: Path, value: str, says: str
) -> None:
    code, _, err = eph_here("ls", env={"DOCKER_HOST": value})
    assert code == 2
    line = one_error_line(err)
    assert f"DOCKER_HOST={value!r}" in line and says in line
    assert "e.g. unix:///var/run/docker.sock" in line or "ssh key" in line


def test_docker_host_forms_like_the_cli(docker_config: Path) -> None:
    env = {"DOCKER_CONFIG": str(docker_config)}
    assert find_engine(environ={**env, "DOCKER_HOST": "engine:2375"}).url == "tcp://engine:2375"
    assert find_engine(environ={**env, "DOCKER_HOST": "tcp://engine"}).url == "tcp://engine:2375"
    assert (
        find_engine(environ={**env, "DOCKER_HOST": "http://10.1.2.3"}).url == "tcp://10.1.2.3:2375"
    )
    ssh = find_engine(environ={**env, "DOCKER_HOST": "ssh://me@build.example:2222"})
    assert (ssh.url, ssh.host, ssh.is_remote, ssh.publish_host) == (
        "ssh://me@build.example:2222",
        "build.example",
        True,
        "build.example",
    )
    # a remote engine reached by name binds every address (it cannot bind a
    # name), by IP that IP; loopback over tcp is local
    assert ssh.bind_ip == "0.0.0.0"
    assert find_engine(environ={**env, "DOCKER_HOST": "tcp://10.1.2.3:2375"}).bind_ip == "10.1.2.3"
    local = find_engine(environ={**env, "DOCKER_HOST": "tcp://localhost:2375"})
    assert (local.is_remote, local.publish_host, local.bind_ip) == (False, "127.0.0.1", "127.0.0.1")
    nat = find_engine(environ={**env, "DOCKER_HOST": "tcp://10.1.2.3", "EPH_PUBLISH_IP": "0.0.0.0"})
    assert (nat.bind_ip, nat.publish_host) == ("0.0.0.0", "10.1.2.3")
    with pytest.raises(EngineConfigError, match="EPH_PUBLISH_IP='here' is not an IP address"):
        find_engine(environ={**env, "DOCKER_HOST": "tcp://10.1.2.3", "EPH_PUBLISH_IP": "here"})


# -- TLS -----------------------------------------------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate."""
    d = tmp_path_factory.mktemp("certs")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=eph-ca",
             "-keyout", "ca-key.pem", "-out", "ca.pem", cwd=d)  # fmt: skip
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")):  # fmt: skip
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", f"/CN=eph-{name}",
                 "-keyout", f"{name}-key.pem", "-out", f"{name}.csr", cwd=d)  # fmt: skip
        (d / f"{name}.ext").write_text(ext + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
                 "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext",
                 "-out", f"{name}.pem", cwd=d)  # fmt: skip
    client = d / "client"
    client.mkdir()
    for src, dst in (("ca.pem", "ca.pem"), ("client.pem", "cert.pem"), ("client-key.pem", "key.pem")):  # fmt: skip
        (client / dst).write_bytes((d / src).read_bytes())
    return d


@pytest.fixture
def tls_front(certs: Path) -> Iterator[int]:
    """A TLS endpoint on 127.0.0.1 requiring client certificates of our CA,
    in front of this machine's engine socket: the port."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(certs / "ca.pem"))
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_cert_chain(str(certs / "server.pem"), str(certs / "server-key.pem"))
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    opened: list[socket.socket] = []

    def pump(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                b.shutdown(socket.SHUT_WR)

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            opened.append(raw)
            try:
                raw.settimeout(10)
                conn = ctx.wrap_socket(raw, server_side=True)
            except (OSError, ssl.SSLError):
                continue
            opened.append(conn)
            conn.settimeout(None)
            engine = socket.socket(socket.AF_UNIX)
            opened.append(engine)
            engine.connect("/var/run/docker.sock")
            threading.Thread(target=pump, args=(conn, engine), daemon=True).start()
            threading.Thread(target=pump, args=(engine, conn), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(5)
    listener.close()
    for sock in opened:
        sock.close()


def test_tcp_with_tls_verify_and_client_certificates(
    docker_config: Path, monkeypatch: pytest.MonkeyPatch, certs: Path, tls_front: int
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{tls_front}")
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(certs / "client"))
    endpoint = find_engine()
    assert endpoint.tls is not None and endpoint.tls.verify
    assert endpoint.tls.cert == str(certs / "client" / "cert.pem")
    backend = DockerBackend()
    try:
        real = subprocess.run(
            ["docker", "-H", "unix:///var/run/docker.sock", "version", "--format", "{{.Server.Version}}"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        assert backend.version() == real
    finally:
        backend.close()
    assert engine_line() == f"docker {real} at tcp://127.0.0.1:{tls_front} (DOCKER_HOST)"
    # without the client certificate the server refuses: one line, exit 3
    bare = certs / "ca-only"
    bare.mkdir(exist_ok=True)
    (bare / "ca.pem").write_bytes((certs / "ca.pem").read_bytes())
    code, _, err = eph_here("ls", env={"DOCKER_CERT_PATH": str(bare)})
    assert code == 3
    assert f"cannot reach the Docker engine at tcp://127.0.0.1:{tls_front}" in one_error_line(err)


def test_tls_files_missing_is_one_line_and_exit_2(docker_config: Path, certs: Path) -> None:
    base = {"DOCKER_HOST": "tcp://127.0.0.1:2376", "DOCKER_TLS_VERIFY": "1"}
    empty = docker_config / "no-certs"
    empty.mkdir()
    code, _, err = eph_here("ls", env={**base, "DOCKER_CERT_PATH": str(empty)})
    assert code == 2
    line = one_error_line(err)
    assert f"{empty / 'ca.pem'} does not exist" in line and "DOCKER_TLS_VERIFY" in line
    code, _, err = eph_here("ls", env={**base, "DOCKER_CERT_PATH": str(empty / "nope")})
    assert code == 2
    assert "is not a folder" in one_error_line(err)
    half = docker_config / "half"
    half.mkdir()
    (half / "ca.pem").write_bytes((certs / "ca.pem").read_bytes())
    (half / "cert.pem").write_bytes((certs / "client.pem").read_bytes())
    code, _, err = eph_here("ls", env={**base, "DOCKER_CERT_PATH": str(half)})
    assert code == 2
    assert f"{half / 'key.pem'} does not" in one_error_line(err)


def test_context_tls_material_from_the_context_store(
    make_context: Any,
    docker_config: Path,
    certs: Path,
    tls_front: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    c = certs / "client"
    make_context(
        "eph-tls",
        f"host=tcp://127.0.0.1:{tls_front},ca={c / 'ca.pem'},cert={c / 'cert.pem'},key={c / 'key.pem'}",
        use=True,
    )
    endpoint = find_engine()
    assert endpoint.tls is not None and endpoint.tls.verify
    # the CLI copied the files into the store; they are read from there
    assert endpoint.tls.ca is not None and endpoint.tls.ca.startswith(
        str(docker_config / "contexts" / "tls")
    )
    backend = DockerBackend()
    try:
        assert backend.version()
    finally:
        backend.close()
    # the reaper (or --eph-hosts) names the engine by its URL, in a run whose
    # own engine is another one: the context with that endpoint lends its TLS
    monkeypatch.setenv("DOCKER_CONTEXT", "default")
    by_url = find_engine(f"tcp://127.0.0.1:{tls_front}")
    assert (by_url.context, by_url.tls) == ("eph-tls", endpoint.tls)
    backend = DockerBackend(f"tcp://127.0.0.1:{tls_front}")
    try:
        assert backend.version()
    finally:
        backend.close()


# -- the rootless socket -------------------------------------------------------------------


class _EngineHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path.endswith("/_ping"):
            body, kind = b"OK", "text/plain"
        elif path.endswith("/version"):
            body = json.dumps(
                {"Version": "99.0.0-rootless", "ApiVersion": "1.41", "MinAPIVersion": "1.12"}
            ).encode()
            kind = "application/json"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def address_string(self) -> str:
        return "unix"


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def test_rootless_socket_under_xdg_runtime_dir(
    docker_config: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runtime = tmp_path / "run-user"
    runtime.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    # no socket there yet: the default socket
    assert find_engine().found_by == "default socket"
    server = _UnixHTTPServer(str(runtime / "docker.sock"), _EngineHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = find_engine()
        assert (endpoint.url, endpoint.found_by) == (
            f"unix://{runtime}/docker.sock",
            "rootless socket",
        )
        backend = DockerBackend()
        try:
            assert backend.version() == "99.0.0-rootless"
        finally:
            backend.close()
        assert (
            engine_line()
            == f"docker 99.0.0-rootless at unix://{runtime}/docker.sock (rootless socket)"
        )
        # DOCKER_HOST still wins
        monkeypatch.setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
        assert find_engine().found_by == "DOCKER_HOST"
    finally:
        server.shutdown()
        server.server_close()


# -- the second engine, remote over tcp ----------------------------------------------------

REMOTE_SPEC = """
name: remote
services:
  cache:
    image: redis:7-alpine
    ports: [6379]
  web:
    image: python:3.12-slim
    command: ["python3", "-m", "http.server", "8000"]
    ports: [8000]
    depends_on: [cache]
    wait: {http: {port: 8000, path: /}}
"""


def _engine2_labelled(label: str) -> list[str]:
    import docker

    client = docker.DockerClient(base_url=ENGINE2, version="1.41")
    try:
        return [
            c["Names"][0] for c in client.api.containers(all=True, filters={"label": [label]})
        ] + [n["Name"] for n in client.api.networks(filters={"label": [label]})]
    finally:
        client.close()


@pytest.mark.parametrize(
    "url",
    [ENGINE2, pytest.param(ENGINE2_SSH, marks=pytest.mark.slow, id="ssh")],
    ids=["tcp", "ssh"],
)
def test_environment_on_the_remote_engine(
    pytester: pytest.Pytester,
    docker_config: Path,
    monkeypatch: pytest.MonkeyPatch,
    engine2: str,
    url: str,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", url)
    pytester.makefile(".yaml", ephemeral=REMOTE_SPEC)
    pytester.makepyfile(
        f"""
        import socket, urllib.request
        import docker

        def test_reached_from_here(eph):
            cache, web = eph["cache"], eph["web"]
            assert cache.host == web.host == "{ENGINE2_IP}"
            with socket.create_connection((cache.host, cache.port(6379)), timeout=5) as s:
                s.sendall(b"PING\\r\\n")
                assert s.recv(16) == b"+PONG\\r\\n"
            assert web.address(8000).startswith("{ENGINE2_IP}:")
            body = urllib.request.urlopen(f"http://{{web.address(8000)}}/", timeout=5).read()
            assert b"Directory listing" in body
            # published on the address the engine was reached by, not on its 127.0.0.1
            client = docker.DockerClient(base_url="{engine2}", version="1.41")
            info = client.api.inspect_container(cache.container_id)
            client.close()
            bindings = info["HostConfig"]["PortBindings"]["6379/tcp"]
            assert [b["HostIp"] for b in bindings] == ["{ENGINE2_IP}"]
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=240)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            f"ephemeral: docker*at {url} (DOCKER_HOST), spec ephemeral.yaml",
            f"*-> {ENGINE2_IP}:*",
        ]
    )
    assert _engine2_labelled(f"{L.SPEC_NAME}=remote") == []


DYING_TEST = f"""
import os, signal, socket, time
import pytest
from pytest_ephemeral.errors import EngineUnavailableError

def _down():
    try:
        socket.create_connection(("{ENGINE2_IP}", 2375), timeout=1).close()
    except OSError:
        return True
    return False

def test_engine_dies_under_the_test(eph):
    os.kill(int(open("{ENGINE2_PID}").read()), signal.SIGKILL)
    deadline = time.monotonic() + 20
    while not _down() and time.monotonic() < deadline:
        time.sleep(0.2)
    eph["cache"].exec(["true"])
"""


@pytest.mark.slow
def test_remote_engine_dying_under_a_test_then_prune(
    pytester: pytest.Pytester, docker_config: Path, monkeypatch: pytest.MonkeyPatch, engine2: str
) -> None:
    monkeypatch.setenv("DOCKER_HOST", engine2)
    pytester.makefile(".yaml", ephemeral=REMOTE_SPEC)
    pytester.makepyfile(DYING_TEST)
    try:
        # no hang: the inner run is bounded (a timeout fails this test)
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=240)
        result.assert_outcomes(failed=1)
        out = result.stdout.str()
        # the test's error names the engine and why
        result.stdout.fnmatch_lines(
            [
                f"E * cannot reach the Docker engine at {engine2}: *Connection refused*(the engine there is down*"
            ]
        )
        env_id = re.search(r"ephemeral: starting (remote-\S+)", out)
        assert env_id, out
        # the reaper of the dead run finds the engine down too, and gives up
        time.sleep(2)
    finally:
        subprocess.run(["bash", str(ENGINE2_SETUP)], check=True, capture_output=True, timeout=180)
    assert engine_answers(engine2)
    assert _engine2_labelled(f"{L.ENV}={env_id.group(1)}"), (
        "nothing left to prune: the test proves nothing"
    )
    code, out, err = eph("prune", env={"DOCKER_HOST": engine2}, timeout=120)
    assert (code, err) == (0, ""), err
    assert f"removed {env_id.group(1)}:" in out
    assert _engine2_labelled(f"{L.ENV}={env_id.group(1)}") == []


def test_unreachable_engine_is_exit_3(docker_config: Path) -> None:
    # a tcp port on this machine with nothing listening
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = eph_here("ls", env={"DOCKER_HOST": f"tcp://127.0.0.1:{port}"})
    assert code == 3
    line = one_error_line(err)
    assert f"cannot reach the Docker engine at tcp://127.0.0.1:{port}" in line
    assert "Connection refused" in line
    with pytest.raises(EngineUnavailableError, match="Connection refused"):
        DockerBackend(f"tcp://127.0.0.1:{port}").version()


def test_publish_ip_override_on_the_remote_engine(
    docker_config: Path, monkeypatch: pytest.MonkeyPatch, engine2: str
) -> None:
    """``EPH_PUBLISH_IP=0.0.0.0`` (an engine behind NAT): ports bind every
    address of the remote machine, and are still reached on the engine's address."""
    from pytest_ephemeral.runtime.backend import ContainerRequest, PortBinding

    monkeypatch.setenv("DOCKER_HOST", engine2)
    monkeypatch.setenv("EPH_PUBLISH_IP", "0.0.0.0")
    labels = {"eph-test": f"publish-ip-{os.getpid()}"}
    backend = DockerBackend()
    try:
        assert backend.publish_host == ENGINE2_IP
        net = backend.create_network(f"eph-test-pubip-{os.getpid()}", labels)
        cid = backend.create_container(
            ContainerRequest(
                name=f"eph-test-pubip-{os.getpid()}",
                image="redis:7-alpine",
                labels=labels,
                network=net,
                aliases=("cache",),
                ports=(PortBinding(6379),),
            )
        )
        backend.start_container(cid)
        state = backend.state(cid)
        deadline = time.monotonic() + 30
        reply = b""
        while time.monotonic() < deadline and reply != b"+PONG\r\n":
            try:
                with socket.create_connection(
                    (backend.publish_host, state.ports[(6379, "tcp")]), timeout=2
                ) as s:
                    s.sendall(b"PING\r\n")
                    reply = s.recv(16)
            except OSError:
                time.sleep(0.3)
        assert reply == b"+PONG\r\n"
        import docker

        client = docker.DockerClient(base_url=engine2, version="1.41")
        try:
            bindings = client.api.inspect_container(cid)["HostConfig"]["PortBindings"]
        finally:
            client.close()
        assert [b["HostIp"] for b in bindings["6379/tcp"]] == ["0.0.0.0"]
    finally:
        errors = backend.remove(backend.list_resources(dict(labels)))
        backend.close()
    assert errors == []


def test_report_header_with_a_bad_engine_setting(
    pytester: pytest.Pytester, docker_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pytest run is never broken by the engine's settings: the header says
    what is wrong; only tests that ask for an environment fail, with the same line."""
    monkeypatch.setenv("DOCKER_HOST", "ftp://engine:21")
    pytester.makefile(".yaml", ephemeral="name: bad\nservices:\n  a:\n    image: redis:7-alpine\n")
    pytester.makepyfile("def test_plain(): pass\ndef test_env(eph): pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "ephemeral: docker engine NOT USABLE: DOCKER_HOST='ftp://engine:21': unknown scheme "
            "'ftp' (one of unix, tcp, ssh; *), spec ephemeral.yaml",
            "*DOCKER_HOST='ftp://engine:21': unknown scheme 'ftp'*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
