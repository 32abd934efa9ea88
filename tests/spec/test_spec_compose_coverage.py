"""Compose coverage, key by key: every key of compose-spec's JSON schema has a decision.

``data/compose-spec.json`` is compose-spec's own schema (see data/README.md).
The walk below visits every place the schema defines keys (the top level, a
service, deploy, build, healthcheck, the long forms of ports and volumes, ...)
and fails on a key without a decision in ``_keys.DECISIONS``, or on a decision
for a key the schema does not have. Then every service key is tried for real:
a sample value (itself checked against the schema, so it is valid Compose) is
loaded and must be honoured silently, warned once, or refused with
"Compose key 'x' is not supported here".
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from pytest_ephemeral.errors import SpecError
from pytest_ephemeral.spec import load_spec
from pytest_ephemeral.spec._keys import DECISIONS, PLUGIN_KEYS

SCHEMA: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "compose-spec.json").read_text(encoding="utf-8")
)
DEFS: dict[str, Any] = SCHEMA["definitions"]


def _ref(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = DEFS[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _object(node: dict[str, Any]) -> dict[str, Any]:
    """The object form of a schema node (resolving $ref and oneOf/anyOf)."""
    node = _ref(node)
    if "properties" in node:
        return node
    for choice in node.get("oneOf", []) + node.get("anyOf", []):
        found = _object(choice)
        if "properties" in found:
            return found
    if "items" in node:
        return _object(node["items"])
    if "patternProperties" in node:
        for pattern, value in node["patternProperties"].items():
            if pattern != "^x-":
                return _object(value)
    return node


def _keys(node: dict[str, Any]) -> set[str]:
    return set(_object(node).get("properties", {}))


def schema_scopes() -> dict[str, set[str]]:
    """scope -> the keys compose-spec defines there."""
    service = DEFS["service"]["properties"]
    deploy = DEFS["deployment"]
    resources = _object(deploy)["properties"]["resources"]
    mount = _object(service["volumes"])
    return {
        "top": set(SCHEMA["properties"]),
        "service": set(service),
        "deploy": _keys(deploy),
        "deploy.resources": _keys(resources),
        "deploy.resources.limits": _keys(_object(resources)["properties"]["limits"]),
        "deploy.resources.reservations": _keys(_object(resources)["properties"]["reservations"]),
        "healthcheck": _keys(DEFS["healthcheck"]),
        "build": _keys(service["build"]),
        "network": _keys(DEFS["network"]),
        "volume": _keys(DEFS["volume"]),
        "secret": _keys(DEFS["secret"]),
        "config": _keys(DEFS["config"]),
        "service.secrets": _keys(DEFS["service_config_or_secret"]),
        "service.networks": _keys(service["networks"]),
        "service.ports": _keys(service["ports"]),
        "service.volumes": set(mount["properties"]),
        "service.volumes.bind": _keys(mount["properties"]["bind"]),
        "service.volumes.volume": _keys(mount["properties"]["volume"]),
        "service.volumes.tmpfs": _keys(mount["properties"]["tmpfs"]),
        "service.depends_on": _keys(service["depends_on"]),
        "service.post_start": _keys(DEFS["service_hook"]),
        "service.env_file": _keys(DEFS["env_file"]),
        "include": _keys(DEFS["include"]),
        "extends": _keys(service["extends"]),
        "develop": _keys(DEFS["development"]),
        "logging": _keys(service["logging"]),
    }


SCOPES = schema_scopes()


def test_the_schema_is_compose_spec() -> None:
    assert SCHEMA["$schema"].startswith("https://json-schema.org/draft-07")
    assert len(SCOPES["service"]) >= 90
    assert {"services", "networks", "volumes", "secrets", "configs"} <= SCOPES["top"]


@pytest.mark.parametrize("scope", sorted(SCOPES))
def test_every_schema_key_has_a_decision(scope: str) -> None:
    decided = set(DECISIONS[scope])
    missing = sorted(SCOPES[scope] - decided)
    assert not missing, f"{scope}: keys of the Compose schema without a decision: {missing}"
    invented = sorted(decided - SCOPES[scope])
    assert not invented, f"{scope}: decisions for keys the schema does not define: {invented}"


def test_every_decision_scope_is_walked() -> None:
    assert set(DECISIONS) == set(SCOPES)


@pytest.mark.parametrize(
    ("scope", "key"),
    [(s, k) for s, table in DECISIONS.items() for k, d in table.items() if d.kind != "honoured"],
)
def test_warned_and_refused_keys_say_why(scope: str, key: str) -> None:
    decision = DECISIONS[scope][key]
    assert decision.why, (scope, key)
    if decision.kind == "refused":
        assert decision.fix, (scope, key)


# -- every service key, loaded for real ---------------------------------------------

# service key -> (the service's lines, extra top-level YAML). Each sample is valid
# Compose (checked against the schema below).
SAMPLES: dict[str, tuple[str, str]] = {
    "annotations": ("annotations: {a: b}", ""),
    "attach": ("attach: false", ""),
    "blkio_config": ("blkio_config: {weight: 300}", ""),
    "build": ("build: ./ctx", ""),
    "cap_add": ("cap_add: [NET_ADMIN]", ""),
    "cap_drop": ("cap_drop: [ALL]", ""),
    "cgroup": ("cgroup: host", ""),
    "cgroup_parent": ("cgroup_parent: m-executor", ""),
    "command": ("command: [sleep, '1']", ""),
    "configs": ("configs: [app]", "configs: {app: {content: hello}}"),
    "container_name": ("container_name: shop-db", ""),
    "cpu_count": ("cpu_count: 2", ""),
    "cpu_percent": ("cpu_percent: 50", ""),
    "cpu_period": ("cpu_period: 100000", ""),
    "cpu_quota: ": ("cpu_quota: 50000", ""),
    "cpu_rt_period": ("cpu_rt_period: 11000", ""),
    "cpu_rt_runtime": ("cpu_rt_runtime: 10000", ""),
    "cpu_shares": ("cpu_shares: 512", ""),
    "cpus": ("cpus: 1.5", ""),
    "cpuset": ("cpuset: 0-1", ""),
    "credential_spec": ("credential_spec: {file: spec.json}", ""),
    "depends_on": ("depends_on: [other]", ""),
    "deploy": ("deploy: {replicas: 2, resources: {limits: {memory: 256m}}}", ""),
    "develop": ("develop: {watch: [{path: ./src, action: sync, target: /src}]}", ""),
    "device_cgroup_rules": ("device_cgroup_rules: ['c 1:3 mr']", ""),
    "devices": ("devices: ['/dev/ttyUSB0:/dev/ttyUSB0']", ""),
    "dns": ("dns: 8.8.8.8", ""),
    "dns_opt": ("dns_opt: [use-vc]", ""),
    "dns_search": ("dns_search: example.com", ""),
    "domainname": ("domainname: example.com", ""),
    "entrypoint": ("entrypoint: [sh, -c]", ""),
    "env_file": ("env_file: [{path: missing.env, required: false}]", ""),
    "environment": ("environment: {A: '1'}", ""),
    "expose": ("expose: ['3000-3001']", ""),
    "extends": ("extends: other", ""),
    "external_links": ("external_links: [redis_1]", ""),
    "extra_hosts": ("extra_hosts: ['somehost=162.242.195.82']", ""),
    "gpus": ("gpus: all", ""),
    "group_add": ("group_add: [mail]", ""),
    "healthcheck": ("healthcheck: {disable: true}", ""),
    "hostname": ("hostname: db", ""),
    "image": ("image: postgres:16", ""),
    "init": ("init: true", ""),
    "ipc": ("ipc: host", ""),
    "isolation": ("isolation: process", ""),
    "label_file": ("label_file: ./labels.env", ""),
    "labels": ("labels: [a=b]", ""),
    "links": ("links: ['other:database']", ""),
    "logging": (
        "logging: {driver: syslog, options: {syslog-address: 'tcp://192.168.0.42:123'}}",
        "",
    ),
    "mac_address": ("mac_address: 02:42:ac:11:65:43", ""),
    "mem_limit": ("mem_limit: 1g", ""),
    "mem_reservation": ("mem_reservation: 512m", ""),
    "mem_swappiness": ("mem_swappiness: 10", ""),
    "memswap_limit": ("memswap_limit: -1", ""),
    "models": ("models: [llm]", ""),
    "network_mode": ("network_mode: host", ""),
    "networks": ("networks: {back: {aliases: [database]}}", "networks: {back: {}}"),
    "oom_kill_disable": ("oom_kill_disable: true", ""),
    "oom_score_adj": ("oom_score_adj: 500", ""),
    "pid": ("pid: host", ""),
    "pids_limit": ("pids_limit: 100", ""),
    "platform": ("platform: linux/amd64", ""),
    "ports": ("ports: ['8000-8001', {target: 9000, published: '9000', mode: host}]", ""),
    "post_start": ("post_start: [{command: [touch, /ready], user: root}]", ""),
    "pre_stop": ("pre_stop: [{command: ./cleanup.sh}]", ""),
    "privileged": ("privileged: false", ""),
    "profiles": ("profiles: [debug]", ""),
    "provider": ("provider: {type: awesomecloud, options: {type: mysql}}", ""),
    "pull_policy": ("pull_policy: every_12h", ""),
    "pull_refresh_after": ("pull_refresh_after: 12h", ""),
    "read_only": ("read_only: true", ""),
    "restart": ("restart: unless-stopped", ""),
    "runtime": ("runtime: runc", ""),
    "scale": ("scale: 2", ""),
    "secrets": ("secrets: [token]", "secrets: {token: {environment: TOKEN}}"),
    "security_opt": ("security_opt: ['label=user:USER']", ""),
    "shm_size": ("shm_size: 256m", ""),
    "stdin_open": ("stdin_open: true", ""),
    "stop_grace_period": ("stop_grace_period: 1m30s", ""),
    "stop_signal": ("stop_signal: SIGUSR1", ""),
    "storage_opt": ("storage_opt: {size: 1G}", ""),
    "sysctls": ("sysctls: {net.core.somaxconn: 1024}", ""),
    "tmpfs": ("tmpfs: [/run]", ""),
    "tty": ("tty: true", ""),
    "ulimits": ("ulimits: {nproc: 65535, nofile: {soft: 20000, hard: 40000}}", ""),
    "use_api_socket": ("use_api_socket: true", ""),
    "user": ("user: postgres", ""),
    "userns_mode": ("userns_mode: host", ""),
    "uts": ("uts: host", ""),
    "volumes": (
        "volumes: [{type: volume, source: data, target: /d, volume: {nocopy: true}}]",
        "volumes: {data: {}}",
    ),
    "volumes_from": ("volumes_from: [other]", ""),
    "working_dir": ("working_dir: /srv", ""),
}
SAMPLES["cpu_quota"] = SAMPLES.pop("cpu_quota: ")


def _spec_text(key: str) -> str:
    body, extra = SAMPLES[key]
    image = "" if key in ("image", "build", "extends") else "    image: busybox\n"
    if key == "extends":
        image = ""
    text = f"services:\n  svc:\n{image}    {body}\n  other:\n    image: busybox\n"
    if extra:
        text += extra + "\n"
    return text


def test_every_service_key_has_a_sample() -> None:
    assert set(SAMPLES) == SCOPES["service"]


@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_sample_is_valid_compose(key: str) -> None:
    document = yaml.safe_load(_spec_text(key))
    jsonschema.Draft7Validator(SCHEMA).validate(document)


def _warnings_about(messages: tuple[str, ...], key: str) -> list[str]:
    return [m for m in messages if f"Compose key '{key}'" in m]


@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_service_key_behaves_as_decided(tmp_path: Path, key: str) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text("FROM busybox\n", encoding="utf-8")
    (tmp_path / "labels.env").write_text("team=shop\n", encoding="utf-8")
    path = tmp_path / "compose.yaml"
    path.write_text(_spec_text(key), encoding="utf-8")
    decision = DECISIONS["service"][key]
    if decision.kind == "refused":
        with pytest.raises(SpecError) as info:
            load_spec(path, environ={"TOKEN": "t"})
        message = str(info.value)
        assert "\n" not in message
        assert f"services.svc.{key}: Compose key '{key}' is not supported here: " in message
        assert decision.why in message
        return
    spec = load_spec(path, environ={"TOKEN": "t"})
    about = _warnings_about(spec.warnings, key)
    if decision.kind == "warned":
        assert len(about) == 1, spec.warnings
        assert f"services.svc.{key}: Compose key '{key}' is ignored: {decision.why}" in about[0]
        (structured,) = (d for d in spec.diagnostics if d.key == key)
        assert structured.category == "ignored" and structured.count == 1
    else:
        assert about == [], spec.warnings
        assert "svc" in spec.services or key == "profiles"


def test_warned_key_counts_services_not_lines(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            services:
              a: {image: x, restart: always, logging: {driver: local}}
              b: {image: x, restart: always}
              c: {image: x, restart: on-failure}
            """
        ),
        encoding="utf-8",
    )
    spec = load_spec(path, environ={})
    restart = [d for d in spec.diagnostics if d.key == "restart"]
    assert len(restart) == 1
    assert restart[0].count == 3 and restart[0].line == 2 and restart[0].file == str(path)
    assert restart[0].message.endswith("[3 places; also line(s) 3, 4]")
    assert [d.key for d in spec.diagnostics] == ["restart", "logging"]
    assert spec.warnings == tuple(d.message for d in spec.diagnostics)


