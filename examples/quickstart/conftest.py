"""This folder's spec sits next to its tests: point the `eph` fixture at it.

Overriding `eph` like this is how a suite uses a spec that is not in the
rootdir; `--eph-spec` or the `eph_spec` ini option do the same for a whole run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_ephemeral import Environment


@pytest.fixture(scope="session")
def eph(eph_factory: Callable[[Path], Environment]) -> Environment:
    return eph_factory(Path(__file__).with_name("ephemeral.yaml"))
