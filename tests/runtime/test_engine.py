"""The topology engine against the real Docker engine: every wait form, every
depends_on condition, networks, volumes, builds, the image map, teardown."""

from __future__ import annotations

import contextlib
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_ephemeral import Environment, ServiceStartError
from pytest_ephemeral.backends.docker import DockerBackend
from pytest_ephemeral.lifecycle import labels as L
from pytest_ephemeral.lifecycle.removal import teardown as teardown_environment
from pytest_ephemeral.runtime.engine import EngineOptions, start_environment
from pytest_ephemeral.spec import load_spec

from ..conftest import labelled

pytestmark = pytest.mark.docker

PY = "python:3.12-slim"


@contextlib.contextmanager
def started(client: Any, path: Path, **options: Any) -> Iterator[Environment]:
    spec = load_spec(path)
    env_id = f"t-{uuid.uuid4().hex[:8]}"
    labels = {L.ENV: env_id, L.OWNER: str(L.current_owner())}
    backend = DockerBackend()
    env = Environment(env_id, spec, backend, labels, selector={L.ENV: env_id})
    options.setdefault("default_timeout", 30.0)
    try:
        start_environment(env, EngineOptions(**options))
        yield env
    finally:
        teardown_environment(env)
        backend.close()  # its sockets now, not when the collector runs in another test
        assert labelled(client, f"{L.ENV}={env_id}") == []


def start_fails(client: Any, path: Path, **options: Any) -> ServiceStartError:
    with pytest.raises(ServiceStartError) as info, started(client, path, **options):
        pass
    return info.value


def test_every_wait_form(docker_client: Any, write_spec: Callable[..., Path]) -> None:
    path = write_spec(
        f"""
        services:
          logline:
            image: {PY}
            command: ["python3", "-u", "-c", "import time; print('warming'); time.sleep(0.3); print('ready now'); time.sleep(600)"]
            wait: {{log: "ready n[o]w"}}
          tcp:
            image: {PY}
            command: ["python3", "-m", "http.server", "7000"]
            ports: [7000]
            wait: {{port: 7000}}
          web:
            image: {PY}
            command: ["sh", "-c", "mkdir -p /srv/ok && cd /srv && python3 -m http.server 8080"]
            ports: [8080]
            wait: {{http: {{port: 8080, path: /ok/, status: 200}}}}
          marker:
            image: {PY}
            command: ["sh", "-c", "sleep 0.5; touch /tmp/ready; sleep 600"]
            wait: {{command: ["test", "-f", "/tmp/ready"]}}
          checked:
            image: {PY}
            command: ["sh", "-c", "sleep 0.3; touch /tmp/healthy; sleep 600"]
            healthcheck:
              test: ["CMD", "test", "-f", "/tmp/healthy"]
              interval: 30s
            wait: {{healthcheck: true}}
          oneshot:
            image: {PY}
            command: ["python3", "-c", "print('done')"]
            wait: {{completed: true}}
        """
    )
    with started(docker_client, path) as env:
        assert set(env.services) == {"logline", "tcp", "web", "marker", "checked", "oneshot"}
        assert "ready now" in env["logline"].logs()
        with socket.create_connection(("127.0.0.1", env["tcp"].port(7000)), timeout=5):
            pass
        assert env["marker"].exec(["test", "-f", "/tmp/ready"]).exit_code == 0
        # readiness came from running the healthcheck by hand, long before Docker's 30 s interval
        assert env.timeline["checked"].ready is not None and env.timeline["checked"].ready < 20
        assert env["oneshot"].logs().strip() == "done"


def test_depends_on_conditions_order_the_start(
    docker_client: Any, write_spec: Callable[..., Path]
) -> None:
    path = write_spec(
        f"""
        services:
          first:
            image: {PY}
            command: ["sh", "-c", "sleep 0.5; echo up; sleep 600"]
            healthcheck:
              test: ["CMD-SHELL", "test $$(cat /proc/uptime | cut -d. -f1) -ge 0"]
            wait: {{log: up}}
          job:
            image: {PY}
            command: ["python3", "-c", "print('migrated')"]
            depends_on:
              first: {{condition: service_healthy}}
          app:
            image: {PY}
            command: ["sleep", "600"]
            depends_on:
              first: {{condition: service_started}}
              job: {{condition: service_completed_successfully}}
        """
    )
    with started(docker_client, path) as env:
        t = env.timeline
        assert t["job"].created is not None and t["first"].ready is not None
        assert t["job"].created >= t["first"].ready
        assert t["app"].created is not None and t["job"].ready is not None
        assert t["app"].created >= t["job"].ready


