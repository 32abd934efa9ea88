"""``eph run`` and ``eph env``: the lifecycle outside pytest, for any command.

``eph run -- COMMAND...`` is one pipeline step: the environment up (through
:class:`~.manager.Manager`, so the reaper, the SIGTERM trap and the sweep are
registered before anything is created, as for pytest), the command run with
the exports in its environment, the environment down — always: when the
command fails, when ``eph run`` is interrupted (SIGINT, SIGTERM, SIGHUP: the
signal is handed to the command, ``eph run`` waits for it to end, then
removes the environment), and when it is killed (the reaper removes it). The
command's exit status is ``eph run``'s (``128 + N`` when signal N ended it).

``eph env ID`` finds a running environment by its labels, loads the spec it
was made from (the ``pytest-ephemeral.spec`` label), attaches to it and
renders the spec's exports (or the default ones) with real values.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from ..errors import EnvironmentNotFoundError, EphemeralError, SpecError
from .exports import Exports, compile_exports

if TYPE_CHECKING:
    from ..config import Settings
    from ..runtime.backend import Backend
    from ..runtime.environment import Environment

__all__ = ["Attached", "CommandNotFoundError", "attach_by_id", "run_command"]

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class CommandNotFoundError(EphemeralError):
    """``eph run``'s command cannot be run (exit 2, before anything starts)."""


def resolve_command(command: Sequence[str]) -> list[str]:
    """``command`` with its program checked: on ``PATH``, or a path to an
    executable file. Raises :class:`CommandNotFoundError` with the fix."""
    argv = list(command)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        raise CommandNotFoundError(
            "run: no command given (write it after --, e.g. eph run -- pytest tests/)"
        )
    program = argv[0]
    if os.sep in program or (os.altsep and os.altsep in program):
        path = Path(program)
        if not path.is_file() or not os.access(path, os.X_OK):
            why = "is not an executable file" if path.exists() else "does not exist"
            raise CommandNotFoundError(
                f"run: command {program!r} {why} (check the path, or chmod +x it)"
            )
        return argv
    if shutil.which(program) is None:
        raise CommandNotFoundError(
            f"run: command {program!r} not found on PATH (install it, or give its path)"
        )
    return argv


def run_command(
    settings: Settings,
    command: Sequence[str],
    *,
    exports: Mapping[str, str] | None = None,
    say: Callable[[str], None] | None = None,
    backend_factory: Callable[[], Backend] | None = None,
) -> int:
    """Up, run ``command`` with the exports in its environment, down (or kept
    when ``settings.keep`` says so and the command failed). Returns the
    command's exit status. Bad input (spec, templates, command) raises before
    anything starts."""
    from .manager import Manager

    tell = say or (lambda text: None)
    argv = resolve_command(command)
    manager = Manager(settings, worker="run", progress=tell, backend_factory=backend_factory)
    spec = manager.load(manager.spec_path())
    compiled = compile_exports(spec, exports)  # every template checked before the start
    status: int | None = None
    failed = True
    try:
        env = manager.environment(spec.path)
        values = compiled.render(env)
        shown = compiled.render(env, redact=True)
        tell("exports: " + (" ".join(f"{k}={v}" for k, v in shown.items()) or "(none)"))
        tell(f"running: {' '.join(argv)}")
        status = _run_child(argv, {**os.environ, **values})
        failed = status != 0
    except KeyboardInterrupt as exc:
        number = _signal_number(exc)
        tell(f"interrupted by {signal.Signals(number).name}: removing the environment")
        status = 128 + number
        failed = False  # an interrupted run is not a failed one: nothing is kept
    finally:
        made = [e.id for e in manager.environments.values()]
        with _shielded(tell):
            kept = manager.close(failed=failed)
    kept_ids = {e.id for e in kept}
    for env_id in made:
        if env_id in kept_ids:
            why = "the command failed" if failed else f"--keep={settings.keep}"
            tell(f"kept {env_id} ({why}); remove it with: eph down {env_id}")
        else:
            tell(f"removed {env_id}")
    return status if status is not None else 1


def _signal_number(exc: KeyboardInterrupt) -> int:
    """The signal behind a KeyboardInterrupt: the manager's SIGTERM trap says
    ``signal 15``; Python's own SIGINT handler says nothing."""
    text = str(exc)
    if text.startswith("signal ") and text[7:].isdigit():
        return int(text[7:])
    return int(signal.SIGINT)


