"""Pulling images on a Docker engine: image references, credentials from the
Docker configuration, one pull per image across processes, progress lines,
and every failure as one line naming the image, the registry, the cause and
the fix.

Credentials are found as the ``docker`` CLI finds them: the configuration
folder is ``$DOCKER_CONFIG`` or ``~/.docker``; in its ``config.json``,
``credHelpers[registry]`` or else ``credsStore`` names a helper run as
``docker-credential-NAME get`` (the registry on stdin, JSON on stdout), and
``auths[registry]`` holds ``auth`` (base64 ``user:password``), or
``username``/``password``, or an ``identitytoken``. The file is read at each
pull, so a change (``docker login``, a test's own ``DOCKER_CONFIG``) applies
at once.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from ..errors import EphemeralError, ImageNotFoundError, RegistryError

__all__ = [
    "ImageRef",
    "PullLockTimeout",
    "PullProgress",
    "auth_header",
    "classify_failure",
    "credentials_for",
    "docker_config_dir",
    "last_pull",
    "parse_image",
    "pull_lock",
]

DOCKER_HUB = "docker.io"
# the key the docker CLI stores Docker Hub's credentials under
HUB_KEY = "https://index.docker.io/v1/"
HELPER_TIMEOUT = 30.0


class PullLockTimeout(EphemeralError):
    """Waited too long for another process's pull of the same image."""


@dataclass(frozen=True, slots=True)
class ImageRef:
    """``[registry/]repository[:tag][@digest]`` taken apart as Docker does."""

    registry: str  # "docker.io" or a host[:port]
    name: str  # as given, without tag or digest: what the engine's pull is asked for
    tag: str | None
    digest: str | None

    @property
    def reference(self) -> str:
        """What the engine pulls: the digest if given, else the tag (``latest``)."""
        return self.digest or self.tag or "latest"


def parse_image(image: str) -> ImageRef:
    name, _, digest = image.partition("@")
    tag = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
    first, sep, _rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry = first
    else:
        registry = DOCKER_HUB
    return ImageRef(registry, name, tag or None, digest or None)


# -- credentials ---------------------------------------------------------------------


def docker_config_dir() -> Path:
    given = os.environ.get("DOCKER_CONFIG")
    return Path(given).expanduser() if given else Path.home() / ".docker"


def _hostname(key: str) -> str:
    """A configuration key as a registry host: no scheme, no path."""
    text = key
    for scheme in ("https://", "http://"):
        if text.startswith(scheme):
            text = text[len(scheme) :]
    host = text.split("/", 1)[0]
    return DOCKER_HUB if host in ("index.docker.io", "registry-1.docker.io") else host


def _load_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RegistryError(
            f"{path}: cannot read the Docker configuration ({exc}); fix the file's JSON, "
            "or point DOCKER_CONFIG at another folder"
        ) from None
    return data if isinstance(data, dict) else {}


def _lookup(table: object, registry: str) -> Any:
    if not isinstance(table, dict):
        return None
    for key, value in table.items():
        if _hostname(str(key)) == registry:
            return value
    return None


