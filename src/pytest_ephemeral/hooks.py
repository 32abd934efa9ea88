"""Hooks that third parties implement to extend pytest-ephemeral, registered
with ``pytest_addhooks`` (as pytest-xdist does with its ``newhooks``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .runtime.backend import Backend


@pytest.hookspec(firstresult=True)
def pytest_eph_make_backend(
    config: pytest.Config, name: str, address: str | None
) -> Backend | None:
    """Return the :class:`~pytest_ephemeral.runtime.backend.Backend` called
    ``name`` (the value of ``--eph-backend``) for the engine at ``address``
    (None: the default engine), or None to let another implementation (in the
    end the built-in factory) decide. Called once per process, when the first
    environment is asked for."""
