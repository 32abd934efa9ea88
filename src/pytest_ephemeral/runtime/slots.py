"""A bound on concurrent environment starts across processes (xdist workers,
parallel runs on one host): N lock files, one per slot."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from ..errors import EphemeralError

__all__ = ["start_slot"]

WAIT_LIMIT = 900.0


def _slot_dir() -> Path:
    path = Path(tempfile.gettempdir()) / f"pytest-ephemeral-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


@contextlib.contextmanager
def start_slot(limit: int) -> Iterator[int]:
    """Hold one of ``limit`` slots while an environment starts. A lock held by a
    killed process is released by the kernel with its file descriptor, so a
    crashed run never blocks the next one."""
    folder = _slot_dir()
    deadline = time.monotonic() + WAIT_LIMIT
    while True:
        for i in range(max(1, limit)):
            lock = FileLock(str(folder / f"start-slot-{i}.lock"))
            try:
                lock.acquire(timeout=0)
            except Timeout:
                continue
            try:
                yield i
            finally:
                lock.release()
            return
        if time.monotonic() > deadline:
            raise EphemeralError(
                f"waited {WAIT_LIMIT:.0f}s for one of {limit} environment start slots in "
                f"{folder} (other runs are starting environments; raise --eph-max-starts)"
            )
        time.sleep(0.05)
