"""This folder's spec sits next to its tests: point the `eph` fixture at it
(`eph_fresh` builds on `eph`, so it follows).

The dump is sanitized with a salt from the environment. A real suite sets
EPH_SANITIZE_SALT from a CI secret (and developers from a local, untracked
file via EPH_SANITIZE_SALT_FILE); the example sets a fixed one so that it runs
anywhere. Never commit the salt of real data.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_ephemeral import Environment

os.environ.setdefault("EPH_SANITIZE_SALT", "example-salt-not-a-secret")


@pytest.fixture(scope="session")
def eph(eph_factory: Callable[[Path], Environment]) -> Environment:
    return eph_factory(Path(__file__).with_name("ephemeral.yaml"))
