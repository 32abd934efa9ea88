"""Which keys a spec may hold, which are ignored, which are refused, and why."""

from __future__ import annotations

import re
from types import MappingProxyType

__all__ = [
    "CONDITIONS",
    "IGNORED_SERVICE_KEYS",
    "NAME_PATTERN",
    "PLUGIN_KEYS",
    "SERVICE_KEYS",
    "UNSUPPORTED_SERVICE_KEYS",
    "all_service_keys",
]

# Compose's pattern for service, network and volume names.
NAME_PATTERN = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")

CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")

PLUGIN_KEYS = ("wait", "seed")

SERVICE_KEYS = (
    "image",
    "build",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "expose",
    "depends_on",
    "healthcheck",
    "volumes",
    "tmpfs",
    "networks",
    "labels",
    "user",
    "working_dir",
    "cpus",
    "mem_limit",
    "profiles",
    "privileged",
    *PLUGIN_KEYS,
    "x-ephemeral",
)

# Understood, safe to ignore for a throwaway test environment: a warning each.
IGNORED_SERVICE_KEYS = MappingProxyType(
    {
        "restart": "test containers are never restarted",
        "stop_grace_period": "teardown removes containers without waiting",
        "stop_signal": "teardown removes containers without stopping them first",
        "init": "containers run without an init process",
        "hostname": "services are reached by their service name",
        "domainname": "services are reached by their service name",
        "shm_size": "the engine's default /dev/shm size is used",
        "cap_add": "containers get the engine's default capabilities",
        "cap_drop": "containers get the engine's default capabilities",
        "tty": "no terminal is attached to test containers",
        "stdin_open": "no terminal is attached to test containers",
        "logging": "logs are read through the engine's default driver",
        "pull_policy": "the engine decides when to pull",
        "platform": "images run on the engine's own platform",
        "ulimits": "the engine's default limits apply",
        "sysctls": "the engine's default kernel settings apply",
        "extra_hosts": "only the services of the environment are named",
        "dns": "the environment's network resolves names",
        "dns_search": "the environment's network resolves names",
        "read_only": "the container's file system stays writable",
        "mem_reservation": "only mem_limit is applied",
        "security_opt": "the engine's default security options apply",
        "oom_score_adj": "the engine's default applies",
    }
)

# Understood but refused: using them would break isolation or cannot be honoured.
_NAMESPACES = "remove it; sharing namespaces with the host or another container breaks isolation"
UNSUPPORTED_SERVICE_KEYS = MappingProxyType(
    {
        "container_name": "remove it: a fixed name collides between parallel runs and xdist "
        "workers; services are reached by their service name",
        "deploy": "use cpus: and mem_limit: for limits; each service is one container",
        "scale": "declare one service per container",
        "network_mode": "remove it; services share the environment's own network, "
        "and networks: adds more",
        "pid": _NAMESPACES,
        "ipc": _NAMESPACES,
        "uts": _NAMESPACES,
        "userns_mode": _NAMESPACES,
        "cgroup_parent": "remove it; test containers use the engine's default cgroup",
        "devices": "remove it; host devices are not passed to test containers",
        "gpus": "remove it; host devices are not passed to test containers",
        "links": "remove it; services reach each other by service name, "
        "and depends_on: sets the start order",
        "external_links": "remove it; an environment reaches only its own services",
        "extends": "copy the base service in, or share keys with a YAML anchor and '<<: *base'",
        "secrets": "pass the value with environment: or env_file:",
        "configs": "mount the file with a bind volume, e.g. './app.conf:/etc/app.conf:ro'",
        "volumes_from": "declare a named volume under the top-level volumes: and mount it "
        "in both services",
    }
)


def all_service_keys() -> tuple[str, ...]:
    """Every key a service may name (for 'did you mean')."""
    return (*SERVICE_KEYS, *IGNORED_SERVICE_KEYS, *UNSUPPORTED_SERVICE_KEYS)
