"""Services from testcontainers-python modules, on the Docker backend.

The module keeps what it knows — its configuration and its wait logic (Kafka's
listener that depends on the published port, LocalStack's health endpoint...)
— and the environment gets what every service has: the environment's network
under the service's name, the plugin's labels (so teardown, keep, reuse,
``eph ls`` and the reaper treat it like any container), ports published on
127.0.0.1 only, a name of the environment. Ryuk stays off: the plugin's own
reaper removes what a killed run leaves.

``testcontainers`` is an optional dependency (``pytest-ephemeral[testcontainers]``),
imported only when a spec names a module.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import EphemeralError

if TYPE_CHECKING:
    from ..runtime.backend import ModuleHandle, ModuleRequest

__all__ = ["start_module"]


class _Network:
    """What a module's ``with_network`` needs of a network: its name (the
    environment already made it)."""

    def __init__(self, name: str) -> None:
        self.name = name


def _configure_library(docker_host: str | None) -> None:
    try:
        from testcontainers.core.config import testcontainers_config as config
    except ImportError as exc:
        raise EphemeralError(
            f"testcontainers services need the testcontainers package ({exc}); "
            "install pytest-ephemeral[testcontainers]"
        ) from None
    from testcontainers.core.config import ConnectionMode

    config.ryuk_disabled = True  # the plugin's reaper replaces Ryuk
    if not config.tc_host_override and not config.connection_mode_override:
        # inside a container (/.dockerenv) the library guesses the bridge gateway:
        # the plugin publishes on 127.0.0.1 of the engine's host, so that is the host
        config.tc_host_override = "127.0.0.1"
        config.connection_mode_override = ConnectionMode.docker_host


def _load(target: str) -> type[Any]:
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise EphemeralError(
            f"cannot import testcontainers module {module_name!r}: {type(exc).__name__}: {exc} "
            "(install it, e.g. pip install 'testcontainers[redis]', or fix the class path)"
        ) from None
    cls = getattr(module, class_name, None)
    if not inspect.isclass(cls):
        raise EphemeralError(
            f"{module_name!r} has no class {class_name!r} (give module:Class, e.g. "
            "testcontainers.redis:RedisContainer)"
        )
    return cls


def _localize_ports(container: Any, host_ip: str) -> None:
    """Publish every port the module exposes on ``host_ip`` only (the library
    publishes on every interface)."""
    ports: dict[str, Any] = {}
    for port, hp in dict(container.ports).items():
        ports[port] = hp if isinstance(hp, tuple) else ((host_ip, hp) if hp else (host_ip,))
    container.ports = ports


def start_module(request: ModuleRequest, created: Callable[[str], None]) -> ModuleHandle:
    from ..runtime.backend import ModuleHandle

    _configure_library(None)
    cls = _load(request.target)
    kwargs: dict[str, Any] = dict(request.args)
    if request.image:
        kwargs["image"] = request.image
    try:
        container = cls(**kwargs)
    except TypeError as exc:
        raise EphemeralError(f"{request.target}({', '.join(kwargs)}): {exc}") from None
    container.with_name(request.name)
    container.with_network(_Network(request.network))
    container.with_network_aliases(*request.aliases)
    for key, value in request.environment.items():
        container.with_env(key, value)
    container._kwargs = {**getattr(container, "_kwargs", {}), "labels": dict(request.labels)}
    configure = container._configure

    def configured() -> None:  # the module's own configuration first, then ours
        configure()
        _localize_ports(container, request.host_ip)

    container._configure = configured
    try:
        container.start()
    except Exception as exc:
        inner = getattr(container, "_container", None)
        if inner is not None:
            created(str(inner.id))
        tail = ""
        if inner is not None:
            try:
                tail = "\n" + "\n".join(inner.logs(tail=50).decode("utf-8", "replace").splitlines())
            except Exception:
                tail = ""
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EphemeralError(
            f"the module {request.target} failed to start: {message}{tail}"
        ) from None
    cid = str(container.get_container_id())
    created(cid)
    return ModuleHandle(container_id=cid, module=container)
