"""The Compose keys the plugin now honours: container_name, links, secrets, configs,
deploy, scale, port ranges, bind sources Compose creates, the engine options,
post_start, pull_policy, healthcheck.disable."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from pytest_ephemeral.spec import load_spec
from pytest_ephemeral.spec.model import (
    EngineOptions,
    Hook,
    PortSpec,
    ResourceSpec,
    SecretMount,
    ServiceSpec,
)
from tests.spec.spec_helpers import Project, service


def one(project: Project, body: str, **kwargs: object) -> ServiceSpec:
    return project.load(service(body), **kwargs).services["svc"]  # type: ignore[arg-type]


def test_links_give_a_dependency_and_an_alias(project: Project) -> None:
    spec = project.load(
        """\
        services:
          db: {image: postgres:16, container_name: legacy-db}
          cache: {image: redis:7}
          api:
            image: x
            links: ["db:database", cache]
            depends_on: [cache]
        """
    )
    api = spec.services["api"]
    assert [d.service for d in api.depends_on] == ["cache", "db"]
    assert spec.services["db"].aliases == ("legacy-db", "database")
    assert spec.services["cache"].aliases == ()
    assert [d.key for d in spec.diagnostics] == ["container_name"]


def test_secrets_and_configs(project: Project) -> None:
    project.file("secrets/db_password.txt", "s3cret\n")
    project.file("nginx.conf", "events {}\n")
    spec = project.load(
        """\
        secrets:
          db_password: {file: ./secrets/db_password.txt}
          api_token: {environment: API_TOKEN}
        configs:
          nginx: {file: ./nginx.conf}
          motd: {content: "hello ${NAME}"}
        services:
          svc:
            image: x
            secrets:
              - db_password
              - {source: api_token, target: token, uid: "1000", mode: 0440}
              - {source: db_password, target: /etc/pw}
            configs:
              - {source: nginx, target: /etc/nginx/nginx.conf}
              - motd
        """,
        environ={"API_TOKEN": "t0k3n", "NAME": "tests"},
    )
    svc = spec.services["svc"]
    assert svc.secrets == (
        SecretMount(
            "secret",
            "db_password",
            "/run/secrets/db_password",
            project.root / "secrets/db_password.txt",
        ),
        SecretMount(
            "secret", "api_token", "/run/secrets/token", None, "t0k3n", uid="1000", mode=0o440
        ),
        SecretMount("secret", "db_password", "/etc/pw", project.root / "secrets/db_password.txt"),
    )
    assert svc.configs == (
        SecretMount("config", "nginx", "/etc/nginx/nginx.conf", project.root / "nginx.conf"),
        SecretMount("config", "motd", "/motd", None, "hello tests"),
    )
    assert "t0k3n" not in repr(svc.secrets)


def test_secret_content_changes_the_hash(project: Project) -> None:
    project.file("pw.txt", "one")
    text = "secrets: {pw: {file: pw.txt}}\n" + service("image: x\nsecrets: [pw]")
    first = project.load(text).hash
    project.file("pw.txt", "two")
    assert project.load(text).hash != first


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "secrets: {pw: {file: missing.txt}}\n" + service("image: x\nsecrets: [pw]"),
            "secret file 'missing.txt' not found",
        ),
        (
            "secrets: {pw: {environment: NOPE}}\n" + service("image: x\nsecrets: [pw]"),
            "secret 'pw' reads variable NOPE, which is not set",
        ),
        (service("image: x\nsecrets: [pw]"), "secret 'pw' is not declared (known: none)"),
        ("secrets: {pw: {}}\n" + service("image: x"), "secret 'pw' has no source"),
        (
            "configs: {c: {content: a, file: b}}\n" + service("image: x"),
            "config 'c' has several sources (file, content)",
        ),
        ("secrets: {pw: {content: a}}\n" + service("image: x"), "secrets.pw.content: unknown key"),
        (
            "configs: {c: {content: a}}\n"
            + service("image: x\nconfigs: [c, {source: c, target: /c}]"),
            "two configs mount at /c",
        ),
    ],
)
def test_secret_errors(project: Project, text: str, fragment: str) -> None:
    assert fragment in str(project.error(text))


def test_deploy_resources_and_replicas(project: Project) -> None:
    svc = one(
        project,
        """\
        image: x
        deploy:
          mode: replicated
          replicas: 3
          resources:
            limits: {cpus: "0.5", memory: 512M, pids: 100}
            reservations: {cpus: "0.25", memory: 128m}
          restart_policy: {condition: on-failure}
          placement: {constraints: [node.role == worker]}
        """,
    )
    assert svc.replicas == 3
    assert svc.cpus == 0.5 and svc.mem_limit == 512 * 2**20
    assert svc.resources == ResourceSpec(0.5, 512 * 2**20, 100, 0.25, 128 * 2**20)


def test_deploy_other_keys_warn_once_per_file(project: Project) -> None:
    spec = project.load(
        """\
        services:
          a: {image: x, deploy: {restart_policy: {condition: any}}}
          b: {image: x, deploy: {restart_policy: {condition: any}, update_config: {parallelism: 2}}}
        """
    )
    keys = {d.key: d.count for d in spec.diagnostics}
    assert keys == {"deploy.restart_policy": 2, "deploy.update_config": 1}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            "cpus: 1\ndeploy: {resources: {limits: {cpus: '2'}}}",
            "'cpus' and 'deploy.resources.limits.cpus' give different values",
        ),
        ("scale: 2\ndeploy: {replicas: 3}", "scale 2 and deploy.replicas 3 differ"),
        ("deploy: {mode: weird}", "unknown deploy mode 'weird'"),
        ("deploy: {resources: {limits: {memory: lots}}}", "size 'lots' is not a size"),
        ("deploy: {replicas: -1}", "-1 is out of range"),
    ],
)
def test_deploy_errors(project: Project, body: str, fragment: str) -> None:
    assert fragment in str(project.error(service("image: x\n" + body)))


def test_scale_and_global_mode(project: Project) -> None:
    assert one(project, "image: x\nscale: 2").replicas == 2
    spec = project.load(service("image: x\ndeploy: {mode: global}"))
    assert spec.services["svc"].replicas == 1
    assert spec.diagnostics[0].key == "deploy.mode"


def test_port_ranges(project: Project) -> None:
    svc = one(
        project, "image: x\nports: ['8000-8002', '9000-9001:7000-7001/udp', {target: '6000-6001'}]"
    )
    assert svc.ports == (
        PortSpec(8000),
        PortSpec(8001),
        PortSpec(8002),
        PortSpec(7000, "udp", host_port=9000),
        PortSpec(7001, "udp", host_port=9001),
        PortSpec(6000),
        PortSpec(6001),
    )


def test_bind_sources_compose_would_create(project: Project) -> None:
    project.folder("exists")
    spec = project.load(
        service(
            """\
            image: x
            volumes:
              - ./exists:/a
              - ./data/pg:/b
              - {type: bind, source: ./logs, target: /c, bind: {create_host_path: true}}
            """
        )
    )
    a, b, c = spec.services["svc"].volumes
    assert not a.create_host_path
    assert b.create_host_path and b.source == str(project.root / "data" / "pg")
    assert c.create_host_path
    assert not (project.root / "data").exists()  # created at start, never by loading
    (note,) = [d for d in spec.diagnostics if "does not exist" in d.message]
    assert note.count == 2 and note.key == "volumes.create_host_path"


def test_volume_subpath(project: Project) -> None:
    svc = project.load(
        "volumes: {v: {}}\n"
        + service(
            "image: x\nvolumes: [{type: volume, source: v, target: /d, volume: {subpath: pg}}]"
        )
    ).services["svc"]
    assert svc.volumes[0].subpath == "pg"
    err = project.error(
        "volumes: {v: {}}\n"
        + service(
            "image: x\nvolumes: [{type: volume, source: v, target: /d, volume: {subpath: ../x}}]"
        )
    )
    assert "subpath '../x' leaves the volume" in str(err)


def test_engine_options(project: Project) -> None:
    svc = one(
        project,
        """\
        image: x
        runtime: runc
        platform: linux/amd64
        hostname: db1
        init: true
        read_only: true
        stop_signal: SIGINT
        stop_grace_period: 1m
        shm_size: 256m
        pids_limit: 200
        cpu_shares: 512
        cpu_period: 100ms
        cpu_quota: 50000
        cpu_rt_runtime: 950ms
        cpuset: 0-1
        mem_reservation: 64m
        memswap_limit: -1
        mem_swappiness: 0
        oom_kill_disable: true
        oom_score_adj: -500
        blkio_config: {weight: 300, device_read_bps: [{path: /dev/sda, rate: 12mb}]}
        ulimits: {nproc: 65535, nofile: {soft: 20000, hard: 40000}}
        sysctls: [net.core.somaxconn=1024]
        extra_hosts: ["somehost:162.242.195.82", "other=::1"]
        group_add: [mail]
        cap_add: [NET_ADMIN]
        security_opt: [no-new-privileges:true]
        storage_opt: {size: 1G}
        """,
    )
    assert svc.engine == EngineOptions(
        runtime="runc",
        platform="linux/amd64",
        hostname="db1",
        init=True,
        read_only=True,
        stop_signal="SIGINT",
        stop_grace_period=60.0,
        shm_size=256 * 2**20,
        cpu_shares=512,
        cpu_period=100_000,
        cpu_quota=50000,
        cpu_rt_runtime=950_000,
        cpuset="0-1",
        memswap_limit=-1,
        mem_swappiness=0,
        oom_kill_disable=True,
        oom_score_adj=-500,
        blkio_weight=300,
        ulimits=MappingProxyType({"nproc": (65535, 65535), "nofile": (20000, 40000)}),
        sysctls=MappingProxyType({"net.core.somaxconn": "1024"}),
        storage_opt=MappingProxyType({"size": "1G"}),
        extra_hosts=(("somehost", "162.242.195.82"), ("other", "::1")),
        group_add=("mail",),
        cap_add=("NET_ADMIN",),
        security_opt=("no-new-privileges:true",),
    )
    assert svc.resources.pids == 200 and svc.resources.memory_reserved == 64 * 2**20
    assert svc.engine.given()["runtime"] == "runc"
    assert "tty" not in svc.engine.given()


def test_cpu_period_microseconds_as_numbers(project: Project) -> None:
    svc = one(project, "image: x\ncpu_period: 100000\ncpu_rt_period: 11000")
    assert svc.engine.cpu_rt_period == 11000


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("ulimits: {nofile: {soft: 10, hard: 5}}", "soft limit 10 is above the hard limit 5"),
        ("ulimits: {nofile: {soft: 10}}", "a ulimit needs soft: and hard:"),
        ("cpu_percent: 150", "150 is out of range"),
        ("extra_hosts: [nohost]", "invalid extra host 'nohost'"),
        ("shm_size: big", "size 'big' is not a size"),
        ("blkio_config: {weight: 5}", "5 is out of range"),
    ],
)
def test_engine_option_errors(project: Project, body: str, fragment: str) -> None:
    assert fragment in str(project.error(service("image: x\n" + body)))


def test_post_start(project: Project) -> None:
    svc = one(
        project,
        "image: x\npost_start:\n  - {command: touch /ready, user: root, environment: {A: b}}",
    )
    assert svc.post_start == (
        Hook(("touch", "/ready"), "root", environment=MappingProxyType({"A": "b"})),
    )
    assert "a hook needs command:" in str(
        project.error(service("image: x\npost_start: [{user: root}]"))
    )


@pytest.mark.parametrize(
    ("text", "policy", "refresh"),
    [
        ("missing", "missing", None),
        ("if_not_present", "missing", None),
        ("always", "always", None),
        ("never", "never", None),
        ("build", "build", None),
        ("daily", "daily", 86400.0),
        ("weekly", "weekly", 604800.0),
        ("every_12h", "every", 43200.0),
        ("every_1w2d", "every", 9 * 86400.0),
    ],
)
def test_pull_policy(project: Project, text: str, policy: str, refresh: float | None) -> None:
    svc = one(project, f"image: x\npull_policy: {text}")
    assert (svc.pull_policy, svc.pull_refresh) == (policy, refresh)


def test_pull_policy_refresh_and_errors(project: Project) -> None:
    svc = one(project, "image: x\npull_policy: refresh\npull_refresh_after: 2h")
    assert (svc.pull_policy, svc.pull_refresh) == ("every", 7200.0)
    assert one(project, "image: x").pull_policy == "missing"
    err = project.error(service("image: x\npull_policy: sometimes"))
    assert "unknown pull_policy 'sometimes' (use missing (the default), always, never" in str(err)
    err = project.error(service("image: x\npull_policy: refresh"))
    assert "pull_policy refresh needs pull_refresh_after:" in str(err)


def test_pull_policy_changes_the_hash(project: Project) -> None:
    assert (
        project.load(service("image: x")).hash
        != project.load(service("image: x\npull_policy: always")).hash
    )


def test_healthcheck_disable(project: Project) -> None:
    svc = one(project, "image: x\nhealthcheck: {disable: true}")
    assert svc.healthcheck is not None and svc.healthcheck.disable
    svc = one(project, "image: x\nhealthcheck: {test: [CMD, 'true'], disable: false}")
    assert svc.healthcheck is not None and not svc.healthcheck.disable


def test_label_file(project: Project) -> None:
    project.file("labels.env", "team=shop\ntier=db\n")
    svc = one(project, "image: x\nlabel_file: labels.env\nlabels: {tier: cache}")
    assert dict(svc.labels) == {"team": "shop", "tier": "cache"}


def test_container_name_warns_once_with_a_count(project: Project) -> None:
    spec = project.load(
        "services:\n  a: {image: x, container_name: a1}\n  b: {image: x, container_name: b1}\n"
    )
    (warning,) = spec.diagnostics
    assert warning.count == 2 and warning.line == 2
    assert spec.services["b"].aliases == ("b1",)


def test_external_volume_is_per_environment(project: Project) -> None:
    spec = project.load(
        "volumes: {pg: {external: true}, other: {external: {name: x}}}\n"
        + service("image: x\nvolumes: [pg:/data, other:/o]")
    )
    assert spec.volumes == ("pg", "other")
    (warning,) = spec.diagnostics
    assert warning.key == "volumes.external" and warning.count == 2


def test_model_defaults_keep_old_constructors() -> None:
    from pathlib import Path

    from pytest_ephemeral.spec import Location, Spec

    loc = Location(Path("/x/ephemeral.yaml"), 1, "services.a")
    svc = ServiceSpec("a", loc, image="x")
    assert svc.replicas == 1 and svc.engine == EngineOptions() and svc.external is None
    spec = Spec("n", Path("/x/ephemeral.yaml"), MappingProxyType({"a": svc}))
    assert spec.diagnostics == () and spec.exports == {} and spec.parity is None


def test_load_spec_accepts_a_string_path(project: Project) -> None:
    path = project.file("ephemeral.yaml", service("image: x"))
    assert list(load_spec(str(path), environ={}).services) == ["svc"]


def test_healthcheck_without_a_test_keeps_the_images(project: Project) -> None:
    from pytest_ephemeral.spec import render_topology
    from pytest_ephemeral.spec.model import HealthcheckSpec

    assert one(project, "image: x\nhealthcheck: {disable: false}").healthcheck is None
    assert one(project, "image: x\nhealthcheck: {}").healthcheck is None
    svc = one(project, "image: x\nhealthcheck: {interval: 2s, retries: 5}")
    assert svc.healthcheck == HealthcheckSpec((), interval=2.0, retries=5)
    spec = project.load(service("image: x\nhealthcheck: {interval: 2s}"))
    assert "healthcheck  the image's own test" in render_topology(spec)


def test_warning_keys_read_as_written(project: Project) -> None:
    spec = project.load(
        'version: "3.8"\nnetworks: {n: {driver: bridge}}\n'
        + service("image: x\nports: [{target: 80, mode: host}]\nnetworks: [n]")
    )
    assert [d.key for d in spec.diagnostics] == ["version", "networks.driver", "ports.mode"]
    assert {d.category for d in spec.diagnostics} == {"ignored"}
