"""Progress lines from pytest-xdist workers, shown by the controller while
their environments start.

Workers have no terminal. Each appends its lines ("starting ...", "... ready
in 2.10s") to one file per run; the controller follows that file in a thread
and writes every complete line as it arrives, prefixed with the worker id.
Appends of one short line are atomic (``O_APPEND``), so the workers' lines
never mix.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = ["ProgressFollower", "file_writer", "progress_path"]


def progress_path(run_id: str) -> Path:
    folder = Path(tempfile.gettempdir()) / f"pytest-ephemeral-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder / f"progress-{run_id}.log"


def file_writer(path: Path, worker: str) -> Callable[[str], None]:
    """A progress callback for a worker: one line per call, appended to ``path``."""

    def write(text: str) -> None:
        line = f"[{worker}] {' '.join(text.split())}\n".encode()
        with contextlib.suppress(OSError):  # progress is never worth a failure
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    return write


class ProgressFollower:
    """The controller's side: ``write`` every line the workers append to
    ``path``, from a daemon thread, until :meth:`close` (which shows what is
    still unread and removes the file)."""

    def __init__(self, path: Path, write: Callable[[str], None], period: float = 0.1) -> None:
        self.path = path
        self._write = write
        self._period = period
        self._offset = 0
        self._rest = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="eph-progress", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            self._drain()

    def _drain(self) -> None:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except OSError:
            return  # nothing written yet
        self._offset += len(data)
        *lines, self._rest = (self._rest + data).split(b"\n")
        for line in lines:
            if line.strip():
                with contextlib.suppress(Exception):
                    self._write(line.decode("utf-8", "replace"))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._drain()
        with contextlib.suppress(OSError):
            self.path.unlink()
