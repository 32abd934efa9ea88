"""`eph parity`: the spec against production as Kubernetes YAML (helm template
output, folders, Lists) or Compose; accepted differences; secrets never shown."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_ephemeral.parity import cli

DATA = Path(__file__).parent / "data"

# every secret value in the samples: none may ever reach the output
SECRETS = (
    "ephemeral-db-password",
    "ephemeral-api-token",
    "cHJvZHVjdGlvbi10b2tlbi1kby1ub3QtbGVhaw==",
    "production-token-do-not-leak",
    "cHJvZC1wYXNzd29yZA==",
    "prod-password",
    "folder-secret-value",
    "ephemeral-secret-value",
    "shop_owner",
)

HELM_PARITY = """
x-parity:
  against: [helm/rendered.yaml]
  map: {db: shop-postgres, cache: shop-redis}
  accept:
    - {service: api, field: replicas, why: one replica answers the tests}
    - {service: "*", field: env.DB_HOST, why: production names carry the release prefix}
    - {service: api, field: env.REDIS_HOST, why: production names carry the release prefix}
    - {service: api, field: resources, why: the test machine is small}
    - {service: db, field: volumes.*, why: a throwaway database lives in memory}
"""


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = cli.main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def spec_dir(tmp_path: Path, extra: str = "", name: str = "ephemeral.yaml") -> Path:
    for item in DATA.iterdir():
        if item.is_dir():
            shutil.copytree(item, tmp_path / item.name)
        else:
            shutil.copy(item, tmp_path / item.name)
    spec = tmp_path / name
    spec.write_text(spec.read_text() + textwrap.dedent(extra))
    return tmp_path


def by_key(differences: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["service"], d["field"]): d for d in differences}


def test_helm_output_every_field_compared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(spec_dir(tmp_path, HELM_PARITY))
    status, out, err = run(["--json"], capsys)
    assert err == ""
    assert status == 1, out
    report = json.loads(out)
    diffs = by_key(report["differences"])
    assert {m["service"]: m["production"] for m in report["matched"]} == {
        "db": "shop-postgres",
        "cache": "shop-redis",
        "api": "shop-api/api",
        "migrate": "shop-migrate",
    }
    # image: tag (a minor version apart), digest pinned only in production
    assert diffs["db", "image.tag"] == {
        "service": "db",
        "field": "image.tag",
        "ephemeral": "16-alpine",
        "production": "16.4-alpine",
        "accepted": False,
        "why": None,
    }
    assert ("db", "image.repository") not in diffs  # postgres == docker.io/library/postgres
    assert diffs["api", "image.digest"]["production"].startswith("sha256:4b1e2f")
    assert diffs["cache", "image.tag"]["production"] == "7.2-alpine"
    # environment: values where neither side is secret, names only for secrets
    assert diffs["api", "env.LOG_LEVEL"]["ephemeral"] == "debug"
    assert diffs["api", "env.LOG_LEVEL"]["production"] == "info"  # from the ConfigMap
    assert diffs["api", "env.POD_IP"]["ephemeral"] is None
    assert ("api", "env.API_TOKEN") not in diffs  # secret on both sides: never compared
    assert ("db", "env.POSTGRES_PASSWORD") not in diffs
    # resources, replicas (with the autoscaler), accepted with the spec's reasons
    assert diffs["api", "resources.limits.memory"]["ephemeral"] == "256Mi"
    assert diffs["api", "resources.limits.memory"]["production"] == "512Mi"
    assert diffs["api", "resources.limits.memory"]["accepted"] is True
    assert diffs["api", "resources.requests.cpu"]["production"] == "250m"
    assert ("api", "resources.limits.cpu") not in diffs  # 0.5 == 500m
    assert diffs["api", "replicas"]["production"] == "3..10 (HorizontalPodAutoscaler shop-api)"
    assert diffs["api", "replicas"]["why"] == "one replica answers the tests"
    assert diffs["db", "resources.limits.memory"]["production"] == "2Gi"
    # probes against waits: http wait == httpGet on the named port; log wait != tcpSocket
    assert ("api", "probes") not in diffs
    assert diffs["cache", "probes"]["ephemeral"] == ["wait: log /Ready to accept connections/"]
    assert diffs["cache", "probes"]["production"] == ["readiness: tcp :6379"]
    assert ("db", "probes") not in diffs  # healthcheck pg_isready == exec readinessProbe
    # volumes by kind: tmpfs against a volumeClaimTemplate
    assert diffs["db", "volumes./var/lib/postgresql/data"]["ephemeral"] == "memory (tmpfs)"
    assert diffs["db", "volumes./var/lib/postgresql/data"]["production"] == (
        "persistent (volumeClaimTemplate data)"
    )
    assert diffs["db", "volumes./var/lib/postgresql/data"]["accepted"] is True
    # ports: the Service's named targetPort resolves to the containerPort
    assert ("api", "ports") not in diffs
    # one side only: the sidecar and the CronJob
    assert diffs["shop-api/metrics", "service"]["ephemeral"] is None
    assert diffs["shop-cleanup", "service"]["production"].startswith("CronJob shop-cleanup")
    assert diffs["migrate", "env.DB_HOST"]["accepted"] is True
    assert ("migrate", "lifecycle") not in diffs  # one-shot == Job
    assert report["ok"] is False
    for secret in SECRETS:
        assert secret not in out


def test_human_report_lists_accepted_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(spec_dir(tmp_path, HELM_PARITY))
    status, out, _ = run([], capsys)
    assert status == 1
    unaccepted = out[out.index("unaccepted differences") : out.index("\naccepted differences (")]
    accepted = out[out.index("\naccepted differences (") :]
    assert "db: image.tag" in unaccepted and "db: image.tag" not in accepted
    assert "api: replicas" in accepted and "api: replicas" not in unaccepted
    assert "why: one replica answers the tests" in accepted
    assert "document 5, shop/templates/api.yaml" in out  # helm's # Source: comment
    for secret in SECRETS:
        assert secret not in out


def test_all_accepted_exits_zero_and_stale_entries_are_noted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = (
        HELM_PARITY
        + """\
    - {service: "*", field: image, why: tests run the tags the team pins in ephemeral.lock}
    - {service: "*", field: service, why: the sidecar and the nightly job are not under test}
    - {service: cache, field: probes, why: the log line comes before the port opens}
    - {service: api, field: env.*, why: debug logging and the pod IP do not matter in tests}
    - {service: db, field: resources.limits, why: the test database is small}
    - {service: db, field: env.POSTGRES_USER, why: stale - production no longer sets it}
