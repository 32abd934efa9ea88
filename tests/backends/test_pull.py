"""Pulls from real registries on 127.0.0.1 (scripts/setup.d/20-registry.sh):
:5000 plain, :5001 behind basic auth, both holding eph-test/redis:7 (the
offline redis plus a 4 MB layer of its own, so that a pull downloads).

Only images this file pulls are removed again (their registry names)."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_ephemeral.backends.docker import DockerBackend
from pytest_ephemeral.config import Settings
from pytest_ephemeral.errors import ImageNotFoundError, RegistryError, ServiceStartError
from pytest_ephemeral.lifecycle.manager import Manager

pytestmark = pytest.mark.docker

SETUP = Path(__file__).parents[2] / "scripts" / "setup.d" / "20-registry.sh"
PLAIN = "127.0.0.1:5000/eph-test/redis:7"
AUTHED = "127.0.0.1:5001/eph-test/redis:7"
USER, PASSWORD = "eph-test", "eph-secret"
REGISTRY_LABEL = "pytest-ephemeral.test=registry"  # on the registry's image (20-registry.sh)
DOWNLOADED = re.compile(r"pulled \S+ in [\d.]+s \(\d+ layers, ([\d.]+) MB downloaded\)")


def _registry_up(port: int) -> bool:
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=3)
    except urllib.error.HTTPError as exc:
        return exc.code == 401
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def registries() -> None:
    down = [port for port in (5000, 5001) if not _registry_up(port)]
    if down:
        pytest.fail(
            f"no registry answers on 127.0.0.1:{down[0]}; run `bash {SETUP}` (scripts/setup does)",
            pytrace=False,
        )


@pytest.fixture
def backend(
    registries: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[DockerBackend]:
    # no credentials unless a test writes some; the machine's own configuration untouched
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    b = DockerBackend()
    yield b
    b.close()


def _absent(image: str) -> bool | None:
    """Whether the engine says it has no ``image`` (None: it did not say)."""
    done = subprocess.run(
        ["docker", "image", "inspect", image],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode == 0:
        return False
    return True if "no such image" in done.stderr.lower() else None


def _forget(*images: str) -> None:
    """Remove our registry names of the test image (never anything else), and
    make sure they are gone: a test that needs a real pull must not find one.
    Gone means the engine says so; an error of a busy engine is asked again."""
    for image in images:
        why = ""
        for _ in range(10):  # a busy engine (other workers' starts) may refuse for a moment
            done = subprocess.run(
                ["docker", "rmi", image], capture_output=True, text=True, timeout=120, check=False
            )
            if _absent(image):
                break
            why = done.stderr.strip()
            time.sleep(1)
        else:
            users = subprocess.run(
                ["docker", "ps", "-a", "--filter", f"ancestor={image}", "--format", "{{.Names}}"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            ).stdout.split()
            pytest.fail(f"{image} is still on the engine: docker rmi: {why}; used by {users}")


def _forget_descendants() -> None:
    """Remove the images built on the registry's image (tests/backends/
    test_build.py builds some): they inherit its label, and they hold its
    layers, so that a pull would download nothing."""
    done = subprocess.run(
        ["docker", "image", "ls", "-q", "--filter", f"label={REGISTRY_LABEL}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    for image in sorted(set(done.stdout.split())):
        subprocess.run(
            ["docker", "rmi", "-f", image], capture_output=True, timeout=120, check=False
        )


@pytest.fixture
def fresh() -> Iterator[None]:
    _forget_descendants()
    _forget(PLAIN, AUTHED)
    yield
    _forget(PLAIN, AUTHED)


def _push_unique(port: int, folder: Path, *, login: bool = False, size: int = 4_000_000) -> str:
    """An image only the calling test has: the offline redis plus a layer of
    ``size`` random bytes, pushed to the registry on 127.0.0.1:``port`` under a tag
    of its own (logged in with a throwaway client configuration when
    ``login``) and removed from the engine. Nothing else on the engine (another
    test's build from the registry's image, a pull it left going, a pull
    recorded a moment ago) can hold its name, its layer or its pull record:
    the test's pull is a real one."""
    import uuid

    image = f"127.0.0.1:{port}/eph-test/redis:u-{uuid.uuid4().hex[:12]}"
    ctx = folder / "unique-image"
    ctx.mkdir()
    (ctx / "pad").write_bytes(os.urandom(size))
    (ctx / "Dockerfile").write_text(
        f"FROM redis:7-alpine\nCOPY pad /eph-test-pad\nLABEL {REGISTRY_LABEL}\n", encoding="utf-8"
    )
    config = folder / "push-config"
    steps: list[tuple[list[str], str | None]] = [
        (["docker", "build", "-q", "-t", image, str(ctx)], None)
    ]
    if login:
        registry = f"127.0.0.1:{port}"
        argv = [
            "docker",
            "--config",
            str(config),
            "login",
            "-u",
            USER,
            "--password-stdin",
            registry,
        ]
        steps.append((argv, PASSWORD))
    steps.append((["docker", "--config", str(config), "push", "-q", image], None))
    for argv, given in steps:
        done = subprocess.run(
            argv, input=given, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, f"{' '.join(argv)}: {done.stderr.strip()}"
    _forget(image)
    return image


@pytest.fixture
def unique_image(registries: None, tmp_path: Path) -> Iterator[str]:
    """An image of this test's own on the plain registry (:func:`_push_unique`)."""
    image = _push_unique(5000, tmp_path)
    yield image
    _forget(image)


@pytest.fixture
def authed_image(registries: None, tmp_path: Path) -> Iterator[str]:
    """An image of this test's own on the registry behind basic auth (a small
    layer: these tests check the credentials, not the download)."""
    image = _push_unique(5001, tmp_path, login=True, size=64_000)
    yield image
    _forget(image)


def _docker_config(folder: Path, config: dict[str, object]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_missing_image_is_pulled_and_runs_with_progress(
    unique_image: str,
    pytester: pytest.Pytester,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through the plugin, as a user runs it: the image is not on the engine,
    the run pulls it (progress lines beside the start's), and it runs."""
    pytester.makefile(
        ".yaml",
        ephemeral=f"""
        name: pulled
        services:
          cache:
            image: {unique_image}
            ports: [6379]
            wait: {{log: "Ready to accept connections"}}
        """,
    )
    pytester.makepyfile(
        """
        def test_ping(eph):
            code, out = eph["cache"].exec(["redis-cli", "ping"])
            assert code == 0 and "PONG" in out
        """
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "none"))
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    assert f"ephemeral: pulling {unique_image} from 127.0.0.1:5000 ..." in out
    done = DOWNLOADED.search(out)
    assert done is not None, out
    assert float(done.group(1)) >= 3.9, out  # its own 4 MB layer came down


def test_never_with_a_missing_image(backend: DockerBackend, fresh: None, tmp_path: Path) -> None:
    (tmp_path / "ephemeral.yaml").write_text(
        f"services:\n  cache: {{image: '{PLAIN}'}}\n", encoding="utf-8"
    )
    manager = Manager(
        Settings(rootdir=tmp_path, timeout=30, pull="never"), backend_factory=lambda: backend
    )
    try:
        with pytest.raises(ServiceStartError) as err:
            manager.environment()
    finally:
        manager.close(failed=False)
    text = str(err.value)
    assert f"image {PLAIN!r} is not on the engine and pull_policy is never" in text
    assert "\n" not in text
    assert not backend.image_exists(PLAIN)  # nothing was pulled


def test_a_tag_the_registry_lacks(backend: DockerBackend) -> None:
    image = "127.0.0.1:5000/eph-test/redis:no-such-tag"
    with pytest.raises(ImageNotFoundError) as err:
        backend.pull_image(image)
    text = str(err.value)
    assert "registry 127.0.0.1:5000 has no tag 'no-such-tag' of 127.0.0.1:5000/eph-test/redis" in (
        text
    )
    assert "--eph-image-map" in text and "\n" not in text


def test_a_repository_the_registry_lacks(backend: DockerBackend) -> None:
    with pytest.raises(ImageNotFoundError) as err:
        backend.pull_image("127.0.0.1:5000/eph-test/nothing-here:1")
    assert "registry 127.0.0.1:5000 has no tag '1'" in str(err.value)


def test_the_registry_down_is_one_line_in_bounded_time(backend: DockerBackend) -> None:
    port = _free_port()  # nothing listens there
    image = f"127.0.0.1:{port}/eph-test/redis:7"
    outcome: list[BaseException] = []

    def pull() -> None:
        try:
            backend.pull_image(image)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=pull, daemon=True)
    worker.start()
    worker.join(120)  # a guard against a hang, not a speed target
    assert not worker.is_alive(), "the pull from a registry that is down did not end"
    assert len(outcome) == 1 and isinstance(outcome[0], RegistryError), outcome
    text = str(outcome[0])
    assert f"registry 127.0.0.1:{port} is unreachable" in text and "connection refused" in text
    assert "\n" not in text


def test_the_auth_registry_with_credentials(
    backend: DockerBackend, authed_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    folder = _docker_config(tmp_path / "cfg", {"auths": {"127.0.0.1:5001": {"auth": auth}}})
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    lines: list[str] = []
    backend.pull_image(authed_image, lines.append)
    assert backend.image_exists(authed_image)
    assert DOWNLOADED.search(lines[-1]), lines


def test_the_auth_registry_through_a_credential_helper(
    backend: DockerBackend, authed_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``credHelpers`` names a program the docker CLI protocol runs:
    ``docker-credential-NAME get``, the registry on stdin, JSON out."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    asked = tmp_path / "asked"
    helper = bin_dir / "docker-credential-ephtest"
    helper.write_text(
        textwrap.dedent(
            f"""\
            #!{sys.executable}
            import json, sys
            server = sys.stdin.read().strip()
            open({str(asked)!r}, "w").write(sys.argv[1] + " " + server)
            json.dump({{"ServerURL": server, "Username": {USER!r}, "Secret": {PASSWORD!r}}},
                      sys.stdout)
            """
        ),
        encoding="utf-8",
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    folder = _docker_config(tmp_path / "cfg", {"credHelpers": {"127.0.0.1:5001": "ephtest"}})
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    backend.pull_image(authed_image)
    assert backend.image_exists(authed_image)
    assert asked.read_text(encoding="utf-8") == "get 127.0.0.1:5001"


def test_the_auth_registry_without_credentials(backend: DockerBackend, authed_image: str) -> None:
    with pytest.raises(RegistryError) as err:
        backend.pull_image(authed_image)
    text = str(err.value)
    assert "registry 127.0.0.1:5001 needs credentials, and the Docker configuration has none" in (
        text
    )
    assert "docker login 127.0.0.1:5001" in text and "DOCKER_CONFIG" in text
    assert "\n" not in text


def test_the_auth_registry_refuses_wrong_credentials(
    backend: DockerBackend, authed_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _docker_config(
        tmp_path / "cfg",
        {"auths": {"http://127.0.0.1:5001/v2/": {"username": USER, "password": "wrong"}}},
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    with pytest.raises(RegistryError) as err:
        backend.pull_image(authed_image)
    assert "registry 127.0.0.1:5001 refused the credentials found for it" in str(err.value)


def test_a_broken_docker_config_names_the_file(
    backend: DockerBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "config.json").write_text("{oops", encoding="utf-8")
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    with pytest.raises(RegistryError) as err:
        backend.pull_image(AUTHED)
    assert str(folder / "config.json") in str(err.value)


PULLER = """
import sys, time
from pathlib import Path
from pytest_ephemeral.backends.docker import DockerBackend

backend = DockerBackend()
backend.image_exists("redis:7-alpine")  # connected and negotiated before the start line
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.005)
backend.pull_image(sys.argv[1], lambda line: print(line, flush=True))
"""


def test_two_processes_pulling_one_image_pull_it_once(unique_image: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    # a temp dir of their own: its pull locks and stamps are these two's alone
    # (an earlier test's pull of the same image would count as "just pulled")
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path / "none"), "TMPDIR": str(tmp_path / "tmp")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PULLER, unique_image, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    time.sleep(3)  # both ready and polling for the start line
    go.touch()
    outs = [p.communicate(timeout=180)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    pulled = [out for out in outs if DOWNLOADED.search(out)]
    # the other waited for that pull, or came just after it: no second pull
    other = [out for out in outs if "; not pulled again" in out]
    assert len(pulled) == 1 and len(other) == 1, outs
    assert "pulling" not in other[0].replace("another process pulling", ""), outs


def test_xdist_workers_pull_once_with_progress_on_the_controller(
    unique_image: str,
    pytester: pytest.Pytester,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two workers, each with its own environment of a missing image: it is
    pulled once; the progress lines reach the controller's terminal."""
    pytester.makefile(
        ".yaml",
        ephemeral=f"""
        name: xpulled
        services:
          cache:
            image: {unique_image}
            wait: {{log: "Ready to accept connections"}}
        """,
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", range(2))
        def test_ping(eph, n):
            import time
            time.sleep(1)  # both workers busy at once: each takes one test
            code, out = eph["cache"].exec(["redis-cli", "ping"])
            assert code == 0 and "PONG" in out
        """
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "none"))
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    # shown by the controller, per worker; one real pull (the other worker found
    # the image there, or waited for that pull, or came just after it)
    assert len(re.findall(r"ephemeral: \[gw\d\] " + DOWNLOADED.pattern, out)) == 1, out
    assert out.count(f"pulling {unique_image} from 127.0.0.1:5000 ...") == 1, out
    assert len(re.findall(r"ephemeral: \[gw\d\] \S+ ready in", out)) == 2, out