def test_independent_services_start_in_parallel(
    docker_client: Any, write_spec: Callable[..., Path]
) -> None:
    body = "\n".join(
        f"""
          s{i}:
            image: {PY}
            command: ["sh", "-c", "sleep 1; echo go; sleep 600"]
            wait: {{log: go}}"""
        for i in range(4)
    )
    path = write_spec("services:" + body + "\n")
    t0 = time.monotonic()
    with started(docker_client, path) as env:
        elapsed = time.monotonic() - t0
        created = [env.timeline[f"s{i}"].created or 0 for i in range(4)]
        readies = [env.timeline[f"s{i}"].ready or 0 for i in range(4)]
        # every container existed before the first one became ready (one after
        # another, each would wait for the one before it to be ready)
        assert max(created) < min(readies), env.timeline
        assert elapsed < 4 * 1.0 + 10  # sanity only; ratios are measured by the benchmark


def test_networks_aliases_volumes_and_tmpfs(
    docker_client: Any, write_spec: Callable[..., Path]
) -> None:
    path = write_spec(
        f"""
        networks:
          back: {{}}
        volumes:
          shared: {{}}
        services:
          server:
            image: {PY}
            command: ["sh", "-c", "echo hello > /data/greeting; python3 -u -m http.server 9000 -d /data"]
            networks:
              back: {{aliases: [files]}}
            volumes: ["shared:/data"]
            tmpfs: [/scratch]
            wait: {{log: "Serving HTTP"}}
          client:
            image: {PY}
            command: ["sleep", "600"]
            networks: [back]
            volumes: ["shared:/mnt:ro", "./static:/static:ro"]
        """,
        static__index="from the host\n",
    )
    with started(docker_client, path) as env:
        fetch = "import urllib.request as u; print(u.urlopen('http://files:9000/greeting').read().decode())"
        code, out = env["client"].exec(["python3", "-c", fetch])
        assert (code, out.strip()) == (0, "hello")
        assert env["client"].exec(["cat", "/mnt/greeting"]).output.strip() == "hello"
        assert env["client"].exec(["cat", "/static/index"]).output.strip() == "from the host"
        assert env["server"].exec("mount | grep -q ' /scratch type tmpfs'").exit_code == 0
        kinds = {r.kind for r in env.resources}
        assert kinds == {"container", "network", "volume"}


def test_every_resource_carries_the_labels(
    docker_client: Any, write_spec: Callable[..., Path]
) -> None:
    path = write_spec(
        f"""
        volumes:
          v: {{}}
        services:
          a:
            image: {PY}
            command: ["sleep", "600"]
            volumes: ["v:/v"]
        """
    )
    with started(docker_client, path) as env:
        found = labelled(docker_client, f"{L.ENV}={env.id}")
        assert sorted(x.split()[0] for x in found) == ["container", "network", "volume"]


def test_build_uses_the_cache_and_the_image_map(
    docker_client: Any, write_spec: Callable[..., Path]
) -> None:
    marker = uuid.uuid4().hex
    path = write_spec(
        """
        services:
          app:
            build: {context: ./app, args: {GREETING: hi}}
            wait: {log: "hi from"}
        """,
        app__Dockerfile=f"""
        FROM eph-test/not-a-real-base:1
        ARG GREETING
        ENV GREETING=$GREETING
        RUN echo {marker} > /marker
        CMD ["sh", "-c", "echo $GREETING from $(cat /marker); sleep 600"]
        """,
    )
    image_map = {"eph-test/not-a-real-base:1": PY}
    with started(docker_client, path, image_map=image_map) as env:
        assert f"hi from {marker}" in env["app"].logs()
    # a second start reuses the built image: no build step at all
    with started(docker_client, path, image_map=image_map) as env:
        t = env.timeline["app"]
        assert t.image is not None and t.image < 2.0


def test_image_map_applies_to_images(docker_client: Any, write_spec: Callable[..., Path]) -> None:
    path = write_spec(
        """
        services:
          a:
            image: registry.invalid/team/python:9
            command: ["sleep", "600"]
        """
    )
    with started(docker_client, path, image_map={"registry.invalid/team/python:9": PY}) as env:
        assert env["a"].exec(["python3", "-c", "print(1)"]).output.strip() == "1"


