"""Service keys: every form the loader reads, and the keys it ignores or refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_ephemeral.spec import BuildSpec, HealthcheckSpec, PortSpec, ServiceSpec, VolumeMount
from tests.spec.spec_helpers import Project, service


def one(project: Project, body: str) -> ServiceSpec:
    return project.load(service(body)).services["svc"]


# -- image, build ----------------------------------------------------------------


def test_build_string(project: Project) -> None:
    project.file("api/Dockerfile", "FROM python:3.12\n")
    svc = project.load(service("build: ./api")).services["svc"]
    assert svc.build == BuildSpec(project.root / "api")
    assert svc.image is None


def test_build_mapping_with_args(project: Project) -> None:
    project.file("api/Dockerfile.dev", "FROM python:3.12\n")
    svc = project.load(
        service(
            """\
            image: shop/api:dev
            build:
              context: api
              dockerfile: Dockerfile.dev
              args: [VERSION=1, FROM_HOST, NOT_SET]
              target: dev
            """
        ),
        environ={"FROM_HOST": "h"},
    ).services["svc"]
    assert svc.build is not None
    assert svc.build.context == project.root / "api"
    assert (svc.build.dockerfile, svc.build.target) == ("Dockerfile.dev", "dev")
    assert dict(svc.build.args) == {"VERSION": "1", "FROM_HOST": "h"}
    assert svc.image == "shop/api:dev"


def test_build_default_context(project: Project) -> None:
    project.file("Dockerfile", "FROM x\n")
    svc = project.load(service("build: {args: {A: b}}")).services["svc"]
    assert svc.build is not None and svc.build.context == project.root


def test_build_missing_context_and_dockerfile(project: Project) -> None:
    err = project.error(service("build: ./nope"))
    assert "build context './nope' not found" in str(err)
    assert err.line == 3
    project.folder("api")
    err = project.error(service("build: ./api"))
    assert "Dockerfile" in str(err) and "not found" in str(err)


def test_build_remote_context(project: Project) -> None:
    err = project.error(service("build: https://github.com/x/y.git"))
    assert "remote build context" in str(err)


def test_build_ignored_and_unsupported_options(project: Project) -> None:
    project.file("Dockerfile", "FROM x\n")
    spec = project.load(service("build: {context: ., cache_from: [x]}"))
    assert "Compose key 'cache_from' is ignored" in spec.warnings[0]
    err = project.error(service("build: {context: ., ssh: [default]}"))
    assert "Compose key 'ssh' is not supported here: builds get no SSH agent" in str(err)
    err = project.error(service("build: {context: ., dockerfil: x}"))
    assert "did you mean 'dockerfile'?" in str(err)


def test_neither_image_nor_build(project: Project) -> None:
    err = project.error(service("ports: [1]"))
    assert err.line == 2
    assert "services.svc: has neither image: nor build:" in str(err)


def test_bad_image(project: Project) -> None:
    assert "invalid image reference" in str(project.error(service("image: 'a b'")))
    assert "expected a string, got a mapping" in str(project.error(service("image: {a: b}")))


# -- command, entrypoint ------------------------------------------------------------


def test_command_forms(project: Project) -> None:
    svc = project.load(service("image: x\ncommand: python -c 'print(1)'\nentrypoint: [sh, -c]"))
    assert svc.services["svc"].command == ("python", "-c", "print(1)")
    assert svc.services["svc"].entrypoint == ("sh", "-c")
    assert project.load(service("image: x\ncommand: []")).services["svc"].command == ()
    assert project.load(service("image: x\ncommand: null")).services["svc"].command is None


def test_command_unbalanced_quote(project: Project) -> None:
    err = project.error(service("image: x\ncommand: echo 'hi"))
    assert "cannot split command" in str(err) and "No closing quotation" in str(err)


# -- environment, env_file -------------------------------------------------------------


def test_environment_forms(project: Project) -> None:
    svc = project.load(
        service("image: x\nenvironment: [A=1, B=, C=x=y, HOSTVAR, MISSING]"),
        environ={"HOSTVAR": "h"},
    ).services["svc"]
    assert dict(svc.environment) == {"A": "1", "B": "", "C": "x=y", "HOSTVAR": "h"}
    svc = project.load(
        service("image: x\nenvironment: {A: 1, B: null, C: '', D: 1.5}"), environ={"B": "b"}
    ).services["svc"]
    assert dict(svc.environment) == {"A": "1", "B": "b", "C": "", "D": "1.5"}


def test_environment_wrong_types(project: Project) -> None:
    err = project.error(service("image: x\nenvironment: 5"))
    assert "expected a mapping or a list of NAME=value, got the number 5" in str(err)
    err = project.error(service("image: x\nenvironment: {A: [1]}"))
    assert "environment.A: expected a string value, got a list" in str(err)
    err = project.error(service("image: x\nenvironment: ['=x']"))
    assert "no name before '='" in str(err)
    err = project.error(service("image: x\nenvironment: [A=1, A=2]"))
    assert "'A' is set twice" in str(err)


def test_env_file(project: Project) -> None:
    project.file(
        "env/base.env",
        """\
        # comment
        A=1
        export B="two words"  # comment
        C='single $NOT'
        D=${HOSTVAR}-x
        E="line\\nbreak"
        F=plain # trailing
        FROMHOST
        G=$A$A
        """,
    )
    project.file("override.env", "A=override\n")
    svc = project.load(
        service(
            """\
            image: x
            env_file: [env/base.env, override.env, {path: missing.env, required: false}]
            environment: {B: from-spec}
            """
        ),
        environ={"HOSTVAR": "h", "FROMHOST": "fh"},
    ).services["svc"]
    assert dict(svc.environment) == {
        "A": "override",
        "B": "from-spec",
        "C": "single $NOT",
        "D": "h-x",
        "E": "line\nbreak",
        "F": "plain",
        "FROMHOST": "fh",
        "G": "11",
    }


def test_env_file_single_string(project: Project) -> None:
    project.file(".env", "A=1\n")
    assert dict(one(project, "image: x\nenv_file: .env").environment) == {"A": "1"}


def test_env_file_missing(project: Project) -> None:
    err = project.error(service("image: x\nenv_file: [.env.test]"))
    assert "env_file '.env.test' not found" in str(err)
    assert err.line == 4


def test_env_file_bad_line(project: Project) -> None:
    project.file("test.env", "A=1\nnot a var\n")
    err = project.error(service("image: x\nenv_file: test.env"), in_file="test.env")
    assert err.file is not None and err.file.name == "test.env"
    assert err.line == 2
    assert "test.env:2: services.svc.env_file: invalid variable name 'not a var'" in str(err)


def test_env_file_unterminated_quote(project: Project) -> None:
    project.file("test.env", 'A="open\n')
    err = project.error(service("image: x\nenv_file: [test.env]"), in_file="test.env")
    assert 'test.env:1: services.svc.env_file[0].A: unterminated " quote' in str(err)


def test_env_file_binary(project: Project) -> None:
    (project.root / "test.env").write_bytes(b"A=1\nB=\xff\n")
    err = project.error(service("image: x\nenv_file: test.env"), in_file="test.env")
    assert "test.env:2: services.svc.env_file: not a text file: byte 0xff" in str(err)


# -- ports, expose ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "port"),
    [
        ("5432", PortSpec(5432)),
        ("'5432'", PortSpec(5432)),
        ("'5432/udp'", PortSpec(5432, "udp")),
        ("'8080:80'", PortSpec(80, host_port=8080)),
        ("'127.0.0.1::5432'", PortSpec(5432)),
        ("'127.0.0.1:8080:80/tcp'", PortSpec(80, host_port=8080)),
        ("'[::1]::80'", PortSpec(80, host_ip="::1")),
        ("'[::1]:81:80'", PortSpec(80, host_ip="::1", host_port=81)),
        ("{target: 80}", PortSpec(80)),
        (
            "{target: 80, published: '8080', protocol: udp, host_ip: 127.0.0.2}",
            PortSpec(80, "udp", "127.0.0.2", 8080),
        ),
        ("{target: 80, published: '', mode: host}", PortSpec(80)),
    ],
)
def test_port_forms(project: Project, value: str, port: PortSpec) -> None:
    assert one(project, f"image: x\nports: [{value}]").ports == (port,)


def test_fixed_host_port_warns(project: Project) -> None:
    spec = project.load(service("image: x\nports: ['8080:80']"))
    assert any("fixed host port 8080 breaks parallel runs" in w for w in spec.warnings)


def test_public_address_warns(project: Project) -> None:
    spec = project.load(service("image: x\nports: ['0.0.0.0::80']"))
    assert any("reachable from other machines" in w for w in spec.warnings)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("'8010-8000'", "port range '8010-8000' ends before it starts"),
        ("'9000-9001:8000-8002'", "port ranges of different lengths"),
        ("'1-5000'", "port range '1-5000' names 5000 ports"),
        ("70000", "container port 70000 is out of range (use a port from 1 to 65535)"),
        ("0", "container port 0 is out of range"),
        ("'99999:80'", "host port 99999 is out of range"),
        ("'80/sctp'", "protocol 'sctp' is not supported"),
        ("'abc'", "container port 'abc' is not a number"),
        ("'1:2:3:4'", "invalid port '1:2:3:4'"),
        ("'nothost:1:80'", "host address 'nothost' is not an IP address"),
        ("true", "expected a port, got 'true'"),
        ("80.5", "expected a port, got '80.5'"),
        ("{published: 80}", "a port mapping needs target:"),
        ("{target: 80, publish: 1}", "did you mean 'published'?"),
        ("'[::1:80'", "write an IPv6 address as '[::1]::80'"),
    ],
)
def test_bad_ports(project: Project, value: str, fragment: str) -> None:
    err = project.error(service(f"image: x\nports: [{value}]"))
    assert fragment in str(err)
    assert err.key is not None and err.key.startswith("services.svc.ports[0]")


def test_ports_must_be_a_list(project: Project) -> None:
    err = project.error(service("image: x\nports: {a: b}"))
    assert "services.svc.ports: expected a list, got a mapping" in str(err)


def test_expose(project: Project) -> None:
    assert one(project, "image: x\nexpose: [3000, '3001/tcp']").expose == (3000, 3001)
    assert one(project, "image: x\nexpose: ['4000-4002', 4001]").expose == (4000, 4001, 4002)
    assert "ends before" in str(project.error(service("image: x\nexpose: ['2-1']")))


# -- healthcheck ------------------------------------------------------------------------


def test_healthcheck_forms(project: Project) -> None:
    svc = one(
        project,
        "image: x\nhealthcheck: {test: [CMD, pg_isready], interval: 1s, timeout: 2s, "
        "retries: 3, start_period: 0s}",
    )
    assert svc.healthcheck == HealthcheckSpec(("CMD", "pg_isready"), 1.0, 2.0, 3, 0.0)
    svc = one(project, "image: x\nhealthcheck: {test: curl -f localhost}")
    assert svc.healthcheck == HealthcheckSpec(("CMD-SHELL", "curl -f localhost"))
    svc = one(project, "image: x\nhealthcheck: {test: [NONE]}")
    assert svc.healthcheck == HealthcheckSpec(("NONE",), disable=True)
    svc = one(project, "image: x\nhealthcheck: {disable: true}")
    assert svc.healthcheck == HealthcheckSpec(("NONE",), disable=True)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("{test: [pg_isready]}", "test must start with CMD, CMD-SHELL or NONE, not 'pg_isready'"),
        ("{test: []}", "empty test"),
        ("{test: [CMD]}", "CMD names no command"),
        ("{test: [NONE, x]}", "NONE takes no arguments"),
        ("{test: x, retries: -1}", "-1 is out of range (use a whole number of at least 0)"),
        ("{test: x, retries: many}", "expected a whole number, got the string 'many'"),
        ("{test: x, intervall: 1s}", "did you mean 'interval'?"),
        ("{test: x, interval: 0s}", "must be more than zero"),
        ("[CMD, x]", "expected a mapping, got a list"),
    ],
)
def test_bad_healthchecks(project: Project, value: str, fragment: str) -> None:
    assert fragment in str(project.error(service(f"image: x\nhealthcheck: {value}")))


def test_healthcheck_start_interval_warns(project: Project) -> None:
    spec = project.load(service("image: x\nhealthcheck: {test: x, start_interval: 1s}"))
    assert "'start_interval' is ignored" in spec.warnings[0]


# -- volumes, tmpfs ------------------------------------------------------------------------


def test_volume_forms(project: Project) -> None:
    project.folder("conf")
    project.file("one.txt", "x")
    svc = project.load(
        """\
        volumes: {data: {}, other: null}
        services:
          svc:
            image: x
            volumes:
              - data:/var/lib/data
              - other:/o:ro
              - ./conf:/etc/conf:ro,z
              - /anon
              - type: bind
                source: one.txt
                target: /one.txt
                read_only: true
              - {type: volume, target: /anon2}
              - {type: volume, source: data, target: /d2, volume: {nocopy: true}}
              - {type: tmpfs, target: /scratch, tmpfs: {size: 64m, mode: 1777}}
            tmpfs: [/run, '/tmp:size=10m']
        """
    ).services["svc"]
    assert svc.volumes == (
        VolumeMount("volume", "/var/lib/data", "data"),
        VolumeMount("volume", "/o", "other", read_only=True),
        VolumeMount("bind", "/etc/conf", str(project.root / "conf"), read_only=True),
        VolumeMount("volume", "/anon"),
        VolumeMount("bind", "/one.txt", str(project.root / "one.txt"), read_only=True),
        VolumeMount("volume", "/anon2"),
        VolumeMount("volume", "/d2", "data"),
    )
    assert svc.tmpfs == ("/run", "/tmp:size=10m", f"/scratch:size={64 * 2**20},mode=1777")


def test_absolute_bind(project: Project, tmp_path: Path) -> None:
    svc = project.load(service(f"image: x\nvolumes: ['{tmp_path}:/host']")).services["svc"]
    assert svc.volumes == (VolumeMount("bind", "/host", str(tmp_path)),)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("data:/x", "named volume 'data' is not declared (known: none; declare it with"),
        ("':/x'", "empty section between colons (Compose refuses it too)"),
        ("{type: bind, source: ./missing, target: /x}", "bind mount source './missing' not found"),
        ("{type: image, source: x, target: /x}", "Compose mount type 'image' is not supported"),
        ("relative", "mount target 'relative' is not an absolute path"),
        ("/a:/b:rx", "unknown volume mode 'rx'"),
        ("a:b:c:d", "too many ':'"),
        ("'bad name!:/x'", "invalid volume name 'bad name!'"),
        ("{type: npipe, target: /x}", "Compose mount type 'npipe' is not supported here"),
        ("{type: nfs, target: /x}", "unknown volume type 'nfs'"),
        ("{type: bind, target: /x}", "a bind mount needs source:"),
        ("{source: x}", "a mount needs target:"),
        ("{type: tmpfs, target: /x, source: y}", "a tmpfs mount has no source:"),
        ("{type: tmpfs, target: /x, tmpfs: {size: lots}}", "size 'lots' is not a size"),
        ("{type: volume, target: /x, readonly: true}", "did you mean 'read_only'?"),
    ],
)
def test_bad_volumes(project: Project, value: str, fragment: str) -> None:
    err = project.error(service(f"image: x\nvolumes: [{value}]"))
    assert fragment in str(err)


def test_docker_socket_warns(project: Project, tmp_path: Path) -> None:
    sock = project.file("run/docker.sock", "")
    spec = project.load(service(f"image: x\nvolumes: ['{sock}:/var/run/docker.sock']"))
    assert any("Docker socket" in w for w in spec.warnings)


def test_tmpfs_must_be_absolute(project: Project) -> None:
    assert "not an absolute path" in str(project.error(service("image: x\ntmpfs: run")))


# -- networks, labels, the rest ---------------------------------------------------------------


def test_networks(project: Project) -> None:
    spec = project.load(
        """\
        networks: {front: {driver: bridge}, back: null}
        services:
          a: {image: x, networks: [front, default]}
          b: {image: x, networks: {back: {aliases: [bee, b2]}, front: null}}
        """
    )
    assert dict(spec.services["a"].networks) == {"front": (), "default": ()}
    assert dict(spec.services["b"].networks) == {"back": ("bee", "b2"), "front": ()}
    assert spec.networks == ("default", "front", "back")
    assert any("networks.front.driver: Compose key 'driver' is ignored" in w for w in spec.warnings)


def test_undeclared_network(project: Project) -> None:
    err = project.error(service("image: x\nnetworks: [backend]"))
    assert "network 'backend' is not declared (known: default; declare it with" in str(err)
    assert err.line == 4


def test_external_network_becomes_per_environment(project: Project) -> None:
    spec = project.load("networks: {n: {external: true}}\n" + service("image: x\nnetworks: [n]"))
    assert spec.networks == ("default", "n")
    (warning,) = spec.diagnostics
    assert warning.category == "translated" and warning.key == "networks.external"
    assert "external network 'n': each environment gets a network of its own" in str(warning)


def test_labels_user_and_friends(project: Project) -> None:
    svc = project.load(
        service(
            """\
            image: x
            labels: [a=1, b]
            user: 1000
            working_dir: /app
            cpus: "1.5"
            privileged: true
            profiles: [debug]
            """
        ),
        profiles=["debug"],
    ).services["svc"]
    assert dict(svc.labels) == {"a": "1", "b": ""}
    assert (svc.user, svc.working_dir, svc.cpus, svc.privileged) == ("1000", "/app", 1.5, True)
    assert svc.profiles == ("debug",)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("cpus: 0", "cpus 0 is not a positive number"),
        ("cpus: many", "expected a number, got the string 'many'"),
        ("privileged: yes", "expected true or false, got the string 'yes'"),
        ("working_dir: app", "working_dir 'app' is not an absolute path"),
        ("profiles: {a: b}", "expected a list of profile names"),
        ("profiles: ['bad name']", "invalid profile name 'bad name'"),
        ("labels: 3", "expected a mapping or a list of NAME=value"),
    ],
)
def test_bad_values(project: Project, body: str, fragment: str) -> None:
    assert fragment in str(project.error(service(f"image: x\n{body}")))


# -- keys: unknown, ignored, refused ---------------------------------------------------------


def test_unknown_service_key_did_you_mean(project: Project) -> None:
    err = project.error(service("image: x\nenviroment: {}"))
    assert str(err).endswith(
        "ephemeral.yaml:4: services.svc.enviroment: unknown key (did you mean 'environment'?)"
    )


def test_unknown_service_key_far_from_anything(project: Project) -> None:
    err = project.error(service("image: x\nzzz: 1"))
    assert "unknown key (remove it, or prefix it with 'x-'" in str(err)


def test_extension_fields_are_ignored(project: Project) -> None:
    spec = project.load(service("image: x\nx-anything: {whatever: 1}"))
    assert spec.warnings == ()


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("restart: always", "test containers are never restarted"),
        ("logging: {driver: syslog}", "logs are read through the engine's default driver"),
        ("develop: {watch: []}", "file watching is for development"),
        ("dns: 8.8.8.8", "the environment's network resolves the service names"),
        ("attach: false", "the plugin reads logs itself"),
    ],
)
def test_ignored_keys_warn(project: Project, key: str, why: str) -> None:
    spec = project.load(service(f"image: x\n{key}"))
    name = key.split(":")[0]
    (warning,) = spec.warnings
    assert f"ephemeral.yaml:4: services.svc.{name}: Compose key '{name}' is ignored: {why}" in (
        warning
    )


@pytest.mark.parametrize(
    "key",
    [
        "network_mode",
        "pid",
        "ipc",
        "devices",
        "external_links",
        "volumes_from",
        "use_api_socket",
        "gpus",
    ],
)
def test_unsupported_keys(project: Project, key: str) -> None:
    err = project.error(service(f"image: x\n{key}: x"))
    assert f"services.svc.{key}: Compose key '{key}' is not supported here: " in str(err)


def test_container_name(project: Project) -> None:
    spec = project.load(service("image: x\ncontainer_name: db-1"))
    assert spec.services["svc"].aliases == ("db-1",)
    (warning,) = spec.diagnostics
    assert warning.category == "translated" and warning.key == "container_name"
    assert "'container_name' is dropped (a fixed name collides" in warning.message


def test_service_not_a_mapping(project: Project) -> None:
    err = project.error("services:\n  db:\n")
    assert "services.db: expected a mapping, got nothing (null)" in str(err)
    assert err.line == 2


@pytest.mark.parametrize("name", ["-db", "d b", "db!", "_db"])
def test_invalid_service_names(project: Project, name: str) -> None:
    err = project.error(f"services:\n  '{name}': {{image: x}}\n")
    assert f"invalid service name {name!r}" in str(err)


def test_valid_service_names(project: Project) -> None:
    spec = project.load("services:\n  a.b-c_1: {image: x}\n  0db: {image: x}\n")
    assert list(spec.services) == ["a.b-c_1", "0db"]
