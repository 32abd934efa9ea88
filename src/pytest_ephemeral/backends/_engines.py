"""Which engine to talk to, found the way the ``docker`` CLI finds it.

In order: an address given explicitly (``--eph-hosts``, the reaper), then
``DOCKER_HOST`` (``unix://``, ``tcp://`` with ``DOCKER_TLS_VERIFY`` /
``DOCKER_TLS`` and ``DOCKER_CERT_PATH``, ``ssh://``), then the context named by
``DOCKER_CONTEXT``, then the configuration's ``currentContext``
(``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``) with its endpoint
and TLS material from the context store, then the rootless socket
``$XDG_RUNTIME_DIR/docker.sock``, then ``/var/run/docker.sock``.

Only the standard library is used (no Docker SDK): the report header asks this
module too, and a suite that never starts an environment should not pay for
the SDK. Bad input (a malformed ``DOCKER_HOST``, an unknown context, TLS files
missing) raises :class:`EngineConfigError`: one line naming the setting, the
file and the fix.

An engine reached over ``tcp://`` or ``ssh://`` on another machine is
*remote*: the ports of its containers are published on the address it was
reached by (:attr:`EngineEndpoint.bind_ip`), and :attr:`EngineEndpoint.publish_host`
is where this machine reaches them (``Service.host``, every wait, every URL).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..config import SettingsError

__all__ = [
    "DEFAULT_SOCKET",
    "PUBLISH_IP_VAR",
    "EngineConfigError",
    "EngineEndpoint",
    "TLSMaterial",
    "config_dir",
    "find_engine",
    "parse_engine_url",
]

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
_SCHEMES = ("unix", "tcp", "ssh", "http", "https")
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")
#: environment variable: the address published ports bind to on a remote engine
PUBLISH_IP_VAR = "EPH_PUBLISH_IP"


class EngineConfigError(SettingsError):
    """The engine's address, context or TLS material cannot be used as given."""


@dataclass(frozen=True, slots=True)
class TLSMaterial:
    """Client TLS for a ``tcp://`` engine: file paths (None: not used) and
    whether the server's certificate is verified against ``ca``."""

    verify: bool
    ca: str | None = None
    cert: str | None = None
    key: str | None = None


