"""`eph render --kubernetes`: the repo's examples and a spec using every wait
form, rendered and validated offline against the Kubernetes schemas."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_ephemeral.backends.kubernetes import (
    InvalidManifestError,
    RenderError,
    namespace_name,
    validate_manifests,
)
from pytest_ephemeral.lifecycle import labels as L
from pytest_ephemeral.lifecycle import render as cli

EXAMPLES = Path(__file__).parents[2] / "examples"

Manifest = dict[str, Any]


def render(
    argv: Sequence[str], capsys: pytest.CaptureFixture[str], *, status: int = 0
) -> tuple[list[Manifest], str, str]:
    code = cli.main(["--kubernetes", *argv])
    out, err = capsys.readouterr()
    assert code == status, err
    docs = [d for d in yaml.safe_load_all(out) if d is not None] if code == 0 else []
    return docs, out, err


def find(docs: list[Manifest], kind: str, name: str) -> Manifest:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind} {name}: {len(matches)} found"
    return matches[0]


def container(workload: Manifest) -> Manifest:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def check_environment(docs: list[Manifest]) -> str:
    """One namespace, every other object in it, every object labelled with the env id."""
    namespaces = [d for d in docs if d["kind"] == "Namespace"]
    assert len(namespaces) == 1
    ns = namespaces[0]["metadata"]
    env = ns["labels"][L.ENV]
    assert ns["name"] == namespace_name(env) and ns["name"].startswith("eph-")
    for doc in docs:
        assert doc["metadata"]["labels"][L.ENV] == env
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == ns["name"]
    validate_manifests(docs)  # the same check the command ran, once more
    return str(ns["name"])


def test_compose_example(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(EXAMPLES / "compose")
    docs, out, err = render([], capsys)
    assert out.startswith("# eph render --kubernetes: environment compose-")
    assert "validated against the Kubernetes 1." in out.splitlines()[0]
    check_environment(docs)
    redis = find(docs, "Deployment", "redis")
    assert container(redis)["readinessProbe"]["exec"]["command"] == ["redis-cli", "ping"]
    assert container(redis)["args"] == ["redis-server", "--appendonly", "no"]
    service = find(docs, "Service", "redis")
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["ports"][0]["port"] == 6379
    assert service["spec"]["selector"] == {
        L.ENV: redis["metadata"]["labels"][L.ENV],
        L.SERVICE: "redis",
    }
    # the one-shot migration is a Job that is never restarted
    migrate = find(docs, "Job", "migrate")
    assert migrate["spec"]["backoffLimit"] == 0
    assert migrate["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert (
        migrate["metadata"]["annotations"]["pytest-ephemeral.depends-on"] == "redis:service_healthy"
    )
    assert not [d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "migrate"]
    # a headless Service with no port of the spec gets a placeholder, so its name resolves
    assert find(docs, "Service", "worker")["spec"]["ports"] == [
        {"name": "names-only", "port": 9, "protocol": "TCP"}
    ]
    # the read-only bind mount travels as a ConfigMap with the folder's files
    worker = find(docs, "Deployment", "worker")
    files = find(docs, "ConfigMap", "worker-files-0")
    source = (EXAMPLES / "compose" / "worker" / "worker.py").read_text()
    assert files["data"]["worker.py"] == source
    volume = worker["spec"]["template"]["spec"]["volumes"][0]
    assert volume["configMap"]["name"] == "worker-files-0"
    assert container(worker)["volumeMounts"] == [
        {"name": volume["name"], "mountPath": "/jobs", "readOnly": True}
    ]
    # a log wait has no probe: said on stderr, carried as an annotation
    assert "readinessProbe" not in container(worker)
    assert (
        worker["metadata"]["annotations"]["pytest-ephemeral.waits"] == "log matches /worker ready/"
    )
    assert worker["spec"]["progressDeadlineSeconds"] == 20
    assert "services.worker.wait: a log wait (/worker ready/) has no probe" in err


def test_seeded_example_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(EXAMPLES / "seeded")
    docs, out, err = render([], capsys)
    check_environment(docs)
    db = container(find(docs, "Deployment", "db"))
    env = {e["name"]: e for e in db["env"]}
    assert env["POSTGRES_DB"] == {"name": "POSTGRES_DB", "value": "shop"}
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "db-env",
        "key": "POSTGRES_PASSWORD",
    }
    secret = find(docs, "Secret", "db-env")
    assert secret["stringData"] == {"POSTGRES_PASSWORD": "***"}
    assert "secret" not in out.replace("Secret", "").replace("secretKeyRef", "")
    assert db["readinessProbe"]["exec"]["command"] == [
        "pg_isready",
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-d",
        "shop",
    ]
    assert db["readinessProbe"]["periodSeconds"] == 1
    assert db["readinessProbe"]["failureThreshold"] == 30
    tmpfs = find(docs, "Deployment", "db")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "tmpfs0", "emptyDir": {"medium": "Memory"}} in tmpfs
    assert "seed steps are not in the manifests" in err
    docs, out, _ = render(["--secrets", "include"], capsys)
    assert find(docs, "Secret", "db-env")["stringData"] == {"POSTGRES_PASSWORD": "secret"}


def test_quickstart_needs_the_pushed_image(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(EXAMPLES / "quickstart")
    _, out, err = render([], capsys, status=2)
    assert out == "" and err.count("\n") == 1
    assert (
        "kubernetes: ephemeral.yaml:20: services.api.build: a cluster cannot build the image from ./api"
        in err
    )
    assert "--image api=REGISTRY/api:TAG" in err
    docs, _, _ = render(["--image", "api=registry.example.com/quickstart/api:1.0"], capsys)
    check_environment(docs)
    api = find(docs, "Deployment", "api")
    assert container(api)["image"] == "registry.example.com/quickstart/api:1.0"
    assert container(api)["readinessProbe"]["httpGet"] == {"path": "/health", "port": 8000}
    assert api["metadata"]["annotations"]["pytest-ephemeral.depends-on"] == (
        "db:service_healthy,cache:service_started"
    )


def test_output_folder_one_file_per_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(EXAMPLES / "compose")
    code = cli.main(["--kubernetes", "--output", str(tmp_path / "out"), "--id", "ci-42"])
    out, _ = capsys.readouterr()
    assert code == 0
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["00-namespace.yaml", "01-redis.yaml", "02-migrate.yaml", "03-worker.yaml"]
    assert out.split() == [str(tmp_path / "out" / n) for n in names]
    docs = [d for n in names for d in yaml.safe_load_all((tmp_path / "out" / n).read_text()) if d]
    assert check_environment(docs) == "eph-ci-42"


def test_same_spec_same_text(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(EXAMPLES / "seeded")
    _, first, _ = render([], capsys)
    _, second, _ = render([], capsys)
    assert first == second


EVERY_WAIT = """
name: waits
services:
  web:
    image: nginx:1.27
    ports: [80, "9000/udp"]
    expose: [8080]
    cpus: 0.25
    mem_limit: 64m
    user: "101:101"
    wait:
      - {port: 80}
      - {http: {port: 80, path: /ready}, timeout: 45s}
  probe:
    image: busybox:1.36
    command: ["sleep", "3600"]
    wait: {command: ["test", "-f", "/tmp/ready"]}
  teapot:
    image: nginx:1.27
    ports: [80]
    wait: {http: {port: 80, path: /tea, status: 418}}
  named:
    image: postgres:16-alpine
    user: postgres
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U postgres"]
      interval: 2s
      timeout: 3s
      retries: 5
      start_period: 10s
    networks:
      default:
        aliases: [database]
    volumes: [data:/var/lib/postgresql/data]
  reader:
    image: busybox:1.36
    volumes: [data:/data:ro]
    depends_on:
      named: {condition: service_healthy}
