"""Shared mode (``--eph-shared``): one environment for every xdist worker.

Whoever takes the file lock first creates it (the xdist controller, which
starts the default spec's environment as the workers start; for another
spec, the first worker that asks); the others attach to it by its labels.
It is owned by the controller process (so a worker that finishes or dies
never takes it along, and the controller's reaper removes it if the
controller is killed), and the controller removes it after the whole run.
A failure to create it is written next to the lock, so every worker reports
the same error at once instead of trying again.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from ..errors import EphemeralError

__all__ = ["SharedLockTimeout", "shared_lock", "shared_paths"]


class SharedLockTimeout(EphemeralError):
    """Waited too long for the shared environment's lock."""


def shared_paths(run_id: str, spec_hash: str) -> tuple[Path, Path]:
    folder = Path(tempfile.gettempdir()) / f"pytest-ephemeral-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    stem = folder / f"shared-{run_id}-{spec_hash}"
    return stem.with_suffix(".lock"), stem.with_suffix(".error")


@contextlib.contextmanager
def shared_lock(run_id: str, spec_hash: str, timeout: float) -> Iterator[Path]:
    """Hold the run's lock for one shared environment; yields the error file.

    The lock is an OS file lock: a worker that dies while holding it releases
    it with its file descriptor, so the next worker proceeds (and finds either
    the environment, or nothing and creates it)."""
    lock_path, error_path = shared_paths(run_id, spec_hash)
    lock = FileLock(str(lock_path))
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise SharedLockTimeout(
            f"waited {timeout:g}s for the shared environment lock {lock_path} "
            "(another worker is still creating it; raise --eph-timeout if its start is just slow)"
        ) from None
    try:
        yield error_path
    finally:
        lock.release()
