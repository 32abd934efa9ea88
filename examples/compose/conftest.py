from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_ephemeral import Environment


@pytest.fixture(scope="session")
def eph(eph_factory: Callable[[Path], Environment]) -> Environment:
    return eph_factory(Path(__file__).with_name("docker-compose.yml"))
