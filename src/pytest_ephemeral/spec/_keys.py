"""Which keys a spec may hold: every key of the Compose specification has a decision.

A decision is one of

- ``honoured``: read into the model (possibly translated: the parser then warns once,
  e.g. ``container_name`` becomes a network alias);
- ``warned``: accepted and ignored with one warning per key and file, because
  ignoring it cannot change what a test sees;
- ``refused``: a one-line error, "Compose key 'x' is not supported here: why (fix)".

``tests/spec/test_spec_compose_coverage.py`` walks compose-spec's JSON schema and
fails on any key without a decision here. A key that is not in a table and not an
``x-`` extension is a typo: "unknown key" with a "did you mean".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

__all__ = [
    "CONDITIONS",
    "DECISIONS",
    "NAME_PATTERN",
    "PLUGIN_KEYS",
    "Decision",
    "Shape",
    "all_service_keys",
]

# Compose's pattern for service, network and volume names.
NAME_PATTERN = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")

CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")

# The plugin's own service keys (also accepted under a service's x-ephemeral:).
PLUGIN_KEYS = ("wait", "seed", "external", "testcontainers")

Kind = Literal["honoured", "warned", "refused"]
# What a warned key's value must look like (Compose refuses anything else).
Shape = Literal["any", "string", "boolean", "number", "mapping", "list", "string_or_list", "dict"]


@dataclass(frozen=True, slots=True)
class Decision:
    kind: Kind
    why: str = ""  # warned: why ignoring it is safe; refused: why it cannot be honoured
    fix: str = ""  # refused: what to write instead
    shape: Shape = "any"  # warned keys: the value's type, checked as Compose checks it


def _h(why: str = "") -> Decision:
    return Decision("honoured", why)


def _w(why: str, shape: Shape = "any") -> Decision:
    return Decision("warned", why, shape=shape)


def _r(why: str, fix: str) -> Decision:
    return Decision("refused", why, fix)


_NAMESPACES = "sharing namespaces with the host or another container breaks isolation"
_DEVICES = "host devices are not passed to test containers"

_TOP = {
    "version": _w("it is obsolete; Compose ignores it too", "string"),
    "name": _h(),
    "include": _h(),
    "services": _h(),
    "networks": _h(),
    "volumes": _h(),
    "secrets": _h(),
    "configs": _h(),
    "models": _r(
        "AI models need Docker Model Runner, which test environments do not drive",
        "run the model as a service with an image, or point the code at a kept server",
    ),
}

_SERVICE = {
    # honoured: read into ServiceSpec
    "image": _h(),
    "build": _h(),
    "command": _h(),
    "entrypoint": _h(),
    "environment": _h(),
    "env_file": _h(),
    "ports": _h(),
    "expose": _h(),
    "depends_on": _h(),
    "healthcheck": _h(),
    "volumes": _h(),
    "tmpfs": _h(),
    "networks": _h(),
    "labels": _h(),
    "label_file": _h(),
    "user": _h(),
    "working_dir": _h(),
    "cpus": _h(),
    "mem_limit": _h(),
    "profiles": _h(),
    "privileged": _h(),
    "container_name": _h("dropped (names are per run), kept as a network alias"),
    "links": _h("a dependency plus a network alias"),
    "extends": _h(),
    "secrets": _h(),
    "configs": _h(),
    "deploy": _h("resources and replicas; the other deploy keys are warned"),
    "scale": _h("replicas"),
    "pull_policy": _h(),
    "pull_refresh_after": _h("the period of pull_policy: refresh"),
    "post_start": _h(),
    # honoured: carried in ServiceSpec.engine / .resources for the backend to pass
    "runtime": _h(),
    "platform": _h(),
    "hostname": _h(),
    "domainname": _h(),
    "init": _h(),
    "read_only": _h(),
    "tty": _h(),
    "stdin_open": _h(),
    "stop_signal": _h(),
    "stop_grace_period": _h(),
    "shm_size": _h(),
    "pids_limit": _h(),
    "cpu_shares": _h(),
    "cpu_period": _h(),
    "cpu_quota": _h(),
    "cpu_rt_period": _h(),
    "cpu_rt_runtime": _h(),
    "cpu_count": _h(),
    "cpu_percent": _h(),
    "cpuset": _h(),
    "mem_reservation": _h(),
    "memswap_limit": _h(),
    "mem_swappiness": _h(),
    "oom_kill_disable": _h(),
    "oom_score_adj": _h(),
    "blkio_config": _h("weight; the per-device limits are warned"),
    "ulimits": _h(),
    "sysctls": _h(),
    "storage_opt": _h(),
    "extra_hosts": _h(),
    "group_add": _h(),
    "cap_add": _h(),
    "cap_drop": _h(),
    "security_opt": _h(),
    # warned: ignoring them cannot change what a test sees
    "restart": _w("test containers are never restarted", "string"),
    "logging": _w("logs are read through the engine's default driver", "mapping"),
    "develop": _w("file watching is for development, not for test runs", "mapping"),
    "attach": _w("the plugin reads logs itself", "boolean"),
    "pre_stop": _w("teardown removes containers without stopping them first", "list"),
    "dns": _w("the environment's network resolves the service names", "string_or_list"),
    "dns_search": _w("the environment's network resolves the service names", "string_or_list"),
    "dns_opt": _w("the environment's network resolves the service names", "list"),
    "mac_address": _w("services are reached by name, not by MAC address", "string"),
    "annotations": _w("annotations inform the runtime only; use labels: for metadata", "dict"),
    "credential_spec": _w("it configures Windows containers only", "mapping"),
    "isolation": _w("it configures Windows containers only", "string"),
    # refused: cannot be honoured without breaking isolation
    "network_mode": _r(
        "services share the environment's own network",
        "remove it; networks: adds more networks",
    ),
    "pid": _r(_NAMESPACES, "remove it"),
    "ipc": _r(_NAMESPACES, "remove it"),
    "uts": _r(_NAMESPACES, "remove it"),
    "userns_mode": _r(_NAMESPACES, "remove it"),
    "cgroup": _r(_NAMESPACES, "remove it; containers get a private cgroup namespace"),
    "cgroup_parent": _r("test containers use the engine's default cgroup parent", "remove it"),
    "devices": _r(_DEVICES, "remove it"),
    "device_cgroup_rules": _r(_DEVICES, "remove it"),
    "gpus": _r(_DEVICES, "remove it"),
    "external_links": _r(
        "an environment reaches only its own services",
        "add the service to the spec, or make it an external: service",
    ),
    "volumes_from": _r(
        "containers of a run share data through named volumes",
        "declare a named volume under the top-level volumes: and mount it in both services",
    ),
    "use_api_socket": _r(
        "it hands the Docker engine to the container",
        "mount /var/run/docker.sock explicitly if the service really drives Docker",
    ),
    "provider": _r(
        "provider services run outside any container the plugin controls",
        "run the resource as a service with an image, or as an external: service",
    ),
    "models": _r(
        "AI models need Docker Model Runner, which test environments do not drive",
        "pass the model's address with environment:",
    ),
}

_DEPLOY = {
    "resources": _h(),
    "replicas": _h(),
    "mode": _h("replicated; global is one replica"),
    "labels": _w("they label Swarm services; the containers keep labels:", "dict"),
    "placement": _w("each environment lives on one engine", "mapping"),
    "restart_policy": _w("test containers are never restarted", "mapping"),
    "rollback_config": _w("environments are never updated in place", "mapping"),
    "update_config": _w("environments are never updated in place", "mapping"),
    "endpoint_mode": _w("replicas are reached through the service's name", "string"),
}

_RESOURCES = {"limits": _h(), "reservations": _h()}
_LIMITS = {"cpus": _h(), "memory": _h(), "pids": _h()}
_RESERVATIONS = {
    "cpus": _h(),
    "memory": _h(),
    "devices": _r(_DEVICES, "remove it"),
    "generic_resources": _r("they describe Swarm node resources", "remove it"),
}

_HEALTHCHECK = {
    "test": _h(),
    "interval": _h(),
    "timeout": _h(),
    "retries": _h(),
    "start_period": _h(),
    "disable": _h(),
    "start_interval": _w("interval applies from the start", "string"),
}

_BUILD_INLINE = "write the build into a Dockerfile in the context folder"
_BUILD = {
    "context": _h(),
    "dockerfile": _h(),
    "args": _h(),
    "target": _h(),
    "cache_from": _w("the engine's own build cache is used", "list"),
    "cache_to": _w("the engine's own build cache is used", "list"),
    "labels": _w("image labels do not change the containers", "dict"),
    "network": _w("builds use the engine's default network", "string"),
    "pull": _w("the engine decides when to pull build bases", "boolean"),
    "no_cache": _w("the engine's own build cache is used", "boolean"),
    "platforms": _w("images are built for the engine's own platform", "list"),
    "tags": _w("the plugin names the images it builds", "list"),
    "extra_hosts": _w("build-time host names do not change the image's behaviour", "any"),
    "shm_size": _w("the engine's default build /dev/shm size is used", "any"),
    "isolation": _w("it configures Windows builds only", "string"),
    "ulimits": _w("the engine's default build limits are used", "mapping"),
    "provenance": _w("attestations do not change the image's behaviour", "any"),
    "sbom": _w("attestations do not change the image's behaviour", "any"),
    "dockerfile_inline": _r("builds need a Dockerfile in a folder", _BUILD_INLINE),
    "ssh": _r("builds get no SSH agent", _BUILD_INLINE),
    "secrets": _r("builds get no secrets", _BUILD_INLINE),
    "additional_contexts": _r("a build has one context folder", _BUILD_INLINE),
    "privileged": _r("builds run unprivileged", _BUILD_INLINE),
    "entitlements": _r("builds run without extra entitlements", _BUILD_INLINE),
}

_NETWORK = {
    "external": _h("a network of the environment's own, with a warning"),
    "name": _w("networks are named per run", "string"),
    "driver": _w("the engine's default driver is used", "string"),
    "driver_opts": _w("the engine's default driver is used", "dict"),
    "attachable": _w("networks of the docker backend are local to the run", "boolean"),
    "enable_ipv4": _w("the engine's default addressing is used", "boolean"),
    "enable_ipv6": _w("the engine's default addressing is used", "boolean"),
    "ipam": _w("the engine chooses the subnet, so runs never collide", "mapping"),
    "internal": _w("every network of an environment reaches only its services", "boolean"),
    "labels": _w("the plugin labels what it creates", "dict"),
}

_VOLUME = {
    "external": _h("a volume of the environment's own, with a warning"),
    "name": _w("volumes are named per run", "string"),
    "driver": _w("the engine's default driver is used", "string"),
    "driver_opts": _w("the engine's default driver is used", "dict"),
    "labels": _w("the plugin labels what it creates", "dict"),
}

_SECRET = {
    "file": _h(),
    "environment": _h(),
    "name": _w("the file is mounted under the key's name", "string"),
    "labels": _w("labels of Swarm secrets do not reach the container", "dict"),
    "external": _r(
        "external secrets live in a Swarm",
        "give the secret a file: or environment: source for tests",
    ),
    "driver": _r("secret drivers belong to a Swarm", "use file: or environment:"),
    "driver_opts": _r("secret drivers belong to a Swarm", "use file: or environment:"),
    "template_driver": _r("templated secrets belong to a Swarm", "use file: or environment:"),
}

_CONFIG = {
    "file": _h(),
    "environment": _h(),
    "content": _h(),
    "name": _w("the file is mounted under the key's name", "string"),
    "labels": _w("labels of Swarm configs do not reach the container", "dict"),
    "external": _r(
        "external configs live in a Swarm",
        "give the config a file:, environment: or content: source for tests",
    ),
    "template_driver": _r(
        "templated configs belong to a Swarm", "use file:, environment: or content:"
    ),
}

_SERVICE_SECRET = {"source": _h(), "target": _h(), "uid": _h(), "gid": _h(), "mode": _h()}

_SERVICE_NETWORK = {
    "aliases": _h(),
    "ipv4_address": _w("the engine chooses addresses, so runs never collide", "string"),
    "ipv6_address": _w("the engine chooses addresses, so runs never collide", "string"),
    "link_local_ips": _w("the engine chooses addresses, so runs never collide", "list"),
    "mac_address": _w("services are reached by name, not by MAC address", "string"),
    "priority": _w("networks are attached in the order written", "number"),
    "gw_priority": _w("the engine chooses the default gateway", "number"),
    "driver_opts": _w("the engine's default driver is used", "dict"),
    "interface_name": _w("the engine names the interfaces", "string"),
}

_PORT = {
    "target": _h(),
    "published": _h(),
    "host_ip": _h(),
    "protocol": _h(),
    "mode": _w("ports are published on the engine's host", "string"),
    "app_protocol": _w("it is a hint for tools; the port is published the same", "string"),
    "name": _w("it is a label for people; the port is published the same", "string"),
}

_MOUNT = {
    "type": _h(),
    "source": _h(),
    "target": _h(),
    "read_only": _h(),
    "bind": _h(),
    "volume": _h(),
    "tmpfs": _h(),
    "consistency": _w("it tunes Docker Desktop's file sharing only", "string"),
    "image": _r("image mounts need a recent engine", "copy the files into a volume or a bind"),
}
_MOUNT_BIND = {
    "create_host_path": _h(),
    "propagation": _w("test containers do not share mounts back", "string"),
    "selinux": _w("the engine's default labelling applies", "string"),
    "recursive": _w("the engine's default applies", "string"),
}
_MOUNT_VOLUME = {
    "nocopy": _w("the volume starts empty for every run anyway", "any"),
    "subpath": _h(),
    "labels": _w("the plugin labels what it creates", "dict"),
}
_MOUNT_TMPFS = {"size": _h(), "mode": _h()}

_DEPENDS = {
    "condition": _h(),
    "required": _h(),
    "restart": _w("test containers are never restarted", "any"),
}

_INCLUDE = {
    "path": _h(),
    "env_file": _h(),
    "project_directory": _h(),
}

_EXTENDS = {"service": _h(), "file": _h()}

_HOOK = {
    "command": _h(),
    "user": _h(),
    "privileged": _h(),
    "working_dir": _h(),
    "environment": _h(),
}

_ENV_FILE = {"path": _h(), "required": _h(), "format": _h()}

_DEVELOP = {"watch": _w("file watching is for development, not for test runs", "list")}

_LOGGING = {
    "driver": _w("logs are read through the engine's default driver", "string"),
    "options": _w("logs are read through the engine's default driver", "dict"),
}

# scope -> key -> decision. The scopes name the places the schema defines keys.
DECISIONS: Mapping[str, Mapping[str, Decision]] = MappingProxyType(
    {
        scope: MappingProxyType(table)
        for scope, table in {
            "top": _TOP,
            "service": _SERVICE,
            "deploy": _DEPLOY,
            "deploy.resources": _RESOURCES,
            "deploy.resources.limits": _LIMITS,
            "deploy.resources.reservations": _RESERVATIONS,
            "healthcheck": _HEALTHCHECK,
            "build": _BUILD,
            "network": _NETWORK,
            "volume": _VOLUME,
            "secret": _SECRET,
            "config": _CONFIG,
            "service.secrets": _SERVICE_SECRET,
            "service.networks": _SERVICE_NETWORK,
            "service.ports": _PORT,
            "service.volumes": _MOUNT,
            "service.volumes.bind": _MOUNT_BIND,
            "service.volumes.volume": _MOUNT_VOLUME,
            "service.volumes.tmpfs": _MOUNT_TMPFS,
            "service.depends_on": _DEPENDS,
            "service.post_start": _HOOK,
            "service.env_file": _ENV_FILE,
            "include": _INCLUDE,
            "extends": _EXTENDS,
            "develop": _DEVELOP,
            "logging": _LOGGING,
        }.items()
    }
)


def all_service_keys() -> tuple[str, ...]:
    """Every key a service may name (for 'did you mean')."""
    return (*DECISIONS["service"], *PLUGIN_KEYS)


_SCOPE_TITLES = {
    "top": "top level",
    "service": "a service",
    "deploy": "`deploy`",
    "deploy.resources": "`deploy.resources`",
    "deploy.resources.limits": "`deploy.resources.limits`",
    "deploy.resources.reservations": "`deploy.resources.reservations`",
    "healthcheck": "`healthcheck`",
    "build": "`build`",
    "network": "a top-level network",
    "volume": "a top-level volume",
    "secret": "a top-level secret",
    "config": "a top-level config",
    "service.secrets": "an entry of a service's `secrets`/`configs`",
    "service.networks": "a service's network",
    "service.ports": "a long-form port",
    "service.volumes": "a long-form mount",
    "service.volumes.bind": "a mount's `bind`",
    "service.volumes.volume": "a mount's `volume`",
    "service.volumes.tmpfs": "a mount's `tmpfs`",
    "service.depends_on": "a `depends_on` entry",
    "service.post_start": "a `post_start` hook",
    "service.env_file": "an `env_file` entry",
    "include": "an `include` entry",
    "extends": "`extends`",
    "develop": "`develop`",
    "logging": "`logging`",
}


def decision_table() -> str:
    """Every decision as a Markdown table (docs/reference/spec.md holds this text)."""
    lines = ["| where | key | decision | why / what to do |", "|---|---|---|---|"]
    for scope, table in DECISIONS.items():
        where = _SCOPE_TITLES[scope]
        for key in sorted(table):
            decision = table[key]
            why = decision.why
            if decision.kind == "refused":
                why = f"{why}; {decision.fix}"
            lines.append(f"| {where} | `{key}` | {decision.kind} | {why.replace('|', '/')} |")
    return "\n".join(lines)