volumes:
  data: {}
"""


def test_every_wait_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ephemeral.yaml").write_text(EVERY_WAIT)
    monkeypatch.chdir(tmp_path)
    docs, _, err = render([], capsys)
    check_environment(docs)
    web = container(find(docs, "Deployment", "web"))
    # two waits: the first holds the start, the second is readiness
    assert web["startupProbe"]["tcpSocket"] == {"port": 80}
    assert web["startupProbe"]["failureThreshold"] == 45
    assert web["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 80}
    assert web["resources"] == {"limits": {"cpu": "250m", "memory": "64Mi"}}
    assert web["securityContext"] == {"runAsUser": 101, "runAsGroup": 101}
    assert web["ports"] == [
        {"containerPort": 80, "protocol": "TCP"},
        {"containerPort": 8080, "protocol": "TCP"},
        {"containerPort": 9000, "protocol": "UDP"},
    ]
    probe = container(find(docs, "Deployment", "probe"))
    assert probe["readinessProbe"]["exec"] == {"command": ["test", "-f", "/tmp/ready"]}
    assert "readinessProbe" not in container(find(docs, "Deployment", "teapot"))
    assert "the wait for status 418 is left to pytest-ephemeral" in err
    named = container(find(docs, "Deployment", "named"))
    assert named["readinessProbe"] == {
        "exec": {"command": ["/bin/sh", "-c", "pg_isready -U postgres"]},
        "periodSeconds": 2,
        "timeoutSeconds": 3,
        "failureThreshold": 5,
        "initialDelaySeconds": 10,
    }
    assert "securityContext" not in named
    assert "user 'postgres' is a name" in err
    alias = find(docs, "Service", "database")
    assert alias["spec"]["selector"][L.SERVICE] == "named"
    # a volume two services share is a claim both mount
    claim = find(docs, "PersistentVolumeClaim", "data")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    for name in ("named", "reader"):
        spec = find(docs, "Deployment", name)["spec"]["template"]["spec"]
        assert spec["volumes"][0]["persistentVolumeClaim"] == {"claimName": "data"}


def test_same_verdicts_as_kubernetes_validate(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The cached validators judge as the package's own entry point does."""
    import kubernetes_validate  # type: ignore[import-untyped]

    monkeypatch.chdir(EXAMPLES / "compose")
    docs, _, _ = render([], capsys)
    version = kubernetes_validate.latest_version()
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)
    broken = dict(find(docs, "Deployment", "redis"), unknownField=1)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)
    with pytest.raises(InvalidManifestError, match="Deployment 'redis' fails"):
        validate_manifests([broken])