def test_warned_key_with_a_value_compose_refuses(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text("services:\n  a:\n    image: x\n    restart: [always]\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path, environ={})
    assert "compose.yaml:4: services.a.restart: expected a string, got a list" in str(info.value)


def _nested_samples() -> Iterator[tuple[str, str, str]]:
    """(scope, key, spec text) for the warned and refused keys below a service."""
    wrap = {
        "deploy": "    deploy: {{{k}: {v}}}\n",
        "build": "    build: {{context: ./ctx, {k}: {v}}}\n",
        "healthcheck": "    healthcheck: {{test: [CMD, 'true'], {k}: {v}}}\n",
        "service.networks": "    networks: {{back: {{{k}: {v}}}}}\n",
        "service.ports": "    ports: [{{target: 80, {k}: {v}}}]\n",
        "service.depends_on": "    depends_on: {{other: {{condition: service_started, {k}: {v}}}}}\n",
        "network": "",
        "volume": "",
    }
    values = {
        "labels": "[a=b]",
        "placement": "{constraints: [node.role==manager]}",
        "restart_policy": "{condition: on-failure}",
        "rollback_config": "{parallelism: 1}",
        "update_config": "{parallelism: 1}",
        "endpoint_mode": "dnsrr",
        "cache_from": "[x]",
        "cache_to": "[x]",
        "network": "host",
        "pull": "true",
        "no_cache": "true",
        "platforms": "[linux/amd64]",
        "tags": "[x]",
        "extra_hosts": "['a=1.2.3.4']",
        "shm_size": "2g",
        "isolation": "process",
        "ulimits": "{nofile: 1024}",
        "provenance": "true",
        "sbom": "true",
        "dockerfile_inline": "'FROM x'",
        "ssh": "[default]",
        "secrets": "[s]",
        "additional_contexts": "{a: ./ctx}",
        "privileged": "true",
        "entitlements": "[network.host]",
        "start_interval": "1s",
        "ipv4_address": "172.16.238.10",
        "ipv6_address": "'2001:3984:3989::10'",
        "link_local_ips": "[57.123.22.11]",
        "mac_address": "02:42:ac:11:65:43",
        "priority": "1000",
        "gw_priority": "1",
        "driver_opts": "{a: b}",
        "interface_name": "eth1",
        "mode": "host",
        "app_protocol": "http",
        "name": "web",
        "restart": "true",
    }
    for scope, template in wrap.items():
        if not template:
            continue
        for key, decision in DECISIONS[scope].items():
            if decision.kind == "honoured":
                continue
            body = template.format(k=key, v=values[key])
            extra = "networks: {back: {}}\n" if scope == "service.networks" else ""
            if scope == "build" and key == "secrets":
                extra = "secrets: {s: {environment: TOKEN}}\n"
            yield (
                scope,
                key,
                f"services:\n  svc:\n    image: x\n{body}  other:\n    image: x\n{extra}",
            )


NESTED = list(_nested_samples())


@pytest.mark.parametrize(("scope", "key", "text"), NESTED, ids=[f"{s}.{k}" for s, k, _ in NESTED])
def test_nested_key_behaves_as_decided(tmp_path: Path, scope: str, key: str, text: str) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text("FROM x\n", encoding="utf-8")
    jsonschema.Draft7Validator(SCHEMA).validate(yaml.safe_load(text))
    path = tmp_path / "compose.yaml"
    path.write_text(text, encoding="utf-8")
    decision = DECISIONS[scope][key]
    if decision.kind == "refused":
        with pytest.raises(SpecError) as info:
            load_spec(path, environ={"TOKEN": "t"})
        assert f"Compose key '{key}' is not supported here: {decision.why}" in str(info.value)
    else:
        spec = load_spec(path, environ={"TOKEN": "t"})
        assert len(_warnings_about(spec.warnings, key)) == 1, spec.warnings


def test_plugin_keys_are_not_compose_keys() -> None:
    assert not set(PLUGIN_KEYS) & SCOPES["service"]


def test_the_reference_page_shows_every_decision() -> None:
    from pytest_ephemeral.spec._keys import decision_table

    page = Path(__file__).parents[2] / "docs" / "reference" / "spec.md"
    text = page.read_text(encoding="utf-8")
    block = text.split("<!-- decisions:start -->\n", 1)[1].split("\n<!-- decisions:end -->", 1)[0]
    assert block == decision_table(), "regenerate the table in docs/reference/spec.md"