def _run_child(argv: list[str], environ: dict[str, str]) -> int:
    """Run ``argv``; while it runs, SIGINT, SIGTERM and SIGHUP sent to this
    process are handed to it (a second one kills it), and this process waits."""
    forward = _Forwarder()
    with forward.installed():
        proc = subprocess.Popen(argv, env=environ)
        forward.attach(proc)
        code = proc.wait()
    return 128 - code if code < 0 else code


class _Forwarder:
    """Signal handlers that pass signals on to the child. SIGINT from the
    terminal (Ctrl-C) reaches the child by itself (the same foreground process
    group), so it is not sent twice; a SIGINT sent to ``eph run`` alone is."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.pending: list[int] = []
        self.count = 0

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        old: dict[int, object] = {}
        try:
            for signum in FORWARDED:
                with contextlib.suppress(ValueError, OSError):
                    old[signum] = signal.signal(signum, self._handle)
            yield
        finally:
            for number, handler in old.items():
                with contextlib.suppress(ValueError, OSError, TypeError):
                    signal.signal(number, handler)  # type: ignore[arg-type]

    def attach(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        for signum in self.pending:
            self._send(signum)
        self.pending.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.proc is None:
            self.pending.append(signum)
            return
        if self.count > 1:
            with contextlib.suppress(OSError):
                self.proc.kill()  # asked twice: it does not end by itself
            return
        if signum == signal.SIGINT and _terminal_sent_it():
            return
        self._send(signum)

    def _send(self, signum: int) -> None:
        if self.proc is not None:
            with contextlib.suppress(OSError):
                self.proc.send_signal(signum)


def _terminal_sent_it() -> bool:
    """Whether this process runs in its terminal's foreground process group, so
    that a SIGINT most likely came from Ctrl-C, which the child got as well."""
    for stream in (sys.stdin, sys.stderr):
        try:
            return os.tcgetpgrp(stream.fileno()) == os.getpgrp()
        except (OSError, ValueError, AttributeError):
            continue
    return False


@contextlib.contextmanager
def _shielded(tell: Callable[[str], None]) -> Iterator[None]:
    """Removal is not interrupted: signals during it are noted, not obeyed (a
    SIGKILL still is, and then the reaper removes what is left)."""
    told = False

    def note(signum: int, frame: FrameType | None) -> None:
        nonlocal told
        if not told:
            tell("removing the environment; it takes a few seconds")
            told = True

    old: dict[int, object] = {}
    for signum in FORWARDED:
        with contextlib.suppress(ValueError, OSError):
            old[signum] = signal.signal(signum, note)
    try:
        yield
    finally:
        for number, handler in old.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(number, handler)  # type: ignore[arg-type]


# -- eph env --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attached:
    """A running environment found by its id, with the exports of its spec."""

    env: Environment
    exports: Exports
    warnings: tuple[str, ...]


def attach_by_id(
    settings: Settings, env_id: str, *, backend_factory: Callable[[], Backend] | None = None
) -> Attached:
    """The running environment ``env_id`` (or the one its id starts with),
    attached by its labels, with the exports of the spec named by its
    ``pytest-ephemeral.spec`` label (the spec as it is now on disk)."""
    from .control import find
    from .manager import Manager

    manager = Manager(settings, worker="env", backend_factory=backend_factory)
    record = find(manager.backend, env_id)
    if not record.spec:
        raise EnvironmentNotFoundError(
            f"environment {record.id} carries no spec label, so its exports are unknown "
            f"(made by another tool?); read its ports with eph ls --json"
        )
    path = Path(record.spec)
    if not path.is_file():
        raise SpecError(
            f"environment {record.id} was made from {path}, which is no longer there",
            fix="run eph env where the spec is, or eph down it and start it again",
        )
    spec = manager.load(path)
    warnings: list[str] = []
    if record.spec_hash and spec.hash != record.spec_hash:
        warnings.append(
            f"{path} changed since {record.id} was made: the exports come from the file as "
            "it is now"
        )
    env = manager.attach(spec, record)
    if env is None:
        running = ", ".join(sorted(record.services())) or "none"
        expected = ", ".join(spec.services)
        raise EnvironmentNotFoundError(
            f"environment {record.id} is not whole and running (its services: {running}; "
            f"the spec's: {expected}); give the same --profile it was made with, or eph down "
            "it and start it again"
        )
    return Attached(env, compile_exports(spec), tuple(warnings))