"""
    )
    monkeypatch.chdir(spec_dir(tmp_path, extra))
    status, out, _ = run([], capsys)
    assert status == 0, out
    assert "unaccepted differences (0)" in out
    assert "accepted difference db env.POSTGRES_USER no longer occurs" in out
    status, out, _ = run(["--json"], capsys)
    report = json.loads(out)
    assert report["ok"] is True and all(d["accepted"] for d in report["differences"])


def test_folder_with_list_json_and_daemonset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(spec_dir(tmp_path))
    status, out, err = run(["-f", "folder.yaml", "--against", "folder", "--json"], capsys)
    assert status == 1 and err == ""
    diffs = by_key(json.loads(out)["differences"])
    # keys from a Secret in a List (names only), the value from a ConfigMap matches
    assert diffs["db", "env.POSTGRES_USER"]["production"] == "(secret) from Secret db-credentials"
    assert ("db", "env.POSTGRES_DB") not in diffs
    assert ("db", "env.POSTGRES_PASSWORD") not in diffs
    assert diffs["db", "replicas"]["production"] == "2"
    assert diffs["db", "resources.limits.cpu"]["production"] == "2"
    assert diffs["db", "volumes./run/postgresql"]["production"] == "memory (emptyDir Memory)"
    assert ("db", "probes") not in diffs  # CMD-SHELL == /bin/sh -c
    assert diffs["db", "ports"] == {
        "service": "db",
        "field": "ports",
        "ephemeral": [],
        "production": ["5432/tcp"],
        "accepted": False,
        "why": None,
    }
    assert diffs["log-agent", "service"]["production"].startswith("DaemonSet log-agent")
    for secret in SECRETS:
        assert secret not in out


def test_compose_file_as_production(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(spec_dir(tmp_path))
    status, out, _ = run(["--against", "compose-prod.yaml", "--json"], capsys)
    assert status == 1
    diffs = by_key(json.loads(out)["differences"])
    assert diffs["db", "resources.limits.cpu"]["production"] == "1500m"
    assert diffs["db", "resources.limits.memory"]["production"] == "1Gi"
    assert diffs["db", "resources.requests.memory"]["production"] == "512Mi"
    assert diffs["db", "volumes./run/secrets/db_password"]["production"] == (
        "secret (secret db_password)"
    )
    assert diffs["db", "volumes./var/lib/postgresql/data"]["production"] == (
        "persistent (volume pgdata)"
    )
    assert diffs["db", "env.POSTGRES_PASSWORD_FILE"]["ephemeral"] is None
    assert diffs["cache", "resources.limits.memory"]["production"] == "256Mi"
    assert diffs["api", "replicas"]["production"] == "2"
    assert diffs["api", "probes"]["production"] == [
        "healthcheck: exec sh -c curl -fs http://localhost:8000/health"
    ]
    assert diffs["proxy", "service"]["ephemeral"] is None
    assert diffs["migrate", "lifecycle"]["ephemeral"] == "one-shot"
    assert ("api", "env.API_TOKEN") not in diffs


def test_parity_block_forms_are_read(tmp_path: Path) -> None:
    from pytest_ephemeral.parity import read_parity_config

    top = tmp_path / "ephemeral.yaml"
    top.write_text(
        "services: {db: {image: postgres}}\n"
        "parity:\n  against: prod/\n  accept:\n    - {service: db, field: image.tag, why: w}\n"
    )
    config = read_parity_config(top)
    assert config.against == (tmp_path / "prod",)
    assert config.accept[0].why == "w" and config.accept[0].line == 5
    compose = tmp_path / "compose.yaml"
    compose.write_text(
        "services: {db: {image: postgres}}\n"
        "x-ephemeral:\n  parity: {against: [a.yaml, b.yaml], map: {db: postgres}}\n"
    )
    config = read_parity_config(compose)
    assert config.against == (tmp_path / "a.yaml", tmp_path / "b.yaml")
    assert dict(config.map) == {"db": "postgres"}


BAD = [
    # (file name, content, --against, expected fragments of the one line)
    (
        "prod.yaml",
        "apiVersion: v1\nkind: ConfigMap\n---\nkind: [unclosed\n",
        ["--against", "prod.yaml"],
        ["prod.yaml:5 (document 2): not valid YAML"],
    ),
    (
        "prod.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n# Source: c/values.yaml\nreplicaCount: 3\n",
        ["--against", "prod.yaml"],
        ["prod.yaml:6 (document 2, c/values.yaml): not a Kubernetes object", "helm template"],
    ),
    (
        "prod.yaml",
        "- just\n- a list\n",
        ["--against", "prod.yaml"],
        ["prod.yaml:1 (document 1): not a Kubernetes object"],
    ),
    (
        "prod.bin",
        None,
        ["--against", "prod.bin"],
        ["prod.bin: not a text file"],
    ),
    (
        "prod.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      containers: {}\n",
        ["--against", "prod.yaml"],
        ["prod.yaml:1 (document 1): Deployment 'x': containers: expected a list"],
    ),
    (
        "compose.prod.yaml",
        "services:\n  db:\n    image: postgres:16\n    ports: 5432\n",
        ["--against", "compose.prod.yaml"],
        ["compose.prod.yaml:1 (document 1): services.db.ports: expected a list, found int"],
    ),
    (None, None, ["--against", "missing/"], ["missing: no such file or folder"]),
    (None, None, [], ["no production manifests to compare with", "--against PATH"]),
]


@pytest.mark.parametrize(("name", "content", "argv", "expected"), BAD)
def test_bad_manifests_one_line_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str | None,
    content: str | None,
    argv: list[str],
    expected: list[str],
) -> None:
    (tmp_path / "ephemeral.yaml").write_text("services: {db: {image: postgres:16}}\n")
    if name is not None:
        path = tmp_path / name
        if content is None:
            path.write_bytes(b"\xff\xfe\x00binary")
        else:
            path.write_text(content)
    monkeypatch.chdir(tmp_path)
    status, out, err = run(argv, capsys)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for fragment in expected:
        assert fragment in err


PROD = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: postgres}\nspec:\n  template:\n    spec:\n      containers: [{name: postgres, image: postgres:16}]\n"


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (
            "x-parity:\n  map: {database: postgres}\n",
            "ephemeral.yaml:4: parity.map.database: 'database' is not a service of the spec (services: db)",
        ),
        (
            "x-parity:\n  map:\n    db: pg\n",
            "ephemeral.yaml:5: parity.map.db: production has no 'pg' (production names: postgres)",
        ),
        (
            "x-parity:\n  accept:\n    - {service: web, field: image, why: w}\n",
            "ephemeral.yaml:5: parity.accept: service 'web' is neither in the spec nor in production",
        ),
        (
            "x-parity:\n  accept:\n    - {service: db, field: image}\n",
            "ephemeral.yaml:5: x-parity.accept[0].why: missing (say why",
        ),
        (
            "x-parity:\n  acept: []\n",
            "ephemeral.yaml:4: x-parity.acept: unknown key (use one of against, map, accept)",
        ),
    ],
)
def test_bad_parity_block_one_line_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    block: str,
    expected: str,
) -> None:
    (tmp_path / "ephemeral.yaml").write_text("services:\n  db: {image: postgres:16}\n" + block)
    (tmp_path / "prod.yaml").write_text(PROD)
    monkeypatch.chdir(tmp_path)
    status, out, err = run(["--against", "prod.yaml"], capsys)
    assert (status, out) == (2, "")
    assert err.count("\n") == 1 and expected in err, err


def test_usage_error_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--no-such-option"]) == 2
    assert "unrecognized arguments" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("reference", "repository", "tag", "digest"),
    [
        ("postgres", "docker.io/library/postgres", "latest", None),
        ("postgres:16-alpine", "docker.io/library/postgres", "16-alpine", None),
        ("localhost:5000/team/api:1.2", "localhost:5000/team/api", "1.2", None),
        ("ghcr.io/org/app@sha256:" + "a" * 64, "ghcr.io/org/app", None, "sha256:" + "a" * 64),
        ("bitnami/redis:7.2", "docker.io/bitnami/redis", "7.2", None),
    ],
)
def test_image_references(
    reference: str, repository: str, tag: str | None, digest: str | None
) -> None:
    from pytest_ephemeral.parity._model import parse_image

    image = parse_image(reference)
    assert (image.repository, image.tag, image.digest) == (repository, tag, digest)


@pytest.mark.parametrize(
    ("value", "docker", "size"),
    [
        ("512Mi", False, 512 * 2**20),
        ("1G", False, 10**9),
        ("512m", True, 512 * 2**20),
        ("1g", True, 2**30),
        (1024, False, 1024),
    ],
)
def test_memory_quantities(value: object, docker: bool, size: int) -> None:
    from pytest_ephemeral.parity._model import parse_memory

    assert parse_memory(value, docker=docker) == size


def test_parity_key_of_the_spec_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`parity:` as DESIGN writes it, read by the spec loader (Spec.parity)."""
    extra = """
parity:
  against: [helm/rendered.yaml]
  map: {db: shop-postgres}
  accept:
    - {service: db, field: image.tag, why: the minor version does not matter here}
    - {service: cache, field: replicas, why: stale}
"""
    monkeypatch.chdir(spec_dir(tmp_path, extra))
    status, out, err = run(["--json"], capsys)
    assert status == 1 and err == ""
    report = json.loads(out)
    diffs = by_key(report["differences"])
    assert diffs["db", "image.tag"]["accepted"] is True
    assert diffs["db", "image.tag"]["why"] == "the minor version does not matter here"
    assert diffs["cache", "service"]["accepted"] is False  # not mapped: shop-redis unmatched
    line = next(
        n
        for n, text in enumerate((tmp_path / "ephemeral.yaml").read_text().splitlines(), 1)
        if "why: stale" in text
    )
    assert (
        f"ephemeral.yaml:{line}: accepted difference cache replicas no longer occurs"
        in "\n".join(report["notes"])
    )