@dataclass(frozen=True, slots=True)
class EngineEndpoint:
    """One engine's address, how it was found, and where its ports are reached."""

    #: normalised: ``unix:///path``, ``tcp://host:port``, ``ssh://[user@]host[:port]``
    url: str
    #: how it was found, for messages and the report header: ``DOCKER_HOST``,
    #: ``context NAME from DOCKER_CONTEXT``, ``rootless socket``, ``default socket``...
    found_by: str
    tls: TLSMaterial | None = None
    #: the Docker context it came from (None: not from a context)
    context: str | None = None
    #: the bind address of published ports on a remote engine, when set by
    #: ``EPH_PUBLISH_IP`` (None: :attr:`bind_ip` decides)
    publish_ip: str | None = None

    @property
    def scheme(self) -> str:
        return self.url.partition("://")[0]

    @property
    def host(self) -> str | None:
        """The host part of a ``tcp://`` or ``ssh://`` URL (no user, no port, no brackets)."""
        if self.scheme not in ("tcp", "ssh"):
            return None
        return urlsplit(self.url).hostname

    @property
    def is_remote(self) -> bool:
        """Reached over the network on another machine (tcp or ssh to a
        non-loopback host): its published ports are not on this machine's 127.0.0.1."""
        host = self.host
        return host is not None and not _is_loopback(host)

    @property
    def publish_host(self) -> str:
        """Where this machine reaches the published ports: the engine's host
        when remote, else 127.0.0.1."""
        host = self.host
        return host if host is not None and self.is_remote else "127.0.0.1"

    @property
    def bind_ip(self) -> str:
        """The host address a published port binds to on the engine's machine.

        Local engine: 127.0.0.1. Remote engine: the address it was reached by
        when that is an IP literal (the narrowest binding that this machine can
        reach), else 0.0.0.0 (a host name: the engine cannot bind a name, and
        the address the name resolves to here may not be its own); ``EPH_PUBLISH_IP``
        overrides both (e.g. ``0.0.0.0`` for an engine behind NAT)."""
        if not self.is_remote:
            return "127.0.0.1"
        if self.publish_ip:
            return self.publish_ip
        host = self.host or ""
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return "0.0.0.0"
        return host

    def describe(self) -> str:
        """``unix:///var/run/docker.sock (default socket)``."""
        return f"{self.url} ({self.found_by})"


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The Docker configuration folder: ``$DOCKER_CONFIG`` or ``~/.docker``."""
    env = os.environ if environ is None else environ
    given = env.get("DOCKER_CONFIG")
    if given:
        return Path(given).expanduser()
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / ".docker"


def find_engine(
    address: str | None = None, environ: Mapping[str, str] | None = None
) -> EngineEndpoint:
    """The engine to use: ``address`` (a URL or a context name) when given,
    else the first of ``DOCKER_HOST``, ``DOCKER_CONTEXT``, the configuration's
    current context, the rootless socket and ``/var/run/docker.sock``.

    Reads the environment and at most two small files; no request is sent."""
    env = os.environ if environ is None else environ
    if address:
        text = address.strip()
        if "://" in text or ":" in text:
            url = parse_engine_url(text, "the engine address")
            try:
                found: EngineEndpoint | None = _discover(env)
            except EngineConfigError:
                found = None
            if found is not None and found.url == url:
                return found  # the engine found here (the reaper's): keep its TLS material
            named = _context_with_url(url, env)
            if named is not None:  # a context's endpoint (--eph-hosts NAME, then the reaper)
                return named
            return _endpoint(url, "given", _tls_from_env(url, env), env)
        return _context(text, f"context {text}", env)
    return _discover(env)


def _discover(env: Mapping[str, str]) -> EngineEndpoint:
    host = env.get("DOCKER_HOST", "").strip()
    if host:
        url = parse_engine_url(host, "DOCKER_HOST")
        return _endpoint(url, "DOCKER_HOST", _tls_from_env(url, env), env)
    name = env.get("DOCKER_CONTEXT", "").strip()
    if name:
        return _context(name, f"context {name} from DOCKER_CONTEXT", env)
    current = _current_context(env)
    if current:
        name, config = current
        return _context(name, f"context {name}, current in {config}", env)
    return _local_socket(env)


def _local_socket(env: Mapping[str, str], context: str | None = None) -> EngineEndpoint:
    """The rootless socket ``$XDG_RUNTIME_DIR/docker.sock`` when there is one,
    else ``/var/run/docker.sock``."""
    prefix = f"context {context}, " if context else ""
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime:
        rootless = Path(runtime) / "docker.sock"
        if _is_socket(rootless):
            return _endpoint(f"unix://{rootless}", f"{prefix}rootless socket", None, env, context)
    return _endpoint(DEFAULT_SOCKET, f"{prefix}default socket", None, env, context)


def _endpoint(
    url: str,
    found_by: str,
    tls: TLSMaterial | None,
    env: Mapping[str, str],
    context: str | None = None,
) -> EngineEndpoint:
    publish_ip = env.get(PUBLISH_IP_VAR, "").strip() or None
    if publish_ip is not None:
        try:
            ipaddress.ip_address(publish_ip)
        except ValueError:
            raise EngineConfigError(
                f"{PUBLISH_IP_VAR}={publish_ip!r} is not an IP address "
                "(set it to the address published ports bind to on a remote engine, "
                "e.g. 0.0.0.0, or unset it)"
            ) from None
    return EngineEndpoint(url, found_by, tls, context, publish_ip)


def parse_engine_url(text: str, where: str) -> str:
    """``text`` as a normalised engine URL, or :class:`EngineConfigError`
    naming ``where`` it came from. Like the docker CLI, ``host:port`` without a
    scheme means ``tcp://``; a ``tcp://`` URL without a port gets 2375;
    ``http://`` is ``tcp://``."""
    fix = "e.g. unix:///var/run/docker.sock, tcp://HOST:2375 or ssh://USER@HOST"
    raw = text.strip()
    if not raw:
        raise EngineConfigError(f"{where} is empty ({fix})")
    candidate = raw if "://" in raw else f"tcp://{raw}"
    scheme = candidate.partition("://")[0].lower()
    if scheme in ("npipe", "fd"):
        raise EngineConfigError(
            f"{where}={raw!r}: {scheme}:// engines are not supported here ({fix})"
        )
    if scheme not in _SCHEMES:
        raise EngineConfigError(
            f"{where}={raw!r}: unknown scheme {scheme!r} (one of unix, tcp, ssh; {fix})"
        )
    try:
        parts = urlsplit(candidate)
        port = parts.port
    except ValueError as exc:
        raise EngineConfigError(f"{where}={raw!r} is not a valid address: {exc} ({fix})") from None
    if parts.query or parts.fragment:
        raise EngineConfigError(f"{where}={raw!r}: no query or fragment allowed ({fix})")
    if scheme == "unix":
        path = (parts.netloc + parts.path) if parts.netloc else parts.path
        if not path:
            raise EngineConfigError(f"{where}={raw!r}: no socket path ({fix})")
        if not path.startswith("/"):
            path = "/" + path  # unix://run/docker.sock: the SDK's legacy reading
        return f"unix://{path}"
    host = parts.hostname
    if not host:
        raise EngineConfigError(f"{where}={raw!r}: no host ({fix})")
    if parts.path not in ("", "/"):
        raise EngineConfigError(f"{where}={raw!r}: no path allowed after the host ({fix})")
    shown = f"[{host}]" if ":" in host else host
    if scheme == "ssh":
        if parts.password:
            raise EngineConfigError(
                f"{where}={raw!r}: no password in an ssh:// URL "
                "(use an ssh key or agent, as the docker CLI does)"
            )
        user = f"{parts.username}@" if parts.username else ""
        return f"ssh://{user}{shown}" + (f":{port}" if port else "")
    if parts.username or parts.password:
        raise EngineConfigError(f"{where}={raw!r}: no user in a tcp:// URL ({fix})")
    if port is None:
        port = 2376 if scheme == "https" else 2375
    return f"tcp://{shown}:{port}"


