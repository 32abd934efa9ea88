"""The Docker API version, negotiated with the engine as the ``docker`` CLI does.

The engine's ``GET /version`` (an unversioned path every engine answers)
names the newest API it speaks (``ApiVersion``) and the oldest it still
accepts (``MinAPIVersion``; Docker 29 refuses everything below 1.44). The
client speaks the newest version both sides know: ``min(ApiVersion, the
SDK's DEFAULT_DOCKER_API_VERSION)``, provided that is not below either side's
minimum. ``DOCKER_API_VERSION`` still wins, unasked.

No round trip at construction: the answer is asked for when the first
request needs a version, once per engine address and process (an answer
given by someone who asked already, e.g. the report header, is used as is:
:func:`remember_answer`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

import docker
import docker.constants

from ..errors import EngineUnavailableError

__all__ = ["NegotiatingAPIClient", "choose_version", "remember_answer"]

# the engine's /version answers, per address, for this process
_ANSWERS: dict[str, Mapping[str, Any]] = {}
_ANSWERS_LOCK = threading.Lock()


def remember_answer(address: str, answer: Mapping[str, Any]) -> None:
    """Record an engine's ``/version`` answer obtained elsewhere, so that a
    client for ``address`` negotiates from it without asking again."""
    if answer.get("ApiVersion"):
        with _ANSWERS_LOCK:
            _ANSWERS[address] = dict(answer)


def _key(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in str(version).split("."))
    except ValueError:
        return (0,)


def choose_version(address: str, answer: Mapping[str, Any]) -> str:
    """The API version to speak with the engine that gave ``answer``."""
    client_max = docker.constants.DEFAULT_DOCKER_API_VERSION
    client_min = docker.constants.MINIMUM_DOCKER_API_VERSION
    server_max = str(answer.get("ApiVersion") or "")
    server_min = str(answer.get("MinAPIVersion") or "1.12")
    if not server_max:
        raise EngineUnavailableError(
            f"the engine at {address} answered /version without an ApiVersion: is it a "
            "Docker engine? (or set DOCKER_API_VERSION to the version it speaks)"
        )
    chosen = str(min(server_max, str(client_max), key=_key))
    if _key(chosen) < _key(server_min) or _key(chosen) < _key(client_min):
        raise EngineUnavailableError(
            f"the engine at {address} speaks Docker API {server_min} to {server_max}, the "
            f"Docker SDK here (docker {docker.__version__}) {client_min} to {client_max}: no "
            "version in common; upgrade the SDK (pip install -U docker) or the engine"
        )
    return chosen


class NegotiatingAPIClient(docker.APIClient):  # type: ignore[misc]
    """The SDK's low-level client, with the API version chosen from the
    engine's own answer at the first request that needs one."""

    def __init__(self, *args: Any, address: str = "", **kwargs: Any) -> None:
        forced = os.environ.get("DOCKER_API_VERSION") or None
        self._eph_address = address or str(kwargs.get("base_url") or "")
        self._eph_version: str | None = forced
        self._eph_lock = threading.Lock()
        self._eph_constructing = True
        kwargs["version"] = forced or docker.constants.DEFAULT_DOCKER_API_VERSION
        try:
            super().__init__(*args, **kwargs)
        finally:
            self._eph_constructing = False

    @property
    def _version(self) -> str:
        if self._eph_version is not None:
            return self._eph_version
        if self._eph_constructing:  # the SDK's own checks while it is made
            return str(docker.constants.DEFAULT_DOCKER_API_VERSION)
        return self._negotiate()

    @_version.setter
    def _version(self, value: str) -> None:
        # the SDK sets its placeholder at construction: not a choice
        if not self._eph_constructing:
            self._eph_version = value

    def _negotiate(self) -> str:
        with self._eph_lock:
            if self._eph_version is not None:
                return self._eph_version
            address = self._eph_address
            with _ANSWERS_LOCK:
                answer = _ANSWERS.get(address)
            if answer is None:
                answer = self.engine_answer()
            self._eph_version = choose_version(address, answer)
            return self._eph_version

    def engine_answer(self) -> Mapping[str, Any]:
        """The engine's ``/version`` answer (asked once per address and process)."""
        with _ANSWERS_LOCK:
            known = _ANSWERS.get(self._eph_address)
        if known is not None:
            return known
        response = self.get(f"{self.base_url}/version", timeout=self.timeout)
        self._raise_for_status(response)
        try:
            answer = response.json()
        except ValueError:
            raise EngineUnavailableError(
                f"the engine at {self._eph_address} answered /version with something other "
                "than JSON: is it a Docker engine?"
            ) from None
        if not isinstance(answer, dict):
            answer = {}
        remember_answer(self._eph_address, answer)
        return answer