def test_deploy_keys_of_the_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """replicas and reservations from the spec's deploy: match production's."""
    (tmp_path / "ephemeral.yaml").write_text(
        textwrap.dedent(
            """\
            services:
              web:
                image: nginx:1.27
                ports: [80]
                deploy:
                  replicas: 2
                  resources:
                    limits: {cpus: "0.5", memory: 128m}
                    reservations: {cpus: "0.25", memory: 64m}
            """
        )
    )
    (tmp_path / "prod.yaml").write_text(
        textwrap.dedent(
            """\
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              replicas: 2
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec:
                  containers:
                    - name: web
                      image: nginx:1.27
                      ports: [{containerPort: 80}]
                      readinessProbe: {tcpSocket: {port: 80}}
                      resources:
                        limits: {cpu: 500m, memory: 128Mi}
                        requests: {cpu: 250m, memory: 64Mi}
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    status, out, err = run(["--against", "prod.yaml", "--json"], capsys)
    assert (status, err) == (0, "")
    assert json.loads(out)["differences"] == []


def test_summary_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_ephemeral.parity import parity_report, summary_line
    from pytest_ephemeral.spec import load_spec

    monkeypatch.chdir(spec_dir(tmp_path, HELM_PARITY))
    report = parity_report(load_spec(tmp_path / "ephemeral.yaml"))
    counts = (len(report.unaccepted), len(report.accepted))
    assert counts[0] > 0 and counts[1] > 0
    assert summary_line(report) == (
        f"parity: {counts[0]} unaccepted differences against helm/rendered.yaml "
        f"({counts[1]} accepted); `eph parity` lists them"
    )


def test_spec_parity_accepts_every_service_and_production_only_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`parity:` read by the spec loader takes `service: "*"` and names only
    production has (a CronJob); eph parity checks every name, with its line."""
    extra = """
parity:
  against: [helm/rendered.yaml]
  map: {db: shop-postgres, cache: shop-redis}
  accept:
    - {service: "*", field: image.tag, why: tests run the tags the team pins}
    - {service: shop-cleanup, field: service, why: the nightly cleanup is not under test}
"""
    monkeypatch.chdir(spec_dir(tmp_path, extra))
    status, out, err = run(["--json"], capsys)
    assert status == 1 and err == "", err
    diffs = by_key(json.loads(out)["differences"])
    assert diffs["shop-cleanup", "service"]["accepted"] is True
    assert diffs["shop-cleanup", "service"]["why"] == "the nightly cleanup is not under test"
    assert diffs["db", "image.tag"]["accepted"] is True  # through "*"
    # a name neither side has: one line naming the spec's line, exit 2
    spec = tmp_path / "ephemeral.yaml"
    spec.write_text(spec.read_text().replace("service: shop-cleanup", "service: shop-cleanpu"))
    line = next(
        n for n, text in enumerate(spec.read_text().splitlines(), 1) if "shop-cleanpu" in text
    )
    status, out, err = run([], capsys)
    assert status == 2 and out == ""
    assert f"ephemeral.yaml:{line}: parity.accept: service 'shop-cleanpu' is neither" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
