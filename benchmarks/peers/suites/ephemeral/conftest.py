"""pytest-ephemeral: the `eph` fixture is the whole environment (spec in
pytest.ini); these fixtures only turn it into addresses for the tests."""

from __future__ import annotations

import pytest

from pytest_ephemeral import Environment


@pytest.fixture(scope="session")
def dsn(eph: Environment) -> str:
    return f"postgresql://postgres:secret@{eph['db'].address(5432)}/shop"


@pytest.fixture(scope="session")
def cache_address(eph: Environment) -> tuple[str, int]:
    cache = eph["cache"]
    return cache.host, cache.port(6379)


@pytest.fixture(scope="session")
def api_url(eph: Environment) -> str:
    return f"http://{eph['api'].address(8000)}"
