"""docker-compose by hand: the environment is started before pytest and
removed after it (see run_suite.py); the tests find the services from the
addresses the driver exported, as a CI job's script would hand them over."""

from __future__ import annotations

import os

import pytest


def _address(name: str) -> tuple[str, int]:
    host, _, port = os.environ[name].rpartition(":")
    return host, int(port)


@pytest.fixture(scope="session")
def dsn() -> str:
    host, port = _address("EPH_PEERS_DB")
    return f"postgresql://postgres:secret@{host}:{port}/shop"


@pytest.fixture(scope="session")
def cache_address() -> tuple[str, int]:
    return _address("EPH_PEERS_CACHE")


@pytest.fixture(scope="session")
def api_url() -> str:
    host, port = _address("EPH_PEERS_API")
    return f"http://{host}:{port}"