def _from_helper(helper: str, registry: str, config: Path) -> dict[str, str] | None:
    program = f"docker-credential-{helper}"
    path = shutil.which(program)
    if path is None:
        raise RegistryError(
            f"{config}: credential helper {program} (for {registry}) is not on PATH; "
            f"install it, or remove it from {config.name}"
        )
    server = HUB_KEY if registry == DOCKER_HUB else registry
    try:
        done = subprocess.run(
            [path, "get"],
            input=server,
            capture_output=True,
            text=True,
            timeout=HELPER_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RegistryError(
            f"credential helper {program} gave no answer for {registry} within "
            f"{HELPER_TIMEOUT:g}s (is it waiting for a prompt? unlock it, or log in again)"
        ) from None
    if done.returncode != 0:
        if "not found" in (done.stdout + done.stderr).lower():
            return None  # no credentials stored for it: pull anonymously
        cause = (done.stderr or done.stdout).strip().splitlines()
        raise RegistryError(
            f"credential helper {program} failed for {registry}: "
            f"{cause[0] if cause else f'exit status {done.returncode}'}"
        )
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        raise RegistryError(
            f"credential helper {program} answered something other than JSON for {registry}"
        ) from None
    user, secret = str(answer.get("Username") or ""), str(answer.get("Secret") or "")
    if not secret:
        return None
    if user == "<token>":
        return {"identitytoken": secret, "serveraddress": server}
    return {"username": user, "password": secret, "serveraddress": server}


def credentials_for(registry: str) -> dict[str, str] | None:
    """The credentials the Docker configuration holds for ``registry`` (None:
    pull anonymously), in the form the engine's ``X-Registry-Auth`` takes."""
    path = docker_config_dir() / "config.json"
    config = _load_config(path)
    helper = _lookup(config.get("credHelpers"), registry) or config.get("credsStore")
    if helper:
        found = _from_helper(str(helper), registry, path)
        if found is not None:
            return found
    entry = _lookup(config.get("auths"), registry)
    if not isinstance(entry, dict):
        return None
    server = HUB_KEY if registry == DOCKER_HUB else registry
    if entry.get("identitytoken"):
        return {"identitytoken": str(entry["identitytoken"]), "serveraddress": server}
    user, password = entry.get("username"), entry.get("password")
    if entry.get("auth"):
        try:
            decoded = base64.b64decode(str(entry["auth"]), validate=False).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        user, sep, password = decoded.partition(":")
        if not sep:
            raise RegistryError(
                f"{path}: auths[{registry!r}].auth is not base64 of USER:PASSWORD; "
                f"run `docker login {registry}` again"
            )
    if not user or password is None:
        return None
    return {"username": str(user), "password": str(password), "serveraddress": server}


def auth_header(credentials: Mapping[str, str] | None) -> str:
    """``X-Registry-Auth``: base64url JSON (``{}`` for an anonymous pull)."""
    return base64.urlsafe_b64encode(json.dumps(dict(credentials or {})).encode()).decode()


# -- failures ----------------------------------------------------------------------


def classify_failure(image: str, text: str, *, with_credentials: bool) -> EphemeralError:
    """The engine's pull error as one line: what, which registry, why, what to do."""
    ref = parse_image(image)
    registry = ref.registry
    cause = " ".join(text.split())
    low = cause.lower()
    if "repository does not exist" in low:
        return ImageNotFoundError(
            f"image {image!r}: registry {registry} has no such repository, or it needs a "
            f"login ({cause}); check the name, run `docker login {registry}`, or map it to "
            "an image that exists with --eph-image-map FROM=TO"
        )
    if (
        "manifest unknown" in low
        or "name unknown" in low
        or ("manifest for" in low and "not found" in low)
    ):
        what = f"tag {ref.reference!r}" if not ref.digest else f"digest {ref.digest}"
        return ImageNotFoundError(
            f"image {image!r}: registry {registry} has no {what} of {ref.name} ({cause}); "
            "check the tag, push it there, or map it to an image that exists with "
            "--eph-image-map FROM=TO"
        )
    if any(
        word in low
        for word in ("no basic auth credentials", "unauthorized", "authentication required")
    ) or ("denied" in low and "permission denied" not in low):
        state = (
            "refused the credentials found for it"
            if with_credentials
            else "needs credentials, and the Docker configuration has none for it"
        )
        return RegistryError(
            f"image {image!r}: registry {registry} {state} ({cause}); run `docker login "
            f"{registry}`, or set DOCKER_CONFIG to a folder whose config.json has them"
        )
    if any(
        word in low
        for word in (
            "connection refused",
            "no such host",
            "i/o timeout",
            "timeout",
            "network is unreachable",
            "no route to host",
            "connection reset",
            "tls:",
            "x509",
            "server gave http response to https client",
        )
    ):
        return RegistryError(
            f"image {image!r}: registry {registry} is unreachable from the engine ({cause}); "
            "start it or check the network, or map the image to a reachable mirror with "
            "--eph-image-map FROM=TO"
        )
    return RegistryError(f"image {image!r}: pulling from {registry} failed: {cause}")


# -- progress ----------------------------------------------------------------------

_DONE = ("Pull complete", "Already exists")
_LAYER = (
    "Pulling fs layer",
    "Waiting",
    "Downloading",
    "Verifying Checksum",
    "Download complete",
    "Extracting",
    "Retrying",
    *_DONE,
)


class PullProgress:
    """Digests the engine's pull messages into a line per image: layers done
    of total, megabytes downloaded of known total; at most one line per
    ``every`` seconds (a quick pull shows only its start and its end)."""

    def __init__(self, image: str, say: Callable[[str], None] | None, every: float = 1.0) -> None:
        self.image = image
        self.say = say
        self.every = every
        self.layers: dict[str, str] = {}
        self.current: dict[str, int] = {}
        self.total: dict[str, int] = {}
        self.started = time.monotonic()
        self._shown = self.started

    def feed(self, message: Mapping[str, Any]) -> None:
        status = str(message.get("status") or "")
        layer = str(message.get("id") or "")
        if not layer or not status.startswith(_LAYER):
            return
        self.layers[layer] = status
        detail = message.get("progressDetail") or {}
        if status.startswith("Downloading") and isinstance(detail, dict):
            if detail.get("total"):
                self.total[layer] = int(detail["total"])
            if detail.get("current") is not None:
                self.current[layer] = int(detail["current"])
        elif (
            status.startswith(("Download complete", "Pull complete", "Extracting"))
            and layer in self.total
        ):
            self.current[layer] = self.total[layer]
        now = time.monotonic()
        if self.say is not None and now - self._shown >= self.every:
            self._shown = now
            self.say(f"pulling {self.image}: {self.line()}")

    @property
    def done(self) -> int:
        return sum(1 for s in self.layers.values() if s.startswith(_DONE))

    @property
    def megabytes(self) -> float:
        return sum(self.current.values()) / 1e6

    def line(self) -> str:
        total_mb = sum(self.total.values()) / 1e6
        size = f"{self.megabytes:.1f}/{total_mb:.1f} MB" if total_mb else f"{self.megabytes:.1f} MB"
        return f"{self.done}/{len(self.layers)} layers, {size}"

    def finish(self) -> None:
        if self.say is not None:
            took = time.monotonic() - self.started
            self.say(
                f"pulled {self.image} in {took:.1f}s "
                f"({len(self.layers)} layers, {self.megabytes:.1f} MB downloaded)"
            )


# -- one pull per image, across processes ----------------------------------------------


def _paths(address: str, image: str) -> tuple[Path, Path]:
    folder = Path(tempfile.gettempdir()) / f"pytest-ephemeral-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    key = hashlib.sha256(f"{address}|{image}".encode()).hexdigest()[:20]
    stem = folder / f"pull-{key}"
    return stem.with_suffix(".lock"), stem.with_suffix(".stamp")


def last_pull(address: str, image: str) -> float | None:
    """When ``image`` was last pulled onto the engine at ``address`` by this
    machine's runs (epoch seconds), None when not known."""
    _lock, stamp = _paths(address, image)
    try:
        return float(stamp.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None


@dataclass
class PullTurn:
    """Held while pulling: whether a pull of the image by another process
    (or an earlier one of this) makes this one needless, and how to record
    this pull."""

    waited_for_other: bool  # another process pulled it while this one waited
    last: float | None  # the last pull of it on this machine (epoch), None: none known
    stamp: Path

    def done_by_other(self, window: float) -> str | None:
        """Why not to pull again: pulled while this process waited for the
        lock, or less than ``window`` seconds ago (a process that found the
        image missing a moment before that pull ended); None: pull."""
        if self.waited_for_other:
            return "pulled meanwhile by another process"
        if self.last is not None and 0 <= time.time() - self.last < window:
            return f"pulled {time.time() - self.last:.0f}s ago on this machine"
        return None

    def record(self) -> None:
        with contextlib.suppress(OSError):
            self.stamp.write_text(f"{time.time():.3f}\n", encoding="utf-8")


@contextlib.contextmanager
def pull_lock(
    address: str, image: str, timeout: float, say: Callable[[str], None] | None = None
) -> Iterator[PullTurn]:
    """Hold the lock for pulling ``image`` on the engine at ``address``: one
    pull at a time per image across every process of this machine (xdist
    workers, concurrent runs). A process that had to wait learns whether the
    other pulled it in the meantime."""
    lock_path, stamp = _paths(address, image)
    lock = FileLock(str(lock_path))
    waited_since = time.time()
    try:
        lock.acquire(timeout=0)
        waited = False
    except Timeout:
        if say is not None:
            say(f"waiting for another process pulling {image} ...")
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise PullLockTimeout(
                f"image {image!r}: waited {timeout:g}s for another process pulling it "
                f"(lock {lock_path}); let that pull finish, or remove the lock file if no "
                "process holds it"
            ) from None
        waited = True
    try:
        pulled = last_pull(address, image)
        yield PullTurn(waited and pulled is not None and pulled >= waited_since, pulled, stamp)
    finally:
        lock.release()