def test_teardown_does_not_wait_out_the_grace_period(
    docker_client: Any, write_spec: Callable[..., Path]
) -> None:
    path = write_spec(
        f"""
        services:
          stubborn:
            image: {PY}
            command: ["python3", "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(600)"]
            stop_grace_period: 60s
            wait: {{log: up}}
        """
    )
    spec = load_spec(path)
    env_id = f"t-{uuid.uuid4().hex[:8]}"
    env = Environment(env_id, spec, DockerBackend(), {L.ENV: env_id}, selector={L.ENV: env_id})
    start_environment(env, EngineOptions(default_timeout=30))
    t0 = time.monotonic()
    assert teardown_environment(env) == []
    assert time.monotonic() - t0 < 10  # far below the 60 s grace period (not a benchmark)
    assert labelled(docker_client, f"{L.ENV}={env_id}") == []


# -- failures: each names the service and the cause, shows the log tail, and
# -- removes everything already started


def test_missing_image(docker_client: Any, write_spec: Callable[..., Path]) -> None:
    path = write_spec(
        f"""
        services:
          ok:
            image: {PY}
            command: ["sleep", "600"]
          broken:
            image: nosuch/image:1.0
        """
    )
    err = start_fails(docker_client, path)
    assert err.service == "broken"
    assert "nosuch/image:1.0" in str(err) and "--eph-image-map" in str(err)


def test_container_exits(docker_client: Any, write_spec: Callable[..., Path]) -> None:
    path = write_spec(
        f"""
        services:
          crash:
            image: {PY}
            command: ["python3", "-c", "print('config file /etc/app.conf is missing'); raise SystemExit(3)"]
            wait: {{log: never}}
        """
    )
    err = start_fails(docker_client, path)
    assert err.service == "crash"
    assert "exited with status 3" in str(err)
    assert any("config file /etc/app.conf is missing" in line for line in err.log_tail)


def test_never_ready(docker_client: Any, write_spec: Callable[..., Path]) -> None:
    path = write_spec(
        f"""
        services:
          slow:
            image: {PY}
            command: ["python3", "-u", "-c", "import time\\nfor i in range(100): print('line', i); time.sleep(0.01)\\ntime.sleep(600)"]
            wait: {{log: "will never appear", timeout: 2s}}
        """
    )
    err = start_fails(docker_client, path)
    assert err.service == "slow"
    assert "not ready after 2s" in str(err) and "will never appear" in str(err)
    assert len(err.log_tail) == 50 and err.log_tail[-1] == "line 99"


def test_dependency_failed(docker_client: Any, write_spec: Callable[..., Path]) -> None:
    path = write_spec(
        f"""
        services:
          db:
            image: {PY}
            command: ["sh", "-c", "echo cannot start; exit 1"]
            wait: {{log: ready}}
          api:
            image: {PY}
            command: ["sleep", "600"]
            depends_on:
              db: {{condition: service_healthy}}
        """
    )
    err = start_fails(docker_client, path)
    assert err.service == "db"
    assert "cannot start" in "\n".join(err.log_tail)


def test_build_failed(docker_client: Any, write_spec: Callable[..., Path]) -> None:
    path = write_spec(
        """
        services:
          app:
            build: ./app
        """,
        app__Dockerfile=f"""
        FROM {PY}
        RUN echo compiling && echo 'error: missing header' && exit 7
        """,
    )
    err = start_fails(docker_client, path)
    assert err.service == "app"
    assert "build failed" in str(err)
    assert any("missing header" in line for line in err.log_tail)


def test_port_taken(docker_client: Any, write_spec: Callable[..., Path]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken = sock.getsockname()[1]
        path = write_spec(
            f"""
            services:
              web:
                image: {PY}
                command: ["python3", "-m", "http.server", "80"]
                ports: ["127.0.0.1:{taken}:80"]
            """
        )
        err = start_fails(docker_client, path)
    assert err.service == "web"
    assert "port" in str(err) and str(taken) in str(err)


def test_unhealthy(docker_client: Any, write_spec: Callable[..., Path]) -> None:
    path = write_spec(
        f"""
        services:
          sick:
            image: {PY}
            command: ["sleep", "600"]
            healthcheck:
              test: ["CMD", "false"]
              interval: 1s
              retries: 1
            wait: {{timeout: 20s}}
        """
    )
    err = start_fails(docker_client, path)
    assert err.service == "sick"
    assert "unhealthy" in str(err) or "not ready" in str(err)
