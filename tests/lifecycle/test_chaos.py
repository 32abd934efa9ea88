"""The chaos run at a small count: randomised kills, zero leaks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_randomised_kills_leak_nothing(docker_client: Any) -> None:
    res = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "chaos.py"), "--runs", "4", "--seed", "7"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 leaked resources" in res.stdout