def test_validation_catches_a_broken_manifest() -> None:
    broken = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {
            "selector": {},
            "template": {"spec": {"containers": [{"name": "x", "imagePullPolicy": 3}]}},
        },
    }
    with pytest.raises(
        RenderError,
        match=r"Deployment 'x' fails the Kubernetes 1\.\d+ schema at spec\.template\.spec\.containers\.0\.imagePullPolicy",
    ):
        validate_manifests([broken])
    with pytest.raises(RenderError, match=r"no schemas for Kubernetes 9\.9"):
        validate_manifests([broken], "9.9")
    odd = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    with pytest.raises(InvalidManifestError, match=r"no schema for Widget example\.com/v1"):
        validate_manifests([odd])


BAD = [
    (
        "services:\n  api:\n    build: .\n",
        [],
        "kubernetes: ephemeral.yaml:2: services.api.build: a cluster cannot build the image from ./. (build and push it",
    ),
    (
        "services:\n  my_db:\n    image: postgres:16\n",
        [],
        "kubernetes: ephemeral.yaml:2: services.my_db: 'my_db' is not a valid Kubernetes Service name",
    ),
    (
        "services:\n  app:\n    image: busybox\n    volumes: ['./conf:/conf']\n",
        [],
        "kubernetes: ephemeral.yaml:2: services.app.volumes[0]: a writable bind mount of",
    ),
    (
        "services:\n  app:\n    image: busybox\n",
        ["--image", "web=registry/web:1"],
        "kubernetes: --image web=...: the spec has no service 'web' (services: app)",
    ),
    (
        "services:\n  app:\n    image: busybox\n",
        ["--image", "web"],
        "--image 'web': write SERVICE=IMAGE",
    ),
    (
        "services:\n  app: {image: busybox, portz: [1]}\n",
        [],
        "ephemeral.yaml:2: services.app.portz",
    ),
    (
        "services:\n  app:\n    image: busybox\n",
        ["--kubernetes-version", "0.1"],
        "no schemas for Kubernetes 0.1",
    ),
]


@pytest.mark.parametrize(("spec", "argv", "expected"), BAD)
def test_bad_input_one_line_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    spec: str,
    argv: list[str],
    expected: str,
) -> None:
    (tmp_path / "ephemeral.yaml").write_text(spec)
    (tmp_path / "conf").mkdir()
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    monkeypatch.chdir(tmp_path)
    _, out, err = render(argv, capsys, status=2)
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    assert expected in err


def test_target_must_be_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "eph render: error: name the target: eph render --kubernetes" in capsys.readouterr().err


def test_large_bind_mount_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "blob").mkdir()
    (tmp_path / "blob" / "big.bin").write_bytes(b"\0" * (1024 * 1024 + 1))
    (tmp_path / "ephemeral.yaml").write_text(
        textwrap.dedent(
            """\
            services:
              app:
                image: busybox
                volumes: ["./blob:/blob:ro"]
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    _, _, err = render([], capsys, status=2)
    assert (
        "holds more than 1 MiB, the most a ConfigMap carries (bake the files into the image)" in err
    )


def test_engine_options_deploy_and_hooks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "ephemeral.yaml").write_text(
        textwrap.dedent(
            """\
            services:
              app:
                image: busybox:1.36
                command: ["sleep", "3600"]
                cap_add: [NET_ADMIN]
                cap_drop: [ALL]
                read_only: true
                extra_hosts: ["db.internal:10.0.0.5"]
                shm_size: 64m
                ulimits: {nofile: 20000}
                post_start:
                  - command: ["touch", "/tmp/started"]
                deploy:
                  replicas: 2
                  resources:
                    limits: {cpus: "0.5", memory: 128m}
                    reservations: {cpus: "0.25", memory: 64m}
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    docs, _, err = render([], capsys)
    check_environment(docs)
    app = find(docs, "Deployment", "app")
    pod = app["spec"]["template"]["spec"]
    box = container(app)
    assert app["spec"]["replicas"] == 2
    assert box["resources"] == {
        "limits": {"cpu": "500m", "memory": "128Mi"},
        "requests": {"cpu": "250m", "memory": "64Mi"},
    }
    assert box["securityContext"] == {
        "readOnlyRootFilesystem": True,
        "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
    }
    assert box["lifecycle"] == {"postStart": {"exec": {"command": ["touch", "/tmp/started"]}}}
    assert pod["hostAliases"] == [{"ip": "10.0.0.5", "hostnames": ["db.internal"]}]
    assert {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}} in pod["volumes"]
    assert "services.app: not rendered (no Kubernetes equivalent in a pod spec): ulimits" in err
