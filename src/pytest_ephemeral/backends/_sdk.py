"""The Docker SDK, imported without its ssh transport unless an ssh:// engine
needs it.

``import docker`` imports ``docker.transport.sshconn`` whenever paramiko is
installed, and with it paramiko, cryptography, nacl, bcrypt and invoke: about
two thirds of the SDK's import time (``python -X importtime -c "import docker"``),
paid by every run that starts an environment, on a unix socket or tcp engine too.
Here the SDK is imported with that one module held back (the SDK itself
treats it as optional); :func:`ssh_transport` binds it for an ssh:// engine.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

__all__ = ["ssh_transport"]

_SSH = "docker.transport.sshconn"


class _HoldBackSSH(importlib.abc.MetaPathFinder):
    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == _SSH:
            raise ImportError(f"{_SSH}: imported only for an ssh:// engine")
        return None


def _import_sdk() -> None:
    if "docker" in sys.modules:  # imported already (by the user's code): as it is
        return
    finder = _HoldBackSSH()
    sys.meta_path.insert(0, finder)
    try:
        import docker  # noqa: F401
    finally:
        sys.meta_path.remove(finder)


def ssh_transport() -> None:
    """Make the SDK's ssh:// support available (imports paramiko)."""
    import docker.api.client
    import docker.transport
    from docker.transport.sshconn import SSHHTTPAdapter

    docker.transport.SSHHTTPAdapter = SSHHTTPAdapter
    docker.api.client.SSHHTTPAdapter = SSHHTTPAdapter


_import_sdk()
