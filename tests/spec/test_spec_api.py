"""The public surface of ``pytest_ephemeral.spec``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import pytest_ephemeral.spec as spec_module


@pytest.mark.parametrize("name", spec_module.__all__)
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(spec_module, name) is not None


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        getattr(spec_module, "nope")  # noqa: B009


def test_importing_the_model_does_not_load_the_loader() -> None:
    code = (
        "import sys, pytest_ephemeral.spec.model, pytest_ephemeral.spec; "
        "print(sorted(m for m in ('yaml', 'pytest_ephemeral.spec._loader') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "[]"
