"""Compose keys the engine honours on a real start: secrets and configs as
files, container_name and links as aliases, deploy.replicas behind one name,
resource limits, engine options, post_start hooks, bind folders created."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_ephemeral import Environment, ServiceStartError
from pytest_ephemeral.backends.docker import DockerBackend
from pytest_ephemeral.lifecycle import labels as L
from pytest_ephemeral.lifecycle.removal import teardown
from pytest_ephemeral.runtime.engine import EngineOptions, start_environment
from pytest_ephemeral.spec import load_spec

PY = "python:3.12-slim"


@pytest.mark.docker
def test_compose_keys_reach_the_containers(
    docker_client: Any,
    write_spec: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EPH_TEST_TOKEN", "t0ken")
    (tmp_path / "db_password.txt").write_text("s3cret\n")
    created = tmp_path / "made-by-compose"
    path = write_spec(
        f"""
        services:
          web:
            image: {PY}
            container_name: legacy-web
            command: ["sleep", "600"]
            secrets: [db_password, {{source: token, target: /etc/token, mode: 0400}}]
            configs: [{{source: app, target: /etc/app.json}}]
            pids_limit: 64
            ulimits: {{nofile: {{soft: 1024, hard: 2048}}}}
            deploy:
              resources: {{limits: {{memory: 64M}}}}
            volumes: ["{created}:/data"]
            post_start:
              - command: ["sh", "-c", "echo started > /tmp/hook"]
            wait: {{command: ["test", "-f", "/tmp/hook"]}}
          worker:
            image: {PY}
            command: ["sleep", "600"]
            deploy: {{replicas: 2}}
            links: [web]
            wait: {{command: ["true"]}}
        secrets:
          db_password: {{file: ./db_password.txt}}
          token: {{environment: EPH_TEST_TOKEN}}
        configs:
          app: {{content: '{{"debug": true}}'}}
        """
    )
    spec = load_spec(path)
    env_id = f"t-{uuid.uuid4().hex[:8]}"
    env = Environment(env_id, spec, DockerBackend(), {L.ENV: env_id}, selector={L.ENV: env_id})
    try:
        start_environment(env, EngineOptions(default_timeout=60, service_label=L.SERVICE))
        web, worker = env["web"], env["worker"]
        assert web.exec("cat /run/secrets/db_password").output.strip() == "s3cret"
        assert web.exec("cat /etc/token; echo; stat -c %a /etc/token").output.split() == [
            "t0ken",
            "400",
        ]
        assert json.loads(web.exec("cat /etc/app.json").output) == {"debug": True}
        assert created.is_dir()  # the bind folder Compose would have made
        info = docker_client.api.inspect_container(web.container_id)["HostConfig"]
        assert info["PidsLimit"] == 64
        assert info["Memory"] == 64 * 1024 * 1024
        assert info["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
        # container_name stays a name other services reach the container by
        code, out = worker.exec(
            ["python3", "-c", "import socket; print(socket.gethostbyname('legacy-web'))"]
        )
        assert code == 0 and out.strip()
        # two replicas behind one name
        replicas = [
            r
            for r in env.resources
            if r.kind == "container" and r.labels.get(L.SERVICE) == "worker"
        ]
        assert len(replicas) == 2
        code, out = web.exec(
            [
                "python3",
                "-c",
                "import socket; print(len(set(socket.gethostbyname_ex('worker')[2])))",
            ]
        )
        assert out.strip() == "2"
    finally:
        teardown(env)


def _hooked(write_spec: Callable[..., Path], name: str, hook: str, settings: str) -> Environment:
    path = write_spec(
        f"""
        services:
          app:
            image: {PY}
            command: ["sleep", "600"]
            post_start:
              - command: ["sh", "-c", "{hook}"]
                {settings}
            wait: {{command: ["test", "-f", "/tmp/done"]}}
        """,
        name=name,
    )
    env_id = f"t-{uuid.uuid4().hex[:8]}"
    return Environment(
        env_id, load_spec(path), DockerBackend(), {L.ENV: env_id}, selector={L.ENV: env_id}
    )


@pytest.mark.docker
def test_post_start_hooks_run_with_their_settings(
    docker_client: Any, write_spec: Callable[..., Path]
) -> None:
    caps = "grep CapEff /proc/self/status"
    options = EngineOptions(default_timeout=60, service_label=L.SERVICE)
    env = _hooked(
        write_spec,
        "hook.yaml",
        # $$: a literal $ in Compose, for the shell of the hook
        f"pwd > hook; echo $$MODE >> hook; id -u >> hook; {caps} >> hook; touch /tmp/done",
        "working_dir: /tmp\n                environment: {MODE: from-the-hook}\n"
        '                user: "1000"',
    )
    try:
        start_environment(env, options)
        out = env["app"].exec("cat /tmp/hook").output
        assert len(out.split()) == 5, out
        where, mode, uid, _cap, plain = out.split()
        assert (where, mode, uid) == ("/tmp", "from-the-hook", "1000")
    finally:
        teardown(env)
    env = _hooked(write_spec, "root.yaml", f"{caps} > /tmp/done", "privileged: true")
    try:
        try:
            start_environment(env, options)
        except ServiceStartError as exc:
            # an engine that may not grant every capability (this one runs in a
            # sandbox) refuses the privileged exec itself: the flag reached it
            assert "post_start command" in str(exc) and "unable to apply caps" in str(exc)
        else:  # every capability, where a plain exec has Docker's default set
            privileged = int(env["app"].exec("cat /tmp/done").output.split()[1], 16)
            assert privileged > int(plain, 16) and privileged & int(plain, 16) == int(plain, 16)
    finally:
        teardown(env)