def _tls_from_env(url: str, env: Mapping[str, str]) -> TLSMaterial | None:
    """TLS as the docker CLI sets it from the environment: ``DOCKER_TLS_VERIFY``
    (any non-empty value) verifies, ``DOCKER_TLS`` alone encrypts without
    verifying; the files come from ``DOCKER_CERT_PATH`` (default: the
    configuration folder)."""
    if not url.startswith("tcp://"):
        return None
    verify = bool(env.get("DOCKER_TLS_VERIFY", ""))
    if not verify and not env.get("DOCKER_TLS", ""):
        return None
    given = env.get("DOCKER_CERT_PATH", "")
    folder = Path(given).expanduser() if given else config_dir(env)
    source = "DOCKER_CERT_PATH" if given else f"the Docker configuration folder {folder}"
    if given and not folder.is_dir():
        raise EngineConfigError(
            f"DOCKER_CERT_PATH={given!r} is not a folder (point it at the folder holding "
            "ca.pem, cert.pem and key.pem, or unset DOCKER_TLS_VERIFY and DOCKER_TLS)"
        )
    return _tls_files(folder, verify, f"TLS for {url} (DOCKER_TLS_VERIFY, files from {source})")


def _tls_files(folder: Path, verify: bool, what: str) -> TLSMaterial:
    ca, cert, key = (folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    if verify and not ca.is_file():
        raise EngineConfigError(
            f"{what}: {ca} does not exist (put the engine's CA certificate there, or "
            "turn verification off)"
        )
    if cert.is_file() != key.is_file():
        have, missing = (cert, key) if cert.is_file() else (key, cert)
        raise EngineConfigError(
            f"{what}: {have} exists but {missing} does not (a client certificate needs both)"
        )
    return TLSMaterial(
        verify=verify,
        ca=str(ca) if ca.is_file() else None,
        cert=str(cert) if cert.is_file() else None,
        key=str(key) if key.is_file() else None,
    )


def _current_context(env: Mapping[str, str]) -> tuple[str, Path] | None:
    path = config_dir(env) / "config.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EngineConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise EngineConfigError(
            f"{path}:{getattr(exc, 'lineno', '?')}: not valid JSON ({exc.args[0].split(':')[0]}; "
            "fix the file, or point DOCKER_CONFIG at another folder)"
        ) from None
    name = data.get("currentContext") if isinstance(data, dict) else None
    if not isinstance(name, str) or not name or name == "default":
        return None
    return name, path


def _context(name: str, found_by: str, env: Mapping[str, str]) -> EngineEndpoint:
    """The endpoint of the Docker context ``name`` from the context store."""
    if name == "default":  # the built-in context (DOCKER_HOST, checked before, is unset)
        return _local_socket(env, "default")
    store = config_dir(env) / "contexts"
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()
    meta_path = store / "meta" / digest / "meta.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EngineConfigError(
            f"Docker context {name!r} ({found_by}) does not exist: no {meta_path} "
            "(`docker context ls` lists the contexts; create it with `docker context create`, "
            "or choose another)"
        ) from None
    except (OSError, ValueError) as exc:
        raise EngineConfigError(
            f"Docker context {name!r}: {meta_path} cannot be read ({exc}; "
            f"recreate the context with `docker context rm {name}` and `docker context create`)"
        ) from None
    endpoint = ((meta.get("Endpoints") or {}).get("docker") or {}) if isinstance(meta, dict) else {}
    host = str(endpoint.get("Host") or "")
    if not host:
        raise EngineConfigError(
            f"Docker context {name!r} ({meta_path}) has no docker endpoint "
            f"(recreate it with `docker context create {name} --docker host=URL`)"
        )
    url = parse_engine_url(host, f"the docker endpoint of context {name!r} ({meta_path})")
    tls = None
    tls_dir = store / "tls" / digest / "docker"
    if url.startswith("tcp://") and tls_dir.is_dir() and any(tls_dir.iterdir()):
        verify = not bool(endpoint.get("SkipTLSVerify"))
        tls = _tls_files(tls_dir, verify, f"TLS of Docker context {name!r}")
    return _endpoint(url, found_by, tls, env, context=name)


def _context_with_url(url: str, env: Mapping[str, str]) -> EngineEndpoint | None:
    """The context of the store whose docker endpoint is ``url`` (its TLS
    material with it), or None."""
    if not url.startswith("tcp://"):
        return None  # only tcp endpoints carry TLS material
    for meta_path in sorted((config_dir(env) / "contexts" / "meta").glob("*/meta.json")):
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            host = str(meta["Endpoints"]["docker"]["Host"])
            name = str(meta["Name"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        try:
            if parse_engine_url(host, "") == url:
                return _context(name, f"context {name}", env)
        except EngineConfigError:
            continue
    return None


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(path.stat().st_mode)
    except OSError:
        return False


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
